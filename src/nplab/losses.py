"""Classification losses on a score matrix, and weight penalties.

Every loss takes ``scores`` (N, C) (floating; its dtype is kept) and integer labels
``y`` (N,) in ``[0, C)``, and returns ``(loss, dscores)`` with ``loss`` a Python float
and ``dscores`` the gradient of ``loss`` w.r.t. ``scores``.  ``reduction="mean"``
divides the summed per-example losses by N, ``"sum"`` does not.

:func:`penalty` follows the NETWORK convention (``0.5 * reg * sum(w**2)``); the linear
classifiers in :mod:`nplab.linear` use the course's ``reg * sum(W**2)`` instead.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_choice, check_number

__all__ = ["softmax_loss", "svm_loss", "mse_softmax_loss", "LOSSES", "penalty"]


def _check_inputs(scores, y, reduction: str):
    scores = np.asarray(scores)
    if not np.issubdtype(scores.dtype, np.floating):
        raise ValueError(f"scores must be a floating array, got dtype {scores.dtype}")
    if scores.ndim != 2:
        raise ValueError(f"scores must be 2-D (N, C), got shape {scores.shape}")
    y = np.asarray(y)
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"y must be an integer label array, got dtype {y.dtype}")
    n, c = scores.shape
    if y.shape != (n,):
        raise ValueError(f"y must have shape ({n},) to match scores, got {y.shape}")
    if n == 0:
        raise ValueError("scores must have at least one row")
    if y.min() < 0 or y.max() >= c:
        raise ValueError(f"y must hold labels in [0, {c}), got values in [{y.min()}, {y.max()}]")
    check_choice("reduction", reduction, ("mean", "sum"))
    return scores, y


def _softmax(scores: np.ndarray) -> np.ndarray:
    """Row-wise softmax, shifted by the row max (new array, scores' dtype)."""
    p = scores - scores.max(axis=1, keepdims=True)
    with np.errstate(under="ignore"):
        np.exp(p, out=p)
    p /= p.sum(axis=1, keepdims=True)
    return p


def softmax_loss(scores, y, reduction: str = "mean"):
    """Cross-entropy of the softmax: per example ``-log softmax(scores)[y]``.

    Stable: scores are shifted by their row max and the log-sum-exp is taken on the
    shifted values.  ``dscores = softmax(scores) - onehot(y)`` (divided by N for "mean").
    """
    scores, y = _check_inputs(scores, y, reduction)
    n = scores.shape[0]
    rows = np.arange(n)
    shifted = scores - scores.max(axis=1, keepdims=True)
    with np.errstate(under="ignore"):  # exp of very negative shifted scores -> 0 is fine
        e = np.exp(shifted)
    sums = e.sum(axis=1)
    loss = float(np.sum(np.log(sums) - shifted[rows, y]))
    dscores = e
    dscores /= sums[:, None]
    dscores[rows, y] -= 1
    if reduction == "mean":
        loss /= n
        dscores /= n
    return loss, dscores


def svm_loss(scores, y, delta: float = 1.0, reduction: str = "mean"):
    """Multiclass hinge (Weston-Watkins): per example ``sum_{j != y} max(0, s_j - s_y + delta)``.

    Subgradient: +1 on every class with a positive margin, minus their count on the
    correct class (a margin of exactly 0 counts as inactive).
    """
    scores, y = _check_inputs(scores, y, reduction)
    delta = check_number("delta", delta)
    n = scores.shape[0]
    rows = np.arange(n)
    margins = scores - scores[rows, y][:, None]
    margins += delta
    margins[rows, y] = 0
    np.maximum(margins, 0, out=margins)
    loss = float(margins.sum())
    dscores = (margins > 0).astype(scores.dtype)
    dscores[rows, y] = -dscores.sum(axis=1)
    if reduction == "mean":
        loss /= n
        dscores /= n
    return loss, dscores


def mse_softmax_loss(scores, y, reduction: str = "mean"):
    """Squared error between the softmax OUTPUT and one-hot targets (the MNIST lab variant).

    Per example ``0.5 * sum_k (p_k - t_k)**2`` with ``p = softmax(scores)``, ``t = onehot(y)``.
    The gradient goes through the softmax Jacobian ``diag(p) - p p^T``:
    ``dscores = p * (g - sum_k g_k p_k)`` with ``g = p - t`` (divided by N for "mean").
    """
    scores, y = _check_inputs(scores, y, reduction)
    n = scores.shape[0]
    rows = np.arange(n)
    p = _softmax(scores)
    g = p.copy()
    g[rows, y] -= 1
    loss = 0.5 * float(np.einsum("ij,ij->", g, g))
    gp = np.einsum("ij,ij->i", g, p)
    g -= gp[:, None]
    g *= p
    if reduction == "mean":
        loss /= n
        g /= n
    return loss, g


#: name -> loss function (scores, y, reduction="mean") -> (loss, dscores)
LOSSES = {
    "softmax": softmax_loss,
    "svm": svm_loss,
    "mse": mse_softmax_loss,
}


def penalty(w, reg: float, kind: str = "l2"):
    """Weight penalty and its gradient, NETWORK convention.

    ``kind="l2"``: ``0.5 * reg * sum(w**2)``, grad ``reg * w``;
    ``kind="l1"``: ``reg * sum(|w|)``, grad ``reg * sign(w)`` (0 at w == 0).
    Returns ``(loss, grad)``: a Python float and an array of w's dtype.
    """
    w = np.asarray(w)
    if not np.issubdtype(w.dtype, np.floating):
        raise ValueError(f"w must be a floating array, got dtype {w.dtype}")
    reg = check_number("reg", reg)
    if kind == "l2":
        flat = w.ravel()
        return 0.5 * reg * float(np.dot(flat, flat)), reg * w
    if kind == "l1":
        return reg * float(np.abs(w).sum()), reg * np.sign(w)
    raise ValueError(f"kind must be 'l2' or 'l1', got {kind!r}")
