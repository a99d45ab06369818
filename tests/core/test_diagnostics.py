"""nplab.diagnostics: gradient checks of whole nets, local gradients, optimizer step sizes,
dropout means and the per-feature / per-example statistics of bn-3 (hand-computed values)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nplab import optim
from nplab.diagnostics import (
    PREPROCESSING,
    activation_stats,
    axis_statistics,
    check_net_gradients,
    dropout_train_test_means,
    effective_learning_rate,
    local_gradients,
    near_zero_ranges,
    preprocess_for_question,
    relative_update,
)
from nplab.nets import FullyConnectedNet


def _data(seed=0, n=3, d=6, c=4):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.integers(c, size=n)


@pytest.mark.parametrize(
    "norm, keep, reg",
    [
        (None, 1.0, 0.0),
        (None, 1.0, 3.14),
        ("batchnorm", 1.0, 0.5),
        ("layernorm", 1.0, 0.0),
        (None, 0.5, 0.0),
    ],
)
def test_check_net_gradients_is_small_for_a_correct_net(norm, keep, reg):
    X, y = _data(n=2)  # with N = 2, batch norm maps each feature to +-1: far from the kink
    # wide enough that no example loses every unit of a layer to dropout/ReLU (a hidden
    # pre-activation of exactly b = 0 would sit on the ReLU kink)
    net = FullyConnectedNet(
        [12, 9],
        input_dim=6,
        num_classes=4,
        normalization=norm,
        dropout_keep_ratio=keep,
        reg=reg,
        weight_scale=0.1,
        dtype=np.float64,
        seed=1,
    )
    errs = check_net_gradients(net, X, y, dropout_seed=3 if keep < 1 else None)
    assert set(errs) == set(net.params)
    if norm == "batchnorm":
        # the biases before batch norm have an analytic gradient of exactly 0: their
        # relative error is centred-difference noise over rel_error's 1e-8 floor
        errs = {k: v for k, v in errs.items() if k not in ("b1", "b2")}
    assert max(errs.values()) < 1e-6


def test_check_net_gradients_catches_a_wrong_gradient():
    X, y = _data()
    net = FullyConnectedNet(
        [5], input_dim=6, num_classes=4, weight_scale=0.1, dtype=np.float64, seed=1
    )
    loss = net.loss

    def wrong(X, y=None, reduction="mean"):
        out = loss(X, y, reduction)
        if y is None:
            return out
        value, grads = out
        grads = dict(grads, W2=grads["W2"] * 1.1)
        return value, grads

    net.loss = wrong
    errs = check_net_gradients(net, X, y)
    assert errs["W2"] > 0.03  # 10% too large: rel error ~ 0.1 / 2.1
    assert errs["W1"] < 1e-6


def test_dropout_without_a_fixed_seed_fails_the_check():
    X, y = _data(n=4)
    net = FullyConnectedNet(
        [8],
        input_dim=6,
        num_classes=4,
        dropout_keep_ratio=0.5,
        weight_scale=0.1,
        dtype=np.float64,
        seed=1,
    )
    errs = check_net_gradients(net, X, y, dropout_seed=None)  # a new mask every call
    assert max(errs.values()) > 1e-3


def test_local_gradients_hand_values():
    x = np.array([-2.0, -1.0, 0.0, 1.0, 3.0])
    g = local_gradients(x, alpha=0.05)
    s = 1 / (1 + np.exp(-x))
    np.testing.assert_allclose(g["sigmoid"], s * (1 - s), rtol=1e-12)
    assert g["sigmoid"][2] == pytest.approx(0.25)
    np.testing.assert_array_equal(g["relu"], [0, 0, 0, 1, 1])  # subgradient 0 at 0
    np.testing.assert_allclose(g["leaky_relu"], [0.05, 0.05, 0.05, 1, 1])
    with pytest.raises(ValueError, match="unknown activation"):
        local_gradients(x, names=("swish",))


def test_near_zero_ranges():
    x = np.arange(7, dtype=float)
    g = np.array([0.0, 0.0, 1.0, 1.0, 1e-9, 1.0, 0.0])
    assert near_zero_ranges(x, g, 1e-3) == [(0.0, 1.0), (4.0, 4.0), (6.0, 6.0)]
    assert near_zero_ranges(x, np.ones(7), 1e-3) == []
    with pytest.raises(ValueError):
        near_zero_ranges(x, g[:3], 1e-3)


def test_relative_update_hand_value():
    w = np.array([3.0, 4.0])
    assert relative_update(w, w + np.array([0.3, 0.4])) == pytest.approx(0.1)
    assert relative_update(np.zeros(2), np.zeros(2)) == 0.0
    assert math.isinf(relative_update(np.zeros(2), np.ones(2)))


def test_effective_learning_rate_adagrad_and_adam_after_one_step():
    w = np.array([1.0, 1.0])
    dw = np.array([2.0, 0.5])
    _, cfg = optim.adagrad(w.copy(), dw, {"learning_rate": 0.1})
    np.testing.assert_allclose(effective_learning_rate("adagrad", cfg), 0.1 / (np.abs(dw) + 1e-8))
    _, cfg2 = optim.adagrad(w.copy(), dw, cfg)  # the cache only grows: rate shrinks
    np.testing.assert_allclose(
        effective_learning_rate("adagrad", cfg2), 0.1 / (np.sqrt(2) * np.abs(dw) + 1e-8)
    )
    _, cfg = optim.adam(w.copy(), dw, {"learning_rate": 1e-3})
    # v = 0.001 dw^2, bias-corrected v_hat = dw^2 -> lr / (|dw| + eps)
    np.testing.assert_allclose(effective_learning_rate("adam", cfg), 1e-3 / (np.abs(dw) + 1e-8))
    _, cfg = optim.adam_no_bias_correction(w.copy(), dw, {"learning_rate": 1e-3})
    np.testing.assert_allclose(
        effective_learning_rate("adam_no_bias_correction", cfg),
        1e-3 / (np.sqrt(0.001) * np.abs(dw) + 1e-8),
    )
    _, cfg = optim.sgd_momentum(w.copy(), dw, {"learning_rate": 0.5})
    np.testing.assert_allclose(effective_learning_rate("sgd_momentum", cfg), [0.5, 0.5])
    with pytest.raises(ValueError):
        effective_learning_rate("lbfgs", cfg)


def test_dropout_train_test_means():
    h = np.ones((400, 250), dtype=np.float32)
    m = dropout_train_test_means(h, 0.5, np.random.default_rng(0))
    assert m["mean_test"] == 1.0
    assert m["mean_train_divided"] == pytest.approx(1.0, abs=0.02)
    assert m["mean_train_not_divided"] == pytest.approx(0.5, abs=0.01)
    assert m["mean_train_not_divided"] == pytest.approx(0.5 * m["mean_train_divided"])
    assert m["fraction_kept"] == pytest.approx(0.5, abs=0.01)


def test_axis_statistics_hand_values():
    X = np.array([[1.0, 2.0], [3.0, 4.0]])
    st = axis_statistics(X)
    assert st["feature_mean_abs_max"] == 3.0  # feature means 2, 3
    assert st["feature_mean_spread"] == 0.5
    assert st["feature_std_mean"] == 1.0
    assert st["example_sum_mean"] == 5.0  # example sums 3, 7
    assert st["example_sum_spread"] == 2.0
    assert st["example_mean_spread"] == 1.0
    assert st["example_std_mean"] == 0.5
    img = np.arange(2 * 2 * 2 * 3, dtype=float).reshape(2, 12)  # two 2x2x3 images
    st = axis_statistics(img, (2, 2, 3))
    rows = img.reshape(2, 2, 6).sum(axis=2)
    assert st["row_sum_spread"] == pytest.approx(rows.std())


def test_preprocessing_transforms():
    rng = np.random.default_rng(0)
    shape = (4, 3, 3)
    X = rng.integers(0, 256, size=(20, 36)).astype(np.uint8)
    img = preprocess_for_question("image_rgb_sum_to_one", X, shape)
    np.testing.assert_allclose(img.sum(axis=1), 1.0)
    row = preprocess_for_question("row_rgb_sum_to_one", X, shape)
    np.testing.assert_allclose(row.reshape(20, 4, 9).sum(axis=2), 1.0)
    mean = preprocess_for_question("subtract_mean_image", X, shape)
    np.testing.assert_allclose(mean.mean(axis=0), 0.0, atol=1e-12)
    b = preprocess_for_question("binarize", X, shape, threshold=100)
    np.testing.assert_array_equal(b, (X > 100).astype(float))
    assert set(PREPROCESSING) == {
        "row_rgb_sum_to_one",
        "image_rgb_sum_to_one",
        "subtract_mean_image",
        "binarize",
    }
    with pytest.raises(ValueError, match="unknown preprocessing"):
        preprocess_for_question("sharpen", X, shape)
    with pytest.raises(ValueError, match="does not match"):
        preprocess_for_question("binarize", X, (4, 4, 3))


# --------------------------------------------------------------------------- activations
def test_activation_stats_relu_and_tanh():
    X = np.random.default_rng(0).standard_normal((40, 6))
    relu = FullyConnectedNet([5, 3], input_dim=6, num_classes=2, weight_scale=1.0, seed=1)
    relu.params["b2"][0] = -1e3  # unit 1 of layer 2 is dead on every row
    st = activation_stats(relu, X)
    assert list(st) == ["layer", "mean", "std", "frac_zero", "frac_saturated", "frac_dead_units"]
    assert st["layer"].tolist() == [1, 2]
    acts = relu.hidden_activations(X)
    assert st["mean"][0] == pytest.approx(acts[0].mean())
    # ReLU outputs are never negative: zero and saturated are the same units
    np.testing.assert_array_equal(st["frac_zero"], st["frac_saturated"])
    assert st["frac_dead_units"][1] >= 1 / 3
    tanh = FullyConnectedNet([4], input_dim=6, num_classes=2, activation="tanh", seed=1)
    assert activation_stats(tanh, X)["frac_dead_units"].tolist() == [0.0]
    assert activation_stats(FullyConnectedNet([], input_dim=6, num_classes=2), X) == {}
