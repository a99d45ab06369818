"""Train one cnn run (spec from the experiment tables; see nplab_io.runs and
nplab_io.cnn_runs) with the Solver.

Writes the same files as a net run: metrics (JSON), history (.npz: loss per iteration,
accuracies and learning rate per epoch), parameters (.npz: weights, batch-norm statistics
and the input normalisation's TRAIN statistics) and timing (JSON, with the peak RSS).
"""

import resource
import time

import numpy as np

from nplab_io.atomic import save_npz_atomic, write_json_atomic
from nplab_io.cnn_runs import (
    build_cnn,
    build_cnn_solver,
    cnn_macs,
    cnn_state,
    init_from_source,
    load_cnn_data,
    wrap_cnn,
)
from nplab_io.jobs import run_job
from nplab_io.runs import flatten_for_table


def accuracy(net, X, y):
    return float(np.mean(net.predict(X, batch_size=1000) == y))


def train_subsample(spec, data):
    """A fixed random subsample for the final train accuracy (the whole train split
    would cost as much as an epoch's forward passes)."""
    n, k = len(data["y_train"]), spec["eval_train_samples"]
    if k >= n:
        return data["X_train"], data["y_train"]
    idx = np.sort(np.random.default_rng(spec["seed"]).choice(n, k, replace=False))
    return data["X_train"][idx], data["y_train"][idx]


def log_epoch(log, info):
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


def build(sm, spec, cd, log):
    model = build_cnn(spec, cd.image_shape, cd.num_classes)
    if spec["init_run"] is not None:
        with np.load(sm.input.init) as z:
            init_from_source(model, dict(z), spec["freeze"], source=sm.input.init)
        log.info("features from %s (freeze: %s)", spec["init_run"], spec["freeze"])
    return model


def metrics_of(run, spec, hist, model, net, cd):
    data = cd.data
    losses = hist.loss_history
    ipe = max(hist.iterations_per_epoch, 1)
    last = losses[-ipe:]
    finite_last = last[np.isfinite(last)]
    return {
        "run": run,
        "kind": "cnn",
        **flatten_for_table(spec),
        "train_acc": accuracy(net, *train_subsample(spec, data)),
        "val_acc": accuracy(net, data["X_val"], data["y_val"]),
        "test_acc": accuracy(net, data["X_test"], data["y_test"]) if spec["test"] else None,
        "best_epoch": hist.best_epoch,
        "initial_loss": float(losses[0]) if len(losses) and np.isfinite(losses[0]) else None,
        "final_loss": float(finite_last.mean()) if len(finite_last) else None,
        "epochs_run": int(hist.epochs),
        "iterations_run": int(hist.iterations),
        "iterations_per_epoch": int(ipe),
        "diverged": bool(hist.diverged),
        "diverged_at": hist.diverged_at,
        "num_train_used": int(len(data["y_train"])),
        "num_val_used": int(len(data["y_val"])),
        "num_test_used": int(len(data["y_test"])),
        "num_classes": int(cd.num_classes),
        "num_params": int(sum(p.size for p in model.params.values())),
        "num_trainable": int(
            sum(p.size for k, p in model.params.items() if k not in getattr(model, "frozen", ()))
        ),
        "macs_per_image": int(cnn_macs(spec)),
    }


def main(sm, log):
    spec = dict(sm.params.spec)
    run = sm.wildcards.run
    cd = load_cnn_data(sm.input.data, spec)
    log.info(
        "%s: %s images %s, %d classes",
        run,
        {s: len(cd.data[f"y_{s}"]) for s in ("train", "val", "test")},
        cd.image_shape,
        cd.num_classes,
    )
    model = build(sm, spec, cd, log)
    net = wrap_cnn(spec, model, cd.image_shape, cd.stats)
    solver = build_cnn_solver(spec, net, cd.data, callback=lambda info: log_epoch(log, info))
    t0 = time.perf_counter()
    hist = solver.train()
    train_secs = time.perf_counter() - t0

    metrics = metrics_of(run, spec, hist, model, net, cd)
    # timings are not reproducible: they go to their own file, never into the metrics
    timing = {
        "run": run,
        "wall_time_s": round(float(hist.wall_time), 3),
        "train_time_s": round(train_secs, 3),
        "epoch_elapsed_s": [round(float(t), 4) for t in hist.epoch_times],
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    log.info(
        "done: %s, %.1f s",
        {k: metrics[k] for k in ("train_acc", "val_acc", "test_acc", "diverged")},
        hist.wall_time,
    )
    hist_arrays = {
        "loss": hist.loss_history,
        "train_acc": hist.train_acc_history,
        "val_acc": hist.val_acc_history,
        "lr": hist.lr_history,
        "iterations_per_epoch": np.int64(metrics["iterations_per_epoch"]),
    }
    save_npz_atomic(sm.output.params, compressed=False, **cnn_state(model, cd.stats))
    save_npz_atomic(sm.output.history, compressed=True, **hist_arrays)
    write_json_atomic(sm.output.timing, timing)
    write_json_atomic(sm.output.metrics, metrics)


run_job(snakemake, main)
