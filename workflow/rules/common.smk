# Shared helpers: config validation (before any job runs), paths, resources.
import glob
import json
import sys
from pathlib import Path

from nplab_io.codehash import code_digest
from nplab_io.config import ConfigError, check_runs, load_yaml, validate_config
from nplab_io import smk_locks, sources
from nplab_io.download import source_identity
from nplab_io.runs import DATA_SOURCES, expand_experiments
from nplab_io.evidence.io import TABLE_FILES
from nplab_io.evidence.registry import has_evidence_module, load_registry

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
    # sizes the config alone decides (num_train within its split, batch <= train set)
    check_runs(_validated, EXPERIMENTS)
except ConfigError as _err:
    print(str(_err), file=sys.stderr)
    sys.exit(1)
config.clear()
config.update(_validated)

# Several instances in one directory: Snakemake 9.27.1 removes every instance's locks when
# one exits; keep them (see src/nplab_io/smk_locks.py; jobs also lock themselves).
smk_locks.install()

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


# ---------------------------------------------------------------- what a job's result depends on
# Reruns follow content: every rule has a param `code=script_code("<its script>.py")`, a
# digest of the script and of every nplab / nplab_io module it imports (src/nplab_io/
# codehash.py), so an edit reruns exactly the jobs whose code changed (and what reads their
# outputs). The scripts' modification times are ignored (profiles/*: --rerun-triggers
# without `code`), so restoring identical content reruns nothing. Declared inputs
# (templates, reference tables) are compared by checksum when their mtime changes.
_CODE_DIGESTS = {}


def script_code(script, modules=(), files=(), dynamic=True):
    """Digest of the code a rule runs, for its params: `code=script_code("split.py")`.

    script: the file name under workflow/scripts/; modules: extra dotted modules the
    script loads by name (e.g. ["nplab_io.evidence.knn"]); files: repository files (paths
    relative to the repository root) the job reads without declaring them as input;
    dynamic=False: do not pull in a whole package for a module that imports by name
    (name those modules instead)."""
    key = (script, tuple(modules), tuple(files), dynamic)
    if key not in _CODE_DIGESTS:
        _CODE_DIGESTS[key] = code_digest(
            Path(REPO) / "workflow" / "scripts" / script,
            modules=modules,
            files=[Path(REPO) / f for f in files],
            dynamic=dynamic,
            base=REPO,
        )
    return _CODE_DIGESTS[key]


def download_identity(wc):
    """The download's identity: its source (mirror or canonical hosts) and the digest it
    must match (nplab_io.download.source_identity). A new mirror= or a changed mirror
    SHA256SUMS fetches again; without a mirror, verified files are kept as recorded."""
    path = Path(f"{RESULTS}/data/raw/{wc.dataset}/{wc.filename}")
    prov = path.with_name(path.name + ".provenance.json")
    recorded = None
    if path.is_file() and prov.is_file():
        try:
            recorded = json.loads(prov.read_text())
        except (OSError, ValueError):
            recorded = None
    return source_identity(wc.dataset, wc.filename, config["data"]["mirror"], recorded)


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


# ----------------------------------------------------------------------- questions
# The question registry: report/questions/<family>.yaml, computed by nplab_io.evidence.<family>.
QUESTIONS = load_registry(Path(REPO) / "report" / "questions")
QUESTIONS_BY_ID = {q["id"]: q for q in QUESTIONS}
QUESTION_FIG = f"{RESULTS}/figures/questions"
# The questions this config answers: their family has its evidence module and every
# experiment table they need is enabled.
QUESTIONS_ON = {
    q["id"]: q
    for q in QUESTIONS
    if has_evidence_module(q["family"]) and all(t in EXPERIMENTS for t in q.get("tables", []))
}


def _results_paths(value):
    values = [value] if isinstance(value, str) else list(value)
    return [f"{RESULTS}/{v}" for v in values]


def family_question_targets(family):
    """Evidence and figures of a family's enabled questions (for its stage target)."""
    out = []
    for qid, q in QUESTIONS_ON.items():
        if q["family"] == family:
            out += [f"{RESULTS}/questions/{qid}.json"] + question_figures(qid)
    return out


def question_figures(qid):
    return expand(f"{QUESTION_FIG}/{qid}.{{fmt}}", fmt=FIG_FORMATS)


def question_inputs(q):
    """The named inputs of a question's rule, from its registry entry."""
    tables = q.get("tables", [])
    files = q.get("table_files") or TABLE_FILES
    out = {}
    if tables:
        out["tables"] = [f"{RESULTS}/experiments/{t}/{f}" for t in tables for f in files]
    for name, filename in q.get("run_files", {}).items():
        out[name] = [f"{RESULTS}/runs/{r['run']}/{filename}" for t in tables for r in EXPERIMENTS[t]]
    for name, value in q.get("inputs", {}).items():
        paths = _results_paths(value)
        out[name] = paths[0] if isinstance(value, str) else paths
    return out


def question_extra_outputs(q):
    return {name: f"{RESULTS}/{path}" for name, path in q.get("outputs", {}).items()}


def question_runs(q):
    """Each of the question's tables -> its run records (variant, run id, spec)."""
    return {
        t: [{"variant": r["variant"], "run": r["run"], "spec": r["spec"]} for r in EXPERIMENTS[t]]
        for t in q.get("tables", [])
    }


def question_settings(q):
    """The entry's settings plus those it reads from the config (dotted keys)."""
    settings = dict(q.get("settings", {}))
    for name, dotted in q.get("config_settings", {}).items():
        value = config
        for key in dotted.split("."):
            value = value[key]
        settings[name] = value
    return settings
