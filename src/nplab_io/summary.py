"""What the per-stage summary tables (results/linear/summary.csv, results/nets/summary.csv)
share: the data note, the best run of a table, its test result from best.json and the
anchors.csv reference with the protocol difference spelled out."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from nplab_io.atomic import read_json
from nplab_io.tables import write_csv_atomic

__all__ = [
    "read_json",
    "data_note",
    "bests_by_table",
    "best_by_val",
    "best_json_fields",
    "ours_note",
    "anchor_fields",
    "write_summary",
]


def data_note(prov: dict) -> str:
    """Where the CIFAR-10 images came from, from the data stage's provenance."""
    if prov.get("lossy_mirror", False):
        return (
            "offline mirror: CIFAR-10 train images 2,000-49,999 and test images "
            "1,000-9,999 are JPEG reconstructions"
        )
    if prov.get("all_official_checksums", True):
        return "official CIFAR-10 binary release"
    return "CIFAR-10 from an unofficial mirror"


def bests_by_table(paths) -> dict[str, dict]:
    """``{table: best.json}`` of the tables that select (the only test evaluations)."""
    bests = {}
    for p in paths:
        b = read_json(p)
        bests[b["table"]] = b
    return bests


def best_by_val(runs: pd.DataFrame) -> pd.Series:
    """The run with the best validation accuracy, among those that did not diverge (all
    runs when every one diverged)."""
    ok = runs[~runs["diverged"].astype(bool)]
    pool = ok if not ok.empty else runs
    return pool.loc[pool["val_acc"].idxmax()]


def best_json_fields(b: dict, table: str) -> dict:
    """The summary cells that best.json of ``table`` decides."""
    return dict(
        best_variant=b["variant"],
        best_run=b["run"],
        train_acc=float(b["train_acc"]),
        val_acc=float(b["val_acc"]),
        test_acc=float(b["test_acc"]),
        test_source=f"experiments/{table}/best.json ({b['num_test']} test images)",
    )


def ours_note(row: dict, data: dict, what: str, note: str) -> str:
    """Our protocol in words: the split sizes, ``what`` was trained how, the data note."""
    return (
        f"ours: {row['num_train']:,} train / {data['num_validation']:,} val / "
        f"{data['num_test']:,} test images, {what}; {note}"
    )


def anchor_fields(anchors: pd.DataFrame, model, row: dict, ours: str, reference_note="") -> dict:
    """The anchor cells of a summary row: the anchors.csv reference of ``model`` (a model
    name of anchors.csv, or empty for none) against our val or test accuracy, whichever
    the reference reports."""
    ref = anchors[anchors["model"] == model] if model else anchors.iloc[0:0]
    if not len(ref):
        return dict(
            anchor_model="",
            anchor_reference="",
            anchor_value=None,
            anchor_protocol="",
            anchor_source="",
            vs_anchor="",
            protocol_note=f"no anchor; {ours}",
        )
    r = ref.iloc[0]
    metric = "val" if "val" in r["reference"] else "test"
    ours_v = row["val_acc"] if metric == "val" else row["test_acc"]
    return dict(
        anchor_model=model,
        anchor_reference=r["reference"] + reference_note,
        anchor_value=float(r["value"]),
        anchor_protocol=r["protocol"],
        anchor_source=r["source"],
        vs_anchor=(
            f"{metric} {ours_v:.3f} vs {float(r['value']):.3f}" if ours_v is not None else ""
        ),
        protocol_note=f"anchor: {r['protocol']} ({r['reference']}); {ours}",
    )


def write_summary(path, rows: list[dict], log) -> None:
    df = pd.DataFrame(rows)
    write_csv_atomic(path, df, float_format="%.10g")
    log.info("summary of %d tables -> %s", len(df), Path(path).name)
