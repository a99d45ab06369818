"""results/nets/summary.csv: one row per net table — the best variant by validation accuracy,
its train/val accuracy, the test accuracy of best.json where the table selects (the only
test evaluation), and the anchors.csv reference with the protocol difference spelled out.

Cells that do not apply (test accuracy of a table without ``select``, the anchor of a table
without one) are empty; every accuracy that is reported is a number."""

import pandas as pd

from nplab_io import summary
from nplab_io.jobs import run_job


def main(sm, log):
    anchors = pd.read_csv(sm.input.anchors)
    note = summary.data_note(summary.read_json(sm.input.provenance))
    bests = summary.bests_by_table(sm.input.best)
    d = sm.params.data
    rows = []
    for info, path in zip(sm.params.tables, sm.input.runs):
        table = info["table"]
        runs = pd.read_csv(path)
        best_row = summary.best_by_val(runs)
        row = {
            "table": table,
            "description": info["description"],
            "runs": int(len(runs)),
            "diverged_runs": int(runs["diverged"].astype(bool).sum()),
            "selected_by": info["select"] or "val_acc (no test evaluation)",
            "best_variant": best_row["variant"],
            "best_run": best_row["run"],
            "train_acc": float(best_row["train_acc"]),
            "val_acc": float(best_row["val_acc"]),
            "test_acc": None,
            "test_source": "not evaluated (table has no select)",
            "num_train": int(best_row["num_train_used"]),
            "epochs": int(best_row["epochs"]),
        }
        if table in bests:
            row.update(summary.best_json_fields(bests[table], table))
        ours = summary.ours_note(row, d, f"{row['epochs']} epochs", note)
        row.update(summary.anchor_fields(anchors, sm.params.anchors.get(table), row, ours))
        rows.append(row)
        log.info(
            "%s: best %s val %.4f test %s",
            table,
            row["best_variant"],
            row["val_acc"],
            row["test_acc"],
        )
    summary.write_summary(sm.output.csv, rows, log)


run_job(snakemake, main)
