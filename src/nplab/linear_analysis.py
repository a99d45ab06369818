"""Inspecting trained linear classifiers (the course's SVM / softmax questions).

Helpers the linear stage uses to turn weights, scores and confusion matrices into
evidence: class templates as images, per-example losses, where the SVM hinge's kink
spoils a numerical gradient check, and the most confused class pairs.  Shapes follow
:mod:`nplab.linear`: ``W`` (D, C), ``X`` (N, D), integer labels ``y`` (N,).
"""

from __future__ import annotations

import numpy as np

from ._checks import check_number
from .losses import softmax_loss, svm_loss

__all__ = [
    "weights_to_images",
    "per_example_svm_loss",
    "per_example_softmax_loss",
    "svm_margins",
    "near_kink_terms",
    "kink_crossings",
    "zero_hinge_scale",
    "template_correlations",
    "per_class_accuracy",
    "top_confusions",
]


def weights_to_images(W, image_shape=(32, 32, 3), has_bias: bool = True) -> np.ndarray:
    """Class templates as images: ``(C, *image_shape)`` float64 in ``[0, 255]``.

    The bias row (the last row of ``W`` with the bias trick) is stripped, each column is
    reshaped to ``image_shape`` (row-major, i.e. the layout the images were flattened
    with) and all templates are rescaled together with the GLOBAL min and max, as the
    course does, so their brightness can be compared across classes.  A constant ``W``
    gives zeros.
    """
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2:
        raise ValueError(f"W must be 2-D (D, C), got shape {W.shape}")
    Wp = W[:-1] if has_bias else W
    size = int(np.prod(image_shape))
    if Wp.shape[0] != size:
        raise ValueError(
            f"W has {Wp.shape[0]} weight rows{' (bias stripped)' if has_bias else ''}, "
            f"but an image of shape {tuple(image_shape)} has {size} values"
        )
    imgs = Wp.T.reshape((W.shape[1],) + tuple(image_shape))
    lo, hi = float(imgs.min()), float(imgs.max())
    if hi == lo:
        return np.zeros_like(imgs)
    return 255.0 * (imgs - lo) / (hi - lo)


def per_example_svm_loss(scores, y, delta: float = 1.0) -> np.ndarray:
    """``sum_{j != y_i} max(0, s_ij - s_iy + delta)`` for every row (float64, (N,))."""
    m = svm_margins(scores, y, delta)
    return np.maximum(m, 0.0).sum(axis=1)


def per_example_softmax_loss(scores, y) -> np.ndarray:
    """``-log softmax(s_i)[y_i]`` for every row (float64, (N,); stable log-sum-exp)."""
    s = np.asarray(scores, dtype=np.float64)
    softmax_loss(s, y)  # validates shapes and labels
    y = np.asarray(y)
    shifted = s - s.max(axis=1, keepdims=True)
    with np.errstate(under="ignore"):
        lse = np.log(np.exp(shifted).sum(axis=1))
    return lse - shifted[np.arange(len(y)), y]


def svm_margins(scores, y, delta: float = 1.0) -> np.ndarray:
    """Hinge arguments ``s_ij - s_iy + delta`` (float64, (N, C)); the correct class's
    entry (not a hinge term) is ``-inf`` so it never counts as active or near the kink."""
    s = np.asarray(scores, dtype=np.float64)
    svm_loss(s, y, delta=delta)  # validates shapes, labels and delta
    y = np.asarray(y)
    rows = np.arange(len(y))
    m = s - s[rows, y][:, None] + float(delta)
    m[rows, y] = -np.inf
    return m


def near_kink_terms(scores, y, delta: float, h: float) -> int:
    """How many hinge terms have their argument within ``h`` of the kink (``|m| < h``)."""
    m = svm_margins(scores, y, delta)
    return int(np.sum(np.abs(m) < h))


def kink_crossings(W, X, y, delta: float, h: float, coords) -> np.ndarray:
    """For each coordinate ``(d, c)`` of ``W``: the number of hinge terms whose kink lies
    between ``W - h e_dc`` and ``W + h e_dc`` (the two points of a centred difference).

    Moving ``W[d, c]`` by ``t`` moves the score ``s_ic`` by ``t * X[i, d]``: for rows with
    ``y_i != c`` the single term ``(i, c)`` moves, for rows with ``y_i == c`` every other
    term of the row moves the other way.  A term ``m + t a`` is active (``> 0``) at one
    end and inactive at the other exactly when ``m - h|a| <= 0 < m + h|a|``; only then can
    the centred difference differ from the analytic (sub)gradient, which uses ``m > 0``.
    Returns an int64 array with one count per coordinate.
    """
    W = np.asarray(W, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    check_number("h", h, positive=True)
    m = svm_margins(X @ W, y, delta)
    out = []
    for d, c in coords:
        d, c = int(d), int(c)
        if not (0 <= d < W.shape[0] and 0 <= c < W.shape[1]):
            raise ValueError(f"coordinate ({d}, {c}) is outside W of shape {W.shape}")
        a = np.abs(X[:, d]) * h
        own = y == c
        other = ~own
        mc = m[other, c]
        ac = a[other]
        n = int(np.sum((mc - ac <= 0) & (mc + ac > 0) & (ac > 0)))
        mo = m[own]  # (n_own, C); the correct class entry is -inf
        ao = a[own][:, None]
        n += int(np.sum((mo - ao <= 0) & (mo + ao > 0) & (ao > 0)))
        out.append(n)
    return np.asarray(out, dtype=np.int64)


def zero_hinge_scale(W, x, y: int, delta: float = 1.0, has_bias: bool = True):
    """A factor ``alpha >= 1`` such that the point ``(alpha * u, 1)`` (``x = (u, 1)``; the
    bias entry is kept) has every hinge argument strictly below 0, i.e. contributes
    exactly 0 to the SVM loss: ``1.0`` if ``x`` itself already does, otherwise twice the
    smallest such factor.  ``None`` if no scaling can do it (some class's score grows at
    least as fast as the correct one's)."""
    W = np.asarray(W, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    if x.shape != (W.shape[0],):
        raise ValueError(f"x must have shape ({W.shape[0]},), got {x.shape}")
    y = int(y)
    u = x[:-1] if has_bias else x
    Wu = W[:-1] if has_bias else W
    b = (W[-1] - W[-1, y]) if has_bias else np.zeros(W.shape[1])
    a = u @ (Wu - Wu[:, [y]])  # margin slope per class (0 for y)
    b = b + float(delta)
    others = np.arange(W.shape[1]) != y
    if np.all(a[others] + b[others] < 0):
        return 1.0
    if np.any(a[others] >= 0):
        return None
    alpha0 = float(np.max(-b[others] / a[others]))
    return max(1.0, 2.0 * alpha0)


def template_correlations(templates, images) -> np.ndarray:
    """Pearson correlation of every template (rows of ``templates``, (C, P)) with every
    image (rows of ``images``, (K, P)): a (C, K) float64 matrix (0 for a constant row)."""
    T = np.asarray(templates, dtype=np.float64)
    M = np.asarray(images, dtype=np.float64)
    T = T.reshape(T.shape[0], -1)
    M = M.reshape(M.shape[0], -1)
    if T.shape[1] != M.shape[1]:
        raise ValueError(f"templates have {T.shape[1]} values each, images {M.shape[1]}")
    T = T - T.mean(axis=1, keepdims=True)
    M = M - M.mean(axis=1, keepdims=True)
    nt = np.linalg.norm(T, axis=1)
    nm = np.linalg.norm(M, axis=1)
    den = np.outer(nt, nm)
    num = T @ M.T
    return np.divide(num, den, out=np.zeros_like(num), where=den > 0)


def per_class_accuracy(confusion) -> np.ndarray:
    """Diagonal / row sums of a confusion matrix (rows = true class); 0 for empty rows."""
    C = np.asarray(confusion, dtype=np.float64)
    if C.ndim != 2 or C.shape[0] != C.shape[1]:
        raise ValueError(f"confusion must be a square matrix, got shape {C.shape}")
    rows = C.sum(axis=1)
    return np.divide(np.diag(C), rows, out=np.zeros(len(C)), where=rows > 0)


def top_confusions(confusion, k: int = 5) -> list[tuple[int, int, int]]:
    """The ``k`` largest off-diagonal entries as ``(true, predicted, count)``, largest first
    (ties: smaller true class, then smaller predicted class); zero counts are left out."""
    C = np.asarray(confusion)
    if C.ndim != 2 or C.shape[0] != C.shape[1]:
        raise ValueError(f"confusion must be a square matrix, got shape {C.shape}")
    cells = [
        (-int(C[i, j]), i, j)
        for i in range(len(C))
        for j in range(len(C))
        if i != j and C[i, j] > 0
    ]
    cells.sort()
    return [(i, j, -n) for n, i, j in cells[: int(k)]]
