"""Experiment tables -> run specs -> run ids.

An *experiment table* in the config (``experiments.<table>``) describes a family of
training runs::

    svm_grid:
      kind: linear                 # linear | net | cnn
      base: {model: svm, lr: 1.0e-7, reg: 2.5e+4}
      grid: {lr: [1.0e-7, 5.0e-5], reg: [2.5e+4, 5.0e+4]}    # cartesian product
      variants: [{name: wide, ...}, ...]                     # explicit list (optional)
      select: val_acc              # the best run by this metric is evaluated on test

Every run of a table is ``defaults(kind) | base | variant | grid point``; the optional
``name`` of a variant labels it (otherwise the label is built from the values that vary).
A run spec is a *flat* dict of plain values. Its id is ``<kind>-<hash>`` with the hash
taken over the canonical JSON of the spec with every default filled in and every value
that cannot matter dropped (e.g. ``momentum`` for Adam), so two tables asking for the same
run share one job and one output, and changing one table's settings creates new ids for
just the runs that changed.

A ``cnn`` run may start from another run's parameters: ``init_from: <table>/<variant
label>`` (or just ``<table>`` for a one-run table) is resolved while the tables are
expanded to that run's id, stored as ``init_run`` and hashed (``init_from`` itself is not),
so the target's id changes whenever the source run does.

Specs are validated here with one-line :class:`~nplab_io.config.ConfigError` messages
naming the table and key (``experiments.svm_grid.grid.lr: expected a number > 0, got -1``),
before any job runs.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
from typing import Any

from nplab.optim import DEFAULTS as OPTIM_DEFAULTS
from nplab.schedules import make_schedule

from .config import ConfigError

__all__ = [
    "KINDS",
    "DATA_SOURCES",
    "expand_table",
    "expand_experiments",
    "run_id",
    "canonical_spec",
    "flatten_for_table",
]

#: Preprocessed arrays a run can train on: "<dataset>/<variant>" -> path under results/.
DATA_SOURCES = {
    "cifar10/pixels": "prep/cifar10/pixels.npz",
    "cifar10/centered": "prep/cifar10/centered.npz",
    "cifar10/centered_bias": "prep/cifar10/centered_bias.npz",
    "cifar10/features": "features/cifar10/features.npz",
    "mnist/scaled": "prep/mnist/scaled.npz",
}

# A net spec names the optimizer's learning_rate "lr"; its other hyperparameters keep
# the names of nplab.optim.DEFAULTS, which is the one place their defaults live.
_OPTIM_KEYS = {"lr": "learning_rate"} | {
    k: k for hp in OPTIM_DEFAULTS.values() for k in hp if k != "learning_rate"
}
_SCHEDULES = ("none", "exponential", "step", "cosine", "linear", "inverse_sqrt")

#: Every key a spec of each kind may carry, with its default.
KINDS: dict[str, dict[str, Any]] = {
    "net": {
        "data": "cifar10/centered",
        "num_train": None,  # first N training examples (None = all)
        "num_val": None,
        "hidden_dims": [100],
        "activation": "relu",
        "leaky_alpha": 0.01,
        "normalization": "none",  # none | batchnorm | layernorm
        "dropout_keep": 1.0,
        "loss": "softmax",  # softmax | mse | svm
        "reg": 0.0,
        "reg_kind": "l2",
        "init": "gaussian",  # gaussian | uniform | xavier | he
        "weight_scale": 1e-2,
        "optimizer": "sgd",
        # None: the optimizer's own default (nplab.optim.DEFAULTS); dropped if it has none
        **dict.fromkeys(_OPTIM_KEYS),
        "batch_size": 100,  # int or "full"
        "sampling": "without_replacement",
        "epochs": 10,
        "iterations": None,  # stop after this many iterations (None: epochs decide)
        "lr_decay": 1.0,  # per-epoch multiplicative decay
        "schedule": "none",
        "schedule_params": {},
        "reduction": "mean",  # mean | sum (the MNIST write-up's summed gradients)
        "keep_best": True,  # restore the best-val parameters at the end
        "eval_train_samples": 1000,
        "flip": False,  # random horizontal flips (CIFAR-10 images only)
        "test": False,  # evaluate the final model on the test split
        "test_epochs": [],  # also record test accuracy after these epochs
        "record_stats": False,  # per-layer activation statistics at init and at the end
        "seed": 0,
    },
    # convolutional nets (and, for comparisons, FC nets) on CIFAR-10 images; the data
    # pipeline and model building are in nplab_io.cnn_runs
    "cnn": {
        "data": "cifar10/pixels",  # raw float32 pixels 0..255, HWC rows
        "arch": "convnet",  # convnet | three_layer | fc (a FullyConnectedNet, same inputs)
        "blocks": [{"widths": [32]}, {"widths": [64]}],  # convnet: nplab.cnn block dicts
        "hidden_dims": [],  # convnet: the head's hidden layers; fc: its hidden layers
        "global_pool": False,  # convnet: average over positions before the head
        "head_dropout_keep": 1.0,  # convnet: head dropout; fc: dropout of every layer
        "num_filters": 32,  # three_layer (CS231n ThreeLayerConvNet)
        "filter_size": 7,
        "hidden_dim": 100,
        "init": "he",  # convnet / fc (three_layer: gaussian weight_scale)
        "weight_scale": 1e-2,  # gaussian init only
        "reg": 0.0,
        "bn_momentum": 0.9,  # running statistics of spatial batch norm
        "optimizer": "adam",
        **dict.fromkeys(_OPTIM_KEYS),
        "batch_size": 64,
        "epochs": 5,
        "iterations": None,
        "schedule": "none",
        "schedule_params": {},
        "num_train": None,  # first N training images after classes / per_class (None = all)
        "num_val": None,  # first N validation images of the chosen classes
        "eval_train_samples": 1000,  # train accuracy on a fixed random subsample
        "keep_best": True,
        "test": False,
        "seed": 0,
        "input_norm": "channel",  # channel (x - mu_c)/sigma_c | mean_image | none: TRAIN stats
        "augment": [],  # [{name, ...params}] of nplab.augment, on raw pixels
        "test_hflip": False,  # evaluate on the mean scores of each image and its mirror
        "pixel_shuffle": None,  # seed of one fixed permutation of the H*W positions
        "classes": None,  # a subset of labels, relabelled 0..k-1 in the given order
        "per_class": None,  # first N training images of each class
        "init_from": None,  # "<table>/<variant>": start from that run's parameters
        "init_run": None,  # set from init_from during expansion (never in a config)
        "freeze": "none",  # none | features (needs init_from)
    },
    "linear": {
        "data": "cifar10/centered_bias",
        "num_train": None,
        "model": "svm",  # svm | softmax
        "lr": 1e-7,
        "reg": 2.5e4,
        "delta": 1.0,
        "iterations": 1500,
        "batch_size": 200,
        "weight_scale": 1e-3,
        "test": False,
        "seed": 0,
    },
}

#: nplab.cnn.BLOCK_DEFAULTS, mirrored here: validating a table must not make every job
#: that imports this module (the net and linear runs) depend on the CNN core's code
#: (tests/io/test_cnn_runs.py checks that the two agree)
CNN_BLOCK_DEFAULTS = {
    "widths": None,
    "kernel": 3,
    "stride": 1,
    "pad": None,  # None: "same", kernel // 2
    "norm": None,
    "groups": 8,
    "pool": "max",
    "pool_size": 2,
    "dropout_keep_ratio": 1.0,
}
_CNN_NORMS = (None, "batch", "group")
_CNN_POOLS = (None, "max", "avg", "conv")
#: The images a cnn run's data source holds (H, W, C) and their class count.
CNN_IMAGE_SHAPE = (32, 32, 3)
CNN_NUM_CLASSES = 10

_ENUMS = {
    "data": tuple(DATA_SOURCES),
    "arch": ("convnet", "three_layer", "fc"),
    "input_norm": ("channel", "mean_image", "none"),
    "freeze": ("none", "features"),
    "activation": ("relu", "leaky_relu", "tanh", "sigmoid"),
    "normalization": ("none", "batchnorm", "layernorm"),
    "loss": ("softmax", "mse", "svm"),
    "reg_kind": ("l2", "l1"),
    "init": ("gaussian", "uniform", "xavier", "he"),
    "optimizer": tuple(OPTIM_DEFAULTS),
    "sampling": ("without_replacement", "with_replacement"),
    "schedule": _SCHEDULES,
    "reduction": ("mean", "sum"),
    "model": ("svm", "softmax"),
}
_POSITIVE = {"lr", "weight_scale", "epsilon", "leaky_alpha", "lr_decay", "delta"}
_NONNEG = {"reg"}
_UNIT_OPEN = {"momentum", "decay_rate", "beta1", "beta2"}  # [0, 1)
_POS_INT = {"epochs", "eval_train_samples", "num_filters", "filter_size", "hidden_dim"}
_POS_INT_OR_NULL = {"num_train", "num_val", "iterations", "per_class"}
_BOOL = {"keep_best", "flip", "test", "record_stats", "global_pool", "test_hflip"}
# per-kind restrictions of a shared enum
_KIND_ENUMS = {"cnn": {"data": ("cifar10/pixels",)}}


def _err(where: str, expected: str, got) -> ConfigError:
    return ConfigError(f"config error: {where}: expected {expected}, got {got!r}")


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _check_value(kind: str, key: str, v, where: str):
    """Validate one spec value; return it normalised (ints stay ints, numbers -> float)."""
    if key not in KINDS[kind]:
        raise ConfigError(
            f"config error: {where}: unknown key {key!r} for a {kind} run "
            f"(allowed: {', '.join(sorted(KINDS[kind]))})"
        )
    if key in _ENUMS:
        allowed = _KIND_ENUMS.get(kind, {}).get(key, _ENUMS[key])
        if v not in allowed:
            raise _err(where, "one of " + ", ".join(map(repr, allowed)), v)
        return v
    if key in _POSITIVE:
        if not _is_num(v) or v <= 0:
            raise _err(where, "a number > 0", v)
        return float(v)
    if key in _NONNEG:
        if not _is_num(v) or v < 0:
            raise _err(where, "a number >= 0", v)
        return float(v)
    if key in _UNIT_OPEN:
        if not _is_num(v) or not 0 <= v < 1:
            raise _err(where, "a number in [0, 1)", v)
        return float(v)
    if key in _POS_INT:
        if not _is_int(v) or v < 1:
            raise _err(where, "an integer >= 1", v)
        return v
    if key in _POS_INT_OR_NULL:
        if v is not None and (not _is_int(v) or v < 1):
            raise _err(where, "an integer >= 1 or null", v)
        return v
    if key in _BOOL:
        if not isinstance(v, bool):
            raise _err(where, "true or false", v)
        return v
    if key == "seed":
        if not _is_int(v) or v < 0:
            raise _err(where, "an integer >= 0", v)
        return v
    if key in ("dropout_keep", "head_dropout_keep"):
        if not _is_num(v) or not 0 < v <= 1:
            raise _err(where, "a keep probability in (0, 1]", v)
        return float(v)
    if key == "hidden_dims":
        if not isinstance(v, list) or not all(_is_int(h) and h >= 1 for h in v):
            raise _err(where, "a list of integers >= 1", v)
        return list(v)
    if key == "batch_size":
        if kind == "cnn" and (not _is_int(v) or v < 1):
            raise _err(where, "an integer >= 1", v)
        if v != "full" and (not _is_int(v) or v < 1):
            raise _err(where, "an integer >= 1 or 'full'", v)
        return v
    if key == "iterations" and kind == "linear":
        if not _is_int(v) or v < 1:
            raise _err(where, "an integer >= 1", v)
        return v
    if key == "schedule_params":
        if not isinstance(v, dict) or not all(_is_num(x) for x in v.values()):
            raise _err(where, "a mapping of numbers", v)
        return {k: float(x) for k, x in sorted(v.items())}
    if key == "test_epochs":
        if not isinstance(v, list) or not all(_is_int(e) and e >= 1 for e in v):
            raise _err(where, "a list of epochs (integers >= 1)", v)
        return sorted(set(v))
    if kind == "cnn":
        return _check_cnn_value(key, v, where)
    return v  # pragma: no cover - every key is handled above


def _check_cnn_value(key: str, v, where: str):
    """The keys only a cnn run has (see KINDS["cnn"])."""
    if key == "blocks":
        return _check_blocks(v, where)
    if key == "augment":
        return _check_augment(v, where)
    if key == "bn_momentum":
        if not _is_num(v) or not 0 <= v <= 1:
            raise _err(where, "a number in [0, 1]", v)
        return float(v)
    if key == "pixel_shuffle":
        if v is not None and (not _is_int(v) or v < 0):
            raise _err(where, "null or a permutation seed (an integer >= 0)", v)
        return v
    if key == "classes":
        return _check_classes(v, where)
    if key == "init_from":
        if v is not None and (not isinstance(v, str) or not v.split("/")[0]):
            raise _err(where, "null or '<table>/<variant>' (or '<table>' of a one-run table)", v)
        return v
    if key == "init_run":
        raise ConfigError(
            f"config error: {where}: set from init_from while the tables are expanded; "
            "give init_from: <table>/<variant> instead"
        )
    return v  # pragma: no cover - every key is handled above


def _check_classes(v, where: str):
    if v is None:
        return None
    n = CNN_NUM_CLASSES
    if (
        not isinstance(v, list)
        or len(v) < 2
        or not all(_is_int(c) and 0 <= c < n for c in v)
        or len(set(v)) != len(v)
    ):
        raise _err(where, f"null or a list of at least 2 distinct labels in 0..{n - 1}", v)
    return list(v)


def _check_block_ints(b: dict, where: str) -> None:
    widths = b["widths"]
    if not isinstance(widths, list) or not widths or not all(_is_int(w) and w >= 1 for w in widths):
        raise _err(f"{where}.widths", "a non-empty list of integers >= 1", widths)
    for key in ("kernel", "stride", "groups", "pool_size"):
        if not _is_int(b[key]) or b[key] < 1:
            raise _err(f"{where}.{key}", "an integer >= 1", b[key])
    if b["pad"] is not None and (not _is_int(b["pad"]) or b["pad"] < 0):
        raise _err(f"{where}.pad", "null ('same') or an integer >= 0", b["pad"])
    if b["norm"] not in _CNN_NORMS:
        raise _err(f"{where}.norm", "one of null, 'batch', 'group'", b["norm"])
    if b["pool"] not in _CNN_POOLS:
        raise _err(f"{where}.pool", "one of null, 'max', 'avg', 'conv'", b["pool"])
    keep = b["dropout_keep_ratio"]
    if not _is_num(keep) or not 0 < keep <= 1:
        raise _err(f"{where}.dropout_keep_ratio", "a keep probability in (0, 1]", keep)
    if b["norm"] == "group" and any(w % b["groups"] for w in widths):
        raise _err(f"{where}.groups", f"a divisor of every width {widths}", b["groups"])


def _check_blocks(v, where: str) -> list[dict]:
    """Validate nplab.cnn blocks on CIFAR-10 images; return them with every default
    filled in ("same" padding resolved) and keys that cannot matter dropped (``groups``
    without group norm, ``pool_size`` without max/avg pooling), so equal nets hash equal."""
    if not isinstance(v, list) or not v:
        raise _err(where, "a non-empty list of block mappings ({widths: [...], ...})", v)
    size = CNN_IMAGE_SHAPE[0]
    out = []
    for i, block in enumerate(v):
        at = f"{where}[{i}]"
        if not isinstance(block, dict):
            raise _err(at, "a block mapping ({widths: [...], ...})", block)
        unknown = sorted(set(block) - set(CNN_BLOCK_DEFAULTS))
        if unknown:
            raise ConfigError(
                f"config error: {at}: unknown key {unknown[0]!r} for a block "
                f"(allowed: {', '.join(CNN_BLOCK_DEFAULTS)})"
            )
        b = {**CNN_BLOCK_DEFAULTS, **block}
        if _is_int(b["widths"]):
            b["widths"] = [b["widths"]]
        _check_block_ints(b, at)
        pad = b["kernel"] // 2 if b["pad"] is None else b["pad"]
        for _ in b["widths"]:
            size = (size + 2 * pad - b["kernel"]) // b["stride"] + 1
        if b["pool"] == "conv":  # a 3x3 stride-2 convolution, pad 1
            size = (size - 1) // 2 + 1
        elif b["pool"] is not None:
            size = (size - b["pool_size"]) // b["pool_size"] + 1
        if size < 1:
            raise _err(
                at, f"a block that leaves the {CNN_IMAGE_SHAPE[0]}-pixel images >= 1 pixel", block
            )
        canon = {k: b[k] for k in ("widths", "kernel", "stride", "norm", "pool")}
        canon["widths"] = list(b["widths"])
        canon["pad"] = pad
        canon["dropout_keep_ratio"] = float(b["dropout_keep_ratio"])
        if b["norm"] == "group":
            canon["groups"] = b["groups"]
        if b["pool"] in ("max", "avg"):
            canon["pool_size"] = b["pool_size"]
        out.append(dict(sorted(canon.items())))
    return out


def _plain(v):
    """JSON-ready values: tuples -> lists, NumPy scalars -> Python, -0.0 -> 0.0."""
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        v = v.item()
    if isinstance(v, float):
        return v + 0.0
    return v


def _check_augment(v, where: str) -> list[dict]:
    """Validate an augmentation list by building its pipeline; return each transform's
    full config (defaults filled in), so equal pipelines hash equal."""
    if not isinstance(v, list):
        raise _err(where, "a list of {name: <transform>, <parameter>: ...} mappings", v)
    # nplab.augment imports scikit-image: load it only for tables that augment (the net
    # and linear jobs import it anyway, through nplab_io.models)
    from nplab.augment import build_pipeline

    try:
        pipeline = build_pipeline(v)
    except ValueError as exc:
        raise ConfigError(f"config error: {where}: {exc}") from None
    return [_plain(t.config()) for t in pipeline]


def canonical_spec(kind: str, spec: dict) -> dict:
    """``spec`` with defaults filled in and values that cannot matter dropped."""
    full = copy.deepcopy(KINDS[kind])
    full.update(spec)
    if kind == "linear":
        if full["model"] != "svm":
            full.pop("delta")
        if full["iterations"] is None:  # pragma: no cover - validated before
            raise ValueError("linear runs need iterations")
        return dict(sorted(full.items()))
    if kind == "cnn":
        return _canonical_cnn(full)
    _fill_optimizer(full)
    if full["activation"] != "leaky_relu":
        full.pop("leaky_alpha")
    if full["schedule"] == "none":
        full.pop("schedule_params")
    if (
        full["flip"]
        and not full["data"].startswith("cifar10/")
        or full["data"] == "cifar10/features"
    ):
        full["flip"] = False
    return dict(sorted(full.items()))


def _canonical_cnn(full: dict) -> dict:
    """Drop what the run's architecture does not use; the identity of a transfer run's
    source is its run id (init_run), not the table/variant name it was given by."""
    _fill_optimizer(full)
    if full["schedule"] == "none":
        full.pop("schedule_params")
    arch = full["arch"]
    drop = {"init_from"}
    if arch == "convnet":
        full["blocks"] = _check_blocks(full["blocks"], "blocks")
        if not any(b["norm"] == "batch" for b in full["blocks"]):
            drop.add("bn_momentum")
    else:
        drop |= {"blocks", "global_pool", "bn_momentum"}
    if arch == "three_layer":  # CS231n's net: gaussian weight_scale init, one hidden layer
        drop |= {"hidden_dims", "head_dropout_keep", "init"}
    else:
        drop |= {"num_filters", "filter_size", "hidden_dim"}
        if full["init"] != "gaussian":
            drop.add("weight_scale")
    for key in drop:
        full.pop(key)
    return dict(sorted(full.items()))


def _fill_optimizer(spec: dict) -> None:
    """Unset optimizer hyperparameters take the optimizer's defaults; others are dropped."""
    defaults = OPTIM_DEFAULTS[spec["optimizer"]]
    for key, core_key in _OPTIM_KEYS.items():
        if core_key not in defaults:
            spec.pop(key)
        elif spec[key] is None:
            spec[key] = defaults[core_key]


def run_id(kind: str, spec: dict) -> str:
    """``<kind>-<12 hex>``: a hash of the canonical JSON of the spec."""
    canon = canonical_spec(kind, spec)
    text = json.dumps(canon, sort_keys=True, separators=(",", ":"), allow_nan=False)
    return f"{kind}-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, list):
        return "-".join(map(str, v)) or "linear"
    return str(v)


def _apply_limits(kind: str, spec: dict, limits: dict) -> dict:
    """Cap sizes for smoke-test configs (``limits`` in the config; null = no cap)."""
    s = dict(spec)
    mt = limits.get("max_train")
    if mt is not None and kind == "cnn" and s.get("per_class") is not None:
        # num_train takes the first N of the per_class images: never ask for more
        k = len(s["classes"]) if s.get("classes") else CNN_NUM_CLASSES
        mt = min(mt, s["per_class"] * k)
    if mt is not None:
        s["num_train"] = mt if s.get("num_train") is None else min(s["num_train"], mt)
        if _is_int(s.get("batch_size")) and s["batch_size"] > s["num_train"]:
            s["batch_size"] = s["num_train"]
    if kind in ("net", "cnn"):
        me = limits.get("max_epochs")
        if me is not None:
            s["epochs"] = min(s.get("epochs", KINDS[kind]["epochs"]), me)
            if kind == "net":
                s["test_epochs"] = sorted({min(e, s["epochs"]) for e in s.get("test_epochs", [])})
            if s.get("schedule_params") and "total_steps" in s["schedule_params"]:
                s["schedule_params"] = dict(
                    s["schedule_params"],
                    total_steps=min(s["schedule_params"]["total_steps"], float(s["epochs"])),
                )
    mi = limits.get("max_iterations")
    cur = s.get("iterations", KINDS[kind]["iterations"])
    if mi is not None and cur is not None:  # nets without an iteration cap run their epochs
        s["iterations"] = min(cur, mi)
    return s


def expand_table(
    name: str, table: dict, *, seed: int = 0, limits: dict | None = None, resolve=None
) -> list[dict]:
    """The runs of one table: ``[{"variant": label, "run": id, "kind": k, "spec": {...}}]``.

    ``resolve(ref, where)``: the run record an ``init_from`` reference names (given by
    :func:`expand_experiments`)."""
    where = f"experiments.{name}"
    kind = table.get("kind")
    if kind not in KINDS:
        raise _err(f"{where}.kind", "one of " + ", ".join(map(repr, KINDS)), kind)
    base = table.get("base") or {}
    if not isinstance(base, dict):
        raise _err(f"{where}.base", "a mapping", base)
    grid = table.get("grid") or {}
    if not isinstance(grid, dict):
        raise _err(f"{where}.grid", "a mapping of key: [values]", grid)
    for k, vals in grid.items():
        if not isinstance(vals, list) or not vals:
            raise _err(f"{where}.grid.{k}", "a non-empty list of values", vals)
    variants = table.get("variants")
    if variants is None:
        variants = [{}]
    if not isinstance(variants, list) or not variants:
        raise _err(f"{where}.variants", "a non-empty list of mappings", variants)

    runs, seen_labels = [], set()
    keys = list(grid)
    for vi, var in enumerate(variants):
        if not isinstance(var, dict):
            raise _err(f"{where}.variants[{vi}]", "a mapping", var)
        var = dict(var)
        vname = var.pop("name", None)
        for point in itertools.product(*(grid[k] for k in keys)):
            spec = {"seed": seed}
            sources = {}
            for src, d in (
                (f"{where}.base", base),
                (f"{where}.variants[{vi}]", var),
                (f"{where}.grid", dict(zip(keys, point))),
            ):
                for k, v in d.items():
                    spec[k] = v
                    sources[k] = f"{src}.{k}"
            for k, v in list(spec.items()):
                spec[k] = _check_value(kind, k, v, sources.get(k, f"{where}.{k}"))
            _check_spec(kind, spec, where)
            spec = _apply_limits(kind, spec, limits or {})
            if spec.get("init_from") is not None:
                spec["init_run"] = _resolve_init(spec, resolve, sources["init_from"])
            parts = ([str(vname)] if vname is not None else []) + [
                f"{k}={_fmt(v)}" for k, v in zip(keys, point) if len(grid[k]) > 1
            ]
            if vname is None and len(variants) > 1 and not parts:
                parts = [f"variant{vi}"]
            label = ", ".join(parts) or name
            if label in seen_labels:
                raise ConfigError(
                    f"config error: {where}: two runs share the label {label!r} "
                    "(give each variant a distinct name)"
                )
            seen_labels.add(label)
            runs.append(
                {
                    "variant": label,
                    "run": run_id(kind, spec),
                    "kind": kind,
                    "spec": canonical_spec(kind, spec),
                }
            )
    return runs


def _check_spec(kind: str, spec: dict, where: str) -> None:
    """Cross-key checks."""
    if kind == "cnn":
        _check_cnn_spec(spec, where)
    if kind in ("net", "cnn"):
        sp = spec.get("schedule", "none")
        if sp != "none" and spec.get("lr_decay", 1.0) != 1.0:
            raise ConfigError(f"config error: {where}: give either schedule or lr_decay, not both")
        if sp != "none":
            lr = canonical_spec(kind, spec)["lr"]
            try:
                make_schedule(sp, lr, **spec.get("schedule_params", {}))
            except ValueError as exc:
                raise ConfigError(f"config error: {where}.schedule_params: {exc}") from None


def _check_cnn_spec(spec: dict, where: str) -> None:
    arch = spec.get("arch", KINDS["cnn"]["arch"])
    if spec.get("init_from") is not None and arch != "convnet":
        raise ConfigError(
            f"config error: {where}: init_from needs arch 'convnet' (its features are copied), "
            f"got arch {arch!r}"
        )
    if spec.get("freeze", "none") != "none" and spec.get("init_from") is None:
        raise ConfigError(
            f"config error: {where}: freeze: {spec['freeze']!r} needs init_from (frozen "
            "random features are not a transfer strategy)"
        )
    batch = spec.get("batch_size", KINDS["cnn"]["batch_size"])
    classes, per_class = spec.get("classes"), spec.get("per_class")
    most = [spec.get("num_train")]
    if per_class is not None:
        most.append(per_class * (len(classes) if classes else CNN_NUM_CLASSES))
    most = min((m for m in most if m is not None), default=None)
    if most is not None and batch > most:
        raise _err(
            f"{where}.batch_size",
            f"at most the run's {most} training images (num_train / per_class x classes)",
            batch,
        )


def _resolve_init(spec: dict, resolve, where: str) -> str:
    """The run id ``init_from`` names, after checking the two nets' features match."""
    if resolve is None:
        raise ConfigError(
            f"config error: {where}: init_from needs the other tables (expand_experiments)"
        )
    src = resolve(spec["init_from"], where)
    s, t = src["spec"], canonical_spec("cnn", spec)
    if src["kind"] != "cnn" or s.get("arch") != "convnet":
        raise _err(where, "a run of a kind: cnn table with arch 'convnet'", spec["init_from"])
    for key in ("blocks", "global_pool"):
        if s[key] != t[key]:
            raise ConfigError(
                f"config error: {where}: {spec['init_from']!r} has other {key} than this "
                f"run ({json.dumps(s[key])} vs {json.dumps(t[key])}); the features are "
                "copied, so they must match"
            )
    return src["run"]


def expand_experiments(experiments: dict, *, seed: int = 0, limits: dict | None = None) -> dict:
    """All enabled tables -> ``{table: [run records]}`` (see :func:`expand_table`).

    A table another one names in ``init_from`` is expanded first (even when disabled:
    its run is then built as the target's input only); a cycle is an error."""
    experiments = experiments or {}
    done: dict[str, list] = {}
    visiting: set[str] = set()

    def expand(name: str) -> list[dict]:
        if name not in done:
            table = experiments[name]
            if not isinstance(table, dict):
                raise _err(f"experiments.{name}", "a mapping", table)
            if name in visiting:
                raise ConfigError(
                    f"config error: experiments.{name}: init_from leads back to this table"
                )
            visiting.add(name)
            done[name] = expand_table(name, table, seed=seed, limits=limits, resolve=resolve)
            visiting.discard(name)
        return done[name]

    def resolve(ref: str, where: str) -> dict:
        name, _, label = ref.partition("/")
        if name not in experiments:
            raise _err(where, "'<table>/<variant>' naming a table of experiments", ref)
        runs = expand(name)
        if not label and len(runs) == 1:
            return runs[0]
        for r in runs:
            if r["variant"] == label:
                return r
        labels = ", ".join(repr(r["variant"]) for r in runs)
        raise _err(where, f"'{name}/<variant>' with a variant of {name} ({labels})", ref)

    out = {}
    for name, table in experiments.items():
        if not isinstance(table, dict):
            raise _err(f"experiments.{name}", "a mapping", table)
        if table.get("enabled", True):
            out[name] = expand(name)
    return out


def flatten_for_table(spec: dict) -> dict:
    """Spec values as CSV-friendly scalars (lists/dicts become compact JSON)."""
    return {
        k: (json.dumps(v, separators=(",", ":")) if isinstance(v, (list, dict)) else v)
        for k, v in spec.items()
    }
