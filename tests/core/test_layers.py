"""Tests for nplab.layers: gradients (float64, h=1e-5), statistics, dtypes, dropout masks."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from nplab import layers as L
from nplab.gradcheck import eval_numerical_gradient_array as num_grad
from nplab.gradcheck import rel_error

H = 1e-5


def _away_from_zero(rng, shape, gap=0.1):
    """Standard normal values pushed at least ``gap`` away from 0 (the ReLU kink)."""
    x = rng.standard_normal(shape)
    return np.sign(x) * (np.abs(x) + gap)


# --------------------------------------------------------------------------- affine
def test_affine_forward_hand_case_and_shape():
    x = np.arange(2 * 2 * 3, dtype=np.float64).reshape(2, 2, 3)
    w = np.ones((6, 2))
    w[:, 1] = 2
    b = np.array([1.0, -1.0])
    out, _ = L.affine_forward(x, w, b)
    s = x.reshape(2, 6).sum(axis=1)
    np.testing.assert_array_equal(out, np.stack([s + 1, 2 * s - 1], axis=1))


def test_affine_gradients():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 2, 3))
    w = rng.standard_normal((6, 5))
    b = rng.standard_normal(5)
    out, cache = L.affine_forward(x, w, b)
    dout = rng.standard_normal(out.shape)
    dx, dw, db = L.affine_backward(dout, cache)
    assert dx.shape == x.shape
    assert rel_error(dx, num_grad(lambda v: L.affine_forward(v, w, b)[0], x, dout, h=H)) <= 1e-7
    assert rel_error(dw, num_grad(lambda v: L.affine_forward(x, v, b)[0], w, dout, h=H)) <= 1e-7
    assert rel_error(db, num_grad(lambda v: L.affine_forward(x, w, v)[0], b, dout, h=H)) <= 1e-7


def test_affine_bad_shapes_raise():
    with pytest.raises(ValueError, match="w must have 6 rows"):
        L.affine_forward(np.zeros((2, 6)), np.zeros((5, 3)), np.zeros(3))
    with pytest.raises(ValueError, match="b must have shape"):
        L.affine_forward(np.zeros((2, 6)), np.zeros((6, 3)), np.zeros(4))


# --------------------------------------------------------------------------- activations
@pytest.mark.parametrize("name", ["relu", "leaky_relu", "sigmoid", "tanh"])
def test_activation_gradients(name):
    rng = np.random.default_rng(1)
    fwd, bwd = L.ACTIVATIONS[name]
    # Kinked activations get inputs >= 0.1 away from the kink at 0 (>> h), so the
    # centred differences never straddle it and the smooth bound applies to all four.
    x = _away_from_zero(rng, (6, 7))
    assert np.abs(x).min() >= 0.1
    out, cache = fwd(x)
    dout = rng.standard_normal(out.shape)
    dx = bwd(dout, cache)
    assert rel_error(dx, num_grad(lambda v: fwd(v)[0], x, dout, h=H)) <= 1e-7


def test_leaky_relu_alpha_forward_and_gradient():
    rng = np.random.default_rng(2)
    x = _away_from_zero(rng, (5, 4))
    fwd, bwd = L.ACTIVATIONS["leaky_relu"]
    out, cache = fwd(x, alpha=0.2)
    np.testing.assert_array_equal(out, np.where(x > 0, x, 0.2 * x))
    dout = rng.standard_normal(out.shape)
    dx = bwd(dout, cache)
    assert rel_error(dx, num_grad(lambda v: fwd(v, alpha=0.2)[0], x, dout, h=H)) <= 1e-7


def test_relu_forward_values():
    out, _ = L.relu_forward(np.array([-2.0, 0.0, 3.0]))
    np.testing.assert_array_equal(out, [0.0, 0.0, 3.0])


def test_activation_kwargs_checked():
    with pytest.raises(ValueError, match="relu"):
        L.ACTIVATIONS["relu"][0](np.zeros(3), alpha=0.1)
    with pytest.raises(ValueError, match="alpha"):
        L.leaky_relu_forward(np.zeros(3), alpha=-1.0)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sigmoid_extreme_inputs_no_warnings(dtype):
    x = np.array([-1e4, -1e3, -800.0, -50.0, -1.0, 0.0, 1.0, 50.0, 800.0, 1e3, 1e4], dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(all="raise"):
            out, cache = L.sigmoid_forward(x)
            dx = L.sigmoid_backward(np.ones_like(x), cache)
    assert out.dtype == dtype and dx.dtype == dtype
    assert np.all((out >= 0) & (out <= 1))
    assert out[0] == 0 and out[-1] == 1 and out[5] == 0.5
    # sigmoid(-x) = 1 - sigmoid(x), up to one rounding
    np.testing.assert_allclose(out + out[::-1], 1, rtol=0, atol=np.finfo(dtype).eps)
    mid = np.array([-3.0, -0.5, 0.5, 3.0])
    np.testing.assert_allclose(L.sigmoid_forward(mid)[0], 1 / (1 + np.exp(-mid)), rtol=1e-15)


@pytest.mark.parametrize("name", ["relu", "leaky_relu", "sigmoid", "tanh"])
def test_activations_keep_float32(name):
    fwd, bwd = L.ACTIVATIONS[name]
    x = np.random.default_rng(3).standard_normal((4, 3)).astype(np.float32)
    out, cache = fwd(x)
    assert out.dtype == np.float32
    assert bwd(np.ones_like(out), cache).dtype == np.float32


def test_affine_keeps_float32():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    w = rng.standard_normal((3, 2)).astype(np.float32)
    b = np.zeros(2, np.float32)
    out, cache = L.affine_forward(x, w, b)
    assert out.dtype == np.float32
    assert all(g.dtype == np.float32 for g in L.affine_backward(np.ones_like(out), cache))


# --------------------------------------------------------------------------- batch norm
def _bn_case(seed=0, n=4, d=5):
    """The course's check: inputs 5 * N(0, 1) + 12, N=4, D=5 (well conditioned: std ~5)."""
    rng = np.random.default_rng(seed)
    x = 5 * rng.standard_normal((n, d)) + 12
    gamma = rng.standard_normal(d)
    beta = rng.standard_normal(d)
    dout = rng.standard_normal((n, d))
    return x, gamma, beta, dout


def test_batchnorm_backward_gradients():
    x, gamma, beta, dout = _bn_case()
    _, cache = L.batchnorm_forward(x, gamma, beta, {"mode": "train"})
    dx, dgamma, dbeta = L.batchnorm_backward(dout, cache)

    def fx(v):
        return L.batchnorm_forward(v, gamma, beta, {"mode": "train"})[0]

    def fg(v):
        return L.batchnorm_forward(x, v, beta, {"mode": "train"})[0]

    def fb(v):
        return L.batchnorm_forward(x, gamma, v, {"mode": "train"})[0]

    assert rel_error(dx, num_grad(fx, x, dout, h=H)) <= 1e-8
    assert rel_error(dgamma, num_grad(fg, gamma, dout, h=H)) <= 1e-8
    assert rel_error(dbeta, num_grad(fb, beta, dout, h=H)) <= 1e-8


def test_batchnorm_backward_test_mode_gradient():
    x, gamma, beta, dout = _bn_case(seed=1)
    rng = np.random.default_rng(5)
    param = {
        "mode": "test",
        "running_mean": rng.standard_normal(5),
        "running_var": rng.random(5) + 0.5,
    }
    _, cache = L.batchnorm_forward(x, gamma, beta, param)
    dx, _, _ = L.batchnorm_backward(dout, cache)
    assert (
        rel_error(
            dx,
            num_grad(lambda v: L.batchnorm_forward(v, gamma, beta, dict(param))[0], x, dout, h=H),
        )
        <= 1e-8
    )


def test_batchnorm_train_output_statistics():
    rng = np.random.default_rng(6)
    x = 5 * rng.standard_normal((200, 3)) + 12
    d = x.shape[1]
    out, _ = L.batchnorm_forward(x, np.ones(d), np.zeros(d), {"mode": "train"})
    # Mean: exact up to rounding.  Std: sqrt(var / (var + eps)) ~ 1 - eps / (2 * 25) ~ 1 - 2e-7.
    assert np.abs(out.mean(axis=0)).max() < 1e-10
    assert np.abs(out.std(axis=0) - 1).max() < 1e-6
    gamma, beta = np.array([1.0, 2.0, 3.0]), np.array([11.0, 12.0, 13.0])
    out, _ = L.batchnorm_forward(x, gamma, beta, {"mode": "train"})
    np.testing.assert_allclose(out.mean(axis=0), beta, atol=1e-9)
    np.testing.assert_allclose(out.std(axis=0), gamma, rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_batchnorm_test_mode_uses_running_stats_exactly(dtype):
    rng = np.random.default_rng(7)
    x = (3 * rng.standard_normal((10, 4)) + 2).astype(dtype)
    gamma = rng.standard_normal(4).astype(dtype)
    beta = rng.standard_normal(4).astype(dtype)
    rm = rng.standard_normal(4).astype(dtype)
    rv = (rng.random(4) + 0.5).astype(dtype)
    param = {"mode": "test", "eps": 1e-3, "running_mean": rm.copy(), "running_var": rv.copy()}
    out, _ = L.batchnorm_forward(x, gamma, beta, param)
    expected = (x - rm) / np.sqrt(rv + 1e-3) * gamma + beta
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(param["running_mean"], rm)  # test mode does not update
    np.testing.assert_array_equal(param["running_var"], rv)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_batchnorm_running_stats_update_exact(dtype):
    rng = np.random.default_rng(8)
    x = (5 * rng.standard_normal((64, 7)) + 12).astype(dtype)
    rm = rng.standard_normal(7).astype(dtype)
    rv = (rng.random(7) + 0.5).astype(dtype)
    m = 0.8
    param = {"mode": "train", "momentum": m, "running_mean": rm.copy(), "running_var": rv.copy()}
    L.batchnorm_forward(x, np.ones(7, dtype), np.zeros(7, dtype), param)
    np.testing.assert_array_equal(param["running_mean"], m * rm + (1 - m) * x.mean(axis=0))
    np.testing.assert_array_equal(param["running_var"], m * rv + (1 - m) * x.var(axis=0))
    assert param["running_mean"].dtype == dtype


def test_batchnorm_creates_running_stats_with_x_dtype():
    x = np.random.default_rng(9).standard_normal((8, 3)).astype(np.float32)
    param = {"mode": "train"}
    out, _ = L.batchnorm_forward(x, np.ones(3, np.float32), np.zeros(3, np.float32), param)
    assert out.dtype == np.float32
    assert param["running_mean"].dtype == np.float32 and param["running_var"].dtype == np.float32
    # default momentum 0.9 from zeros / ones
    np.testing.assert_array_equal(param["running_mean"], 0.1 * x.mean(axis=0))
    np.testing.assert_array_equal(
        param["running_var"], 0.9 * np.ones(3, np.float32) + 0.1 * x.var(axis=0)
    )


@pytest.mark.parametrize(
    "param, match",
    [
        ({}, "mode"),
        ({"mode": "eval"}, "mode"),
        ({"mode": "train", "eps": 0}, "eps"),
        ({"mode": "train", "momentum": 1.5}, "momentum"),
    ],
)
def test_batchnorm_bad_params_raise(param, match):
    with pytest.raises(ValueError, match=match):
        L.batchnorm_forward(np.zeros((2, 3)), np.ones(3), np.zeros(3), param)


def test_batchnorm_bad_gamma_raises():
    with pytest.raises(ValueError, match="gamma"):
        L.batchnorm_forward(np.zeros((2, 3)), np.ones(4), np.zeros(3), {"mode": "train"})


# --------------------------------------------------------------------------- layer norm
def test_layernorm_gradients():
    x, _, _, _ = _bn_case(seed=2, n=4, d=5)
    rng = np.random.default_rng(10)
    gamma, beta = rng.standard_normal(5), rng.standard_normal(5)
    dout = rng.standard_normal((4, 5))
    _, cache = L.layernorm_forward(x, gamma, beta, {})
    dx, dgamma, dbeta = L.layernorm_backward(dout, cache)
    assert (
        rel_error(dx, num_grad(lambda v: L.layernorm_forward(v, gamma, beta, {})[0], x, dout, h=H))
        <= 1e-7
    )
    assert (
        rel_error(
            dgamma, num_grad(lambda v: L.layernorm_forward(x, v, beta, {})[0], gamma, dout, h=H)
        )
        <= 1e-7
    )
    assert (
        rel_error(
            dbeta, num_grad(lambda v: L.layernorm_forward(x, gamma, v, {})[0], beta, dout, h=H)
        )
        <= 1e-7
    )


def test_layernorm_per_example_statistics_and_modes():
    rng = np.random.default_rng(11)
    x = 4 * rng.standard_normal((5, 300)) + rng.uniform(-10, 10, size=(5, 1))
    out, _ = L.layernorm_forward(x, np.ones(300), np.zeros(300), {"mode": "train"})
    # mean: exact up to rounding; std: sqrt(var / (var + eps)) with var ~ 16 -> 1 - 3e-7
    assert np.abs(out.mean(axis=1)).max() < 1e-10
    assert np.abs(out.std(axis=1) - 1).max() < 1e-6
    out_test, _ = L.layernorm_forward(x, np.ones(300), np.zeros(300), {"mode": "test"})
    np.testing.assert_array_equal(out, out_test)


# --------------------------------------------------------------------------- dropout
def test_dropout_test_mode_is_identity():
    x = np.random.default_rng(12).standard_normal((20, 30))
    out, cache = L.dropout_forward(x, {"mode": "test", "p": 0.3})
    np.testing.assert_array_equal(out, x)
    dout = np.ones_like(x)
    np.testing.assert_array_equal(L.dropout_backward(dout, cache), dout)


@pytest.mark.parametrize("p", [0.25, 0.5, 0.75])
def test_dropout_train_preserves_mean(p):
    x = np.random.default_rng(13).random(10**6) + 1.0
    out, _ = L.dropout_forward(x, {"mode": "train", "p": p, "rng": np.random.default_rng(0)})
    # Inverted dropout: E[out] = x.  Std of the ratio ~ sqrt((1 - p) / (p * 1e6)) <= 0.0018,
    # so 0.02 is > 10 sigma; the kept fraction is checked to 0.01 (> 20 sigma).
    assert abs(out.mean() / x.mean() - 1) < 0.02
    assert abs(np.mean(out != 0) - p) < 0.01
    kept = out != 0
    np.testing.assert_allclose(out[kept], x[kept] / p, rtol=1e-15)


def test_dropout_masks_follow_the_generator():
    x = np.ones((50, 40))

    def mask(seed):
        out, _ = L.dropout_forward(
            x, {"mode": "train", "p": 0.5, "rng": np.random.default_rng(seed)}
        )
        return out

    np.testing.assert_array_equal(mask(3), mask(3))
    assert not np.array_equal(mask(3), mask(4))
    # consecutive calls on one generator draw fresh masks
    param = {"mode": "train", "p": 0.5, "rng": np.random.default_rng(3)}
    a, _ = L.dropout_forward(x, param)
    b, _ = L.dropout_forward(x, param)
    assert not np.array_equal(a, b)


def test_dropout_backward_uses_forward_mask_and_gradcheck():
    rng = np.random.default_rng(14)
    x = rng.standard_normal((10, 12)) + 5  # no zeros in x
    dout = rng.standard_normal(x.shape)
    p = 0.6
    out, cache = L.dropout_forward(x, {"mode": "train", "p": p, "rng": np.random.default_rng(1)})
    dx = L.dropout_backward(dout, cache)
    dropped = out == 0
    assert dropped.any() and (~dropped).any()
    assert np.all(dx[dropped] == 0)
    np.testing.assert_allclose(dx[~dropped], dout[~dropped] / p, rtol=1e-15)

    def f(v):  # a fresh generator with the same seed -> the same mask on every call
        return L.dropout_forward(v, {"mode": "train", "p": p, "rng": np.random.default_rng(1)})[0]

    assert rel_error(dx, num_grad(f, x, dout, h=H)) <= 1e-7


def test_dropout_keeps_float32():
    x = np.ones((10, 10), np.float32)
    out, cache = L.dropout_forward(x, {"mode": "train", "p": 0.5, "rng": np.random.default_rng(0)})
    assert out.dtype == np.float32
    assert L.dropout_backward(np.ones_like(out), cache).dtype == np.float32


@pytest.mark.parametrize(
    "param, match",
    [
        ({"mode": "train", "p": 0.0, "rng": np.random.default_rng(0)}, "p"),
        ({"mode": "train", "p": 1.5, "rng": np.random.default_rng(0)}, "p"),
        ({"mode": "train", "p": -0.1, "rng": np.random.default_rng(0)}, "p"),
        ({"mode": "train"}, "p"),
        ({"mode": "train", "p": 0.5}, "rng"),
        ({"p": 0.5}, "mode"),
    ],
)
def test_dropout_bad_params_raise(param, match):
    with pytest.raises(ValueError, match=match):
        L.dropout_forward(np.ones(4), param)


def test_dropout_keep_all_needs_no_rng():
    x = np.arange(4.0)
    out, _ = L.dropout_forward(x, {"mode": "train", "p": 1.0})
    np.testing.assert_array_equal(out, x)
