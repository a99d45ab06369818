"""The course's checks of the linear classifiers on the dev split, in float64.

The job's body is nplab_io.stages.linear_checks.main."""

from nplab_io.jobs import run_job
from nplab_io.stages.linear_checks import main

run_job(snakemake, main)
