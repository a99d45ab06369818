# Shared by all the stage files: config validation (before any job runs), paths, and every
# helper their rules call (input functions, targets, resources). The stage files hold the
# rules and the wiring constants they need (paths, which figure reads which tables); the
# lab's design is in the config. Pure logic lives in src/nplab_io/workflow_plan.py.
import glob
import json
import sys
from pathlib import Path

from nplab_io.codehash import code_digest
from nplab_io.config import ConfigError, check_runs, load_yaml, validate_config
from nplab_io import smk_locks, sources
from nplab_io import workflow_plan as plan
from nplab_io.download import source_identity
from nplab_io.runs import DATA_SOURCES, expand_experiments
from nplab_io.evidence.io import TABLE_FILES
from nplab_io.evidence.registry import has_evidence_module, load_registry

_SCHEMA = load_yaml(Path(workflow.basedir) / "workflow" / "schemas" / "config.schema.yaml")
try:
    _validated = validate_config(config, _SCHEMA)
    # The lab's design (nets, linear, mnist, cnn) has no schema defaults: config.yaml
    # states it, and an overlay such as quick.yaml inherits it.
    for _section, _sub in _SCHEMA["properties"].items():
        if "default" not in _sub and _section not in _validated:
            raise ConfigError(
                f"config error: {_section}: missing (the lab's design; see config/config.yaml)"
            )
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
# Every rule runs in the project's conda environment with --software-deployment-method
# conda (a path relative to the rule files in workflow/rules/)
CONDA_ENV = "../../envs/nplab.yaml"
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
    """Digest of the code a job runs, for its rule's params (`code=script_code("split.py")`).

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
    prov = path.with_name(f"{path.name}.provenance.json")
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


# ---------------------------------------------------------------- shared path helpers
def figures(directory, name):
    """One figure in every configured format."""
    return expand(f"{directory}/{name}.{{fmt}}", fmt=FIG_FORMATS)


def tables_enabled(tables):
    return all(t in EXPERIMENTS for t in tables)


def experiment_files(tables, names):
    """The named files of each experiment table (results/experiments/<table>/<name>)."""
    return [f"{RESULTS}/experiments/{t}/{n}" for t in tables for n in names]


def run_files(table, filename):
    """One file of every run of a table (results/runs/<run>/<filename>)."""
    return [f"{RESULTS}/runs/{r['run']}/{filename}" for r in EXPERIMENTS[table]]


def run_records(tables):
    """Each enabled table -> its runs as {"variant", "run", "spec"} (a rule param)."""
    return plan.run_records(EXPERIMENTS, tables)


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
    if has_evidence_module(q["family"]) and tables_enabled(q.get("tables", []))
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
    return figures(QUESTION_FIG, qid)


def question_inputs(q):
    """The named inputs of a question's rule, from its registry entry."""
    tables = q.get("tables", [])
    out = {}
    if tables:
        out["tables"] = experiment_files(tables, q.get("table_files") or TABLE_FILES)
    for name, filename in q.get("run_files", {}).items():
        out[name] = [f for t in tables for f in run_files(t, filename)]
    for name, value in q.get("inputs", {}).items():
        paths = _results_paths(value)
        out[name] = paths[0] if isinstance(value, str) else paths
    return out


def question_extra_outputs(q):
    return {name: f"{RESULTS}/{path}" for name, path in q.get("outputs", {}).items()}


def question_runs(q):
    """Each of the question's tables -> its run records (variant, run id, spec)."""
    return run_records(q.get("tables", []))


def question_settings(q):
    """The entry's settings plus those it reads from the config (dotted keys)."""
    settings = dict(q.get("settings", {}))
    for name, dotted in q.get("config_settings", {}).items():
        value = config
        for key in dotted.split("."):
            value = value[key]
        settings[name] = value
    return settings


def question_targets():
    out = []
    for qid in QUESTIONS_ON:
        out.append(f"{RESULTS}/questions/{qid}.json")
        out += question_figures(qid)
    return out


# ---------------------------------------------------------------- training runs (runs.smk)
# Resources and priorities: src/nplab_io/workflow_plan.py, from the run's spec.
def run_spec(wc):
    return RUNS[wc.run]["spec"]


def run_data(wc):
    return f"{RESULTS}/{DATA_SOURCES[run_spec(wc)['data']]}"


def run_mem_mb(wc):
    return plan.run_mem_mb(run_spec(wc))


def run_runtime_min(wc):
    return plan.run_runtime_min(run_spec(wc))


def run_priority(wc):
    return plan.run_priority(run_spec(wc))


def cnn_mem_mb(wc):
    return plan.cnn_mem_mb(run_spec(wc), config["data"]["cifar10"])


def cnn_runtime_min(wc):
    return plan.cnn_runtime_min(run_spec(wc), config["data"]["cifar10"])


def cnn_priority(wc):
    return plan.cnn_priority(run_spec(wc), RUNS[wc.run]["threads"], config["data"]["cifar10"])


def cnn_inputs(wc):
    """The pixels, and a transfer run's source parameters."""
    spec = run_spec(wc)
    out = {"data": run_data(wc)}
    if spec["init_run"] is not None:
        out["init"] = f"{RESULTS}/runs/{spec['init_run']}/params.npz"
    return out


def table_run_files(filename):
    """Input function: one file of every run of the wildcards' table."""
    return lambda wc: run_files(wc.table, filename)


def experiment_targets(tables=None):
    out = []
    for table in tables if tables is not None else EXPERIMENTS:
        if table not in EXPERIMENTS:
            continue
        out.append(f"{RESULTS}/experiments/{table}/runs.csv")
        if config["experiments"][table]["select"]:
            out.append(f"{RESULTS}/experiments/{table}/best.json")
    return out


# ---------------------------------------------------------------- kNN (knn.smk)
def knn_targets():
    """The kNN stage's final outputs (registered in STAGE_TARGETS for rule all)."""
    out = [
        f"{KNN_DIR}/course_methods.csv",
        f"{KNN_DIR}/course_methods.json",
        f"{KNN_DIR}/course_cv.csv",
        f"{KNN_DIR}/course_cv_summary.csv",
        f"{KNN_DIR}/course_best.json",
        f"{KNN_DIR}/full_train.csv",
        f"{KNN_DIR}/timing.csv",
        f"{KNN_DIR}/transforms.csv",
    ]
    for name in ["distance_matrix", "course_cv", "full_train"]:
        out += figures(KNN_FIG, name)
    return out + family_question_targets("knn")


# ---------------------------------------------------------------- nets (nets.smk)
def nets_targets():
    """The nets stage's final outputs (registered in STAGE_TARGETS for rule all)."""
    out = [f"{NETS_DIR}/gradcheck.json"]
    tables = [t for t in NETS_TABLES if t in EXPERIMENTS]
    if tables:
        out.append(f"{NETS_DIR}/summary.csv")
    for fig, tabs in NETS_FIGURES.items():
        if tables_enabled(tabs):
            out += figures(NETS_FIG, fig)
    return out + family_question_targets("nets")


def nets_figure_inputs(wc):
    tables = NETS_FIGURES[wc.fig]
    out = {"tables": experiment_files(tables, ("runs.csv", "curves.csv", "loss.csv"))}
    if wc.fig == "twolayer_weights":
        out["best"] = f"{RESULTS}/experiments/twolayer_search/best.json"
        out["params"] = run_files("twolayer_search", "params.npz")
    return out


def summary_inputs(tables):
    """Inputs of a stage summary (nets, linear): the enabled tables' runs.csv, best.json
    where the table selects, the anchors and the CIFAR-10 provenance."""
    tables = [t for t in tables if t in EXPERIMENTS]
    return {
        "runs": experiment_files(tables, ["runs.csv"]),
        "best": experiment_files(
            [t for t in tables if config["experiments"][t]["select"]], ["best.json"]
        ),
        "anchors": f"{REPO}/report/reference/anchors.csv",
        "provenance": f"{RESULTS}/data/cifar10.provenance.json",
    }


def summary_tables(tables, with_kind=False):
    """The params of a stage summary: each enabled table's description, select, run count
    (and kind)."""
    out = []
    for t in tables:
        if t not in EXPERIMENTS:
            continue
        info = {"table": t}
        if with_kind:
            info["kind"] = EXPERIMENTS[t][0]["kind"]
        info["description"] = config["experiments"][t].get("description", "")
        info["select"] = config["experiments"][t]["select"]
        info["num_runs"] = len(EXPERIMENTS[t])
        out.append(info)
    return out


def nets_step_specs():
    """fcnet-2: the specs of the fc_optimizers table's AdaGrad and Adam runs."""
    recs = {r["variant"]: r for r in EXPERIMENTS.get("fc_optimizers", [])}
    return [{"variant": v, "spec": recs[v]["spec"]} for v in ("adagrad", "adam") if v in recs]


# ---------------------------------------------------------------- linear (linear.smk)
def linear_targets():
    """The linear/features stage's final outputs (registered in STAGE_TARGETS)."""
    out = [f"{LINEAR_DIR}/checks.json", f"{LINEAR_DIR}/timings.json"]
    for t in LINEAR_GRID_TABLES:
        if t in EXPERIMENTS:
            out += figures(LINEAR_FIG, f"{t}_heatmap")
    if [t for t in LINEAR_SUMMARY_TABLES if t in EXPERIMENTS]:
        out.append(f"{LINEAR_DIR}/summary.csv")
    for model, table in LINEAR_WIDE.items():
        if table in EXPERIMENTS:
            out += figures(LINEAR_FIG, f"{model}_weights")
            out += figures(LINEAR_FIG, f"{model}_loss")
            out.append(f"{LINEAR_DIR}/{model}_templates.csv")
    if tables_enabled(FEATURES_ERROR_TABLES):
        out.append(f"{FEAT_DIR}/misclassified.csv")
        for t in FEATURES_ERROR_TABLES:
            out += figures(FEAT_FIG, f"{t}_confusion")
            out += figures(FEAT_FIG, f"{t}_misclassified")
    return out + family_question_targets("linear")


def linear_loss_inputs(wc):
    tables = [LINEAR_WIDE[wc.model]] + [t for t in [LINEAR_COURSE[wc.model]] if t in EXPERIMENTS]
    return {
        "loss": experiment_files(tables, ["loss.csv"]),
        "best": experiment_files(tables, ["best.json"]),
    }


# ---------------------------------------------------------------- MNIST (mnist.smk)
def mnist_enabled(names):
    """Both tables (faithful, tuned) of every named write-up table are enabled."""
    return all(t in EXPERIMENTS for n in names for t in MNIST_TABLES[n])


def mnist_table_files(names, kinds=("runs.csv", "curves.csv", "loss.csv", "timings.csv")):
    return experiment_files([t for n in names for t in MNIST_TABLES[n]], kinds)


def mnist_targets():
    """The MNIST stage's final outputs (registered in STAGE_TARGETS for rule all)."""
    out = []
    for name in MNIST_TABLES:
        if mnist_enabled([name]):
            out.append(f"{MNIST_DIR}/{name}.csv")
    if "mnist_best" in EXPERIMENTS and mnist_enabled(list(MNIST_TABLES)):
        out.append(f"{MNIST_DIR}/best.csv")
    for fig, names in MNIST_FIGURES.items():
        if mnist_enabled(names):
            out += figures(MNIST_FIG, fig)
    for name, table in EXTRAS.items():
        if table in EXPERIMENTS:
            out.append(f"{EXTRAS_DIR}/{name}.csv")
            out += figures(EXTRAS_FIG, name)
    out.append(f"{EXTRAS_DIR}/perceptron.csv")
    out += figures(EXTRAS_FIG, "perceptron")
    return out + family_question_targets("mnist")


def mnist_figure_inputs(wc):
    names = MNIST_FIGURES[wc.fig]
    out = {"tables": mnist_table_files(names)}
    if wc.fig == "batching_time":
        out["timing"] = [
            f for n in names for t in MNIST_TABLES[n] for f in run_files(t, "timing.json")
        ]
    return out


def extras_inputs(wc):
    table = EXTRAS[wc.extra]
    out = {
        "tables": experiment_files([table], ("runs.csv", "curves.csv", "loss.csv", "timings.csv"))
    }
    if wc.extra == "init":
        out["history"] = run_files(table, "history.npz")
    return out


# ---------------------------------------------------------------- CNN (cnn.smk)
def cnn_targets():
    """The CNN stage's final outputs (registered in STAGE_TARGETS for rule all)."""
    out = [f"{CNN_DIR}/checks.json", f"{CNN_DIR}/timing.json"]
    out += experiment_files([t for t in CNN_TABLES if t in EXPERIMENTS], TABLE_FILES)
    for fig, (_, table) in CNN_FIGURES.items():
        if table in EXPERIMENTS:
            out += figures(CNN_FIG, fig)
    return out + family_question_targets("cnn")


def table_description(table):
    return config["experiments"][table].get("description", "")


def cnn_figure_inputs(wc):
    kind, table = CNN_FIGURES[wc.fig]
    out = {"tables": experiment_files([table], TABLE_FILES)}
    if kind == "confusion":
        out["best"] = f"{RESULTS}/experiments/{table}/best.json"
    return out


def cnn_caption(wc):
    kind, table = CNN_FIGURES[wc.fig]
    return plan.cnn_caption(kind, table, table_description(table))


# ---------------------------------------------------------------- report (report.smk)
def config_name():
    """The config file(s) this run was given (--configfile), else the default one."""
    given = [Path(f).name for f in workflow.overwrite_configfiles or []]
    return ", ".join(given) or "config.yaml"
