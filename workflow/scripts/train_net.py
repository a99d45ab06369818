"""Train one fully-connected net run (spec from the experiment tables) with the Solver.

Writes the run's metrics (JSON), history (.npz: loss per iteration, accuracies per epoch,
learning rates, elapsed times, test accuracy at chosen epochs, activation statistics) and
its final parameters (.npz).
"""

import time

import numpy as np

from nplab.diagnostics import activation_stats
from nplab_io import training
from nplab_io.jobs import run_job
from nplab_io.models import build_net, build_solver, net_state


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


def accuracy_2000(model, X, y):
    return training.accuracy(model, X, y, batch_size=2000)


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
                accuracy_2000(model, data["X_test"], data["y_test"]),
                accuracy_2000(model, data["X_train"], data["y_train"]),
                info["elapsed"],
            )
        training.log_epoch(log, info)

    solver = build_solver(spec, model, data, image_shape=image_shape, callback=callback)
    t0 = time.perf_counter()
    hist = solver.train()
    train_secs = time.perf_counter() - t0

    train_acc = accuracy_2000(model, data["X_train"], data["y_train"])
    metrics = training.run_metrics(run, "net", spec, hist, model, data, train_acc, batch_size=2000)
    metrics["num_params"] = int(sum(p.size for p in model.params.values()))
    timing = training.run_timing(run, hist, train_secs)
    for e, (te, tr, el) in sorted(test_at.items()):
        metrics[f"test_acc_epoch{e}"] = te
        metrics[f"train_acc_epoch{e}"] = tr
        timing[f"elapsed_epoch{e}_s"] = round(float(el), 3)
    hist_arrays = training.history_arrays(hist, metrics["iterations_per_epoch"]) | {
        "test_epochs": np.array(sorted(test_at), dtype=np.int64),
        "test_acc_at": np.array([test_at[e][0] for e in sorted(test_at)], dtype=np.float64),
    }
    if spec["record_stats"]:
        for k, v in stats_init.items():
            hist_arrays[f"init_{k}"] = v
        for k, v in activation_stats(model, data["X_val"]).items():
            hist_arrays[f"final_{k}"] = v
    training.write_run(
        sm.output, log, state=net_state(model), history=hist_arrays, timing=timing, metrics=metrics
    )


run_job(snakemake, main)
