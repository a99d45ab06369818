"""Build core models from flat run specs (see :mod:`nplab_io.runs`) and restore them."""

from __future__ import annotations

import numpy as np

from nplab.nets import FullyConnectedNet

__all__ = ["build_net", "optim_config", "net_state", "load_net_state", "linear_scores"]


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
        reg=spec["reg"],
        reg_kind=spec["reg_kind"],
        loss=spec["loss"],
        init=spec["init"],
        weight_scale=spec["weight_scale"],
        dtype=np.float32,
        seed=spec["seed"],
    )


def optim_config(spec: dict) -> dict:
    """The optimizer hyperparameters of a ``net`` spec, as Solver's ``optim_config``."""
    cfg = {"learning_rate": spec["lr"]}
    for hp in ("momentum", "decay_rate", "beta1", "beta2", "epsilon"):
        if hp in spec:
            cfg[hp] = spec[hp]
    return cfg


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
    for i, bn in enumerate(model.bn_params, 1):
        for key in ("running_mean", "running_var"):
            if f"bn{i}.{key}" in state:
                bn[key] = np.asarray(state[f"bn{i}.{key}"], dtype=model.dtype)


def linear_scores(W: np.ndarray, X: np.ndarray) -> np.ndarray:
    return np.asarray(X, dtype=W.dtype) @ W
