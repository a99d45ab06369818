"""knn-3: which statements about k-NN hold for every k.

Measured on the course subsample (L2, float64 as in the course): training and test error
of 1-NN and 5-NN; prediction time vs training-set size (from the timing job); and whether
the class regions are convex, as they would be with a linear decision boundary: along the
straight segment between two training images of the same class (both predicted as that
class), does the prediction ever change?"""

import csv

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from nplab.knn import KNearestNeighbor, accuracy
from nplab_io.atomic import write_json_atomic
from nplab_io.figures import save_figure
from nplab_io.jobs import run_job

KS = (1, 5)


def spearman(a, b):
    ra = np.argsort(np.argsort(a, kind="stable"), kind="stable")
    rb = np.argsort(np.argsort(b, kind="stable"), kind="stable")
    return float(np.corrcoef(ra, rb)[0, 1])


def _rel(path):
    p = str(path)
    return p.split("results/", 1)[1] if "results/" in p else p


def finding(info):
    pct = lambda x: f"{100 * x:.1f}%"  # noqa: E731
    holds = []
    if info["statement_train_error_1nn_le_5nn_holds"]:
        holds.append("1-NN training error <= 5-NN training error")
    if info["statement_time_grows_with_train_size_holds"]:
        holds.append("classification time grows with the training-set size")
    te = "lower" if info["test_error_1nn_lt_5nn"] else "not lower"
    return (
        f"Linear boundary: {'true' if info['linear_boundary'] else 'false'} - on "
        f"{info['segments_nonconvex_k1']} of {info['segments_valid_k1']} straight segments "
        f"between two training images of the same class the 1-NN prediction leaves the class "
        f"somewhere in between ({info['segments_nonconvex_k5']} of "
        f"{info['segments_valid_k5']} for 5-NN), so the class regions are not convex, as "
        f"they would be with a linear boundary. Training error: 1-NN "
        f"{pct(info['train_error_k1'])} (every training image is its own nearest neighbour) "
        f"vs 5-NN {pct(info['train_error_k5'])}. Test error: 1-NN "
        f"{pct(info['test_error_k1'])} vs 5-NN {pct(info['test_error_k5'])} - {te} here, "
        f"and not guaranteed for every data set or k. Time: classifying "
        f"{info['timing_num_test']} test images took {info['predict_seconds_smallest']:.3g} s "
        f"against the smallest training set and {info['predict_seconds_largest']:.3g} s against "
        f"one {info['train_size_ratio']:.0f}x larger ({info['predict_time_ratio']:.0f}x the "
        f"time), while fitting only memorises (at most {info['fit_seconds_max']:.2g} s). "
        f"Statements that hold for every k: " + ("; ".join(holds) or "none") + "."
    )


def main(sm, log):
    q = dict(sm.params.q)
    rng = np.random.default_rng(int(sm.params.seed))
    with np.load(sm.input.npz) as z:
        X_train, y_train = z["X_train"].astype(np.float64), z["y_train"]
        X_test, y_test = z["X_test"].astype(np.float64), z["y_test"]
    knn = KNearestNeighbor(metric="l2", memory_budget_bytes=int(sm.params.budget)).fit(
        X_train, y_train
    )
    tr_pred = knn.predict_multi_k(X_train, KS)  # every training image is its own neighbour
    te_pred = knn.predict_multi_k(X_test, KS)
    info = {
        "question": "knn-3",
        "metric": "l2",
        "n_train": int(len(y_train)),
        "n_test": int(len(y_test)),
        "figure": str(sm.output.fig[0]),
    }
    for k in KS:
        info[f"train_error_k{k}"] = 1.0 - accuracy(y_train, tr_pred[k])
        info[f"test_error_k{k}"] = 1.0 - accuracy(y_test, te_pred[k])
    info["train_error_1nn_le_5nn"] = bool(info["train_error_k1"] <= info["train_error_k5"])
    info["test_error_1nn_lt_5nn"] = bool(info["test_error_k1"] < info["test_error_k5"])

    # timing curve
    with open(sm.input.timing, newline="") as fh:
        rows = list(csv.DictReader(fh))
    n = np.array([int(r["n_train"]) for r in rows])
    pred_s = np.array([float(r["predict_seconds"]) for r in rows])
    fit_s = np.array([float(r["fit_seconds"]) for r in rows])
    rho = spearman(n, pred_s)
    info.update(
        {
            "timing_train_sizes": ",".join(map(str, n.tolist())),
            "timing_num_test": int(rows[0]["n_test"]),
            "predict_seconds_smallest": float(pred_s[0]),
            "predict_seconds_largest": float(pred_s[-1]),
            "train_size_ratio": float(n[-1] / n[0]),
            "predict_time_ratio": float(pred_s[-1] / pred_s[0]),
            "predict_time_spearman": rho,
            "fit_seconds_max": float(fit_s.max()),
            "predict_time_grows_with_train_size": bool(rho > 0.8 and pred_s[-1] > 2 * pred_s[0]),
        }
    )

    # convexity of the class regions along segments between same-class training images
    pairs, points = int(q["segment_pairs"]), int(q["segment_points"])
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
    for k in KS:
        end_ok = (tr_pred[k][ends[:, 0]] == labels) & (tr_pred[k][ends[:, 1]] == labels)
        inside = seg_pred[k].reshape(pairs, points)
        broken = end_ok & np.any(inside != labels[:, None], axis=1)
        info[f"segments_valid_k{k}"] = int(end_ok.sum())
        info[f"segments_nonconvex_k{k}"] = int(broken.sum())
        info[f"segments_nonconvex_fraction_k{k}"] = float(broken.sum() / max(1, end_ok.sum()))
        log.info("k=%d: %d of %d valid segments leave the class", k, broken.sum(), end_ok.sum())
    info.update(
        {
            "segment_pairs": pairs,
            "segment_points": points,
            "linear_boundary": bool(
                info["segments_nonconvex_k1"] == 0 and info["segments_nonconvex_k5"] == 0
            ),
        }
    )
    info.update(
        {
            "statement_linear_boundary_holds": info["linear_boundary"],
            "statement_train_error_1nn_le_5nn_holds": info["train_error_1nn_le_5nn"],
            "statement_test_error_1nn_lt_5nn_holds_here": info["test_error_1nn_lt_5nn"],
            "statement_time_grows_with_train_size_holds": info[
                "predict_time_grows_with_train_size"
            ],
        }
    )
    info["figures"] = [_rel(sm.output.fig[0])]
    info["finding"] = finding(info)
    write_json_atomic(sm.output.json, info)

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.4))
    a1.loglog(n, pred_s, marker="o", label=f"classify {info['timing_num_test']} test images")
    a1.loglog(n, np.maximum(fit_s, 1e-7), marker="s", label="fit (memorise)")
    a1.set_xlabel("training-set size")
    a1.set_ylabel("seconds (best of repeats)")
    a1.set_title("kNN time vs training-set size (L2, k=1)", fontsize=9)
    a1.legend(fontsize=7)
    x = np.arange(2)
    a2.bar(x - 0.2, [info["train_error_k1"], info["train_error_k5"]], 0.4, label="train error")
    a2.bar(x + 0.2, [info["test_error_k1"], info["test_error_k5"]], 0.4, label="test error")
    a2.set_xticks(x, ["1-NN", "5-NN"])
    a2.set_ylabel("error")
    a2.set_ylim(0, 1)
    a2.set_title(f"error, {info['n_train']} train / {info['n_test']} test images (L2)", fontsize=9)
    a2.legend(fontsize=7)
    fig.suptitle(
        f"not linear: on {info['segments_nonconvex_k1']} of "
        f"{info['segments_valid_k1']} segments between two same-class training "
        f"images the 1-NN prediction leaves the class ({info['segments_nonconvex_k5']}"
        f" of {info['segments_valid_k5']} for 5-NN)",
        fontsize=8,
    )
    save_figure(fig, sm.output.fig)


run_job(snakemake, main)
