"""Run specs (see :mod:`nplab_io.runs`) -> core objects, and back.

The one place a flat spec becomes a net (:func:`build_net`), a linear classifier
(:func:`build_linear`) or a :class:`~nplab.solver.Solver` (:func:`build_solver`); the
training scripts only load data, call these and write what comes out.
"""

from __future__ import annotations

import numpy as np

from nplab.augment import HorizontalFlip
from nplab.linear import LinearClassifier, LinearSVM, Softmax
from nplab.nets import FullyConnectedNet
from nplab.optim import DEFAULTS
from nplab.schedules import make_schedule
from nplab.solver import Solver

__all__ = [
    "build_net",
    "build_linear",
    "build_solver",
    "optim_config",
    "net_state",
    "load_net_state",
    "load_bn_stats",
    "linear_scores",
]


def _float32_init(spec: dict) -> dict:
    """What every float32 model of a spec takes alike: its penalty, init scale and seed."""
    return dict(
        reg=spec["reg"], weight_scale=spec["weight_scale"], dtype=np.float32, seed=spec["seed"]
    )


def build_net(spec: dict, input_dim: int, num_classes: int) -> FullyConnectedNet:
    """A freshly initialised float32 net for a ``net`` run spec."""
    return FullyConnectedNet(
        spec["hidden_dims"],
        input_dim=input_dim,
        num_classes=num_classes,
        activation=spec["activation"],
        activation_kwargs={"alpha": spec["leaky_alpha"]}
        if spec["activation"] == "leaky_relu"
        else None,
        normalization=None if spec["normalization"] == "none" else spec["normalization"],
        dropout_keep_ratio=spec["dropout_keep"],
        reg_kind=spec["reg_kind"],
        loss=spec["loss"],
        init=spec["init"],
        **_float32_init(spec),
    )


def build_linear(spec: dict, num_classes: int = 10) -> LinearClassifier:
    """An unfitted float32 :class:`~nplab.linear.LinearSVM` or ``Softmax`` for a ``linear``
    run spec."""
    kw = dict(
        learning_rate=spec["lr"],
        num_iters=spec["iterations"],
        batch_size=spec["batch_size"],
        num_classes=num_classes,
        **_float32_init(spec),
    )
    if spec["model"] == "svm":
        return LinearSVM(delta=spec["delta"], **kw)
    return Softmax(**kw)


def optim_config(spec: dict) -> dict:
    """The optimizer hyperparameters of a canonical ``net`` spec, as Solver's
    ``optim_config`` (the keys of the rule's :data:`nplab.optim.DEFAULTS`)."""
    return {k: spec["lr" if k == "learning_rate" else k] for k in DEFAULTS[spec["optimizer"]]}


def build_solver(
    spec: dict, model, data: dict, *, image_shape=None, callback=None, **overrides
) -> Solver:
    """The :class:`~nplab.solver.Solver` of a ``net`` run spec for ``model`` on ``data``
    (the dict the Solver takes; extra splits are ignored); also of a ``cnn`` spec, whose
    ``lr_decay``, ``sampling`` and ``reduction`` are the Solver's defaults.  A ``flip``
    spec trains ``model`` through :class:`~nplab.augment.HorizontalFlip`, which needs the
    rows' ``(H, W, C)`` ``image_shape``.  ``overrides``: Solver keyword arguments that
    replace the spec's (e.g. a recording ``update_rule``)."""
    if spec.get("flip"):
        if image_shape is None or len(image_shape) != 3:
            raise ValueError(
                f"flip needs image rows with an (H, W, C) image_shape, got {image_shape}"
            )
        model = HorizontalFlip(model, image_shape, seed=spec["seed"])
    schedule = None
    if spec["schedule"] != "none":  # t counts epochs, as the tables' total_steps do
        schedule = make_schedule(spec["schedule"], spec["lr"], **spec["schedule_params"])
    kwargs = dict(
        update_rule=spec["optimizer"],
        optim_config=optim_config(spec),
        lr_schedule=schedule,
        lr_schedule_unit="epoch",
        batch_size=spec["batch_size"],
        num_epochs=spec["epochs"],
        num_iterations=spec["iterations"],
        seed=spec["seed"],
        num_train_samples=spec["eval_train_samples"],
        num_val_samples=None,
        keep_best=spec["keep_best"],
        callback=callback,
    )
    kwargs.update({k: spec[k] for k in ("lr_decay", "sampling", "reduction") if k in spec})
    return Solver(model, data, **(kwargs | overrides))


def net_state(model: FullyConnectedNet) -> dict:
    """Parameters plus batch-norm running statistics, as flat arrays for an .npz."""
    state = dict(model.params)
    for i, bn in enumerate(model.bn_params, 1):
        for key in ("running_mean", "running_var"):
            if key in bn:
                state[f"bn{i}.{key}"] = bn[key]
    return state


def load_net_state(model: FullyConnectedNet, state: dict, *, source: str = "params") -> None:
    """Put arrays saved by :func:`net_state` back into ``model`` (shapes must match)."""
    for k, v in model.params.items():
        if k not in state:
            raise ValueError(f"{source}: missing parameter {k!r}")
        if state[k].shape != v.shape:
            raise ValueError(
                f"{source}: parameter {k!r} has shape {state[k].shape}, expected {v.shape}"
            )
        model.params[k] = np.asarray(state[k], dtype=v.dtype)
    load_bn_stats(model, state)


def load_bn_stats(model, state: dict) -> None:
    """Copy the batch-norm running statistics that :func:`net_state` saved into ``model``."""
    for i, bn in enumerate(model.bn_params, 1):
        for key in ("running_mean", "running_var"):
            if f"bn{i}.{key}" in state:
                bn[key] = np.array(state[f"bn{i}.{key}"], dtype=model.dtype)


def linear_scores(W: np.ndarray, X: np.ndarray) -> np.ndarray:
    return np.asarray(X, dtype=W.dtype) @ W
