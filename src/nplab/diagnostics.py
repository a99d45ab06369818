"""Diagnostics of nets and optimizers for the lab's questions, pure NumPy.

Small measurements built on the core's own layers and update rules:

* :func:`check_net_gradients` -- centred-difference gradient check of every parameter of
  a model (fixed dropout masks through a re-seeded ``rng``);
* :func:`local_gradients` / :func:`near_zero_ranges` -- the local gradient of an
  activation over a 1-D input range, computed with its backward function;
* :func:`activation_stats` -- per hidden layer of a net: mean, spread, and the fraction
  of zero, saturated and dead units;
* :func:`relative_update` / :func:`effective_learning_rate` -- how large an optimizer
  step is (``|dw| / |w|``) and the per-coordinate learning rate an adaptive rule applies
  (``lr / (sqrt(cache) + eps)``);
* :func:`dropout_train_test_means` -- mean activation after inverted dropout in train
  mode, with and without the division by the keep probability, against test mode;
* :func:`axis_statistics` -- per-feature (over examples, as batch norm) and per-example
  (over features, as layer norm) statistics of a data matrix, with the preprocessing
  transforms of BatchNormalization.ipynb's question 3 (:data:`PREPROCESSING`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .gradcheck import eval_numerical_gradient, rel_error
from .layers import ACTIVATIONS, dropout_forward

__all__ = [
    "check_net_gradients",
    "local_gradients",
    "near_zero_ranges",
    "activation_stats",
    "relative_update",
    "effective_learning_rate",
    "dropout_train_test_means",
    "axis_statistics",
    "PREPROCESSING",
    "preprocess_for_question",
]


# --------------------------------------------------------------------------- gradients
def check_net_gradients(
    model, X, y, h: float = 1e-5, dropout_seed: int | None = None, params: list[str] | None = None
) -> dict[str, float]:
    """Max relative error (:func:`nplab.gradcheck.rel_error`) between the analytic and the
    centred-difference gradient of ``model.loss(X, y)`` for every parameter.

    Use a float64 model. With dropout, ``dropout_seed`` re-seeds ``model.rng`` before
    every loss evaluation so that each one draws the same masks (the check is then
    exact); batch-norm running statistics change but do not enter the train-mode loss.
    """

    def reseed():
        if dropout_seed is not None:
            model.rng = np.random.default_rng(dropout_seed)

    reseed()
    _, grads = model.loss(X, y)
    out = {}
    for name in params if params is not None else list(model.params):

        def f(_w, name=name):
            reseed()
            return model.loss(X, y)[0]

        num = eval_numerical_gradient(f, model.params[name], h=h)
        out[name] = rel_error(num, grads[name])
    return out


# --------------------------------------------------------------------------- activations
def local_gradients(
    x, names=("sigmoid", "relu", "leaky_relu"), alpha: float = 0.01
) -> dict[str, np.ndarray]:
    """``d act(x) / dx`` for each activation, from its forward/backward pair with an
    upstream gradient of ones (``alpha`` is leaky ReLU's slope for x <= 0)."""
    x = np.asarray(x, dtype=np.float64)
    out = {}
    for name in names:
        if name not in ACTIVATIONS:
            raise ValueError(f"unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}")
        fwd, bwd = ACTIVATIONS[name]
        kw = {"alpha": alpha} if name == "leaky_relu" else {}
        _, cache = fwd(x, **kw)
        out[name] = np.asarray(bwd(np.ones_like(x), cache), dtype=np.float64)
    return out


def near_zero_ranges(x, g, tol: float) -> list[tuple[float, float]]:
    """The maximal runs of the sorted grid ``x`` where ``|g| < tol``, as (first x, last x)."""
    x = np.asarray(x, dtype=np.float64)
    g = np.asarray(g, dtype=np.float64)
    if x.shape != g.shape or x.ndim != 1:
        raise ValueError(f"x and g must be 1-D of the same shape, got {x.shape} and {g.shape}")
    small = np.abs(g) < tol
    ranges, start = [], None
    for i, s in enumerate(small):
        if s and start is None:
            start = i
        if not s and start is not None:
            ranges.append((float(x[start]), float(x[i - 1])))
            start = None
    if start is not None:
        ranges.append((float(x[start]), float(x[-1])))
    return ranges


# --------------------------------------------------------------------------- activations
def activation_stats(model, X) -> dict[str, np.ndarray]:
    """Per hidden layer of ``model`` (a :class:`~nplab.nets.FullyConnectedNet`) on ``X``:
    ``layer`` (1-based), ``mean``, ``std``, ``frac_zero``, ``frac_saturated`` (share of
    activations whose local gradient is small) and ``frac_dead_units`` (ReLU-like units
    that are <= 0 on every row; 0 for other activations).  ``{}`` for a net without a
    hidden layer."""
    if model.num_layers == 1:
        return {}
    keys = ("layer", "mean", "std", "frac_zero", "frac_saturated", "frac_dead_units")
    out = {k: [] for k in keys}
    relu_like = model.activation in ("relu", "leaky_relu")
    for i, a in enumerate(model.hidden_activations(X), 1):
        a = a.astype(np.float64)
        out["layer"].append(i)
        out["mean"].append(float(a.mean()))
        out["std"].append(float(a.std()))
        out["frac_zero"].append(float(np.mean(a == 0)))
        out["frac_saturated"].append(float(_saturated(a, model.activation).mean()))
        out["frac_dead_units"].append(float(np.mean(np.all(a <= 0, axis=0))) if relu_like else 0.0)
    return {k: np.asarray(v) for k, v in out.items()}


def _saturated(a: np.ndarray, activation: str) -> np.ndarray:
    if activation == "sigmoid":
        return (a < 0.01) | (a > 0.99)  # local gradient s(1-s) < ~0.01
    if activation == "tanh":
        return np.abs(a) > 0.99  # local gradient 1-t^2 < ~0.02
    return a <= 0  # relu/leaky: zero (or alpha) gradient


# --------------------------------------------------------------------------- optimizers
def relative_update(w_before, w_after) -> float:
    """``||w_after - w_before|| / ||w_before||`` (Frobenius norms; inf if w_before is 0)."""
    a = np.asarray(w_before, dtype=np.float64)
    b = np.asarray(w_after, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} and {b.shape}")
    den = float(np.linalg.norm(a))
    num = float(np.linalg.norm(b - a))
    if den == 0:
        return 0.0 if num == 0 else float("inf")
    return num / den


def effective_learning_rate(rule: str, config: dict) -> np.ndarray:
    """Per-coordinate learning rate an adaptive rule applied at its last step (float64).

    ``adagrad``/``rmsprop``: ``lr / (sqrt(cache) + eps)``; ``adam``:
    ``lr / (sqrt(v / (1 - beta2**t)) + eps)`` (the factor on the bias-corrected first
    moment); ``adam_no_bias_correction``: ``lr / (sqrt(v) + eps)``; plain SGD and the
    momentum rules: ``lr`` everywhere (shape of their state, or a scalar array).
    """
    lr = float(config["learning_rate"])
    if rule in ("adagrad", "rmsprop"):
        cache = np.asarray(config["cache"], dtype=np.float64)
        return lr / (np.sqrt(cache) + float(config["epsilon"]))
    if rule in ("adam", "adam_no_bias_correction"):
        v = np.asarray(config["v"], dtype=np.float64)
        if rule == "adam":
            v = v / (1.0 - float(config["beta2"]) ** int(config["t"]))
        return lr / (np.sqrt(v) + float(config["epsilon"]))
    if rule in ("sgd", "sgd_momentum", "nesterov_momentum"):
        ref = config.get("velocity")
        return np.full(np.shape(ref) if ref is not None else (), lr, dtype=np.float64)
    raise ValueError(f"unknown update rule {rule!r}")


# --------------------------------------------------------------------------- dropout
def dropout_train_test_means(h, p: float, rng: np.random.Generator) -> dict[str, float]:
    """Mean of the activations ``h`` at test time and after the core's inverted dropout
    (keep probability ``p``) in train mode, with the division by ``p`` (as implemented)
    and without it (the same mask, output times ``p``)."""
    h = np.asarray(h)
    test, _ = dropout_forward(h, {"mode": "test", "p": p})
    train, _ = dropout_forward(h, {"mode": "train", "p": p, "rng": rng})
    no_div = train.astype(np.float64) * p
    m_test = float(np.mean(test, dtype=np.float64))
    m_train = float(np.mean(train, dtype=np.float64))
    m_nodiv = float(np.mean(no_div))
    return {
        "p": float(p),
        "mean_test": m_test,
        "mean_train_divided": m_train,
        "mean_train_not_divided": m_nodiv,
        "ratio_train_to_test_divided": m_train / m_test if m_test else float("nan"),
        "ratio_train_to_test_not_divided": m_nodiv / m_test if m_test else float("nan"),
        "fraction_kept": float(np.mean((train != 0)[h != 0])) if np.any(h != 0) else 0.0,
    }


# --------------------------------------------------------------------------- bn-3
def axis_statistics(X, image_shape=None) -> dict[str, float]:
    """Spread of the statistics batch norm and layer norm would compute on ``X`` (N, D).

    Per feature (over the N examples, batch norm's axis): the std across features of the
    feature means and the mean of the feature stds. Per example (over the D features,
    layer norm's axis): the std across examples of the example means / sums, and the mean
    of the example stds. With ``image_shape`` (H, W, C): also the std across all
    (example, pixel row) pairs of the row sums.
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D (N, D), got shape {X.shape}")
    fmean = X.mean(axis=0)
    emean = X.mean(axis=1)
    esum = X.sum(axis=1)
    out = {
        "feature_mean_abs_max": float(np.max(np.abs(fmean))),
        "feature_mean_spread": float(fmean.std()),
        "feature_std_mean": float(X.std(axis=0).mean()),
        "example_mean_spread": float(emean.std()),
        "example_sum_mean": float(esum.mean()),
        "example_sum_spread": float(esum.std()),
        "example_std_mean": float(X.std(axis=1).mean()),
    }
    if image_shape is not None:
        shape = tuple(int(s) for s in image_shape)
        if int(np.prod(shape)) != X.shape[1]:
            raise ValueError(f"image_shape {shape} does not match rows of length {X.shape[1]}")
        rows = X.reshape((X.shape[0], shape[0], -1)).sum(axis=2)
        out["row_sum_spread"] = float(rows.std())
    return out


def _row_sums_to_one(X, shape):
    imgs = X.reshape((-1,) + shape)  # (N, H, W, C)
    s = imgs.sum(axis=(2, 3), keepdims=True)  # per image row: RGB of all pixels
    return (imgs / np.where(s == 0, 1, s)).reshape(X.shape)


def _image_sums_to_one(X, shape):
    s = X.sum(axis=1, keepdims=True)
    return X / np.where(s == 0, 1, s)


#: The four preprocessing steps of BatchNormalization.ipynb's inline question 3:
#: name -> (description, the axis its statistic is computed over).
PREPROCESSING: dict[str, tuple[str, str]] = {
    "row_rgb_sum_to_one": (
        "scale each image so the RGB values of every pixel row sum to 1",
        "per example, per row (a group of features)",
    ),
    "image_rgb_sum_to_one": (
        "scale each image so all its RGB values sum to 1",
        "per example, over all features",
    ),
    "subtract_mean_image": (
        "subtract the dataset's mean image from every image",
        "per feature, over the examples",
    ),
    "binarize": ("set every value to 0 or 1 by a fixed threshold", "none, the threshold is fixed"),
}


def preprocess_for_question(name: str, X, image_shape, threshold: float = 127.5) -> np.ndarray:
    """Apply one of :data:`PREPROCESSING` to uint8-range rows ``X`` (N, H*W*C), float64."""
    X = np.asarray(X, dtype=np.float64)
    shape = tuple(int(s) for s in image_shape)
    if int(np.prod(shape)) != X.shape[1]:
        raise ValueError(f"image_shape {shape} does not match rows of length {X.shape[1]}")
    fns: dict[str, Callable] = {
        "row_rgb_sum_to_one": lambda: _row_sums_to_one(X, shape),
        "image_rgb_sum_to_one": lambda: _image_sums_to_one(X, shape),
        "subtract_mean_image": lambda: X - X.mean(axis=0),
        "binarize": lambda: (threshold < X).astype(np.float64),
    }
    if name not in fns:
        raise ValueError(f"unknown preprocessing {name!r}; expected one of {sorted(fns)}")
    return fns[name]()
