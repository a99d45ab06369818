"""Naive vs fast convolution and pooling, and the fast convolution against a plain matrix.

The job's body is nplab_io.stages.cnn_timing.main."""

from nplab_io.jobs import run_job
from nplab_io.stages.cnn_timing import main

run_job(snakemake, main)
