"""One table of the full-train kNN runs (every metric) and a figure of accuracy vs k."""

import csv

from nplab_io.figures import pyplot, save_figure
from nplab_io.jobs import run_job
from nplab_io.tables import write_csv_atomic

plt = pyplot()

REFERENCE_1NN = {"l1": 0.386, "l2": 0.354}


def main(sm, log):
    rows = []
    for path in sm.input.csv:
        with open(path, newline="") as fh:
            rows += list(csv.DictReader(fh))
    if not rows:
        raise ValueError("no full-train kNN rows to tabulate")
    write_csv_atomic(sm.output.csv, rows)

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for i, metric in enumerate(sorted({r["metric"] for r in rows})):
        sub = sorted((r for r in rows if r["metric"] == metric), key=lambda r: int(r["k"]))
        ks = [int(r["k"]) for r in sub]
        acc = [float(r["test_acc"]) for r in sub]
        ax.plot(
            ks,
            acc,
            marker="o",
            color=f"C{i}",
            label=f"{metric.upper()} ({float(sub[0]['seconds']):.0f} s)",
        )
        ax.axhline(
            REFERENCE_1NN[metric],
            color=f"C{i}",
            ls=":",
            lw=1,
            label=f"{metric.upper()} 1-NN, course notes",
        )
    ax.set_xlabel("k")
    ax.set_ylabel("test accuracy")
    ax.set_title(f"kNN, {rows[0]['n_train']} train vs {rows[0]['n_test']} test images", fontsize=9)
    ax.legend(fontsize=7)
    save_figure(fig, sm.output.fig)
    log.info("%d rows", len(rows))


run_job(snakemake, main)
