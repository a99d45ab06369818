"""Class templates of the best SVM / softmax run (best.json of the wide grid).

The figure shows each class's weights as a 32x32x3 image (bias row stripped, all classes
rescaled together to 0-255, as the course does). The CSV holds, for every template and
every class, the Pearson correlation of the template with that class's mean training image
— centred (class mean minus the train mean image, the input the template actually sees)
and raw — in long form: template, image_class, corr_centered, corr_raw.
"""

import json
from pathlib import Path

import numpy as np
import pandas as pd

from nplab.linear_analysis import template_correlations, weights_to_images
from nplab_io.figures import pyplot, save_figure
from nplab_io.jobs import run_job
from nplab_io.tables import write_csv_atomic

plt = pyplot()


def best_weights(best_path, param_paths):
    with open(best_path, encoding="utf-8") as fh:
        best = json.load(fh)
    by_run = {Path(p).parent.name: p for p in param_paths}
    if best["run"] not in by_run:
        raise ValueError(f"{best_path}: run {best['run']} has no params.npz among the inputs")
    with np.load(by_run[best["run"]]) as z:
        W = np.asarray(z["W"], dtype=np.float64)
    return best, W


def main(sm, log):
    model = sm.wildcards.model
    best, W = best_weights(sm.input.best, sm.input.params)
    with np.load(sm.input.split) as z:
        shape = tuple(int(s) for s in z["image_shape"])
        names = [str(c) for c in z["class_names"]]
        Xtr, ytr = z["X_train"], z["y_train"]
        C = len(names)
        raw = np.stack([Xtr[ytr == k].mean(axis=0, dtype=np.float64) for k in range(C)])
    with np.load(sm.input.mean) as z:
        mu = np.asarray(z["mean"], dtype=np.float64)
    if W.shape != (int(np.prod(shape)) + 1, C):
        raise ValueError(
            f"{best['run']}: W has shape {W.shape}, expected "
            f"({int(np.prod(shape)) + 1}, {C}) (pixels + bias row)"
        )
    templates = W[:-1].T  # (C, 3072)
    corr_c = template_correlations(templates, raw - mu)
    corr_r = template_correlations(templates, raw)
    rows = [
        {
            "model": model,
            "table": best["table"],
            "run": best["run"],
            "template": names[i],
            "image_class": names[k],
            "corr_centered": corr_c[i, k],
            "corr_raw": corr_r[i, k],
        }
        for i in range(C)
        for k in range(C)
    ]
    write_csv_atomic(sm.output.csv, pd.DataFrame(rows), float_format="%.10g")

    imgs = weights_to_images(W, shape)
    fig, axes = plt.subplots(2, (C + 1) // 2, figsize=(1.6 * ((C + 1) // 2), 4.0))
    for i, ax in enumerate(axes.ravel()):
        ax.axis("off")
        if i < C:
            ax.imshow(imgs[i].astype(np.uint8), interpolation="nearest")
            ax.set_title(f"{names[i]}\nr = {corr_c[i, i]:.2f}", fontsize=8)
    fig.suptitle(
        f"{model} class templates (best of {best['table']}: {best['variant']}, "
        f"test acc {best['test_acc']:.3f}); r = correlation with the class's "
        f"centred mean image",
        fontsize=8.5,
    )
    save_figure(fig, sm.output.fig)
    own = np.diag(corr_c)
    log.info(
        "%s: own-class centred correlation mean %.3f, argmax on the diagonal for %d of %d",
        model,
        own.mean(),
        int(np.sum(corr_c.argmax(axis=1) == np.arange(C))),
        C,
    )


run_job(snakemake, main)
