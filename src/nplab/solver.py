"""Minibatch training loop (CS231n ``Solver`` shape), pure NumPy, no global RNG.

A model is any object with

* ``params``: dict name -> array (updated by the optimizer; the Solver stores the
  returned ``next_w`` back into it);
* ``loss(X, y=None, reduction="mean")``: scores ``(N, C)`` when ``y`` is None (test mode),
  else ``(loss, grads)`` with ``grads`` keyed like ``params`` (train mode);
* optionally ``rng``: if the model has this attribute, the Solver replaces it with a
  Generator derived from its own ``seed`` (used for dropout masks);
* optionally ``bn_params``: a list of dicts whose array entries (batchnorm running
  statistics) are saved and restored together with ``params``.

Randomness.  ``np.random.SeedSequence(seed).spawn(3)`` gives three independent streams:
batch sampling, the model's ``rng`` (dropout) and the accuracy subsamples.  With the same
model (same init seed), data and Solver arguments, training is bit-identical.

Epochs and iterations.

* ``sampling="without_replacement"``: every epoch walks a fresh permutation of the N
  training rows in batches of ``batch_size``; the last batch may be smaller, so an epoch
  is ``ceil(N / batch_size)`` iterations and sees every row exactly once.
* ``sampling="with_replacement"`` (CS231n): each iteration draws ``batch_size`` random
  rows (``rng.integers``); an epoch is ``max(N // batch_size, 1)`` iterations.
* ``batch_size="full"`` or None: full-batch gradient descent, one iteration per epoch on
  the whole training set in its stored order (``sampling`` is ignored).
* ``num_iterations`` (if given) overrides ``num_epochs``: training stops after exactly that
  many iterations; a final partial epoch is evaluated and recorded like a full one.

Histories.  ``loss_history`` has one entry per iteration (the loss returned by the model,
including the non-finite one that stopped a diverged run).  ``train_acc_history``,
``val_acc_history``, ``lr_history`` and ``epoch_times`` have one entry per (possibly
partial) epoch, recorded AFTER the epoch (no entry before training).  ``lr_history[e]``
is the learning rate used by the first iteration of epoch ``e``; ``epoch_times[e]`` is
the cumulative wall time (seconds, including evaluation) at the end of epoch ``e``.

Learning-rate schedules.  ``lr_schedule`` is a function ``t -> lr``, usually a
:func:`nplab.schedules.make_schedule` (which binds its own ``lr0``); its value replaces
``optim_config["learning_rate"]``.  ``t`` is the 0-based epoch index
(``lr_schedule_unit="epoch"``, the default) or the 0-based global iteration index
(``"iteration"``).  ``lr_decay`` is the CS231n shortcut for
``make_schedule("exponential", lr, decay=lr_decay)`` per epoch, ``lr`` being
``optim_config["learning_rate"]`` (or the rule's default); give one or the other.

Divergence.  A non-finite loss or gradient stops training (no exception): ``diverged``
is True and ``diverged_at`` the 0-based index of that iteration.  Parameters that turn
non-finite after an update are caught at the next loss (or at the epoch's end).  The
model then gets back the best-validation parameters (``keep_best``) or else the last
finite snapshot (taken at the start and after every finite epoch), so ``model.params``
never holds NaN/inf after :meth:`Solver.train`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np

from . import optim
from ._checks import check_callable, check_choice, check_int, check_number
from .schedules import make_schedule

__all__ = ["Solver", "TrainHistory"]


@dataclass
class TrainHistory:
    """What :meth:`Solver.train` returns (see the module docstring for the conventions)."""

    loss_history: np.ndarray  # (iterations,) float64
    train_acc_history: np.ndarray  # (epochs,) float64
    val_acc_history: np.ndarray  # (epochs,) float64
    lr_history: np.ndarray  # (epochs,) float64
    epoch_times: np.ndarray  # (epochs,) float64, cumulative seconds
    best_val_acc: float
    best_epoch: int | None  # 1-based epoch of best_val_acc (None: no epoch finished)
    diverged: bool
    diverged_at: int | None  # 0-based iteration index, None if not diverged
    iterations: int  # iterations run (including a diverging one)
    wall_time: float  # seconds for the whole train()
    epochs: int = 0  # epochs recorded (len of the per-epoch histories)
    iterations_per_epoch: int = 0

    def to_dict(self) -> dict:
        """A plain dict (arrays kept as arrays)."""
        return asdict(self)

    def __getitem__(self, key):
        return getattr(self, key)


# --------------------------------------------------------------------------- checks
def _all_finite(a: np.ndarray) -> bool:
    """True if every entry of ``a`` is finite (a cheap sum first, the exact test if needed)."""
    with np.errstate(over="ignore", invalid="ignore"):
        if math.isfinite(float(np.sum(a))):
            return True
    return bool(np.isfinite(a).all())


def _check_model(model):
    if not isinstance(getattr(model, "params", None), dict) or not callable(
        getattr(model, "loss", None)
    ):
        raise ValueError(
            "model must have a params dict and a loss(X, y=None, reduction=...) method"
        )
    return model


def _check_xy(split: str, X, y):
    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim < 2 or X.shape[0] == 0:
        raise ValueError(f"X_{split} must have shape (N, ...) with N >= 1, got {X.shape}")
    if y.shape != (X.shape[0],) or not np.issubdtype(y.dtype, np.integer):
        raise ValueError(
            f"y_{split} must be integer labels of shape ({X.shape[0]},), got {y.dtype} {y.shape}"
        )
    return X, y


def _check_data(data) -> tuple:
    """(X_train, y_train, X_val, y_val) from the ``data`` dict."""
    if not isinstance(data, dict):
        raise ValueError(
            f"data must be a dict with X_train, y_train, X_val, y_val, got {type(data).__name__}"
        )
    missing = [k for k in ("X_train", "y_train", "X_val", "y_val") if k not in data]
    if missing:
        raise ValueError(f"data is missing key(s) {missing}")
    return (
        *_check_xy("train", data["X_train"], data["y_train"]),
        *_check_xy("val", data["X_val"], data["y_val"]),
    )


def _check_update_rule(update_rule, optim_config) -> tuple[Callable, dict]:
    """The update function and ``optim_config`` with the rule's default learning rate."""
    if optim_config is None:
        optim_config = {}
    if not isinstance(optim_config, dict):
        raise ValueError(f"optim_config must be a dict or None, got {type(optim_config).__name__}")
    config = dict(optim_config)
    if callable(update_rule):
        return update_rule, config
    if not isinstance(update_rule, str) or update_rule not in optim.OPTIMIZERS:
        raise ValueError(
            f"update_rule must be one of {sorted(optim.OPTIMIZERS)} or a function, "
            f"got {update_rule!r}"
        )
    config.setdefault("learning_rate", optim.DEFAULTS[update_rule]["learning_rate"])
    return optim.OPTIMIZERS[update_rule], config


def _check_schedule(lr_schedule, lr_decay, optim_config: dict):
    """The schedule function (or None); ``lr_decay`` becomes an exponential schedule."""
    lr_decay = check_number("lr_decay", lr_decay, positive=True)
    if lr_decay == 1.0:
        return check_callable("lr_schedule", lr_schedule)
    if lr_schedule is not None:
        raise ValueError(
            "give either lr_schedule or lr_decay (a per-epoch exponential schedule), not both"
        )
    if "learning_rate" not in optim_config:
        raise ValueError("lr_decay needs optim_config['learning_rate'] with a custom update_rule")
    return make_schedule("exponential", float(optim_config["learning_rate"]), decay=lr_decay)


def _check_batch_size(batch_size) -> int | None:
    if batch_size is None or batch_size == "full":
        return None
    if (
        isinstance(batch_size, (bool, np.bool_))
        or not isinstance(batch_size, (int, np.integer))
        or batch_size < 1
    ):
        raise ValueError(f"batch_size must be an int >= 1, 'full' or None, got {batch_size!r}")
    return int(batch_size)


def _optional_int(name: str, value) -> int | None:
    return None if value is None else check_int(name, value)


class Solver:
    """Trains ``model`` on ``data`` with minibatch gradient descent (see module docstring).

    ``data``: dict with ``X_train``, ``y_train``, ``X_val``, ``y_val`` (X of shape
    ``(N, ...)``, y integer labels ``(N,)``).  ``update_rule``: a name in
    :data:`nplab.optim.OPTIMIZERS` or a function ``update(w, dw, config)``.
    ``optim_config``: hyperparameters, copied for every parameter (each gets its own
    state).  ``lr_schedule``, ``lr_schedule_unit``, ``lr_decay``: see the module
    docstring.  ``reduction`` is passed to ``model.loss`` ("sum": gradients summed over
    the batch).  ``num_train_samples``: size of the fixed random subsample of the
    training set used for the per-epoch train accuracy (None = all); ``num_val_samples``
    likewise for validation (None = all).  ``callback(info)`` is called after every epoch
    with ``dict(epoch, iteration, loss, train_acc, val_acc, lr, elapsed)`` (``loss`` =
    mean loss of that epoch's iterations).  ``verbose`` prints one line per epoch through
    ``progress`` (default :func:`print`).
    """

    def __init__(
        self,
        model,
        data: dict,
        *,
        update_rule="sgd",
        optim_config: dict | None = None,
        lr_schedule: Callable[[int], float] | None = None,
        lr_schedule_unit: str = "epoch",
        lr_decay: float = 1.0,
        batch_size=100,
        sampling: str = "without_replacement",
        num_epochs: int = 10,
        num_iterations: int | None = None,
        reduction: str = "mean",
        seed: int = 0,
        num_train_samples: int | None = 1000,
        num_val_samples: int | None = None,
        eval_batch_size: int = 1000,
        keep_best: bool = True,
        callback: Callable[[dict], None] | None = None,
        verbose: bool = False,
        progress: Callable[[str], None] | None = None,
    ):
        self.model = _check_model(model)
        self.X_train, self.y_train, self.X_val, self.y_val = _check_data(data)
        self.update_rule, self.optim_config = _check_update_rule(update_rule, optim_config)
        self.optim_configs = {k: dict(self.optim_config) for k in model.params}
        self.schedule = _check_schedule(lr_schedule, lr_decay, self.optim_config)
        self.lr_unit = check_choice("lr_schedule_unit", lr_schedule_unit, ("epoch", "iteration"))
        self.batch_size = _check_batch_size(batch_size)
        self.sampling = check_choice(
            "sampling", sampling, ("without_replacement", "with_replacement")
        )
        self.iterations_per_epoch = self._iterations_per_epoch()
        self.num_epochs = check_int("num_epochs", num_epochs)
        self.num_iterations = _optional_int("num_iterations", num_iterations)
        self.reduction = check_choice("reduction", reduction, ("mean", "sum"))
        self.seed = check_int("seed", seed, 0)
        self.num_train_samples = _optional_int("num_train_samples", num_train_samples)
        self.num_val_samples = _optional_int("num_val_samples", num_val_samples)
        self.eval_batch_size = check_int("eval_batch_size", eval_batch_size)
        self.keep_best = bool(keep_best)
        self.callback = check_callable("callback", callback)
        self.verbose = bool(verbose)
        self.progress = print if progress is None else check_callable("progress", progress)

        batch_ss, model_ss, eval_ss = np.random.SeedSequence(self.seed).spawn(3)
        self._batch_rng = np.random.default_rng(batch_ss)
        self._eval_rng = np.random.default_rng(eval_ss)
        if hasattr(model, "rng"):
            model.rng = np.random.default_rng(model_ss)
        self._reset()

    # ------------------------------------------------------------------ helpers
    def _iterations_per_epoch(self) -> int:
        n = self.X_train.shape[0]
        if self.batch_size is None:
            return 1
        if self.sampling == "without_replacement":
            return -(-n // self.batch_size)
        return max(n // self.batch_size, 1)

    def _total_iterations(self) -> int:
        if self.num_iterations is not None:
            return self.num_iterations
        return self.num_epochs * self.iterations_per_epoch

    def _reset(self) -> None:
        self.epoch = 0
        self.iteration = 0
        self.best_val_acc = -1.0
        self.best_epoch = None
        self.best_params = None
        self.loss_history: list[float] = []
        self.train_acc_history: list[float] = []
        self.val_acc_history: list[float] = []
        self.lr_history: list[float] = []
        self.epoch_times: list[float] = []
        self.diverged = False
        self.diverged_at = None

    def _snapshot(self) -> dict:
        m = self.model
        snap = {"params": {k: v.copy() for k, v in m.params.items()}}
        bn = getattr(m, "bn_params", None)
        if isinstance(bn, list):
            snap["bn_params"] = [
                {k: v.copy() for k, v in d.items() if isinstance(v, np.ndarray)} for d in bn
            ]
        return snap

    def _restore(self, snap: dict) -> None:
        m = self.model
        for k, v in snap["params"].items():
            m.params[k] = v.copy()
        if "bn_params" in snap:
            for d, saved in zip(m.bn_params, snap["bn_params"]):
                for k, v in saved.items():
                    d[k] = v.copy()

    def _model_finite(self) -> bool:
        if not all(_all_finite(v) for v in self.model.params.values()):
            return False
        for d in getattr(self.model, "bn_params", None) or []:
            if isinstance(d, dict) and not all(
                _all_finite(v) for v in d.values() if isinstance(v, np.ndarray)
            ):
                return False
        return True

    def _schedule_lr(self, it: int) -> None:
        """Set every parameter's learning rate for iteration ``it`` from the schedule."""
        if self.schedule is None:
            return
        if self.lr_unit == "iteration":
            lr = self.schedule(it)
        elif it % self.iterations_per_epoch == 0:
            lr = self.schedule(it // self.iterations_per_epoch)
        else:
            return
        for c in self.optim_configs.values():
            c["learning_rate"] = lr

    def _current_lr(self) -> float:
        c = next(iter(self.optim_configs.values()), {})
        lr = c.get("learning_rate")
        return float("nan") if lr is None else float(lr)

    def _batches(self):
        """Yield index arrays (or None = the whole set) forever, epoch after epoch."""
        n = self.X_train.shape[0]
        rng = self._batch_rng
        B = self.batch_size
        while True:
            if B is None:
                yield None
            elif self.sampling == "with_replacement":
                for _ in range(self.iterations_per_epoch):
                    yield rng.integers(0, n, size=B)
            else:
                perm = rng.permutation(n)
                for i in range(0, n, B):
                    yield perm[i : i + B]

    def _eval_sets(self) -> tuple:
        """(X_train, y_train, X_val, y_val) subsampled once per train() for the accuracies."""
        out = []
        for X, y, k in (
            (self.X_train, self.y_train, self.num_train_samples),
            (self.X_val, self.y_val, self.num_val_samples),
        ):
            if k is not None and k < X.shape[0]:
                idx = np.sort(self._eval_rng.choice(X.shape[0], k, replace=False))
                X, y = X[idx], y[idx]
            out += [X, y]
        return tuple(out)

    def _step(self, idx) -> bool:
        """One update on the rows ``idx`` (None: all); False if the loss is not finite."""
        X, y = self.X_train, self.y_train
        if idx is not None:
            X, y = X[idx], y[idx]
        loss, grads = self.model.loss(X, y, reduction=self.reduction)
        loss = float(loss)
        self.loss_history.append(loss)
        self.iteration += 1
        if not math.isfinite(loss):  # non-finite grads surface as a non-finite loss or params
            return False
        params, configs = self.model.params, self.optim_configs
        for k, w in params.items():
            params[k], configs[k] = self.update_rule(w, grads[k], configs[k])
        return True

    # ------------------------------------------------------------------ public
    def check_accuracy(
        self,
        X,
        y,
        num_samples: int | None = None,
        batch_size: int | None = None,
        rng: np.random.Generator | None = None,
    ) -> float:
        """Fraction of ``X`` the model classifies as ``y`` (test mode), in batches.

        ``num_samples``: evaluate on a random subsample of that many rows (drawn with
        ``rng``, default ``np.random.default_rng(0)``); None = all rows.
        """
        X = np.asarray(X)
        y = np.asarray(y)
        n = X.shape[0]
        if y.shape != (n,):
            raise ValueError(f"y must have shape ({n},), got {y.shape}")
        if n == 0:
            raise ValueError("X must have at least one row")
        num_samples = _optional_int("num_samples", num_samples)
        if num_samples is not None and num_samples < n:
            rng = np.random.default_rng(0) if rng is None else rng
            idx = rng.choice(n, num_samples, replace=False)
            X, y, n = X[idx], y[idx], num_samples
        batch_size = self.eval_batch_size if batch_size is None else batch_size
        batch_size = check_int("batch_size", batch_size)
        correct = 0
        for i in range(0, n, batch_size):
            scores = self.model.loss(X[i : i + batch_size])
            correct += int(np.count_nonzero(np.argmax(scores, axis=1) == y[i : i + batch_size]))
        return correct / n

    def train(self) -> TrainHistory:
        """Run the optimisation; returns a :class:`TrainHistory` (also kept as attributes)."""
        self._reset()
        evals = self._eval_sets()
        fallback = self._snapshot()  # last finite state (initial, then after each epoch)
        batches = self._batches()
        ipe, total = self.iterations_per_epoch, self._total_iterations()
        t0 = time.perf_counter()
        # a diverging run overflows on purpose: it is detected and reported, not warned about
        with np.errstate(over="ignore", invalid="ignore"):
            for it in range(total):
                self._schedule_lr(it)
                if it % ipe == 0:
                    epoch_lr, epoch_start = self._current_lr(), it
                if not self._step(next(batches)):
                    self.diverged, self.diverged_at = True, it
                    break
                if (it + 1) % ipe == 0 or it + 1 == total:
                    if not self._model_finite():
                        self.diverged, self.diverged_at = True, it
                        break
                    self._end_epoch(it // ipe + 1, epoch_start, epoch_lr, evals, t0)
                    if not self.keep_best:
                        fallback = self._snapshot()
        self._restore_end(fallback)
        return self._make_history(time.perf_counter() - t0)

    def _end_epoch(self, epoch: int, epoch_start: int, lr: float, evals: tuple, t0: float):
        """Record an epoch's accuracies (and the best parameters); report it."""
        self.epoch = epoch
        Xt, yt, Xv, yv = evals
        train_acc = self.check_accuracy(Xt, yt)
        val_acc = self.check_accuracy(Xv, yv)
        elapsed = time.perf_counter() - t0
        self.train_acc_history.append(train_acc)
        self.val_acc_history.append(val_acc)
        self.lr_history.append(lr)
        self.epoch_times.append(elapsed)
        if val_acc > self.best_val_acc:
            self.best_val_acc = val_acc
            self.best_epoch = epoch
            if self.keep_best:
                self.best_params = self._snapshot()
        epoch_losses = self.loss_history[epoch_start:]
        info = {
            "epoch": epoch,
            "iteration": self.iteration,
            "loss": float(np.mean(epoch_losses)) if epoch_losses else float("nan"),
            "train_acc": train_acc,
            "val_acc": val_acc,
            "lr": lr,
            "elapsed": elapsed,
        }
        if self.verbose:
            self.progress(
                f"(Epoch {epoch} / {-(-self._total_iterations() // self.iterations_per_epoch)}) "
                f"iteration {self.iteration}: loss {info['loss']:.4f}, train acc "
                f"{train_acc:.3f}, val acc {val_acc:.3f}, lr {lr:.3g}, {elapsed:.1f} s"
            )
        if self.callback is not None:
            self.callback(info)

    def _restore_end(self, fallback: dict) -> None:
        """Give the model the best (``keep_best``) or, after divergence, the last finite state."""
        best = self.best_params if self.keep_best else None
        if best is not None:
            self._restore(best)
        elif self.diverged:
            self._restore(fallback)
        if self.diverged and self.verbose:
            self.progress(
                f"diverged at iteration {self.diverged_at} (non-finite loss, gradient or "
                f"parameters); restored the {'best' if best is not None else 'last finite'} "
                "parameters"
            )

    def _make_history(self, wall: float) -> TrainHistory:
        f64 = lambda v: np.asarray(v, dtype=np.float64)  # noqa: E731
        self.history = TrainHistory(
            loss_history=f64(self.loss_history),
            train_acc_history=f64(self.train_acc_history),
            val_acc_history=f64(self.val_acc_history),
            lr_history=f64(self.lr_history),
            epoch_times=f64(self.epoch_times),
            best_val_acc=float(self.best_val_acc) if self.best_epoch is not None else float("nan"),
            best_epoch=self.best_epoch,
            diverged=self.diverged,
            diverged_at=self.diverged_at,
            iterations=self.iteration,
            wall_time=wall,
            epochs=len(self.val_acc_history),
            iterations_per_epoch=self.iterations_per_epoch,
        )
        return self.history
