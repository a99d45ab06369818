"""Evidence for the k-nearest-neighbour questions knn-1, knn-2, knn-3 (course subsample)."""

from __future__ import annotations

import csv
import io

import numpy as np

from nplab.knn import KNearestNeighbor, accuracy
from nplab_io.evidence.io import rel
from nplab_io.figures import pyplot

KS = (1, 5)  # knn-3 compares 1-NN with 5-NN, as the course's statement does


def _knn(metric: str, settings: dict) -> KNearestNeighbor:
    return KNearestNeighbor(metric=metric, memory_budget_bytes=int(settings["budget_mb"]) * 2**20)


def _corr(a, b) -> float:
    return float(np.corrcoef(np.asarray(a, np.float64), np.asarray(b, np.float64))[0, 1])


def _percentile_rank(values, i) -> float:
    """Percent of the values that are <= values[i]."""
    return float(100.0 * np.mean(values <= values[i]))


# --------------------------------------------------------------------------- knn-1
def compute_knn_1(data, settings):
    """The test row / train column of the L2 distance matrix with the largest (and
    smallest) mean distance, their brightness and contrast, and how a row's mean distance
    follows its image's distance from the mean image (Pearson r)."""
    z = data.npz("npz")
    Xtr, Xte = z["X_train"].astype(np.float64), z["X_test"].astype(np.float64)
    names = [str(n) for n in z["class_names"]]
    d = _knn("l2", settings).fit(Xtr, z["y_train"]).compute_distances_no_loops(Xte)
    row_mean, col_mean = d.mean(axis=1), d.mean(axis=0)
    mean_image = Xtr.mean(axis=0)

    def stats(X):
        return X.mean(axis=1), X.std(axis=1), np.sqrt(((X - mean_image) ** 2).mean(axis=1))

    sides = {
        "test": (*stats(Xte), row_mean, z["y_test"], z["idx_test"]),
        "train": (*stats(Xtr), col_mean, z["y_train"], z["idx_train"]),
    }
    data_mean, data_std = float(sides["train"][0].mean()), float(sides["train"][1].mean())
    ev = {
        "metric": "l2",
        "n_test": int(len(z["y_test"])),
        "n_train": int(len(z["y_train"])),
        "dataset_pixel_mean": data_mean,
        "dataset_pixel_std": data_std,
        "test_pixel_mean_avg": float(sides["test"][0].mean()),
        "test_pixel_std_avg": float(sides["test"][1].mean()),
        "row_mean_distance_avg": float(row_mean.mean()),
        "col_mean_distance_avg": float(col_mean.mean()),
    }
    picks = {}
    for role in ("test_max", "test_min", "train_max", "train_min"):
        means, std, dev, mdist, y, idx = sides[role.split("_")[0]]
        pos = int(np.argmax(mdist) if role.endswith("max") else np.argmin(mdist))
        picks[role] = pos
        ev.update(
            {
                f"{role}_position": pos,
                f"{role}_dataset_index": int(idx[pos]),
                f"{role}_class": names[int(y[pos])],
                f"{role}_mean_distance": float(mdist[pos]),
                f"{role}_pixel_mean": float(means[pos]),
                f"{role}_pixel_std": float(std[pos]),
                f"{role}_rms_from_mean_image": float(dev[pos]),
                f"{role}_std_percentile": _percentile_rank(std, pos),
                f"{role}_mean_percentile": _percentile_rank(means, pos),
                f"{role}_distance_ratio_to_avg": float(mdist[pos] / mdist.mean()),
            }
        )
    for side, key in (("test", "rows"), ("train", "cols")):
        means, std, dev, mdist, _, _ = sides[side]
        ev[f"corr_{key}_distance_vs_rms_from_mean_image"] = _corr(mdist, dev)
        ev[f"corr_{key}_distance_vs_pixel_std"] = _corr(mdist, std)
        ev[f"corr_{key}_distance_vs_abs_brightness_offset"] = _corr(
            mdist, np.abs(means - data_mean)
        )
    ev["figures"] = [rel(data.output("fig")[0]), rel(data.path("matrix"))]
    ev.update(_distances=d, _picks=picks, _images=z, _sides=sides)
    return ev


def plot_knn_1(ev, data):
    plt = pyplot()
    z, picks, sides = ev["_images"], ev["_picks"], ev["_sides"]
    shape = tuple(int(s) for s in z["image_shape"])
    fig = plt.figure(figsize=(12, 3.6))
    gs = fig.add_gridspec(2, 5, width_ratios=[3.2, 1, 1, 0.15, 2.2], hspace=0.45, wspace=0.3)
    ax = fig.add_subplot(gs[:, 0])
    ax.imshow(ev["_distances"], cmap="gray", aspect="auto", interpolation="antialiased")
    ax.axhline(picks["test_max"], color="C3", lw=0.8)
    ax.axvline(picks["train_max"], color="C0", lw=0.8)
    ax.set_xlabel("training image")
    ax.set_ylabel("test image")
    ax.set_title("distance matrix (dark = near)", fontsize=8)
    cmap = "gray" if len(shape) == 2 else None
    for r, (side, label) in enumerate(
        [("test", "brightest row (test)"), ("train", "brightest column (train)")]
    ):
        X = z[f"X_{side}"]
        for c, (role, title) in enumerate([(f"{side}_max", label), (f"{side}_min", "darkest")]):
            a = fig.add_subplot(gs[r, 1 + c])
            a.imshow(X[picks[role]].reshape(shape), cmap=cmap, interpolation="nearest")
            a.axis("off")
            a.set_title(
                f"{title}: {ev[f'{role}_class']}\nmean {ev[f'{role}_pixel_mean']:.0f}, "
                f"std {ev[f'{role}_pixel_std']:.0f}",
                fontsize=7,
                color="C3" if side == "test" and c == 0 else ("C0" if c == 0 else "0.3"),
            )
    a = fig.add_subplot(gs[:, 4])
    a.scatter(sides["test"][2], sides["test"][3], s=4, color="C3", label="test rows")
    a.scatter(
        sides["train"][2], sides["train"][3], s=2, color="C0", alpha=0.3, label="train columns"
    )
    a.set_xlabel("RMS deviation from the mean image")
    a.set_ylabel("mean distance")
    a.set_title(
        f"r = {ev['corr_rows_distance_vs_rms_from_mean_image']:.2f} (rows), "
        f"{ev['corr_cols_distance_vs_rms_from_mean_image']:.2f} (cols)",
        fontsize=8,
    )
    a.legend(fontsize=7, markerscale=3)
    fig.suptitle(
        f"knn-1: dataset average pixel mean {ev['dataset_pixel_mean']:.0f}, "
        f"std {ev['dataset_pixel_std']:.0f}",
        fontsize=9,
    )
    return fig


# --------------------------------------------------------------------------- knn-2
_TRANSFORM_COLUMNS = [
    "transform",
    "description",
    "dtype",
    "n_changed",
    "fraction_changed",
    "n_neighbours_changed",
    "neighbour_changes_at_raw_ties",
    "accuracy",
    "predictions_unchanged",
]


def _load_transform(path) -> dict:
    with np.load(path) as z:
        return {k: (z[k].item() if z[k].ndim == 0 else z[k]) for k in z.files}


def _ties_at_raw_distance(knn, X_test, changed, nn_new, nn_raw) -> int:
    """Changed neighbours at exactly the raw nearest distance: a tie resolved differently
    by rounding, not a change of the ordering itself."""
    if not len(changed):
        return 0
    d = knn.compute_distances_no_loops(X_test[changed].astype(np.float32))
    rows = np.arange(len(changed))
    return int(np.sum(d[rows, nn_new[changed]] == d[rows, nn_raw[changed]]))


def compute_knn_2(data, settings):
    """For each transform, how many L1 1-NN predictions (and nearest neighbours) changed
    against the raw pixels, and how many neighbour changes are exact raw-distance ties."""
    by_name = {str(r["transform"]): r for r in map(_load_transform, data.paths("transforms"))}
    raw = by_name.pop("raw")
    z = data.npz("data", keys=["X_train", "y_train", "X_test"])
    knn = _knn("l1", settings).fit(z["X_train"].astype(np.float32), z["y_train"])
    n = len(raw["pred"])
    ev = {
        "metric": "l1",
        "k": 1,
        "n_train": int(len(z["y_train"])),
        "n_test": int(n),
        "baseline_accuracy": float(raw["accuracy"]),
        "transforms": ",".join(by_name),
    }
    rows, unchanged = [], []
    for name, r in by_name.items():
        changed = np.flatnonzero(r["pred"] != raw["pred"])
        nn_changed = np.flatnonzero(r["nn_index"] != raw["nn_index"])
        ties = _ties_at_raw_distance(knn, z["X_test"], nn_changed, r["nn_index"], raw["nn_index"])
        frac, same = len(changed) / n, len(changed) == 0
        if same:
            unchanged.append(name)
        rows.append(
            [name, str(r["description"]), str(r["dtype"]), len(changed), f"{frac:.6f}"]
            + [len(nn_changed), ties, f"{float(r['accuracy']):.6f}", same]
        )
        ev.update(
            {
                f"{name}_description": str(r["description"]),
                f"{name}_n_changed": int(len(changed)),
                f"{name}_fraction_changed": frac,
                f"{name}_n_neighbours_changed": int(len(nn_changed)),
                f"{name}_neighbour_changes_at_raw_ties": ties,
                f"{name}_accuracy": float(r["accuracy"]),
                f"{name}_unchanged": bool(same),
                f"{name}_unchanged_up_to_ties": bool(len(nn_changed) == ties),
                f"{name}_dtype": str(r["dtype"]),
                f"{name}_seconds": float(r["seconds"]),
            }
        )
    ev["unchanged_transforms"] = ",".join(unchanged)
    ev["changed_transforms"] = ",".join(t for t in by_name if t not in unchanged)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(_TRANSFORM_COLUMNS)
    writer.writerows(rows)
    ev["_files"] = {"csv": buf.getvalue()}
    return ev


def plot_knn_2(ev, data):
    plt = pyplot()
    names, n = ev["transforms"].split(","), ev["n_test"]
    fracs = [ev[f"{m}_fraction_changed"] for m in names]
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    bars = ax.bar(range(len(names)), fracs, color=["C3" if f > 0 else "C2" for f in fracs])
    for b, m in zip(bars, names):
        ax.annotate(
            f"{ev[f'{m}_n_changed']}/{n}",
            (b.get_x() + b.get_width() / 2, b.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_xticks(range(len(names)), [m.replace("_", "\n") for m in names], fontsize=8)
    ax.set_ylabel("fraction of 1-NN predictions changed")
    ax.set_ylim(0, max(0.05, 1.2 * max(fracs)))
    ax.set_title(
        f"L1 1-NN, {ev['n_train']} train / {n} test images: effect of preprocessing", fontsize=9
    )
    return fig


# --------------------------------------------------------------------------- knn-3
def _spearman(a, b) -> float:
    ra = np.argsort(np.argsort(a, kind="stable"), kind="stable")
    rb = np.argsort(np.argsort(b, kind="stable"), kind="stable")
    return float(np.corrcoef(ra, rb)[0, 1])


def _timing_evidence(rows) -> dict:
    """Prediction time vs training-set size from the timing job's table."""
    n = np.array([int(r["n_train"]) for r in rows])
    pred_s = np.array([float(r["predict_seconds"]) for r in rows])
    fit_s = np.array([float(r["fit_seconds"]) for r in rows])
    rho = _spearman(n, pred_s)
    return {
        "timing_train_sizes": ",".join(map(str, n.tolist())),
        "timing_num_test": int(rows[0]["n_test"]),
        "predict_seconds_smallest": float(pred_s[0]),
        "predict_seconds_largest": float(pred_s[-1]),
        "train_size_ratio": float(n[-1] / n[0]),
        "predict_time_ratio": float(pred_s[-1] / pred_s[0]),
        "predict_time_spearman": rho,
        "fit_seconds_max": float(fit_s.max()),
        # a trend far beyond timing noise: rank correlation and a 2x ratio
        "predict_time_grows_with_train_size": bool(rho > 0.8 and pred_s[-1] > 2 * pred_s[0]),
        "_timing": (n, pred_s, fit_s),
    }


def _segments_evidence(knn, X_train, y_train, tr_pred, pairs, points, rng) -> dict:
    """Convexity of the class regions: along the segment between two training images of
    the same class (both predicted as that class), does the prediction ever change?"""
    ts = np.linspace(0.0, 1.0, points + 2)[1:-1]
    chosen = []
    for _ in range(pairs):
        c = rng.choice(np.unique(y_train))
        i, j = rng.choice(np.flatnonzero(y_train == c), size=2, replace=False)
        chosen.append((int(i), int(j), int(c)))
    ends = np.array([[i, j] for i, j, _ in chosen])
    seg = np.stack([(1 - t) * X_train[ends[:, 0]] + t * X_train[ends[:, 1]] for t in ts], axis=1)
    seg_pred = knn.predict_multi_k(seg.reshape(-1, X_train.shape[1]), KS)
    labels = np.array([c for _, _, c in chosen])
    ev = {}
    for k in KS:
        end_ok = (tr_pred[k][ends[:, 0]] == labels) & (tr_pred[k][ends[:, 1]] == labels)
        inside = seg_pred[k].reshape(pairs, points)
        broken = end_ok & np.any(inside != labels[:, None], axis=1)
        ev[f"segments_valid_k{k}"] = int(end_ok.sum())
        ev[f"segments_nonconvex_k{k}"] = int(broken.sum())
        ev[f"segments_nonconvex_fraction_k{k}"] = float(broken.sum() / max(1, end_ok.sum()))
    return ev


def compute_knn_3(data, settings):
    """Train/test error of 1-NN vs 5-NN (L2, float64 as in the course), prediction time vs
    training-set size, and whether class regions are convex (a linear boundary would make
    them so)."""
    q = settings["questions"]
    rng = np.random.default_rng(int(settings["seed"]))
    z = data.npz("npz", keys=["X_train", "y_train", "X_test", "y_test"])
    X_train, y_train = z["X_train"].astype(np.float64), z["y_train"]
    X_test, y_test = z["X_test"].astype(np.float64), z["y_test"]
    knn = _knn("l2", settings).fit(X_train, y_train)
    tr_pred = knn.predict_multi_k(X_train, KS)  # every training image is its own neighbour
    te_pred = knn.predict_multi_k(X_test, KS)
    ev = {"metric": "l2", "n_train": int(len(y_train)), "n_test": int(len(y_test))}
    for k in KS:
        ev[f"train_error_k{k}"] = 1.0 - accuracy(y_train, tr_pred[k])
        ev[f"test_error_k{k}"] = 1.0 - accuracy(y_test, te_pred[k])
    ev["train_error_1nn_le_5nn"] = bool(ev["train_error_k1"] <= ev["train_error_k5"])
    ev["test_error_1nn_lt_5nn"] = bool(ev["test_error_k1"] < ev["test_error_k5"])
    with open(data.path("timing"), newline="") as fh:
        ev.update(_timing_evidence(list(csv.DictReader(fh))))
    pairs, points = int(q["segment_pairs"]), int(q["segment_points"])
    ev.update(_segments_evidence(knn, X_train, y_train, tr_pred, pairs, points, rng))
    ev.update(
        segment_pairs=pairs,
        segment_points=points,
        linear_boundary=bool(ev["segments_nonconvex_k1"] == 0 and ev["segments_nonconvex_k5"] == 0),
    )
    ev.update(
        statement_linear_boundary_holds=ev["linear_boundary"],
        statement_train_error_1nn_le_5nn_holds=ev["train_error_1nn_le_5nn"],
        statement_test_error_1nn_lt_5nn_holds_here=ev["test_error_1nn_lt_5nn"],
        statement_time_grows_with_train_size_holds=ev["predict_time_grows_with_train_size"],
    )
    return ev


def plot_knn_3(ev, data):
    plt = pyplot()
    n, pred_s, fit_s = ev["_timing"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.4))
    a1.loglog(n, pred_s, marker="o", label=f"classify {ev['timing_num_test']} test images")
    a1.loglog(n, np.maximum(fit_s, 1e-7), marker="s", label="fit (memorise)")
    a1.set_xlabel("training-set size")
    a1.set_ylabel("seconds (best of repeats)")
    a1.set_title("kNN time vs training-set size (L2, k=1)", fontsize=9)
    a1.legend(fontsize=7)
    x = np.arange(2)
    a2.bar(x - 0.2, [ev["train_error_k1"], ev["train_error_k5"]], 0.4, label="train error")
    a2.bar(x + 0.2, [ev["test_error_k1"], ev["test_error_k5"]], 0.4, label="test error")
    a2.set_xticks(x, ["1-NN", "5-NN"])
    a2.set_ylabel("error")
    a2.set_ylim(0, 1)
    a2.set_title(f"error, {ev['n_train']} train / {ev['n_test']} test images (L2)", fontsize=9)
    a2.legend(fontsize=7)
    fig.suptitle(
        f"not linear: on {ev['segments_nonconvex_k1']} of "
        f"{ev['segments_valid_k1']} segments between two same-class training "
        f"images the 1-NN prediction leaves the class ({ev['segments_nonconvex_k5']}"
        f" of {ev['segments_valid_k5']} for 5-NN)",
        fontsize=8,
    )
    return fig
