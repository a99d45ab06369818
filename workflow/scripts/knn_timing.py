"""knn-3: seconds to fit and to classify a fixed set of test images vs training-set size
(L2, k=1, float32; best of several repeats)."""

import time

import numpy as np

from nplab.knn import KNearestNeighbor
from nplab_io.jobs import run_job
from nplab_io.tables import write_csv_atomic


def best_of(fn, repeats):
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def main(sm, log):
    q = dict(sm.params.q)
    repeats, n_test = int(q["timing_repeats"]), int(q["timing_num_test"])
    with np.load(sm.input.npz) as z:
        X_train, y_train, X_test = z["X_train"], z["y_train"], z["X_test"]
    if n_test > len(X_test):
        raise ValueError(
            f"knn.questions.timing_num_test={n_test} exceeds the test split ({len(X_test)} images)"
        )
    sizes = sorted({min(int(s), len(y_train)) for s in q["timing_train_sizes"]})
    if len(sizes) < 2:
        raise ValueError(
            f"knn.questions.timing_train_sizes: need two distinct sizes <= "
            f"{len(y_train)}, got {q['timing_train_sizes']}"
        )
    Xall = X_train[: sizes[-1]].astype(np.float32)
    Xte = X_test[:n_test].astype(np.float32)
    rows = []
    for n in sizes:
        Xtr, ytr = Xall[:n], y_train[:n]
        knn = KNearestNeighbor(k=1, metric="l2", memory_budget_bytes=int(sm.params.budget))
        fit_s = best_of(lambda: knn.fit(Xtr, ytr), repeats)
        knn.fit(Xtr, ytr).predict(Xte)  # warm-up (caches the train norms, as a fitted model would)
        pred_s = best_of(lambda: knn.predict(Xte), repeats)
        rows.append(
            [
                n,
                n_test,
                "l2",
                1,
                f"{fit_s:.6f}",
                f"{pred_s:.6f}",
                f"{pred_s / n_test * 1e3:.6f}",
                repeats,
            ]
        )
        log.info("n_train=%6d: fit %.4f s, predict %d images %.4f s", n, fit_s, n_test, pred_s)
    header = ["n_train", "n_test", "metric", "k", "fit_seconds", "predict_seconds"]
    write_csv_atomic(sm.output.csv, rows, header=header + ["ms_per_test_image", "repeats"])


run_job(snakemake, main)
