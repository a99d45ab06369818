"""Tests for nplab.linear: naive vs vectorised losses, gradients, SGD estimators."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from nplab import linear
from nplab.gradcheck import eval_numerical_gradient, grad_check_sparse, rel_error

H = 1e-5
PAIRS = {
    "svm": (linear.svm_loss_naive, linear.svm_loss_vectorized),
    "softmax": (linear.softmax_loss_naive, linear.softmax_loss_vectorized),
}


def _dev(seed=0, n=500, d=3073, c=10, w_scale=1e-4):
    """The course's dev-set shape: random data with a bias column, small random W."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    X[:, -1] = 1.0
    y = rng.integers(0, c, size=n)
    W = w_scale * rng.standard_normal((d, c))
    return W, X, y


@pytest.mark.parametrize("reg", [0.0, 5e-2])
@pytest.mark.parametrize("name", ["svm", "softmax"])
def test_naive_equals_vectorized(name, reg):
    naive, vec = PAIRS[name]
    W, X, y = _dev(seed=1, n=100, d=300, w_scale=1e-2)
    ln, gn = naive(W, X, y, reg)
    lv, gv = vec(W, X, y, reg)
    assert rel_error(np.array(ln), np.array(lv)) <= 1e-9
    assert rel_error(gn, gv) <= 1e-9


@pytest.mark.parametrize("reg", [0.0, 0.5])
@pytest.mark.parametrize("name", ["svm", "softmax"])
@pytest.mark.parametrize("impl", [0, 1], ids=["naive", "vectorized"])
def test_linear_loss_gradient(name, reg, impl):
    fn = PAIRS[name][impl]
    W, X, y = _dev(seed=2, n=20, d=8, c=4, w_scale=1.0)
    if name == "svm":  # keep every margin >> h away from the hinge kink
        s = X @ W
        m = s - s[np.arange(len(y)), y][:, None] + 1.0
        m[np.arange(len(y)), y] = np.inf
        assert np.abs(m).min() > 1e-3
    _, grad = fn(W, X, y, reg)
    num = eval_numerical_gradient(lambda w: fn(w, X, y, reg)[0], W, h=H)
    assert rel_error(grad, num) <= 1e-7


def test_sparse_gradient_check_on_dev_sized_problem():
    W, X, y = _dev(seed=3, w_scale=1e-3)
    for name in ("svm", "softmax"):
        fn = PAIRS[name][1]
        _, grad = fn(W, X, y, 5e1)
        errs = grad_check_sparse(
            lambda w: fn(w, X, y, 5e1)[0], W, grad, num_checks=10, rng=np.random.default_rng(0)
        )
        # Sparse check as in the course: SVM kinks are possible in principle -> 1e-5 bound
        assert errs.max() <= (1e-5 if name == "svm" else 1e-7)


def test_initial_losses_match_theory():
    W, X, y = _dev(seed=4)
    loss_sm, _ = linear.softmax_loss_vectorized(W, X, y, 0.0)
    assert abs(loss_sm - (-np.log(0.1))) < 0.05
    loss_svm, _ = linear.svm_loss_vectorized(W, X, y, 0.0, delta=1.0)
    assert abs(loss_svm - 9.0) < 0.5  # (C - 1) * delta with all scores ~ 0


def test_regularisation_convention():
    W, X, y = _dev(seed=5, n=10, d=4, c=3, w_scale=1.0)
    for naive, vec in PAIRS.values():
        for fn in (naive, vec):
            l0, g0 = fn(W, X, y, 0.0)
            l1, g1 = fn(W, X, y, 0.25)
            assert l1 - l0 == pytest.approx(0.25 * np.sum(W * W), rel=1e-12)
            np.testing.assert_allclose(g1 - g0, 2 * 0.25 * W, rtol=1e-12, atol=1e-15)


def test_loss_bad_arguments_raise():
    W, X, y = _dev(seed=6, n=5, d=4, c=3)
    with pytest.raises(ValueError, match="X must be 2-D"):
        linear.svm_loss_vectorized(W, X[:, :3], y, 0.0)
    with pytest.raises(ValueError, match="y must hold labels"):
        linear.softmax_loss_vectorized(W, X, y + 3, 0.0)
    with pytest.raises(ValueError, match="reg"):
        linear.softmax_loss_naive(W, X, y, -1.0)


# --------------------------------------------------------------------------- estimators
def _blobs(seed=0, n_per=60, c=3, d=5):
    rng = np.random.default_rng(seed)
    centers = 6 * rng.standard_normal((c, d))
    X = np.concatenate([centers[k] + rng.standard_normal((n_per, d)) for k in range(c)])
    X = np.hstack([X, np.ones((len(X), 1))]).astype(np.float32)
    y = np.repeat(np.arange(c), n_per)
    return X, y


HP = dict(learning_rate=1e-2, reg=1e-3, num_iters=300, batch_size=50, weight_scale=1e-3)


@pytest.mark.parametrize("cls", [linear.LinearSVM, linear.Softmax])
def test_estimator_learns_separable_blobs(cls):
    X, y = _blobs()
    clf = cls(**HP, seed=0)
    assert clf.fit(X, y) is clf
    assert clf.W_.shape == (X.shape[1], 3) and clf.W_.dtype == np.float32
    assert clf.loss_history_.shape == (300,)
    assert clf.loss_history_[-10:].mean() < 0.5 * clf.loss_history_[:10].mean()
    assert not clf.diverged_
    assert clf.score(X, y) >= 0.95
    assert clf.predict(X).shape == y.shape


@pytest.mark.parametrize("cls", [linear.LinearSVM, linear.Softmax])
def test_estimator_seed_reproducibility(cls):
    X, y = _blobs(seed=1)
    a = cls(**HP, seed=7).fit(X, y)
    b = cls(**HP, seed=7).fit(X, y)
    c = cls(**HP, seed=8).fit(X, y)
    np.testing.assert_array_equal(a.W_, b.W_)  # bit-identical
    np.testing.assert_array_equal(a.loss_history_, b.loss_history_)
    assert not np.array_equal(a.W_, c.W_)


@pytest.mark.parametrize("cls", [linear.LinearSVM, linear.Softmax])
def test_estimator_divergence_is_reported_not_raised(cls):
    X, y = _blobs(seed=2)
    clf = cls(learning_rate=1e30, reg=2.5e4, num_iters=200, batch_size=50)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # not even an overflow RuntimeWarning escapes
        clf.fit(X, y)
    assert clf.diverged_ is True
    assert np.isfinite(clf.W_).all()
    assert len(clf.loss_history_) < 200
    assert np.isfinite(clf.loss_history_).all()


def test_estimator_callback_num_classes_and_dtype():
    X, y = _blobs(seed=3)
    seen = []
    clf = linear.Softmax(**{**HP, "num_iters": 5}, num_classes=6, dtype=np.float64)
    clf.fit(X, y, callback=lambda it, loss: seen.append((it, loss)))
    assert [it for it, _ in seen] == list(range(5))
    assert [loss for _, loss in seen] == list(clf.loss_history_)
    assert clf.W_.shape == (X.shape[1], 6) and clf.W_.dtype == np.float64


def test_estimator_params_and_errors():
    svm = linear.LinearSVM(delta=2.0)
    assert svm.get_params()["delta"] == 2.0 and svm.get_params()["learning_rate"] == 1e-7
    assert "delta" not in linear.Softmax().get_params()
    assert isinstance(svm, linear.LinearClassifier)
    X, y = _blobs(seed=4)
    for kwargs, match in [
        ({"learning_rate": -1.0}, "learning_rate"),
        ({"batch_size": 0}, "batch_size"),
        ({"dtype": np.int32}, "dtype"),
        ({"num_classes": 2}, "num_classes"),
    ]:
        with pytest.raises(ValueError, match=match):
            linear.Softmax(**kwargs).fit(X, y)
    with pytest.raises(ValueError, match="not fitted"):
        linear.Softmax().predict(X)
