"""Gather the runs of one experiment table into tidy CSVs.

runs.csv    one row per run: table, variant, run id, every spec value, every metric
            (deterministic: the same config and data give the same bytes)
curves.csv  one row per run and epoch: train/val accuracy, learning rate, mean loss
loss.csv    one row per run and iteration bin: the minibatch loss, averaged over at most
            ``max_points`` equal bins per run (the full curves stay in each run's history)
timings.csv one row per run: wall time (not reproducible, hence its own file)
"""

import numpy as np
import pandas as pd

from nplab_io.atomic import read_json
from nplab_io.jobs import run_job
from nplab_io.tables import write_csv_atomic


def binned(loss: np.ndarray, max_points: int):
    n = len(loss)
    if n <= max_points:
        return np.arange(1, n + 1), loss
    edges = np.linspace(0, n, max_points + 1).astype(int)
    its = edges[1:]
    vals = np.array(
        [
            loss[a:b][np.isfinite(loss[a:b])].mean() if np.isfinite(loss[a:b]).any() else np.nan
            for a, b in zip(edges[:-1], edges[1:])
        ]
    )
    return its, vals


def write_csv(df: pd.DataFrame, path):
    write_csv_atomic(path, df, float_format="%.10g")


def main(sm, log):
    runs = sm.params.runs
    table = sm.params.table
    rows, curves, losses, timings = [], [], [], []
    for rec, mpath, tpath, hpath in zip(runs, sm.input.metrics, sm.input.timing, sm.input.history):
        m = read_json(mpath)
        if m["run"] != rec["run"]:
            raise ValueError(f"{mpath}: holds run {m['run']!r}, expected {rec['run']!r}")
        rows.append({"table": table, "variant": rec["variant"], **m})
        t = read_json(tpath)
        timings.append(
            {
                "table": table,
                "variant": rec["variant"],
                "run": rec["run"],
                **{k: v for k, v in t.items() if k not in ("run", "epoch_elapsed_s")},
            }
        )
        with np.load(hpath) as h:
            loss = h["loss"]
            its, vals = binned(loss, int(sm.params.max_points))
            losses.append(
                pd.DataFrame(
                    {
                        "table": table,
                        "variant": rec["variant"],
                        "run": rec["run"],
                        "iteration": its,
                        "loss": vals,
                    }
                )
            )
            if "val_acc" in h.files and len(h["val_acc"]):
                ipe = int(h["iterations_per_epoch"])
                ne = len(h["val_acc"])
                ep_loss = [
                    float(np.nanmean(loss[e * ipe : (e + 1) * ipe]))
                    if np.isfinite(loss[e * ipe : (e + 1) * ipe]).any()
                    else np.nan
                    for e in range(ne)
                ]
                elapsed = t.get("epoch_elapsed_s", [np.nan] * ne)
                curves.append(
                    pd.DataFrame(
                        {
                            "table": table,
                            "variant": rec["variant"],
                            "run": rec["run"],
                            "epoch": np.arange(1, ne + 1),
                            "train_acc": h["train_acc"],
                            "val_acc": h["val_acc"],
                            "lr": h["lr"],
                            "loss": ep_loss,
                        }
                    )
                )
                timings[-1]["epochs_timed"] = len(elapsed)
    df = pd.DataFrame(rows)
    lead = ["table", "variant", "run", "kind"]
    df = df[lead + [c for c in df.columns if c not in lead]]
    write_csv(df, sm.output.runs)
    cols = ["table", "variant", "run", "epoch", "train_acc", "val_acc", "lr", "loss"]
    write_csv(
        pd.concat(curves, ignore_index=True) if curves else pd.DataFrame(columns=cols),
        sm.output.curves,
    )
    write_csv(pd.concat(losses, ignore_index=True), sm.output.loss)
    write_csv(pd.DataFrame(timings), sm.output.timings)
    log.info(
        "%s: %d runs, best val acc %.4f (%s)",
        table,
        len(df),
        df["val_acc"].max(),
        df.loc[df["val_acc"].idxmax(), "variant"],
    )


run_job(snakemake, main)
