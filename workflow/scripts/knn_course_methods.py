"""Course protocol: L2 distances three ways (timings, agreement), test accuracy for a few k,
and the distance matrix as an image (dark = near)."""

import time

import numpy as np

from nplab.knn import KNearestNeighbor, accuracy
from nplab_io.atomic import write_json_atomic
from nplab_io.figures import pyplot, save_figure
from nplab_io.jobs import run_job
from nplab_io.tables import write_csv_atomic

plt = pyplot()

TOLERANCE = 1e-3


def timed(fn, *args):
    t0 = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t0


def main(sm, log):
    with np.load(sm.input.npz) as z:
        X_train, y_train = z["X_train"], z["y_train"]
        X_test, y_test = z["X_test"], z["y_test"]
    # The course computes in float64; with 8-bit pixels every product and sum is then an
    # exact integer, so the three methods can agree to far below 1e-3.  (The float32
    # expansion ||a||^2 + ||b||^2 - 2 a.b is also timed and compared, for the record.)
    Xtr, Xte = X_train.astype(np.float64), X_test.astype(np.float64)
    knn = KNearestNeighbor(metric="l2", memory_budget_bytes=int(sm.params.budget)).fit(Xtr, y_train)
    d2, t2 = timed(knn.compute_distances_two_loops, Xte)
    log.info("two loops: %.2f s", t2)
    d1, t1 = timed(knn.compute_distances_one_loop, Xte)
    log.info("one loop: %.2f s", t1)
    d0, t0 = timed(knn.compute_distances_no_loops, Xte)
    log.info("no loops: %.3f s", t0)
    knn32 = KNearestNeighbor(metric="l2", memory_budget_bytes=int(sm.params.budget)).fit(
        X_train.astype(np.float32), y_train
    )
    d32, t32 = timed(knn32.compute_distances_no_loops, X_test.astype(np.float32))

    rows = []
    for name, d, secs, dtype in [
        ("two_loops", d2, t2, "float64"),
        ("one_loop", d1, t1, "float64"),
        ("no_loops", d0, t0, "float64"),
        ("no_loops_float32", d32, t32, "float32"),
    ]:
        diff = np.asarray(d, np.float64) - d0
        fro = float(np.linalg.norm(diff, ord="fro"))
        rows.append(
            {
                "method": name,
                "dtype": dtype,
                "seconds": secs,
                "frobenius_vs_no_loops": fro,
                "max_abs_diff_vs_no_loops": float(np.abs(diff).max()),
                "agrees": bool(fro < TOLERANCE),
                "speedup_vs_two_loops": t2 / secs,
            }
        )
        log.info("%s: %.3f s, Frobenius difference vs no loops %.3g", name, secs, fro)
    write_csv_atomic(
        sm.output.csv,
        [{k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in r.items()} for r in rows],
    )

    info = {
        "n_train": int(len(y_train)),
        "n_test": int(len(y_test)),
        "metric": "l2",
        "dtype": "float64",
        "tolerance": TOLERANCE,
        "all_methods_agree": bool(all(r["agrees"] for r in rows[:3])),
        "float32_agrees": bool(rows[3]["agrees"]),
        "distance_min": float(d0.min()),
        "distance_max": float(d0.max()),
        "distance_mean": float(d0.mean()),
        "matrix_figure": str(sm.output.fig[0]),
        "tie_rule": "majority vote; ties go to the smallest label",
    }
    for r in rows:
        info[f"seconds_{r['method']}"] = r["seconds"]
        info[f"frobenius_{r['method']}"] = r["frobenius_vs_no_loops"]
    info["speedup_no_loops_vs_two_loops"] = t2 / t0
    info["speedup_one_loop_vs_two_loops"] = t2 / t1
    for k in sm.params.eval_ks:
        k = int(k)
        pred = knn.predict_labels(d0, k=k)
        info[f"test_accuracy_k{k}"] = accuracy(y_test, pred)
        info[f"test_correct_k{k}"] = int(np.sum(pred == y_test))
        info[f"test_accuracy_k{k}_float32"] = accuracy(y_test, knn32.predict_labels(d32, k=k))
        log.info("k=%d: test accuracy %.4f", k, info[f"test_accuracy_k{k}"])
    write_json_atomic(sm.output.json, info)

    fig, ax = plt.subplots(figsize=(10, 3.2))
    im = ax.imshow(d0, cmap="gray", aspect="auto", interpolation="antialiased")
    ax.set_xlabel(f"training image (of {d0.shape[1]})")
    ax.set_ylabel(f"test image (of {d0.shape[0]})")
    ax.set_title("L2 distances, test x train (dark = near, bright = far)", fontsize=9)
    fig.colorbar(im, ax=ax, fraction=0.03, pad=0.01)
    save_figure(fig, sm.output.fig)


run_job(snakemake, main)
