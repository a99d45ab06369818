"""Convolutional networks (CS231n ``cnn.py`` shape), pure NumPy, NHWC.

Same conventions as :mod:`nplab.nets` (read its docstring): ``params`` in the model's
``dtype``; ``loss(X, y=None, reduction="mean")`` returns the scores in TEST mode or
``(loss, grads)`` in TRAIN mode; the L2 penalty ``0.5 * reg * sum(W**2)`` covers every
weight (never biases, gamma, beta); weights come from ``np.random.default_rng(seed)`` and
dropout masks from the model's ``rng``, which the :class:`nplab.solver.Solver` may replace.

Images.  ``X`` is ``(N, H, W, C)`` (channels last, see :mod:`nplab.conv`) or flattened
rows ``(N, H*W*C)`` in (h, w, c) order (how the pipeline stores CIFAR-10), reshaped with
``input_shape = (H, W, C)``.  Inputs are cast to ``dtype`` (no copy when they have it).

Parameter names.  Layers are numbered from 1 in forward order, convolutions first, then
the fully-connected head: layer ``i`` has ``W{i}``, ``b{i}`` and, for a normalised
convolution, ``gamma{i}``, ``beta{i}``.  A convolution's ``W`` is (KH, KW, C_in, C_out);
the first head layer's ``W`` has one row per flattened (h, w, c) feature.

Freezing (transfer learning).  ``freeze(...)`` adds parameter names to ``model.frozen``.
A frozen parameter keeps its value: ``loss`` returns a zero gradient for it, so every
update rule of :mod:`nplab.optim` started from fresh state leaves it unchanged (the
Solver updates every key of ``params`` and needs a gradient for each).  A layer whose
``gamma``/``beta`` are frozen also freezes its batch-norm statistics: it normalises with
its running mean/variance and no longer updates them.  Backpropagation stops at the
lowest layer that still has a trainable parameter, so a frozen feature extractor costs
only its forward pass.  ``replace_head`` swaps the fully-connected head for a freshly
initialised one (new class count); build a new Solver afterwards (its optimizer state is
keyed by parameter name).

Speed and memory.  The convolutions are :func:`nplab.conv.conv_forward` (im2col in chunks
of ``col_budget_bytes``); inside a convolution layer the batch norm and the ReLU work in
place on arrays the layer owns (the ReLU's output doubles as its cache), which saves one
activation per layer.  Test-mode scores are computed ``eval_batch_size`` images at a time
whatever the caller's batch.  Measured on the VGG-ish net of ``bench/bench_conv.py``
(batch 128, float32, Adam): a training step peaks at 186 MiB of numpy arrays, 175 MiB of
them transient (246 MiB RSS); without chunking the im2col blocks it would be 345 MiB.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import numpy as np

from ._checks import check_choice, check_float_dtype, check_int, check_number
from .conv import (
    DEFAULT_COL_BUDGET_BYTES,
    avg_pool_backward,
    avg_pool_forward,
    conv_backward,
    conv_forward,
    conv_output_size,
    global_avg_pool_backward,
    global_avg_pool_forward,
    max_pool_backward,
    max_pool_forward,
    spatial_batchnorm_backward,
    spatial_batchnorm_forward,
    spatial_groupnorm_backward,
    spatial_groupnorm_forward,
)
from .layers import (
    affine_backward,
    affine_forward,
    dropout_backward,
    dropout_forward,
    relu_backward,
    relu_forward,
    weight_grad,
)
from .losses import penalty, softmax_loss
from .nets import INIT_SCHEMES, _Model, init_weights

__all__ = ["ConvNet", "ThreeLayerConvNet", "BLOCK_DEFAULTS", "NORMS", "POOLS"]

NORMS = (None, "batch", "group")
POOLS = (None, "max", "avg", "conv")

#: Keys of a block and their defaults (``pad=None`` means "same": ``kernel // 2``).
BLOCK_DEFAULTS = {
    "widths": None,  # required: output channels of each convolution of the block
    "kernel": 3,
    "stride": 1,
    "pad": None,
    "norm": None,  # None, "batch" (spatial batch norm) or "group" (spatial group norm)
    "groups": 8,  # channel groups of "group" norm; must divide every width
    "pool": "max",  # None, "max", "avg" or "conv" (3x3 stride-2 convolution + norm + ReLU)
    "pool_size": 2,  # window and stride of "max"/"avg"
    "dropout_keep_ratio": 1.0,  # inverted dropout after the pooling (KEEP probability)
}


# --------------------------------------------------------------------------- the program
class _Conv(NamedTuple):
    """conv -> [norm] -> ReLU, parameters W{layer}, b{layer}[, gamma{layer}, beta{layer}]."""

    layer: int
    kernel: int
    stride: int
    pad: int
    c_in: int
    c_out: int
    norm: str | None
    groups: int


class _Pool(NamedTuple):
    kind: str  # "max" or "avg"
    size: int


class _Dropout(NamedTuple):
    keep: float


class _Affine(NamedTuple):
    """affine [-> ReLU -> dropout] (hidden) or the final affine (``hidden`` False)."""

    layer: int
    d_in: int
    d_out: int
    hidden: bool
    keep: float


def _check_keep(name: str, value) -> float:
    keep = check_number(name, value, positive=True)
    if keep > 1:
        raise ValueError(f"{name} must be in (0, 1], got {value!r}")
    return keep


def _check_block(i: int, block) -> dict:
    if not isinstance(block, dict):
        raise ValueError(f"blocks[{i}] must be a dict, got {type(block).__name__}")
    unknown = sorted(set(block) - set(BLOCK_DEFAULTS))
    if unknown:
        raise ValueError(f"blocks[{i}] has unknown key(s) {unknown}; known: {list(BLOCK_DEFAULTS)}")
    b = {**BLOCK_DEFAULTS, **block}
    widths = b["widths"]
    if isinstance(widths, (int, np.integer)):
        widths = [widths]
    if not isinstance(widths, (list, tuple)) or not widths:
        raise ValueError(f"blocks[{i}]['widths'] must be a non-empty list of ints, got {widths!r}")
    b["widths"] = [check_int(f"blocks[{i}]['widths']", w) for w in widths]
    b["kernel"] = check_int(f"blocks[{i}]['kernel']", b["kernel"])
    b["stride"] = check_int(f"blocks[{i}]['stride']", b["stride"])
    b["pad"] = (
        b["kernel"] // 2 if b["pad"] is None else check_int(f"blocks[{i}]['pad']", b["pad"], 0)
    )
    check_choice(f"blocks[{i}]['norm']", b["norm"], NORMS)
    check_choice(f"blocks[{i}]['pool']", b["pool"], POOLS)
    b["groups"] = check_int(f"blocks[{i}]['groups']", b["groups"])
    if b["norm"] == "group" and any(w % b["groups"] for w in b["widths"]):
        raise ValueError(
            f"blocks[{i}]['groups']={b['groups']} must divide every width {b['widths']}"
        )
    b["pool_size"] = check_int(f"blocks[{i}]['pool_size']", b["pool_size"])
    b["dropout_keep_ratio"] = _check_keep(
        f"blocks[{i}]['dropout_keep_ratio']", b["dropout_keep_ratio"]
    )
    return b


def _feature_program(blocks, input_shape):
    """The ops of the convolutional part (``blocks`` checked by :func:`_check_block`) and
    the shape (H, W, C) it outputs."""
    H, W, C = input_shape
    ops, layer = [], 0

    def conv(kernel, stride, pad, width, b):
        nonlocal H, W, C, layer
        layer += 1
        ops.append(_Conv(layer, kernel, stride, pad, C, width, b["norm"], b["groups"]))
        H = conv_output_size(H, kernel, stride, pad)
        W = conv_output_size(W, kernel, stride, pad)
        C = width

    for b in blocks:
        for width in b["widths"]:
            conv(b["kernel"], b["stride"], b["pad"], width, b)
        if b["pool"] == "conv":
            conv(3, 2, 1, C, b)
        elif b["pool"] is not None:
            ops.append(_Pool(b["pool"], b["pool_size"]))
            H = conv_output_size(H, b["pool_size"], b["pool_size"], 0)
            W = conv_output_size(W, b["pool_size"], b["pool_size"], 0)
        if b["dropout_keep_ratio"] < 1:
            ops.append(_Dropout(b["dropout_keep_ratio"]))
    return ops, (H, W, C)


def _head_program(first_layer: int, d_in: int, hidden_dims, num_classes: int, keep: float):
    dims = [d_in, *hidden_dims, num_classes]
    return [
        _Affine(first_layer + k, dims[k], dims[k + 1], k < len(hidden_dims), keep)
        for k in range(len(dims) - 1)
    ]


# --------------------------------------------------------------------------- the model
class ConvNet(_Model):
    """{conv - [norm] - ReLU} x widths - pool - [dropout] per block, then
    [global average pool | flatten] - {affine - ReLU - [dropout]} x hidden - affine - softmax.

    ``blocks``: a list of dicts with the keys of :data:`BLOCK_DEFAULTS` (only ``widths``
    is required), e.g. ``[{"widths": [32, 32], "norm": "batch"}, {"widths": [64, 64],
    "norm": "batch", "pool": "conv"}]``.  Padding defaults to "same" (``kernel // 2``).
    ``hidden_dims``: the head's hidden sizes.  ``global_pool``: average over positions
    instead of flattening them before the head.  ``init``/``weight_scale``: the schemes
    of :func:`nplab.nets.init_weights` with fan-in KH*KW*C_in for a convolution.
    ``bn_momentum``: momentum of the batch-norm running statistics.
    ``col_budget_bytes``: the convolutions' im2col chunk budget (see :mod:`nplab.conv`).
    ``eval_batch_size``: test-mode scores are computed this many images at a time, whatever
    the caller's batch (the Solver evaluates 1,000 at once; the activations of 1,000 images
    would take several hundred MiB per layer).
    """

    def __init__(
        self,
        blocks,
        hidden_dims=(),
        input_shape=(32, 32, 3),
        num_classes: int = 10,
        *,
        head_dropout_keep_ratio: float = 1.0,
        global_pool: bool = False,
        init: str = "he",
        weight_scale: float = 1e-2,
        reg: float = 0.0,
        bn_momentum: float = 0.9,
        dtype=np.float32,
        seed: int = 0,
        col_budget_bytes: int = DEFAULT_COL_BUDGET_BYTES,
        eval_batch_size: int = 250,
    ):
        if isinstance(blocks, dict) or not isinstance(blocks, (list, tuple)) or not blocks:
            raise ValueError(f"blocks must be a non-empty list of dicts, got {blocks!r}")
        if not isinstance(input_shape, (list, tuple)) or len(input_shape) != 3:
            raise ValueError(f"input_shape must be (H, W, C), got {input_shape!r}")
        self.input_shape = tuple(check_int("input_shape[i]", v) for v in input_shape)
        self.init = check_choice("init", init, INIT_SCHEMES)
        self.weight_scale = check_number("weight_scale", weight_scale)
        self.reg = check_number("reg", reg)
        self.bn_momentum = check_number("bn_momentum", bn_momentum)
        if self.bn_momentum > 1:
            raise ValueError(f"bn_momentum must be in [0, 1], got {bn_momentum!r}")
        self.dtype = check_float_dtype(dtype)
        self.seed = check_int("seed", seed, 0)
        self.col_budget_bytes = check_int("col_budget_bytes", col_budget_bytes)
        self.eval_batch_size = check_int("eval_batch_size", eval_batch_size)
        self.head_dropout_keep_ratio = _check_keep(
            "head_dropout_keep_ratio", head_dropout_keep_ratio
        )
        self.global_pool = bool(global_pool)
        self.blocks = [_check_block(i, b) for i, b in enumerate(blocks)]
        self._features, self.feature_shape = _feature_program(self.blocks, self.input_shape)
        # nets.py's streams: weights from default_rng(seed), dropout from the first child;
        # a replaced head from the second child
        rng = np.random.default_rng(self.seed)
        dropout_ss, self._head_ss = np.random.SeedSequence(self.seed).spawn(2)
        self.params: dict[str, np.ndarray] = {}
        for op in self._features:
            if isinstance(op, _Conv):
                self._init_conv(op, rng)
        #: one state dict per convolution (running statistics of its batch norm, if any)
        self.bn_params: list[dict] = [{"mode": "train"} for op in self._convs]
        self.frozen: set[str] = set()
        self._head: list[_Affine] = []
        self._build_head(hidden_dims, num_classes, rng)
        self._rng = np.random.default_rng(dropout_ss)

    # ------------------------------------------------------------------ structure
    @property
    def _convs(self) -> list[_Conv]:
        return [op for op in self._features if isinstance(op, _Conv)]

    @property
    def feature_layers(self) -> list[int]:
        """Numbers of the convolutional layers (stride-2 "conv" pooling included)."""
        return [op.layer for op in self._convs]

    @property
    def head_layers(self) -> list[int]:
        """Numbers of the fully-connected layers (the last one gives the class scores)."""
        return [op.layer for op in self._head]

    @property
    def num_classes(self) -> int:
        return self._head[-1].d_out

    @property
    def hidden_dims(self) -> list[int]:
        return [op.d_out for op in self._head[:-1]]

    def layer_params(self, layer: int) -> list[str]:
        """The parameter names of layer ``layer``."""
        names = [f"{p}{layer}" for p in ("W", "b", "gamma", "beta")]
        found = [n for n in names if n in self.params]
        if not found:
            raise ValueError(f"no layer {layer}; layers are 1..{self._head[-1].layer}")
        return found

    def _init_conv(self, op: _Conv, rng) -> None:
        fan_in = op.kernel * op.kernel * op.c_in
        w = init_weights(fan_in, op.c_out, self.init, self.weight_scale, rng, self.dtype)
        self.params[f"W{op.layer}"] = w.reshape(op.kernel, op.kernel, op.c_in, op.c_out)
        self.params[f"b{op.layer}"] = np.zeros(op.c_out, dtype=self.dtype)
        if op.norm is not None:
            self.params[f"gamma{op.layer}"] = np.ones(op.c_out, dtype=self.dtype)
            self.params[f"beta{op.layer}"] = np.zeros(op.c_out, dtype=self.dtype)

    def _build_head(self, hidden_dims, num_classes, rng) -> None:
        if isinstance(hidden_dims, (str, bytes)) or not isinstance(hidden_dims, Iterable):
            raise ValueError(f"hidden_dims must be a list of positive ints, got {hidden_dims!r}")
        hidden_dims = [check_int("hidden_dims[i]", h) for h in hidden_dims]
        num_classes = check_int("num_classes", num_classes)
        H, W, C = self.feature_shape
        d_in = C if self.global_pool else H * W * C
        first = len(self._convs) + 1
        self._head = _head_program(
            first, d_in, hidden_dims, num_classes, self.head_dropout_keep_ratio
        )
        for op in self._head:
            self.params[f"W{op.layer}"] = init_weights(
                op.d_in, op.d_out, self.init, self.weight_scale, rng, self.dtype
            )
            self.params[f"b{op.layer}"] = np.zeros(op.d_out, dtype=self.dtype)

    # ------------------------------------------------------------------ transfer learning
    def _names(self, which) -> set[str]:
        if isinstance(which, str) and which == "features":
            return {n for layer in self.feature_layers for n in self.layer_params(layer)}
        if isinstance(which, str) and which == "head":
            return {n for layer in self.head_layers for n in self.layer_params(layer)}
        if isinstance(which, str):
            if which not in self.params:
                raise ValueError(
                    f"unknown parameter {which!r}; give 'features', 'head', a layer number "
                    f"or one of {sorted(self.params)}"
                )
            return {which}
        if isinstance(which, (int, np.integer)) and not isinstance(which, bool):
            return set(self.layer_params(int(which)))
        if isinstance(which, Iterable):
            return set().union(*(self._names(w) for w in which))
        raise ValueError(f"cannot freeze {which!r}")

    def freeze(self, which="features") -> None:
        """Freeze ``"features"`` (every convolution), ``"head"``, a layer number, a
        parameter name, or an iterable of those (see the module docstring)."""
        self.frozen |= self._names(which)

    def unfreeze(self, which=None) -> None:
        """Make ``which`` (as in :meth:`freeze`; None = everything) trainable again."""
        self.frozen -= set(self.frozen) if which is None else self._names(which)

    def replace_head(self, num_classes: int, hidden_dims=None, seed: int | None = None) -> None:
        """A fresh fully-connected head for ``num_classes`` classes (``hidden_dims``: None
        keeps the current hidden sizes).  Only the head is re-initialised, from
        ``np.random.default_rng(seed)`` (None: a stream derived from the model's seed).
        The new head is trainable; frozen convolutions stay frozen.
        """
        hidden_dims = self.hidden_dims if hidden_dims is None else hidden_dims
        rng = np.random.default_rng(self._head_ss if seed is None else check_int("seed", seed, 0))
        for layer in self.head_layers:
            for name in self.layer_params(layer):
                del self.params[name]
                self.frozen.discard(name)
        self._build_head(hidden_dims, num_classes, rng)

    # ------------------------------------------------------------------ forward / backward
    def _as_images(self, X) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim == 2 and X.shape[1] == int(np.prod(self.input_shape)):
            X = X.reshape(X.shape[0], *self.input_shape)
        if X.ndim != 4 or X.shape[1:] != self.input_shape:
            raise ValueError(
                f"X must have shape (N, {', '.join(map(str, self.input_shape))}) or "
                f"(N, {int(np.prod(self.input_shape))}), got {X.shape}"
            )
        return X.astype(self.dtype, copy=False)

    def _lowest_trainable_layer(self) -> int:
        """Backpropagation stops at this layer (no gradient below it is needed)."""
        trainable = [
            layer
            for layer in self.feature_layers + self.head_layers
            if any(n not in self.frozen for n in self.layer_params(layer))
        ]
        return min(trainable, default=self._head[-1].layer + 1)

    def _conv_forward(self, op: _Conv, h, mode: str):
        p = self.params
        i = op.layer
        conv_param = {
            "stride": op.stride,
            "pad": op.pad,
            "col_budget_bytes": self.col_budget_bytes,
        }
        h, c_conv = conv_forward(h, p[f"W{i}"], p[f"b{i}"], conv_param)
        # h is always a fresh array here that nothing else holds: the norm and the ReLU
        # may work in place (less memory, fewer passes)
        c_norm = None
        if op.norm == "batch":
            bn = self.bn_params[self.feature_layers.index(i)]
            bn["mode"] = "test" if f"gamma{i}" in self.frozen else mode
            bn["momentum"] = self.bn_momentum
            h, c_norm = spatial_batchnorm_forward(
                h, p[f"gamma{i}"], p[f"beta{i}"], bn, overwrite_x=True
            )
        elif op.norm == "group":
            h, c_norm = spatial_groupnorm_forward(h, p[f"gamma{i}"], p[f"beta{i}"], op.groups)
        np.maximum(h, 0, out=h)
        # the ReLU's output is its cache: relu_backward's mask (cache > 0) is the same
        # for the output as for the input
        return h, (c_conv, c_norm, h)

    def _conv_backward(self, op: _Conv, dh, cache, grads, need_dx: bool):
        c_conv, c_norm, c_relu = cache
        i = op.layer
        dh = relu_backward(dh, c_relu)  # a fresh array: batch norm may overwrite it
        if op.norm == "batch":
            dh, grads[f"gamma{i}"], grads[f"beta{i}"] = spatial_batchnorm_backward(
                dh, c_norm, overwrite_dout=True
            )
        elif op.norm == "group":
            dh, grads[f"gamma{i}"], grads[f"beta{i}"] = spatial_groupnorm_backward(dh, c_norm)
        dh, grads[f"W{i}"], grads[f"b{i}"] = conv_backward(dh, c_conv, need_dx=need_dx)
        return dh

    def _forward(self, X, mode: str):
        """Scores and, in train mode, the per-op caches (None in test mode: nothing kept)."""
        train = mode == "train"
        dropout_param = {"mode": mode, "rng": self._rng}
        caches = []
        h = self._as_images(X)
        for op in self._features:
            if isinstance(op, _Conv):
                h, cache = self._conv_forward(op, h, mode)
            elif isinstance(op, _Pool):
                pool_param = {"pool_height": op.size, "pool_width": op.size, "stride": op.size}
                pool = max_pool_forward if op.kind == "max" else avg_pool_forward
                h, cache = pool(h, pool_param)
            elif train:  # dropout is the identity in test mode
                h, cache = dropout_forward(h, {**dropout_param, "p": op.keep})
            caches.append(cache if train else None)
        if self.global_pool:
            h, cache = global_avg_pool_forward(h)
        else:
            cache = h.shape
            h = h.reshape(h.shape[0], -1)
        caches.append(cache if train else None)
        for op in self._head:
            h, c_aff = affine_forward(h, self.params[f"W{op.layer}"], self.params[f"b{op.layer}"])
            c_relu = c_drop = None
            if op.hidden:
                h, c_relu = relu_forward(h)
                if op.keep < 1 and train:
                    h, c_drop = dropout_forward(h, {**dropout_param, "p": op.keep})
            caches.append((c_aff, c_relu, c_drop) if train else None)
        return h, caches

    def _backward(self, dscores, caches) -> dict[str, np.ndarray]:
        grads: dict[str, np.ndarray] = {}
        stop = self._lowest_trainable_layer()
        dh = dscores
        for op, (c_aff, c_relu, c_drop) in zip(self._head[::-1], caches[::-1]):
            if c_drop is not None:
                dh = dropout_backward(dh, c_drop)
            if c_relu is not None:
                dh = relu_backward(dh, c_relu)
            if op.layer == stop:  # nothing below needs a gradient: skip dx
                x, _w, _b = c_aff
                grads[f"W{op.layer}"] = weight_grad(x, dh)
                grads[f"b{op.layer}"] = dh.sum(axis=0)
                return grads
            dh, grads[f"W{op.layer}"], grads[f"b{op.layer}"] = affine_backward(dh, c_aff)
        n_feat = len(self._features)
        cache = caches[n_feat]
        if self.global_pool:
            dh = global_avg_pool_backward(dh, cache)
        else:
            dh = dh.reshape(cache)
        for op, cache in zip(self._features[::-1], caches[n_feat - 1 :: -1]):
            if isinstance(op, _Conv):
                dh = self._conv_backward(op, dh, cache, grads, need_dx=op.layer > stop)
                if op.layer == stop:
                    break
            elif isinstance(op, _Pool):
                dh = (max_pool_backward if op.kind == "max" else avg_pool_backward)(dh, cache)
            else:
                dh = dropout_backward(dh, cache)
        return grads

    def loss(self, X, y=None, reduction: str = "mean"):
        """Scores ``(N, classes)`` (test mode) if ``y`` is None, else ``(loss, grads)``
        (train mode); frozen parameters get zero gradients."""
        check_choice("reduction", reduction, ("mean", "sum"))
        if y is None:
            X = np.asarray(X)
            step = self.eval_batch_size
            parts = [self._forward(X[i : i + step], "test")[0] for i in range(0, len(X), step)]
            return np.concatenate(parts) if len(parts) != 1 else parts[0]
        scores, caches = self._forward(X, "train")
        loss, dscores = softmax_loss(scores, y, reduction=reduction)
        grads = self._backward(dscores, caches)
        for name, w in self.params.items():
            if name in self.frozen or name not in grads:
                grads[name] = np.zeros_like(w)
            elif name[0] == "W" and self.reg > 0:
                pl, pg = penalty(w, self.reg)
                loss += pl
                grads[name] += pg
        # a frozen weight's penalty is a constant, but it is still part of the objective
        for name in self.frozen:
            if name[0] == "W" and self.reg > 0:
                loss += penalty(self.params[name], self.reg)[0]
        return loss, {k: grads[k] for k in self.params}


class ThreeLayerConvNet(ConvNet):
    """CS231n's three-layer convnet: conv (``num_filters`` of ``filter_size`` x
    ``filter_size``, stride 1, "same" padding) - ReLU - 2x2 max pool - affine
    (``hidden_dim``) - ReLU - affine - softmax.

    Parameters ``W1`` (k, k, C, F), ``b1``, ``W2`` (H/2 * W/2 * F, hidden), ``b2``, ``W3``
    (hidden, classes), ``b3``; every weight ``weight_scale * N(0, 1)``, biases zero.
    """

    def __init__(
        self,
        input_shape=(32, 32, 3),
        num_filters: int = 32,
        filter_size: int = 7,
        hidden_dim: int = 100,
        num_classes: int = 10,
        weight_scale: float = 1e-3,
        reg: float = 0.0,
        dtype=np.float32,
        seed: int = 0,
        col_budget_bytes: int = DEFAULT_COL_BUDGET_BYTES,
    ):
        filter_size = check_int("filter_size", filter_size)
        block = {
            "widths": [num_filters],
            "kernel": filter_size,
            "pad": (filter_size - 1) // 2,
            "pool": "max",
            "pool_size": 2,
        }
        super().__init__(
            [block],
            [hidden_dim],
            input_shape,
            num_classes,
            init="gaussian",
            weight_scale=weight_scale,
            reg=reg,
            dtype=dtype,
            seed=seed,
            col_budget_bytes=col_budget_bytes,
        )
