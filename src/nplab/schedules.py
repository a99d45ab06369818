"""Learning-rate schedules as pure functions of the step ``t`` (pure Python floats).

``t`` is a non-negative step counter starting at 0; whether it counts *epochs* or
*iterations* is the caller's choice (the :class:`~nplab.solver.Solver` takes
``lr_schedule=make_schedule(...)`` with ``lr_schedule_unit="epoch" | "iteration"`` and
passes the 0-based epoch index or the 0-based global iteration index).  At ``t = 0``
every schedule returns ``lr0`` (``inverse_sqrt`` only with its default ``eps = 1``).

=================  ==========================================  =======================
name               value at step t                             parameters (default)
=================  ==========================================  =======================
``constant``       ``lr0``                                     --
``exponential``    ``lr0 * decay**t``                          ``decay``
``step``           ``lr0 * gamma**floor(t / step_size)``       ``step_size``, ``gamma`` (0.1)
``cosine``         ``lr_min + 0.5*(lr0 - lr_min)*(1 + cos(pi*min(t, T)/T))``
                                                               ``total_steps`` (T), ``lr_min`` (0)
``linear``         ``lr0 * max(0, 1 - t / T)``                 ``total_steps`` (T)
``inverse_sqrt``   ``lr0 / sqrt(t + eps)``                     ``eps`` (1.0)
=================  ==========================================  =======================

``inverse_sqrt`` is *not* renormalised: ``t = 0`` gives ``lr0 / sqrt(eps)``, i.e. ``lr0``
for the default ``eps = 1`` (then ``lr0 / 2`` at ``t = 3``).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable

from ._checks import check_number

__all__ = [
    "constant",
    "exponential",
    "step",
    "cosine",
    "linear",
    "inverse_sqrt",
    "make_schedule",
    "SCHEDULES",
    "Schedule",
]


def constant(t, lr0: float) -> float:
    """``lr0`` at every step."""
    check_number("t", t)
    return check_number("lr0", lr0)


def exponential(t, lr0: float, decay: float) -> float:
    """``lr0 * decay**t`` (per-epoch decay when ``t`` counts epochs; CS231n ``lr_decay``)."""
    t = check_number("t", t)
    return check_number("lr0", lr0) * check_number("decay", decay, positive=True) ** t


def step(t, lr0: float, step_size: float, gamma: float = 0.1) -> float:
    """``lr0 * gamma**floor(t / step_size)`` (multiply by ``gamma`` every ``step_size`` steps)."""
    t = check_number("t", t)
    s = check_number("step_size", step_size, positive=True)
    return check_number("lr0", lr0) * check_number("gamma", gamma) ** math.floor(t / s)


def cosine(t, lr0: float, total_steps: float, lr_min: float = 0.0) -> float:
    """Cosine annealing ``lr_min + 0.5*(lr0 - lr_min)*(1 + cos(pi * t / T))``, ``T = total_steps``;
    ``t`` is clipped to ``T`` (so ``lr_min`` from ``T`` on)."""
    t = check_number("t", t)
    T = check_number("total_steps", total_steps, positive=True)
    lr0 = check_number("lr0", lr0)
    lr_min = check_number("lr_min", lr_min)
    return lr_min + 0.5 * (lr0 - lr_min) * (1.0 + math.cos(math.pi * min(t, T) / T))


def linear(t, lr0: float, total_steps: float) -> float:
    """Linear decay to zero: ``lr0 * max(0, 1 - t / total_steps)``."""
    t = check_number("t", t)
    T = check_number("total_steps", total_steps, positive=True)
    return check_number("lr0", lr0) * max(0.0, 1.0 - t / T)


def inverse_sqrt(t, lr0: float, eps: float = 1.0) -> float:
    """``lr0 / sqrt(t + eps)``; with the default ``eps = 1`` this is ``lr0`` at ``t = 0``
    and ``lr0 / 2`` at ``t = 3`` (another ``eps`` gives ``lr0 / sqrt(eps)`` at ``t = 0``)."""
    t = check_number("t", t)
    eps = check_number("eps", eps, positive=True)
    return check_number("lr0", lr0) / math.sqrt(t + eps)


#: Schedule name -> function ``f(t, lr0, **params) -> float``.
SCHEDULES: dict[str, Callable[..., float]] = {
    "constant": constant,
    "exponential": exponential,
    "step": step,
    "cosine": cosine,
    "linear": linear,
    "inverse_sqrt": inverse_sqrt,
}


class Schedule:
    """A schedule with its parameters bound: ``Schedule(...)(t) -> float``."""

    def __init__(self, name: str, fn: Callable[..., float], lr0: float, params: dict):
        self.name = name
        self.fn = fn
        self.lr0 = lr0
        self.params = dict(params)

    def __call__(self, t) -> float:
        return float(self.fn(t, self.lr0, **self.params))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"Schedule({self.name!r}, lr0={self.lr0!r}{', ' if args else ''}{args})"


def make_schedule(name: str, lr0: float, **params) -> Schedule:
    """Bind ``lr0`` and ``params`` of the schedule ``name``; returns a callable ``t -> float``.

    Raises ``ValueError`` for an unknown name, an unknown or missing parameter, or an
    invalid value (checked once here, at ``t = 0``).
    """
    if name not in SCHEDULES:
        raise ValueError(f"unknown schedule {name!r}; expected one of {sorted(SCHEDULES)}")
    fn = SCHEDULES[name]
    sig = inspect.signature(fn)
    names = [p for p in sig.parameters if p not in ("t", "lr0")]
    required = [p for p in names if sig.parameters[p].default is inspect.Parameter.empty]
    unknown = sorted(set(params) - set(names))
    if unknown:
        raise ValueError(f"schedule {name!r}: unknown parameter(s) {unknown}; expected {names}")
    missing = [p for p in required if p not in params]
    if missing:
        raise ValueError(f"schedule {name!r}: missing required parameter(s) {missing}")
    sched = Schedule(name, fn, lr0, params)
    sched(0)  # validate values now, not mid-training
    return sched
