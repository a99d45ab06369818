"""The perceptron on two MNIST digits (results/extras/perceptron.csv + figure): updates
per epoch until an epoch without a mistake, and Novikoff's bound (R / gamma)^2 computed for
the separator the perceptron found (any separator with margin gamma bounds the number of
updates, so the count must not exceed it)."""

import json

import numpy as np
import pandas as pd

from nplab.perceptron import Perceptron
from nplab_io.figures import pyplot, save_figure
from nplab_io.jobs import run_job
from nplab_io.mnist import perceptron_summary
from nplab_io.tables import write_csv_atomic

plt = pyplot()


def main(sm, log):
    s = sm.params.settings
    neg, pos = (int(d) for d in s["digits"])
    with np.load(sm.input.data) as z:
        parts = {}
        for split in ("train", "test"):
            y = z[f"y_{split}"]
            keep = (y == neg) | (y == pos)
            parts[split] = (
                np.asarray(z[f"X_{split}"][keep], dtype=np.float64),
                (y[keep] == pos).astype(np.int64),
            )
        shape = tuple(int(v) for v in z["image_shape"]) if "image_shape" in z.files else None
    X, y = parts["train"]
    p = Perceptron(max_epochs=int(s["max_epochs"]), shuffle=True, seed=int(s["seed"])).fit(X, y)
    info = perceptron_summary(p, X, y, *parts["test"])
    row = {
        "digits": f"{neg} vs {pos}",
        "negative_digit": neg,
        "positive_digit": pos,
        **info,
        "mistakes_per_epoch": json.dumps(p.mistakes_per_epoch_),
    }
    log.info("perceptron: %s", row)
    write_csv_atomic(sm.output.csv, pd.DataFrame([row]), float_format="%.6g")

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    ep = np.arange(1, len(p.mistakes_per_epoch_) + 1)
    a = axes[0]
    m = np.asarray(p.mistakes_per_epoch_, dtype=float)
    a.bar(ep[m > 0], m[m > 0], color="C0", label="mistakes (= updates) in the epoch")
    a.plot(ep, np.cumsum(p.mistakes_per_epoch_), "-o", color="C1", ms=3, label="total updates")
    for key, color, ls, separator in [
        ("bound", "C3", "--", "its own separator"),
        ("mean_diff_bound", "C2", ":", "class-mean separator"),
    ]:
        if np.isfinite(info[key]):
            label = f"(R/gamma)^2 = {info[key]:.3g}, {separator}"
            a.axhline(info[key], color=color, ls=ls, label=label)
    a.set_yscale("log")
    a.set_xlabel("epoch")
    a.set_ylabel("count")
    a.legend(fontsize=7)
    a.set_title(
        f"digits {neg} vs {pos}: {info['n_updates']} updates, "
        f"{'converged' if info['converged'] else 'not converged'} after {info['epochs']} epochs",
        fontsize=8,
    )
    img = p.w_.reshape(shape[:2]) if shape and int(np.prod(shape)) == p.w_.size else p.w_[None, :]
    lim = float(np.abs(img).max()) or 1.0
    im = axes[1].imshow(img, cmap="RdBu_r", vmin=-lim, vmax=lim)
    axes[1].set_title(f"learnt w (red: evidence for {pos}, blue: for {neg})", fontsize=8)
    axes[1].axis("off")
    fig.colorbar(im, ax=axes[1], fraction=0.046)
    fig.tight_layout()
    save_figure(fig, sm.output.fig)


run_job(snakemake, main)
