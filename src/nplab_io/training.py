"""What a training job of the ``net`` and ``cnn`` kinds writes: its progress log, its
metrics (reproducible numbers only), its timing (never in the metrics) and its history
and parameter arrays (``workflow/scripts/train_net.py``, ``train_cnn.py``)."""

from __future__ import annotations

import numpy as np

from nplab_io.atomic import save_npz_atomic, write_json_atomic
from nplab_io.runs import flatten_for_table

__all__ = ["accuracy", "log_epoch", "run_metrics", "run_timing", "history_arrays", "write_run"]


def accuracy(model, X, y, batch_size: int = 1000) -> float:
    return float(np.mean(model.predict(X, batch_size=batch_size) == y))


def log_epoch(log, info: dict) -> None:
    """One line per epoch (the Solver's callback ``info``)."""
    log.info(
        "epoch %d it %d loss %.5g train %.4f val %.4f lr %.3g %.1fs",
        info["epoch"],
        info["iteration"],
        info["loss"],
        info["train_acc"],
        info["val_acc"],
        info["lr"],
        info["elapsed"],
    )


def run_metrics(
    run: str, kind: str, spec: dict, hist, model, data: dict, train_acc: float, batch_size: int
) -> dict:
    """The metrics every trained run reports, in this order: the run, its spec as table
    columns, its accuracies (``model`` predicts; test only where the spec asks), and what
    its history says (losses, length, divergence)."""
    losses = hist.loss_history
    ipe = max(hist.iterations_per_epoch, 1)
    last = losses[-ipe:]
    finite_last = last[np.isfinite(last)]
    return {
        "run": run,
        "kind": kind,
        **flatten_for_table(spec),
        "train_acc": train_acc,
        "val_acc": accuracy(model, data["X_val"], data["y_val"], batch_size),
        "test_acc": (
            accuracy(model, data["X_test"], data["y_test"], batch_size) if spec["test"] else None
        ),
        "best_epoch": hist.best_epoch,
        "initial_loss": float(losses[0]) if len(losses) and np.isfinite(losses[0]) else None,
        "final_loss": float(finite_last.mean()) if len(finite_last) else None,
        "epochs_run": int(hist.epochs),
        "iterations_run": int(hist.iterations),
        "iterations_per_epoch": int(ipe),
        "diverged": bool(hist.diverged),
        "diverged_at": hist.diverged_at,
        "num_train_used": int(len(data["y_train"])),
    }


def run_timing(run: str, hist, train_secs: float) -> dict:
    """Timings are not reproducible: they go to their own file, never into the metrics."""
    return {
        "run": run,
        "wall_time_s": round(float(hist.wall_time), 3),
        "train_time_s": round(train_secs, 3),
        "epoch_elapsed_s": [round(float(t), 4) for t in hist.epoch_times],
    }


def history_arrays(hist, iterations_per_epoch: int) -> dict:
    """Loss per iteration, accuracies and learning rate per epoch."""
    return {
        "loss": hist.loss_history,
        "train_acc": hist.train_acc_history,
        "val_acc": hist.val_acc_history,
        "lr": hist.lr_history,
        "iterations_per_epoch": np.int64(iterations_per_epoch),
    }


def write_run(output, log, *, state: dict, history: dict, timing: dict, metrics: dict) -> None:
    """A run's four files: ``output.params`` (.npz), ``history`` (.npz), ``timing`` and
    ``metrics`` (JSON)."""
    log.info(
        "done: %s, %.1f s",
        {k: metrics[k] for k in ("train_acc", "val_acc", "test_acc", "diverged")},
        timing["wall_time_s"],
    )
    save_npz_atomic(output.params, compressed=False, **state)
    save_npz_atomic(output.history, compressed=True, **history)
    write_json_atomic(output.timing, timing)
    write_json_atomic(output.metrics, metrics)
