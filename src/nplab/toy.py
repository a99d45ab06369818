"""Two-dimensional toy problems and hand-built threshold networks (question uat-1).

A threshold unit fires (1) when ``w·x + b > 0``: it splits the plane along a line. One
hidden layer of them, read by an output unit that fires only when all of them fire, is
the convex polygon the lines bound. A second hidden layer can build several such convex
pieces and the output can combine them (union, difference), which is how any region is
assembled from half-planes.
"""

from __future__ import annotations

import numpy as np

from nplab._checks import check_int, check_number

__all__ = [
    "ring_dataset",
    "threshold",
    "polygon_units",
    "polygon_net_predict",
    "ring_net_predict",
]


def ring_dataset(n: int, rng: np.random.Generator, r_inner: float = 0.35, r_outer: float = 0.8):
    """``n`` points uniform in [-1, 1]², label 1 inside the ring r_inner < |x| < r_outer.

    The ring is not convex (it has a hole), so no single convex polygon classifies it."""
    n = check_int("n", n)
    r_inner = check_number("r_inner", r_inner, positive=True)
    r_outer = check_number("r_outer", r_outer, positive=True)
    if not r_inner < r_outer:
        raise ValueError(f"r_inner must be < r_outer, got {r_inner} and {r_outer}")
    X = rng.uniform(-1.0, 1.0, size=(n, 2))
    r = np.hypot(X[:, 0], X[:, 1])
    return X, ((r > r_inner) & (r < r_outer)).astype(np.int64)


def threshold(z: np.ndarray) -> np.ndarray:
    """The Heaviside unit: 1.0 where ``z > 0``, else 0.0."""
    return (np.asarray(z) > 0).astype(np.float64)


def polygon_units(k: int, radius: float, phase: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """``(W (2, k), b (k,))`` of k threshold units, unit i firing on the side of the line
    tangent to the circle of ``radius`` at angle ``phase + 2πi/k`` that holds the centre."""
    k = check_int("k", k, 3)
    radius = check_number("radius", radius, positive=True)
    angles = phase + 2.0 * np.pi * np.arange(k) / k
    normals = np.stack([np.cos(angles), np.sin(angles)])  # (2, k)
    return -normals, np.full(k, radius)  # fires iff n_i·x < radius


def _and(hidden: np.ndarray) -> np.ndarray:
    """An output threshold unit firing only when all of its inputs fire."""
    return threshold(hidden.sum(axis=1) - hidden.shape[1] + 0.5)


def polygon_net_predict(X: np.ndarray, k: int, radius: float) -> np.ndarray:
    """One hidden layer (k units) + an AND output: the regular k-gon circumscribing the
    circle of ``radius``. Labels 0/1."""
    W, b = polygon_units(k, radius)
    return _and(threshold(np.asarray(X) @ W + b)).astype(np.int64)


def ring_net_predict(X: np.ndarray, k: int, r_inner: float, r_outer: float) -> np.ndarray:
    """Two hidden layers: 2k half-plane units; two AND units (the outer and the inner
    k-gon); the output fires inside the outer and outside the inner one. Labels 0/1."""
    X = np.asarray(X)
    W_out, b_out = polygon_units(k, r_outer)
    W_in, b_in = polygon_units(k, r_inner)
    inside_outer = _and(threshold(X @ W_out + b_out))
    inside_inner = _and(threshold(X @ W_in + b_in))
    return threshold(inside_outer - inside_inner - 0.5).astype(np.int64)
