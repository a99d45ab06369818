"""kNN on the whole train split (one metric per job): accuracy for several k, seconds,
peak memory.  Distances are computed in float32 blocks within the memory budget."""

import json
import resource
import time

import numpy as np

from nplab.knn import KNearestNeighbor, accuracy
from nplab_io.atomic import write_json_atomic
from nplab_io.jobs import run_job
from nplab_io.tables import write_csv_atomic

# spec anchors.csv: the course notes' 1-NN on the full 50,000 / 10,000 (official data)
REFERENCE_1NN = {"l1": 0.386, "l2": 0.354}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


def main(sm, log):
    metric = sm.wildcards.metric
    p = dict(sm.params.full)
    ks = sorted(int(k) for k in p["ks"])
    threads = int(sm.threads)
    with np.load(sm.input.npz) as z:
        X_train, y_train = z["X_train"], z["y_train"]
        X_test, y_test = z["X_test"], z["y_test"]
    prov = json.loads(open(sm.input.provenance).read())
    n_train = int(p["num_train"] or len(y_train))
    n_test = int(p["num_test"])
    if n_train > len(y_train) or n_test > len(y_test):
        raise ValueError(
            f"knn.full: num_train={n_train} / num_test={n_test} exceed the train "
            f"({len(y_train)}) / test ({len(y_test)}) splits"
        )
    Xtr = X_train[:n_train].astype(np.float32)
    Xte = X_test[:n_test].astype(np.float32)
    ytr, yte = y_train[:n_train], y_test[:n_test]
    del X_train, X_test
    rss_before = peak_rss_mb()
    t0 = time.perf_counter()
    knn = KNearestNeighbor(
        metric=metric, memory_budget_bytes=int(sm.params.budget), n_jobs=threads
    ).fit(Xtr, ytr)
    preds = knn.predict_multi_k(Xte, ks)
    secs = time.perf_counter() - t0
    peak = peak_rss_mb()
    if metric == "l1":
        kernel = (
            "exact uint8 kernel (integer pixels), threads over test rows"
            if knn.integer_l1
            else "float32 |a-b| blocks, threads over test rows"
        )
    else:
        kernel = "float32 ||a||^2 + ||b||^2 - 2 a.b (BLAS matrix products)"
    log.info(
        "%s: %d test x %d train in %.1f s with %d thread(s); %s; peak RSS %.0f MB",
        metric,
        n_test,
        n_train,
        secs,
        threads,
        kernel,
        peak,
    )
    rows, info = [], {}
    for k in ks:
        acc = accuracy(yte, preds[k])
        info[f"test_accuracy_k{k}"] = acc
        rows.append(
            [metric, k, n_train, n_test, f"{acc:.6f}", f"{secs:.3f}", f"{peak:.1f}", threads]
        )
        log.info("%s k=%d: test accuracy %.4f", metric, k, acc)
    header = ["metric", "k", "n_train", "n_test", "test_acc", "seconds", "peak_rss_mb", "threads"]
    write_csv_atomic(sm.output.csv, rows, header=header)
    best = max(ks, key=lambda k: (info[f"test_accuracy_k{k}"], -k))
    info.update(
        {
            "metric": metric,
            "n_train": n_train,
            "n_test": n_test,
            "ks": ",".join(map(str, ks)),
            "seconds": secs,
            "seconds_note": "one distance pass (fit + predict) shared by every k",
            "peak_rss_mb": peak,
            "peak_rss_before_mb": rss_before,
            "threads": threads,
            "memory_budget_mb": int(sm.params.budget) / 2**20,
            "kernel": kernel,
            "dtype": "float32",
            "best_k_on_test": best,
            "reference_1nn_accuracy": REFERENCE_1NN[metric],
            "reference_protocol": "course notes: official CIFAR-10, 50,000 train / 10,000 test",
            "lossy_mirror": bool(prov.get("lossy_mirror", False)),
        }
    )
    write_json_atomic(sm.output.json, info)


run_job(snakemake, main)
