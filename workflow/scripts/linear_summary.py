"""results/linear/summary.csv: one row per linear-classifier / feature table — the best variant
by validation accuracy, its train/val accuracy, the test accuracy of best.json (the only test
evaluation), the anchors.csv reference with the protocol difference spelled out, and the lab's
test-accuracy goal where one is set (goal, meets_goal; empty otherwise)."""

import json
from pathlib import Path

import pandas as pd

from nplab_io.jobs import run_job
from nplab_io.tables import write_csv_atomic


def _read_json(path):
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _data_note(prov):
    if prov.get("lossy_mirror", False):
        return (
            "offline mirror: CIFAR-10 train images 2,000-49,999 and test images "
            "1,000-9,999 are JPEG reconstructions"
        )
    if prov.get("all_official_checksums", True):
        return "official CIFAR-10 binary release"
    return "CIFAR-10 from an unofficial mirror"


def _fmt_list(values):
    vals = sorted(set(values))
    return " ".join(f"{v:g}" for v in vals)


def main(sm, log):
    anchors = pd.read_csv(sm.input.anchors)
    data_note = _data_note(_read_json(sm.input.provenance))
    bests = {}
    for p in sm.input.best:
        b = _read_json(p)
        bests[b["table"]] = b
    d = sm.params.data
    goals = dict(sm.params.goals)
    rows = []
    for info, path in zip(sm.params.tables, sm.input.runs):
        table = info["table"]
        runs = pd.read_csv(path)
        if runs.empty:
            raise ValueError(f"{path}: no runs")
        runs["diverged"] = runs["diverged"].astype(bool)
        ok = runs[~runs["diverged"]]
        pool = ok if not ok.empty else runs
        best_row = pool.loc[pool["val_acc"].idxmax()]
        linear = info["kind"] == "linear"
        row = {
            "table": table,
            "kind": info["kind"],
            "model": best_row["model"] if linear else "two-layer net",
            "data": best_row["data"],
            "description": info["description"],
            "runs": int(len(runs)),
            "diverged_runs": int(runs["diverged"].sum()),
            "lr_values": _fmt_list(runs["lr"]),
            "reg_values": _fmt_list(runs["reg"]),
            "selected_by": info["select"] or "val_acc (no test evaluation)",
            "best_variant": best_row["variant"],
            "best_run": best_row["run"],
            "best_lr": float(best_row["lr"]),
            "best_reg": float(best_row["reg"]),
            "train_acc": float(best_row["train_acc"]),
            "val_acc": float(best_row["val_acc"]),
            "test_acc": None,
            "test_source": "not evaluated (table has no select)",
            "num_train": int(best_row["num_train_used"]),
        }
        if table in bests:
            b = bests[table]
            row.update(
                best_variant=b["variant"],
                best_run=b["run"],
                best_lr=float(b["spec"]["lr"]),
                best_reg=float(b["spec"]["reg"]),
                train_acc=float(b["train_acc"]),
                val_acc=float(b["val_acc"]),
                test_acc=float(b["test_acc"]),
                test_source=f"experiments/{table}/best.json ({b['num_test']} test images)",
            )
        length = (
            f"{int(best_row['iterations'])} SGD iterations, batch {int(best_row['batch_size'])}"
            if linear
            else f"{int(best_row['epochs'])} epochs"
        )
        features = (
            "HOG + hue-histogram features"
            if "features" in row["data"]
            else "mean-centred pixels + bias"
        )
        ours = (
            f"ours: {row['num_train']:,} train / {d['num_validation']:,} val / "
            f"{d['num_test']:,} test images, {features}, {length}; {data_note}"
        )
        am = sm.params.anchors.get(table)
        ref = anchors[anchors["model"] == am] if am else anchors.iloc[0:0]
        if len(ref):
            r = ref.iloc[0]
            metric = "val" if "val" in r["reference"] else "test"
            ours_v = row["val_acc"] if metric == "val" else row["test_acc"]
            note = (
                ""
                if am != "linear svm on hog+hsv" or row["model"] == "svm"
                else " (the course's anchor is for the SVM; no softmax anchor)"
            )
            row.update(
                anchor_model=am,
                anchor_reference=r["reference"] + note,
                anchor_value=float(r["value"]),
                anchor_protocol=r["protocol"],
                anchor_source=r["source"],
                vs_anchor=(
                    f"{metric} {ours_v:.3f} vs {float(r['value']):.3f}"
                    if ours_v is not None
                    else ""
                ),
                protocol_note=f"anchor: {r['protocol']} ({r['reference']}); {ours}",
            )
        else:
            row.update(
                anchor_model="",
                anchor_reference="",
                anchor_value=None,
                anchor_protocol="",
                anchor_source="",
                vs_anchor="",
                protocol_note=f"no anchor; {ours}",
            )
        if table in goals:
            g = float(goals[table])
            row.update(
                goal_test_acc=g, meets_goal=(row["test_acc"] is not None and row["test_acc"] >= g)
            )
        else:
            row.update(goal_test_acc=None, meets_goal=None)
        rows.append(row)
        log.info(
            "%s: best %s val %.4f test %s goal %s",
            table,
            row["best_variant"],
            row["val_acc"],
            row["test_acc"],
            row["goal_test_acc"],
        )
    df = pd.DataFrame(rows)
    write_csv_atomic(sm.output.csv, df, float_format="%.10g")
    log.info("summary of %d tables -> %s", len(df), Path(sm.output.csv).name)


run_job(snakemake, main)
