"""knn-1: what makes rows / columns of the test x train distance matrix bright.

The test image (row) and the training image (column) with the largest mean L2 distance,
their brightness (mean pixel) and contrast (pixel std) next to the data's averages, and
how the mean distance of every row / column follows the image's deviation from the
mean image, its contrast and its brightness offset (Pearson correlations)."""

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from nplab.knn import KNearestNeighbor
from nplab_io.atomic import write_json_atomic
from nplab_io.figures import save_figure
from nplab_io.jobs import run_job


def corr(a, b):
    return float(np.corrcoef(np.asarray(a, np.float64), np.asarray(b, np.float64))[0, 1])


def percentile_rank(values, i):
    """Percent of the values that are <= values[i]."""
    return float(100.0 * np.mean(values <= values[i]))


def _rel(path):
    """A path under results/ as the report expects it (relative to results/)."""
    p = str(path)
    return p.split("results/", 1)[1] if "results/" in p else p


def _describe(info, role):
    m, s = info[f"{role}_pixel_mean"], info[f"{role}_pixel_std"]
    dm, ds = info["dataset_pixel_mean"], info["dataset_pixel_std"]
    return (
        f"{'brighter' if m > dm else 'darker'} than average (mean pixel {m:.0f} vs "
        f"{dm:.0f}) with {'more' if s > ds else 'less'} contrast (pixel std {s:.0f} vs "
        f"{ds:.0f})"
    )


def finding(info):
    return (
        f"The brightest row is test image {info['test_max_dataset_index']} "
        f"({info['test_max_class']}): its mean L2 distance to the training images is "
        f"{info['test_max_mean_distance']:.0f}, {info['test_max_distance_ratio_to_avg']:.2f}x "
        f"the average row; it is {_describe(info, 'test_max')}. The brightest column is "
        f"training image {info['train_max_dataset_index']} ({info['train_max_class']}), "
        f"{_describe(info, 'train_max')}. A row's mean distance follows how far its image "
        f"lies from the mean image (Pearson r = "
        f"{info['corr_rows_distance_vs_rms_from_mean_image']:.2f} over the "
        f"{info['n_test']} rows, {info['corr_cols_distance_vs_rms_from_mean_image']:.2f} over "
        f"the {info['n_train']} columns; r = {info['corr_rows_distance_vs_pixel_std']:.2f} "
        f"with contrast, {info['corr_rows_distance_vs_abs_brightness_offset']:.2f} with the "
        f"brightness offset). So a bright row is a test image unlike every training image "
        f"- unusually bright or dark, high-contrast or oddly coloured (e.g. an object on a "
        f"white background) - and a bright column is such a training image, far from every "
        f"test image. The darkest row, test image {info['test_min_dataset_index']}, lies "
        f"close to the mean image ({info['test_min_rms_from_mean_image']:.0f} RMS vs "
        f"{info['test_max_rms_from_mean_image']:.0f} for the brightest row) with "
        f"{'less' if info['test_min_pixel_std'] < info['dataset_pixel_std'] else 'more'} "
        f"contrast than average (pixel std {info['test_min_pixel_std']:.0f})."
    )


def main(sm, log):
    with np.load(sm.input.npz) as z:
        X_train, y_train, X_test, y_test = z["X_train"], z["y_train"], z["X_test"], z["y_test"]
        idx_train, idx_test = z["idx_train"], z["idx_test"]
        shape = tuple(int(s) for s in z["image_shape"])
        names = [str(n) for n in z["class_names"]]
    Xtr, Xte = X_train.astype(np.float64), X_test.astype(np.float64)
    knn = KNearestNeighbor(metric="l2", memory_budget_bytes=int(sm.params.budget)).fit(Xtr, y_train)
    d = knn.compute_distances_no_loops(Xte)  # the matrix of the image (float64, as there)
    row_mean, col_mean = d.mean(axis=1), d.mean(axis=0)
    mean_image = Xtr.mean(axis=0)

    def stats(X):
        return (X.mean(axis=1), X.std(axis=1), np.sqrt(((X - mean_image) ** 2).mean(axis=1)))

    te_mean, te_std, te_dev = stats(Xte)
    tr_mean, tr_std, tr_dev = stats(Xtr)
    data_mean, data_std = float(tr_mean.mean()), float(tr_std.mean())
    info = {
        "question": "knn-1",
        "metric": "l2",
        "n_test": int(len(y_test)),
        "n_train": int(len(y_train)),
        "matrix_figure": str(sm.input.matrix[0]),
        "figure": str(sm.output.fig[0]),
        "dataset_pixel_mean": data_mean,
        "dataset_pixel_std": data_std,
        "dataset_stats_note": "averages over the training subsample of each image's pixel "
        "mean (brightness) and pixel std (contrast), 0-255 scale",
        "test_pixel_mean_avg": float(te_mean.mean()),
        "test_pixel_std_avg": float(te_std.mean()),
        "row_mean_distance_avg": float(row_mean.mean()),
        "col_mean_distance_avg": float(col_mean.mean()),
    }
    picks = {}
    for role, means, mdist, std, dev, y, idx, pos in [
        ("test_max", te_mean, row_mean, te_std, te_dev, y_test, idx_test, int(np.argmax(row_mean))),
        ("test_min", te_mean, row_mean, te_std, te_dev, y_test, idx_test, int(np.argmin(row_mean))),
        (
            "train_max",
            tr_mean,
            col_mean,
            tr_std,
            tr_dev,
            y_train,
            idx_train,
            int(np.argmax(col_mean)),
        ),
        (
            "train_min",
            tr_mean,
            col_mean,
            tr_std,
            tr_dev,
            y_train,
            idx_train,
            int(np.argmin(col_mean)),
        ),
    ]:
        picks[role] = pos
        info.update(
            {
                f"{role}_position": pos,
                f"{role}_dataset_index": int(idx[pos]),
                f"{role}_class": names[int(y[pos])],
                f"{role}_mean_distance": float(mdist[pos]),
                f"{role}_pixel_mean": float(means[pos]),
                f"{role}_pixel_std": float(std[pos]),
                f"{role}_rms_from_mean_image": float(dev[pos]),
                f"{role}_std_percentile": percentile_rank(std, pos),
                f"{role}_mean_percentile": percentile_rank(means, pos),
                f"{role}_distance_ratio_to_avg": float(mdist[pos] / mdist.mean()),
            }
        )
    for side, mdist, means, std, dev in [
        ("rows", row_mean, te_mean, te_std, te_dev),
        ("cols", col_mean, tr_mean, tr_std, tr_dev),
    ]:
        info[f"corr_{side}_distance_vs_rms_from_mean_image"] = corr(mdist, dev)
        info[f"corr_{side}_distance_vs_pixel_std"] = corr(mdist, std)
        info[f"corr_{side}_distance_vs_abs_brightness_offset"] = corr(
            mdist, np.abs(means - data_mean)
        )
    info["figures"] = [_rel(f) for f in (sm.output.fig[0], sm.input.matrix[0])]
    info["finding"] = finding(info)
    log.info(
        "brightest row: test %d (%s), mean distance %.0f, pixel mean %.1f std %.1f; "
        "brightest column: train %d (%s), mean distance %.0f, pixel mean %.1f std %.1f",
        picks["test_max"],
        info["test_max_class"],
        info["test_max_mean_distance"],
        info["test_max_pixel_mean"],
        info["test_max_pixel_std"],
        picks["train_max"],
        info["train_max_class"],
        info["train_max_mean_distance"],
        info["train_max_pixel_mean"],
        info["train_max_pixel_std"],
    )
    write_json_atomic(sm.output.json, info)

    fig = plt.figure(figsize=(12, 3.6))
    gs = fig.add_gridspec(2, 5, width_ratios=[3.2, 1, 1, 0.15, 2.2], hspace=0.45, wspace=0.3)
    ax = fig.add_subplot(gs[:, 0])
    ax.imshow(d, cmap="gray", aspect="auto", interpolation="antialiased")
    ax.axhline(picks["test_max"], color="C3", lw=0.8)
    ax.axvline(picks["train_max"], color="C0", lw=0.8)
    ax.set_xlabel("training image")
    ax.set_ylabel("test image")
    ax.set_title("distance matrix (dark = near)", fontsize=8)
    cmap = "gray" if len(shape) == 2 else None
    for r, (role, X, label) in enumerate(
        [
            ("test_max", X_test, "brightest row (test)"),
            ("train_max", X_train, "brightest column (train)"),
        ]
    ):
        for c, (r2, X2, lab2) in enumerate(
            [(role, X, label), (role.replace("max", "min"), X, "darkest")]
        ):
            a = fig.add_subplot(gs[r, 1 + c])
            a.imshow(X2[picks[r2]].reshape(shape), cmap=cmap, interpolation="nearest")
            a.axis("off")
            a.set_title(
                f"{lab2}: {info[f'{r2}_class']}\nmean {info[f'{r2}_pixel_mean']:.0f}, "
                f"std {info[f'{r2}_pixel_std']:.0f}",
                fontsize=7,
                color="C3" if role == "test_max" and c == 0 else ("C0" if c == 0 else "0.3"),
            )
    a = fig.add_subplot(gs[:, 4])
    a.scatter(te_dev, row_mean, s=4, color="C3", label="test rows")
    a.scatter(tr_dev, col_mean, s=2, color="C0", alpha=0.3, label="train columns")
    a.set_xlabel("RMS deviation from the mean image")
    a.set_ylabel("mean distance")
    a.set_title(
        f"r = {info['corr_rows_distance_vs_rms_from_mean_image']:.2f} (rows), "
        f"{info['corr_cols_distance_vs_rms_from_mean_image']:.2f} (cols)",
        fontsize=8,
    )
    a.legend(fontsize=7, markerscale=3)
    fig.suptitle(
        f"knn-1: dataset average pixel mean {data_mean:.0f}, std {data_std:.0f}", fontsize=9
    )
    save_figure(fig, sm.output.fig)


run_job(snakemake, main)
