"""Loss curve of the best SVM / softmax run: the minibatch loss (data loss + reg * sum W^2)
per SGD iteration, from the table's loss.csv (binned as there), for the best run of the wide
grid and, beside it, the best run of the course grid. Log scale: with a large reg the
initial loss is dominated by the penalty of the random initial weights."""

import numpy as np
import pandas as pd

from nplab_io.atomic import read_json
from nplab_io.figures import pyplot, save_figure
from nplab_io.jobs import run_job

plt = pyplot()


def main(sm, log):
    model = sm.wildcards.model
    fig, ax = plt.subplots(figsize=(7.0, 4.0))
    for k, (lpath, bpath) in enumerate(zip(sm.input.loss, sm.input.best)):
        best = read_json(bpath)
        loss = pd.read_csv(lpath)
        cur = loss[loss["run"] == best["run"]].sort_values("iteration")
        cur = cur[np.isfinite(cur["loss"])]
        if cur.empty:
            raise ValueError(f"{lpath}: no loss values for the best run {best['run']}")
        ax.plot(
            cur["iteration"],
            cur["loss"],
            lw=1.2 if k == 0 else 1.0,
            color="C0" if k == 0 else "C1",
            alpha=1.0 if k == 0 else 0.8,
            label=f"{best['table']}: {best['variant']} (val {best['val_acc']:.3f}, "
            f"test {best['test_acc']:.3f})",
        )
        log.info(
            "%s: %s loss %.4f -> %.4f over %d points",
            best["table"],
            best["variant"],
            cur["loss"].iloc[0],
            cur["loss"].iloc[-1],
            len(cur),
        )
    ax.set_yscale("log")
    ax.set_xlabel("SGD iteration")
    ax.set_ylabel("minibatch loss (data + reg · ΣW²)")
    ax.set_title(f"{model}: training loss of the best runs", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    save_figure(fig, sm.output.fig)


run_job(snakemake, main)
