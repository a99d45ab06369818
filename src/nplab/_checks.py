"""Argument checkers shared by the core (scikit-learn ``utils/validation`` shape).

Each checker returns the value normalised (a Python ``int``/``float``, an ``np.dtype``)
or raises ``ValueError`` with a message that starts with the argument's name, so the
caller's error says which argument was wrong.  Booleans are not numbers here: ``True``
as a batch size is a bug, not 1.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "check_int",
    "check_number",
    "check_choice",
    "check_float_dtype",
    "check_float_array",
    "check_vector",
    "check_real",
    "check_callable",
    "check_generator",
    "generator_property",
]

_INTS = (int, np.integer)
_NUMBERS = (int, float, np.integer, np.floating)
_BOOLS = (bool, np.bool_)


def check_int(name: str, value, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``."""
    if isinstance(value, _BOOLS) or not isinstance(value, _INTS) or value < minimum:
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def check_number(name: str, value, *, positive: bool = False) -> float:
    """``value`` as a finite float >= 0 (> 0 if ``positive``)."""
    if isinstance(value, _BOOLS) or not isinstance(value, _NUMBERS):
        raise ValueError(f"{name} must be a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or v < 0 or (positive and v == 0):
        raise ValueError(
            f"{name} must be a finite number {'>' if positive else '>='} 0, got {value!r}"
        )
    return v


def check_real(name: str, value, lo: float = -math.inf, hi: float = math.inf) -> float:
    """``value`` as a float in ``[lo, hi]`` (a number of either sign)."""
    if isinstance(value, _BOOLS) or not isinstance(value, _NUMBERS):
        raise ValueError(f"{name} must be a number, got {value!r}")
    v = float(value)
    if not lo <= v <= hi:
        raise ValueError(f"{name} must be in [{lo:g}, {hi:g}], got {value!r}")
    return v


def check_float_array(name: str, x) -> np.ndarray:
    """``x`` as an array of a floating dtype (not converted: the caller chose the dtype)."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"{name} must be a floating array, got dtype {x.dtype}")
    return x


def check_vector(name: str, v, size: int) -> np.ndarray:
    """``v`` as a floating array of shape ``(size,)`` (a per-feature or per-channel
    parameter such as gamma or beta)."""
    v = check_float_array(name, v)
    if v.shape != (size,):
        raise ValueError(f"{name} must have shape ({size},), got {v.shape}")
    return v


def check_choice(name: str, value, choices):
    """``value`` if it is one of ``choices`` (any container; a dict's keys)."""
    try:
        ok = value in choices
    except TypeError:  # an unhashable value against a dict or set
        ok = False
    if not ok:
        raise ValueError(f"{name} must be one of {list(choices)}, got {value!r}")
    return value


def check_float_dtype(dtype, name: str = "dtype") -> np.dtype:
    """``dtype`` as a floating ``np.dtype``."""
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise ValueError(f"{name} must be a floating dtype, got {dtype!r}") from None
    if not np.issubdtype(dt, np.floating):
        raise ValueError(f"{name} must be a floating dtype, got {dt}")
    return dt


def check_callable(name: str, value):
    """``value`` if it is callable or None."""
    if value is not None and not callable(value):
        raise ValueError(f"{name} must be callable or None, got {value!r}")
    return value


def check_generator(name: str, value) -> np.random.Generator:
    """``value`` if it is an ``np.random.Generator``."""
    if not isinstance(value, np.random.Generator):
        raise ValueError(f"{name} must be an np.random.Generator, got {type(value).__name__}")
    return value


def generator_property(doc: str, on_set=None) -> property:
    """A replaceable ``rng`` attribute (stored as ``_rng``) that takes only an
    ``np.random.Generator``; ``on_set(self, rng)`` runs after a new one is stored."""

    def fget(self) -> np.random.Generator:
        return self._rng

    def fset(self, value) -> None:
        self._rng = check_generator("rng", value)
        if on_set is not None:
            on_set(self, value)

    return property(fget, fset, doc=doc)
