"""results/nets/summary.csv: one row per net table — the best variant by validation accuracy,
its train/val accuracy, the test accuracy of best.json where the table selects (the only
test evaluation), and the anchors.csv reference with the protocol difference spelled out.

Cells that do not apply (test accuracy of a table without ``select``, the anchor of a table
without one) are empty; every accuracy that is reported is a number."""

import json
from pathlib import Path

import pandas as pd

from nplab_io.jobs import run_job
from nplab_io.tables import write_csv_atomic


def _read_json(path):
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def main(sm, log):
    anchors = pd.read_csv(sm.input.anchors)
    prov = _read_json(sm.input.provenance)
    lossy = bool(prov.get("lossy_mirror", False))
    official = bool(prov.get("all_official_checksums", True))
    data_note = (
        "offline mirror: CIFAR-10 train images 2,000-49,999 and test images "
        "1,000-9,999 are JPEG reconstructions"
        if lossy
        else "official CIFAR-10 binary release"
        if official
        else "CIFAR-10 from an unofficial mirror"
    )
    bests = {}
    for p in sm.input.best:
        b = _read_json(p)
        bests[b["table"]] = b
    d = sm.params.data
    rows = []
    for info, path in zip(sm.params.tables, sm.input.runs):
        table = info["table"]
        runs = pd.read_csv(path)
        ok = runs[~runs["diverged"].astype(bool)]
        pool = ok if not ok.empty else runs
        best_row = pool.loc[pool["val_acc"].idxmax()]
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
            b = bests[table]
            row.update(
                best_variant=b["variant"],
                best_run=b["run"],
                train_acc=float(b["train_acc"]),
                val_acc=float(b["val_acc"]),
                test_acc=float(b["test_acc"]),
                test_source=f"experiments/{table}/best.json ({b['num_test']} test images)",
            )
        ours = (
            f"ours: {row['num_train']:,} train / {d['num_validation']:,} val / "
            f"{d['num_test']:,} test images, {row['epochs']} epochs; {data_note}"
        )
        am = sm.params.anchors.get(table)
        ref = anchors[anchors["model"] == am] if am else anchors.iloc[0:0]
        if len(ref):
            r = ref.iloc[0]
            metric = "val" if "val" in r["reference"] else "test"
            ours_v = row["val_acc"] if metric == "val" else row["test_acc"]
            row.update(
                anchor_model=am,
                anchor_reference=r["reference"],
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
        rows.append(row)
        log.info(
            "%s: best %s val %.4f test %s",
            table,
            row["best_variant"],
            row["val_acc"],
            row["test_acc"],
        )
    df = pd.DataFrame(rows)
    write_csv_atomic(sm.output.csv, df, float_format="%.10g")
    log.info("summary of %d tables -> %s", len(df), Path(sm.output.csv).name)


run_job(snakemake, main)
