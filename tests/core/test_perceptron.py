"""Tests for nplab.perceptron: convergence, Novikoff's bound, label handling."""

from __future__ import annotations

import numpy as np
import pytest

from nplab.perceptron import Perceptron, convergence_bound


def _blobs(seed=0, n_per=100, sep=4.0):
    rng = np.random.default_rng(seed)
    pos = rng.standard_normal((n_per, 2)) + sep
    neg = rng.standard_normal((n_per, 2)) - sep
    X = np.vstack([pos, neg])
    y = np.concatenate([np.ones(n_per, int), -np.ones(n_per, int)])
    return X, y


def test_converges_on_separable_blobs_within_novikoff_bound():
    X, y = _blobs()
    clf = Perceptron(max_epochs=100, seed=0).fit(X, y)
    assert clf.converged_ and clf.epochs_ < 100
    assert clf.score(X, y) == 1.0
    assert clf.n_updates_ >= 1
    # The bound holds for ANY separator: the learnt one and the reference x1 + x2 = 0.
    margins = y * (X @ np.array([1.0, 1.0]))
    assert margins.min() > 0  # the reference really separates this sample
    for w_star, b_star in [(np.array([1.0, 1.0]), 0.0), (clf.w_, clf.b_)]:
        info = convergence_bound(X, y, w_star, b_star)
        assert clf.n_updates_ <= info["bound"]
    ref = convergence_bound(X, y, np.array([1.0, 1.0]), 0.0)
    assert ref["R"] == pytest.approx(np.sqrt(np.max(np.sum(X**2, axis=1) + 1)))
    assert ref["gamma"] == pytest.approx(margins.min() / np.sqrt(2))


def test_convergence_bound_hand_case():
    X = np.array([[1.0, 0.0], [-1.0, 0.0]])
    info = convergence_bound(X, np.array([1, -1]), np.array([2.0, 0.0]), 0.0)
    # R = ||(1, 0, 1)|| = sqrt(2); normalised (w*, b*) = (1, 0, 0) -> gamma = 1; bound = 2
    assert info["R"] == pytest.approx(np.sqrt(2))
    assert info["gamma"] == pytest.approx(1.0)
    assert info["bound"] == pytest.approx(2.0)
    with pytest.raises(ValueError, match="does not separate"):
        convergence_bound(X, np.array([1, -1]), np.array([-1.0, 0.0]), 0.0)


def test_zero_one_labels_are_mapped_and_returned():
    X, y = _blobs(seed=1)
    y01 = (y > 0).astype(int)
    a = Perceptron(seed=3).fit(X, y)
    b = Perceptron(seed=3).fit(X, y01)
    np.testing.assert_array_equal(a.w_, b.w_)
    assert a.b_ == b.b_
    assert set(np.unique(b.predict(X))) == {0, 1}
    assert b.score(X, y01) == 1.0


def test_update_rule_by_hand():
    # one pass without shuffling: x0 is a mistake (0 <= 0) -> w = x0, b = 1; x1 then correct
    X = np.array([[2.0, 1.0], [-1.0, -2.0]])
    clf = Perceptron(max_epochs=1, shuffle=False).fit(X, np.array([1, -1]))
    np.testing.assert_array_equal(clf.w_, [2.0, 1.0])
    assert clf.b_ == 1.0 and clf.n_updates_ == 1 and clf.epochs_ == 1 and not clf.converged_


def test_seeded_and_non_separable():
    X, y = _blobs(seed=2)
    a = Perceptron(seed=5).fit(X, y)
    b = Perceptron(seed=5).fit(X, y)
    np.testing.assert_array_equal(a.w_, b.w_)
    Xx = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]])  # XOR
    clf = Perceptron(max_epochs=20).fit(Xx, np.array([-1, -1, 1, 1]))
    assert not clf.converged_ and clf.epochs_ == 20


@pytest.mark.parametrize("labels", [[0, 1, 2, 1], [1, 2, 1, 2], [-1, 0, 1, 1], [0.5, 1, 0.5, 1]])
def test_non_binary_labels_raise(labels):
    with pytest.raises(ValueError, match="binary labels"):
        Perceptron().fit(np.zeros((4, 2)), np.array(labels))


def test_other_bad_arguments_raise():
    with pytest.raises(ValueError, match="max_epochs"):
        Perceptron(max_epochs=0).fit(np.zeros((2, 2)), np.array([1, -1]))
    with pytest.raises(ValueError, match="not fitted"):
        Perceptron().predict(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="y must have shape"):
        Perceptron().fit(np.zeros((3, 2)), np.array([1, -1]))
