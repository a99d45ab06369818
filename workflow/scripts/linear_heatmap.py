"""Heat map of one grid table: validation accuracy over learning rate x regularisation.

Every grid point is annotated with its validation accuracy; diverged runs are hatched and
labelled; the run best.json selected is outlined and its test accuracy is in the title.
If a table varies other keys as well, each (lr, reg) cell shows the best of those runs.
"""

import json

import numpy as np
import pandas as pd
from matplotlib.patches import Rectangle

from nplab_io.figures import pyplot, save_figure
from nplab_io.jobs import run_job

plt = pyplot()


def main(sm, log):
    table = sm.wildcards.table
    runs = pd.read_csv(sm.input.runs)
    with open(sm.input.best, encoding="utf-8") as fh:
        best = json.load(fh)
    for col in ("lr", "reg", "val_acc", "diverged"):
        if col not in runs.columns:
            raise ValueError(f"{sm.input.runs}: no column {col!r}")
    runs["diverged"] = runs["diverged"].astype(bool)
    lrs = sorted(runs["lr"].unique())
    regs = sorted(runs["reg"].unique())
    acc = np.full((len(lrs), len(regs)), np.nan)
    div = np.zeros_like(acc, dtype=bool)
    for (i, lr), (j, reg) in ((a, b) for a in enumerate(lrs) for b in enumerate(regs)):
        cell = runs[(runs["lr"] == lr) & (runs["reg"] == reg)]
        if cell.empty:
            continue
        ok = cell[~cell["diverged"]]
        pick = ok if not ok.empty else cell
        acc[i, j] = pick["val_acc"].max()
        div[i, j] = ok.empty
    brow = runs[runs["run"] == best["run"]].iloc[0]
    bi, bj = lrs.index(brow["lr"]), regs.index(brow["reg"])

    fig, ax = plt.subplots(figsize=(1.0 + 1.05 * len(regs), 0.9 + 0.62 * len(lrs)))
    shown = np.ma.masked_invalid(acc)
    vmin = float(np.nanmin(acc)) if np.isfinite(acc).any() else 0.0
    vmax = float(np.nanmax(acc)) if np.isfinite(acc).any() else 1.0
    im = ax.imshow(
        shown, cmap="viridis", vmin=vmin, vmax=max(vmax, vmin + 1e-6), aspect="auto", origin="lower"
    )
    span = max(vmax - vmin, 1e-6)
    for i in range(len(lrs)):
        for j in range(len(regs)):
            if not np.isfinite(acc[i, j]):
                ax.text(j, i, "—", ha="center", va="center", fontsize=8, color="0.4")
                continue
            light = (acc[i, j] - vmin) / span > 0.6
            txt = f"{acc[i, j]:.3f}" + ("\ndiverged" if div[i, j] else "")
            ax.text(
                j,
                i,
                txt,
                ha="center",
                va="center",
                fontsize=7.5,
                color="black" if light else "white",
                fontweight="bold" if (i, j) == (bi, bj) else "normal",
            )
            if div[i, j]:
                ax.add_patch(
                    Rectangle(
                        (j - 0.5, i - 0.5),
                        1,
                        1,
                        fill=False,
                        hatch="xx",
                        edgecolor="red",
                        linewidth=0,
                    )
                )
    ax.add_patch(Rectangle((bj - 0.5, bi - 0.5), 1, 1, fill=False, edgecolor="red", linewidth=2.2))
    ax.set_xticks(range(len(regs)), [f"{r:g}" for r in regs], rotation=30)
    ax.set_yticks(range(len(lrs)), [f"{lr:g}" for lr in lrs])
    ax.set_xlabel("regularisation strength (reg)")
    ax.set_ylabel("learning rate")
    ndiv = int(runs["diverged"].sum())
    ax.set_title(
        f"{table}: validation accuracy ({len(runs)} runs, {ndiv} diverged)\n"
        f"best (red box): {best['variant']} — val {best['val_acc']:.3f}, "
        f"test {best['test_acc']:.3f}",
        fontsize=9,
    )
    fig.colorbar(im, ax=ax, label="validation accuracy", shrink=0.85)
    save_figure(fig, sm.output.fig)
    log.info(
        "%s: %d x %d grid, best %s val %.4f, %d diverged",
        table,
        len(lrs),
        len(regs),
        best["variant"],
        best["val_acc"],
        ndiv,
    )


run_job(snakemake, main)
