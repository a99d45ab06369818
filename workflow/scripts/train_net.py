"""Train one fully-connected net run (spec from the experiment tables) with the Solver.

Writes the run's metrics (JSON), history (.npz: loss per iteration, accuracies per epoch,
learning rates, elapsed times, test accuracy at chosen epochs, activation statistics) and
its final parameters (.npz).
"""

import time

import numpy as np

from nplab.diagnostics import activation_stats
from nplab_io.atomic import save_npz_atomic, write_json_atomic
from nplab_io.jobs import run_job
from nplab_io.models import build_net, build_solver, net_state
from nplab_io.runs import flatten_for_table


def load_split(path, spec):
    with np.load(path) as z:
        data = {k: z[k] for k in ("X_train", "y_train", "X_val", "y_val", "X_test", "y_test")}
        image_shape = tuple(int(s) for s in z["image_shape"]) if "image_shape" in z.files else None
    for split, key in (("train", "num_train"), ("val", "num_val")):
        n = spec.get(key)
        if n is not None:
            if n > len(data[f"y_{split}"]):
                raise ValueError(
                    f"{path}: {key}={n} but the {split} split has only "
                    f"{len(data[f'y_{split}'])} examples"
                )
            data[f"X_{split}"] = data[f"X_{split}"][:n]
            data[f"y_{split}"] = data[f"y_{split}"][:n]
    for k in list(data):
        if k.startswith("X_"):
            data[k] = np.ascontiguousarray(data[k], dtype=np.float32)
    return data, image_shape


def accuracy(model, X, y):
    return float(np.mean(model.predict(X, batch_size=2000) == y))


def main(sm, log):
    spec = dict(sm.params.spec)
    run = sm.wildcards.run
    data, image_shape = load_split(sm.input.data, spec)
    input_dim = int(np.prod(data["X_train"].shape[1:]))
    num_classes = int(max(data["y_train"].max(), data["y_val"].max(), data["y_test"].max())) + 1
    model = build_net(spec, input_dim, num_classes)
    stats_init = (
        activation_stats(model, data["X_val"])
        if spec["record_stats"] and spec["normalization"] == "none"
        else {}
    )

    test_at = {}
    test_epochs = set(spec["test_epochs"])

    def callback(info):
        if info["epoch"] in test_epochs:
            test_at[info["epoch"]] = (
                accuracy(model, data["X_test"], data["y_test"]),
                accuracy(model, data["X_train"], data["y_train"]),
                info["elapsed"],
            )
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

    solver = build_solver(spec, model, data, image_shape=image_shape, callback=callback)
    t0 = time.perf_counter()
    hist = solver.train()
    train_secs = time.perf_counter() - t0

    losses = hist.loss_history
    ipe = max(hist.iterations_per_epoch, 1)
    last = losses[-ipe:] if len(losses) else losses
    finite_last = last[np.isfinite(last)]
    metrics = {
        "run": run,
        "kind": "net",
        **flatten_for_table(spec),
        "train_acc": accuracy(model, data["X_train"], data["y_train"]),
        "val_acc": accuracy(model, data["X_val"], data["y_val"]),
        "test_acc": accuracy(model, data["X_test"], data["y_test"]) if spec["test"] else None,
        "best_epoch": hist.best_epoch,
        "initial_loss": float(losses[0]) if len(losses) and np.isfinite(losses[0]) else None,
        "final_loss": float(finite_last.mean()) if len(finite_last) else None,
        "epochs_run": int(hist.epochs),
        "iterations_run": int(hist.iterations),
        "iterations_per_epoch": int(ipe),
        "diverged": bool(hist.diverged),
        "diverged_at": hist.diverged_at,
        "num_train_used": int(len(data["y_train"])),
        "num_params": int(sum(p.size for p in model.params.values())),
    }
    # timings are not reproducible: they go to their own file, never into the metrics
    timing = {
        "run": run,
        "wall_time_s": round(float(hist.wall_time), 3),
        "train_time_s": round(train_secs, 3),
        "epoch_elapsed_s": [round(float(t), 4) for t in hist.epoch_times],
    }
    for e, (te, tr, el) in sorted(test_at.items()):
        metrics[f"test_acc_epoch{e}"] = te
        metrics[f"train_acc_epoch{e}"] = tr
        timing[f"elapsed_epoch{e}_s"] = round(float(el), 3)
    log.info(
        "done: %s, %.1f s",
        {k: metrics[k] for k in ("train_acc", "val_acc", "test_acc", "diverged")},
        hist.wall_time,
    )

    hist_arrays = {
        "loss": losses,
        "train_acc": hist.train_acc_history,
        "val_acc": hist.val_acc_history,
        "lr": hist.lr_history,
        "iterations_per_epoch": np.int64(ipe),
        "test_epochs": np.array(sorted(test_at), dtype=np.int64),
        "test_acc_at": np.array([test_at[e][0] for e in sorted(test_at)], dtype=np.float64),
    }
    if spec["record_stats"]:
        for k, v in stats_init.items():
            hist_arrays[f"init_{k}"] = v
        for k, v in activation_stats(model, data["X_val"]).items():
            hist_arrays[f"final_{k}"] = v
    save_npz_atomic(sm.output.params, compressed=False, **net_state(model))
    save_npz_atomic(sm.output.history, compressed=True, **hist_arrays)
    write_json_atomic(sm.output.timing, timing)
    write_json_atomic(sm.output.metrics, metrics)


run_job(snakemake, main)
