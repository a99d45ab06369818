# Shared helpers: config validation (before any job runs), paths, resources.
import sys
from pathlib import Path

from nplab_io.config import ConfigError, load_yaml, validate_config
from nplab_io import sources
from nplab_io.runs import DATA_SOURCES, expand_experiments

_SCHEMA = load_yaml(Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml")
try:
    _validated = validate_config(config, _SCHEMA)
except ConfigError as _err:
    # One line, before any job runs; no traceback.
    print(str(_err), file=sys.stderr)
    sys.exit(1)
try:
    # table -> [{"variant", "run", "kind", "spec"}]; every run validated before any job runs
    EXPERIMENTS = expand_experiments(
        _validated["experiments"], seed=_validated["seed"], limits=_validated["limits"]
    )
except ConfigError as _err:
    print(str(_err), file=sys.stderr)
    sys.exit(1)
config.clear()
config.update(_validated)

# run id -> its record (a run shared by several tables trains once)
RUNS = {}
for _table, _recs in EXPERIMENTS.items():
    for _rec in _recs:
        _r = RUNS.setdefault(_rec["run"], dict(_rec, threads=1))
        _r["threads"] = max(_r["threads"], config["experiments"][_table]["threads"])

RESULTS = "results"
REPO = workflow.basedir  # files of the repository itself (templates, references)
LOGS = f"{RESULTS}/logs"
BENCH = f"{RESULTS}/benchmarks"
FIG_FORMATS = config["figures"]["formats"]

DATASETS = ["mnist", "cifar10"]
# Variants of the preprocessed arrays each dataset provides (see workflow/rules/data.smk).
PREP_VARIANTS = {
    "cifar10": ["pixels", "centered", "centered_bias"],
    "mnist": ["scaled"],
}


wildcard_constraints:
    dataset="|".join(DATASETS),
    variant="[a-z_]+",
    table="[a-z0-9_]+",


def raw_files(dataset):
    """The raw downloads of a dataset, as declared in nplab_io.sources."""
    return [f"{RESULTS}/data/raw/{dataset}/{name}" for name in sources.filenames(dataset)]


def data_targets():
    out = []
    for ds in DATASETS:
        out.append(f"{RESULTS}/data/{ds}.npz")
        out += [f"{RESULTS}/prep/{ds}/{v}.npz" for v in PREP_VARIANTS[ds]]
        out += expand(
            f"{RESULTS}/figures/data/{ds}_{{fig}}.{{fmt}}",
            fig=["samples", "mean_image"],
            fmt=FIG_FORMATS,
        )
    out.append(f"{RESULTS}/features/cifar10/features.npz")
    return out


# Each stage file appends a function returning its final targets.
STAGE_TARGETS = []


def all_targets():
    out = data_targets()
    for stage_targets in STAGE_TARGETS:
        out += stage_targets()
    return out
