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

Learning-rate schedules.  ``lr_schedule=dict(name=..., unit="epoch" | "iteration",
**params)`` uses :func:`nplab.schedules.make_schedule`; ``lr0`` defaults to
``optim_config["learning_rate"]`` (or the rule's default).  ``t`` is the 0-based epoch
index (unit "epoch", the default) or the 0-based global iteration index (unit
"iteration").  ``lr_decay`` is the CS231n shortcut for
``dict(name="exponential", decay=lr_decay, unit="epoch")``; give one or the other.

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
def _check_int(name: str, value, minimum: int) -> int:
    if (
        isinstance(value, (bool, np.bool_))
        or not isinstance(value, (int, np.integer))
        or value < minimum
    ):
        raise ValueError(f"{name} must be an int >= {minimum}, got {value!r}")
    return int(value)


def _all_finite(a: np.ndarray) -> bool:
    """True if every entry of ``a`` is finite (a cheap sum first, the exact test if needed)."""
    with np.errstate(over="ignore", invalid="ignore"):
        if math.isfinite(float(np.sum(a))):
            return True
    return bool(np.isfinite(a).all())


class Solver:
    """Trains ``model`` on ``data`` with minibatch gradient descent (see module docstring).

    ``data``: dict with ``X_train``, ``y_train``, ``X_val``, ``y_val`` (X of shape
    ``(N, ...)``, y integer labels ``(N,)``).  ``update_rule``: a name in
    :data:`nplab.optim.OPTIMIZERS` or a function ``update(w, dw, config)``.
    ``optim_config``: hyperparameters, copied for every parameter (each gets its own
    state).  ``reduction`` is passed to ``model.loss`` ("sum": gradients summed over the
    batch).  ``num_train_samples``: size of the fixed random subsample of the training
    set used for the per-epoch train accuracy (None = all); ``num_val_samples`` likewise
    for validation (None = all).  ``callback(info)`` is called after every epoch with
    ``dict(epoch, iteration, loss, train_acc, val_acc, lr, elapsed)`` (``loss`` = mean
    loss of that epoch's iterations).  ``verbose`` prints one line per epoch through
    ``progress`` (default :func:`print`).
    """

    def __init__(
        self,
        model,
        data: dict,
        *,
        update_rule="sgd",
        optim_config: dict | None = None,
        lr_schedule: dict | None = None,
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
        if not isinstance(getattr(model, "params", None), dict) or not callable(
            getattr(model, "loss", None)
        ):
            raise ValueError(
                "model must have a params dict and a loss(X, y=None, reduction=...) method"
            )
        self.model = model
        if not isinstance(data, dict):
            raise ValueError(
                f"data must be a dict with X_train, y_train, X_val, y_val, got {type(data).__name__}"
            )
        missing = [k for k in ("X_train", "y_train", "X_val", "y_val") if k not in data]
        if missing:
            raise ValueError(f"data is missing key(s) {missing}")
        self.X_train, self.y_train = self._check_xy("train", data["X_train"], data["y_train"])
        self.X_val, self.y_val = self._check_xy("val", data["X_val"], data["y_val"])
        n = self.X_train.shape[0]

        # update rule and its per-parameter configs
        if isinstance(update_rule, str):
            if update_rule not in optim.OPTIMIZERS:
                raise ValueError(
                    f"update_rule must be one of {sorted(optim.OPTIMIZERS)} or a "
                    f"function, got {update_rule!r}"
                )
            self.update_rule = optim.OPTIMIZERS[update_rule]
            default_lr = optim.DEFAULTS[update_rule].get("learning_rate")
        elif callable(update_rule):
            self.update_rule = update_rule
            default_lr = None
        else:
            raise ValueError(f"update_rule must be a name or a function, got {update_rule!r}")
        if optim_config is None:
            optim_config = {}
        if not isinstance(optim_config, dict):
            raise ValueError(
                f"optim_config must be a dict or None, got {type(optim_config).__name__}"
            )
        self.optim_config = dict(optim_config)
        if default_lr is not None:
            self.optim_config.setdefault("learning_rate", default_lr)
        self.optim_configs = {k: dict(self.optim_config) for k in model.params}

        # learning-rate schedule
        if (
            isinstance(lr_decay, bool)
            or not isinstance(lr_decay, (int, float, np.integer, np.floating))
            or not (lr_decay > 0 and math.isfinite(lr_decay))
        ):
            raise ValueError(f"lr_decay must be a finite number > 0, got {lr_decay!r}")
        if lr_schedule is not None and lr_decay != 1.0:
            raise ValueError(
                "give either lr_schedule or lr_decay (a per-epoch exponential schedule), not both"
            )
        if lr_schedule is None and lr_decay != 1.0:
            lr_schedule = {"name": "exponential", "decay": float(lr_decay), "unit": "epoch"}
        self.lr_unit = "epoch"
        self.schedule = None
        if lr_schedule is not None:
            if not isinstance(lr_schedule, dict) or "name" not in lr_schedule:
                raise ValueError(
                    f"lr_schedule must be None or a dict with a 'name', got {lr_schedule!r}"
                )
            sp = dict(lr_schedule)
            name = sp.pop("name")
            self.lr_unit = sp.pop("unit", "epoch")
            if self.lr_unit not in ("epoch", "iteration"):
                raise ValueError(
                    f"lr_schedule['unit'] must be 'epoch' or 'iteration', got {self.lr_unit!r}"
                )
            lr0 = sp.pop("lr0", self.optim_config.get("learning_rate", default_lr))
            if lr0 is None:
                raise ValueError(
                    "lr_schedule needs lr0 (or optim_config['learning_rate']) "
                    "with a custom update_rule"
                )
            self.schedule = make_schedule(name, float(lr0), **sp)

        # batches
        if batch_size is None or batch_size == "full":
            self.batch_size = None
        elif (
            isinstance(batch_size, (bool, np.bool_))
            or not isinstance(batch_size, (int, np.integer))
            or batch_size < 1
        ):
            raise ValueError(f"batch_size must be an int >= 1, 'full' or None, got {batch_size!r}")
        else:
            self.batch_size = int(batch_size)
        if sampling not in ("without_replacement", "with_replacement"):
            raise ValueError(
                f"sampling must be 'without_replacement' or 'with_replacement', got {sampling!r}"
            )
        self.sampling = sampling
        if self.batch_size is None:
            self.iterations_per_epoch = 1
        elif sampling == "without_replacement":
            self.iterations_per_epoch = -(-n // self.batch_size)
        else:
            self.iterations_per_epoch = max(n // self.batch_size, 1)
        self.num_epochs = _check_int("num_epochs", num_epochs, 1)
        self.num_iterations = (
            None if num_iterations is None else _check_int("num_iterations", num_iterations, 1)
        )
        if reduction not in ("mean", "sum"):
            raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
        self.reduction = reduction
        self.seed = _check_int("seed", seed, 0)
        self.num_train_samples = (
            None
            if num_train_samples is None
            else _check_int("num_train_samples", num_train_samples, 1)
        )
        self.num_val_samples = (
            None if num_val_samples is None else _check_int("num_val_samples", num_val_samples, 1)
        )
        self.eval_batch_size = _check_int("eval_batch_size", eval_batch_size, 1)
        self.keep_best = bool(keep_best)
        if callback is not None and not callable(callback):
            raise ValueError(f"callback must be callable or None, got {callback!r}")
        self.callback = callback
        self.verbose = bool(verbose)
        if progress is not None and not callable(progress):
            raise ValueError(f"progress must be callable or None, got {progress!r}")
        self.progress = progress if progress is not None else print

        batch_ss, model_ss, eval_ss = np.random.SeedSequence(self.seed).spawn(3)
        self._batch_rng = np.random.default_rng(batch_ss)
        self._eval_rng = np.random.default_rng(eval_ss)
        if hasattr(model, "rng"):
            model.rng = np.random.default_rng(model_ss)
        self._reset()

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _check_xy(split: str, X, y):
        X = np.asarray(X)
        y = np.asarray(y)
        if X.ndim < 2 or X.shape[0] == 0:
            raise ValueError(f"X_{split} must have shape (N, ...) with N >= 1, got {X.shape}")
        if y.shape != (X.shape[0],) or not np.issubdtype(y.dtype, np.integer):
            raise ValueError(
                f"y_{split} must be integer labels of shape ({X.shape[0]},), "
                f"got {y.dtype} {y.shape}"
            )
        return X, y

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

    def _set_lr(self, lr: float) -> None:
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
        if num_samples is not None:
            num_samples = _check_int("num_samples", num_samples, 1)
            if num_samples < n:
                rng = np.random.default_rng(0) if rng is None else rng
                idx = rng.choice(n, num_samples, replace=False)
                X, y, n = X[idx], y[idx], num_samples
        batch_size = (
            self.eval_batch_size if batch_size is None else _check_int("batch_size", batch_size, 1)
        )
        correct = 0
        for i in range(0, n, batch_size):
            scores = self.model.loss(X[i : i + batch_size])
            correct += int(np.count_nonzero(np.argmax(scores, axis=1) == y[i : i + batch_size]))
        return correct / n

    def train(self) -> TrainHistory:
        """Run the optimisation; returns a :class:`TrainHistory` (also kept as attributes)."""
        self._reset()
        model = self.model
        X, y = self.X_train, self.y_train
        n = X.shape[0]
        ipe = self.iterations_per_epoch
        total = self.num_iterations if self.num_iterations is not None else self.num_epochs * ipe

        # fixed accuracy subsamples (drawn once)
        er = self._eval_rng
        tr_idx = None
        if self.num_train_samples is not None and self.num_train_samples < n:
            tr_idx = np.sort(er.choice(n, self.num_train_samples, replace=False))
        nv = self.X_val.shape[0]
        va_idx = None
        if self.num_val_samples is not None and self.num_val_samples < nv:
            va_idx = np.sort(er.choice(nv, self.num_val_samples, replace=False))
        X_tr_eval = X if tr_idx is None else X[tr_idx]
        y_tr_eval = y if tr_idx is None else y[tr_idx]
        X_va_eval = self.X_val if va_idx is None else self.X_val[va_idx]
        y_va_eval = self.y_val if va_idx is None else self.y_val[va_idx]

        fallback = self._snapshot()  # last finite state (initial, then after each epoch)
        batches = self._batches()
        update = self.update_rule
        configs = self.optim_configs
        params = model.params
        reduction = self.reduction
        losses = self.loss_history
        t0 = time.perf_counter()
        epoch_loss_start = 0
        epoch_lr = float("nan")

        # a diverging run overflows on purpose: it is detected and reported, not warned about
        with np.errstate(over="ignore", invalid="ignore"):
            for it in range(total):
                e = it // ipe
                first_of_epoch = it % ipe == 0
                if self.schedule is not None:
                    if self.lr_unit == "iteration":
                        self._set_lr(self.schedule(it))
                    elif first_of_epoch:
                        self._set_lr(self.schedule(e))
                if first_of_epoch:
                    epoch_lr = self._current_lr()
                    epoch_loss_start = it
                idx = next(batches)
                if idx is None:
                    xb, yb = X, y
                else:
                    xb, yb = X[idx], y[idx]
                loss, grads = model.loss(xb, yb, reduction=reduction)
                loss = float(loss)
                losses.append(loss)
                self.iteration = it + 1
                if not math.isfinite(
                    loss
                ):  # non-finite grads surface as a non-finite loss or params
                    self.diverged, self.diverged_at = True, it
                    break
                for k, w in params.items():
                    next_w, configs[k] = update(w, grads[k], configs[k])
                    params[k] = next_w

                if (it + 1) % ipe == 0 or it + 1 == total:
                    if not self._model_finite():
                        self.diverged, self.diverged_at = True, it
                        break
                    self._end_epoch(
                        e + 1,
                        it + 1,
                        losses[epoch_loss_start:],
                        epoch_lr,
                        X_tr_eval,
                        y_tr_eval,
                        X_va_eval,
                        y_va_eval,
                        t0,
                    )
                    if not self.keep_best:
                        fallback = self._snapshot()
        if self.diverged:
            if self.keep_best and self.best_params is not None:
                self._restore(self.best_params)
            else:
                self._restore(fallback)
            if self.verbose:
                self.progress(
                    f"diverged at iteration {self.diverged_at} (non-finite loss, "
                    f"gradient or parameters); restored "
                    f"{'the best' if self.keep_best and self.best_params is not None else 'the last finite'} parameters"
                )
        elif self.keep_best and self.best_params is not None:
            self._restore(self.best_params)
        wall = time.perf_counter() - t0

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
            iterations_per_epoch=ipe,
        )
        return self.history

    def _end_epoch(self, epoch, iteration, epoch_losses, lr, Xt, yt, Xv, yv, t0) -> None:
        self.epoch = epoch
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
        mean_loss = float(np.mean(epoch_losses)) if epoch_losses else float("nan")
        if self.verbose:
            total_epochs = (
                -(-self.num_iterations // self.iterations_per_epoch)
                if self.num_iterations is not None
                else self.num_epochs
            )
            self.progress(
                f"(Epoch {epoch} / {total_epochs}) iteration {iteration}: "
                f"loss {mean_loss:.4f}, train acc {train_acc:.3f}, "
                f"val acc {val_acc:.3f}, lr {lr:.3g}, {elapsed:.1f} s"
            )
        if self.callback is not None:
            self.callback(
                {
                    "epoch": epoch,
                    "iteration": iteration,
                    "loss": mean_loss,
                    "train_acc": train_acc,
                    "val_acc": val_acc,
                    "lr": lr,
                    "elapsed": elapsed,
                }
            )
