"""Tests for nplab.cnn: ThreeLayerConvNet and ConvNet (sanity values, gradient checks,
training with the Solver, freezing, head replacement, dtypes, input layouts)."""

from __future__ import annotations

import numpy as np
import pytest

from nplab.cnn import ConvNet, ThreeLayerConvNet
from nplab.gradcheck import eval_numerical_gradient, rel_error
from nplab.solver import Solver


def _images(n, shape, classes=10, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, *shape)).astype(dtype), rng.integers(classes, size=n)


def _grad_errors(model, X, y, seed=0):
    """rel_error of analytic vs numerical gradients per parameter (dropout masks fixed)."""

    def loss(_=None):
        model.rng = np.random.default_rng(seed)
        return model.loss(X, y)

    _, grads = loss()
    errors = {
        k: rel_error(eval_numerical_gradient(lambda _: loss()[0], model.params[k]), grads[k])
        for k in model.params
    }
    return errors, grads


def _data(X, y):
    return {"X_train": X, "y_train": y, "X_val": X[:10], "y_val": y[:10]}


# --------------------------------------------------------------------------- three-layer
def test_three_layer_initial_loss():
    X, y = _images(50, (32, 32, 3))
    loss0, _ = ThreeLayerConvNet(dtype=np.float64).loss(X, y)
    assert loss0 == pytest.approx(np.log(10), abs=0.05)
    loss_reg, _ = ThreeLayerConvNet(dtype=np.float64, reg=0.5).loss(X, y)
    assert loss_reg > loss0 + 0.05


def test_three_layer_parameters_follow_cs231n():
    net = ThreeLayerConvNet(input_shape=(32, 32, 3), num_filters=32, filter_size=7, seed=3)
    shapes = {k: v.shape for k, v in net.params.items()}
    assert shapes == {
        "W1": (7, 7, 3, 32),
        "b1": (32,),
        "W2": (16 * 16 * 32, 100),
        "b2": (100,),
        "W3": (100, 10),
        "b3": (10,),
    }
    assert net.params["W1"].std() == pytest.approx(1e-3, rel=0.05)
    assert not any(net.params[b].any() for b in ("b1", "b2", "b3"))


def test_three_layer_gradients():
    X, y = _images(2, (8, 8, 3), classes=5, seed=1)
    sizes = dict(num_filters=3, filter_size=3, hidden_dim=7, num_classes=5)
    net = ThreeLayerConvNet(
        (8, 8, 3), **sizes, weight_scale=1e-1, reg=0.1, dtype=np.float64, seed=2
    )
    errors, _ = _grad_errors(net, X, y)
    assert max(errors.values()) < 1e-6, errors


def test_three_layer_overfits_100_examples():
    # CS231n's overfit check (15 epochs, batch 50, Adam, weight_scale 1e-2) on 16x16 images
    # (lr 3e-3 instead of 1e-3) so that it stays fast; random pixels and labels
    X, y = _images(100, (16, 16, 3), seed=4, dtype=np.float32)
    net = ThreeLayerConvNet(input_shape=(16, 16, 3), weight_scale=1e-2, seed=0)
    solver = Solver(
        net,
        _data(X, y),
        update_rule="adam",
        optim_config={"learning_rate": 3e-3},
        batch_size=50,
        num_epochs=15,
        num_train_samples=None,
        keep_best=False,
    )
    history = solver.train()
    assert history.train_acc_history[-1] >= 0.8
    assert np.mean(net.predict(X) == y) == history.train_acc_history[-1]


# --------------------------------------------------------------------------- ConvNet
BLOCKS = [
    {"widths": [4, 3], "norm": "batch"},
    {"widths": [4], "norm": "group", "groups": 2, "pool": "conv", "dropout_keep_ratio": 0.7},
    {"widths": [2], "kernel": 1, "pool": "avg"},
]


def _small_net(**kwargs):
    args = dict(
        blocks=BLOCKS,
        hidden_dims=[6],
        input_shape=(9, 8, 3),
        num_classes=4,
        head_dropout_keep_ratio=0.8,
        reg=0.05,
        dtype=np.float64,
        seed=1,
    )
    args.update(kwargs)
    return ConvNet(**args)


def test_convnet_structure():
    net = _small_net()
    # 9x8 -> pool 4x4 -> stride-2 conv 2x2 -> avg pool 1x1; layers: 4 convs, 2 affine
    assert net.feature_layers == [1, 2, 3, 4, 5] and net.head_layers == [6, 7]
    assert net.feature_shape == (1, 1, 2)
    assert net.params["W4"].shape == (3, 3, 4, 4)  # the stride-2 "conv" pooling layer
    assert net.params["W6"].shape == (2, 6) and net.params["W7"].shape == (6, 4)
    assert {k for k in net.params if k.startswith("gamma")} == {f"gamma{i}" for i in (1, 2, 3, 4)}
    assert len(net.bn_params) == 5


def test_convnet_gradients():
    X, y = _images(3, (9, 8, 3), classes=4, seed=5)
    net = _small_net()
    # nonzero biases: with zero biases, a position whose inputs dropout zeroed sits
    # exactly on the ReLU's kink, where the centred difference is not the gradient
    rng = np.random.default_rng(0)
    for name in net.params:
        if name[0] == "b":
            net.params[name] += 0.1 * rng.standard_normal(net.params[name].shape)
    errors, grads = _grad_errors(net, X, y)
    # b1, b2 feed batch norms: their true gradient is 0 (batch norm removes any
    # per-channel shift), so their relative error would be noise over 0
    for name in ("b1", "b2"):
        assert np.abs(grads[name]).max() < 1e-10
        del errors[name]
    assert max(errors.values()) < 1e-6, errors


def test_convnet_gradients_global_pool_and_strided_conv():
    X, y = _images(2, (7, 7, 2), classes=3, seed=6)
    blocks = [{"widths": [3], "kernel": 3, "stride": 2, "pool": None}, {"widths": [2]}]
    net = ConvNet(blocks, [], (7, 7, 2), 3, global_pool=True, dtype=np.float64, seed=2)
    errors, _ = _grad_errors(net, X, y)
    assert max(errors.values()) < 1e-7, errors


def test_convnet_accepts_flat_rows_and_keeps_float32():
    X, y = _images(4, (9, 8, 3), classes=4, seed=7)
    net = _small_net(dtype=np.float32, head_dropout_keep_ratio=1.0)
    scores_img = net.loss(X)  # float64 images into a float32 model
    scores_rows = net.loss(X.reshape(4, -1))
    assert scores_img.dtype == np.float32 and scores_img.shape == (4, 4)
    np.testing.assert_array_equal(scores_img, scores_rows)
    loss, grads = net.loss(X.astype(np.float32), y)
    assert isinstance(loss, float)
    assert all(g.dtype == np.float32 for g in grads.values())
    assert grads.keys() == net.params.keys()
    with pytest.raises(ValueError, match="X must have shape"):
        net.loss(X[:, :8])


def test_convnet_test_mode_is_batched_and_uses_running_statistics():
    X, y = _images(7, (9, 8, 3), classes=4, seed=8)
    net = _small_net(eval_batch_size=3)
    net.loss(X, y)  # one train step moves the running statistics
    scores = net.loss(X)  # computed 3 images at a time
    one_by_one = np.concatenate([net.loss(X[i : i + 1]) for i in range(7)])
    np.testing.assert_allclose(scores, one_by_one, rtol=1e-12)
    np.testing.assert_array_equal(net.predict(X, batch_size=2), scores.argmax(axis=1))
    net.bn_params[0]["running_mean"] = net.bn_params[0]["running_mean"] + 1.0
    assert not np.allclose(net.loss(X), scores)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(blocks=[{"width": [4]}]), "unknown key"),
        (dict(blocks=[{"widths": [4], "norm": "layer"}]), "norm"),
        (dict(blocks=[{"widths": [6], "norm": "group", "groups": 4}]), "must divide"),
        (dict(blocks=[{"widths": [4], "pool": "min"}]), "pool"),
        (dict(blocks=[]), "non-empty list"),
        (dict(init="orthogonal"), "init"),
        (dict(input_shape=(9, 8)), "input_shape"),
        (dict(blocks=[{"widths": [4]}] * 4), "does not fit"),
    ],
)
def test_convnet_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _small_net(**kwargs)


# --------------------------------------------------------------------------- transfer
def _train(net, X, y, epochs=2, rule="adam"):
    Solver(
        net,
        _data(X, y),
        update_rule=rule,
        optim_config={"learning_rate": 1e-2},
        batch_size=8,
        num_epochs=epochs,
        num_train_samples=None,
    ).train()


@pytest.mark.parametrize("rule", ["adam", "sgd_momentum"])
def test_frozen_features_do_not_change_during_training(rule):
    X, y = _images(16, (9, 8, 3), classes=4, seed=9, dtype=np.float32)
    net = _small_net(dtype=np.float32)
    net.loss(X, y)  # running statistics away from their initial values
    net.freeze("features")
    before = {k: v.copy() for k, v in net.params.items()}
    stats = [
        {k: v.copy() for k, v in d.items() if isinstance(v, np.ndarray)} for d in net.bn_params
    ]
    _train(net, X, y, rule=rule)
    for k in net.feature_layers:
        for name in net.layer_params(k):
            np.testing.assert_array_equal(net.params[name], before[name], err_msg=name)
    for d, saved in zip(net.bn_params, stats):
        for k, v in saved.items():
            np.testing.assert_array_equal(d[k], v)
    for k in net.head_layers:
        assert not np.array_equal(net.params[f"W{k}"], before[f"W{k}"])


def test_freeze_single_layer_and_unfreeze():
    X, y = _images(4, (9, 8, 3), classes=4, seed=10)
    net = _small_net(head_dropout_keep_ratio=1.0, blocks=[{"widths": [3, 2]}])
    net.freeze(1)
    assert net.frozen == {"W1", "b1"}
    _, grads = net.loss(X, y)
    assert not grads["W1"].any() and grads["W2"].any()
    net.freeze(["W3", "b2"])
    assert net.frozen == {"W1", "b1", "W3", "b2"}
    net.unfreeze(1)
    assert net.frozen == {"W3", "b2"}
    net.unfreeze()
    assert net.frozen == set()
    with pytest.raises(ValueError, match="unknown parameter"):
        net.freeze("W99")


def test_frozen_middle_layer_gets_zero_gradients_and_stays_put():
    # layer 2 is frozen while layer 1 below it trains: backprop must pass through layer 2
    X, y = _images(16, (9, 8, 3), classes=4, seed=13, dtype=np.float32)
    net = _small_net(dtype=np.float32, head_dropout_keep_ratio=1.0, blocks=[{"widths": [3, 2]}])
    net.freeze(2)
    _, grads = net.loss(X, y)
    assert not grads["W2"].any() and not grads["b2"].any()
    assert grads["W1"].any()
    before = net.params["W2"].copy()
    _train(net, X, y, epochs=1)
    np.testing.assert_array_equal(net.params["W2"], before)


def test_frozen_features_leave_head_gradients_unchanged():
    X, y = _images(5, (9, 8, 3), classes=4, seed=11)
    blocks = [{"widths": [3]}, {"widths": [2], "pool": "avg"}]
    free = _small_net(blocks=blocks, head_dropout_keep_ratio=1.0)
    frozen = _small_net(blocks=blocks, head_dropout_keep_ratio=1.0)
    frozen.freeze("features")
    loss_free, g_free = free.loss(X, y)
    loss_frozen, g_frozen = frozen.loss(X, y)
    assert loss_free == loss_frozen  # the objective is the same
    for k in free.head_layers:
        np.testing.assert_array_equal(g_frozen[f"W{k}"], g_free[f"W{k}"])
    for k in frozen.feature_layers:
        assert not g_frozen[f"W{k}"].any()


def test_replace_head_new_class_count():
    X, y = _images(16, (9, 8, 3), classes=3, seed=12, dtype=np.float32)
    net = _small_net(dtype=np.float32)
    features = {n: net.params[n].copy() for k in net.feature_layers for n in net.layer_params(k)}
    old_head = net.params["W6"].copy()
    net.freeze("features")
    net.replace_head(3, hidden_dims=[5], seed=4)
    assert net.num_classes == 3 and net.hidden_dims == [5]
    assert net.params["W6"].shape == (2, 5) and net.params["W7"].shape == (5, 3)
    assert not np.array_equal(net.params["W6"][:, :5], old_head[:, :5])
    assert net.loss(X).shape == (16, 3)
    assert net.frozen == set(features)
    # the new head depends on the seed only: a twin gets the same one
    twin = _small_net(dtype=np.float32)
    twin.replace_head(3, hidden_dims=[5], seed=4)
    for name in ("W6", "b6", "W7", "b7"):
        np.testing.assert_array_equal(twin.params[name], net.params[name])
    new_head = net.params["W7"].copy()
    _train(net, X, y, epochs=1)
    for name, value in features.items():
        np.testing.assert_array_equal(net.params[name], value)
    assert not np.array_equal(net.params["W7"], new_head)
