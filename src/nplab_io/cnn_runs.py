"""``cnn`` run specs (see :mod:`nplab_io.runs`) -> data, models, transfer and saved state.

The one place a cnn spec becomes arrays and a model; ``workflow/scripts/train_cnn.py``
only calls these and writes what comes out.

Data (:func:`prepare_cnn_data`), in this order, on the raw float32 pixel rows (HWC):

1. ``classes``: keep those labels in every split, relabelled 0..k-1 in the given order;
2. ``per_class``: the first N training images of each class (split order);
3. ``num_train`` / ``num_val``: the first N of what is left;
4. ``pixel_shuffle``: one permutation of the H*W positions (channels move together),
   drawn from its seed, applied to every split;
5. input normalisation statistics from the TRAIN images only (``channel``: per-channel
   mean/std; ``mean_image``; ``none``).

The rows stay raw: the model is wrapped in :class:`nplab.augment.Augmented`, which
augments a training batch on raw pixels and then normalises it (test time: normalises
only), so crops pad with black and colour jitter sees real colours. ``test_hflip``
evaluates every image as the mean class scores of it and its mirror image (test-time
augmentation); such a run also reports its accuracies without it (:func:`plain_accuracies`).

Transfer (:func:`init_from_source`): the target net is built with its own fresh head
(its class count, its seed); every convolution's parameters and batch-norm statistics are
copied from the source run's ``params.npz``; ``freeze: features`` then freezes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nplab.augment import Augmented
from nplab.cnn import ConvNet, ThreeLayerConvNet
from nplab.nets import FullyConnectedNet
from nplab.preprocess import channel_stats, mean_image, normalize_channels, subtract_mean
from nplab.solver import Solver

from .models import build_solver, load_bn_stats, load_net_state, net_state
from .runs import CNN_NUM_CLASSES
from .training import accuracy

__all__ = [
    "CnnData",
    "select_classes",
    "first_per_class",
    "pixel_permutation",
    "shuffle_pixels",
    "input_stats",
    "input_normalizer",
    "prepare_cnn_data",
    "load_cnn_data",
    "build_cnn",
    "wrap_cnn",
    "build_cnn_solver",
    "init_from_source",
    "cnn_state",
    "load_cnn_state",
    "cnn_cost",
    "cnn_macs",
    "cnn_train_images",
    "cnn_test_net",
    "cnn_test_predictions",
    "plain_accuracies",
    "evaluation_note",
]

SPLITS = ("train", "val", "test")
_STATS_PREFIX = "input."


@dataclass
class CnnData:
    """A run's splits (raw float32 rows), image shape, class count and the TRAIN
    statistics of its input normalisation (``{"mean": .., "std": ..}``, ``{"mean_image":
    ..}`` or ``{}``)."""

    data: dict
    image_shape: tuple
    num_classes: int
    stats: dict = field(default_factory=dict)


# --------------------------------------------------------------------------- data
def select_classes(X: np.ndarray, y: np.ndarray, classes) -> tuple[np.ndarray, np.ndarray]:
    """The rows whose label is in ``classes``, relabelled by position in ``classes``
    (``classes=None``: everything, unchanged)."""
    if classes is None:
        return X, y
    lookup = np.full(max(int(y.max(initial=0)), max(classes)) + 1, -1, dtype=np.int64)
    lookup[list(classes)] = np.arange(len(classes))
    keep = np.flatnonzero(lookup[y] >= 0)
    return X[keep], lookup[y[keep]]


def first_per_class(y: np.ndarray, per_class: int, num_classes: int) -> np.ndarray:
    """Indices (ascending) of the first ``per_class`` rows of each class 0..num_classes-1."""
    idx = []
    for c in range(num_classes):
        rows = np.flatnonzero(y == c)
        if len(rows) < per_class:
            raise ValueError(
                f"per_class={per_class} but class {c} has only {len(rows)} training images"
            )
        idx.append(rows[:per_class])
    return np.sort(np.concatenate(idx))


def pixel_permutation(seed: int, image_shape) -> np.ndarray:
    """One fixed permutation of the H*W pixel positions, drawn from ``seed``."""
    h, w = int(image_shape[0]), int(image_shape[1])
    return np.random.default_rng(seed).permutation(h * w)


def shuffle_pixels(X: np.ndarray, perm: np.ndarray, image_shape) -> np.ndarray:
    """Rows of HWC images with their pixels moved by ``perm`` (a pixel's channels move
    together): output position i holds input position ``perm[i]``."""
    h, w, c = (int(s) for s in image_shape)
    return np.ascontiguousarray(X.reshape(len(X), h * w, c)[:, perm]).reshape(X.shape)


def input_stats(kind: str, X_train: np.ndarray, image_shape) -> dict:
    """TRAIN statistics of the input normalisation ``kind`` (float32)."""
    if kind == "none":
        return {}
    imgs = X_train.reshape(len(X_train), *image_shape)
    if kind == "channel":
        mean, std = channel_stats(imgs, dtype=np.float32)
        return {"mean": mean, "std": std}
    if kind == "mean_image":
        return {"mean_image": mean_image(imgs, dtype=np.float32)}
    raise ValueError(f"unknown input_norm {kind!r}")


def input_normalizer(stats: dict):
    """The function of an NHWC batch that :class:`~nplab.augment.Augmented` applies
    after augmentation (None: no normalisation)."""
    if "mean" in stats:
        mean, std = stats["mean"], stats["std"]
        return lambda x: normalize_channels(x, mean, std)
    if "mean_image" in stats:
        m = stats["mean_image"]
        return lambda x: subtract_mean(x, m)
    return None


def _take(X, y, n, what):
    if n is None:
        return X, y
    if n > len(y):
        raise ValueError(f"{what}={n} but only {len(y)} images are left for it")
    return X[:n], y[:n]


def prepare_cnn_data(arrays: dict, spec: dict, image_shape) -> CnnData:
    """A run's splits from the split arrays (``X_train``, ``y_train``, ``X_val``, ...):
    the steps of the module docstring."""
    image_shape = tuple(int(s) for s in image_shape)
    classes = spec.get("classes")
    k = len(classes) if classes else CNN_NUM_CLASSES
    data = {}
    for s in SPLITS:
        X, y = select_classes(arrays[f"X_{s}"], arrays[f"y_{s}"], classes)
        if s == "train" and spec.get("per_class") is not None:
            keep = first_per_class(y, spec["per_class"], k)
            X, y = X[keep], y[keep]
        if s in ("train", "val"):
            X, y = _take(X, y, spec.get(f"num_{s}"), f"num_{s}")
        if len(y) == 0:
            raise ValueError(f"the {s} split has no images of classes {classes}")
        data[f"X_{s}"] = np.ascontiguousarray(X, dtype=np.float32)
        data[f"y_{s}"] = np.asarray(y, dtype=np.int64)
    if spec.get("pixel_shuffle") is not None:
        perm = pixel_permutation(spec["pixel_shuffle"], image_shape)
        for s in SPLITS:
            data[f"X_{s}"] = shuffle_pixels(data[f"X_{s}"], perm, image_shape)
    stats = input_stats(spec.get("input_norm", "channel"), data["X_train"], image_shape)
    return CnnData(data, image_shape, k, stats)


def load_cnn_data(path, spec: dict) -> CnnData:
    """:func:`prepare_cnn_data` on the arrays of a pixels ``.npz`` (rows + image_shape)."""
    with np.load(path) as z:
        arrays = {f"{v}_{s}": z[f"{v}_{s}"] for s in SPLITS for v in ("X", "y")}
        image_shape = tuple(int(s) for s in z["image_shape"])
    return prepare_cnn_data(arrays, spec, image_shape)


# --------------------------------------------------------------------------- models
def build_cnn(spec: dict, input_shape, num_classes: int):
    """A freshly initialised float32 model for a canonical cnn spec: a
    :class:`~nplab.cnn.ConvNet`, :class:`~nplab.cnn.ThreeLayerConvNet` or (``fc``) a
    :class:`~nplab.nets.FullyConnectedNet` on the flattened image."""
    input_shape = tuple(int(s) for s in input_shape)
    common = dict(reg=spec["reg"], dtype=np.float32, seed=spec["seed"])
    if spec["arch"] == "three_layer":
        return ThreeLayerConvNet(
            input_shape,
            num_filters=spec["num_filters"],
            filter_size=spec["filter_size"],
            hidden_dim=spec["hidden_dim"],
            num_classes=num_classes,
            weight_scale=spec["weight_scale"],
            **common,
        )
    init = dict(init=spec["init"], weight_scale=spec.get("weight_scale", 1e-2))
    if spec["arch"] == "fc":
        return FullyConnectedNet(
            spec["hidden_dims"],
            input_dim=int(np.prod(input_shape)),
            num_classes=num_classes,
            dropout_keep_ratio=spec["head_dropout_keep"],
            **init,
            **common,
        )
    return ConvNet(
        spec["blocks"],
        spec["hidden_dims"],
        input_shape,
        num_classes,
        head_dropout_keep_ratio=spec["head_dropout_keep"],
        global_pool=spec["global_pool"],
        bn_momentum=spec.get("bn_momentum", 0.9),
        **init,
        **common,
    )


def wrap_cnn(spec: dict, model, image_shape, stats: dict) -> Augmented:
    """``model`` behind the run's augmentation and input normalisation (feed raw rows)."""
    return Augmented(
        model,
        spec["augment"],
        image_shape,
        normalize=input_normalizer(stats),
        seed=spec["seed"],
        test_hflip=spec["test_hflip"],
    )


def plain_accuracies(spec: dict, net: Augmented, data: dict, splits=None) -> dict:
    """A ``test_hflip`` run's accuracies WITHOUT the mirror images, as ``<split>_acc_plain``
    for ``splits`` of ``data`` (default: val, and test if the spec tests); nothing for
    other runs."""
    if not spec["test_hflip"]:
        return {}
    plain = Augmented(net.model, [], net.image_shape, normalize=net.normalize)
    splits = splits or (("val", "test") if spec["test"] else ("val",))
    return {f"{s}_acc_plain": accuracy(plain, data[f"X_{s}"], data[f"y_{s}"]) for s in splits}


def evaluation_note(spec: dict, test_acc_plain: float | None = None) -> str:
    """How a cnn run's accuracies were measured, for the report: one view, or the
    test-time flip with the single-view test accuracy beside it."""
    if not spec["test_hflip"]:
        return "one view per image"
    without = "" if test_acc_plain is None else f"; {test_acc_plain:.1%} test without it"
    return f"test-time flip{without}"


def build_cnn_solver(spec: dict, model, data: dict, *, callback=None, **overrides) -> Solver:
    """The :class:`~nplab.solver.Solver` of a cnn spec (schedules count epochs; see
    :func:`nplab_io.models.build_solver`)."""
    return build_solver(spec, model, data, callback=callback, **overrides)


# --------------------------------------------------------------------------- transfer, state
def _feature_names(model: ConvNet) -> list[str]:
    return [n for layer in model.feature_layers for n in model.layer_params(layer)]


def init_from_source(model: ConvNet, state: dict, freeze: str = "none", *, source="source"):
    """Copy every convolution's parameters and batch-norm statistics of a source run's
    saved ``state`` into ``model`` (whose head stays its own, fresh one); freeze them if
    ``freeze == "features"``."""
    if not isinstance(model, ConvNet):
        raise ValueError(f"transfer needs a ConvNet, got {type(model).__name__}")
    for name in _feature_names(model):
        if name not in state:
            raise ValueError(f"{source}: missing feature parameter {name!r}")
        if state[name].shape != model.params[name].shape:
            raise ValueError(
                f"{source}: feature parameter {name!r} has shape {state[name].shape}, "
                f"expected {model.params[name].shape}"
            )
        model.params[name] = np.array(state[name], dtype=model.dtype)
    load_bn_stats(model, state)
    if freeze == "features":
        model.freeze("features")
    elif freeze != "none":
        raise ValueError(f"unknown freeze {freeze!r}")


def cnn_state(model, stats: dict) -> dict:
    """Parameters, batch-norm statistics and the input normalisation's TRAIN statistics,
    as flat arrays for an .npz."""
    return net_state(model) | {_STATS_PREFIX + k: v for k, v in stats.items()}


def load_cnn_state(model, state: dict, *, source: str = "params") -> dict:
    """Put a :func:`cnn_state` back into ``model``; returns the input statistics."""
    load_net_state(model, state, source=source)
    return {k[len(_STATS_PREFIX) :]: v for k, v in state.items() if k.startswith(_STATS_PREFIX)}


def cnn_test_net(spec: dict, state: dict, path) -> tuple[Augmented, np.ndarray, np.ndarray]:
    """A trained cnn run's net (its saved state, evaluated as its spec says) and its test
    split (its classes and pixel shuffle) as ``(net, X, y)``; the saved TRAIN statistics
    normalise."""
    with np.load(path) as z:
        X, y = z["X_test"], z["y_test"]
        image_shape = tuple(int(s) for s in z["image_shape"])
    X, y = select_classes(X, y, spec.get("classes"))
    X = np.ascontiguousarray(X, dtype=np.float32)
    if spec.get("pixel_shuffle") is not None:
        X = shuffle_pixels(X, pixel_permutation(spec["pixel_shuffle"], image_shape), image_shape)
    k = len(spec["classes"]) if spec.get("classes") else CNN_NUM_CLASSES
    model = build_cnn(spec, image_shape, k)
    stats = load_cnn_state(model, state)
    return wrap_cnn(spec | {"augment": []}, model, image_shape, stats), X, y


def cnn_test_predictions(spec: dict, state: dict, path) -> tuple[np.ndarray, np.ndarray]:
    """(predicted, true) labels of a trained cnn run on its test split (:func:`cnn_test_net`)."""
    net, X, y = cnn_test_net(spec, state, path)
    return net.predict(X, batch_size=1000), y


# --------------------------------------------------------------------------- cost
def _out(size: int, kernel: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - kernel) // stride + 1


def _affine_cost(dims) -> tuple[int, int]:
    """(multiply-adds, weights) of a chain of affine layers."""
    macs = sum(a * b for a, b in zip(dims[:-1], dims[1:]))
    return macs, macs + sum(dims[1:])


def _convnet_cost(spec: dict, shape, num_classes: int) -> dict:
    h, w, c = shape
    macs = acts = weights = 0
    for b in spec["blocks"]:
        convs = [(b["kernel"], b["stride"], b["pad"], width) for width in b["widths"]]
        if b["pool"] == "conv":
            convs.append((3, 2, 1, b["widths"][-1]))
        for kernel, stride, pad, width in convs:
            h, w = _out(h, kernel, stride, pad), _out(w, kernel, stride, pad)
            macs += h * w * kernel * kernel * c * width
            weights += kernel * kernel * c * width + width
            acts += h * w * width
            c = width
        if b["pool"] in ("max", "avg"):
            size = b["pool_size"]
            h, w = _out(h, size, size, 0), _out(w, size, size, 0)
    head = _affine_cost(
        [c if spec["global_pool"] else h * w * c, *spec["hidden_dims"], num_classes]
    )
    return {"macs": macs + head[0], "weights": weights + head[1], "activations": acts}


def cnn_cost(spec: dict, input_shape=(32, 32, 3)) -> dict:
    """Per image, of a canonical cnn spec: ``macs`` (forward multiply-adds of the
    convolutions and affine layers; a training step costs ~3x), ``activations`` (output
    values of the convolutional layers, which a training step keeps several times over)
    and ``weights`` (parameters, batch norm's gamma/beta left out)."""
    k = len(spec["classes"]) if spec.get("classes") else CNN_NUM_CLASSES
    h, w, c = input_shape
    if spec["arch"] == "fc":
        macs, weights = _affine_cost([h * w * c, *spec["hidden_dims"], k])
        return {"macs": macs, "weights": weights, "activations": sum(spec["hidden_dims"])}
    if spec["arch"] == "three_layer":
        f, fs, hid = spec["num_filters"], spec["filter_size"], spec["hidden_dim"]
        conv = h * w * fs * fs * c * f
        head = _affine_cost([(h // 2) * (w // 2) * f, hid, k])
        return {
            "macs": conv + head[0],
            "weights": fs * fs * c * f + f + head[1],
            "activations": h * w * f,
        }
    return _convnet_cost(spec, (h, w, c), k)


def cnn_macs(spec: dict, input_shape=(32, 32, 3)) -> int:
    """Forward multiply-adds per image (see :func:`cnn_cost`)."""
    return cnn_cost(spec, input_shape)["macs"]


def cnn_train_images(spec: dict, split_train: int = 49000) -> int:
    """Training images a run uses, estimated from the spec (classes assumed balanced)."""
    k = len(spec["classes"]) if spec.get("classes") else CNN_NUM_CLASSES
    n = split_train * k // CNN_NUM_CLASSES
    if spec.get("per_class") is not None:
        n = min(n, spec["per_class"] * k)
    if spec.get("num_train") is not None:
        n = min(n, spec["num_train"])
    return n
