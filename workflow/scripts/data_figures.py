"""Data figures: a per-class grid of random training images, and the train mean image."""

import json

import numpy as np

from nplab_io.figures import pyplot, save_figure
from nplab_io.jobs import run_job

plt = pyplot()


def main(sm, log):
    ds = sm.wildcards.dataset
    per_class = int(sm.params.per_class)
    rng = np.random.default_rng(int(sm.params.seed))
    with np.load(sm.input.npz) as z:
        x, y = z["X_train"], z["y_train"]
        shape = tuple(int(s) for s in z["image_shape"])
        names = [str(n) for n in z["class_names"]]
    with np.load(sm.input.mean) as m:
        mean = m["mean"]
    prov = json.loads(open(sm.input.provenance).read())
    cmap = "gray" if len(shape) == 2 else None
    n_cls = len(names)
    fig, axes = plt.subplots(per_class, n_cls, figsize=(n_cls * 0.9, per_class * 0.9))
    for c in range(n_cls):
        idx = np.flatnonzero(y == c)
        pick = rng.choice(idx, size=min(per_class, len(idx)), replace=False)
        for r in range(per_class):
            ax = axes[r, c]
            ax.axis("off")
            if r < len(pick):
                ax.imshow(x[pick[r]].reshape(shape), cmap=cmap, interpolation="nearest")
            if r == 0:
                ax.set_title(names[c], fontsize=8)
    title = f"{ds}: {per_class} random training images per class"
    if prov.get("lossy_mirror"):
        title += " (lossy mirror copy)"
    fig.suptitle(title, fontsize=9)
    save_figure(fig, sm.output.samples)
    fig, ax = plt.subplots(figsize=(3, 3))
    img = mean.reshape(shape)
    ax.imshow(np.clip(img, 0, 255).astype(np.uint8), cmap=cmap, interpolation="nearest")
    ax.set_title(f"{ds}: mean of {len(x)} train images", fontsize=8)
    ax.axis("off")
    save_figure(fig, sm.output.mean)
    log.info("figures written: %s", list(sm.output))


run_job(snakemake, main)
