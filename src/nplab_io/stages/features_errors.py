"""The mistakes of the feature-based models (best two-layer net and best SVM on HOG + hue).

For each table (best.json holds the test predictions, in X_test order):
  <table>_confusion.<fmt>      confusion matrix (counts; rows = true class) with per-class
                               accuracy
  <table>_misclassified.<fmt>  gallery: one row per PREDICTED class, the first `per_class`
                               misclassified test images (test order) with their true class
results/features/misclassified.csv lists every misclassified test image of every table:
table, test_index, true/predicted label and name, rank within its predicted class, and
whether the gallery shows it. The images come from split.npz X_test (uint8, flattened in
the image_shape layout, height x width x channels).
"""

import numpy as np
import pandas as pd

from nplab.linear_analysis import per_class_accuracy
from nplab_io.atomic import read_json
from nplab_io.figures import pyplot, save_figure
from nplab_io.tables import write_csv_atomic

plt = pyplot()


def confusion_figure(conf, names, best, title):
    acc = per_class_accuracy(conf)
    fig, ax = plt.subplots(figsize=(6.6, 5.6))
    im = ax.imshow(conf, cmap="Blues")
    hi = conf.max() if conf.max() > 0 else 1
    for i in range(len(names)):
        for j in range(len(names)):
            ax.text(
                j,
                i,
                str(int(conf[i, j])),
                ha="center",
                va="center",
                fontsize=7,
                color="white" if conf[i, j] > 0.6 * hi else "black",
            )
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(
        range(len(names)), [f"{n} ({100 * a:.0f}%)" for n, a in zip(names, acc)], fontsize=8
    )
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class (per-class accuracy)")
    ax.set_title(
        f"{title}\n{best['variant']}: test accuracy {best['test_acc']:.3f} "
        f"({best['num_test']} images)",
        fontsize=9,
    )
    fig.colorbar(im, ax=ax, shrink=0.8, label="test images")
    return fig


def gallery_figure(X, shape, y, pred, names, per_class, title):
    C = len(names)
    fig, axes = plt.subplots(C, per_class + 1, figsize=(1.05 * (per_class + 1), 1.1 * C))
    for c in range(C):
        idx = np.flatnonzero((pred == c) & (y != c))[:per_class]
        lab = axes[c, 0]
        lab.axis("off")
        n_wrong = int(np.sum((pred == c) & (y != c)))
        lab.text(
            1.0,
            0.5,
            f"predicted\n{names[c]}\n({n_wrong} wrong)",
            ha="right",
            va="center",
            fontsize=7.5,
            transform=lab.transAxes,
        )
        for k in range(per_class):
            ax = axes[c, k + 1]
            ax.axis("off")
            if k < len(idx):
                ax.imshow(X[idx[k]].reshape(shape), interpolation="nearest")
                ax.set_title(f"true: {names[y[idx[k]]]}", fontsize=6, pad=1.5)
    fig.suptitle(title, fontsize=9, y=0.995)
    fig.subplots_adjust(wspace=0.05, hspace=0.35, top=0.95)
    return fig


def main(sm, log):
    with np.load(sm.input.split) as z:
        X = z["X_test"]
        y = np.asarray(z["y_test"])
        shape = tuple(int(s) for s in z["image_shape"])
        names = [str(c) for c in z["class_names"]]
    per_class = int(sm.params.per_class)
    tables = list(sm.params.tables)
    fmts = len(sm.output.confusion) // len(tables)
    rows = []
    for t, (table, bpath) in enumerate(zip(tables, sm.input.best)):
        best = read_json(bpath)
        if best["table"] != table:
            raise ValueError(f"{bpath}: holds table {best['table']!r}, expected {table!r}")
        pred = np.asarray(best["predictions"], dtype=np.int64)
        if pred.shape != y.shape:
            raise ValueError(
                f"{bpath}: {len(pred)} predictions but split.npz has {len(y)} test images"
            )
        conf = np.zeros((len(names), len(names)), dtype=np.int64)
        np.add.at(conf, (y, pred), 1)
        if conf.tolist() != best["confusion"]:
            raise ValueError(
                f"{bpath}: the confusion matrix does not match its predictions "
                "and split.npz's test labels"
            )
        desc = f"{table} (best by val acc)"
        save_figure(
            confusion_figure(conf, names, best, desc),
            sm.output.confusion[t * fmts : (t + 1) * fmts],
        )
        save_figure(
            gallery_figure(
                X,
                shape,
                y,
                pred,
                names,
                per_class,
                f"{desc}: misclassified test images per predicted class "
                f"(first {per_class} in test order)",
            ),
            sm.output.gallery[t * fmts : (t + 1) * fmts],
        )
        for c in range(len(names)):
            idx = np.flatnonzero((pred == c) & (y != c))
            for rank, i in enumerate(idx):
                rows.append(
                    {
                        "table": table,
                        "run": best["run"],
                        "test_index": int(i),
                        "true_label": int(y[i]),
                        "true_name": names[y[i]],
                        "predicted_label": c,
                        "predicted_name": names[c],
                        "rank_in_predicted_class": rank,
                        "in_gallery": rank < per_class,
                    }
                )
        log.info("%s: %d of %d test images misclassified", table, int(np.sum(pred != y)), len(y))
    cols = [
        "table",
        "run",
        "test_index",
        "true_label",
        "true_name",
        "predicted_label",
        "predicted_name",
        "rank_in_predicted_class",
        "in_gallery",
    ]
    write_csv_atomic(sm.output.csv, pd.DataFrame(rows, columns=cols))
