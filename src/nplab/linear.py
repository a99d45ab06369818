"""Linear classifiers: the course's SVM and Softmax losses and SGD-trained estimators.

Convention (the CS231n course's, NOT the network one in :func:`nplab.losses.penalty`):
``loss = mean data loss over the N examples + reg * sum(W**2)`` and the gradient
includes ``2 * reg * W``.  Shapes: ``W`` (D, C), ``X`` (N, D), ``y`` (N,) integer
labels in ``[0, C)``.  A bias is handled by the caller (a column of ones in X).
"""

from __future__ import annotations

import numpy as np

from ._checks import check_callable, check_float_dtype, check_int, check_number
from .losses import softmax_loss, svm_loss

__all__ = [
    "svm_loss_naive",
    "svm_loss_vectorized",
    "softmax_loss_naive",
    "softmax_loss_vectorized",
    "LinearClassifier",
    "LinearSVM",
    "Softmax",
]


# --------------------------------------------------------------------------- checks
def _check_wxy(W, X, y, reg):
    W = np.asarray(W)
    X = np.asarray(X)
    y = np.asarray(y)
    if W.ndim != 2 or not np.issubdtype(W.dtype, np.floating):
        raise ValueError(
            f"W must be a 2-D floating array (D, C), got shape {W.shape}, dtype {W.dtype}"
        )
    if X.ndim != 2 or X.shape[1] != W.shape[0]:
        raise ValueError(f"X must be 2-D (N, {W.shape[0]}), got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError("X must have at least one row")
    if y.shape != (X.shape[0],) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            f"y must be an integer array of shape ({X.shape[0]},), got shape {y.shape}, dtype {y.dtype}"
        )
    if y.min() < 0 or y.max() >= W.shape[1]:
        raise ValueError(
            f"y must hold labels in [0, {W.shape[1]}), got values in [{y.min()}, {y.max()}]"
        )
    return W, X, y, check_number("reg", reg)


# --------------------------------------------------------------------------- losses
def svm_loss_naive(W, X, y, reg, delta=1.0):
    """Multiclass SVM loss with explicit loops over examples and classes.

    ``loss = (1/N) sum_i sum_{j != y_i} max(0, x_i.W_j - x_i.W_{y_i} + delta) + reg * sum(W**2)``;
    returns ``(loss, dW)`` with ``dW`` including ``2 * reg * W``.
    """
    W, X, y, reg = _check_wxy(W, X, y, reg)
    delta = check_number("delta", delta)
    n, c = X.shape[0], W.shape[1]
    dW = np.zeros_like(W)
    loss = 0.0
    for i in range(n):
        scores = X[i].dot(W)
        correct = scores[y[i]]
        for j in range(c):
            if j == y[i]:
                continue
            margin = scores[j] - correct + delta
            if margin > 0:
                loss += float(margin)
                dW[:, j] += X[i]
                dW[:, y[i]] -= X[i]
    loss /= n
    dW /= n
    loss += reg * float(np.sum(W * W))
    dW += 2 * reg * W
    return float(loss), dW


def svm_loss_vectorized(W, X, y, reg, delta=1.0):
    """Vectorised :func:`svm_loss_naive` (same loss and gradient, no Python loops)."""
    W, X, y, reg = _check_wxy(W, X, y, reg)
    delta = check_number("delta", delta)
    loss, dscores = svm_loss(X @ W, y, delta=delta, reduction="mean")
    dW = X.T @ dscores
    wf = W.ravel()
    loss += reg * float(np.dot(wf, wf))
    dW += (2 * reg) * W
    return loss, dW


def softmax_loss_naive(W, X, y, reg):
    """Softmax cross-entropy loss with an explicit loop over examples.

    ``loss = (1/N) sum_i -log softmax(x_i W)[y_i] + reg * sum(W**2)`` (scores shifted by
    their max for stability); returns ``(loss, dW)`` with ``dW`` including ``2 * reg * W``.
    """
    W, X, y, reg = _check_wxy(W, X, y, reg)
    n, c = X.shape[0], W.shape[1]
    dW = np.zeros_like(W)
    loss = 0.0
    for i in range(n):
        scores = X[i].dot(W)
        scores = scores - np.max(scores)
        exp = np.exp(scores)
        total = np.sum(exp)
        loss += float(np.log(total) - scores[y[i]])
        for j in range(c):
            p = exp[j] / total
            dW[:, j] += (p - (j == y[i])) * X[i]
    loss /= n
    dW /= n
    loss += reg * float(np.sum(W * W))
    dW += 2 * reg * W
    return float(loss), dW


def softmax_loss_vectorized(W, X, y, reg):
    """Vectorised :func:`softmax_loss_naive` (same loss and gradient, no Python loops)."""
    W, X, y, reg = _check_wxy(W, X, y, reg)
    loss, dscores = softmax_loss(X @ W, y, reduction="mean")
    dW = X.T @ dscores
    wf = W.ravel()
    loss += reg * float(np.dot(wf, wf))
    dW += (2 * reg) * W
    return loss, dW


# --------------------------------------------------------------------------- estimators
#: The constructor parameters of :class:`LinearClassifier` (get_params / repr order).
_COMMON_PARAMS = (
    "learning_rate",
    "reg",
    "num_iters",
    "batch_size",
    "weight_scale",
    "seed",
    "dtype",
    "num_classes",
    "callback",
)


class LinearClassifier:
    """Base class: a linear score function ``X @ W_`` trained by minibatch SGD.

    Training (the course's loop): W is initialised as ``weight_scale * N(0, 1)`` of shape
    (D, C) with ``C = num_classes`` or ``max(y) + 1``; each of ``num_iters`` iterations
    draws ``batch_size`` indices WITH replacement, evaluates the subclass's loss (course
    regularisation convention, see the module docstring) and takes ``W -= learning_rate
    * dW``.  All randomness comes from ``np.random.default_rng(seed)``; computation is in
    ``dtype`` (X is converted once).  If a loss or an updated W is not finite, training
    stops, ``diverged_`` is True and ``W_`` is the last finite W (no exception).

    Fitted attributes: ``W_`` (D, C), ``loss_history_`` (float64, one finite loss per
    completed iteration), ``diverged_``, ``n_iter_``, ``classes_`` (``arange(C)``).
    ``callback(it, loss)`` (constructor or :meth:`fit`) is called after every iteration.
    """

    _param_names: tuple[str, ...] = ()

    def __init__(
        self,
        learning_rate=1e-7,
        reg=2.5e4,
        num_iters=1500,
        batch_size=200,
        weight_scale=1e-3,
        seed=0,
        dtype=np.float32,
        num_classes=None,
        callback=None,
    ):
        self.learning_rate = learning_rate
        self.reg = reg
        self.num_iters = num_iters
        self.batch_size = batch_size
        self.weight_scale = weight_scale
        self.seed = seed
        self.dtype = dtype
        self.num_classes = num_classes
        self.callback = callback

    # scikit-learn style parameter access
    def get_params(self, deep=True) -> dict:
        return {name: getattr(self, name) for name in self._param_names}

    def set_params(self, **params):
        for key, value in params.items():
            if key not in self._param_names:
                raise ValueError(
                    f"unknown parameter {key!r} for {type(self).__name__}; "
                    f"expected one of {list(self._param_names)}"
                )
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={getattr(self, k)!r}" for k in self._param_names)
        return f"{type(self).__name__}({args})"

    def loss(self, W, X, y):
        """(loss, dW) on a batch; implemented by subclasses."""
        raise NotImplementedError

    def _validate_hparams(self):
        check_number("learning_rate", self.learning_rate)
        check_number("reg", self.reg)
        check_int("num_iters", self.num_iters, 0)
        check_int("batch_size", self.batch_size)
        check_number("weight_scale", self.weight_scale)
        if self.num_classes is not None:
            check_int("num_classes", self.num_classes)
        check_callable("callback", self.callback)
        return check_float_dtype(self.dtype)

    def fit(self, X, y, callback=None):
        """Train by minibatch SGD (see the class docstring); returns self."""
        dtype = self._validate_hparams()
        callback = self.callback if callback is None else check_callable("callback", callback)
        X = np.asarray(X, dtype=dtype)
        y = np.asarray(y)
        if X.ndim != 2 or X.shape[0] == 0:
            raise ValueError(f"X must be a non-empty 2-D array (N, D), got shape {X.shape}")
        if y.shape != (X.shape[0],) or not np.issubdtype(y.dtype, np.integer):
            raise ValueError(
                f"y must be an integer array of shape ({X.shape[0]},), got shape {y.shape}, dtype {y.dtype}"
            )
        if y.min() < 0:
            raise ValueError(f"y must hold labels >= 0, got min {y.min()}")
        c = int(y.max()) + 1 if self.num_classes is None else int(self.num_classes)
        if y.max() >= c:
            raise ValueError(f"y must hold labels in [0, num_classes={c}), got max {y.max()}")
        n, d = X.shape
        rng = np.random.default_rng(self.seed)
        W = (self.weight_scale * rng.standard_normal((d, c))).astype(dtype)
        lr = float(self.learning_rate)
        history = np.empty(int(self.num_iters), dtype=np.float64)
        diverged = False
        it_done = 0
        with np.errstate(over="ignore", invalid="ignore"):
            for it in range(int(self.num_iters)):
                idx = rng.integers(0, n, size=int(self.batch_size))
                loss, dW = self.loss(W, X[idx], y[idx])
                if not np.isfinite(loss):
                    diverged = True
                    break
                history[it] = loss
                it_done = it + 1
                W_new = W - lr * dW
                if not np.all(np.isfinite(W_new)):
                    diverged = True
                    break
                W = W_new
                if callback is not None:
                    callback(it, loss)
        self.W_ = W
        self.loss_history_ = history[:it_done].copy()
        self.diverged_ = diverged
        self.n_iter_ = it_done
        self.classes_ = np.arange(c)
        return self

    def _check_fitted_X(self, X):
        if not hasattr(self, "W_"):
            raise ValueError(f"{type(self).__name__} is not fitted yet: call fit(X, y) first")
        X = np.asarray(X)
        if not np.issubdtype(X.dtype, np.floating):
            X = X.astype(self.W_.dtype)
        if X.ndim != 2 or X.shape[1] != self.W_.shape[0]:
            raise ValueError(f"X must be 2-D (N, {self.W_.shape[0]}), got shape {X.shape}")
        return X

    def decision_function(self, X):
        """Class scores ``X @ W_`` (N, C)."""
        X = self._check_fitted_X(X)
        return X @ self.W_

    def predict(self, X):
        """Predicted labels: ``argmax(X @ W_)`` per row (ties go to the smallest label)."""
        return np.argmax(self.decision_function(X), axis=1)

    def score(self, X, y):
        """Mean accuracy of :meth:`predict` on (X, y)."""
        y = np.asarray(y)
        pred = self.predict(X)
        if y.shape != pred.shape:
            raise ValueError(f"y must have shape {pred.shape}, got {y.shape}")
        return float(np.mean(pred == y))


class LinearSVM(LinearClassifier):
    """Linear multiclass SVM (hinge loss with margin ``delta``) trained by SGD."""

    _param_names = (*_COMMON_PARAMS[:5], "delta", *_COMMON_PARAMS[5:])

    def __init__(self, *args, delta=1.0, **kwargs):
        """:class:`LinearClassifier`'s parameters, and the margin ``delta`` (keyword)."""
        super().__init__(*args, **kwargs)
        self.delta = delta

    def _validate_hparams(self):
        check_number("delta", self.delta)
        return super()._validate_hparams()

    def loss(self, W, X, y):
        """:func:`svm_loss_vectorized` with this estimator's ``reg`` and ``delta``."""
        return svm_loss_vectorized(W, X, y, self.reg, delta=self.delta)


class Softmax(LinearClassifier):
    """Linear softmax (multinomial logistic regression) classifier trained by SGD."""

    _param_names = _COMMON_PARAMS

    def loss(self, W, X, y):
        """:func:`softmax_loss_vectorized` with this estimator's ``reg``."""
        return softmax_loss_vectorized(W, X, y, self.reg)
