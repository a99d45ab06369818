"""Mean image of the TRAIN split only (float64)."""

import numpy as np

from nplab.preprocess import mean_image
from nplab_io.atomic import save_npz_atomic
from nplab_io.jobs import run_job


def main(sm, log):
    with np.load(sm.input.npz) as z:
        x_train = z["X_train"]
        shape = z["image_shape"]
    mean = mean_image(x_train, dtype=np.float64)
    save_npz_atomic(sm.output.npz, mean=mean, image_shape=shape, n_train=np.int64(len(x_train)))
    log.info("mean image from %d training images; overall mean %.4f", len(x_train), mean.mean())


run_job(snakemake, main)
