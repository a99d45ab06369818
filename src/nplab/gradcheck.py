"""Numerical gradient checking (centred differences), CS231n style.

All functions perturb the given array *in place* and restore it afterwards, so ``f``
must read its input from that very array (e.g. a closure over it).  Use float64 arrays:
with float32 the centred-difference error (~eps/h) swamps the comparison.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._checks import check_generator, check_int, check_number

__all__ = [
    "rel_error",
    "eval_numerical_gradient",
    "eval_numerical_gradient_array",
    "grad_check_sparse",
]


def _check_float_array(name: str, x) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise ValueError(
            f"{name} must be a floating np.ndarray (perturbed in place), got {type(x).__name__}"
        )
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"{name} must be a floating np.ndarray, got dtype {x.dtype}")
    return x


def rel_error(a, b) -> float:
    """Relative error ``max|a - b| / max(1e-8, max(|a| + |b|))`` (elementwise sums)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"a and b must have the same shape, got {a.shape} and {b.shape}")
    if a.size == 0:
        return 0.0
    num = np.max(np.abs(a - b))
    den = max(1e-8, float(np.max(np.abs(a) + np.abs(b))))
    return float(num / den)


def _every_index(x: np.ndarray):
    """The multi-indices of ``x`` in C order (``x`` must be writeable and non-empty)."""
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        yield it.multi_index
        it.iternext()


def _centred_values(f, x: np.ndarray, h: float, value, indices=None):
    """For each coordinate ``i`` of ``indices`` (default: all) of ``x``, perturbed in
    place: ``(i, value(f(x + h e_i)), value(f(x - h e_i)))``, yielded with ``x`` restored
    exactly."""
    for ix in _every_index(x) if indices is None else indices:
        old = x[ix]
        x[ix] = old + h
        plus = value(f(x))
        x[ix] = old - h
        minus = value(f(x))
        x[ix] = old
        yield ix, plus, minus


def eval_numerical_gradient(
    f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-5
) -> np.ndarray:
    """Gradient of the scalar ``f(x)`` by centred differences ``(f(x+h) - f(x-h)) / 2h``.

    ``x`` is perturbed in place, one coordinate at a time, and restored exactly.
    """
    h = check_number("h", h, positive=True)
    x = _check_float_array("x", x)
    grad = np.zeros_like(x)
    for ix, fp, fm in _centred_values(f, x, h, float):
        grad[ix] = (fp - fm) / (2.0 * h)
    return grad


def eval_numerical_gradient_array(
    f: Callable[[np.ndarray], np.ndarray], x: np.ndarray, df: np.ndarray, h: float = 1e-5
) -> np.ndarray:
    """Gradient of ``sum(f(x) * df)`` w.r.t. ``x`` for an array-valued ``f``.

    ``df`` is the upstream gradient (same shape as ``f(x)``); ``x`` is perturbed in
    place and restored.
    """
    h = check_number("h", h, positive=True)
    x = _check_float_array("x", x)
    df = np.asarray(df)
    grad = np.zeros_like(x)
    for ix, pos, neg in _centred_values(f, x, h, lambda v: np.array(v, copy=True)):
        if pos.shape != df.shape:
            raise ValueError(f"df must have the shape of f(x), {pos.shape}, got {df.shape}")
        grad[ix] = np.sum((pos - neg) * df) / (2.0 * h)
    return grad


def grad_check_sparse(
    f: Callable[[np.ndarray], float],
    x: np.ndarray,
    analytic_grad: np.ndarray,
    num_checks: int = 10,
    h: float = 1e-5,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Compare ``analytic_grad`` with centred differences at ``num_checks`` random coordinates.

    Coordinates are drawn (with replacement) with ``rng`` (``np.random.default_rng(0)``
    if None).  Returns the per-coordinate relative errors
    ``|num - ana| / max(1e-8, |num| + |ana|)`` as a float64 array of length ``num_checks``.
    """
    h = check_number("h", h, positive=True)
    x = _check_float_array("x", x)
    analytic_grad = np.asarray(analytic_grad)
    if analytic_grad.shape != x.shape:
        raise ValueError(
            f"analytic_grad must have the shape of x, {x.shape}, got {analytic_grad.shape}"
        )
    num_checks = check_int("num_checks", num_checks)
    if rng is None:
        rng = np.random.default_rng(0)
    else:
        check_generator("rng", rng)
    errs = np.empty(int(num_checks), dtype=np.float64)
    draws = (tuple(int(rng.integers(n)) for n in x.shape) for _ in range(int(num_checks)))
    for i, (ix, fp, fm) in enumerate(_centred_values(f, x, h, float, draws)):
        num = (fp - fm) / (2.0 * h)
        ana = float(analytic_grad[ix])
        errs[i] = abs(num - ana) / max(1e-8, abs(num) + abs(ana))
    return errs
