"""Experiment tables -> run specs -> run ids.

An *experiment table* in the config (``experiments.<table>``) describes a family of
training runs::

    svm_grid:
      kind: linear                 # linear | net
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

_ENUMS = {
    "data": tuple(DATA_SOURCES),
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
_POS_INT = {"epochs", "eval_train_samples"}
_POS_INT_OR_NULL = {"num_train", "num_val", "iterations"}
_BOOL = {"keep_best", "flip", "test", "record_stats"}


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
        if v not in _ENUMS[key]:
            raise _err(where, "one of " + ", ".join(map(repr, _ENUMS[key])), v)
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
    if key == "dropout_keep":
        if not _is_num(v) or not 0 < v <= 1:
            raise _err(where, "a keep probability in (0, 1]", v)
        return float(v)
    if key == "hidden_dims":
        if not isinstance(v, list) or not all(_is_int(h) and h >= 1 for h in v):
            raise _err(where, "a list of integers >= 1", v)
        return list(v)
    if key == "batch_size":
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
    return v  # pragma: no cover - every key is handled above


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
    if mt is not None:
        s["num_train"] = mt if s.get("num_train") is None else min(s["num_train"], mt)
        if _is_int(s.get("batch_size")) and s["batch_size"] > s["num_train"]:
            s["batch_size"] = s["num_train"]
    if kind == "net":
        me = limits.get("max_epochs")
        if me is not None:
            s["epochs"] = min(s.get("epochs", KINDS["net"]["epochs"]), me)
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
    name: str, table: dict, *, seed: int = 0, limits: dict | None = None
) -> list[dict]:
    """The runs of one table: ``[{"variant": label, "run": id, "kind": k, "spec": {...}}]``."""
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
    if kind == "net":
        sp = spec.get("schedule", "none")
        if sp != "none" and spec.get("lr_decay", 1.0) != 1.0:
            raise ConfigError(f"config error: {where}: give either schedule or lr_decay, not both")
        if sp != "none":
            lr = canonical_spec(kind, spec)["lr"]
            try:
                make_schedule(sp, lr, **spec.get("schedule_params", {}))
            except ValueError as exc:
                raise ConfigError(f"config error: {where}.schedule_params: {exc}") from None


def expand_experiments(experiments: dict, *, seed: int = 0, limits: dict | None = None) -> dict:
    """All enabled tables -> ``{table: [run records]}`` (see :func:`expand_table`)."""
    out = {}
    for name, table in (experiments or {}).items():
        if not isinstance(table, dict):
            raise _err(f"experiments.{name}", "a mapping", table)
        if not table.get("enabled", True):
            continue
        out[name] = expand_table(name, table, seed=seed, limits=limits)
    return out


def flatten_for_table(spec: dict) -> dict:
    """Spec values as CSV-friendly scalars (lists/dicts become compact JSON)."""
    return {
        k: (json.dumps(v, separators=(",", ":")) if isinstance(v, (list, dict)) else v)
        for k, v in spec.items()
    }
