"""Configuration validation with one-line errors.

The pipeline's config (config/config.yaml, config/quick.yaml, plus ``--config`` overrides)
is checked against ``workflow/schemas/config.schema.yaml`` before any job runs. Defaults
from the schema are filled in, unknown keys are rejected, and every problem is reported
as ONE line naming the key and what was expected, e.g.::

    config error: data.cifar10.num_training: expected an integer <= 50000, got 60000

Beyond the schema: every number must be finite (YAML's ``.nan`` / ``.inf`` pass a JSON
schema's ``number``), ``--config mirror=`` must name something, table names are
``[a-z0-9_]+``, a linear run needs integer ``batch_size`` and ``iterations``, and every size
the config alone decides must fit the split it is taken from (:func:`check_runs` does the
training runs, once the tables are expanded).
"""

from __future__ import annotations

import copy
import math
import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml

__all__ = [
    "ConfigError",
    "load_yaml",
    "validate_config",
    "check_runs",
    "split_sizes",
    "key_path",
    "MAX_RETRY_WAIT_S",
    "TABLE_NAME",
]

#: The longest wait between two download attempts the config may ask for (seconds).
MAX_RETRY_WAIT_S = 3600
#: Experiment table names (they become file and wildcard names).
TABLE_NAME = re.compile(r"[a-z0-9_]+")
#: MNIST's training set size (``data.mnist.num_train_pool: null`` = all of it).
MNIST_TRAIN_SIZE = 60000


class ConfigError(ValueError):
    """A configuration value is missing, unknown or out of range (one-line message)."""


def load_yaml(path: str | Path) -> Any:
    """Read a YAML file; a syntax error becomes a one-line ConfigError naming the file."""
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as fh:
            return yaml.safe_load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config error: {path}: file not found") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"config error: {path}{where}: {problem}") from None


def _with_defaults(validator_cls):
    """Extend a jsonschema validator class so that 'properties' fills in defaults."""
    validate_properties = validator_cls.VALIDATORS["properties"]

    def set_defaults(validator, properties, instance, schema):
        if isinstance(instance, dict):
            for name, sub in properties.items():
                if "default" in sub and name not in instance:
                    instance[name] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, schema)

    return jsonschema.validators.extend(validator_cls, {"properties": set_defaults})


_Validator = _with_defaults(jsonschema.Draft202012Validator)


def key_path(path) -> str:
    """Render a jsonschema path deque as a dotted key, e.g. ``data.cifar10.num_dev``."""
    parts = []
    for p in path:
        if isinstance(p, int):
            parts.append(f"[{p}]")
        else:
            parts.append(("." if parts else "") + str(p))
    return "".join(parts) or "<top level>"


_TYPE_NAMES = {
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "boolean": "true/false",
    "object": "a mapping",
    "array": "a list",
    "null": "null",
}


#: validator -> what the value was expected to be ({arg}: the validator's value)
_EXPECTED = {
    "minimum": "expected a value >= {arg}",
    "maximum": "expected a value <= {arg}",
    "exclusiveMinimum": "expected a value > {arg}",
    "exclusiveMaximum": "expected a value < {arg}",
    "minItems": "expected a list with at least {arg} item(s)",
    "maxItems": "expected a list with at most {arg} item(s)",
    "uniqueItems": "expected a list without repeated items",
    "minLength": "expected a string of at least {arg} character(s)",
    "pattern": "expected a string matching {arg!r}",
}


def _expected(err: jsonschema.ValidationError) -> str:
    v, arg = err.validator, err.validator_value
    if v == "type":
        types = arg if isinstance(arg, list) else [arg]
        return "expected " + " or ".join(_TYPE_NAMES.get(t, t) for t in types)
    if v == "enum":
        return "expected one of " + ", ".join(repr(a) for a in arg)
    if v in _EXPECTED:
        return _EXPECTED[v].format(arg=arg)
    if v == "required":
        return "missing required key(s): " + ", ".join(arg)
    return err.message


def _format(err: jsonschema.ValidationError, source: str) -> str:
    where = key_path(err.absolute_path)
    if err.validator == "additionalProperties":
        allowed = sorted(err.schema.get("properties", {}))
        extra = sorted(set(err.instance) - set(allowed)) if isinstance(err.instance, dict) else []
        keys = ", ".join((f"{where}.{k}" if where != "<top level>" else k) for k in extra)
        return f"config error{source}: unknown key {keys} (allowed here: {', '.join(allowed)})"
    got = "" if err.validator == "required" else f", got {err.instance!r}"
    return f"config error{source}: {where}: {_expected(err)}{got}"


def validate_config(config: dict, schema: dict, *, source: str | None = None) -> dict:
    """Return a validated deep copy of ``config`` with schema defaults filled in.

    Raises ConfigError with a one-line message for the first problem found (the errors
    are sorted by key so the message is deterministic).
    """
    if config is None:
        config = {}
    if not isinstance(config, dict):
        raise ConfigError(
            f"config error: expected a mapping at the top level, got {type(config).__name__}"
        )
    cfg = copy.deepcopy(config)
    src = f" ({source})" if source else ""
    _check_finite(cfg, [], src)
    if "mirror" in cfg and (cfg["mirror"] is None or str(cfg["mirror"]).strip() == ""):
        # Snakemake turns `--config mirror=` into None; the key is the command-line
        # shortcut only, so its presence means it was given (empty)
        raise ConfigError(
            f"config error{src}: mirror: expected a directory or URL after mirror= "
            f"(leave mirror= out to use the canonical hosts), got an empty value"
        )
    validator = _Validator(schema)
    errors = sorted(
        validator.iter_errors(cfg), key=lambda e: (key_path(e.absolute_path), e.validator)
    )
    if errors:
        raise ConfigError(_format(errors[0], src))
    # The command-line shortcut `--config mirror=...` wins over data.mirror.
    if cfg.get("mirror") is not None:
        cfg["data"]["mirror"] = cfg["mirror"]
    cfg["mirror"] = None
    _check_cross_fields(cfg, src)
    return cfg


def _check_finite(node, path: list, src: str) -> None:
    """NaN and infinity are numbers to a JSON schema; no key of ours accepts them."""
    if isinstance(node, float) and not math.isfinite(node):
        raise ConfigError(
            f"config error{src}: {key_path(path)}: expected a finite number, got {node!r}"
        )
    if isinstance(node, dict):
        for k, v in node.items():
            _check_finite(v, [*path, k], src)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            _check_finite(v, [*path, i], src)


def _fail(src: str, key: str, expected: str, got) -> ConfigError:
    return ConfigError(f"config error{src}: {key}: expected {expected}, got {got!r}")


def split_sizes(cfg: dict) -> dict[str, dict[str, int]]:
    """Train/val/test sizes of each dataset's split, as the config decides them (MNIST's
    pool defaults to the 60,000 official training images)."""
    c, m = cfg["data"]["cifar10"], cfg["data"]["mnist"]
    pool = m["num_train_pool"] or MNIST_TRAIN_SIZE
    n_val = int(round(pool * float(m["val_fraction"])))
    return {
        "cifar10": {
            "train": c["num_training"],
            "val": c["num_validation"],
            "test": c["num_test"],
        },
        "mnist": {"train": pool - n_val, "val": n_val, "test": m["num_test"] or 10000},
    }


def _table_entries(table: dict, key: str):
    """(dotted source, value) of every place a table sets ``key`` (base, variants, grid)."""
    base = table.get("base")
    if isinstance(base, dict) and key in base:
        yield "base." + key, base[key]
    variants = table.get("variants")
    if isinstance(variants, list):
        for i, var in enumerate(variants):
            if isinstance(var, dict) and key in var:
                yield f"variants[{i}].{key}", var[key]
    grid = table.get("grid")
    if isinstance(grid, dict) and isinstance(grid.get(key), list):
        for j, v in enumerate(grid[key]):
            yield f"grid.{key}[{j}]", v


def _check_experiments(cfg: dict, src: str) -> None:
    for name, table in (cfg.get("experiments") or {}).items():
        if not TABLE_NAME.fullmatch(str(name)):
            raise ConfigError(
                f"config error{src}: experiments.{name}: expected a table name of lowercase "
                f"letters, digits and underscores ([a-z0-9_]+), got {name!r}"
            )
        if not table.get("enabled", True) or table.get("kind") != "linear":
            continue
        for where, v in _table_entries(table, "batch_size"):
            if v == "full":
                raise _fail(
                    src,
                    f"experiments.{name}.{where}",
                    "an integer >= 1 (a linear run draws minibatches; 'full' is for net runs)",
                    v,
                )
        for where, v in _table_entries(table, "iterations"):
            if v is None:
                raise _fail(
                    src,
                    f"experiments.{name}.{where}",
                    "an integer >= 1 (a linear run stops after its iterations)",
                    v,
                )


def _check_knn(cfg: dict, src: str) -> None:
    k, sizes = cfg["knn"], split_sizes(cfg)["cifar10"]
    tr, te = sizes["train"], sizes["test"]
    course, full, q = k["course"], k["full"], k["questions"]
    limits = [
        ("knn.course.num_train", course["num_train"], tr, "data.cifar10.num_training"),
        ("knn.course.num_test", course["num_test"], te, "data.cifar10.num_test"),
        ("knn.full.num_train", full["num_train"], tr, "data.cifar10.num_training"),
        ("knn.full.num_test", full["num_test"], te, "data.cifar10.num_test"),
        ("knn.questions.timing_num_test", q["timing_num_test"], te, "data.cifar10.num_test"),
    ]
    for key, value, most, of in limits:
        if value is not None and value > most:
            raise _fail(src, key, f"a value <= {most} (the CIFAR-10 split's size, {of})", value)
    n = course["num_train"]
    if course["num_folds"] > n:
        raise _fail(
            src,
            "knn.course.num_folds",
            f"at most knn.course.num_train ({n}) folds",
            course["num_folds"],
        )
    fold_train = n - -(-n // course["num_folds"])  # the smallest training part of a fold
    big = [x for x in course["cv_ks"] if x > fold_train]
    if big:
        raise _fail(
            src,
            "knn.course.cv_ks",
            f"every k <= {fold_train} (the training images of a fold: {n} minus the "
            f"largest of {course['num_folds']} folds)",
            big[0],
        )
    big = [x for x in course["eval_ks"] if x > n]
    if big:
        raise _fail(src, "knn.course.eval_ks", f"every k <= knn.course.num_train ({n})", big[0])
    n_full = full["num_train"] or tr
    big = [x for x in full["ks"] if x > n_full]
    if big:
        raise _fail(src, "knn.full.ks", f"every k <= the {n_full} training images used", big[0])
    distinct = {min(x, tr) for x in q["timing_train_sizes"]}
    if len(distinct) < 2:
        raise _fail(
            src,
            "knn.questions.timing_train_sizes",
            f"at least two distinct sizes once capped at the {tr} training images",
            q["timing_train_sizes"],
        )


def _check_cross_fields(cfg: dict, src: str) -> None:
    """Constraints a JSON schema cannot express (sizes that must fit together)."""
    d = cfg["data"]
    wait = d["backoff"] ** max(d["retries"] - 1, 0)
    if wait > MAX_RETRY_WAIT_S:
        raise ConfigError(
            f"config error{src}: data.backoff: expected backoff ** (retries - 1) <= "
            f"{MAX_RETRY_WAIT_S} s (the longest wait between two attempts), got "
            f"{d['backoff']!r} ** {d['retries'] - 1} = {wait:.6g} s"
        )
    m = d["mnist"]
    sizes = split_sizes(cfg)["mnist"]
    if sizes["train"] < 1 or sizes["val"] < 1:
        raise _fail(
            src,
            "data.mnist.val_fraction",
            f"a fraction leaving at least one of the {sizes['train'] + sizes['val']} "
            f"training images in each of train and val",
            m["val_fraction"],
        )
    _check_experiments(cfg, src)
    _check_knn(cfg, src)
    c = cfg["data"]["cifar10"]
    if c["num_training"] + c["num_validation"] > 50000:
        raise ConfigError(
            f"config error{src}: data.cifar10.num_training + data.cifar10.num_validation: "
            f"expected a total <= 50000 (the CIFAR-10 training set), got "
            f"{c['num_training']} + {c['num_validation']} = "
            f"{c['num_training'] + c['num_validation']}"
        )
    if c["num_dev"] > c["num_training"]:
        raise ConfigError(
            f"config error{src}: data.cifar10.num_dev: expected a value <= "
            f"data.cifar10.num_training ({c['num_training']}), got {c['num_dev']}"
        )


def check_runs(cfg: dict, experiments: dict, *, source: str | None = None) -> None:
    """Sizes of the expanded training runs (``{table: [{"variant", "run", "kind", "spec"}]}``,
    see :func:`nplab_io.runs.expand_experiments`) against the splits the config makes:
    ``num_train`` / ``num_val`` within their split, and a net's minibatch (drawn without
    replacement) no larger than its training set (it would silently train full-batch)."""
    src = f" ({source})" if source else ""
    sizes = split_sizes(cfg)
    for table, runs in experiments.items():
        for r in runs:
            spec, kind = r["spec"], r["kind"]
            data = spec.get("data", "")
            ds = data.split("/")[0]
            if ds not in sizes:
                continue
            where = f"experiments.{table}: run {r['variant']!r}"
            split_key = {"cifar10": "data.cifar10.num_", "mnist": "data.mnist."}[ds]
            for key, split in (("num_train", "train"), ("num_val", "val")):
                n, most = spec.get(key), sizes[ds][split]
                if n is not None and n > most:
                    of = (
                        f"{split_key}{'training' if split == 'train' else 'validation'}"
                        if ds == "cifar10"
                        else "data.mnist.num_train_pool and val_fraction"
                    )
                    raise _fail(
                        src,
                        f"{where}: {key}",
                        f"at most {most} (the {split} split of {data}, {of})",
                        n,
                    )
            n_train = spec.get("num_train") or sizes[ds]["train"]
            b = spec.get("batch_size")
            if (
                kind == "net"
                and isinstance(b, int)
                and not isinstance(b, bool)
                and spec.get("sampling", "without_replacement") == "without_replacement"
                and b > n_train
            ):
                raise _fail(
                    src,
                    f"{where}: batch_size",
                    f"at most the run's {n_train} training examples (a larger batch would "
                    f"train full-batch; say batch_size: full)",
                    b,
                )
