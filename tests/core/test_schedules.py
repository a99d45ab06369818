"""Tests for nplab.schedules."""

from __future__ import annotations

import math

import pytest

from nplab import schedules as sc


def test_constant():
    f = sc.make_schedule("constant", 0.3)
    assert [f(t) for t in (0, 1, 100)] == [0.3, 0.3, 0.3]


def test_exponential():
    f = sc.make_schedule("exponential", 1.0, decay=0.5)
    assert f(0) == 1.0
    assert f(1) == 0.5
    assert f(3) == pytest.approx(0.125, rel=1e-15)


def test_step_boundaries():
    f = sc.make_schedule("step", 1.0, step_size=5, gamma=0.1)
    assert f(0) == 1.0
    assert f(4) == 1.0  # s - 1
    assert f(5) == pytest.approx(0.1, rel=1e-15)  # s
    assert f(9) == pytest.approx(0.1, rel=1e-15)
    assert f(10) == pytest.approx(0.01, rel=1e-15)  # 2s
    assert sc.step(5, 2.0, 5) == pytest.approx(0.2)  # default gamma 0.1


def test_cosine():
    f = sc.make_schedule("cosine", 2.0, total_steps=10)
    assert f(0) == 2.0
    assert f(5) == pytest.approx(1.0, rel=1e-15)
    assert f(10) == pytest.approx(0.0, abs=1e-15)
    assert f(25) == f(10)  # clipped at T
    assert sc.cosine(10, 2.0, 10, lr_min=0.5) == pytest.approx(0.5)
    assert sc.cosine(5, 2.0, 10, lr_min=0.5) == pytest.approx(1.25)


def test_linear():
    f = sc.make_schedule("linear", 1.0, total_steps=4)
    assert f(0) == 1.0
    assert f(1) == 0.75
    assert f(4) == 0.0
    assert f(9) == 0.0  # clipped at 0, never negative


def test_inverse_sqrt():
    f = sc.make_schedule("inverse_sqrt", 0.8)
    assert f(0) == 0.8  # eps = 1: t = 0 gives lr0
    assert f(3) == pytest.approx(0.4, rel=1e-15)
    assert sc.inverse_sqrt(0, 1.0, eps=4.0) == pytest.approx(0.5)  # lr0 / sqrt(eps)


def test_schedules_registry_and_returns_float():
    names = {"constant", "exponential", "step", "cosine", "linear", "inverse_sqrt"}
    assert set(sc.SCHEDULES) == names
    for name, params in [
        ("constant", {}),
        ("exponential", {"decay": 0.9}),
        ("step", {"step_size": 2}),
        ("cosine", {"total_steps": 3}),
        ("linear", {"total_steps": 3}),
        ("inverse_sqrt", {}),
    ]:
        v = sc.make_schedule(name, 0.1, **params)(1)
        assert type(v) is float and math.isfinite(v)


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        (("nope", 0.1), {}, "unknown schedule 'nope'"),
        (("step", 0.1), {}, r"missing required parameter\(s\) \['step_size'\]"),
        (("cosine", 0.1), {"total_steps": 5, "T": 3}, r"unknown parameter\(s\) \['T'\]"),
        (("step", 0.1), {"step_size": 0}, "step_size must be"),
        (("exponential", -1.0), {"decay": 0.5}, "lr0 must be"),
        (("linear", 0.1), {"total_steps": float("nan")}, "total_steps"),
    ],
)
def test_make_schedule_errors(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        sc.make_schedule(*args, **kwargs)


def test_negative_t_rejected():
    with pytest.raises(ValueError, match="t must be"):
        sc.make_schedule("constant", 0.1)(-1)
