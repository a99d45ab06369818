"""The CS231n ConvolutionalNetworks sanity values, float64 (rule cnn_checks).

The job's body is nplab_io.stages.cnn_checks.main."""

from nplab_io.jobs import run_job
from nplab_io.stages.cnn_checks import main

run_job(snakemake, main)
