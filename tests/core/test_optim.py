"""Tests for nplab.optim: two-step trajectories computed independently with Python floats."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nplab import optim

W0 = [1.0, -2.0, 0.5]
GRADS = [[0.5, -1.0, 3.0], [-0.25, 2.0, 0.0]]


# ---------------------------------------------------------------- reference trajectories
def ref_sgd(lr):
    w = list(W0)
    for g in GRADS:
        w = [wi - lr * gi for wi, gi in zip(w, g)]
    return w


def ref_momentum(lr, mu):
    w, v = list(W0), [0.0] * len(W0)
    for g in GRADS:
        v = [mu * vi - lr * gi for vi, gi in zip(v, g)]
        w = [wi + vi for wi, vi in zip(w, v)]
    return w


def ref_nesterov(lr, mu):
    w, v = list(W0), [0.0] * len(W0)
    for g in GRADS:
        v_prev = v
        v = [mu * vi - lr * gi for vi, gi in zip(v, g)]
        w = [wi - mu * vp + (1 + mu) * vi for wi, vp, vi in zip(w, v_prev, v)]
    return w


def ref_adagrad(lr, eps):
    w, c = list(W0), [0.0] * len(W0)
    for g in GRADS:
        c = [ci + gi * gi for ci, gi in zip(c, g)]
        w = [wi - lr * gi / (math.sqrt(ci) + eps) for wi, gi, ci in zip(w, g, c)]
    return w


def ref_rmsprop(lr, rho, eps):
    w, c = list(W0), [0.0] * len(W0)
    for g in GRADS:
        c = [rho * ci + (1 - rho) * gi * gi for ci, gi in zip(c, g)]
        w = [wi - lr * gi / (math.sqrt(ci) + eps) for wi, gi, ci in zip(w, g, c)]
    return w


def ref_adam(lr, b1, b2, eps, correct):
    w, m, v = list(W0), [0.0] * len(W0), [0.0] * len(W0)
    for t, g in enumerate(GRADS, start=1):
        m = [b1 * mi + (1 - b1) * gi for mi, gi in zip(m, g)]
        v = [b2 * vi + (1 - b2) * gi * gi for vi, gi in zip(v, g)]
        if correct:
            mh = [mi / (1 - b1**t) for mi in m]
            vh = [vi / (1 - b2**t) for vi in v]
        else:
            mh, vh = m, v
        w = [wi - lr * mi / (math.sqrt(vi) + eps) for wi, mi, vi in zip(w, mh, vh)]
    return w


CASES = [
    ("sgd", dict(learning_rate=0.1), ref_sgd(0.1)),
    ("sgd_momentum", dict(learning_rate=0.1, momentum=0.9), ref_momentum(0.1, 0.9)),
    ("nesterov_momentum", dict(learning_rate=0.1, momentum=0.8), ref_nesterov(0.1, 0.8)),
    ("adagrad", dict(learning_rate=0.1, epsilon=1e-8), ref_adagrad(0.1, 1e-8)),
    ("rmsprop", dict(learning_rate=0.1, decay_rate=0.9, epsilon=1e-8), ref_rmsprop(0.1, 0.9, 1e-8)),
    (
        "adam",
        dict(learning_rate=0.1, beta1=0.9, beta2=0.999, epsilon=1e-8),
        ref_adam(0.1, 0.9, 0.999, 1e-8, True),
    ),
    (
        "adam_no_bias_correction",
        dict(learning_rate=0.1, beta1=0.9, beta2=0.9999, epsilon=1e-8),
        ref_adam(0.1, 0.9, 0.9999, 1e-8, False),
    ),
]


def run_two_steps(name, config, dtype):
    rule = optim.OPTIMIZERS[name]
    w = np.array(W0, dtype=dtype)
    config = dict(config)
    for g in GRADS:
        w, config = rule(w, np.array(g, dtype=dtype), config)
    return w, config


@pytest.mark.parametrize("name, config, expected", CASES, ids=[c[0] for c in CASES])
def test_two_step_trajectory_float64(name, config, expected):
    w, _ = run_two_steps(name, config, np.float64)
    assert w.dtype == np.float64
    np.testing.assert_allclose(w, expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name, config, expected", CASES, ids=[c[0] for c in CASES])
def test_two_step_trajectory_float32_stays_float32(name, config, expected):
    # numpy scalars in the config must not upcast (NEP 50: np.float64 is a strong type)
    config = {k: np.float64(v) for k, v in config.items()}
    w, cfg = run_two_steps(name, config, np.float32)
    assert w.dtype == np.float32
    for key in ("velocity", "cache", "m", "v"):
        if key in cfg:
            assert cfg[key].dtype == np.float32, key
    np.testing.assert_allclose(w, expected, rtol=2e-6, atol=1e-6)


def test_known_numbers_sgd_momentum():
    # hand-written: v1 = -0.1*0.5 = -0.05, w1 = 0.95; v2 = 0.9*-0.05 - 0.1*-0.25 = -0.02, w2 = 0.93
    w, _ = optim.sgd_momentum(np.array([1.0]), np.array([0.5]), {"learning_rate": 0.1})
    w, _ = optim.sgd_momentum(w, np.array([-0.25]), _)
    np.testing.assert_allclose(w, [0.93], rtol=1e-14)


def test_known_numbers_adam_first_step_is_lr_times_sign():
    # with bias correction the first step is lr * g / (|g| + eps) ~ lr * sign(g)
    w, cfg = optim.adam(np.array([1.0, 1.0]), np.array([3.0, -0.01]), {"learning_rate": 0.1})
    np.testing.assert_allclose(w, [0.9, 1.1], rtol=1e-6)
    assert cfg["t"] == 1


def test_defaults_filled_and_state_created():
    w = np.zeros(3)
    _, cfg = optim.adam(w, np.ones(3))
    assert cfg["learning_rate"] == 1e-3 and cfg["beta1"] == 0.9 and cfg["beta2"] == 0.999
    assert cfg["epsilon"] == 1e-8 and cfg["t"] == 1
    assert cfg["m"].shape == (3,) and cfg["v"].shape == (3,)
    _, cfg = optim.sgd_momentum(np.zeros(2), np.ones(2))
    assert cfg["momentum"] == 0.9 and cfg["learning_rate"] == 1e-2
    _, cfg = optim.rmsprop(np.zeros(2), np.ones(2))
    assert cfg["decay_rate"] == 0.99


def test_update_is_in_place_and_returned():
    w = np.ones(4)
    out, _ = optim.sgd(w, np.ones(4), {"learning_rate": 0.5})
    assert out is w
    np.testing.assert_array_equal(w, 0.5)


def test_registry_complete():
    rules = {"sgd", "sgd_momentum", "nesterov_momentum", "adagrad", "rmsprop", "adam"}
    assert set(optim.OPTIMIZERS) == rules | {"adam_no_bias_correction"}
    assert set(optim.DEFAULTS) == set(optim.OPTIMIZERS)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: optim.sgd(np.zeros(3), np.zeros(4)), "dw must have the shape"),
        (lambda: optim.sgd(np.zeros(3, dtype=int), np.zeros(3)), "w must be a floating"),
        (lambda: optim.sgd(np.zeros(3), np.zeros(3), {"lr": 0.1}), "unknown config key 'lr'"),
        (lambda: optim.sgd(np.zeros(3), np.zeros(3), {"learning_rate": -1.0}), "learning_rate"),
        (lambda: optim.sgd_momentum(np.zeros(3), np.zeros(3), {"momentum": 1.5}), "momentum"),
        (lambda: optim.adam(np.zeros(3), np.zeros(3), {"beta2": 1.0}), "beta2"),
        (lambda: optim.adagrad(np.zeros(3), np.zeros(3), {"epsilon": 0.0}), "epsilon"),
        (lambda: optim.rmsprop(np.zeros(3), np.zeros(3), {"cache": np.zeros(2)}), "cache"),
        (lambda: optim.sgd(np.zeros(3), np.zeros(3), [0.1]), "config must be a dict"),
    ],
)
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_adam_no_bias_correction_10x_lr_equals_undamped_first_moment():
    """The MNIST diagnostic's identity: a first moment accumulated as m <- b1*m + g (no
    (1 - b1) factor) is exactly m_ema / (1 - b1), so at lr it takes the steps of the
    moving-average rule at lr / (1 - b1) = 10 lr (b1 = 0.9)."""
    rng = np.random.default_rng(3)
    w0 = rng.standard_normal(50)
    grads = [rng.standard_normal(50) * 100 for _ in range(30)]
    w, cfg = w0.copy(), dict(learning_rate=1e-4, beta1=0.9, beta2=0.9999, epsilon=1e-8)
    for g in grads:
        w, cfg = optim.adam_no_bias_correction(w, g, cfg)
    w_ref, m, v = w0.copy(), np.zeros(50), np.zeros(50)
    for g in grads:
        m = 0.9 * m + g
        v = 0.9999 * v + (1 - 0.9999) * g * g
        w_ref -= 1e-5 * m / (np.sqrt(v) + 1e-8)
    np.testing.assert_allclose(w, w_ref, rtol=1e-12, atol=1e-13)
    # and the step really differs from the damped rule at the stated lr 1e-5
    w1, cfg1 = w0.copy(), dict(learning_rate=1e-5, beta1=0.9, beta2=0.9999, epsilon=1e-8)
    for g in grads:
        w1, cfg1 = optim.adam_no_bias_correction(w1, g, cfg1)
    np.testing.assert_allclose(w - w0, 10 * (w1 - w0), rtol=1e-9)
