# nplab — a reproducible image-classification lab.
#   snakemake --cores 2                                  (full lab, canonical hosts)
#   snakemake --cores 2 --config mirror=../shared/datasets   (offline mirror)
#   snakemake --cores 2 --configfile config/quick.yaml   (same DAG, small subsets)
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/knn.smk"
include: "workflow/rules/runs.smk"
include: "workflow/rules/nets.smk"
include: "workflow/rules/linear.smk"
include: "workflow/rules/mnist.smk"
include: "workflow/rules/cnn.smk"
include: "workflow/rules/questions.smk"
include: "workflow/rules/report.smk"  # last: it gathers every stage's targets


rule all:
    default_target: True
    input:
        all_targets(),
