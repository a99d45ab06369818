"""The mistakes of the feature-based models (best two-layer net and best SVM on HOG + hue).

The job's body is nplab_io.stages.features_errors.main."""

from nplab_io.jobs import run_job
from nplab_io.stages.features_errors import main

run_job(snakemake, main)
