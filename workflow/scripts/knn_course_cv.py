"""Course protocol: k-fold cross-validation over k (L2) on the training subsample."""

import numpy as np

from nplab.knn import best_k, cross_validate_k
from nplab_io.figures import pyplot, save_figure
from nplab_io.jobs import run_job
from nplab_io.tables import write_csv_atomic

plt = pyplot()


def main(sm, log):
    ks = [int(k) for k in sm.params.ks]
    folds = int(sm.params.num_folds)
    with np.load(sm.input.npz) as z:
        X, y = z["X_train"].astype(np.float32), z["y_train"]
    n_fold_train = len(y) - -(-len(y) // folds)
    if max(ks) > n_fold_train:
        raise ValueError(
            f"knn.course.cv_ks: k={max(ks)} exceeds the {n_fold_train} training images of a fold"
        )
    acc = cross_validate_k(
        X, y, ks, num_folds=folds, metric="l2", memory_budget_bytes=int(sm.params.budget)
    )
    write_csv_atomic(
        sm.output.csv,
        [[f, k, f"{acc[f, c]:.6f}"] for f in range(folds) for c, k in enumerate(ks)],
        header=["fold", "k", "accuracy"],
    )
    mean, std = acc.mean(axis=0), acc.std(axis=0)
    best = best_k(ks, mean)
    write_csv_atomic(
        sm.output.summary,
        [[k, f"{mean[c]:.6f}", f"{std[c]:.6f}", folds, k == best] for c, k in enumerate(ks)],
        header=["k", "mean_accuracy", "std_accuracy", "n_folds", "is_best"],
    )
    for c, k in enumerate(ks):
        log.info("k=%3d: %.4f +- %.4f", k, mean[c], std[c])
    log.info("best k = %d", best)

    fig, ax = plt.subplots(figsize=(6, 4))
    for c, k in enumerate(ks):
        ax.scatter([k] * folds, acc[:, c], s=12, color="0.45")
    ax.errorbar(
        ks, mean, yerr=std, color="C0", marker="o", ms=4, capsize=3, label="mean +- std over folds"
    )
    ax.axvline(best, color="C3", ls=":", lw=1, label=f"best k = {best}")
    ax.set_xlabel("k")
    ax.set_ylabel("cross-validation accuracy")
    ax.set_title(f"{folds}-fold cross-validation on k (L2, {len(y)} training images)", fontsize=9)
    ax.legend(fontsize=8)
    save_figure(fig, sm.output.fig)


run_job(snakemake, main)
