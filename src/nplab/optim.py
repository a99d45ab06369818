"""First-order update rules (CS231n ``optim.py`` shape), pure NumPy.

Every rule has the signature ``update(w, dw, config=None) -> (next_w, config)``:

* ``w``  -- the parameter array (floating dtype); ``dw`` -- its gradient, same shape.
* ``config`` -- a dict holding the hyperparameters and this parameter's optimizer state.
  Missing hyperparameters are filled in with the defaults listed in ``DEFAULTS`` (the dict
  is updated and returned, so pass one dict per parameter).  State arrays (``velocity``,
  ``cache``, ``m``, ``v``) are created on the first call as zeros in ``w``'s dtype.

**In place.**  For speed, ``w`` and the state arrays are updated *in place* and ``next_w``
is ``w`` itself; callers must still use the returned ``next_w`` (the Solver does), and must
pass a copy if they need to keep the old values.

**Subnormals.**  Adagrad, RMSProp and Adam flush subnormal entries of ``w`` and of their
state to 0 after each update (see ``_flush_subnormal``): they change nothing measurable and
would otherwise make every later step many times slower.

**Dtype.**  Hyperparameters are converted to Python floats, so a float32 ``w`` stays
float32 (NumPy 2 treats Python scalars as weak); ``dw`` is cast to ``w``'s dtype by the
in-place operations.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._checks import check_int, check_number

__all__ = [
    "sgd",
    "sgd_momentum",
    "nesterov_momentum",
    "adagrad",
    "rmsprop",
    "adam",
    "adam_no_bias_correction",
    "OPTIMIZERS",
    "DEFAULTS",
]

#: Default hyperparameters of every rule (used for keys missing from ``config``).
DEFAULTS: dict[str, dict[str, float]] = {
    "sgd": {"learning_rate": 1e-2},
    "sgd_momentum": {"learning_rate": 1e-2, "momentum": 0.9},
    "nesterov_momentum": {"learning_rate": 1e-2, "momentum": 0.9},
    "adagrad": {"learning_rate": 1e-2, "epsilon": 1e-8},
    "rmsprop": {"learning_rate": 1e-2, "decay_rate": 0.99, "epsilon": 1e-8},
    "adam": {"learning_rate": 1e-3, "beta1": 0.9, "beta2": 0.999, "epsilon": 1e-8},
    "adam_no_bias_correction": {
        "learning_rate": 1e-3,
        "beta1": 0.9,
        "beta2": 0.999,
        "epsilon": 1e-8,
    },
}

_STATE_KEYS = {"velocity", "cache", "m", "v", "t"}


# --------------------------------------------------------------------------- helpers
def _prepare(name: str, w, dw, config):
    """Validate ``w``/``dw``/``config``; fill defaults; return (config, hyperparams)."""
    if not isinstance(w, np.ndarray) or not np.issubdtype(w.dtype, np.floating):
        raise ValueError(
            f"{name}: w must be a floating np.ndarray, got {getattr(w, 'dtype', type(w).__name__)}"
        )
    dw = np.asarray(dw)
    if dw.shape != w.shape:
        raise ValueError(f"{name}: dw must have the shape of w, {w.shape}, got {dw.shape}")
    if config is None:
        config = {}
    elif not isinstance(config, dict):
        raise ValueError(f"{name}: config must be a dict or None, got {type(config).__name__}")
    defaults = DEFAULTS[name]
    for key in config:
        if key not in defaults and key not in _STATE_KEYS:
            raise ValueError(
                f"{name}: unknown config key {key!r}; expected one of "
                f"{sorted(defaults)} (plus state {sorted(_STATE_KEYS)})"
            )
    hp = {}
    for key, default in defaults.items():
        value = check_number(
            f"{name}: {key}", config.setdefault(key, default), positive=key == "epsilon"
        )
        if key not in ("learning_rate", "epsilon") and value >= 1.0:  # momentum, decay, betas
            raise ValueError(f"{name}: {key} must be in [0, 1), got {value!r}")
        hp[key] = value
    return dw, config, hp


def _state(name: str, config: dict, key: str, w: np.ndarray) -> np.ndarray:
    """The state array ``config[key]`` (created as zeros like ``w`` if absent)."""
    s = config.get(key)
    if s is None:
        s = np.zeros_like(w)
        config[key] = s
    elif not isinstance(s, np.ndarray) or s.shape != w.shape:
        raise ValueError(
            f"{name}: config[{key!r}] must be an array of shape {w.shape}, "
            f"got {getattr(s, 'shape', type(s).__name__)}"
        )
    elif s.dtype != w.dtype:
        s = s.astype(w.dtype)
        config[key] = s
    return s


def _flush_subnormal(*arrays: np.ndarray) -> None:
    """Set subnormal entries (0 < |x| < finfo.tiny) of each array to 0, in place.

    The adaptive rules divide by a running gradient magnitude, so a weight that only a
    penalty pulls on (e.g. of an input pixel that is 0 in every image) shrinks
    geometrically until it is subnormal; BLAS and ufuncs then slow down 10-100x on those
    entries. Flushing them changes each value by less than the dtype's smallest normal
    number.
    """
    for a in arrays:
        small = np.abs(a) < np.finfo(a.dtype).tiny
        if small.any():
            a[small] = 0


# --------------------------------------------------------------------------- rules
def sgd(w, dw, config=None):
    """Vanilla SGD: ``w -= learning_rate * dw``.

    config: ``learning_rate`` (default 1e-2).
    """
    dw, config, hp = _prepare("sgd", w, dw, config)
    w -= hp["learning_rate"] * dw
    return w, config


def sgd_momentum(w, dw, config=None):
    """SGD with momentum: ``v = momentum * v - learning_rate * dw``; ``w += v``.

    config: ``learning_rate`` (1e-2), ``momentum`` (0.9); state ``velocity`` (zeros).
    """
    dw, config, hp = _prepare("sgd_momentum", w, dw, config)
    v = _state("sgd_momentum", config, "velocity", w)
    v *= hp["momentum"]
    v -= hp["learning_rate"] * dw
    w += v
    return w, config


def nesterov_momentum(w, dw, config=None):
    """Nesterov momentum, CS231n-notes form (``dw`` is taken at the current ``w``)::

        v_prev = v
        v = momentum * v - learning_rate * dw
        w += -momentum * v_prev + (1 + momentum) * v

    config: ``learning_rate`` (1e-2), ``momentum`` (0.9); state ``velocity`` (zeros).
    """
    dw, config, hp = _prepare("nesterov_momentum", w, dw, config)
    mu = hp["momentum"]
    v = _state("nesterov_momentum", config, "velocity", w)
    w -= mu * v  # -mu * v_prev
    v *= mu
    v -= hp["learning_rate"] * dw
    w += (1.0 + mu) * v  # +(1 + mu) * v
    return w, config


def adagrad(w, dw, config=None):
    """Adagrad: ``cache += dw**2``; ``w -= learning_rate * dw / (sqrt(cache) + epsilon)``.

    config: ``learning_rate`` (1e-2), ``epsilon`` (1e-8); state ``cache`` (zeros).
    """
    dw, config, hp = _prepare("adagrad", w, dw, config)
    cache = _state("adagrad", config, "cache", w)
    cache += np.square(dw, dtype=w.dtype)
    denom = np.sqrt(cache)
    denom += hp["epsilon"]
    w -= hp["learning_rate"] * dw / denom
    _flush_subnormal(w, cache)
    return w, config


def rmsprop(w, dw, config=None):
    """RMSProp: ``cache = decay_rate * cache + (1 - decay_rate) * dw**2``;
    ``w -= learning_rate * dw / (sqrt(cache) + epsilon)``.

    config: ``learning_rate`` (1e-2), ``decay_rate`` (0.99), ``epsilon`` (1e-8);
    state ``cache`` (zeros).
    """
    dw, config, hp = _prepare("rmsprop", w, dw, config)
    rho = hp["decay_rate"]
    cache = _state("rmsprop", config, "cache", w)
    cache *= rho
    cache += (1.0 - rho) * np.square(dw, dtype=w.dtype)
    denom = np.sqrt(cache)
    denom += hp["epsilon"]
    w -= hp["learning_rate"] * dw / denom
    _flush_subnormal(w, cache)
    return w, config


def _adam(name: str, w, dw, config, bias_correction: bool):
    dw, config, hp = _prepare(name, w, dw, config)
    b1, b2 = hp["beta1"], hp["beta2"]
    m = _state(name, config, "m", w)
    v = _state(name, config, "v", w)
    t = check_int(f"{name}: config['t']", config.get("t", 0), 0) + 1
    config["t"] = t
    m *= b1
    m += (1.0 - b1) * dw
    v *= b2
    v += (1.0 - b2) * np.square(dw, dtype=w.dtype)
    if bias_correction:
        mhat = m / (1.0 - b1**t)
        denom = v / (1.0 - b2**t)
    else:
        mhat = m
        denom = v.copy()
    np.sqrt(denom, out=denom)
    denom += hp["epsilon"]
    mhat = mhat / denom if mhat is m else np.divide(mhat, denom, out=mhat)
    mhat *= hp["learning_rate"]
    w -= mhat
    _flush_subnormal(w, m, v)
    return w, config


def adam(w, dw, config=None):
    """Adam with bias correction (Kingma & Ba; CS231n form)::

        t += 1
        m = beta1 * m + (1 - beta1) * dw
        v = beta2 * v + (1 - beta2) * dw**2
        w -= learning_rate * (m / (1 - beta1**t)) / (sqrt(v / (1 - beta2**t)) + epsilon)

    config: ``learning_rate`` (1e-3), ``beta1`` (0.9), ``beta2`` (0.999), ``epsilon``
    (1e-8); state ``m``, ``v`` (zeros), ``t`` (0, the number of steps taken).
    """
    return _adam("adam", w, dw, config, bias_correction=True)


def adam_no_bias_correction(w, dw, config=None):
    """Adam without bias correction (the MNIST write-up's variant, used there with
    ``beta2=0.9999``): same moments as :func:`adam`, then
    ``w -= learning_rate * m / (sqrt(v) + epsilon)``.

    config: ``learning_rate`` (1e-3), ``beta1`` (0.9), ``beta2`` (0.999), ``epsilon``
    (1e-8); state ``m``, ``v`` (zeros), ``t`` (step count, informational only).
    """
    return _adam("adam_no_bias_correction", w, dw, config, bias_correction=False)


#: Rule name -> update function.
OPTIMIZERS: dict[str, Callable] = {
    "sgd": sgd,
    "sgd_momentum": sgd_momentum,
    "nesterov_momentum": nesterov_momentum,
    "adagrad": adagrad,
    "rmsprop": rmsprop,
    "adam": adam,
    "adam_no_bias_correction": adam_no_bias_correction,
}
