"""Image features for CIFAR-10: HOG (scikit-image) + hue histogram (HSV space).

Per image the descriptor is ``[hog(grey image), hue histogram]`` as float32.

How the HOG part differs from the course's hand-written ``hog_feature``
-----------------------------------------------------------------------
* Gradients: the course uses forward differences (``np.diff``); scikit-image uses
  centred differences ``I[r+1] - I[r-1]`` (zero on the image border).
* Normalisation: the course has none (raw magnitude-weighted orientation histograms,
  averaged over the cell); scikit-image normalises every block of cells (``block_norm``,
  default ``"L2-Hys"``: L2, clip at 0.2, L2 again).  With ``cells_per_block=1`` every
  block is one cell, so each cell's 9-bin histogram is normalised on its own.
* Both use 9 unsigned orientation bins over [0, 180) degrees and 8x8-pixel cells on the
  grey image, so for 32x32 images both give 4 * 4 * 9 = 144 values.  The grey image here
  is ``skimage.color.rgb2gray`` (ITU-R 709 luma weights 0.2125/0.7154/0.0721 on pixels
  scaled to [0, 1]); the course uses 0.299/0.587/0.144 on raw 0..255 values.

Hue histogram: ``skimage.color.rgb2hsv`` on the whole batch, hue in [0, 1] binned into
``nbins`` equal bins over [0, 1] (last edge inclusive, same binning as ``np.histogram``),
each row divided by the pixel count so it sums to 1 (= the course's ``density=True``
histogram times the bin width).

:func:`extract_features` computes both in chunks, optionally in worker processes; the
result is bit-identical whatever ``n_jobs`` / ``chunk_size`` (every step is per image or
element-wise, so no value depends on which other images share its chunk).
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from itertools import repeat

import numpy as np
import skimage.color as _skcolor
import skimage.feature as _skfeature

from ._checks import check_choice, check_int
from ._threads import THREAD_ENV_VARS

__all__ = ["HOG_DEFAULTS", "hog_features", "hue_histogram", "extract_features", "feature_names"]

#: Default HOG parameters (the course's descriptor size: 144 values for 32x32 images).
HOG_DEFAULTS: dict = {
    "orientations": 9,
    "pixels_per_cell": 8,
    "cells_per_block": 1,
    "block_norm": "L2-Hys",
}
_BLOCK_NORMS = ("L1", "L1-sqrt", "L2", "L2-Hys")


# --------------------------------------------------------------------------- validation
def _check_images(images) -> np.ndarray:
    x = np.asarray(images)
    if x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(f"images must have shape (N, H, W, 3), got {x.shape}")
    if x.dtype != np.uint8:
        raise ValueError(f"images must have dtype uint8, got {x.dtype}")
    return x


def _pair(name: str, v) -> tuple[int, int]:
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {v!r}")
        return check_int(name, v[0]), check_int(name, v[1])
    n = check_int(name, v)
    return n, n


def _hog_params(orientations, pixels_per_cell, cells_per_block, block_norm) -> dict:
    check_choice("block_norm", block_norm, _BLOCK_NORMS)
    return {
        "orientations": check_int("orientations", orientations),
        "pixels_per_cell": _pair("pixels_per_cell", pixels_per_cell),
        "cells_per_block": _pair("cells_per_block", cells_per_block),
        "block_norm": block_norm,
    }


def _hog_params_from_dict(hog) -> dict:
    params = dict(HOG_DEFAULTS)
    if hog is not None:
        if not isinstance(hog, dict):
            raise ValueError(f"hog must be a dict of HOG parameters or None, got {hog!r}")
        unknown = sorted(set(hog) - set(HOG_DEFAULTS))
        if unknown:
            raise ValueError(
                f"hog has unknown keys {unknown}; expected a subset of {sorted(HOG_DEFAULTS)}"
            )
        params.update(hog)
    return _hog_params(**params)


def _hog_grid(image_hw, params) -> tuple[int, int, int, int]:
    """(n_blocks_row, n_blocks_col, n_cells_row, n_cells_col) as skimage computes them."""
    (h, w), (cr, cc), (br, bc) = image_hw, params["pixels_per_cell"], params["cells_per_block"]
    ncr, ncc = h // cr, w // cc
    nbr, nbc = ncr - br + 1, ncc - bc + 1
    if nbr <= 0 or nbc <= 0:
        raise ValueError(
            f"images of {h}x{w} pixels are too small for pixels_per_cell="
            f"{(cr, cc)} and cells_per_block={(br, bc)}: need at least "
            f"{br * cr}x{bc * cc}"
        )
    return nbr, nbc, ncr, ncc


def _hog_length(image_hw, params) -> int:
    nbr, nbc, _, _ = _hog_grid(image_hw, params)
    br, bc = params["cells_per_block"]
    return nbr * nbc * br * bc * params["orientations"]


# --------------------------------------------------------------------------- features
def _hog_checked(x: np.ndarray, params: dict) -> np.ndarray:
    n, h, w, _ = x.shape
    out = np.empty((n, _hog_length((h, w), params)), dtype=np.float32)
    if n == 0:
        return out
    # Grey conversion once for the whole batch (vectorised; a per-pixel dot product, so
    # each image's grey values do not depend on the batch it is in).
    gray = _skcolor.rgb2gray(x)
    hog = _skfeature.hog
    kw = dict(
        orientations=params["orientations"],
        pixels_per_cell=params["pixels_per_cell"],
        cells_per_block=params["cells_per_block"],
        block_norm=params["block_norm"],
        visualize=False,
        transform_sqrt=False,
        feature_vector=True,
        channel_axis=None,
    )
    for i in range(n):
        out[i] = hog(gray[i], **kw)
    return out


def hog_features(
    images_uint8_rgb,
    *,
    orientations: int = 9,
    pixels_per_cell=8,
    cells_per_block=1,
    block_norm: str = "L2-Hys",
) -> np.ndarray:
    """HOG descriptors of a batch of RGB uint8 images, shape (N, F), float32.

    Each row is ``skimage.feature.hog(rgb2gray(image), ..., feature_vector=True)``
    (computed in float64, stored as float32).  ``pixels_per_cell`` and
    ``cells_per_block`` are an int (square) or a (rows, cols) pair.  32x32 images with
    the defaults give 4 * 4 * 9 = 144 values.  See the module docstring for how this
    differs from the course's hand-written descriptor.
    """
    x = _check_images(images_uint8_rgb)
    params = _hog_params(orientations, pixels_per_cell, cells_per_block, block_norm)
    return _hog_checked(x, params)


def _hue_checked(x: np.ndarray, nbins: int) -> np.ndarray:
    n = x.shape[0]
    if n == 0:
        return np.empty((0, nbins), dtype=np.float32)
    hue = _skcolor.rgb2hsv(x)[..., 0].reshape(n, -1)  # in [0, 1)
    n_pix = hue.shape[1]
    # Same bin assignment as np.histogram(h, bins=nbins, range=(0, 1)).
    edges = np.linspace(0.0, 1.0, nbins + 1)
    idx = (hue * nbins).astype(np.intp)  # (h - 0) / 1 * nbins
    idx[idx == nbins] -= 1
    np.clip(idx, 0, nbins - 1, out=idx)  # hue is in [0, 1]; guards the edge lookups
    idx[hue < edges[idx]] -= 1
    idx[(hue >= edges[idx + 1]) & (idx != nbins - 1)] += 1
    idx += (np.arange(n, dtype=np.intp) * nbins)[:, None]
    counts = np.bincount(idx.ravel(), minlength=n * nbins).reshape(n, nbins)
    return (counts / n_pix).astype(np.float32)


def hue_histogram(images_uint8_rgb, *, nbins: int = 10) -> np.ndarray:
    """Normalised hue histograms, shape (N, nbins), float32, rows summing to 1.

    ``skimage.color.rgb2hsv`` is applied to the whole batch at once; bins are ``nbins``
    equal intervals of [0, 1] (the last one includes 1), as in ``np.histogram``.
    Grey pixels (zero saturation) have hue 0 and fall in bin 0, as in the course.
    """
    x = _check_images(images_uint8_rgb)
    return _hue_checked(x, check_int("nbins", nbins))


def _features_chunk(x: np.ndarray, params: dict, hue_bins: int) -> np.ndarray:
    return np.concatenate([_hog_checked(x, params), _hue_checked(x, hue_bins)], axis=1)


def _init_worker() -> None:
    """Keep each worker process single-threaded (no BLAS/OpenMP oversubscription)."""
    for var in THREAD_ENV_VARS:
        os.environ[var] = "1"
    from threadpoolctl import threadpool_limits

    # Applies process-wide and is never restored: the worker stays single-threaded.
    threadpool_limits(limits=1)


def extract_features(
    images,
    *,
    hog: dict | None = None,
    hue_bins: int = 10,
    n_jobs: int = 1,
    chunk_size: int = 2000,
    start_method: str | None = None,
) -> np.ndarray:
    """HOG + hue-histogram features, shape (N, F_hog + hue_bins), float32.

    ``hog`` overrides entries of :data:`HOG_DEFAULTS` (orientations, pixels_per_cell,
    cells_per_block, block_norm).  The images are processed in chunks of ``chunk_size``;
    with ``n_jobs > 1`` the chunks go to a ``ProcessPoolExecutor(max_workers=n_jobs)``
    whose workers are limited to one BLAS/OpenMP thread each.  Rows are in the input
    order and the values are identical for every ``n_jobs`` / ``chunk_size``.

    ``start_method`` picks the multiprocessing start method; ``None`` means "fork" where
    available (no re-import of the calling script, so it works from Snakemake ``script:``
    files without a ``__main__`` guard), else the platform default.
    """
    x = _check_images(images)
    params = _hog_params_from_dict(hog)
    hue_bins = check_int("hue_bins", hue_bins)
    n_jobs = check_int("n_jobs", n_jobs)
    chunk_size = check_int("chunk_size", chunk_size)
    n, h, w, _ = x.shape
    out = np.empty((n, _hog_length((h, w), params) + hue_bins), dtype=np.float32)
    bounds = [(s, min(s + chunk_size, n)) for s in range(0, n, chunk_size)]
    if n_jobs == 1 or len(bounds) <= 1:
        for s, e in bounds:
            out[s:e] = _features_chunk(x[s:e], params, hue_bins)
        return out
    if start_method is None:
        start_method = "fork" if "fork" in multiprocessing.get_all_start_methods() else None
    ctx = multiprocessing.get_context(start_method)
    with ProcessPoolExecutor(
        max_workers=min(n_jobs, len(bounds)), mp_context=ctx, initializer=_init_worker
    ) as pool:
        chunks = (x[s:e] for s, e in bounds)
        results = pool.map(_features_chunk, chunks, repeat(params), repeat(hue_bins))
        for (s, e), feats in zip(bounds, results):
            out[s:e] = feats
    return out


def feature_names(
    hog: dict | None = None, hue_bins: int = 10, *, image_shape=(32, 32)
) -> list[str]:
    """Column names matching :func:`extract_features` for images of ``image_shape``.

    With 1x1 blocks: ``hog_c{row}_{col}_o{k}`` (cell, orientation bin); with larger
    blocks skimage repeats cells per block: ``hog_b{row}_{col}_c{i}_{j}_o{k}``.  Then
    ``hue_{b}`` for the hue bins.
    """
    params = _hog_params_from_dict(hog)
    hue_bins = check_int("hue_bins", hue_bins)
    if not isinstance(image_shape, (tuple, list)) or len(image_shape) < 2:
        raise ValueError(f"image_shape must be (H, W[, 3]), got {image_shape!r}")
    hw = (check_int("image_shape", image_shape[0]), check_int("image_shape", image_shape[1]))
    nbr, nbc, _, _ = _hog_grid(hw, params)
    br, bc = params["cells_per_block"]
    no = params["orientations"]
    if (br, bc) == (1, 1):
        names = [f"hog_c{r}_{c}_o{k}" for r in range(nbr) for c in range(nbc) for k in range(no)]
    else:
        names = [
            f"hog_b{r}_{c}_c{i}_{j}_o{k}"
            for r in range(nbr)
            for c in range(nbc)
            for i in range(br)
            for j in range(bc)
            for k in range(no)
        ]
    return names + [f"hue_{b}" for b in range(hue_bins)]
