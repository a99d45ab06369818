"""Course protocol: the cross-validated best k, evaluated once on the test subsample."""

import csv

import numpy as np

from nplab.knn import KNearestNeighbor, accuracy, best_k
from nplab_io.atomic import write_json_atomic
from nplab_io.jobs import run_job

REFERENCE = 0.28  # spec anchors.csv: "knn best k L2, 5000 train / 500 test: above 28%"


def main(sm, log):
    with open(sm.input.summary, newline="") as fh:
        rows = list(csv.DictReader(fh))
    ks = [int(r["k"]) for r in rows]
    mean = [float(r["mean_accuracy"]) for r in rows]
    k = best_k(ks, mean)
    row = rows[ks.index(k)]
    with np.load(sm.input.npz) as z:
        X_train, y_train = z["X_train"].astype(np.float32), z["y_train"]
        X_test, y_test = z["X_test"].astype(np.float32), z["y_test"]
    knn = KNearestNeighbor(k=k, metric="l2", memory_budget_bytes=int(sm.params.budget))
    pred = knn.fit(X_train, y_train).predict(X_test)
    acc = accuracy(y_test, pred)
    log.info("best k = %d (cv %.4f), test accuracy %.4f", k, float(row["mean_accuracy"]), acc)
    write_json_atomic(
        sm.output.json,
        {
            "best_k": k,
            "cv_mean_accuracy": float(row["mean_accuracy"]),
            "cv_std_accuracy": float(row["std_accuracy"]),
            "n_folds": int(row["n_folds"]),
            "test_accuracy": acc,
            "test_correct": int(np.sum(pred == y_test)),
            "n_train": int(len(y_train)),
            "n_test": int(len(y_test)),
            "metric": "l2",
            "dtype": "float32",
            "tie_rule": "ties in mean CV accuracy go to the smallest k",
            "reference_accuracy": REFERENCE,
            "meets_reference": bool(acc >= REFERENCE),
        },
    )


run_job(snakemake, main)
