"""Tests for nplab.losses: gradients, hand cases, stability, penalties."""

from __future__ import annotations

import numpy as np
import pytest

from nplab.gradcheck import eval_numerical_gradient, rel_error
from nplab.losses import LOSSES, mse_softmax_loss, penalty, softmax_loss, svm_loss

H = 1e-5


def _case(seed=0, n=8, c=5):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, c)), rng.integers(0, c, size=n)


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("name", ["softmax", "mse"])
def test_smooth_loss_gradients(name, reduction):
    scores, y = _case()
    loss_fn = LOSSES[name]
    _, dscores = loss_fn(scores, y, reduction=reduction)
    num = eval_numerical_gradient(lambda s: loss_fn(s, y, reduction=reduction)[0], scores, h=H)
    assert rel_error(dscores, num) <= 1e-7


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_svm_loss_gradient_away_from_kinks(reduction):
    scores, y = _case(seed=1)
    rows = np.arange(len(y))
    margins = scores - scores[rows, y][:, None] + 1.0
    margins[rows, y] = np.inf
    # every margin is >> h away from the hinge, so the centred differences see a linear function
    assert np.abs(margins).min() > 1e-3
    _, dscores = svm_loss(scores, y, reduction=reduction)
    num = eval_numerical_gradient(lambda s: svm_loss(s, y, reduction=reduction)[0], scores, h=H)
    assert rel_error(dscores, num) <= 1e-7


def test_softmax_uniform_scores_and_stability():
    y = np.array([0, 3, 2])
    loss, dscores = softmax_loss(np.zeros((3, 4)), y)
    assert loss == pytest.approx(np.log(4), rel=1e-15)
    expected = np.full((3, 4), 0.25)
    expected[np.arange(3), y] -= 1
    np.testing.assert_allclose(dscores, expected / 3, rtol=1e-15)
    # huge scores: shifting by the row max keeps everything finite
    big = np.array([[1e4, 0.0, -1e4], [5e3, 5e3, 5e3]])
    with np.errstate(all="raise"):
        loss, dscores = softmax_loss(big, np.array([1, 0]), reduction="sum")
    assert loss == pytest.approx(1e4 + np.log(3), rel=1e-12)
    assert np.isfinite(dscores).all()


def test_reduction_sum_is_n_times_mean():
    scores, y = _case(seed=2)
    for fn in LOSSES.values():
        lm, dm = fn(scores, y, reduction="mean")
        ls, ds = fn(scores, y, reduction="sum")
        assert ls == pytest.approx(len(y) * lm, rel=1e-12)
        np.testing.assert_allclose(ds, len(y) * dm, rtol=1e-12)


def test_svm_hand_case():
    loss, dscores = svm_loss(
        np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 5.0]]), np.array([0, 2]), delta=1.0, reduction="sum"
    )
    # example 0: margins 2-1+1 = 2 and 3-1+1 = 3; example 1: 0-5+1 < 0 twice
    assert loss == 5.0
    np.testing.assert_array_equal(dscores, [[-2.0, 1.0, 1.0], [0.0, 0.0, 0.0]])


def test_mse_softmax_hand_case():
    loss, dscores = mse_softmax_loss(np.zeros((1, 4)), np.array([0]))
    # p = 1/4 each, t = (1, 0, 0, 0): 0.5 * (0.75**2 + 3 * 0.25**2) = 0.375
    assert loss == pytest.approx(0.375, rel=1e-15)
    # g = p - t; g.p = 0 at uniform p, so dscores = p * g
    np.testing.assert_allclose(dscores, [[-0.1875, 0.0625, 0.0625, 0.0625]], rtol=1e-15)


@pytest.mark.parametrize("name", ["softmax", "svm", "mse"])
def test_losses_keep_float32(name):
    scores, y = _case(seed=3)
    loss, dscores = LOSSES[name](scores.astype(np.float32), y)
    assert dscores.dtype == np.float32
    assert isinstance(loss, float)


@pytest.mark.parametrize(
    "scores, y, kwargs, match",
    [
        (np.zeros((2, 3)), np.array([0, 3]), {}, "y must hold labels"),
        (np.zeros((2, 3)), np.array([0, -1]), {}, "y must hold labels"),
        (np.zeros((2, 3)), np.array([0]), {}, "y must have shape"),
        (np.zeros((2, 3)), np.array([0.0, 1.0]), {}, "integer"),
        (np.zeros(3), np.array([0]), {}, "2-D"),
        (np.zeros((2, 3)), np.array([0, 1]), {"reduction": "avg"}, "reduction"),
    ],
)
def test_bad_arguments_raise(scores, y, kwargs, match):
    for fn in LOSSES.values():
        with pytest.raises(ValueError, match=match):
            fn(scores, y, **kwargs)


# --------------------------------------------------------------------------- penalty
def test_penalty_hand_values():
    w = np.array([[1.0, -2.0], [3.0, 0.0]])
    loss, grad = penalty(w, 0.5, kind="l2")
    assert loss == 0.5 * 0.5 * 14.0
    np.testing.assert_array_equal(grad, 0.5 * w)
    loss, grad = penalty(w, 0.5, kind="l1")
    assert loss == 0.5 * 6.0
    np.testing.assert_array_equal(grad, [[0.5, -0.5], [0.5, 0.0]])


@pytest.mark.parametrize("kind", ["l2", "l1"])
def test_penalty_gradients(kind):
    rng = np.random.default_rng(4)
    w = rng.standard_normal((6, 4))
    w = np.sign(w) * (np.abs(w) + 0.1)  # L1 kink at 0 is >= 0.1 away
    _, grad = penalty(w, 0.3, kind=kind)
    num = eval_numerical_gradient(lambda v: penalty(v, 0.3, kind=kind)[0], w, h=H)
    assert rel_error(grad, num) <= 1e-7


def test_penalty_dtype_and_errors():
    _, grad = penalty(np.ones(3, np.float32), 1e-3)
    assert grad.dtype == np.float32
    with pytest.raises(ValueError, match="kind"):
        penalty(np.ones(3), 1.0, kind="l3")
    with pytest.raises(ValueError, match="reg"):
        penalty(np.ones(3), -1.0)
