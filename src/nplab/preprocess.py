"""Dataset splits and array preprocessing (pure NumPy, no I/O, no global RNG).

Splits follow the CS231n assignment-1 conventions (see the spec, section "Data"):

* CIFAR-10: train = the first ``num_training`` training images, val = the next
  ``num_validation`` ones, test = the first ``num_test`` test images, dev = ``num_dev``
  random training images (drawn without replacement from the train split, seeded).
* MNIST: a seeded permutation of the training images, the first ``1 - val_fraction``
  part is train and the rest is val.  Both index arrays keep the permutation order
  (they are *not* sorted), exactly as a shuffled ``x[perm]`` split would.  Subsetting
  (``max_train`` etc.) is left to the caller: slice the returned arrays.

All transforms preserve the floating dtype they are given (float32 stays float32);
where a dtype has to be created, the caller chooses it.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_float_array, check_float_dtype, check_int

__all__ = [
    "cifar_split_indices",
    "mnist_split_indices",
    "flatten",
    "to_float",
    "scale01",
    "mean_image",
    "subtract_mean",
    "add_bias_column",
    "one_hot",
    "standardize_fit",
    "standardize_apply",
    "channel_stats",
    "normalize_channels",
]


# --------------------------------------------------------------------------- splits
def cifar_split_indices(
    n_train_total: int,
    n_test_total: int,
    *,
    num_training: int = 49000,
    num_validation: int = 1000,
    num_test: int = 1000,
    num_dev: int = 500,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Index arrays (int64) of the canonical CIFAR-10 splits.

    Returns ``dict(train, val, test, dev)``; ``train``/``val``/``dev`` index the
    training set, ``test`` the test set.  ``dev`` is ``num_dev`` distinct indices drawn
    from ``train`` with ``np.random.default_rng(seed)`` (in draw order, not sorted).
    """
    n_train_total = check_int("n_train_total", n_train_total, 0)
    n_test_total = check_int("n_test_total", n_test_total, 0)
    num_training = check_int("num_training", num_training, 0)
    num_validation = check_int("num_validation", num_validation, 0)
    num_test = check_int("num_test", num_test, 0)
    num_dev = check_int("num_dev", num_dev, 0)
    if num_training > n_train_total:
        raise ValueError(f"num_training={num_training} exceeds n_train_total={n_train_total}")
    if num_training + num_validation > n_train_total:
        raise ValueError(
            f"num_validation={num_validation}: num_training + num_validation = "
            f"{num_training + num_validation} exceeds n_train_total={n_train_total}"
        )
    if num_test > n_test_total:
        raise ValueError(f"num_test={num_test} exceeds n_test_total={n_test_total}")
    if num_dev > num_training:
        raise ValueError(
            f"num_dev={num_dev} exceeds num_training={num_training} (dev is drawn from train)"
        )
    rng = np.random.default_rng(seed)
    return {
        "train": np.arange(num_training, dtype=np.int64),
        "val": np.arange(num_training, num_training + num_validation, dtype=np.int64),
        "test": np.arange(num_test, dtype=np.int64),
        "dev": rng.choice(num_training, size=num_dev, replace=False).astype(np.int64),
    }


def mnist_split_indices(
    n_train_total: int, *, val_fraction: float = 0.2, seed: int = 0
) -> dict[str, np.ndarray]:
    """Seeded train/val split of the MNIST training images (int64 index arrays).

    ``perm = np.random.default_rng(seed).permutation(n_train_total)``;
    ``n_val = round(n_train_total * val_fraction)``; train = ``perm[:-n_val]``,
    val = ``perm[-n_val:]`` (both in permutation order, i.e. not sorted).
    Taking ``max_train``/``max_val`` subsets is done by the caller by slicing.
    """
    n = check_int("n_train_total", n_train_total, 0)
    vf = float(val_fraction)
    if not 0.0 < vf < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
    n_val = int(round(n * vf))
    perm = np.random.default_rng(seed).permutation(n).astype(np.int64)
    n_tr = n - n_val
    return {"train": perm[:n_tr], "val": perm[n_tr:]}


# --------------------------------------------------------------------------- transforms
def flatten(x) -> np.ndarray:
    """Reshape (N, ...) to (N, D); a view when the memory layout allows, else a copy."""
    x = np.asarray(x)
    if x.ndim < 2:
        raise ValueError(f"x must have at least 2 dimensions (N, ...), got shape {x.shape}")
    return x.reshape(x.shape[0], -1)


def to_float(x, dtype) -> np.ndarray:
    """Cast to the floating ``dtype`` without rescaling (no copy if already ``dtype``)."""
    dt = check_float_dtype(dtype, "dtype")
    return np.asarray(x).astype(dt, copy=False)


def scale01(x_uint8, dtype) -> np.ndarray:
    """uint8 pixels to [0, 1]: ``x / 255`` computed in the floating ``dtype``."""
    x = np.asarray(x_uint8)
    if x.dtype != np.uint8:
        raise ValueError(f"x_uint8 must have dtype uint8, got {x.dtype}")
    dt = check_float_dtype(dtype, "dtype")
    out = x.astype(dt)
    out /= dt.type(255)
    return out


def mean_image(x_train, dtype=None) -> np.ndarray:
    """Mean over axis 0 (accumulated in float64), returned in ``dtype``.

    ``dtype=None`` means the dtype of ``x_train`` if it is floating, else float64.
    Pass only the TRAIN split: the same mean is then subtracted from every split.
    """
    x = np.asarray(x_train)
    if x.ndim < 1 or x.shape[0] == 0:
        raise ValueError(f"x_train must have at least one row, got shape {x.shape}")
    if dtype is None:
        dt = x.dtype if np.issubdtype(x.dtype, np.floating) else np.dtype(np.float64)
    else:
        dt = check_float_dtype(dtype, "dtype")
    return x.mean(axis=0, dtype=np.float64).astype(dt)


def subtract_mean(x, mean) -> np.ndarray:
    """``x - mean`` (mean broadcast over the first axis), in the dtype of ``x``."""
    x = check_float_array("x", x)
    mean = np.asarray(mean)
    if mean.shape != x.shape[1:]:
        raise ValueError(f"mean must have shape {x.shape[1:]} (x.shape[1:]), got {mean.shape}")
    return x - mean.astype(x.dtype, copy=False)


def add_bias_column(x) -> np.ndarray:
    """Append a column of ones to a 2-D array (N, D) -> (N, D + 1), same dtype."""
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"x must be 2-D (N, D), got shape {x.shape}")
    out = np.empty((x.shape[0], x.shape[1] + 1), dtype=x.dtype)
    out[:, :-1] = x
    out[:, -1] = 1
    return out


def one_hot(y, num_classes: int, dtype=np.float32) -> np.ndarray:
    """(N,) integer labels -> (N, num_classes) one-hot matrix in ``dtype``."""
    num_classes = check_int("num_classes", num_classes, 0)
    if num_classes == 0:
        raise ValueError("num_classes must be >= 1, got 0")
    y = np.asarray(y)
    if y.ndim != 1 or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y must be a 1-D integer array, got shape {y.shape} dtype {y.dtype}")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        bad = y[(y < 0) | (y >= num_classes)][0]
        raise ValueError(f"y must hold labels in [0, {num_classes}), found {bad}")
    out = np.zeros((y.shape[0], num_classes), dtype=dtype)
    out[np.arange(y.shape[0]), y] = 1
    return out


def standardize_fit(x_train, eps: float = 1e-8) -> tuple[np.ndarray, np.ndarray]:
    """Per-column ``(mean, std)`` of the TRAIN features, in the dtype of ``x_train``.

    Computed in float64: ``mean = x.mean(0)``, ``std = x.std(0) + eps`` (the ``eps``
    keeps constant columns finite: they standardise to 0).
    """
    x = check_float_array("x_train", x_train)
    if x.ndim != 2 or x.shape[0] == 0:
        raise ValueError(f"x_train must be 2-D (N, D) with N >= 1, got shape {x.shape}")
    if not eps >= 0:
        raise ValueError(f"eps must be >= 0, got {eps!r}")
    x64 = x.astype(np.float64, copy=False)
    mean = x64.mean(axis=0)
    std = x64.std(axis=0) + eps
    return mean.astype(x.dtype), std.astype(x.dtype)


def standardize_apply(x, mean, std) -> np.ndarray:
    """``(x - mean) / std`` with statistics from :func:`standardize_fit`, dtype of ``x``."""
    x = check_float_array("x", x)
    if x.ndim != 2:
        raise ValueError(f"x must be 2-D (N, D), got shape {x.shape}")
    mean = np.asarray(mean)
    std = np.asarray(std)
    for name, v in (("mean", mean), ("std", std)):
        if v.shape != (x.shape[1],):
            raise ValueError(f"{name} must have shape ({x.shape[1]},), got {v.shape}")
    return (x - mean.astype(x.dtype, copy=False)) / std.astype(x.dtype, copy=False)


# --------------------------------------------------------------------------- channels
_STATS_CHUNK = 1 << 16  # pixels per float64 chunk: bounds the temporary to a few MiB


def channel_stats(x_train, dtype=None) -> tuple[np.ndarray, np.ndarray]:
    """Per-channel ``(mean_c, std_c)`` of TRAIN images with channels last, e.g. NHWC.

    Reduces over every axis but the last.  Accumulated in float64 (two passes over
    chunks, so no float64 copy of the whole set); ``std`` is the population std
    (ddof 0).  ``dtype=None`` means the dtype of ``x_train`` if it is floating, else
    float64 (uint8 pixels are accepted).
    """
    x = np.asarray(x_train)
    if x.ndim < 2 or x.size == 0:
        raise ValueError(f"x_train must be (N, ..., C) with N >= 1, got shape {x.shape}")
    if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
        raise ValueError(f"x_train must be a numeric array, got dtype {x.dtype}")
    if dtype is None:
        dt = x.dtype if np.issubdtype(x.dtype, np.floating) else np.dtype(np.float64)
    else:
        dt = check_float_dtype(dtype, "dtype")
    flat = x.reshape(-1, x.shape[-1])
    mean = flat.mean(axis=0, dtype=np.float64)
    ss = np.zeros_like(mean)
    for i in range(0, flat.shape[0], _STATS_CHUNK):
        d = flat[i : i + _STATS_CHUNK].astype(np.float64) - mean
        ss += np.einsum("ij,ij->j", d, d)
    std = np.sqrt(ss / flat.shape[0])
    return mean.astype(dt), std.astype(dt)


def normalize_channels(x, mean, std, eps: float = 1e-8) -> np.ndarray:
    """``(x - mean_c) / (std_c + eps)`` over the last (channel) axis, in the dtype of ``x``.

    ``mean``/``std`` of shape (C,), from :func:`channel_stats` on the TRAIN split; the
    same statistics normalise every split.  ``std + eps`` is formed in float64.
    """
    x = check_float_array("x", x)
    if x.ndim < 1:
        raise ValueError("x must have a channel axis (last), got a scalar")
    mean = np.asarray(mean)
    std = np.asarray(std)
    c = x.shape[-1]
    for name, v in (("mean", mean), ("std", std)):
        if v.shape != (c,):
            raise ValueError(f"{name} must have shape ({c},) (channels last), got {v.shape}")
    if not eps >= 0:
        raise ValueError(f"eps must be >= 0, got {eps!r}")
    denom = std.astype(np.float64) + eps
    if not (denom > 0).all():
        raise ValueError(f"std + eps must be > 0 in every channel, got {denom}")
    return (x - mean.astype(x.dtype)) / denom.astype(x.dtype)
