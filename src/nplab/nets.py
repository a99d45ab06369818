"""Fully-connected networks (CS231n ``fc_net.py`` shape), pure NumPy.

Conventions shared by both models:

* ``params`` maps names (``W1``, ``b1``, ..., ``gamma1``, ``beta1``, ...) to arrays in the
  model's ``dtype`` (float32 by default; use float64 for gradient checks).  Inputs are
  cast to ``dtype`` (no copy when they already have it) and reshaped to ``(N, D)``, so
  nothing is upcast on the way.
* ``loss(X, y=None, reduction="mean")``: with ``y=None`` returns the class scores
  ``(N, C)`` in TEST mode (batchnorm uses running statistics, dropout is off); with
  labels returns ``(loss, grads)`` in TRAIN mode, ``loss`` a Python float and ``grads``
  a dict of arrays (same keys, shapes and dtype as ``params``).
* ``reduction="mean"`` averages the data loss over the batch, ``"sum"`` sums it (the
  MNIST write-up's convention: the data gradient is then the SUM of per-example
  gradients).  The weight penalty (weights only, never biases/gamma/beta) is added
  ONCE to the loss and its gradient in either case, with the network convention of
  :func:`nplab.losses.penalty` (L2: ``0.5 * reg * sum(W**2)``).
* Randomness: weights are drawn from ``np.random.default_rng(seed)``; dropout masks
  come from the model's ``rng`` attribute, a Generator seeded independently from the
  same ``seed`` (``np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])``).
  The Solver may replace ``model.rng`` with a Generator of its own.
"""

from __future__ import annotations

import numpy as np

from ._checks import (
    check_choice,
    check_float_dtype,
    check_generator,
    check_int,
    check_number,
    generator_property,
)
from .layers import (
    ACTIVATIONS,
    affine_backward,
    affine_forward,
    batchnorm_backward,
    batchnorm_forward,
    dropout_backward,
    dropout_forward,
    layernorm_backward,
    layernorm_forward,
    relu_backward,
    relu_forward,
    weight_grad,
)
from .losses import LOSSES, penalty, softmax_loss

__all__ = ["init_weights", "INIT_SCHEMES", "TwoLayerNet", "FullyConnectedNet", "predict_in_batches"]

#: Names accepted by :func:`init_weights`.
INIT_SCHEMES = ("gaussian", "uniform", "xavier", "he")


# --------------------------------------------------------------------------- init
def init_weights(
    fan_in: int,
    fan_out: int,
    scheme: str = "gaussian",
    weight_scale: float = 1e-2,
    rng: np.random.Generator | None = None,
    dtype=np.float32,
) -> np.ndarray:
    """A ``(fan_in, fan_out)`` weight matrix in ``dtype`` (biases are zeros, made by the caller).

    ``scheme``: ``"gaussian"`` ``weight_scale * N(0, 1)``; ``"uniform"``
    ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``; ``"xavier"`` ``N(0, 1/fan_in)``; ``"he"``
    ``N(0, 2/fan_in)``.  ``weight_scale`` is used by ``"gaussian"`` only.  Draws are
    made in float64 with ``rng`` (required) and then cast, so float32 and float64
    models with the same generator state start from the same (rounded) weights.
    """
    fan_in = check_int("fan_in", fan_in)
    fan_out = check_int("fan_out", fan_out)
    check_choice("scheme", scheme, INIT_SCHEMES)
    weight_scale = check_number("weight_scale", weight_scale)
    check_generator("rng", rng)
    dt = check_float_dtype(dtype)
    shape = (fan_in, fan_out)
    if scheme == "uniform":
        bound = 1.0 / np.sqrt(fan_in)
        w = rng.uniform(-bound, bound, size=shape)
    else:
        std = {
            "gaussian": weight_scale,
            "xavier": np.sqrt(1.0 / fan_in),
            "he": np.sqrt(2.0 / fan_in),
        }[scheme]
        w = rng.standard_normal(shape)
        w *= std
    return w.astype(dt)


def _as_input(X, dtype: np.dtype) -> np.ndarray:
    X = np.asarray(X)
    if X.ndim < 2:
        raise ValueError(f"X must have shape (N, D) or (N, d1, ..., dk), got {X.shape}")
    if X.dtype != dtype:
        X = X.astype(dtype)
    return X.reshape(X.shape[0], -1)


def _first_affine_backward(dout, cache):
    """(dw, db) of the first affine layer: its dx is never needed, so it is not computed."""
    x, _w, _b = cache
    return weight_grad(x, dout), dout.sum(axis=0)


def predict_in_batches(model, X, batch_size) -> np.ndarray:
    """Labels (int64) from ``model.loss(X)``'s test-mode scores, ``batch_size`` rows at a
    time: the ``predict`` of every model here and of :class:`nplab.augment.Augmented`."""
    batch_size = check_int("batch_size", batch_size)
    X = np.asarray(X)
    n = X.shape[0]
    out = np.empty(n, dtype=np.int64)
    for i in range(0, n, batch_size):
        out[i : i + batch_size] = np.argmax(model.loss(X[i : i + batch_size]), axis=1)
    return out


class _Model:
    """Shared bits: the dropout Generator ``rng`` and ``predict``."""

    _rng: np.random.Generator

    rng = generator_property(
        "Generator for dropout masks (replaceable; must be an ``np.random.Generator``)."
    )

    def predict(self, X, batch_size: int = 1000) -> np.ndarray:
        """Predicted labels (int64, shape (N,)) in test mode, ``batch_size`` rows at a time."""
        return predict_in_batches(self, X, batch_size)


# --------------------------------------------------------------------------- two-layer
class TwoLayerNet(_Model):
    """affine - ReLU - affine - softmax, CS231n's two-layer net.

    ``W1 (D, H)``, ``b1 (H,)``, ``W2 (H, C)``, ``b2 (C,)``; weights ``weight_scale * N(0, 1)``
    drawn from ``np.random.default_rng(seed)``, biases zero.  L2 penalty
    ``0.5 * reg * (sum(W1**2) + sum(W2**2))``.
    """

    def __init__(
        self,
        input_dim: int = 3072,
        hidden_dim: int = 100,
        num_classes: int = 10,
        weight_scale: float = 1e-3,
        reg: float = 0.0,
        dtype=np.float32,
        seed: int = 0,
    ):
        input_dim = check_int("input_dim", input_dim)
        hidden_dim = check_int("hidden_dim", hidden_dim)
        num_classes = check_int("num_classes", num_classes)
        weight_scale = check_number("weight_scale", weight_scale)
        self.reg = check_number("reg", reg)
        self.dtype = check_float_dtype(dtype)
        seed = check_int("seed", seed, 0)
        rng = np.random.default_rng(seed)
        self.params = {
            "W1": init_weights(input_dim, hidden_dim, "gaussian", weight_scale, rng, self.dtype),
            "b1": np.zeros(hidden_dim, dtype=self.dtype),
            "W2": init_weights(hidden_dim, num_classes, "gaussian", weight_scale, rng, self.dtype),
            "b2": np.zeros(num_classes, dtype=self.dtype),
        }
        self._rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])

    def loss(self, X, y=None, reduction: str = "mean"):
        """Scores ``(N, C)`` if ``y`` is None, else ``(loss, grads)`` (see module docstring)."""
        check_choice("reduction", reduction, ("mean", "sum"))
        X = _as_input(X, self.dtype)
        p = self.params
        h, c1 = affine_forward(X, p["W1"], p["b1"])
        h, cr = relu_forward(h)
        scores, c2 = affine_forward(h, p["W2"], p["b2"])
        if y is None:
            return scores
        loss, dscores = softmax_loss(scores, y, reduction=reduction)
        dh, dW2, db2 = affine_backward(dscores, c2)
        dh = relu_backward(dh, cr)
        dW1, db1 = _first_affine_backward(dh, c1)
        if self.reg > 0:
            for name, dW in (("W1", dW1), ("W2", dW2)):
                pl, pg = penalty(p[name], self.reg, "l2")
                loss += pl
                dW += pg
        return loss, {"W1": dW1, "b1": db1, "W2": dW2, "b2": db2}


# --------------------------------------------------------------------------- deep net
class FullyConnectedNet(_Model):
    """{affine - [norm] - activation - [dropout]} x (L - 1) - affine - loss.

    ``hidden_dims``: sizes of the L - 1 hidden layers (may be empty: a linear model).
    ``activation``: a key of :data:`nplab.layers.ACTIVATIONS` with ``activation_kwargs``
    (e.g. ``{"alpha": 0.01}`` for ``"leaky_relu"``).  ``normalization``: None,
    ``"batchnorm"`` or ``"layernorm"`` (params ``gamma{i}`` ones, ``beta{i}`` zeros for
    each hidden layer i; per-layer state dicts in ``bn_params``).  ``dropout_keep_ratio``:
    KEEP probability of inverted dropout after each hidden activation (1 = no dropout).
    ``reg``/``reg_kind``: penalty on the weights W1..WL (``"l2"``: 0.5*reg*sum W^2,
    ``"l1"``: reg*sum|W|).  ``loss``: a key of :data:`nplab.losses.LOSSES`.
    ``init``/``weight_scale``: see :func:`init_weights`.
    """

    def __init__(
        self,
        hidden_dims,
        input_dim: int = 3072,
        num_classes: int = 10,
        *,
        activation: str = "relu",
        activation_kwargs: dict | None = None,
        normalization: str | None = None,
        dropout_keep_ratio: float = 1.0,
        reg: float = 0.0,
        reg_kind: str = "l2",
        loss: str = "softmax",
        init: str = "gaussian",
        weight_scale: float = 1e-2,
        dtype=np.float32,
        seed: int = 0,
    ):
        if isinstance(hidden_dims, (str, bytes)) or not hasattr(hidden_dims, "__iter__"):
            raise ValueError(f"hidden_dims must be a list of positive ints, got {hidden_dims!r}")
        hidden_dims = [check_int("hidden_dims[i]", h) for h in hidden_dims]
        input_dim = check_int("input_dim", input_dim)
        num_classes = check_int("num_classes", num_classes)
        check_choice("activation", activation, ACTIVATIONS)
        if activation_kwargs is None:
            activation_kwargs = {}
        if not isinstance(activation_kwargs, dict):
            raise ValueError(f"activation_kwargs must be a dict or None, got {activation_kwargs!r}")
        if normalization not in (None, "batchnorm", "layernorm"):
            raise ValueError(
                f"normalization must be None, 'batchnorm' or 'layernorm', got {normalization!r}"
            )
        keep = check_number("dropout_keep_ratio", dropout_keep_ratio, positive=True)
        if keep > 1:
            raise ValueError(f"dropout_keep_ratio must be in (0, 1], got {dropout_keep_ratio!r}")
        check_choice("reg_kind", reg_kind, ("l2", "l1"))
        check_choice("loss", loss, LOSSES)
        check_choice("init", init, INIT_SCHEMES)
        self.dtype = check_float_dtype(dtype)
        seed = check_int("seed", seed, 0)

        self.hidden_dims = hidden_dims
        self.num_layers = len(hidden_dims) + 1
        self.activation = activation
        self.activation_kwargs = dict(activation_kwargs)
        self._act_fwd, self._act_bwd = ACTIVATIONS[activation]
        self._act_fwd(np.zeros(1, dtype=self.dtype), **self.activation_kwargs)  # validate kwargs
        self.normalization = normalization
        self.dropout_keep_ratio = keep
        self.use_dropout = keep < 1.0
        self.reg = check_number("reg", reg)
        self.reg_kind = reg_kind
        self.loss_name = loss
        self._loss_fn = LOSSES[loss]

        rng = np.random.default_rng(seed)
        dims = [input_dim, *hidden_dims, num_classes]
        self.params: dict[str, np.ndarray] = {}
        for i in range(self.num_layers):
            self.params[f"W{i + 1}"] = init_weights(
                dims[i], dims[i + 1], init, weight_scale, rng, self.dtype
            )
            self.params[f"b{i + 1}"] = np.zeros(dims[i + 1], dtype=self.dtype)
        if normalization is not None:
            for i, h in enumerate(hidden_dims):
                self.params[f"gamma{i + 1}"] = np.ones(h, dtype=self.dtype)
                self.params[f"beta{i + 1}"] = np.zeros(h, dtype=self.dtype)
        #: per-hidden-layer state dicts of the normalisation layers (running stats for BN)
        self.bn_params: list[dict] = (
            [{"mode": "train"} for _ in hidden_dims] if normalization is not None else []
        )
        self._rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])

    def hidden_activations(self, X) -> list[np.ndarray]:
        """The output of every hidden layer's activation (before dropout) in TEST mode."""
        X = _as_input(X, self.dtype)
        p, h, out = self.params, X, []
        for i in range(1, self.num_layers):
            h, _ = affine_forward(h, p[f"W{i}"], p[f"b{i}"])
            if self.normalization == "batchnorm":
                bn = self.bn_params[i - 1]
                bn["mode"] = "test"
                h, _ = batchnorm_forward(h, p[f"gamma{i}"], p[f"beta{i}"], bn)
            elif self.normalization == "layernorm":
                h, _ = layernorm_forward(h, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1])
            h, _ = self._act_fwd(h, **self.activation_kwargs)
            out.append(h)
        return out

    def loss(self, X, y=None, reduction: str = "mean"):
        """Scores ``(N, C)`` (test mode) if ``y`` is None, else ``(loss, grads)`` (train mode)."""
        check_choice("reduction", reduction, ("mean", "sum"))
        X = _as_input(X, self.dtype)
        mode = "test" if y is None else "train"
        p = self.params
        norm = self.normalization
        relu = self.activation == "relu"
        act_fwd, act_bwd, akw = self._act_fwd, self._act_bwd, self.activation_kwargs
        dropout_param = None
        if self.use_dropout:
            dropout_param = {"mode": mode, "p": self.dropout_keep_ratio, "rng": self._rng}

        h = X
        caches = []
        for i in range(1, self.num_layers):
            h, ca = affine_forward(h, p[f"W{i}"], p[f"b{i}"])
            cn = cd = None
            if norm == "batchnorm":
                bn = self.bn_params[i - 1]
                bn["mode"] = mode
                h, cn = batchnorm_forward(h, p[f"gamma{i}"], p[f"beta{i}"], bn)
            elif norm == "layernorm":
                h, cn = layernorm_forward(h, p[f"gamma{i}"], p[f"beta{i}"], self.bn_params[i - 1])
            if relu:
                h, cact = relu_forward(h)
            else:
                h, cact = act_fwd(h, **akw)
            if dropout_param is not None:
                h, cd = dropout_forward(h, dropout_param)
            caches.append((ca, cn, cact, cd))
        L = self.num_layers
        scores, cL = affine_forward(h, p[f"W{L}"], p[f"b{L}"])
        if y is None:
            return scores

        loss, dscores = self._loss_fn(scores, y, reduction=reduction)
        grads: dict[str, np.ndarray] = {}
        if L == 1:
            grads[f"W{L}"], grads[f"b{L}"] = _first_affine_backward(dscores, cL)
        else:
            dh, grads[f"W{L}"], grads[f"b{L}"] = affine_backward(dscores, cL)
        for i in range(L - 1, 0, -1):
            ca, cn, cact, cd = caches[i - 1]
            if cd is not None:
                dh = dropout_backward(dh, cd)
            dh = relu_backward(dh, cact) if relu else act_bwd(dh, cact)
            if norm == "batchnorm":
                dh, grads[f"gamma{i}"], grads[f"beta{i}"] = batchnorm_backward(dh, cn)
            elif norm == "layernorm":
                dh, grads[f"gamma{i}"], grads[f"beta{i}"] = layernorm_backward(dh, cn)
            if i == 1:
                grads[f"W{i}"], grads[f"b{i}"] = _first_affine_backward(dh, ca)
            else:
                dh, grads[f"W{i}"], grads[f"b{i}"] = affine_backward(dh, ca)

        if self.reg > 0:
            for i in range(1, L + 1):
                pl, pg = penalty(p[f"W{i}"], self.reg, self.reg_kind)
                loss += pl
                grads[f"W{i}"] += pg
        return loss, {k: grads[k] for k in p}
