"""Tests for nplab.preprocess: splits and array transforms."""

from __future__ import annotations

import numpy as np
import pytest

from nplab import preprocess as pp


# --------------------------------------------------------------------------- CIFAR split
def test_cifar_split_sizes_and_contents():
    s = pp.cifar_split_indices(50000, 10000)
    assert set(s) == {"train", "val", "test", "dev"}
    assert [len(s[k]) for k in ("train", "val", "test", "dev")] == [49000, 1000, 1000, 500]
    assert all(s[k].dtype == np.int64 for k in s)
    np.testing.assert_array_equal(s["train"], np.arange(49000))
    np.testing.assert_array_equal(s["val"], np.arange(49000, 50000))
    np.testing.assert_array_equal(s["test"], np.arange(1000))
    assert np.intersect1d(s["train"], s["val"]).size == 0


def test_cifar_dev_subset_of_train_distinct_and_seeded():
    a = pp.cifar_split_indices(50000, 10000, seed=3)
    b = pp.cifar_split_indices(50000, 10000, seed=3)
    c = pp.cifar_split_indices(50000, 10000, seed=4)
    assert np.isin(a["dev"], a["train"]).all()
    assert np.unique(a["dev"]).size == 500  # without replacement
    np.testing.assert_array_equal(a["dev"], b["dev"])
    assert not np.array_equal(a["dev"], c["dev"])


def test_cifar_custom_sizes():
    s = pp.cifar_split_indices(100, 30, num_training=60, num_validation=40, num_test=30, num_dev=60)
    np.testing.assert_array_equal(np.sort(s["dev"]), np.arange(60))
    np.testing.assert_array_equal(s["val"], np.arange(60, 100))


@pytest.mark.parametrize(
    "kwargs, key",
    [
        (dict(num_training=50001, num_validation=0), "num_training"),
        (dict(num_training=49500, num_validation=1000), "num_validation"),
        (dict(num_test=10001), "num_test"),
        (dict(num_training=100, num_validation=0, num_dev=101), "num_dev"),
    ],
)
def test_cifar_oversize_raises_naming_key(kwargs, key):
    with pytest.raises(ValueError, match=key):
        pp.cifar_split_indices(50000, 10000, **kwargs)


# --------------------------------------------------------------------------- MNIST split
def test_mnist_split_80_20_disjoint_union_seeded():
    s = pp.mnist_split_indices(60000, seed=1)
    assert len(s["train"]) == 48000 and len(s["val"]) == 12000
    assert s["train"].dtype == np.int64 and s["val"].dtype == np.int64
    assert np.intersect1d(s["train"], s["val"]).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([s["train"], s["val"]])), np.arange(60000))
    s2 = pp.mnist_split_indices(60000, seed=1)
    s3 = pp.mnist_split_indices(60000, seed=2)
    np.testing.assert_array_equal(s["train"], s2["train"])
    assert not np.array_equal(s["train"], s3["train"])
    # shuffled, not the first 48000 in order
    assert not np.array_equal(np.sort(s["train"]), np.arange(48000))


@pytest.mark.parametrize("vf", [0.0, 1.0, -0.1, 1.5])
def test_mnist_bad_fraction(vf):
    with pytest.raises(ValueError, match="val_fraction"):
        pp.mnist_split_indices(100, val_fraction=vf)


# --------------------------------------------------------------------------- transforms
def test_flatten_and_scale01():
    x = np.arange(2 * 2 * 2 * 3, dtype=np.uint8).reshape(2, 2, 2, 3)
    f = pp.flatten(x)
    assert f.shape == (2, 12)
    np.testing.assert_array_equal(f[1], np.arange(12, 24))
    s = pp.scale01(np.array([[0, 51, 255]], np.uint8), np.float32)
    assert s.dtype == np.float32
    np.testing.assert_array_equal(s, np.array([[0.0, 0.2, 1.0]], np.float32))
    with pytest.raises(ValueError, match="x_uint8"):
        pp.scale01(np.zeros((2, 2), np.float32), np.float32)
    with pytest.raises(ValueError, match="dtype"):
        pp.scale01(np.zeros((2, 2), np.uint8), np.int32)
    assert pp.to_float(np.array([1, 2], np.uint8), np.float32).dtype == np.float32


def test_mean_image_from_train_only():
    # train rows all equal 1.0, val rows all equal 5.0: mean must be exactly 1.
    x = np.concatenate([np.ones((6, 4, 4, 3)), 5 * np.ones((3, 4, 4, 3))]).astype(np.float32)
    split = {"train": np.arange(6), "val": np.arange(6, 9)}
    m = pp.mean_image(x[split["train"]])
    assert m.dtype == np.float32 and m.shape == (4, 4, 3)
    np.testing.assert_array_equal(m, np.ones((4, 4, 3), np.float32))
    assert not np.allclose(m, pp.mean_image(x[split["val"]]))
    assert not np.allclose(m, pp.mean_image(x))
    xc = pp.subtract_mean(x, m)
    assert xc.dtype == np.float32
    np.testing.assert_array_equal(xc[:6], 0)
    np.testing.assert_array_equal(xc[6:], 4)


def test_mean_image_dtype_and_float64_accumulation():
    x = np.array([[1, 2], [3, 7]], np.uint8)
    m = pp.mean_image(x)
    assert m.dtype == np.float64
    np.testing.assert_array_equal(m, [2.0, 4.5])
    assert pp.mean_image(x, dtype=np.float32).dtype == np.float32
    # float32 input: many rows of a value whose float32 running sum would drift
    # (float32 accumulation over axis 0 gives 0.09998557 here)
    big = np.full((100000, 3), 0.1, np.float32)
    np.testing.assert_array_equal(pp.mean_image(big), np.full(3, 0.1, np.float32))


def test_subtract_mean_shape_error():
    with pytest.raises(ValueError, match="mean"):
        pp.subtract_mean(np.zeros((2, 3), np.float32), np.zeros(4))


def test_add_bias_column():
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    b = pp.add_bias_column(x)
    assert b.shape == (2, 4) and b.dtype == np.float32
    np.testing.assert_array_equal(b[:, :3], x)
    np.testing.assert_array_equal(b[:, -1], 1)
    with pytest.raises(ValueError, match="2-D"):
        pp.add_bias_column(np.zeros(3))


def test_one_hot():
    y = np.array([2, 0, 1, 2])
    oh = pp.one_hot(y, 3)
    expected = np.array([[0, 0, 1], [1, 0, 0], [0, 1, 0], [0, 0, 1]], np.float32)
    assert oh.dtype == np.float32
    np.testing.assert_array_equal(oh, expected)
    assert pp.one_hot(y, 3, dtype=np.float64).dtype == np.float64
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        pp.one_hot(np.array([0, 3]), 3)
    with pytest.raises(ValueError, match="y"):
        pp.one_hot(np.array([-1, 0]), 3)


def test_standardize_train_stats_applied_to_val():
    rng = np.random.default_rng(0)
    xtr = (rng.normal(size=(500, 7)) * np.arange(1, 8) + 10).astype(np.float32)
    xva = (rng.normal(size=(50, 7)) * 3 - 2).astype(np.float32)
    mean, std = pp.standardize_fit(xtr)
    assert mean.dtype == np.float32 and std.dtype == np.float32
    ztr = pp.standardize_apply(xtr, mean, std)
    assert ztr.dtype == np.float32
    # float32 arithmetic: mean within 1e-5, std within 1e-5 of 1
    np.testing.assert_allclose(ztr.astype(np.float64).mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(ztr.astype(np.float64).std(0), 1, atol=1e-5)
    zva = pp.standardize_apply(xva, mean, std)
    np.testing.assert_array_equal(zva, (xva - mean) / std)
    # the val stats were NOT used: val is not centred
    assert np.abs(zva.mean(0)).min() > 1.0


def test_standardize_constant_column_is_finite():
    x = np.ones((4, 2), np.float64)
    x[:, 1] = [0, 1, 2, 3]
    mean, std = pp.standardize_fit(x, eps=1e-8)
    assert std[0] == 1e-8
    z = pp.standardize_apply(x, mean, std)
    assert np.isfinite(z).all()
    np.testing.assert_array_equal(z[:, 0], 0)
