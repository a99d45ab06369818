"""Convolution, pooling and spatial normalisation layers (CS231n ``layers.py`` shape), NHWC.

**Layout: channels last, everywhere.**  Activations are ``(N, H, W, C)``, convolution
weights ``(KH, KW, C_in, C_out)``, biases ``(C_out,)``.  Channels last is what makes the
fast convolution cheap: the im2col row of one output position is its KH x KW x C_in input
patch with C contiguous, so ``col (N*Ho*Wo, KH*KW*C_in) @ w.reshape(KH*KW*C_in, C_out)`` is
already the NHWC output (no transposes in or out), and a channel's values are a column of
the free view ``x.reshape(-1, C)`` (spatial batch norm is the 2-D batch norm on that view).

Conventions of :mod:`nplab.layers`: every ``*_forward`` returns ``(out, cache)`` and the
matching ``*_backward(dout, cache)`` the gradients; the inputs' dtype is kept (float32 in,
float32 out); no I/O, no global state.

**Convolution.**  ``conv_param``: ``stride`` (default 1) and ``pad`` (default 0; zeros on
all four sides); the fast version also reads ``col_budget_bytes`` (default
:data:`DEFAULT_COL_BUDGET_BYTES`, see Memory).  Output size
``floor((H + 2 pad - KH) / stride) + 1``: input rows past the last whole window are
ignored, as in PyTorch.

* :func:`conv_forward_naive` / :func:`conv_backward_naive`: loops over (n, ho, wo), the
  readable reference.
* :func:`conv_forward` / :func:`conv_backward`: im2col + one matrix product per chunk of
  images.  The im2col copy reads a strided window view (``as_strided``) of the zero-padded
  chunk into a preallocated buffer; the backward pass scatters the patch gradients back
  with one strided ``+=`` per kernel offset (col2im; never ``np.add.at``).

**Memory.**  The im2col matrix of a whole batch is large (batch 128, 32 channels, 3x3 at
32x32: 144 MiB float32), so the fast convolution works on chunks of images whose im2col
block fits ``col_budget_bytes`` (at least one image per chunk), and it caches only the
input: the backward pass recomputes each chunk's im2col block instead of keeping it (a
copy, cheap next to the matrix products) and reuses that block's buffer for the patch
gradients.  Small chunks are also faster: the block stays in cache between the copy and
the product.

**Pooling.**  ``pool_param``: ``pool_height``, ``pool_width``, ``stride`` (CS231n's keys;
defaults 2, 2, 2).  Three versions give the same numbers: a loop version (``*_naive``), a
reshape path when the windows tile the image (stride == pool size, H and W divisible) and
a general strided path otherwise; :func:`max_pool_forward` / :func:`avg_pool_forward` pick
the path.  The forward pass of both fast paths is a running max (sum) over the ph*pw
strided offset views; they differ in the backward pass, which the reshape path does as
one broadcast operation on the (N, Ho, ph, Wo, pw, C) view of the tiling windows and the
strided path as one strided ``+=`` per window offset.  **Ties in max pooling:** every
element equal to its window's maximum receives that window's whole upstream gradient
(CS231n's reshape convention, kept in all three versions so that they agree).  Ties are
rare in real-valued activations; after a ReLU, all-zero windows tie, but the ReLU's
backward pass zeroes those gradients anyway.

**Normalisation.**  Spatial batch norm normalises each channel over (N, H, W) with the
contract and the numbers of :func:`nplab.layers.batchnorm_forward` on the (N*H*W, C) view
(train/test modes, running statistics with momentum in ``bn_param``).  Spatial group norm
normalises each example over groups of C/G consecutive channels and all positions (G = 1:
layer norm, G = C: instance norm); ``gamma``/``beta`` are per channel.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import as_strided

from ._checks import check_float_array, check_int, check_number, check_vector

__all__ = [
    "DEFAULT_COL_BUDGET_BYTES",
    "conv_output_size",
    "conv_forward_naive",
    "conv_backward_naive",
    "conv_forward",
    "conv_backward",
    "max_pool_forward_naive",
    "max_pool_backward_naive",
    "max_pool_forward",
    "max_pool_backward",
    "avg_pool_forward_naive",
    "avg_pool_backward_naive",
    "avg_pool_forward",
    "avg_pool_backward",
    "spatial_batchnorm_forward",
    "spatial_batchnorm_backward",
    "spatial_groupnorm_forward",
    "spatial_groupnorm_backward",
    "global_avg_pool_forward",
    "global_avg_pool_backward",
    "flatten_forward",
    "flatten_backward",
]

#: Default size of one chunk's im2col block (bytes).  A few MiB keeps the block in cache
#: between the im2col copy, the matrix products and col2im, while the products (thousands
#: of rows) stay large enough for BLAS.  Measured with ``bench/bench_conv.py --sections
#: budgets`` (the six lab layers, batch 128, forward + backward, 2 threads, idle 2-core
#: machine): 2 MiB 277 ms, 4 MiB 274 ms, 8 MiB 298 ms, 16 MiB 351 ms, 64 MiB 409 ms.
DEFAULT_COL_BUDGET_BYTES = 4 * 2**20


# --------------------------------------------------------------------------- checks
def _check_nhwc(name: str, x) -> np.ndarray:
    x = check_float_array(name, x)
    if x.ndim != 4:
        raise ValueError(f"{name} must be 4-D (N, H, W, C), got shape {x.shape}")
    return x


def _check_dout(dout, shape) -> np.ndarray:
    dout = np.asarray(dout)
    if dout.shape != tuple(shape):
        raise ValueError(f"dout must have shape {tuple(shape)}, got {dout.shape}")
    return dout


def _check_param_dict(name: str, param) -> dict:
    if param is None:
        return {}
    if not isinstance(param, dict):
        raise ValueError(f"{name} must be a dict, got {type(param).__name__}")
    return param


def conv_output_size(size: int, kernel: int, stride: int, pad: int) -> int:
    """``floor((size + 2 pad - kernel) / stride) + 1``; ValueError if no window fits."""
    if size + 2 * pad < kernel:
        raise ValueError(f"kernel {kernel} does not fit an input of size {size} with padding {pad}")
    return (size + 2 * pad - kernel) // stride + 1


# --------------------------------------------------------------------------- conv geometry
class _ConvGeometry(NamedTuple):
    N: int
    H: int
    W: int
    C: int
    KH: int
    KW: int
    F: int
    Ho: int
    Wo: int
    stride: int
    pad: int
    budget: int

    @property
    def K(self) -> int:
        """Length of one im2col row: the KH x KW x C patch."""
        return self.KH * self.KW * self.C


def _conv_setup(x, w, b, conv_param):
    """Validate the arguments; return ``(x, w, b, geometry)`` in their common dtype."""
    x = _check_nhwc("x", x)
    w = check_float_array("w", w)
    b = check_float_array("b", b)
    if w.ndim != 4:
        raise ValueError(f"w must be 4-D (KH, KW, C_in, C_out), got shape {w.shape}")
    N, H, W, C = x.shape
    KH, KW, C_in, F = w.shape
    if C_in != C:
        raise ValueError(f"w has {C_in} input channels but x has {C} (w shape {w.shape})")
    if b.shape != (F,):
        raise ValueError(f"b must have shape ({F},), got {b.shape}")
    conv_param = _check_param_dict("conv_param", conv_param)
    stride = check_int("conv_param['stride']", conv_param.get("stride", 1))
    pad = check_int("conv_param['pad']", conv_param.get("pad", 0), 0)
    budget = check_int(
        "conv_param['col_budget_bytes']",
        conv_param.get("col_budget_bytes", DEFAULT_COL_BUDGET_BYTES),
    )
    Ho = conv_output_size(H, KH, stride, pad)
    Wo = conv_output_size(W, KW, stride, pad)
    dtype = np.result_type(x, w, b)
    g = _ConvGeometry(N, H, W, C, KH, KW, F, Ho, Wo, stride, pad, budget)
    return x.astype(dtype, copy=False), w.astype(dtype, copy=False), b.astype(dtype, copy=False), g


# --------------------------------------------------------------------------- conv, naive
def conv_forward_naive(x, w, b, conv_param=None):
    """Convolution by loops over (n, ho, wo): ``out[n, i, j] = <patch, w> + b``.

    ``x`` (N, H, W, C), ``w`` (KH, KW, C, F), ``b`` (F,); returns ``out`` (N, Ho, Wo, F) and
    ``cache = (x, w, b, conv_param)``.  Slow on purpose: the reference for the fast version.
    """
    x, w, b, g = _conv_setup(x, w, b, conv_param)
    s, p = g.stride, g.pad
    xp = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
    out = np.empty((g.N, g.Ho, g.Wo, g.F), dtype=x.dtype)
    for n in range(g.N):
        for i in range(g.Ho):
            for j in range(g.Wo):
                patch = xp[n, i * s : i * s + g.KH, j * s : j * s + g.KW, :]
                out[n, i, j] = np.tensordot(patch, w, axes=3) + b
    return out, (x, w, b, conv_param)


def conv_backward_naive(dout, cache):
    """Gradients ``(dx, dw, db)`` of :func:`conv_forward_naive`, by the same loops.

    Each output position sends ``w @ dout[n, i, j]`` back to its input patch and adds
    ``patch x dout[n, i, j]`` (outer product) to ``dw``.
    """
    x, w, b, conv_param = cache
    _, _, _, g = _conv_setup(x, w, b, conv_param)
    dout = _check_dout(dout, (g.N, g.Ho, g.Wo, g.F))
    s, p = g.stride, g.pad
    xp = np.pad(x, ((0, 0), (p, p), (p, p), (0, 0)))
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for n in range(g.N):
        for i in range(g.Ho):
            for j in range(g.Wo):
                rows = slice(i * s, i * s + g.KH)
                cols = slice(j * s, j * s + g.KW)
                d = dout[n, i, j]
                dw += xp[n, rows, cols, :, None] * d
                dxp[n, rows, cols, :] += w @ d
    db = dout.sum(axis=(0, 1, 2))
    dx = dxp[:, p : p + g.H, p : p + g.W, :].copy()
    return dx, dw, db


# --------------------------------------------------------------------------- conv, fast
def _chunks(g: _ConvGeometry, itemsize: int) -> list[tuple[int, int]]:
    """Equal-sized ``(start, stop)`` image ranges whose im2col blocks fit the budget."""
    if g.N == 0:
        return [(0, 0)]
    per_image = g.Ho * g.Wo * g.K * itemsize
    most = max(1, g.budget // per_image)
    count = -(-g.N // most)
    size = -(-g.N // count)  # spread the images evenly: no tiny last chunk
    return [(start, min(start + size, g.N)) for start in range(0, g.N, size)]


class _Workspace:
    """The buffers of one convolution call: a zero-bordered padded chunk and an im2col
    block, both sized for the largest chunk and reused by every chunk."""

    def __init__(self, g: _ConvGeometry, chunk: int, dtype):
        p = g.pad
        # zeros once: only the interior is ever written, so the border stays zero
        self.padded = np.zeros((chunk, g.H + 2 * p, g.W + 2 * p, g.C), dtype=dtype) if p else None
        self.col = np.empty((chunk, g.Ho, g.Wo, g.KH, g.KW, g.C), dtype=dtype)

    def im2col(self, x: np.ndarray, g: _ConvGeometry) -> np.ndarray:
        """Copy the patches of the chunk ``x`` into the block; return it as (rows, K)."""
        m = x.shape[0]
        src = x
        if self.padded is not None:
            src = self.padded[:m]
            src[:, g.pad : g.pad + g.H, g.pad : g.pad + g.W, :] = x
        sn, sh, sw, sc = src.strides
        s = g.stride
        windows = as_strided(
            src,
            shape=(m, g.Ho, g.Wo, g.KH, g.KW, g.C),
            strides=(sn, s * sh, s * sw, sh, sw, sc),
            writeable=False,
        )
        block = self.col[:m]
        np.copyto(block, windows)
        return block.reshape(m * g.Ho * g.Wo, g.K)


def conv_forward(x, w, b, conv_param=None):
    """Fast convolution (im2col + one matrix product per chunk); same contract as
    :func:`conv_forward_naive`, ``cache = (x, w, b, geometry)``.
    """
    x, w, b, g = _conv_setup(x, w, b, conv_param)
    chunks = _chunks(g, x.dtype.itemsize)
    ws = _Workspace(g, chunks[0][1] - chunks[0][0], x.dtype)
    w2 = w.reshape(g.K, g.F)
    out = np.empty((g.N, g.Ho, g.Wo, g.F), dtype=x.dtype)
    for start, stop in chunks:
        col = ws.im2col(x[start:stop], g)
        out2 = out[start:stop].reshape(-1, g.F)  # a view: out is C-contiguous
        np.matmul(col, w2, out=out2)
        out2 += b  # while the chunk is still in cache
    return out, (x, w, b, g)


def _kernel_offset_range(offset: int, size: int, out_size: int, stride: int, pad: int):
    """The outputs whose window puts kernel row ``offset`` inside the input, and the
    input rows they hit: ``(out_slice, in_slice, covers_all_inputs)``."""
    first = max(0, -((offset - pad) // stride))  # ceil((pad - offset) / stride)
    last = min(out_size - 1, (size - 1 + pad - offset) // stride)
    if last < first:
        return None
    start = first * stride + offset - pad
    count = last - first + 1
    in_slice = slice(start, start + (count - 1) * stride + 1, stride)
    return slice(first, last + 1), in_slice, stride == 1 and count == size


def _col2im(dcol: np.ndarray, dx: np.ndarray, g: _ConvGeometry) -> None:
    """Scatter patch gradients ``dcol`` (m, Ho, Wo, KH, KW, C) into ``dx`` (m, H, W, C):
    one strided ``+=`` per kernel offset, clipped to the unpadded input (no padded copy).
    """
    rows = [_kernel_offset_range(a, g.H, g.Ho, g.stride, g.pad) for a in range(g.KH)]
    cols = [_kernel_offset_range(c, g.W, g.Wo, g.stride, g.pad) for c in range(g.KW)]
    offsets = [
        (a, c)
        for a in range(g.KH)
        for c in range(g.KW)
        if rows[a] is not None and cols[c] is not None
    ]
    # an offset whose window positions hit every input (stride 1, e.g. the centre of a
    # "same" convolution) initialises dx by assignment instead of zeros + add
    first = next(((a, c) for a, c in offsets if rows[a][2] and cols[c][2]), None)
    if first is None:
        dx[...] = 0
    else:
        a, c = first
        dx[...] = dcol[:, rows[a][0], cols[c][0], a, c, :]
    for a, c in offsets:
        if (a, c) != first:
            (out_r, in_r, _), (out_c, in_c, _) = rows[a], cols[c]
            dx[:, in_r, in_c, :] += dcol[:, out_r, out_c, a, c, :]


def conv_backward(dout, cache, need_dx: bool = True):
    """Gradients ``(dx, dw, db)`` of :func:`conv_forward`.

    Per chunk: recompute the im2col block, ``dw += col.T @ dout``, then (if ``need_dx``)
    ``dcol = dout @ w.T`` into the same buffer and col2im.  ``need_dx=False`` (the first
    layer: nothing needs the gradient of the input images) returns ``dx = None`` and
    skips a third of the work.
    """
    x, w, _b, g = cache
    dout = _check_dout(dout, (g.N, g.Ho, g.Wo, g.F)).astype(x.dtype, copy=False)
    chunks = _chunks(g, x.dtype.itemsize)
    ws = _Workspace(g, chunks[0][1] - chunks[0][0], x.dtype)
    w2 = w.reshape(g.K, g.F)
    dw = np.empty((g.K, g.F), dtype=x.dtype)
    dw_chunk = np.empty_like(dw) if len(chunks) > 1 else dw
    dx = np.empty_like(x) if need_dx else None
    for i, (start, stop) in enumerate(chunks):
        col = ws.im2col(x[start:stop], g)
        d2 = dout[start:stop].reshape(-1, g.F)
        np.matmul(col.T, d2, out=dw if i == 0 else dw_chunk)
        if i:
            dw += dw_chunk
        if need_dx:
            np.matmul(d2, w2.T, out=col)  # the block is free again: reuse it for dcol
            _col2im(ws.col[: stop - start], dx[start:stop], g)
    db = _column_sums(dout.reshape(-1, g.F))
    return dx, dw.reshape(w.shape), db


# --------------------------------------------------------------------------- pooling
class _PoolGeometry(NamedTuple):
    N: int
    H: int
    W: int
    C: int
    ph: int
    pw: int
    stride: int
    Ho: int
    Wo: int

    @property
    def tiles(self) -> bool:
        """True when the windows tile the image exactly (the reshape path applies)."""
        return self.stride == self.ph == self.pw and self.H % self.ph == 0 and self.W % self.pw == 0

    def offset_view(self, x: np.ndarray, a: int, c: int) -> np.ndarray:
        """Element (a, c) of every window: ``x[:, a + s*i, c + s*j]`` for all (i, j)."""
        s = self.stride
        return x[:, a : a + s * (self.Ho - 1) + 1 : s, c : c + s * (self.Wo - 1) + 1 : s, :]

    def windows(self, x: np.ndarray) -> np.ndarray:
        """The (N, Ho, ph, Wo, pw, C) view of tiling windows (requires ``tiles``)."""
        return x.reshape(self.N, self.Ho, self.ph, self.Wo, self.pw, self.C)

    def window(self, x: np.ndarray, n: int, i: int, j: int) -> np.ndarray:
        s = self.stride
        return x[n, i * s : i * s + self.ph, j * s : j * s + self.pw, :]


def _pool_setup(x, pool_param) -> _PoolGeometry:
    x = _check_nhwc("x", x)
    pool_param = _check_param_dict("pool_param", pool_param)
    ph = check_int("pool_param['pool_height']", pool_param.get("pool_height", 2))
    pw = check_int("pool_param['pool_width']", pool_param.get("pool_width", 2))
    stride = check_int("pool_param['stride']", pool_param.get("stride", 2))
    N, H, W, C = x.shape
    Ho = conv_output_size(H, ph, stride, 0)
    Wo = conv_output_size(W, pw, stride, 0)
    return _PoolGeometry(N, H, W, C, ph, pw, stride, Ho, Wo)


def _window_offsets(g: _PoolGeometry):
    return [(a, c) for a in range(g.ph) for c in range(g.pw)]


def _expand(a: np.ndarray) -> np.ndarray:
    """(N, Ho, Wo, C) -> (N, Ho, 1, Wo, 1, C), to broadcast against tiling windows."""
    return a[:, :, None, :, None, :]


def _pool_forward_loops(x, pool_param, reduce):
    """``reduce`` (np.max, np.mean) of every window by loops over (n, ho, wo);
    ``cache = (x, pool_param)``."""
    x = _check_nhwc("x", x)
    g = _pool_setup(x, pool_param)
    out = np.empty((g.N, g.Ho, g.Wo, g.C), dtype=x.dtype)
    for n in range(g.N):
        for i in range(g.Ho):
            for j in range(g.Wo):
                out[n, i, j] = reduce(g.window(x, n, i, j), axis=(0, 1))
    return out, (x, pool_param)


def max_pool_forward_naive(x, pool_param=None):
    """Max pooling by loops over (n, ho, wo); ``cache = (x, pool_param)``."""
    return _pool_forward_loops(x, pool_param, np.max)


def max_pool_backward_naive(dout, cache):
    """``dx`` of :func:`max_pool_forward_naive`: each window's gradient goes to every
    element equal to the window's maximum (see the module docstring on ties)."""
    x, pool_param = cache
    g = _pool_setup(x, pool_param)
    dout = _check_dout(dout, (g.N, g.Ho, g.Wo, g.C))
    dx = np.zeros_like(x)
    for n in range(g.N):
        for i in range(g.Ho):
            for j in range(g.Wo):
                win = g.window(x, n, i, j)
                g.window(dx, n, i, j)[...] += (win == win.max(axis=(0, 1))) * dout[n, i, j]
    return dx


def _reduce_windows(x: np.ndarray, g: _PoolGeometry, combine) -> np.ndarray:
    """``combine`` (np.maximum or np.add) over the ph*pw window offsets, one strided view
    each.  Used by both paths: twice as fast as numpy's reduction over two axes of the
    reshaped (N, Ho, ph, Wo, pw, C) view, which steps through 2-element axes."""
    out = g.offset_view(x, 0, 0).copy()
    for a, c in _window_offsets(g)[1:]:
        combine(out, g.offset_view(x, a, c), out=out)
    return out


def max_pool_forward(x, pool_param=None, path: str = "auto"):
    """Fast max pooling.  ``path`` picks the backward pass: ``"reshape"`` (windows must
    tile the image: one broadcast compare-and-multiply on the (N, Ho, ph, Wo, pw, C) view),
    ``"strided"`` (any windows: one strided ``+=`` per window offset) or ``"auto"``
    (reshape when it applies).  ``cache = (path, x, out, geometry)``.
    """
    x = _check_nhwc("x", x)
    g = _pool_setup(x, pool_param)
    path = _pool_path(path, g)
    out = _reduce_windows(x, g, np.maximum)
    return out, (path, x, out, g)


def max_pool_backward(dout, cache):
    """``dx`` of :func:`max_pool_forward` (same tie rule as the naive version)."""
    path, x, out, g = cache
    dout = _check_dout(dout, out.shape)
    if path == "reshape":
        dx = np.multiply(g.windows(x) == _expand(out), _expand(dout), dtype=x.dtype)
        return dx.reshape(x.shape)
    dx = np.zeros_like(x)
    for a, c in _window_offsets(g):
        g.offset_view(dx, a, c)[...] += np.multiply(
            g.offset_view(x, a, c) == out, dout, dtype=x.dtype
        )
    return dx


def _pool_path(path: str, g: _PoolGeometry) -> str:
    if path not in ("auto", "reshape", "strided"):
        raise ValueError(f"path must be 'auto', 'reshape' or 'strided', got {path!r}")
    if path == "auto":
        return "reshape" if g.tiles else "strided"
    if path == "reshape" and not g.tiles:
        raise ValueError(
            "the reshape path needs windows that tile the image (stride == pool size, "
            f"H and W divisible); got pool {g.ph}x{g.pw}, stride {g.stride}, image {g.H}x{g.W}"
        )
    return path


def avg_pool_forward_naive(x, pool_param=None):
    """Average pooling by loops over (n, ho, wo); ``cache = (x, pool_param)``."""
    return _pool_forward_loops(x, pool_param, np.mean)


def avg_pool_backward_naive(dout, cache):
    """``dx`` of :func:`avg_pool_forward_naive`: each window spreads its gradient evenly."""
    x, pool_param = cache
    g = _pool_setup(x, pool_param)
    dout = _check_dout(dout, (g.N, g.Ho, g.Wo, g.C))
    dx = np.zeros_like(x)
    share = 1.0 / (g.ph * g.pw)
    for n in range(g.N):
        for i in range(g.Ho):
            for j in range(g.Wo):
                g.window(dx, n, i, j)[...] += dout[n, i, j] * share
    return dx


def avg_pool_forward(x, pool_param=None, path: str = "auto"):
    """Fast average pooling; ``path`` (the backward pass) as in :func:`max_pool_forward`.
    ``cache = (path, x.shape, x.dtype, geometry)``: the backward pass needs no values.
    """
    x = _check_nhwc("x", x)
    g = _pool_setup(x, pool_param)
    path = _pool_path(path, g)
    out = _reduce_windows(x, g, np.add)
    out *= 1.0 / (g.ph * g.pw)
    return out, (path, x.shape, x.dtype, g)


def avg_pool_backward(dout, cache):
    """``dx`` of :func:`avg_pool_forward`: ``dout / (ph * pw)`` on every window element."""
    path, shape, dtype, g = cache
    dout = _check_dout(dout, (g.N, g.Ho, g.Wo, g.C))
    share = np.multiply(dout, 1.0 / (g.ph * g.pw), dtype=dtype)
    if path == "reshape":
        dx = np.empty((g.N, g.Ho, g.ph, g.Wo, g.pw, g.C), dtype=dtype)
        dx[...] = _expand(share)
        return dx.reshape(shape)
    dx = np.zeros(shape, dtype=dtype)
    for a, c in _window_offsets(g):
        g.offset_view(dx, a, c)[...] += share
    return dx


# --------------------------------------------------------------------------- normalisation
def _bn_settings(bn_param, c: int, dtype):
    """mode, eps, momentum of ``bn_param`` (the rules of
    :func:`nplab.layers.batchnorm_forward`); creates missing running statistics."""
    if not isinstance(bn_param, dict):
        raise ValueError(f"bn_param must be a dict, got {type(bn_param).__name__}")
    mode = bn_param.get("mode")
    if mode not in ("train", "test"):
        raise ValueError(f"bn_param['mode'] must be 'train' or 'test', got {mode!r}")
    eps = check_number("bn_param['eps']", bn_param.get("eps", 1e-5), positive=True)
    momentum = check_number("bn_param['momentum']", bn_param.get("momentum", 0.9))
    if momentum > 1:
        raise ValueError(f"bn_param['momentum'] must be in [0, 1], got {momentum!r}")
    bn_param.setdefault("running_mean", np.zeros(c, dtype=dtype))
    bn_param.setdefault("running_var", np.ones(c, dtype=dtype))
    for key in ("running_mean", "running_var"):
        check_vector(f"bn_param[{key!r}]", bn_param[key], c)
    return mode, eps, momentum


def spatial_batchnorm_forward(x, gamma, beta, bn_param: dict, *, overwrite_x: bool = False):
    """Batch norm of each channel over (N, H, W); ``gamma``, ``beta`` (C,).

    ``bn_param`` as in :func:`nplab.layers.batchnorm_forward` (``mode`` required, ``eps``
    1e-5, ``momentum`` 0.9, running statistics (C,) created if absent and replaced by
    ``momentum * running + (1 - momentum) * batch`` in train mode; biased batch
    variance), and the same numbers as that layer on the (N*H*W, C) view (tested).  It is
    written out here rather than called because the spatial case is one of the training
    step's largest costs: the column sums run as matrix-vector products, ``out`` is formed
    from ``x - mean`` with one per-channel scale, and the cache keeps ``x - mean`` and
    ``1/std`` instead of a separate xhat.  ``overwrite_x=True`` (a caller that owns ``x``
    and no longer needs it, e.g. a fresh convolution output) centres ``x`` in place and
    keeps it as the cache instead of allocating a copy.
    """
    x = _check_nhwc("x", x)
    C = x.shape[3]
    gamma = check_vector("gamma", gamma, C)
    beta = check_vector("beta", beta, C)
    mode, eps, momentum = _bn_settings(bn_param, C, x.dtype)
    x2 = x.reshape(-1, C)
    m = x2.shape[0]
    if mode == "train":
        if m == 0:
            raise ValueError("x must hold at least one position in train mode")
        mean = _column_sums(x2) / m
    else:
        mean = bn_param["running_mean"].astype(x.dtype, copy=False)
    in_place = overwrite_x or not np.may_share_memory(x2, x)  # x2 may be a private copy
    centred = np.subtract(x2, mean, out=x2 if in_place else None, dtype=x.dtype)
    if mode == "train":
        var = np.einsum("ij,ij->j", centred, centred) / m
        rm, rv = bn_param["running_mean"], bn_param["running_var"]
        bn_param["running_mean"] = momentum * rm + (1 - momentum) * mean
        bn_param["running_var"] = momentum * rv + (1 - momentum) * var
    else:
        var = bn_param["running_var"].astype(x.dtype, copy=False)
    inv_std = 1 / np.sqrt(var + eps)
    out = np.multiply(centred, gamma * inv_std, dtype=x.dtype)
    out += beta
    return out.reshape(x.shape), (mode, centred, gamma, inv_std, x.shape)


def spatial_batchnorm_backward(dout, cache, *, overwrite_dout: bool = False):
    """Gradients ``(dx, dgamma, dbeta)`` of :func:`spatial_batchnorm_forward`.

    The closed form of :func:`nplab.layers.batchnorm_backward` (M = N*H*W positions,
    ``xhat = (x - mean) * inv_std``), regrouped per channel: train mode
    ``dx = a * dout + b * (x - mean) + c`` with ``a = gamma * inv_std``,
    ``b = -a * inv_std * dgamma / M``, ``c = -a * dbeta / M``; test mode ``dx = a * dout``.
    ``overwrite_dout=True`` (a caller that owns ``dout``) computes ``dx`` in its memory.
    """
    mode, centred, gamma, inv_std, shape = cache
    dout = _check_dout(dout, shape)
    d2 = dout.reshape(-1, shape[3])
    m = d2.shape[0]
    dbeta = _column_sums(d2)
    dgamma = np.einsum("ij,ij->j", d2, centred) * inv_std
    a = gamma * inv_std
    in_place = d2.dtype == centred.dtype and (overwrite_dout or not np.may_share_memory(d2, dout))
    dx = np.multiply(d2, a, out=d2 if in_place else None, dtype=centred.dtype)
    if mode == "train":
        dx += a * dbeta * (-1.0 / m)
        dx += np.multiply(centred, a * inv_std * dgamma * (-1.0 / m), dtype=centred.dtype)
    return dx.reshape(shape), dgamma, dbeta


def _column_sums(a: np.ndarray) -> np.ndarray:
    """``a.sum(axis=0)`` of a 2-D array as a matrix-vector product: BLAS streams the rows
    (on all its threads) several times faster than numpy's axis-0 reduction."""
    return np.matmul(np.ones(a.shape[0], dtype=a.dtype), a)


def spatial_groupnorm_forward(x, gamma, beta, G: int, gn_param: dict | None = None):
    """Group norm: each example's channels split into ``G`` groups of C/G consecutive
    channels, each group normalised over its channels and all positions (biased
    variance); then ``gamma * xhat + beta`` per channel.  ``gn_param`` may hold ``eps``
    (1e-5); train and test are the same.
    """
    x = _check_nhwc("x", x)
    N, H, W, C = x.shape
    G = check_int("G", G)
    if C % G:
        raise ValueError(f"G must divide the {C} channels, got G={G}")
    gamma = check_vector("gamma", gamma, C)
    beta = check_vector("beta", beta, C)
    eps = _check_param_dict("gn_param", gn_param).get("eps", 1e-5)
    if not np.isfinite(eps) or eps <= 0:
        raise ValueError(f"gn_param['eps'] must be a positive finite number, got {eps!r}")
    groups = x.reshape(N, H * W, G, C // G)
    mu = groups.mean(axis=(1, 3), keepdims=True)
    xhat = groups - mu
    var = np.square(xhat).mean(axis=(1, 3), keepdims=True)
    inv_std = 1 / np.sqrt(var + float(eps))
    xhat *= inv_std
    out = xhat.reshape(x.shape) * gamma
    out += beta
    return out, (xhat, gamma, inv_std, x.shape)


def spatial_groupnorm_backward(dout, cache):
    """Gradients ``(dx, dgamma, dbeta)`` of :func:`spatial_groupnorm_forward`.

    Per group of M = H*W*C/G values, with ``g = dout * gamma``:
    ``dx = inv_std / M * (M g - sum(g) - xhat * sum(g * xhat))``.
    """
    xhat, gamma, inv_std, shape = cache
    dout = _check_dout(dout, shape)
    C = shape[3]
    flat_hat = xhat.reshape(-1, C)
    flat_dout = dout.reshape(-1, C)
    dbeta = flat_dout.sum(axis=0)
    dgamma = np.einsum("ij,ij->j", flat_dout, flat_hat)
    g = (dout * gamma).reshape(xhat.shape)
    m = xhat.shape[1] * xhat.shape[3]
    dx = g * m
    dx -= g.sum(axis=(1, 3), keepdims=True)
    dx -= xhat * (g * xhat).sum(axis=(1, 3), keepdims=True)
    dx *= inv_std / m
    return dx.reshape(shape), dgamma, dbeta


# --------------------------------------------------------------------------- reshaping
def global_avg_pool_forward(x):
    """Mean over the positions: (N, H, W, C) -> (N, C); ``cache = x.shape``."""
    x = _check_nhwc("x", x)
    return x.mean(axis=(1, 2)), x.shape


def global_avg_pool_backward(dout, cache):
    """``dx``: every position gets ``dout / (H * W)``."""
    shape = cache
    N, H, W, C = shape
    dout = _check_dout(dout, (N, C))
    dx = np.empty(shape, dtype=dout.dtype)
    dx[...] = (dout * (1.0 / (H * W)))[:, None, None, :]
    return dx


def flatten_forward(x):
    """(N, d1, ..., dk) -> (N, d1*...*dk) (a view when ``x`` is contiguous); cache = shape.

    NHWC flattens in (h, w, c) order, the order of the pipeline's stored CIFAR rows.
    """
    x = np.asarray(x)
    return x.reshape(x.shape[0], -1), x.shape


def flatten_backward(dout, cache):
    """``dx = dout`` reshaped back to the input's shape."""
    return np.asarray(dout).reshape(cache)
