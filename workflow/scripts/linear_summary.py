"""results/linear/summary.csv: one row per linear-classifier / feature table — the best variant
by validation accuracy, its train/val accuracy, the test accuracy of best.json (the only test
evaluation), the anchors.csv reference with the protocol difference spelled out, and the lab's
test-accuracy goal where one is set (goals.csv via config linear.goals: goal, meets_goal;
empty otherwise)."""

import pandas as pd

from nplab_io import summary
from nplab_io.jobs import run_job


def _fmt_list(values):
    vals = sorted(set(values))
    return " ".join(f"{v:g}" for v in vals)


def main(sm, log):
    anchors = pd.read_csv(sm.input.anchors)
    note = summary.data_note(summary.read_json(sm.input.provenance))
    bests = summary.bests_by_table(sm.input.best)
    d = sm.params.data
    # config linear.goals: table -> a goal of report/reference/goals.csv (its min_test_acc)
    min_acc = pd.read_csv(sm.input.goals, dtype=str).set_index("goal")["min_test_acc"]
    goals = {table: min_acc[goal] for table, goal in sm.params.goals.items()}
    rows = []
    for info, path in zip(sm.params.tables, sm.input.runs):
        table = info["table"]
        runs = pd.read_csv(path)
        if runs.empty:
            raise ValueError(f"{path}: no runs")
        best_row = summary.best_by_val(runs)
        linear = info["kind"] == "linear"
        row = {
            "table": table,
            "kind": info["kind"],
            "model": best_row["model"] if linear else "two-layer net",
            "data": best_row["data"],
            "description": info["description"],
            "runs": int(len(runs)),
            "diverged_runs": int(runs["diverged"].astype(bool).sum()),
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
            row.update(summary.best_json_fields(b, table))
            row.update(best_lr=float(b["spec"]["lr"]), best_reg=float(b["spec"]["reg"]))
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
        ours = summary.ours_note(row, d, f"{features}, {length}", note)
        am = sm.params.anchors.get(table)
        svm_anchor = am == "linear svm on hog+hsv" and row["model"] != "svm"
        row.update(
            summary.anchor_fields(
                anchors,
                am,
                row,
                ours,
                " (the course's anchor is for the SVM; no softmax anchor)" if svm_anchor else "",
            )
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
    summary.write_summary(sm.output.csv, rows, log)


run_job(snakemake, main)
