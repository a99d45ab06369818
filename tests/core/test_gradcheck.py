"""Tests for nplab.gradcheck: relative error and numerical gradients."""

from __future__ import annotations

import numpy as np
import pytest

from nplab.gradcheck import (
    eval_numerical_gradient,
    eval_numerical_gradient_array,
    grad_check_sparse,
    rel_error,
)


def test_rel_error_hand_values():
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, 2.0])) == 0.0
    # max|a-b| = 0.1, max(|a|+|b|) = 2.1
    assert rel_error(np.array([1.0, 0.0]), np.array([1.1, 0.0])) == pytest.approx(
        0.1 / 2.1, rel=1e-12
    )
    # the denominator is floored at 1e-8
    assert rel_error(np.array([0.0]), np.array([1e-9])) == pytest.approx(0.1, rel=1e-9)
    # the max of |a|+|b| is taken elementwise, not max|a| + max|b|
    a, b = np.array([4.0, 0.0]), np.array([0.0, 4.0])
    assert rel_error(a, b) == pytest.approx(4.0 / 4.0)
    assert isinstance(rel_error(a, b), float)


def test_rel_error_shape_mismatch_raises():
    with pytest.raises(ValueError, match="shape"):
        rel_error(np.zeros(3), np.zeros(4))


def test_eval_numerical_gradient_cubic_and_restores_x():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((3, 4))
    x0 = x.copy()
    num = eval_numerical_gradient(lambda v: float(np.sum(v**3)), x)
    np.testing.assert_array_equal(x, x0)  # perturbed in place and restored exactly
    assert rel_error(num, 3 * x0**2) < 1e-8


def test_eval_numerical_gradient_array_weighted_sum():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 2))
    c = rng.standard_normal((5, 2))
    df = rng.standard_normal((5, 2))
    x0 = x.copy()
    num = eval_numerical_gradient_array(lambda v: c * v**2, x, df)
    np.testing.assert_array_equal(x, x0)
    assert rel_error(num, 2 * c * x0 * df) < 1e-8


def test_grad_check_sparse_detects_right_and_wrong_gradients():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((6, 7))

    def f(v):
        return float(np.sum(np.sin(v)))

    good = grad_check_sparse(f, x, np.cos(x), num_checks=15, rng=np.random.default_rng(0))
    assert good.shape == (15,) and good.dtype == np.float64
    assert good.max() < 1e-7
    bad = grad_check_sparse(f, x, 1.1 * np.cos(x), num_checks=15, rng=np.random.default_rng(0))
    assert bad.min() > 1e-3
    again = grad_check_sparse(f, x, 1.1 * np.cos(x), num_checks=15, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(bad, again)  # same rng seed -> same coordinates


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: eval_numerical_gradient(np.sum, np.zeros(3), h=0), "h"),
        (lambda: eval_numerical_gradient(np.sum, np.zeros(3, dtype=int)), "x"),
        (lambda: grad_check_sparse(np.sum, np.zeros(3), np.zeros(4)), "analytic_grad"),
        (lambda: grad_check_sparse(np.sum, np.zeros(3), np.zeros(3), num_checks=0), "num_checks"),
        (lambda: grad_check_sparse(np.sum, np.zeros(3), np.zeros(3), rng=0), "rng"),
    ],
)
def test_bad_arguments_raise(call, match):
    with pytest.raises(ValueError, match=match):
        call()
