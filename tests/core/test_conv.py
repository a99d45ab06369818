"""Tests for nplab.conv: convolution, pooling, spatial norms, NHWC.

Gradient checks run in float64 with centred differences, h = 1e-5, and compare with
``nplab.gradcheck.rel_error`` over whole arrays.  Pooling check data are distinct values
spaced far apart compared with h, so no window has a tie and no perturbation moves a max.
"""

from __future__ import annotations

import numpy as np
import pytest

from nplab import conv as C
from nplab.gradcheck import eval_numerical_gradient_array, rel_error
from nplab.layers import batchnorm_backward, batchnorm_forward, layernorm_forward

SMOOTH_TOL = 1e-7


def _rng(seed=0):
    return np.random.default_rng(seed)


def _distinct(shape, seed=0):
    """Values 0.1 * a permutation of 0..size-1, shifted to mean ~0: no ties, far apart."""
    n = int(np.prod(shape))
    return (_rng(seed).permutation(n).reshape(shape) - n / 2) * 0.1


def _num_grads(forward, arrays, dout):
    """Numerical gradients of sum(forward(*arrays) * dout) w.r.t. each array."""
    return [
        eval_numerical_gradient_array(lambda _: forward(*arrays), a, dout, h=1e-5) for a in arrays
    ]


# --------------------------------------------------------------------------- conv
CONV_CASES = [  # (N, H, W, C), (KH, KW, F), stride, pad
    ((2, 5, 7, 3), (3, 3, 4), 1, 1),
    ((2, 7, 6, 2), (5, 5, 3), 2, 2),
    ((1, 7, 9, 3), (3, 2, 2), 3, 0),
    ((3, 5, 5, 1), (1, 1, 3), 1, 0),
    ((1, 6, 7, 2), (4, 3, 2), 2, 1),
]


def _check_conv_gradients(forward, backward, seed, xshape, wshape, param):
    """dx, dw, db of ``backward`` against numerical gradients on random inputs."""
    rng = _rng(seed)
    kh, kw, f = wshape
    x = rng.standard_normal(xshape)
    w = rng.standard_normal((kh, kw, xshape[3], f))
    b = rng.standard_normal(f)
    out, cache = forward(x, w, b, param)
    dout = rng.standard_normal(out.shape)
    grads = backward(dout, cache)
    nums = _num_grads(lambda x, w, b: forward(x, w, b, param)[0], (x, w, b), dout)
    for name, g, num in zip(["x", "w", "b"], grads, nums):
        assert rel_error(g, num) < SMOOTH_TOL, name


@pytest.mark.parametrize("xshape, wshape, stride, pad", CONV_CASES)
def test_conv_fast_gradients(xshape, wshape, stride, pad):
    param = {"stride": stride, "pad": pad, "col_budget_bytes": 1}  # one image per chunk
    _check_conv_gradients(C.conv_forward, C.conv_backward, 1, xshape, wshape, param)


@pytest.mark.parametrize("xshape, wshape, stride, pad", CONV_CASES[:2])
def test_conv_naive_gradients(xshape, wshape, stride, pad):
    param = {"stride": stride, "pad": pad}
    _check_conv_gradients(C.conv_forward_naive, C.conv_backward_naive, 2, xshape, wshape, param)


def test_conv_known_values():
    # one 3x3 all-ones filter with pad 1 sums each 3x3 neighbourhood; bias 0.5
    x = np.arange(9.0).reshape(1, 3, 3, 1)
    w = np.ones((3, 3, 1, 1))
    out, _ = C.conv_forward(x, w, np.array([0.5]), {"stride": 1, "pad": 1})
    expected = np.array([[8, 15, 12], [21, 36, 27], [20, 33, 24]]) + 0.5
    np.testing.assert_allclose(out[0, :, :, 0], expected)
    assert C.conv_output_size(32, 3, 1, 1) == 32
    assert C.conv_output_size(31, 3, 2, 1) == 16
    assert C.conv_output_size(8, 3, 2, 0) == 3  # floor: the last input row is unused


def test_conv_naive_equals_fast_random_shapes():
    rng = _rng(3)
    for _ in range(12):
        n, c, f = rng.integers(1, 4, size=3)
        kh, kw = rng.integers(1, 6, size=2)
        stride, pad = int(rng.integers(1, 4)), int(rng.integers(0, 3))
        h = int(rng.integers(max(kh - 2 * pad, 1), 10))
        w_ = int(rng.integers(max(kw - 2 * pad, 1), 10))
        x = rng.standard_normal((n, h, w_, c))
        w = rng.standard_normal((kh, kw, c, f))
        b = rng.standard_normal(f)
        budget = int(rng.choice([1, 200, 10**9]))
        fast_param = {"stride": stride, "pad": pad, "col_budget_bytes": budget}
        out_n, cache_n = C.conv_forward_naive(x, w, b, {"stride": stride, "pad": pad})
        out_f, cache_f = C.conv_forward(x, w, b, fast_param)
        assert rel_error(out_n, out_f) <= 1e-10
        dout = rng.standard_normal(out_n.shape)
        for gn, gf in zip(C.conv_backward_naive(dout, cache_n), C.conv_backward(dout, cache_f)):
            assert rel_error(gn, gf) <= 1e-10


def test_conv_chunking_does_not_change_results():
    rng = _rng(4)
    x = rng.standard_normal((7, 6, 6, 3))
    w = rng.standard_normal((3, 3, 3, 5))
    b = rng.standard_normal(5)
    dout = rng.standard_normal((7, 6, 6, 5))
    results = []
    for budget in (1, 3 * 36 * 27 * 8, 10**9):  # 1 image, 3 images, all 7 per chunk
        out, cache = C.conv_forward(x, w, b, {"pad": 1, "col_budget_bytes": budget})
        results.append((out, *C.conv_backward(dout, cache)))
    for other in results[1:]:
        for a, b_ in zip(results[0], other):
            np.testing.assert_allclose(a, b_, rtol=1e-12, atol=1e-12)


def test_conv_backward_without_dx():
    rng = _rng(5)
    x = rng.standard_normal((2, 5, 5, 3))
    w = rng.standard_normal((3, 3, 3, 2))
    out, cache = C.conv_forward(x, w, np.zeros(2), {"pad": 1})
    dout = rng.standard_normal(out.shape)
    dx, dw, db = C.conv_backward(dout, cache, need_dx=False)
    _, dw_full, db_full = C.conv_backward(dout, cache)
    assert dx is None
    np.testing.assert_array_equal(dw, dw_full)
    np.testing.assert_array_equal(db, db_full)


def test_conv_float32_stays_float32():
    rng = _rng(6)
    x = rng.standard_normal((2, 6, 6, 3), dtype=np.float32)
    w = rng.standard_normal((3, 3, 3, 4), dtype=np.float32)
    b = np.zeros(4, np.float32)
    out, cache = C.conv_forward(x, w, b, {"pad": 1})
    assert out.dtype == np.float32
    grads = C.conv_backward(np.ones_like(out), cache)
    assert all(g.dtype == np.float32 for g in grads)
    ref, _ = C.conv_forward_naive(x.astype(np.float64), w.astype(np.float64), b, {"pad": 1})
    assert rel_error(out, ref) < 1e-5


@pytest.mark.parametrize(
    "args, match",
    [
        (dict(x=np.zeros((2, 5, 5))), "x must be 4-D"),
        (dict(w=np.zeros((3, 3, 2, 4))), "input channels"),
        (dict(b=np.zeros(3)), r"b must have shape \(4,\)"),
        (dict(param={"stride": 0}), "stride"),
        (dict(param={"pad": -1}), "pad"),
        (dict(w=np.zeros((9, 9, 3, 4))), "does not fit"),
        (dict(x=np.zeros((2, 5, 5, 3), dtype=np.int64)), "floating"),
    ],
)
def test_conv_bad_arguments(args, match):
    a = dict(x=np.zeros((2, 5, 5, 3)), w=np.zeros((3, 3, 3, 4)), b=np.zeros(4), param={})
    a.update(args)
    for forward in (C.conv_forward, C.conv_forward_naive):
        with pytest.raises(ValueError, match=match):
            forward(a["x"], a["w"], a["b"], a["param"])


# --------------------------------------------------------------------------- pooling
POOL_CASES = [  # (N, H, W, C), pool_height, pool_width, stride
    ((2, 6, 8, 3), 2, 2, 2),  # tiles: the reshape path
    ((2, 7, 9, 2), 2, 2, 2),  # does not tile (odd sizes)
    ((1, 7, 7, 3), 3, 3, 2),  # overlapping windows
    ((2, 5, 7, 2), 2, 3, 1),
    ((1, 9, 6, 2), 3, 3, 3),  # tiles
]


def _pool_param(ph, pw, s):
    return {"pool_height": ph, "pool_width": pw, "stride": s}


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("shape, ph, pw, s", POOL_CASES)
def test_pool_gradients(kind, shape, ph, pw, s):
    forward = getattr(C, f"{kind}_pool_forward")
    backward = getattr(C, f"{kind}_pool_backward")
    param = _pool_param(ph, pw, s)
    x = _distinct(shape, seed=7)
    out, cache = forward(x, param)
    dout = _rng(8).standard_normal(out.shape)
    num = eval_numerical_gradient_array(lambda _: forward(x, param)[0], x, dout)
    assert rel_error(backward(dout, cache), num) < 1e-9


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("shape, ph, pw, s", POOL_CASES)
def test_pool_naive_equals_fast(kind, shape, ph, pw, s):
    param = _pool_param(ph, pw, s)
    x = _rng(9).standard_normal(shape)
    out_n, cache_n = getattr(C, f"{kind}_pool_forward_naive")(x, param)
    out_f, cache_f = getattr(C, f"{kind}_pool_forward")(x, param)
    assert rel_error(out_n, out_f) <= 1e-10
    dout = _rng(10).standard_normal(out_n.shape)
    dx_n = getattr(C, f"{kind}_pool_backward_naive")(dout, cache_n)
    dx_f = getattr(C, f"{kind}_pool_backward")(dout, cache_f)
    assert rel_error(dx_n, dx_f) <= 1e-10


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pool_strided_path_equals_reshape_path(kind):
    forward = getattr(C, f"{kind}_pool_forward")
    backward = getattr(C, f"{kind}_pool_backward")
    x = _rng(11).standard_normal((3, 8, 6, 4))
    dout = _rng(12).standard_normal((3, 4, 3, 4))
    param = _pool_param(2, 2, 2)
    out_r, cache_r = forward(x, param, path="reshape")
    out_s, cache_s = forward(x, param, path="strided")
    assert cache_r[0] == "reshape" and cache_s[0] == "strided"
    assert forward(x, param)[1][0] == "reshape"  # "auto" takes the fast path when it applies
    np.testing.assert_allclose(out_r, out_s, rtol=1e-14, atol=1e-14)
    np.testing.assert_allclose(backward(dout, cache_r), backward(dout, cache_s), rtol=1e-14)


def test_pool_reshape_path_refuses_non_tiling_windows():
    x = np.zeros((1, 7, 8, 1))
    with pytest.raises(ValueError, match="tile"):
        C.max_pool_forward(x, _pool_param(2, 2, 2), path="reshape")
    with pytest.raises(ValueError, match="path must be"):
        C.avg_pool_forward(x, _pool_param(2, 2, 2), path="fast")


@pytest.mark.parametrize("path", ["reshape", "strided"])
def test_max_pool_ties_share_the_full_gradient(path):
    # every tied maximum of a window receives the window's whole gradient
    x = np.array([[1.0, 3.0], [3.0, 2.0]]).reshape(1, 2, 2, 1)
    out, cache = C.max_pool_forward(x, _pool_param(2, 2, 2), path=path)
    dx = C.max_pool_backward(np.full((1, 1, 1, 1), 5.0), cache)
    np.testing.assert_array_equal(dx[0, :, :, 0], [[0.0, 5.0], [5.0, 0.0]])
    _, cache_n = C.max_pool_forward_naive(x, _pool_param(2, 2, 2))
    np.testing.assert_array_equal(
        C.max_pool_backward_naive(np.full((1, 1, 1, 1), 5.0), cache_n), dx
    )


def test_pool_known_values_and_dtype():
    x = np.arange(16, dtype=np.float32).reshape(1, 4, 4, 1)
    mx, _ = C.max_pool_forward(x, _pool_param(2, 2, 2))
    av, _ = C.avg_pool_forward(x, _pool_param(2, 2, 2))
    np.testing.assert_array_equal(mx[0, :, :, 0], [[5, 7], [13, 15]])
    np.testing.assert_array_equal(av[0, :, :, 0], [[2.5, 4.5], [10.5, 12.5]])
    assert mx.dtype == av.dtype == np.float32
    for kind in ("max", "avg"):
        for path in ("reshape", "strided"):
            out, cache = getattr(C, f"{kind}_pool_forward")(x, _pool_param(2, 2, 2), path=path)
            assert getattr(C, f"{kind}_pool_backward")(np.ones_like(out), cache).dtype == np.float32


# --------------------------------------------------------------------------- normalisation
def _norm_check(forward, backward, x, gamma, beta, tol):
    out, cache = forward(x, gamma, beta)
    dout = _rng(13).standard_normal(out.shape)
    grads = backward(dout, cache)
    nums = _num_grads(lambda x, g, b: forward(x, g, b)[0], (x, gamma, beta), dout)
    for name, g, num in zip(("x", "gamma", "beta"), grads, nums):
        assert rel_error(g, num) < tol, name


@pytest.mark.parametrize("mode", ["train", "test"])
def test_spatial_batchnorm_gradients(mode):
    rng = _rng(14)
    x = 3 * rng.standard_normal((3, 4, 5, 4)) + 2
    gamma, beta = rng.standard_normal(4), rng.standard_normal(4)
    bn = {"mode": mode, "running_mean": rng.standard_normal(4), "running_var": rng.random(4) + 0.5}

    def forward(x, g, b):
        return C.spatial_batchnorm_forward(x, g, b, dict(bn))

    _norm_check(forward, C.spatial_batchnorm_backward, x, gamma, beta, SMOOTH_TOL)


@pytest.mark.parametrize("mode", ["train", "test"])
def test_spatial_batchnorm_overwrite_flags(mode):
    rng = _rng(21)
    x = rng.standard_normal((2, 3, 4, 5)) + 3
    gamma, beta = rng.standard_normal(5), rng.standard_normal(5)
    dout = rng.standard_normal(x.shape)
    x_copy, dout_copy = x.copy(), dout.copy()
    stats = {"running_mean": np.full(5, 0.5), "running_var": np.full(5, 2.0)}
    out, cache = C.spatial_batchnorm_forward(x, gamma, beta, {"mode": mode, **stats})
    grads = C.spatial_batchnorm_backward(dout, cache)
    np.testing.assert_array_equal(x, x_copy)  # the default leaves the inputs alone
    np.testing.assert_array_equal(dout, dout_copy)
    out_o, cache_o = C.spatial_batchnorm_forward(
        x, gamma, beta, {"mode": mode, **stats}, overwrite_x=True
    )
    grads_o = C.spatial_batchnorm_backward(dout, cache_o, overwrite_dout=True)
    np.testing.assert_array_equal(out_o, out)
    for g, g_o in zip(grads, grads_o):
        np.testing.assert_array_equal(g, g_o)
    assert np.shares_memory(grads_o[0], dout) and not np.array_equal(dout, dout_copy)
    assert not np.array_equal(x, x_copy)  # centred in place


def test_spatial_batchnorm_statistics_and_running_averages():
    rng = _rng(15)
    x = (5 * rng.standard_normal((8, 6, 6, 3)) + [1.0, -2.0, 4.0]).astype(np.float32)
    bn = {"mode": "train", "momentum": 0.8}
    out, _ = C.spatial_batchnorm_forward(x, np.ones(3, np.float32), np.zeros(3, np.float32), bn)
    assert out.dtype == np.float32 and out.shape == x.shape
    np.testing.assert_allclose(out.mean(axis=(0, 1, 2)), 0, atol=1e-5)
    np.testing.assert_allclose(out.std(axis=(0, 1, 2)), 1, atol=1e-3)
    np.testing.assert_allclose(bn["running_mean"], 0.2 * x.mean(axis=(0, 1, 2)), rtol=1e-5)
    np.testing.assert_allclose(bn["running_var"], 0.8 + 0.2 * x.var(axis=(0, 1, 2)), rtol=1e-5)
    bn["mode"] = "test"
    out_t, _ = C.spatial_batchnorm_forward(x, np.ones(3), np.zeros(3), bn)
    expected = (x - bn["running_mean"]) / np.sqrt(bn["running_var"] + 1e-5)
    np.testing.assert_allclose(out_t, expected, rtol=1e-5)


@pytest.mark.parametrize("mode", ["train", "test"])
def test_spatial_batchnorm_equals_batchnorm_on_the_channel_view(mode):
    rng = _rng(19)
    x = 2 * rng.standard_normal((4, 3, 5, 6)) + 1
    gamma, beta = rng.standard_normal(6), rng.standard_normal(6)
    stats = {"running_mean": rng.standard_normal(6), "running_var": rng.random(6) + 0.5}
    bn_s = {"mode": mode, "momentum": 0.7, **stats}
    bn_l = {"mode": mode, "momentum": 0.7, **stats}
    out_s, cache_s = C.spatial_batchnorm_forward(x, gamma, beta, bn_s)
    out_l, cache_l = batchnorm_forward(x.reshape(-1, 6), gamma, beta, bn_l)
    np.testing.assert_allclose(out_s.reshape(-1, 6), out_l, rtol=1e-12, atol=1e-12)
    for key in ("running_mean", "running_var"):
        np.testing.assert_allclose(bn_s[key], bn_l[key], rtol=1e-12)
    dout = rng.standard_normal(x.shape)
    grads_s = C.spatial_batchnorm_backward(dout, cache_s)
    grads_l = batchnorm_backward(dout.reshape(-1, 6), cache_l)
    np.testing.assert_allclose(grads_s[0].reshape(-1, 6), grads_l[0], rtol=1e-10, atol=1e-12)
    for gs, gl in zip(grads_s[1:], grads_l[1:]):
        np.testing.assert_allclose(gs, gl, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "bn_param, match",
    [
        ({}, "mode"),
        ({"mode": "eval"}, "mode"),
        ({"mode": "train", "eps": 0}, "eps"),
        ({"mode": "train", "momentum": 1.5}, "momentum"),
        ({"mode": "test", "running_mean": np.zeros(2)}, "running_mean"),
    ],
)
def test_spatial_batchnorm_bad_param(bn_param, match):
    with pytest.raises(ValueError, match=match):
        C.spatial_batchnorm_forward(np.zeros((2, 3, 3, 4)), np.ones(4), np.zeros(4), bn_param)


@pytest.mark.parametrize("groups", [1, 2, 6])
def test_spatial_groupnorm_gradients(groups):
    rng = _rng(16)
    x = 2 * rng.standard_normal((2, 3, 4, 6)) - 1
    gamma, beta = rng.standard_normal(6), rng.standard_normal(6)

    def forward(x, g, b):
        return C.spatial_groupnorm_forward(x, g, b, groups)

    _norm_check(forward, C.spatial_groupnorm_backward, x, gamma, beta, SMOOTH_TOL)


def test_spatial_groupnorm_special_cases():
    rng = _rng(17)
    x = rng.standard_normal((3, 4, 5, 6)).astype(np.float32)
    gamma = rng.standard_normal(6).astype(np.float32)
    beta = rng.standard_normal(6).astype(np.float32)
    # G = 1 is layer norm over (H, W, C) with gamma/beta repeated at every position
    out1, _ = C.spatial_groupnorm_forward(x, gamma, beta, 1)
    ln, _ = layernorm_forward(x.reshape(3, -1), np.tile(gamma, 20), np.tile(beta, 20))
    assert out1.dtype == np.float32
    np.testing.assert_allclose(out1, ln.reshape(x.shape), rtol=1e-4, atol=1e-5)
    # G = C is instance norm: every (example, channel) normalised over its positions
    out6, _ = C.spatial_groupnorm_forward(x, np.ones(6), np.zeros(6), 6)
    mu, var = x.mean(axis=(1, 2), keepdims=True), x.var(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(out6, (x - mu) / np.sqrt(var + 1e-5), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="must divide"):
        C.spatial_groupnorm_forward(x, gamma, beta, 4)


# --------------------------------------------------------------------------- reshaping
def test_global_avg_pool_and_flatten():
    rng = _rng(18)
    x = rng.standard_normal((2, 3, 5, 4))
    out, cache = C.global_avg_pool_forward(x)
    np.testing.assert_allclose(out, x.mean(axis=(1, 2)))
    dout = rng.standard_normal(out.shape)
    num = eval_numerical_gradient_array(lambda _: C.global_avg_pool_forward(x)[0], x, dout)
    assert rel_error(C.global_avg_pool_backward(dout, cache), num) < SMOOTH_TOL
    flat, fcache = C.flatten_forward(x)
    assert flat.shape == (2, 60)
    np.testing.assert_array_equal(flat[1, :4], x[1, 0, 0, :])  # (h, w, c) order
    np.testing.assert_array_equal(C.flatten_backward(flat, fcache), x)


def test_every_layer_keeps_float32():
    rng = _rng(22)
    x = rng.standard_normal((2, 4, 4, 4), dtype=np.float32)
    ones, zeros = np.ones(4, np.float32), np.zeros(4, np.float32)
    w = rng.standard_normal((3, 3, 4, 4), dtype=np.float32)
    layers = {
        "conv": (lambda: C.conv_forward(x, w, zeros, {"pad": 1}), C.conv_backward),
        "max_pool": (lambda: C.max_pool_forward(x, _pool_param(2, 2, 2)), C.max_pool_backward),
        "avg_pool": (lambda: C.avg_pool_forward(x, _pool_param(3, 3, 1)), C.avg_pool_backward),
        "batchnorm": (
            lambda: C.spatial_batchnorm_forward(x, ones, zeros, {"mode": "train"}),
            C.spatial_batchnorm_backward,
        ),
        "groupnorm": (
            lambda: C.spatial_groupnorm_forward(x, ones, zeros, 2),
            C.spatial_groupnorm_backward,
        ),
        "global_avg_pool": (lambda: C.global_avg_pool_forward(x), C.global_avg_pool_backward),
        "flatten": (lambda: C.flatten_forward(x), C.flatten_backward),
    }
    for name, (forward, backward) in layers.items():
        out, cache = forward()
        grads = backward(np.ones_like(out), cache)
        grads = grads if isinstance(grads, tuple) else (grads,)
        assert out.dtype == np.float32, name
        assert all(g.dtype == np.float32 for g in grads), name
