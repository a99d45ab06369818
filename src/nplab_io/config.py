"""Configuration validation with one-line errors.

The pipeline's config (config/config.yaml, config/quick.yaml, plus ``--config`` overrides)
is checked against ``workflow/schemas/config.schema.yaml`` before any job runs. Defaults
from the schema are filled in, unknown keys are rejected, and every problem is reported
as ONE line naming the key and what was expected, e.g.::

    config error: data.cifar10.num_training: expected an integer <= 50000, got 60000
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import jsonschema
import yaml

__all__ = ["ConfigError", "load_yaml", "validate_config", "key_path"]


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


def _expected(err: jsonschema.ValidationError) -> str:
    v, arg = err.validator, err.validator_value
    if v == "type":
        types = arg if isinstance(arg, list) else [arg]
        return "expected " + " or ".join(_TYPE_NAMES.get(t, t) for t in types)
    if v == "enum":
        return "expected one of " + ", ".join(repr(a) for a in arg)
    if v == "minimum":
        return f"expected a value >= {arg}"
    if v == "maximum":
        return f"expected a value <= {arg}"
    if v == "exclusiveMinimum":
        return f"expected a value > {arg}"
    if v == "exclusiveMaximum":
        return f"expected a value < {arg}"
    if v == "minItems":
        return f"expected a list with at least {arg} item(s)"
    if v == "maxItems":
        return f"expected a list with at most {arg} item(s)"
    if v == "uniqueItems":
        return "expected a list without repeated items"
    if v == "minLength":
        return f"expected a string of at least {arg} character(s)"
    if v == "pattern":
        return f"expected a string matching {arg!r}"
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


def _check_cross_fields(cfg: dict, src: str) -> None:
    """Constraints a JSON schema cannot express (sizes that must fit together)."""
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
