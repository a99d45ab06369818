"""Figures of the MNIST tables (rule mnist_figure): per write-up table, the faithful runs
(summed gradients, the write-up's lrs) and the tuned runs (mean-reduced, lr chosen on val)
side by side: training loss per example and validation accuracy per epoch; for batching,
validation accuracy against wall time."""

import json
from pathlib import Path

import numpy as np
import pandas as pd

from nplab_io.figures import pyplot, save_figure
from nplab_io.jobs import run_job
from nplab_io.mnist import best_per_group, loss_per_example

plt = pyplot()


def load_tables(files, tables):
    """{table: (runs, curves, loss, timings)} from input.tables (4 files per table)."""
    out = {}
    for i, t in enumerate(tables):
        out[t] = tuple(pd.read_csv(f) for f in files[4 * i : 4 * i + 4])
    return out


def curves_figure(name, faithful, tuned, data):
    fig, axes = plt.subplots(2, 2, figsize=(11, 7))
    for row, (kind, table) in enumerate(
        (("faithful (summed gradients)", faithful), ("tuned (mean gradients, lr on val)", tuned))
    ):
        runs, curves, loss, _ = data[table]
        sel = best_per_group(runs)
        for i, (group, r) in enumerate(sel.items()):
            lab = f"{group} (lr {r['lr']:g}{', reg {:g}'.format(r['reg']) if r['reg'] else ''})"
            lo = loss[loss["run"] == r["run"]]
            axes[row, 0].plot(
                lo["iteration"], loss_per_example(lo["loss"], r), color=f"C{i}", lw=1, label=lab
            )
            c = curves[curves["run"] == r["run"]]
            axes[row, 1].plot(c["epoch"], c["val_acc"], color=f"C{i}", lw=1.2, label=lab)
        axes[row, 0].set_yscale("log")
        axes[row, 0].set_xlabel("iteration")
        axes[row, 0].set_ylabel("training loss per example")
        axes[row, 0].set_title(f"{name}: {kind}", fontsize=9)
        axes[row, 1].set_xlabel("epoch")
        axes[row, 1].set_ylabel("validation accuracy")
        lo_acc = max(0.0, min(float(np.nanmin(curves["val_acc"])) - 0.02, 0.8))
        axes[row, 1].set_ylim(lo_acc, 1.0)
        axes[row, 1].legend(fontsize=7, loc="lower right")
        axes[row, 1].set_title(f"{name}: {kind}", fontsize=9)
    fig.tight_layout()
    return fig


def batching_figure(faithful, tuned, data, timing_files):
    elapsed = {}
    for p in timing_files:
        with open(p, encoding="utf-8") as fh:
            t = json.load(fh)
        elapsed[t["run"]] = np.asarray(t["epoch_elapsed_s"], dtype=float)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    for ax, (kind, table) in zip(axes, (("faithful", faithful), ("tuned", tuned))):
        runs, curves, _, _ = data[table]
        for i, (group, r) in enumerate(best_per_group(runs).items()):
            c = curves[curves["run"] == r["run"]].sort_values("epoch")
            t = elapsed[r["run"]][: len(c)]
            ax.plot(
                t,
                c["val_acc"].to_numpy()[: len(t)],
                "-o",
                ms=2.5,
                color=f"C{i}",
                label=f"{group} (batch {r['batch_size']}, lr {r['lr']:g})",
            )
        ax.set_xscale("log")
        ax.set_xlabel("wall time (s, including per-epoch evaluation)")
        ax.set_title(f"batching: {kind}", fontsize=9)
        ax.legend(fontsize=7, loc="lower right")
    axes[0].set_ylabel("validation accuracy")
    fig.tight_layout()
    return fig


def main(sm, log):
    names = sm.params.names
    tables = [t for n in names for t in sm.params.tables[n]]
    data = load_tables(list(sm.input.tables), tables)
    name = names[0]
    faithful, tuned = sm.params.tables[name]
    if sm.wildcards.fig == "batching_time":
        fig = batching_figure(faithful, tuned, data, sm.input.timing)
    else:
        fig = curves_figure(name, faithful, tuned, data)
    save_figure(fig, sm.output.fig)
    log.info("%s: %s", sm.wildcards.fig, [Path(f).name for f in sm.output.fig])


run_job(snakemake, main)
