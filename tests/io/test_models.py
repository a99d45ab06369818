"""nplab_io.models: run specs -> nets, linear classifiers and Solvers."""

import numpy as np
import pytest

from nplab.augment import HorizontalFlip
from nplab.linear import LinearSVM, Softmax
from nplab.optim import DEFAULTS
from nplab_io.models import build_linear, build_net, build_solver, optim_config
from nplab_io.runs import canonical_spec


def _data(n=40, d=12, c=3):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n + 10, d)).astype(np.float32)
    y = rng.integers(c, size=n + 10)
    return {"X_train": X[:n], "y_train": y[:n], "X_val": X[n:], "y_val": y[n:], "X_test": X[n:]}


@pytest.mark.parametrize("rule", sorted(DEFAULTS))
def test_optim_config_has_exactly_the_rules_hyperparameters(rule):
    cfg = optim_config(canonical_spec("net", {"optimizer": rule, "lr": 0.5}))
    assert set(cfg) == set(DEFAULTS[rule]) and cfg["learning_rate"] == 0.5


def test_build_linear_follows_the_spec():
    svm = build_linear(canonical_spec("linear", {"lr": 1e-3, "delta": 2.0}))
    assert isinstance(svm, LinearSVM)
    assert (svm.learning_rate, svm.delta, svm.num_classes, svm.dtype) == (1e-3, 2.0, 10, np.float32)
    soft = build_linear(canonical_spec("linear", {"model": "softmax"}), num_classes=3)
    assert isinstance(soft, Softmax) and soft.num_classes == 3


def test_build_solver_schedule_and_spec_settings():
    spec = canonical_spec(
        "net",
        {
            "hidden_dims": [8],
            "optimizer": "adam",
            "schedule": "cosine",
            "schedule_params": {"total_steps": 4},
            "epochs": 2,
            "batch_size": 10,
        },
    )
    data = _data()
    solver = build_solver(spec, build_net(spec, 12, 3), data)
    assert solver.schedule.lr0 == 1e-3 == solver.optim_config["learning_rate"]  # adam's own
    assert solver.lr_unit == "epoch" and solver.iterations_per_epoch == 4
    hist = solver.train()
    assert hist.lr_history.tolist() == [solver.schedule(0), solver.schedule(1)]


def test_build_solver_flip_wraps_the_model_and_needs_an_image_shape():
    spec = canonical_spec("net", {"hidden_dims": [8], "flip": True})
    data = _data(d=2 * 2 * 3)
    model = build_net(spec, 12, 3)
    assert isinstance(build_solver(spec, model, data, image_shape=(2, 2, 3)).model, HorizontalFlip)
    with pytest.raises(ValueError, match="flip needs"):
        build_solver(spec, model, data)


def test_overrides_replace_the_specs_solver_arguments():
    spec = canonical_spec("net", {"hidden_dims": [8]})
    solver = build_solver(spec, build_net(spec, 12, 3), _data(), num_epochs=1, batch_size=5)
    assert (solver.num_epochs, solver.batch_size) == (1, 5)
