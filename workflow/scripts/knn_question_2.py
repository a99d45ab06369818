"""knn-2: which preprocessing transforms leave the L1 1-NN predictions unchanged."""

import csv
import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from nplab.knn import KNearestNeighbor
from nplab_io.atomic import write_json_atomic, write_text_atomic
from nplab_io.figures import save_figure
from nplab_io.jobs import run_job


def load(path):
    with np.load(path) as z:
        return {k: (z[k].item() if z[k].ndim == 0 else z[k]) for k in z.files}


def _rel(path):
    p = str(path)
    return p.split("results/", 1)[1] if "results/" in p else p


WHY = {
    "global_mean": "a common shift cancels in |a - b|",
    "pixel_mean": "a per-pixel shift cancels in |a - b| too",
    "global_mean_std": "the shift cancels and one common scale multiplies every distance by "
    "the same factor",
    "pixel_mean_std": "dividing by a different std per pixel weighs the pixels differently, "
    "which reorders the neighbours",
    "rot90": "the same rotation permutes the pixels of both images, and a sum over pixels "
    "does not depend on their order",
}


def finding(info, names, unchanged):
    n = info["n_test"]

    def item(t):
        txt = f"{info[f'{t}_description']} ({info[f'{t}_n_changed']} of {n} predictions changed"
        ties = info[f"{t}_neighbour_changes_at_raw_ties"]
        if ties:
            txt += f"; {ties} neighbour changes at exact ties of the raw distances"
        return txt + f": {WHY.get(t, '')})"

    changed = [t for t in names if t not in unchanged]
    out = (
        f"L1 1-NN on {info['n_train']} training / {n} test images, each transform run "
        f"for real. Unchanged: " + ("; ".join(item(t) for t in unchanged) or "none") + ". "
    )
    out += "Changed: " + ("; ".join(item(t) for t in changed) or "none") + "."
    return out


def main(sm, log):
    runs = [load(p) for p in sm.input.npz]
    by_name = {str(r["transform"]): r for r in runs}
    raw = by_name.pop("raw")
    with np.load(sm.input.data) as z:
        X_train, y_train, X_test = z["X_train"], z["y_train"], z["X_test"]
    knn = KNearestNeighbor(metric="l1", memory_budget_bytes=int(sm.params.budget)).fit(
        X_train.astype(np.float32), y_train
    )
    n = len(raw["pred"])
    info = {
        "question": "knn-2",
        "metric": "l1",
        "k": 1,
        "n_train": int(len(y_train)),
        "n_test": int(n),
        "baseline_accuracy": float(raw["accuracy"]),
        "figure": str(sm.output.fig[0]),
        "transforms": ",".join(by_name),
    }
    rows, unchanged = [], []
    for name, r in by_name.items():
        changed = np.flatnonzero(r["pred"] != raw["pred"])
        nn_changed = np.flatnonzero(r["nn_index"] != raw["nn_index"])
        # A changed neighbour at exactly the raw nearest distance is a tie resolved
        # differently by rounding, not a change of the ordering itself.
        ties = 0
        if len(nn_changed):
            d = knn.compute_distances_no_loops(X_test[nn_changed].astype(np.float32))
            rows_ = np.arange(len(nn_changed))
            ties = int(
                np.sum(d[rows_, r["nn_index"][nn_changed]] == d[rows_, raw["nn_index"][nn_changed]])
            )
        frac = len(changed) / n
        same = len(changed) == 0
        if same:
            unchanged.append(name)
        rows.append(
            [
                name,
                str(r["description"]),
                str(r["dtype"]),
                len(changed),
                f"{frac:.6f}",
                len(nn_changed),
                ties,
                f"{float(r['accuracy']):.6f}",
                same,
            ]
        )
        info.update(
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
        log.info(
            "%-16s %4d of %d predictions changed (%.2f%%), %d neighbours changed (%d at raw ties)",
            name,
            len(changed),
            n,
            100 * frac,
            len(nn_changed),
            ties,
        )
    info["figures"] = [_rel(sm.output.fig[0])]
    info["finding"] = finding(info, list(by_name), unchanged)
    info["unchanged_transforms"] = ",".join(unchanged)
    info["changed_transforms"] = ",".join(n_ for n_ in by_name if n_ not in unchanged)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        [
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
    )
    w.writerows(rows)
    write_text_atomic(sm.output.csv, buf.getvalue())
    write_json_atomic(sm.output.json, info)

    names = list(by_name)
    fracs = [info[f"{m}_fraction_changed"] for m in names]
    fig, ax = plt.subplots(figsize=(6.5, 3.2))
    bars = ax.bar(range(len(names)), fracs, color=["C3" if f > 0 else "C2" for f in fracs])
    for b, m in zip(bars, names):
        ax.annotate(
            f"{info[f'{m}_n_changed']}/{n}",
            (b.get_x() + b.get_width() / 2, b.get_height()),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    ax.set_xticks(range(len(names)), [m.replace("_", "\n") for m in names], fontsize=8)
    ax.set_ylabel("fraction of 1-NN predictions changed")
    ax.set_ylim(0, max(0.05, 1.2 * max(fracs)))
    ax.set_title(
        f"L1 1-NN, {len(y_train)} train / {n} test images: effect of preprocessing", fontsize=9
    )
    save_figure(fig, sm.output.fig)


run_job(snakemake, main)
