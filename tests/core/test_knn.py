"""Tests for nplab.knn: distance methods, chunking, neighbour order, voting."""

from __future__ import annotations

import numpy as np
import pytest

from nplab.knn import KNearestNeighbor


def _pixels(seed=0, n_test=50, n_train=200, d=3072, dtype=np.float64):
    """Random values in [0, 255) (not integers: integer data would make every matrix
    product exact and hide summation-order differences)."""
    rng = np.random.default_rng(seed)
    X_train = (255 * rng.random((n_train, d))).astype(dtype)
    X_test = (255 * rng.random((n_test, d))).astype(dtype)
    y_train = rng.integers(0, 10, size=n_train)
    return X_train, y_train, X_test


@pytest.fixture(scope="module")
def pixels():
    return _pixels()


@pytest.mark.parametrize("metric", ["l2", "l1"])
def test_three_distance_methods_agree(pixels, metric):
    X_train, y_train, X_test = pixels
    knn = KNearestNeighbor(metric=metric).fit(X_train, y_train)
    d2 = knn.compute_distances_two_loops(X_test)
    d1 = knn.compute_distances_one_loop(X_test)
    d0 = knn.compute_distances_no_loops(X_test)
    assert d0.shape == (50, 200)
    assert np.linalg.norm(d2 - d1, ord="fro") < 1e-3
    assert np.linalg.norm(d2 - d0, ord="fro") < 1e-3
    assert d0.min() > 0


def test_distance_hand_cases():
    X_train = np.array([[1.0, 2.0], [3.0, 4.0], [0.0, 0.0]])
    X_test = np.array([[0.0, 0.0]])
    y = np.array([0, 1, 2])
    l1 = KNearestNeighbor(metric="l1").fit(X_train, y)
    l2 = KNearestNeighbor(metric="l2").fit(X_train, y)
    for method in ("two_loops", "one_loop", "no_loops"):
        np.testing.assert_allclose(
            getattr(l1, f"compute_distances_{method}")(X_test), [[3.0, 7.0, 0.0]]
        )
        np.testing.assert_allclose(
            getattr(l2, f"compute_distances_{method}")(X_test),
            [[np.sqrt(5.0), 5.0, 0.0]],
            rtol=1e-15,
        )


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("metric", ["l2", "l1"])
def test_chunked_equals_unchunked_exactly(metric, dtype):
    # L2: 2100 test rows = three tiles (at most 1024 rows each), so a tiny budget gives
    # several blocks while the large budget gives one.  L1 has no tiles: a budget of
    # 1 byte already means one (test, train) pair per block, so fewer rows suffice.
    n_test = 2100 if metric == "l2" else 150
    X_train, y_train, X_test = _pixels(seed=1, n_test=n_test, n_train=40, d=24, dtype=dtype)
    if metric == "l2":
        assert KNearestNeighbor().fit(X_train, y_train)._tile_rows(len(X_test)) == 700
    big = KNearestNeighbor(metric=metric, memory_budget_bytes=2**40).fit(X_train, y_train)
    ref = big.compute_distances_no_loops(X_test)
    ref_nb = big.kneighbors(X_test, 7)
    ref_pred = big.predict(X_test, k=5)
    for budget in (1, 999, 40 * 24 * 8 * 3 + 1):
        small = KNearestNeighbor(metric=metric, memory_budget_bytes=budget).fit(X_train, y_train)
        assert np.array_equal(small.compute_distances_no_loops(X_test), ref)
        assert np.array_equal(small.kneighbors(X_test, 7), ref_nb)
        assert np.array_equal(small.predict(X_test, k=5), ref_pred)


def test_predict_labels_ties_go_to_smallest_label():
    X_train = np.zeros((4, 1))
    knn = KNearestNeighbor().fit(X_train, np.array([5, 3, 7, 3]))
    # k=2: neighbours 0 (label 5) and 1 (label 3): one vote each -> 3
    dists = np.array([[1.0, 2.0, 3.0, 4.0]])
    np.testing.assert_array_equal(knn.predict_labels(dists, k=2), [3])
    # k=3: labels 7, 5, 3 (one each) -> 3
    np.testing.assert_array_equal(knn.predict_labels(np.array([[2.0, 3.0, 1.0, 9.0]]), k=3), [3])
    # k=4: 3 wins outright with two votes
    np.testing.assert_array_equal(knn.predict_labels(dists, k=4), [3])
    knn2 = KNearestNeighbor().fit(X_train, np.array([1, 1, 0, 0]))
    np.testing.assert_array_equal(knn2.predict_labels(dists, k=4), [0])


def test_distance_ties_broken_by_train_index():
    # every train row is at the same distance: neighbours come in train-index order
    X_train = np.tile(np.array([[1.0, 1.0]]), (6, 1))
    y = np.array([4, 2, 9, 1, 1, 0])
    knn = KNearestNeighbor().fit(X_train, y)
    X_test = np.array([[0.0, 0.0], [2.0, 2.0]])
    np.testing.assert_array_equal(knn.kneighbors(X_test, 3), [[0, 1, 2], [0, 1, 2]])
    np.testing.assert_array_equal(knn.predict(X_test, k=1), [4, 4])
    np.testing.assert_array_equal(knn.predict(X_test, k=3), [2, 2])  # 4, 2, 9 -> smallest
    np.testing.assert_array_equal(knn.predict(X_test, k=5), [1, 1])  # 1 has two votes


@pytest.mark.parametrize("metric", ["l2", "l1"])
def test_kneighbors_matches_stable_argsort_with_many_ties(metric):
    rng = np.random.default_rng(2)
    X_train = rng.integers(0, 3, size=(120, 4)).astype(np.float64)  # many equal distances
    X_test = rng.integers(0, 3, size=(30, 4)).astype(np.float64)
    knn = KNearestNeighbor(metric=metric).fit(X_train, rng.integers(0, 5, 120))
    d = knn.compute_distances_no_loops(X_test)
    order = np.argsort(d, axis=1, kind="stable")
    for k in (1, 2, 5, 17, 120):
        dist, idx = knn.kneighbors(X_test, k, return_distance=True)
        np.testing.assert_array_equal(idx, order[:, :k])
        np.testing.assert_array_equal(dist, np.take_along_axis(d, order[:, :k], axis=1))


@pytest.mark.parametrize("metric", ["l2", "l1"])
def test_predict_multi_k_equals_predict(metric):
    rng = np.random.default_rng(3)
    X_train = rng.integers(0, 4, size=(150, 6)).astype(np.float32)
    X_test = rng.integers(0, 4, size=(40, 6)).astype(np.float32)
    knn = KNearestNeighbor(metric=metric, memory_budget_bytes=4096).fit(
        X_train, rng.integers(0, 4, 150)
    )
    ks = [1, 3, 5, 8, 10, 20, 50]
    multi = knn.predict_multi_k(X_test, ks)
    assert sorted(multi) == ks
    for k in ks:
        np.testing.assert_array_equal(multi[k], knn.predict(X_test, k=k))
        d = knn.compute_distances_no_loops(X_test)
        np.testing.assert_array_equal(multi[k], knn.predict_labels(d, k=k))


def test_predict_methods_agree(pixels):
    X_train, y_train, X_test = pixels
    knn = KNearestNeighbor(k=3).fit(X_train, y_train)
    p = knn.predict(X_test)
    assert p.shape == (50,)
    np.testing.assert_array_equal(p, knn.predict(X_test, method="one_loop"))
    np.testing.assert_array_equal(p, knn.predict(X_test, method="two_loops"))


def test_predict_recovers_training_labels_and_label_values():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((30, 5))
    y = rng.choice(np.array([10, 20, 30]), size=30)
    knn = KNearestNeighbor(k=1).fit(X, y)
    np.testing.assert_array_equal(knn.predict(X), y)


@pytest.mark.parametrize("metric", ["l2", "l1"])
def test_float32_inputs_give_float32_distances(metric):
    X_train, y_train, X_test = _pixels(seed=5, n_test=4, n_train=6, d=8, dtype=np.float32)
    knn = KNearestNeighbor(metric=metric).fit(X_train, y_train)
    for method in ("two_loops", "one_loop", "no_loops"):
        assert getattr(knn, f"compute_distances_{method}")(X_test).dtype == np.float32
    assert knn.kneighbors(X_test, 2, return_distance=True)[0].dtype == np.float32


def test_fit_does_not_copy_contiguous_input():
    X = np.zeros((5, 3), dtype=np.float32)
    knn = KNearestNeighbor().fit(X, np.arange(5))
    assert knn.X_train_ is X and knn.X_train is X


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="metric"):
        KNearestNeighbor(metric="cosine")
    with pytest.raises(ValueError, match="k must be"):
        KNearestNeighbor(k=0)
    with pytest.raises(ValueError, match="memory_budget_bytes"):
        KNearestNeighbor(memory_budget_bytes=0)
    knn = KNearestNeighbor()
    with pytest.raises(ValueError, match="not fitted"):
        knn.predict(np.zeros((1, 3)))
    knn.fit(np.zeros((4, 3)), np.arange(4))
    with pytest.raises(ValueError, match="k must be <= the number of training rows"):
        knn.predict(np.zeros((1, 3)), k=5)
    with pytest.raises(ValueError, match="X must be 2-D"):
        knn.compute_distances_no_loops(np.zeros((1, 2)))
    with pytest.raises(ValueError, match="method"):
        knn.predict(np.zeros((1, 3)), method="fast")
    with pytest.raises(ValueError, match="y must have shape"):
        KNearestNeighbor().fit(np.zeros((4, 3)), np.arange(3))
