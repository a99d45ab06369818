"""Train one cnn run (spec from the experiment tables; see nplab_io.runs and
nplab_io.cnn_runs) with the Solver.

Writes the same files as a net run: metrics (JSON), history (.npz: loss per iteration,
accuracies and learning rate per epoch), parameters (.npz: weights, batch-norm statistics
and the input normalisation's TRAIN statistics) and timing (JSON, with the peak RSS).
"""

import resource
import time

import numpy as np

from nplab_io import training
from nplab_io.cnn_runs import (
    build_cnn,
    build_cnn_solver,
    cnn_macs,
    cnn_state,
    init_from_source,
    load_cnn_data,
    plain_accuracies,
    wrap_cnn,
)
from nplab_io.jobs import run_job


def train_subsample(spec, data):
    """A fixed random subsample for the final train accuracy (the whole train split
    would cost as much as an epoch's forward passes)."""
    n, k = len(data["y_train"]), spec["eval_train_samples"]
    if k >= n:
        return data["X_train"], data["y_train"]
    idx = np.sort(np.random.default_rng(spec["seed"]).choice(n, k, replace=False))
    return data["X_train"][idx], data["y_train"][idx]


def build(sm, spec, cd, log):
    model = build_cnn(spec, cd.image_shape, cd.num_classes)
    if spec["init_run"] is not None:
        with np.load(sm.input.init) as z:
            init_from_source(model, dict(z), spec["freeze"], source=sm.input.init)
        log.info("features from %s (freeze: %s)", spec["init_run"], spec["freeze"])
    return model


def metrics_of(run, spec, hist, model, net, cd):
    data = cd.data
    train_acc = training.accuracy(net, *train_subsample(spec, data))
    frozen = getattr(model, "frozen", ())
    sizes = {
        "num_val_used": int(len(data["y_val"])),
        "num_test_used": int(len(data["y_test"])),
        "num_classes": int(cd.num_classes),
        "num_params": int(sum(p.size for p in model.params.values())),
        "num_trainable": int(sum(p.size for k, p in model.params.items() if k not in frozen)),
        "macs_per_image": int(cnn_macs(spec)),
    }
    metrics = training.run_metrics(run, "cnn", spec, hist, net, data, train_acc, batch_size=1000)
    return metrics | sizes | plain_accuracies(spec, net, data)


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
    solver = build_cnn_solver(
        spec, net, cd.data, callback=lambda info: training.log_epoch(log, info)
    )
    t0 = time.perf_counter()
    hist = solver.train()
    train_secs = time.perf_counter() - t0

    metrics = metrics_of(run, spec, hist, model, net, cd)
    # timings are not reproducible: they go to their own file, never into the metrics
    timing = training.run_timing(run, hist, train_secs)
    timing["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    training.write_run(
        sm.output,
        log,
        state=cnn_state(model, cd.stats),
        history=training.history_arrays(hist, metrics["iterations_per_epoch"]),
        timing=timing,
        metrics=metrics,
    )


run_job(snakemake, main)
