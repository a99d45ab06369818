"""nplab.linear_analysis: hand-computed values and a brute-force check of the kink counts."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nplab import linear_analysis as la
from nplab.gradcheck import eval_numerical_gradient
from nplab.linear import svm_loss_vectorized
from nplab.losses import softmax_loss, svm_loss


def test_weights_to_images_strips_bias_reshapes_and_rescales_globally():
    # 2x1x2 "images" (4 values), 2 classes, plus a bias row that must be ignored
    W = np.array([[0.0, 4.0], [1.0, 5.0], [2.0, 6.0], [3.0, 8.0], [100.0, -100.0]])
    imgs = la.weights_to_images(W, image_shape=(2, 1, 2))
    assert imgs.shape == (2, 2, 1, 2)
    # global min 0 -> 0, global max 8 -> 255; class 0 column (0, 1, 2, 3) row-major
    np.testing.assert_allclose(imgs[0].ravel(), [0, 255 / 8, 510 / 8, 765 / 8])
    np.testing.assert_allclose(imgs[1].ravel(), [4 * 255 / 8, 5 * 255 / 8, 6 * 255 / 8, 255])
    assert imgs.min() == 0 and imgs.max() == 255
    assert np.all(la.weights_to_images(np.ones((5, 2)), (2, 1, 2)) == 0)
    with pytest.raises(ValueError):
        la.weights_to_images(W, image_shape=(2, 2, 2))


def test_per_example_losses_by_hand():
    s = np.array([[1.0, 2.0, 0.0], [3.0, 0.0, 0.0]])
    y = np.array([0, 0])
    # row 0: max(0, 2-1+1) + max(0, 0-1+1) = 2; row 1: max(0,-2) twice = 0
    np.testing.assert_allclose(la.per_example_svm_loss(s, y, 1.0), [2.0, 0.0])
    np.testing.assert_allclose(la.per_example_svm_loss(s, y, 0.0), [1.0, 0.0])
    sm = la.per_example_softmax_loss(s, y)
    assert sm[0] == pytest.approx(math.log(math.e + math.e**2 + 1) - 1)
    assert sm[1] == pytest.approx(math.log(math.e**3 + 2) - 3)
    assert sm.sum() == pytest.approx(softmax_loss(s, y, reduction="sum")[0])
    assert la.per_example_svm_loss(s, y).sum() == pytest.approx(svm_loss(s, y, reduction="sum")[0])


def test_margins_and_near_kink_terms():
    s = np.array([[1.0, 1.0 + 1e-7, 0.5], [0.0, -1.0, 2.0]])
    y = np.array([0, 2])
    m = la.svm_margins(s, y, delta=0.0)
    assert m[0, 0] == -np.inf and m[1, 2] == -np.inf
    np.testing.assert_allclose(m[0, 1:], [1e-7, -0.5])
    np.testing.assert_allclose(m[1, :2], [-2.0, -3.0])
    assert la.near_kink_terms(s, y, delta=0.0, h=1e-5) == 1
    assert la.near_kink_terms(s, y, delta=0.25, h=1e-5) == 0


@pytest.mark.parametrize("delta", [0.0, 0.05])
def test_kink_crossings_predict_gradcheck_mismatches(delta):
    """Brute force: every coordinate whose centred difference disagrees with the analytic
    gradient has a kink crossing, and every coordinate without one agrees to ~1e-9."""
    rng = np.random.default_rng(3)
    n, d, c = 40, 6, 4
    X = rng.standard_normal((n, d))
    X[:, -1] = 1.0
    y = rng.integers(0, c, n)
    W = 1e-1 * rng.standard_normal((d, c))
    h = 3e-3  # large h: some coordinates cross a kink on this tiny problem
    _, grad = svm_loss_vectorized(W, X, y, 0.0, delta=delta)
    num = eval_numerical_gradient(
        lambda w: svm_loss_vectorized(w, X, y, 0.0, delta=delta)[0], W, h=h
    )
    coords = [(i, j) for i in range(d) for j in range(c)]
    crossings = la.kink_crossings(W, X, y, delta, h, coords)
    err = np.abs(num - grad).ravel()
    assert np.any(crossings > 0) and np.any(crossings == 0)
    assert np.all(err[crossings == 0] < 1e-9)
    assert np.all(err[crossings > 0] > 1e-9)


def test_kink_crossings_by_hand():
    # one row, label 0, two classes: m = s1 - s0 + delta; moving W[0,1] by t moves it by t*x0
    W = np.zeros((2, 2))
    X = np.array([[2.0, 1.0]])
    y = np.array([0])
    # delta 0: m = 0 exactly -> crossing for coordinates with x != 0
    assert la.kink_crossings(W, X, y, 0.0, 0.1, [(0, 1), (1, 1), (0, 0)]).tolist() == [1, 1, 1]
    # delta 0.15: |m| = 0.15 < h*|x0| = 0.2 for d=0 but > h*|x1| = 0.1 for d=1
    assert la.kink_crossings(W, X, y, 0.15, 0.1, [(0, 1), (1, 1)]).tolist() == [1, 0]
    with pytest.raises(ValueError):
        la.kink_crossings(W, X, y, 0.0, 0.1, [(2, 0)])


def test_zero_hinge_scale():
    # x = (u, 1): scores = alpha*u @ Wu + bias row
    W = np.array(
        [
            [2.0, 1.0, 0.0],  # pixel weights
            [0.0, 0.5, 0.5],
        ]
    )  # bias row
    x = np.array([1.0, 1.0])
    # class 0: margins at alpha=1: (1+0.5) - 2 + 1 = 0.5 > 0, (0+0.5) - 2 + 1 = -0.5
    # slopes a = (-1, -2); b = (0.5 + 1, 0.5 + 1) -> alpha0 = max(1.5, 0.75) = 1.5
    alpha = la.zero_hinge_scale(W, x, 0, delta=1.0)
    assert alpha == pytest.approx(3.0)
    xs = np.array([alpha * x[0], 1.0])
    assert la.per_example_svm_loss((xs @ W)[None], np.array([0]), 1.0)[0] == 0.0
    assert la.zero_hinge_scale(W, np.array([10.0, 1.0]), 0) == 1.0  # already zero
    assert la.zero_hinge_scale(W, x, 2, delta=1.0) is None  # class 2 never wins


def test_template_correlations_by_hand():
    T = np.array([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]])
    M = np.array([[2.0, 4.0, 6.0], [3.0, 2.0, 1.0], [0.0, 1.0, 0.0]])
    r = la.template_correlations(T, M)
    assert r.shape == (2, 3)
    np.testing.assert_allclose(r[0], [1.0, -1.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(r[1], [0.0, 0.0, 0.0])  # constant template


def test_confusion_helpers_by_hand():
    C = np.array([[5, 3, 0], [1, 7, 3], [0, 0, 0]])
    np.testing.assert_allclose(la.per_class_accuracy(C), [5 / 8, 7 / 11, 0.0])
    assert la.top_confusions(C, 5) == [(0, 1, 3), (1, 2, 3), (1, 0, 1)]
    assert la.top_confusions(C, 1) == [(0, 1, 3)]
    with pytest.raises(ValueError):
        la.top_confusions(np.zeros((2, 3)))
