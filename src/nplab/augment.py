"""Data augmentation for training: per-batch random transforms and model wrappers.

Layout.  Transforms work on NHWC batches ``(N, H, W, C)``.  Flat rows ``(N, H*W*C)`` are
accepted wherever an ``image_shape`` = (H, W, C) or (H, W) is given (the pipeline stores
CIFAR images as flattened HWC rows); the result then has the input's shape again.

Randomness.  Every transform draws from the ``np.random.Generator`` it is called with, so a
run is reproducible from its seed.  Parameters are drawn per image, in a fixed order, with
vectorised calls.  A transform with probability ``p`` < 1 first draws ``rng.random(N) < p``
and transforms only the selected images; ``p == 1`` skips that draw and ``p == 0`` is the
identity without any draw.  ``hflip``/``vflip`` always draw ``rng.random(N) < p`` (as
:func:`random_hflip` does).  A range given as ``lo == hi`` is a constant and draws nothing.

Dtypes.  Shapes and dtypes are kept (float32 in, float32 out); transforms never modify their
input.  Flips, ``crop`` and ``cutout`` accept any dtype; the others need float32 or float64.

Input range.  What each transform assumes about pixel values:

* ``hflip``, ``vflip``: nothing.
* ``crop``, ``rotate``, ``affine``, ``rescale``, ``cutout``: nothing, but the area they
  uncover gets ``fill`` (default 0) *in the input's space*: black for raw pixels, the mean
  for mean-centred or standardised data.
* ``noise``: ``sigma`` is in the input's units (0.05 on [0, 1] pixels ~ 13/255).
* ``color_jitter``: raw, non-negative RGB intensities (0 = black) on any scale ([0, 1] or
  [0, 255]); all four operations are linear maps that fix black or the grey axis, so they
  are wrong on mean-centred data.  Augment BEFORE normalising: give :class:`Augmented` the
  normalisation (``normalize=(mean_c, std_c)``) and feed it un-normalised images.
  ``clip=(0, 1)`` (or (0, 255)) keeps the result in the pixel range.

Interpolation (``rotate``, ``affine``, ``rescale``) is scikit-image's :func:`warp` with an
inverse affine matrix, one call per image (its Cython bilinear/bicubic path), at roughly
0.05-0.1 ms per 32x32x3 image: use ``p`` < 1 if that dominates a training step.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence

import numpy as np

from ._checks import check_generator, check_int, check_real, generator_property
from .nets import predict_in_batches
from .preprocess import normalize_channels

__all__ = [
    "hflip",
    "random_hflip",
    "as_images",
    "Transform",
    "HFlip",
    "VFlip",
    "RandomCrop",
    "RandomAffine",
    "Rotate",
    "Rescale",
    "ColorJitter",
    "GaussianNoise",
    "Cutout",
    "TRANSFORMS",
    "Pipeline",
    "build_pipeline",
    "Augmented",
    "HorizontalFlip",
]

# ITU-R BT.601 luma weights: torchvision's grayscale and the Y row of YIQ.
_LUMA = np.array([0.299, 0.587, 0.114])
# RGB -> YIQ (FCC NTSC); the I and Q rows sum to 0, so grey pixels have no chroma.
_YIQ = np.array([_LUMA, [0.5959, -0.2746, -0.3213], [0.2115, -0.5227, 0.3112]])
_YIQ_INV = np.linalg.inv(_YIQ)


# --------------------------------------------------------------------------- row helpers
def _check_shape(X: np.ndarray, image_shape) -> tuple[int, ...]:
    shape = tuple(int(s) for s in image_shape)
    if len(shape) not in (2, 3) or int(np.prod(shape)) != int(np.prod(X.shape[1:])):
        raise ValueError(f"image_shape {shape} does not match rows of X with shape {X.shape}")
    return shape


def hflip(X: np.ndarray, image_shape=None) -> np.ndarray:
    """Every image of ``X`` mirrored left-right (a new array, same shape and dtype); ``X``
    and ``image_shape`` as in :func:`as_images`."""
    X = np.asarray(X)
    return np.ascontiguousarray(as_images(X, image_shape)[:, :, ::-1]).reshape(X.shape)


def random_hflip(
    X: np.ndarray, image_shape, rng: np.random.Generator, p: float = 0.5
) -> np.ndarray:
    """A copy of ``X`` with each row mirrored with probability ``p``."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1], got {p!r}")
    X = np.asarray(X)
    shape = _check_shape(X, image_shape)
    flip = rng.random(X.shape[0]) < p
    out = X.copy()
    if flip.any():
        imgs = out.reshape((-1,) + shape)
        imgs[flip] = imgs[flip][:, :, ::-1]
    return out


def as_images(X, image_shape=None) -> np.ndarray:
    """``X`` as an NHWC batch (a view when possible): 4-D as is, else rows of ``image_shape``.

    ``image_shape`` (H, W) gives a single channel, (N, H, W, 1).
    """
    X = np.asarray(X)
    if image_shape is None:
        if X.ndim != 4:
            raise ValueError(
                f"X must be an NHWC batch (N, H, W, C) or rows with an image_shape, "
                f"got shape {X.shape}"
            )
        return X
    shape = _check_shape(X, image_shape)
    return X.reshape((X.shape[0],) + shape + ((1,) if len(shape) == 2 else ()))


# --------------------------------------------------------------------------- validation
def _pair(name: str, value, lo: float = -np.inf, hi: float = np.inf) -> tuple[float, float]:
    """A (lo, hi) range with both ends in [lo, hi] and lo <= hi."""
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2:
        raise ValueError(f"{name} must be a pair (low, high), got {value!r}")
    a, b = (check_real(name, v, lo, hi) for v in value)
    if a > b:
        raise ValueError(f"{name} must have low <= high, got {value!r}")
    return a, b


def _sym_range(name: str, value, hi: float = np.inf) -> tuple[float, float]:
    """A number m >= 0 means (-m, m); a pair is taken as given."""
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return _pair(name, value, -hi, hi)
    m = check_real(name, value, 0.0, hi)
    return -m, m


def _factor_range(name: str, value) -> tuple[float, float]:
    """torchvision's jitter strength: b >= 0 means factors in [max(0, 1 - b), 1 + b]."""
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return _pair(name, value, 0.0)
    b = check_real(name, value, 0.0)
    return max(0.0, 1.0 - b), 1.0 + b


def _fractions(name: str, value) -> tuple[float, float]:
    """A number t in [0, 1] means (t, t); else a pair (tx, ty), each in [0, 1]."""
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        if len(value) != 2:
            raise ValueError(f"{name} must be a number or a pair (x, y), got {value!r}")
        return check_real(name, value[0], 0.0, 1.0), check_real(name, value[1], 0.0, 1.0)
    t = check_real(name, value, 0.0, 1.0)
    return t, t


def _clip(value) -> tuple[float, float] | None:
    return None if value is None else _pair("clip", value)


def _check_float(name: str, x: np.ndarray) -> None:
    if x.dtype not in (np.float32, np.float64):
        raise ValueError(f"{name} needs float32 or float64 images, got dtype {x.dtype}")


def _uniform(rng: np.random.Generator, lo: float, hi: float, n: int) -> np.ndarray:
    # A degenerate range is a constant and draws nothing (keeps streams short and exact).
    return np.full(n, lo) if lo == hi else rng.uniform(lo, hi, n)


# --------------------------------------------------------------------------- transforms
class Transform:
    """Base class: ``t(x, rng)`` maps an NHWC batch to a new one of the same shape/dtype.

    Subclasses implement ``_apply(x, rng)`` on the images selected with probability ``p``.
    """

    name = ""

    def __init__(self, *, p: float = 1.0):
        self.p = check_real("p", p, 0.0, 1.0)

    def __call__(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self.p == 0.0 or x.shape[0] == 0:
            return x
        if self.p == 1.0:
            return self._apply(x, rng)
        sel = np.flatnonzero(rng.random(x.shape[0]) < self.p)
        out = x.copy()
        if sel.size:
            out[sel] = self._apply(x[sel], rng)
        return out

    def _apply(self, x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        raise NotImplementedError

    def config(self) -> dict:
        """``{"name": ..., **params}``: what :func:`build_pipeline` rebuilds it from."""
        params = inspect.signature(type(self)).parameters
        return {"name": self.name} | {k: getattr(self, k) for k in params}

    def __repr__(self) -> str:
        cfg = self.config()
        args = ", ".join(f"{k}={v!r}" for k, v in cfg.items() if k != "name")
        return f"{type(self).__name__}({args})"


class HFlip(Transform):
    """Mirror left-right with probability ``p`` (draws ``rng.random(N) < p`` once)."""

    name = "hflip"

    def __init__(self, *, p: float = 0.5):
        super().__init__(p=p)

    def __call__(self, x, rng):
        if self.p == 0.0:  # HorizontalFlip with p = 0 never drew: keep it so
            return x
        flip = rng.random(x.shape[0]) < self.p
        out = x.copy()
        if flip.any():
            out[flip] = x[flip][:, :, ::-1]
        return out


class VFlip(HFlip):
    """Mirror top-bottom with probability ``p`` (draws ``rng.random(N) < p`` once)."""

    name = "vflip"

    def __call__(self, x, rng):
        if self.p == 0.0:
            return x
        flip = rng.random(x.shape[0]) < self.p
        out = x.copy()
        if flip.any():
            out[flip] = x[flip][:, ::-1]
        return out


class RandomCrop(Transform):
    """Pad by ``pad`` pixels of ``fill`` on every side, crop a random H x W window back.

    Offsets are ``rng.integers(0, 2 * pad + 1, (N, 2))`` (rows, cols); ``pad = 0`` is the
    identity.
    """

    name = "crop"

    def __init__(self, *, pad: int = 4, fill: float = 0.0, p: float = 1.0):
        super().__init__(p=p)
        self.pad = check_int("pad", pad, 0)
        self.fill = check_real("fill", fill)

    def _apply(self, x, rng):
        n, h, w, _ = x.shape
        k = self.pad
        if k == 0:
            return x.copy()
        padded = np.pad(x, ((0, 0), (k, k), (k, k), (0, 0)), constant_values=self.fill)
        off = rng.integers(0, 2 * k + 1, size=(n, 2))
        out = np.empty_like(x)
        # One slice copy per image is faster than a fancy-index gather at these sizes.
        for i, (r, c) in enumerate(off):
            out[i] = padded[i, r : r + h, c : c + w]
        return out


def _warp_batch(x: np.ndarray, inv: np.ndarray, fill: float, order: int) -> np.ndarray:
    """Each image resampled at ``inv[i] @ (col, row, 1)`` (scikit-image's warp)."""
    # Imported on first use: scikit-image (and SciPy under it) takes ~0.4 s to import, which
    # every training job would pay, and only rotate / affine / rescale need it.
    from skimage.transform import warp

    out = np.empty_like(x)
    for i in range(x.shape[0]):
        # clip=False: order 1 cannot overshoot; order 3 may, and is left unclipped on purpose.
        out[i] = warp(
            x[i], inv[i], order=order, mode="constant", cval=fill, clip=False, preserve_range=True
        )
    return out


def _affine_inverse(lin: np.ndarray, shift: np.ndarray, h: int, w: int) -> np.ndarray:
    """Inverse 3x3 maps (x=col, y=row) of ``out = c + shift + lin (in - c)``, c = centre."""
    c = np.array([(w - 1) / 2.0, (h - 1) / 2.0])
    b = np.linalg.inv(lin)
    inv = np.zeros((lin.shape[0], 3, 3))
    inv[:, :2, :2] = b
    inv[:, :2, 2] = c - np.einsum("nij,nj->ni", b, c + shift)
    inv[:, 2, 2] = 1.0
    return inv


class RandomAffine(Transform):
    """Random rotation, translation, isotropic scale and x-shear about the image centre.

    ``degrees``: m (angles uniform in [-m, m]) or (lo, hi); positive = counter-clockwise
    as displayed (row 0 on top, like ``np.rot90``).  ``translate``: t or (tx, ty), the
    largest shift as a fraction of W (x) and H (y).  ``scale``: (lo, hi) zoom factor.
    ``shear``: m or (lo, hi), x-shear angle in degrees.  ``order``: 1 bilinear or 3
    bicubic (scikit-image's fast paths).  Uncovered pixels get ``fill``.
    """

    name = "affine"

    def __init__(
        self,
        *,
        degrees=0.0,
        translate=0.0,
        scale=(1.0, 1.0),
        shear=0.0,
        fill: float = 0.0,
        order: int = 1,
        p: float = 1.0,
    ):
        super().__init__(p=p)
        self.degrees = _sym_range("degrees", degrees)
        self.translate = _fractions("translate", translate)
        self.scale = _pair("scale", scale, 0.0)
        if self.scale[0] <= 0.0:
            raise ValueError(f"scale must be > 0, got {scale!r}")
        self.shear = _sym_range("shear", shear, 89.0)
        self.fill = check_real("fill", fill)
        if order not in (1, 3) or isinstance(order, bool):
            raise ValueError(f"order must be 1 (bilinear) or 3 (bicubic), got {order!r}")
        self.order = int(order)

    def _linear(self, rng, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Forward linear parts (N, 2, 2) and shifts (N, 2) in (x, y) pixel units."""
        theta = np.deg2rad(_uniform(rng, *self.degrees, n))
        tx = _uniform(rng, -self.translate[0], self.translate[0], n)
        ty = _uniform(rng, -self.translate[1], self.translate[1], n)
        s = _uniform(rng, *self.scale, n)
        sh = np.tan(np.deg2rad(_uniform(rng, *self.shear, n)))
        cos, sin = np.cos(theta), np.sin(theta)
        # y points down, so [[cos, sin], [-sin, cos]] turns counter-clockwise on screen.
        rot = np.stack([np.stack([cos, sin], -1), np.stack([-sin, cos], -1)], -2)
        shear = np.zeros((n, 2, 2))
        shear[:, 0, 0] = shear[:, 1, 1] = 1.0
        shear[:, 0, 1] = sh
        return rot @ shear * s[:, None, None], np.stack([tx, ty], -1)

    def _apply(self, x, rng):
        _check_float(self.name, x)
        n, h, w, _ = x.shape
        lin, shift = self._linear(rng, n)
        shift *= (w, h)
        return _warp_batch(x, _affine_inverse(lin, shift, h, w), self.fill, self.order)


class Rotate(RandomAffine):
    """Random rotation by an angle uniform in [-degrees, degrees] (or (lo, hi)) degrees."""

    name = "rotate"

    def __init__(self, *, degrees=15.0, fill: float = 0.0, order: int = 1, p: float = 1.0):
        super().__init__(degrees=degrees, fill=fill, order=order, p=p)


class Rescale(Transform):
    """Zoom by s ~ U(scale) then crop (s > 1) or pad with ``fill`` (s < 1) back to H x W.

    The window (or the shrunken image) sits at a uniformly random position; the pixel
    grid is aligned by pixel edges, so s = 1 is the identity.  A zoomed-in window stays
    within the outer pixel centres, so only s < 1 shows ``fill``.
    """

    name = "rescale"

    def __init__(self, *, scale=(0.8, 1.2), fill: float = 0.0, order: int = 1, p: float = 1.0):
        super().__init__(p=p)
        self.scale = _pair("scale", scale, 0.0)
        if self.scale[0] <= 0.0:
            raise ValueError(f"scale must be > 0, got {scale!r}")
        self.fill = check_real("fill", fill)
        if order not in (1, 3) or isinstance(order, bool):
            raise ValueError(f"order must be 1 (bilinear) or 3 (bicubic), got {order!r}")
        self.order = int(order)

    def _apply(self, x, rng):
        _check_float(self.name, x)
        n, h, w, _ = x.shape
        s = _uniform(rng, *self.scale, n)[:, None]
        size = np.array([w, h], dtype=float)
        # The zoomed image spans [pos, pos + s * size] in output edge coordinates.  When
        # zooming in, the window keeps the samples between the outer pixel centres, so
        # no fill leaks in at the border (the range shrinks by (s - 1) / 2 at each end).
        lo = np.where(s >= 1, (size - 0.5) * (1 - s), 0.0)
        hi = np.where(s >= 1, 0.5 * (1 - s), size * (1 - s))
        pos = lo + rng.random((n, 2)) * (hi - lo)
        inv = np.zeros((n, 3, 3))
        inv[:, 0, 0] = inv[:, 1, 1] = 1.0 / s[:, 0]
        inv[:, :2, 2] = (0.5 - pos) / s - 0.5
        inv[:, 2, 2] = 1.0
        return _warp_batch(x, inv, self.fill, self.order)


def _mean_pixel(x: np.ndarray) -> np.ndarray:
    """(N, C) mean pixel of each image, as float64.

    A product with ones: numpy's reductions over the middle axes of NHWC are ~50x
    slower, and float32 accuracy is ample for a random contrast factor.
    """
    n, h, w, c = x.shape
    ones = np.ones((1, h * w), dtype=x.dtype)
    return (ones @ x.reshape(n, h * w, c))[:, 0].astype(np.float64) / (h * w)


def _hue_matrices(delta: np.ndarray) -> np.ndarray:
    """(N, 3, 3) RGB maps rotating chroma (I, Q of YIQ) by ``2 pi delta``; luma is kept.

    Written as I + T^-1 (R - I) T so that delta = 0 gives the identity exactly.
    """
    t = 2.0 * np.pi * delta
    rmi = np.zeros((delta.shape[0], 3, 3))
    rmi[:, 1, 1] = rmi[:, 2, 2] = np.cos(t) - 1.0
    rmi[:, 1, 2] = -np.sin(t)
    rmi[:, 2, 1] = np.sin(t)
    return np.eye(3) + _YIQ_INV @ rmi @ _YIQ


class ColorJitter(Transform):
    """Brightness, contrast, saturation and hue changes, in this fixed order.

    Strength b >= 0 means a factor f ~ U[max(0, 1 - b), 1 + b] (or give (lo, hi)):
    brightness x -> f x; contrast x -> f x + (1 - f) m with m the image's mean luma;
    saturation x -> f x + (1 - f) luma(x); luma is BT.601 (0.299, 0.587, 0.114).  Hue
    h in [0, 0.5] shifts hue by d ~ U[-h, h] turns (or (lo, hi)) as a rotation of the I/Q
    chroma plane of YIQ: linear and vectorised (no HSV round trip), keeps luma and greys,
    close to but not exactly an HSV hue shift.  Every step is linear in x (the contrast
    mean too), so the four compose into one per-image affine colour map applied once;
    ``clip=(lo, hi)`` clips the result (torchvision clips after every step instead).
    Assumes raw non-negative intensities (see the module docstring); saturation and hue
    need C = 3 (RGB), brightness and contrast also work with C = 1.
    """

    name = "color_jitter"

    def __init__(
        self,
        *,
        brightness=0.0,
        contrast=0.0,
        saturation=0.0,
        hue=0.0,
        clip=None,
        p: float = 1.0,
    ):
        super().__init__(p=p)
        self.brightness = _factor_range("brightness", brightness)
        self.contrast = _factor_range("contrast", contrast)
        self.saturation = _factor_range("saturation", saturation)
        self.hue = _sym_range("hue", hue, 0.5)
        self.clip = _clip(clip)

    def _colour_maps(self, x, rng) -> tuple[np.ndarray, np.ndarray]:
        """Per-image (A, o) with result = A @ pixel + o, drawn in the documented order."""
        n, c = x.shape[0], x.shape[-1]
        luma = _LUMA if c == 3 else np.ones(1)
        a = np.broadcast_to(np.eye(c), (n, c, c)).copy()
        o = np.zeros((n, c))
        f = _uniform(rng, *self.brightness, n)[:, None]
        a, o = a * f[:, :, None], o * f
        if self.contrast != (1.0, 1.0):
            f = _uniform(rng, *self.contrast, n)[:, None]
            # The mean pixel is linear in x, so the contrast mean follows through (A, o).
            mean = _mean_pixel(x)
            m = (np.einsum("nij,nj->ni", a, mean) + o) @ luma
            a, o = a * f[:, :, None], o * f + (1.0 - f) * m[:, None]
        if self.saturation != (1.0, 1.0):
            f = _uniform(rng, *self.saturation, n)[:, None, None]
            sat = f * np.eye(3) + (1.0 - f) * np.outer(np.ones(3), _LUMA)
            a, o = sat @ a, np.einsum("nij,nj->ni", sat, o)
        if self.hue != (0.0, 0.0):
            hue = _hue_matrices(_uniform(rng, *self.hue, n))
            a, o = hue @ a, np.einsum("nij,nj->ni", hue, o)
        return a, o

    def _apply(self, x, rng):
        _check_float(self.name, x)
        n, h, w, c = x.shape
        if c != 3 and (self.saturation != (1.0, 1.0) or self.hue != (0.0, 0.0)):
            raise ValueError(
                f"color_jitter: saturation and hue need RGB images (C = 3), got C = {c}"
            )
        if c not in (1, 3):
            raise ValueError(f"color_jitter needs C = 1 or 3 channels, got C = {c}")
        a, o = self._colour_maps(x, rng)
        out = x.reshape(n, h * w, c) @ np.ascontiguousarray(a.transpose(0, 2, 1), x.dtype)
        out += o[:, None, :].astype(x.dtype)
        if self.clip is not None:
            np.clip(out, *self.clip, out=out)
        return out.reshape(x.shape)


class GaussianNoise(Transform):
    """Add N(0, sigma^2) noise to every value (sigma in the input's units), then ``clip``."""

    name = "noise"

    def __init__(self, *, sigma: float = 0.05, clip=None, p: float = 1.0):
        super().__init__(p=p)
        self.sigma = check_real("sigma", sigma, 0.0)
        self.clip = _clip(clip)

    def _apply(self, x, rng):
        _check_float(self.name, x)
        out = x + x.dtype.type(self.sigma) * rng.standard_normal(x.shape, dtype=x.dtype)
        if self.clip is not None:
            np.clip(out, *self.clip, out=out)
        return out


class Cutout(Transform):
    """Set a ``size`` x ``size`` square to ``fill`` (all channels) in every image.

    ``inside=False`` (DeVries & Taylor): the square's centre pixel is uniform over the
    image and the square is clipped at the borders (rows cy - size//2 ... + size - 1);
    ``inside=True``: its top-left corner is uniform over the positions keeping it whole.
    """

    name = "cutout"

    def __init__(self, *, size: int = 8, fill: float = 0.0, inside: bool = False, p: float = 1.0):
        super().__init__(p=p)
        self.size = check_int("size", size, 1)
        self.fill = check_real("fill", fill)
        if not isinstance(inside, (bool, np.bool_)):
            raise ValueError(f"inside must be a bool, got {inside!r}")
        self.inside = bool(inside)

    def _apply(self, x, rng):
        n, h, w, _ = x.shape
        k = self.size
        if self.inside:
            if k > min(h, w):
                raise ValueError(f"cutout: size {k} does not fit inside {h}x{w} images")
            top = rng.integers(0, (h - k + 1, w - k + 1), size=(n, 2))
        else:
            top = rng.integers(0, (h, w), size=(n, 2)) - k // 2
        rows = np.arange(h) - top[:, :1]  # (N, H): row offset inside the square
        cols = np.arange(w) - top[:, 1:]
        mask = ((rows >= 0) & (rows < k))[:, :, None] & ((cols >= 0) & (cols < k))[:, None, :]
        return np.where(mask[..., None], x.dtype.type(self.fill), x)


_CLASSES = (HFlip, VFlip, RandomCrop, Rotate, RandomAffine, Rescale, ColorJitter, GaussianNoise)
TRANSFORMS: dict[str, type[Transform]] = {t.name: t for t in _CLASSES + (Cutout,)}
_ALIASES = {"colour_jitter": "color_jitter"}


# --------------------------------------------------------------------------- pipeline
class Pipeline:
    """Transforms applied in order: ``pipeline(X, rng, image_shape=None)``.

    ``X``: an NHWC batch, or rows with ``image_shape``; the result has ``X``'s shape and
    dtype (``X`` itself is never modified).  An empty pipeline returns ``X``.
    """

    def __init__(self, transforms: Sequence[Transform] = ()):
        self.transforms = list(transforms)
        for t in self.transforms:
            if not isinstance(t, Transform):
                raise ValueError(f"pipeline items must be Transform objects, got {t!r}")

    def __call__(self, X, rng: np.random.Generator, image_shape=None) -> np.ndarray:
        check_generator("rng", rng)
        X = np.asarray(X)
        imgs = out = as_images(X, image_shape)
        for t in self.transforms:
            out = t(out, rng)
        return X if out is imgs else out.reshape(X.shape)

    def config(self) -> list[dict]:
        return [t.config() for t in self.transforms]

    def __len__(self) -> int:
        return len(self.transforms)

    def __iter__(self):
        return iter(self.transforms)

    def __repr__(self) -> str:
        return f"Pipeline({self.transforms!r})"


def _build_one(i: int, item) -> Transform:
    if not isinstance(item, dict):
        raise ValueError(f"augmentation {i}: expected a dict with a 'name', got {item!r}")
    if "name" not in item:
        raise ValueError(f"augmentation {i}: missing 'name' (one of {', '.join(TRANSFORMS)})")
    if not isinstance(item["name"], str):
        raise ValueError(f"augmentation {i}: 'name' must be a string, got {item['name']!r}")
    name = _ALIASES.get(item["name"], item["name"])
    if name not in TRANSFORMS:
        raise ValueError(
            f"augmentation {i}: unknown transform {item['name']!r} (known: {', '.join(TRANSFORMS)})"
        )
    cls = TRANSFORMS[name]
    allowed = list(inspect.signature(cls).parameters)
    params = {k: v for k, v in item.items() if k != "name"}
    for k in params:
        if k not in allowed:
            raise ValueError(
                f"augmentation {i} ({name!r}): unknown parameter {k!r} "
                f"(allowed: {', '.join(allowed)})"
            )
    try:
        return cls(**params)
    except ValueError as exc:
        raise ValueError(f"augmentation {i} ({name!r}): {exc}") from None


def build_pipeline(config: Sequence[dict] | None) -> Pipeline:
    """A :class:`Pipeline` from ``[{"name": "hflip", "p": 0.5}, {"name": "crop", "pad": 4}]``.

    Names and parameters: see :data:`TRANSFORMS` and each class.  Errors name the item's
    index, the transform and the parameter.
    """
    if config is None:
        return Pipeline()
    if isinstance(config, (dict, str)) or not isinstance(config, Sequence):
        raise ValueError(f"augmentation config must be a list of dicts, got {config!r}")
    return Pipeline([_build_one(i, item) for i, item in enumerate(config)])


# --------------------------------------------------------------------------- wrappers
class Augmented:
    """``model`` trained on augmented batches, optionally normalised after augmentation.

    TRAIN mode (``loss(X, y)`` with labels): ``X`` -> ``pipeline`` (drawing from ``rng``)
    -> ``normalize`` -> the model.  TEST mode (``loss(X)``, :meth:`predict`): only
    ``normalize``; without one, ``X`` reaches the model untouched (the same object).
    ``X`` is an NHWC batch, or rows with ``image_shape``; the model gets ``X``'s shape.

    ``pipeline``: a :class:`Pipeline` or a config list for :func:`build_pipeline`.
    ``normalize``: None, ``(mean_c, std_c)`` (per-channel, see
    :func:`nplab.preprocess.normalize_channels`, default eps) or a function of an NHWC
    batch.  With a normalisation the caller feeds raw images: to evaluate, use this
    wrapper's ``loss``/``predict``, not the bare model's.

    ``rng`` (settable, e.g. by :class:`nplab.solver.Solver`) drives the augmentation;
    setting it also seeds the wrapped model's ``rng`` (dropout) from it.

    ``test_hflip``: test-time augmentation. TEST mode scores each image as the mean of the
    model's class scores for it and for its left-right mirror image (no randomness), so
    :meth:`predict` and the Solver's accuracies see those averaged scores.
    """

    def __init__(
        self,
        model,
        pipeline,
        image_shape=None,
        *,
        normalize=None,
        seed: int = 0,
        test_hflip: bool = False,
    ):
        if not callable(getattr(model, "loss", None)):
            raise ValueError("model must have a loss(X, y=None, reduction=...) method")
        if not isinstance(test_hflip, (bool, np.bool_)):
            raise ValueError(f"test_hflip must be True or False, got {test_hflip!r}")
        self.test_hflip = bool(test_hflip)
        self.model = model
        self.pipeline = pipeline if isinstance(pipeline, Pipeline) else build_pipeline(pipeline)
        if image_shape is not None:
            image_shape = tuple(int(s) for s in image_shape)
            if len(image_shape) not in (2, 3) or min(image_shape) < 1:
                raise ValueError(f"image_shape must be (H, W, C) or (H, W), got {image_shape}")
        self.image_shape = image_shape
        self.normalize = self._normalizer(normalize)
        self._rng = np.random.default_rng(seed)

    @staticmethod
    def _normalizer(normalize) -> Callable[[np.ndarray], np.ndarray] | None:
        if normalize is None or callable(normalize):
            return normalize
        if isinstance(normalize, Sequence) and len(normalize) == 2:
            mean, std = (np.asarray(v) for v in normalize)
            return lambda x: normalize_channels(x, mean, std)
        raise ValueError(f"normalize must be None, (mean, std) or a function, got {normalize!r}")

    @property
    def params(self):
        return self.model.params

    def _seed_model(self, rng: np.random.Generator) -> None:
        if hasattr(self.model, "rng"):
            self.model.rng = np.random.default_rng(rng.integers(0, 2**63))

    rng = generator_property(
        "Drives the augmentation; setting it also seeds the model's.", _seed_model
    )

    def __getattr__(self, name):  # bn_params, predict helpers, ... of the wrapped model
        if name == "model":
            raise AttributeError(name)
        return getattr(self.model, name)

    def _normalized(self, X):
        if self.normalize is None:
            return X
        X = np.asarray(X)
        return self.normalize(as_images(X, self.image_shape)).reshape(X.shape)

    def loss(self, X, y=None, reduction: str = "mean"):
        if y is not None:
            X = self.pipeline(X, self._rng, self.image_shape)
            return self.model.loss(self._normalized(X), y, reduction=reduction)
        scores = self.model.loss(self._normalized(X))
        if self.test_hflip:
            mirrored = hflip(X, self.image_shape)
            scores = 0.5 * (scores + self.model.loss(self._normalized(mirrored)))
        return scores

    def predict(self, X, batch_size: int = 1000) -> np.ndarray:
        if not self.test_hflip:
            return self.model.predict(self._normalized(X), batch_size=batch_size)
        return predict_in_batches(self, X, batch_size)  # through loss: the averaged scores


class HorizontalFlip(Augmented):
    """``model`` trained on images mirrored left-right with probability ``p``.

    The pipeline ``[hflip(p)]``: one ``rng.random(N) < p`` per training batch (none when
    ``p == 0``), bit-identical to :func:`random_hflip`.  Rows of ``X`` are images of
    ``image_shape`` = (H, W, C) or (H, W).
    """

    def __init__(self, model, image_shape, p: float = 0.5, seed: int = 0):
        if not callable(getattr(model, "loss", None)):
            raise ValueError("model must have a loss(X, y=None, reduction=...) method")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be in [0, 1], got {p!r}")
        super().__init__(model, Pipeline([HFlip(p=p)]), image_shape, seed=seed)
        self.p = float(p)
