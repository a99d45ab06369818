"""The classic (Rosenblatt) perceptron and Novikoff's mistake bound.

Labels are binary: {-1, +1}, or {0, 1} which is mapped to {-1, +1} (0 -> -1) and mapped
back by :meth:`Perceptron.predict`.  The bias is learnt as the weight of a constant
input 1, so Novikoff's theorem applies to the augmented inputs ``(x, 1)``: started from
zero, the number of updates on data separable with margin ``gamma`` by a unit-norm
``(w*, b*)`` is at most ``(R / gamma)**2`` with ``R = max ||(x, 1)||``.
"""

from __future__ import annotations

import numpy as np

from ._checks import check_int

__all__ = ["Perceptron", "convergence_bound"]


def _binary_labels(y, n: int):
    """Return (y in {-1.0, +1.0} as float64, (negative_label, positive_label))."""
    y = np.asarray(y)
    if y.shape != (n,):
        raise ValueError(f"y must have shape ({n},) to match X, got {y.shape}")
    if y.dtype == bool or not (
        np.issubdtype(y.dtype, np.integer) or np.issubdtype(y.dtype, np.floating)
    ):
        raise ValueError(
            f"y must hold numeric binary labels in {{-1, +1}} or {{0, 1}}, got dtype {y.dtype}"
        )
    values = set(np.unique(y).tolist())
    if values <= {-1, 1}:
        labels = (-1, 1)
    elif values <= {0, 1}:
        labels = (0, 1)
    else:
        raise ValueError(
            f"y must hold binary labels in {{-1, +1}} or {{0, 1}}, got values {sorted(values)[:10]}"
        )
    return np.where(y == labels[1], 1.0, -1.0), labels


def _check_X(X) -> np.ndarray:
    X = np.asarray(X)
    if not np.issubdtype(X.dtype, np.floating):
        X = X.astype(np.float64)
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValueError(f"X must be a non-empty 2-D array (N, D), got shape {X.shape}")
    return X


class Perceptron:
    """Binary perceptron: on a mistake ``y (w.x + b) <= 0`` update ``w += y x``, ``b += y``.

    Starts from ``w = 0, b = 0``; each epoch visits every example once (in an order
    drawn with ``np.random.default_rng(seed)`` if ``shuffle``) and training stops after
    the first epoch without a mistake (``converged_ = True``) or after ``max_epochs``.

    Fitted attributes: ``w_`` (D,), ``b_`` (float), ``n_updates_`` (total mistakes),
    ``mistakes_per_epoch_`` (list, one count per epoch run),
    ``epochs_`` (epochs run), ``converged_``, ``classes_`` (the two labels, negative first).
    """

    def __init__(self, max_epochs: int = 100, shuffle: bool = True, seed=0):
        self.max_epochs = max_epochs
        self.shuffle = shuffle
        self.seed = seed

    def __repr__(self) -> str:
        return f"Perceptron(max_epochs={self.max_epochs!r}, shuffle={self.shuffle!r}, seed={self.seed!r})"

    def fit(self, X, y):
        """Run the perceptron algorithm; returns self."""
        max_epochs = check_int("max_epochs", self.max_epochs)
        X = _check_X(X)
        ys, labels = _binary_labels(y, X.shape[0])
        ys = ys.astype(X.dtype)
        n, d = X.shape
        rng = np.random.default_rng(self.seed)
        w = np.zeros(d, dtype=X.dtype)
        b = X.dtype.type(0)
        n_updates = 0
        per_epoch = []
        converged = False
        epochs = 0
        for epoch in range(max_epochs):
            order = rng.permutation(n) if self.shuffle else range(n)
            mistakes = 0
            for i in order:
                yi = ys[i]
                if yi * (X[i] @ w + b) <= 0:
                    w += yi * X[i]
                    b += yi
                    mistakes += 1
            n_updates += mistakes
            per_epoch.append(mistakes)
            epochs = epoch + 1
            if mistakes == 0:
                converged = True
                break
        self.w_ = w
        self.b_ = float(b)
        self.n_updates_ = n_updates
        self.mistakes_per_epoch_ = per_epoch
        self.epochs_ = epochs
        self.converged_ = converged
        self.classes_ = np.array(labels)
        return self

    def decision_function(self, X) -> np.ndarray:
        """``X @ w_ + b_`` (N,)."""
        if not hasattr(self, "w_"):
            raise ValueError("Perceptron is not fitted yet: call fit(X, y) first")
        X = _check_X(X)
        if X.shape[1] != self.w_.shape[0]:
            raise ValueError(f"X must have {self.w_.shape[0]} columns, got shape {X.shape}")
        return X @ self.w_ + self.b_

    def predict(self, X) -> np.ndarray:
        """Labels in the convention of the training labels: positive where ``w.x + b > 0``."""
        pos = self.decision_function(X) > 0
        return np.where(pos, self.classes_[1], self.classes_[0])

    def score(self, X, y) -> float:
        """Mean accuracy of :meth:`predict` on (X, y)."""
        pred = self.predict(X)
        y = np.asarray(y)
        if y.shape != pred.shape:
            raise ValueError(f"y must have shape {pred.shape}, got {y.shape}")
        return float(np.mean(pred == y))


def convergence_bound(X, y, w_star, b_star) -> dict:
    """Novikoff's mistake bound for the separator ``(w_star, b_star)`` on augmented inputs.

    ``R = max_i ||(x_i, 1)||``, ``gamma = min_i y_i (w*.x_i + b*) / ||(w*, b*)||`` and
    ``bound = (R / gamma)**2``; labels as in :class:`Perceptron`.  Raises ValueError if
    ``(w_star, b_star)`` does not separate the data (gamma <= 0).
    """
    X = _check_X(X)
    ys, _ = _binary_labels(y, X.shape[0])
    w_star = np.asarray(w_star, dtype=np.float64)
    if w_star.shape != (X.shape[1],):
        raise ValueError(f"w_star must have shape ({X.shape[1]},), got {w_star.shape}")
    b_star = float(b_star)
    norm = float(np.sqrt(w_star @ w_star + b_star * b_star))
    if norm == 0:
        raise ValueError("(w_star, b_star) must not be all zeros")
    Xd = X.astype(np.float64, copy=False)
    R = float(np.sqrt(np.max(np.einsum("ij,ij->i", Xd, Xd) + 1.0)))
    gamma = float(np.min(ys * (Xd @ w_star + b_star))) / norm
    if gamma <= 0:
        raise ValueError(
            f"(w_star, b_star) does not separate (X, y): minimum margin {gamma:.3g} <= 0"
        )
    return {"R": R, "gamma": gamma, "bound": (R / gamma) ** 2}
