"""One figure of the two-layer / deep fully-connected net tables (rule nets_figure).

The job's body is nplab_io.stages.nets_figures.main."""

from nplab_io.jobs import run_job
from nplab_io.stages.nets_figures import main

run_job(snakemake, main)
