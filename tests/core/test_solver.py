"""Tests for nplab.solver.Solver: overfitting, determinism, divergence, regimes, schedules."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from nplab.nets import FullyConnectedNet
from nplab.optim import OPTIMIZERS
from nplab.schedules import make_schedule
from nplab.solver import Solver, TrainHistory


def _data(n=50, d=20, c=5, n_val=20, seed=0, scale=1.0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = (scale * rng.standard_normal((n + n_val, d))).astype(dtype)
    y = rng.integers(c, size=n + n_val)
    return dict(X_train=X[:n], y_train=y[:n], X_val=X[n:], y_val=y[n:])


class SpyNet(FullyConnectedNet):
    """Records every training batch: size, the id column X[:, 0], and the reduction."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.batches = []

    def loss(self, X, y=None, reduction="mean"):
        if y is not None:
            self.batches.append((X.shape[0], np.asarray(X)[:, 0].copy(), reduction))
        return super().loss(X, y, reduction=reduction)


def _id_data(n=50, d=4, c=3):
    """X[:, 0] is the row id, so the spy can tell which rows a batch held."""
    data = _data(n=n, d=d, c=c)
    data["X_train"] = data["X_train"].copy()
    data["X_train"][:, 0] = np.arange(n)
    return data


# ------------------------------------------------------------------------------ overfitting
@pytest.mark.parametrize(
    "hidden, weight_scale, lr",
    [
        ([100, 100], 1e-2, 1e-2),  # 3-layer net, the course's settings
        ([100, 100, 100, 100], 1e-1, 2e-3),  # 5-layer net, the course's settings
    ],
)
def test_overfit_50_examples(hidden, weight_scale, lr):
    # CIFAR-like: 3072 features with the spread of mean-centred pixels (std ~64), random labels
    data = _data(n=50, d=3072, c=10, n_val=10, scale=64.0, dtype=np.float32)
    model = FullyConnectedNet(
        hidden, input_dim=3072, num_classes=10, weight_scale=weight_scale, dtype=np.float32, seed=0
    )
    solver = Solver(
        model,
        data,
        update_rule="sgd",
        optim_config={"learning_rate": lr},
        batch_size=25,
        num_epochs=20,
        num_train_samples=None,
        keep_best=False,
        seed=0,
    )
    hist = solver.train()
    assert not hist.diverged
    assert hist.train_acc_history[-1] == 1.0
    assert solver.check_accuracy(data["X_train"], data["y_train"]) == 1.0
    assert hist.loss_history[-1] < hist.loss_history[0]


# ------------------------------------------------------------------------------ determinism
def _solver(model, data, lr, **kwargs) -> Solver:
    """A Solver at learning rate ``lr``, on batches of 10 unless ``kwargs`` say otherwise."""
    return Solver(model, data, optim_config={"learning_rate": lr}, **{"batch_size": 10, **kwargs})


def _adam_solver(model, data, **kwargs) -> Solver:
    """Adam at lr 1e-2 on batches of 10."""
    return _solver(model, data, 1e-2, update_rule="adam", **kwargs)


def _train_dropout_bn(model_seed, solver_seed):
    data = _data()
    model = FullyConnectedNet(
        [16, 16],
        input_dim=20,
        num_classes=5,
        normalization="batchnorm",
        dropout_keep_ratio=0.7,
        weight_scale=0.1,
        seed=model_seed,
    )
    _adam_solver(model, data, num_epochs=3, seed=solver_seed, keep_best=False).train()
    return model


def test_same_seed_bit_identical_different_seed_different():
    a = _train_dropout_bn(0, 0)
    b = _train_dropout_bn(0, 0)
    for k in a.params:
        assert np.array_equal(a.params[k], b.params[k]), k
    for i in range(2):
        assert np.array_equal(a.bn_params[i]["running_mean"], b.bn_params[i]["running_mean"])
    c = _train_dropout_bn(0, 1)  # same init, another Solver seed (batches, dropout)
    assert not np.array_equal(a.params["W1"], c.params["W1"])
    d = _train_dropout_bn(1, 0)  # another init
    assert not np.array_equal(a.params["W1"], d.params["W1"])


def test_solver_hands_model_a_dropout_rng():
    model = FullyConnectedNet([8], input_dim=20, num_classes=5, dropout_keep_ratio=0.5)
    before = model.rng
    Solver(model, _data(), seed=3)
    assert model.rng is not before and isinstance(model.rng, np.random.Generator)


# ------------------------------------------------------------------------------ divergence
@pytest.mark.parametrize("keep_best", [True, False])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_huge_learning_rate_diverges_gracefully(keep_best, dtype):
    data = _data(dtype=dtype)
    model = FullyConnectedNet([30], input_dim=20, num_classes=5, dtype=dtype, seed=0)
    init = {k: v.copy() for k, v in model.params.items()}
    solver = _solver(model, data, 1e12, num_epochs=20, keep_best=keep_best)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow RuntimeWarnings leak out either
        hist = solver.train()
    assert hist.diverged is True
    assert hist.diverged_at is not None and hist.iterations == hist.diverged_at + 1
    assert len(hist.loss_history) == hist.iterations
    assert not np.isfinite(hist.loss_history[-1]) or hist.diverged_at % 5 == 4
    assert hist.iterations < 20 * 5
    for k, v in model.params.items():
        assert np.isfinite(v).all(), k
        assert v.dtype == dtype
    if hist.best_epoch is None:  # diverged inside the first epoch: initial params back
        for k in init:
            np.testing.assert_array_equal(model.params[k], init[k])


def test_no_divergence_flag_on_normal_run():
    hist = Solver(
        FullyConnectedNet([10], input_dim=20, num_classes=5), _data(), num_epochs=2
    ).train()
    assert hist.diverged is False and hist.diverged_at is None


# ------------------------------------------------------------------------------ regimes
def test_full_batch_one_iteration_per_epoch():
    data = _id_data()
    for bs in ("full", None):
        model = SpyNet([], input_dim=4, num_classes=3)
        hist = Solver(model, data, batch_size=bs, num_epochs=4).train()
        assert hist.iterations == 4 and hist.iterations_per_epoch == 1
        assert all(b[0] == 50 for b in model.batches)
        np.testing.assert_array_equal(model.batches[0][1], np.arange(50))


def test_batch_size_one_does_n_iterations_per_epoch():
    data = _id_data(n=30)
    model = SpyNet([], input_dim=4, num_classes=3)
    hist = Solver(model, data, batch_size=1, num_epochs=2).train()
    assert hist.iterations == 60 and len(hist.loss_history) == 60
    assert all(b[0] == 1 for b in model.batches)
    assert len(hist.val_acc_history) == 2


def test_without_replacement_each_row_once_per_epoch():
    data = _id_data(n=50)
    model = SpyNet([], input_dim=4, num_classes=3)
    hist = Solver(model, data, batch_size=20, num_epochs=3, sampling="without_replacement").train()
    assert hist.iterations_per_epoch == 3 and hist.iterations == 9  # ceil(50 / 20)
    assert [b[0] for b in model.batches[:3]] == [20, 20, 10]
    epochs = [np.concatenate([b[1] for b in model.batches[3 * e : 3 * e + 3]]) for e in range(3)]
    for ids in epochs:
        np.testing.assert_array_equal(np.sort(ids), np.arange(50))
    assert not np.array_equal(epochs[0], epochs[1])  # reshuffled


def test_with_replacement_iteration_count():
    data = _id_data(n=50)
    model = SpyNet([], input_dim=4, num_classes=3)
    hist = Solver(model, data, batch_size=20, num_epochs=3, sampling="with_replacement").train()
    assert hist.iterations_per_epoch == 2 and hist.iterations == 6  # max(50 // 20, 1)
    assert all(b[0] == 20 for b in model.batches)
    ids = np.concatenate([b[1] for b in model.batches])
    assert len(np.unique(ids)) < len(ids)  # repeats occur
    model = SpyNet([], input_dim=4, num_classes=3)
    hist = Solver(model, data, batch_size=80, num_epochs=2, sampling="with_replacement").train()
    assert hist.iterations == 2 and model.batches[0][0] == 80


def test_num_iterations_overrides_epochs_and_records_partial_epoch():
    data = _id_data(n=50)
    model = SpyNet([], input_dim=4, num_classes=3)
    seen = []
    hist = Solver(
        model, data, batch_size=20, num_epochs=100, num_iterations=7, callback=seen.append
    ).train()
    assert hist.iterations == 7 and len(hist.loss_history) == 7
    assert len(hist.val_acc_history) == 3  # 3 + 3 + 1 iterations
    assert [s["iteration"] for s in seen] == [3, 6, 7]
    assert [s["epoch"] for s in seen] == [1, 2, 3]


def test_reduction_sum_gradient_is_n_times_mean():
    data = _data(n=40)
    deltas = {}
    for reduction in ("mean", "sum"):
        model = SpyNet([8], input_dim=20, num_classes=5, reg=0.0, dtype=np.float64, seed=0)
        w0 = {k: v.copy() for k, v in model.params.items()}
        _solver(
            model, data, 1e-3, batch_size="full", num_epochs=1, reduction=reduction, keep_best=False
        ).train()
        assert model.batches[0][2] == reduction
        deltas[reduction] = {k: model.params[k] - w0[k] for k in w0}
    for k in deltas["mean"]:
        np.testing.assert_allclose(deltas["sum"][k], 40 * deltas["mean"][k], rtol=1e-9, atol=1e-15)


def test_keep_best_restores_best_val_params():
    data = _data(n=60, n_val=15, seed=2)
    snaps = []
    for keep_best in (True, False):
        model = FullyConnectedNet([32], input_dim=20, num_classes=5, weight_scale=0.1, seed=0)
        epoch_params = []
        hist = _solver(
            model,
            data,
            0.5,
            update_rule="sgd_momentum",
            num_epochs=8,
            keep_best=keep_best,
            seed=1,
            callback=lambda info, m=model, ep=epoch_params: ep.append(
                {k: v.copy() for k, v in m.params.items()}
            ),
        ).train()
        snaps.append((model, hist, epoch_params))
    (m_best, h_best, ep_best), (m_last, h_last, ep_last) = snaps
    np.testing.assert_array_equal(h_best.val_acc_history, h_last.val_acc_history)
    best = int(np.argmax(h_best.val_acc_history))  # first maximum
    assert h_best.best_epoch == best + 1
    assert h_best.best_val_acc == h_best.val_acc_history.max()
    assert best + 1 != len(h_best.val_acc_history), "test needs a run whose best is not last"
    for k in m_best.params:
        np.testing.assert_array_equal(m_best.params[k], ep_best[best][k])
        np.testing.assert_array_equal(m_last.params[k], ep_last[-1][k])


# ------------------------------------------------------------------------------ schedules
def test_lr_schedule_per_epoch_matches_schedule():
    data = _data()
    model = FullyConnectedNet([8], input_dim=20, num_classes=5)
    schedule = make_schedule("step", 0.1, step_size=2, gamma=0.5)
    solver = _solver(model, data, 0.1, num_epochs=6, lr_schedule=schedule, lr_schedule_unit="epoch")
    hist = solver.train()
    np.testing.assert_allclose(hist.lr_history, [0.1, 0.1, 0.05, 0.05, 0.025, 0.025], rtol=1e-15)


def test_lr_schedule_per_iteration_matches_schedule():
    data = _data()
    model = FullyConnectedNet([8], input_dim=20, num_classes=5)
    solver = _adam_solver(
        model,
        data,
        num_epochs=4,
        lr_schedule=make_schedule("cosine", 1e-2, total_steps=20),
        lr_schedule_unit="iteration",
    )
    hist = solver.train()
    f = make_schedule("cosine", 1e-2, total_steps=20)
    np.testing.assert_allclose(hist.lr_history, [f(5 * e) for e in range(4)], rtol=1e-15)
    # the optimizer's config holds the lr of the last iteration (t = 19)
    assert solver.optim_configs["W1"]["learning_rate"] == pytest.approx(f(19), rel=1e-15)


def test_lr_decay_shortcut_and_callback():
    data = _data()
    model = FullyConnectedNet([8], input_dim=20, num_classes=5)
    seen, lines = [], []
    hist = Solver(
        model,
        data,
        optim_config={"learning_rate": 0.2},
        lr_decay=0.5,
        batch_size=25,
        num_epochs=3,
        callback=seen.append,
        verbose=True,
        progress=lines.append,
    ).train()
    np.testing.assert_allclose(hist.lr_history, [0.2, 0.1, 0.05], rtol=1e-15)
    assert [s["lr"] for s in seen] == list(hist.lr_history)
    assert set(seen[0]) == {"epoch", "iteration", "loss", "train_acc", "val_acc", "lr", "elapsed"}
    assert len(lines) == 3 and lines[0].startswith("(Epoch 1 / 3)")


# ------------------------------------------------------------------------------ history, dtype
def test_history_fields():
    data = _data()
    hist = Solver(
        FullyConnectedNet([8], input_dim=20, num_classes=5),
        data,
        batch_size=10,
        num_epochs=3,
        num_train_samples=7,
    ).train()
    assert isinstance(hist, TrainHistory)
    assert hist.loss_history.dtype == np.float64 and hist.loss_history.shape == (15,)
    for name in ("train_acc_history", "val_acc_history", "lr_history", "epoch_times"):
        arr = getattr(hist, name)
        assert arr.dtype == np.float64 and arr.shape == (3,), name
    assert np.all(np.diff(hist.epoch_times) >= 0) and hist.wall_time >= hist.epoch_times[-1]
    # train accuracy is measured on a 7-row subsample: multiples of 1/7
    assert np.allclose(hist.train_acc_history * 7, np.round(hist.train_acc_history * 7))
    assert hist.iterations == 15 and hist.epochs == 3
    assert hist["best_val_acc"] == hist.to_dict()["best_val_acc"]


@pytest.mark.parametrize("rule", sorted(OPTIMIZERS))  # every rule (test_optim pins the list)
def test_float32_training_keeps_float32(rule):
    data = _data(dtype=np.float32)
    model = FullyConnectedNet(
        [8], input_dim=20, num_classes=5, normalization="layernorm", dtype=np.float32
    )
    solver = Solver(
        model,
        data,
        update_rule=rule,
        batch_size=10,
        num_epochs=2,
        lr_decay=0.9,
    )
    hist = solver.train()
    assert not hist.diverged
    assert all(v.dtype == np.float32 for v in model.params.values())
    for cfg in solver.optim_configs.values():
        for v in cfg.values():
            if isinstance(v, np.ndarray):
                assert v.dtype == np.float32


def test_check_accuracy_subsample_and_batches():
    data = _data(n=50)
    model = FullyConnectedNet([8], input_dim=20, num_classes=5, dtype=np.float64)
    solver = Solver(model, data)
    X, y = data["X_train"], data["y_train"]
    full = solver.check_accuracy(X, y, batch_size=7)
    assert full == np.mean(model.predict(X) == y)
    sub = solver.check_accuracy(X, y, num_samples=10)
    assert sub * 10 == pytest.approx(round(sub * 10))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(update_rule="adamw"), "update_rule must be one of"),
        (dict(batch_size=0), "batch_size must be an int >= 1"),
        (dict(batch_size="all"), "batch_size must be an int >= 1, .full. or None"),
        (dict(sampling="bootstrap"), "sampling must be"),
        (dict(num_epochs=0), "num_epochs"),
        (dict(reduction="avg"), "reduction"),
        (dict(lr_schedule={"name": "constant"}), "lr_schedule must be callable"),
        (dict(lr_schedule_unit="batch"), "lr_schedule_unit must be one of"),
        (dict(lr_schedule=make_schedule("constant", 0.1), lr_decay=0.9), "not both"),
        (dict(lr_decay=0.0), "lr_decay"),
        (dict(update_rule=lambda w, dw, c: (w, c), lr_decay=0.9), "lr_decay needs"),
        (dict(seed=-1), "seed"),
        (dict(optim_config={"lr": 0.1}), None),
    ],
)
def test_bad_arguments(kwargs, match):
    data = _data()
    model = FullyConnectedNet([8], input_dim=20, num_classes=5)
    if match is None:  # a misspelt hyperparameter is reported by the update rule
        with pytest.raises(ValueError, match="unknown config key 'lr'"):
            Solver(model, data, num_epochs=1, **kwargs).train()
        return
    with pytest.raises(ValueError, match=match):
        Solver(model, data, **kwargs)


def test_bad_data():
    model = FullyConnectedNet([8], input_dim=20, num_classes=5)
    data = _data()
    with pytest.raises(ValueError, match="missing key"):
        Solver(model, {k: v for k, v in data.items() if k != "y_val"})
    with pytest.raises(ValueError, match="y_train must be integer labels"):
        Solver(model, dict(data, y_train=data["y_train"][:-1]))
