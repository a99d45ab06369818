"""Tests for nplab.features: HOG (scikit-image), hue histogram, parallel extraction."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import pytest
from skimage.color import rgb2gray, rgb2hsv
from skimage.feature import hog

from nplab import features as ft


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, size=(97, 32, 32, 3), dtype=np.uint8)


def _solid(rgb, n=1, size=32) -> np.ndarray:
    img = np.zeros((n, size, size, 3), np.uint8)
    img[...] = rgb
    return img


# --------------------------------------------------------------------------- HOG
def test_hog_shape_dtype(images):
    f = ft.hog_features(images)
    assert f.shape == (97, 144) and f.dtype == np.float32


def test_hog_vertical_step_edge_all_in_0_degree_bin():
    img = np.zeros((1, 32, 32, 3), np.uint8)
    img[:, :, 16:] = 255  # left half black, right half white
    f = ft.hog_features(img).reshape(4, 4, 9)  # (cell row, cell col, orientation)
    # cell columns 1 and 2 straddle the edge (gradient at pixel columns 15 and 16)
    np.testing.assert_allclose(f[:, 1:3, 0], 1.0, atol=1e-6)  # normalised cell = 1
    np.testing.assert_array_equal(f[:, 1:3, 1:], 0)
    np.testing.assert_array_equal(f[:, [0, 3], :], 0)  # flat regions


def test_hog_horizontal_step_edge_all_in_90_degree_bin():
    img = np.zeros((1, 32, 32, 3), np.uint8)
    img[:, 16:, :] = 255  # top half black, bottom half white
    f = ft.hog_features(img).reshape(4, 4, 9)
    # 9 unsigned bins of 20 degrees: 90 degrees falls in bin 4 ([80, 100))
    np.testing.assert_allclose(f[1:3, :, 4], 1.0, atol=1e-6)
    np.testing.assert_array_equal(np.delete(f[1:3], 4, axis=-1), 0)
    np.testing.assert_array_equal(f[[0, 3]], 0)


def test_hog_equals_direct_skimage_calls(images):
    f = ft.hog_features(images[:3])
    for i in range(3):
        ref = hog(
            rgb2gray(images[i]),
            orientations=9,
            pixels_per_cell=(8, 8),
            cells_per_block=(1, 1),
            block_norm="L2-Hys",
            feature_vector=True,
        )
        np.testing.assert_array_equal(f[i], ref.astype(np.float32))
    g = ft.hog_features(
        images[:2], orientations=6, pixels_per_cell=(4, 8), cells_per_block=2, block_norm="L1"
    )
    ref = hog(
        rgb2gray(images[1]),
        orientations=6,
        pixels_per_cell=(4, 8),
        cells_per_block=(2, 2),
        block_norm="L1",
    )
    assert g.shape == (2, ref.size)
    np.testing.assert_array_equal(g[1], ref.astype(np.float32))


@pytest.mark.parametrize(
    "bad, match",
    [
        (np.zeros((2, 32, 32), np.uint8), "images"),
        (np.zeros((2, 32, 32, 4), np.uint8), "images"),
        (np.zeros((2, 32, 32, 3), np.float32), "uint8"),
    ],
)
def test_bad_images_raise(bad, match):
    with pytest.raises(ValueError, match=match):
        ft.hog_features(bad)
    with pytest.raises(ValueError, match=match):
        ft.hue_histogram(bad)


def test_hog_bad_params():
    x = _solid((1, 2, 3))
    with pytest.raises(ValueError, match="block_norm"):
        ft.hog_features(x, block_norm="L3")
    with pytest.raises(ValueError, match="orientations"):
        ft.hog_features(x, orientations=0)
    with pytest.raises(ValueError, match="too small"):
        ft.hog_features(x, pixels_per_cell=16, cells_per_block=3)


# --------------------------------------------------------------------------- hue
@pytest.mark.parametrize(
    "rgb, nbins, expected_bin",
    [
        ((255, 0, 0), 10, 0),  # red, hue 0
        ((0, 255, 0), 10, 3),  # green, hue 1/3 -> 3.33
        ((0, 0, 255), 10, 6),  # blue, hue 2/3 -> 6.67
        ((0, 255, 255), 10, 5),  # cyan, hue 1/2: exactly on an edge -> upper bin
        ((0, 255, 0), 25, 8),  # 25 bins: 8.33
        ((0, 0, 255), 25, 16),  # 16.67
    ],
)
def test_hue_pure_colours(rgb, nbins, expected_bin):
    h = ft.hue_histogram(_solid(rgb, n=2), nbins=nbins)
    expected = np.zeros((2, nbins), np.float32)
    expected[:, expected_bin] = 1
    assert h.dtype == np.float32
    np.testing.assert_array_equal(h, expected)


def test_hue_two_colour_image():
    img = _solid((255, 0, 0))
    img[0, :8] = (0, 0, 255)  # a quarter of the pixels blue
    h = ft.hue_histogram(img)
    np.testing.assert_array_equal(h[0, [0, 6]], [0.75, 0.25])


@pytest.mark.parametrize("nbins", [10, 25, 7])
def test_hue_equals_per_image_np_histogram(images, nbins):
    h = ft.hue_histogram(images, nbins=nbins)
    assert h.shape == (97, nbins)
    np.testing.assert_allclose(h.sum(axis=1), 1, rtol=0, atol=1e-6)
    for i in range(len(images)):
        hue = rgb2hsv(images[i])[..., 0]
        counts, _ = np.histogram(hue, bins=nbins, range=(0, 1))
        np.testing.assert_array_equal(h[i], (counts / hue.size).astype(np.float32))
        # the course's density=True histogram times the bin width
        dens, edges = np.histogram(hue, bins=nbins, range=(0, 1), density=True)
        np.testing.assert_allclose(h[i], dens * np.diff(edges), rtol=1e-6, atol=1e-7)


# --------------------------------------------------------------------------- extract
def test_extract_features_layout_and_order(images):
    f = ft.extract_features(images)
    assert f.shape == (97, 154) and f.dtype == np.float32
    np.testing.assert_array_equal(f[:, :144], ft.hog_features(images))
    np.testing.assert_array_equal(f[:, 144:], ft.hue_histogram(images))
    rev = ft.extract_features(images[::-1], n_jobs=2, chunk_size=10)
    np.testing.assert_array_equal(rev, f[::-1])
    assert len(ft.feature_names()) == f.shape[1]


@pytest.mark.parametrize(
    "n_jobs, chunk_size", [(1, 1), (1, 13), (2, 7), (2, 50), (2, 1000), (3, 20)]
)
def test_extract_features_identical_for_any_jobs_and_chunks(images, n_jobs, chunk_size):
    ref = ft.extract_features(images, n_jobs=1, chunk_size=2000)
    f = ft.extract_features(images, n_jobs=n_jobs, chunk_size=chunk_size)
    assert f.dtype == np.float32
    assert np.array_equal(f, ref)


def test_extract_features_params_and_names(images):
    hog_params = {"orientations": 6, "cells_per_block": 2}
    f = ft.extract_features(images[:5], hog=hog_params, hue_bins=25, n_jobs=2, chunk_size=2)
    names = ft.feature_names(hog_params, 25)
    assert f.shape == (5, len(names))
    np.testing.assert_array_equal(
        f[:, :-25], ft.hog_features(images[:5], orientations=6, cells_per_block=2)
    )
    assert names[0] == "hog_b0_0_c0_0_o0" and names[-1] == "hue_24"
    default = ft.feature_names()
    assert default[:2] == ["hog_c0_0_o0", "hog_c0_0_o1"]
    assert default[143] == "hog_c3_3_o8" and default[144] == "hue_0"
    assert len(set(default)) == len(default)
    with pytest.raises(ValueError, match="unknown keys"):
        ft.extract_features(images[:2], hog={"orientation": 9})
    with pytest.raises(ValueError, match="n_jobs"):
        ft.extract_features(images[:2], n_jobs=0)
    with pytest.raises(ValueError, match="chunk_size"):
        ft.extract_features(images[:2], chunk_size=0)


def test_extract_features_empty_batch():
    f = ft.extract_features(np.zeros((0, 32, 32, 3), np.uint8), n_jobs=2)
    assert f.shape == (0, 154) and f.dtype == np.float32


def _max_threads_in_worker(_):
    from threadpoolctl import threadpool_info

    return max([p["num_threads"] for p in threadpool_info()] or [1])


def test_worker_initializer_limits_threads():
    ctx = (
        multiprocessing.get_context("fork")
        if "fork" in multiprocessing.get_all_start_methods()
        else None
    )
    with ProcessPoolExecutor(max_workers=1, mp_context=ctx, initializer=ft._init_worker) as pool:
        assert pool.submit(_max_threads_in_worker, 0).result() == 1
