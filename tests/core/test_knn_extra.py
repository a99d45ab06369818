"""nplab.knn additions: the exact uint8 L1 kernel, threaded L1, CV over k, best k, accuracy."""

from __future__ import annotations

import numpy as np
import pytest

from nplab.knn import KNearestNeighbor, accuracy, best_k, cross_validate_k


def _brute_l1(X_test, X_train):
    """Reference L1 in float64, one pair at a time (exact for 8-bit integers)."""
    a = np.asarray(X_test, np.float64)
    b = np.asarray(X_train, np.float64)
    return np.array([[np.abs(x - y).sum() for y in b] for x in a])


def _pixels(rng, n, d, dtype):
    return rng.integers(0, 256, size=(n, d)).astype(dtype)


@pytest.mark.parametrize("d", [1, 7, 24, 1030, 3072])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_integer_l1_kernel_is_exact(d, dtype):
    rng = np.random.default_rng(d)
    X_train, X_test = _pixels(rng, 37, d, dtype), _pixels(rng, 9, d, dtype)
    knn = KNearestNeighbor(metric="l1").fit(X_train, rng.integers(0, 3, 37))
    assert knn.integer_l1
    got = knn.compute_distances_no_loops(X_test)
    assert got.dtype == dtype
    np.testing.assert_array_equal(got, _brute_l1(X_test, X_train))
    # identical to the loop methods, which never use the kernel
    np.testing.assert_array_equal(got, knn.compute_distances_one_loop(X_test))


def test_integer_l1_extreme_values():
    d = 3072
    X_train = np.stack([np.zeros(d), np.full(d, 255.0), np.arange(d) % 256]).astype(np.float32)
    X_test = np.stack([np.full(d, 255.0), np.zeros(d)]).astype(np.float32)
    knn = KNearestNeighbor(metric="l1").fit(X_train, np.arange(3))
    got = knn.compute_distances_no_loops(X_test)
    np.testing.assert_array_equal(got, _brute_l1(X_test, X_train))
    assert got[0, 0] == 255 * d and got[0, 1] == 0


@pytest.mark.parametrize("budget", [1, 5000, 2**30])
@pytest.mark.parametrize("n_jobs", [1, 2, 3])
def test_integer_l1_independent_of_budget_and_threads(budget, n_jobs):
    rng = np.random.default_rng(1)
    X_train, X_test = _pixels(rng, 53, 40, np.float32), _pixels(rng, 11, 40, np.float32)
    y = rng.integers(0, 4, 53)
    ref = KNearestNeighbor(metric="l1").fit(X_train, y)
    knn = KNearestNeighbor(metric="l1", memory_budget_bytes=budget, n_jobs=n_jobs).fit(X_train, y)
    np.testing.assert_array_equal(
        knn.compute_distances_no_loops(X_test), ref.compute_distances_no_loops(X_test)
    )
    np.testing.assert_array_equal(knn.kneighbors(X_test, 5), ref.kneighbors(X_test, 5))
    np.testing.assert_array_equal(knn.predict(X_test, k=3), ref.predict(X_test, k=3))
    # a single test row: the train rows are split over the threads instead
    np.testing.assert_array_equal(
        knn.compute_distances_no_loops(X_test[:1]), ref.compute_distances_no_loops(X_test[:1])
    )


@pytest.mark.parametrize("n_jobs", [1, 2, 4])
def test_float_l1_threads_give_identical_values(n_jobs):
    rng = np.random.default_rng(2)
    X_train = 255 * rng.random((60, 50))
    X_test = 255 * rng.random((7, 50))
    ref = KNearestNeighbor(metric="l1").fit(X_train, np.zeros(60, int))
    knn = KNearestNeighbor(metric="l1", n_jobs=n_jobs, memory_budget_bytes=999).fit(
        X_train, np.zeros(60, int)
    )
    assert not knn.integer_l1
    d = knn.compute_distances_no_loops(X_test)
    np.testing.assert_array_equal(d, ref.compute_distances_no_loops(X_test))
    np.testing.assert_allclose(d, _brute_l1(X_test, X_train), rtol=1e-12)


@pytest.mark.parametrize("bad", ["fraction", "negative", "above_255", "nan"])
def test_non_pixel_training_data_use_the_float_path(bad):
    rng = np.random.default_rng(3)
    X_train = _pixels(rng, 20, 16, np.float64)
    X_train[3, 5] = {"fraction": 10.5, "negative": -1.0, "above_255": 256.0, "nan": np.nan}[bad]
    X_test = _pixels(rng, 4, 16, np.float64)
    knn = KNearestNeighbor(metric="l1").fit(X_train, np.arange(20))
    assert not knn.integer_l1
    d = knn.compute_distances_no_loops(X_test)
    if bad == "nan":
        assert np.isnan(d[:, 3]).all()
    else:
        np.testing.assert_array_equal(d, _brute_l1(X_test, X_train))


def test_non_pixel_test_rows_with_pixel_training_data():
    rng = np.random.default_rng(4)
    X_train = _pixels(rng, 30, 16, np.float64)
    X_test = _pixels(rng, 5, 16, np.float64)
    X_test[2, 0] += 0.25
    knn = KNearestNeighbor(metric="l1").fit(X_train, np.arange(30))
    assert knn.integer_l1
    np.testing.assert_array_equal(
        knn.compute_distances_no_loops(X_test), _brute_l1(X_test, X_train)
    )


def test_n_jobs_must_be_positive():
    with pytest.raises(ValueError, match="n_jobs"):
        KNearestNeighbor(n_jobs=0)
    assert "n_jobs=2" in repr(KNearestNeighbor(n_jobs=2))


def test_accuracy():
    assert accuracy([1, 2, 3, 4], [1, 0, 3, 0]) == 0.5
    with pytest.raises(ValueError):
        accuracy([1, 2], [1])
    with pytest.raises(ValueError):
        accuracy([], [])


def test_best_k_prefers_smallest_k_on_ties():
    assert best_k([1, 3, 5], [0.2, 0.3, 0.3]) == 3
    assert best_k([10, 3, 5], [0.3, 0.3, 0.1]) == 3
    assert best_k([1], [0.0]) == 1
    with pytest.raises(ValueError):
        best_k([1, 3], [0.1])
    with pytest.raises(ValueError):
        best_k([1, 3], [0.1, np.nan])


def test_cross_validate_k_matches_manual_folds():
    rng = np.random.default_rng(5)
    X = rng.standard_normal((53, 6)).astype(np.float32)
    y = rng.integers(0, 3, 53)
    ks = [1, 3, 7]
    acc = cross_validate_k(X, y, ks, num_folds=4)
    assert acc.shape == (4, 3)
    folds = np.array_split(np.arange(53), 4)
    for i, val in enumerate(folds):
        train = np.setdiff1d(np.arange(53), val)  # sorted = the other folds in order
        knn = KNearestNeighbor().fit(X[train], y[train])
        for c, k in enumerate(ks):
            assert acc[i, c] == np.mean(knn.predict(X[val], k=k) == y[val])
    with pytest.raises(ValueError, match="num_folds"):
        cross_validate_k(X, y, ks, num_folds=1)
    with pytest.raises(ValueError, match=r"must be <= the number of training rows"):
        cross_validate_k(X[:10], y[:10], [9], num_folds=2)
