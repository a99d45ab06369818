"""Data augmentation for training: random horizontal flips, as a model wrapper.

:class:`HorizontalFlip` wraps a model with the ``loss(X, y=None, reduction=...)``
interface. In TRAIN mode (labels given) each image of the batch is mirrored left-right
with probability ``p``; in TEST mode the input is passed through untouched. Flips draw
from the wrapper's ``rng`` (set it, or let :class:`nplab.solver.Solver` set it; the
wrapped model's own ``rng`` for dropout is then seeded from the same Generator).
Images are rows of ``X`` laid out as ``image_shape`` = (H, W, C) or (H, W).
"""

from __future__ import annotations

import numpy as np

__all__ = ["hflip", "random_hflip", "HorizontalFlip"]


def _check_shape(X: np.ndarray, image_shape) -> tuple[int, ...]:
    shape = tuple(int(s) for s in image_shape)
    if len(shape) not in (2, 3) or int(np.prod(shape)) != int(np.prod(X.shape[1:])):
        raise ValueError(f"image_shape {shape} does not match rows of X with shape {X.shape}")
    return shape


def hflip(X: np.ndarray, image_shape) -> np.ndarray:
    """Every row of ``X`` mirrored left-right (a new array, same shape and dtype)."""
    X = np.asarray(X)
    shape = _check_shape(X, image_shape)
    return np.ascontiguousarray(X.reshape((-1,) + shape)[:, :, ::-1]).reshape(X.shape)


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


class HorizontalFlip:
    """``model`` trained on randomly flipped images (see the module docstring)."""

    def __init__(self, model, image_shape, p: float = 0.5, seed: int = 0):
        if not callable(getattr(model, "loss", None)):
            raise ValueError("model must have a loss(X, y=None, reduction=...) method")
        self.model = model
        self.image_shape = tuple(int(s) for s in image_shape)
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be in [0, 1], got {p!r}")
        self.p = float(p)
        self._rng = np.random.default_rng(seed)

    @property
    def params(self):
        return self.model.params

    @property
    def rng(self) -> np.random.Generator:
        return self._rng

    @rng.setter
    def rng(self, value) -> None:
        if not isinstance(value, np.random.Generator):
            raise ValueError(f"rng must be an np.random.Generator, got {type(value).__name__}")
        self._rng = value
        if hasattr(self.model, "rng"):
            self.model.rng = np.random.default_rng(value.integers(0, 2**63))

    def __getattr__(self, name):  # bn_params, predict helpers, ... of the wrapped model
        if name == "model":
            raise AttributeError(name)
        return getattr(self.model, name)

    def loss(self, X, y=None, reduction: str = "mean"):
        if y is not None and self.p > 0:
            X = random_hflip(X, self.image_shape, self._rng, self.p)
        return self.model.loss(X, y, reduction=reduction)

    def predict(self, X, batch_size: int = 1000) -> np.ndarray:
        return self.model.predict(X, batch_size=batch_size)
