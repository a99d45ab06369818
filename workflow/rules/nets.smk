# Two-layer and deep fully-connected nets on CIFAR-10 (spec: "Two-layer net", "Fully-connected
# nets of any depth"): the course's gradient check, the figures of the net tables
# (config `experiments:` twolayer_*, fc_*, bn_*, ln_width, dropout), a summary table next to
# the anchors, and the evidence for questions twolayer-1/2, fcnet-1/2, bn-1..4, dropout-1/2.
# The training runs themselves are jobs of runs.smk (one per run); this file only reads
# their outputs, except nets_step_sizes (fcnet-2), which retrains two small runs of the
# fc_optimizers table to record the optimizer state per iteration.
# Resources are sized from results/benchmarks/nets/ of a full-config run on 2 cores: every job
# here takes 2-12 s; peak RSS ~120 MB for the figures and most questions, 260 MB for the
# first-layer weights, 0.7 GB for nets_step_sizes (reads centered.npz), 0.96 GB for bn-3
# (5,000 images in float64, several transforms).

NETS_DIR = f"{RESULTS}/nets"
NETS_FIG = f"{RESULTS}/figures/nets"
Q_FIG = f"{RESULTS}/figures/questions"
NETS_LOGS = f"{LOGS}/nets"
NETS_BENCH = f"{BENCH}/nets"

# figure name -> the tables it draws (every figure reads runs.csv, curves.csv and loss.csv)
NETS_FIGURES = {
    "twolayer_default_curves": ["twolayer_default"],
    "twolayer_weights": ["twolayer_search"],
    "twolayer_search": ["twolayer_search"],
    "fc_overfit": ["fc_overfit"],
    "fc_init_scale": ["fc_init_scale"],
    "fc_optimizers": ["fc_optimizers"],
    "bn_init_scale": ["bn_init_scale"],
    "bn_batch_size": ["bn_batch_size"],
    "ln_width": ["ln_width"],
    "dropout_curves": ["dropout"],
    "fc_best_curves": ["fc_best"],
}
NETS_TABLES = [
    "twolayer_default",
    "twolayer_search",
    "twolayer_data_size",
    "fc_overfit",
    "fc_init_scale",
    "fc_optimizers",
    "bn_init_scale",
    "bn_batch_size",
    "ln_width",
    "dropout",
    "fc_best",
]
# question id -> the tables whose outputs it needs (none: computed from scratch / the data)
NETS_QUESTIONS = {
    "twolayer-1": ["twolayer_default", "twolayer_search"],
    "twolayer-2": ["twolayer_data_size", "twolayer_search"],
    "fcnet-1": ["fc_init_scale"],
    "fcnet-2": ["fc_optimizers"],
    "bn-1": ["bn_init_scale"],
    "bn-2": ["bn_batch_size"],
    "bn-3": [],
    "bn-4": ["ln_width"],
    "dropout-1": ["dropout"],
    "dropout-2": ["dropout"],
}
# anchors.csv model each table is compared with in results/nets/summary.csv
NETS_ANCHORS = {
    "twolayer_default": "two-layer net",
    "twolayer_search": "two-layer net",
    "twolayer_data_size": "two-layer net",
    "fc_best": "fully-connected net",
}
# The course's gradient check (FullyConnectedNets.ipynb / BatchNormalization.ipynb / Dropout.ipynb)
NETS_GRADCHECK = {
    "N": 2,
    "D": 15,
    "C": 10,
    "hidden_dims": [20, 30],
    "h": 1e-5,
    "seed": 0,
    "weight_scale": 5e-2,
    "dropout_seed": 123,
    "tolerance": 1e-5,
    "loss_N": 500,
    "loss_tolerance": 0.05,
    "cases": [
        {
            "name": f"{norm}{'' if keep == 1 else f', dropout keep {keep:g}'}, reg {reg:g}",
            "normalization": norm,
            "reg": reg,
            "dropout_keep": keep,
        }
        for norm, keep in [
            ("none", 1.0),
            ("batchnorm", 1.0),
            ("layernorm", 1.0),
            ("none", 0.5),
            ("none", 0.75),
        ]
        for reg in [0.0, 3.14]
    ],
}


def _nets_has(tables):
    return all(t in EXPERIMENTS for t in tables)


def _nets_figs(directory, name):
    return expand(f"{directory}/{name}.{{fmt}}", fmt=FIG_FORMATS)


def _nets_table_files(tables, names=("runs.csv", "curves.csv", "loss.csv")):
    return [f"{RESULTS}/experiments/{t}/{n}" for t in tables for n in names]


def _nets_run_files(table, kind):
    return [f"{RESULTS}/runs/{r['run']}/{kind}" for r in EXPERIMENTS[table]]


def _nets_qrule(qid):
    return "question_" + qid.replace("-", "_")


def nets_targets():
    """The nets stage's final outputs (registered in STAGE_TARGETS for rule all)."""
    out = [f"{NETS_DIR}/gradcheck.json"]
    tables = [t for t in NETS_TABLES if t in EXPERIMENTS]
    if tables:
        out.append(f"{NETS_DIR}/summary.csv")
    for fig, tabs in NETS_FIGURES.items():
        if _nets_has(tabs):
            out += _nets_figs(NETS_FIG, fig)
    for qid, tabs in NETS_QUESTIONS.items():
        if _nets_has(tabs):
            out.append(f"{RESULTS}/questions/{qid}.json")
            out += _nets_figs(Q_FIG, qid)
    return out


STAGE_TARGETS.append(nets_targets)


rule nets:
    """Every output of the nets stage (and the training runs it needs): `snakemake nets`."""
    input:
        nets_targets(),


rule nets_gradcheck:
    """Numerical gradient check (float64, centred differences) of a [20, 30] net on random
    data, with reg 0 and 3.14, batch norm, layer norm and dropout (fixed masks); initial
    loss of a fresh net vs -log(1/C)."""
    output:
        json=f"{NETS_DIR}/gradcheck.json",
    log:
        f"{NETS_LOGS}/gradcheck.log",
    benchmark:
        f"{NETS_BENCH}/gradcheck.tsv"
    threads: 1
    resources:
        mem_mb=300,
        runtime=3,
    params:
        settings=NETS_GRADCHECK,
    script:
        "../scripts/nets_gradcheck.py"


def _nets_figure_inputs(wc):
    tables = NETS_FIGURES[wc.fig]
    out = {"tables": _nets_table_files(tables)}
    if wc.fig == "twolayer_weights":
        out["best"] = f"{RESULTS}/experiments/twolayer_search/best.json"
        out["params"] = _nets_run_files("twolayer_search", "params.npz")
    return out


rule nets_figure:
    """One figure of the net tables (see NETS_FIGURES and workflow/scripts/nets_figures.py)."""
    input:
        unpack(_nets_figure_inputs),
    output:
        fig=report(
            expand(f"{NETS_FIG}/{{{{fig}}}}.{{fmt}}", fmt=FIG_FORMATS),
            caption="../../report/captions/nets_figure.rst",
            category="Nets",
            subcategory="{fig}",
        ),
    log:
        f"{NETS_LOGS}/figure_{{fig}}.log",
    benchmark:
        f"{NETS_BENCH}/figure_{{fig}}.tsv"
    wildcard_constraints:
        fig="|".join(NETS_FIGURES),
    threads: 1
    resources:
        mem_mb=500,
        runtime=3,
    params:
        tables=lambda wc: NETS_FIGURES[wc.fig],
        runs=lambda wc: {
            t: [
                {"variant": r["variant"], "run": r["run"], "spec": r["spec"]}
                for r in EXPERIMENTS[t]
            ]
            for t in NETS_FIGURES[wc.fig]
        },
    script:
        "../scripts/nets_figures.py"


def _nets_summary_inputs(wc):
    tables = [t for t in NETS_TABLES if t in EXPERIMENTS]
    return {
        "runs": [f"{RESULTS}/experiments/{t}/runs.csv" for t in tables],
        "best": [
            f"{RESULTS}/experiments/{t}/best.json"
            for t in tables
            if config["experiments"][t]["select"]
        ],
        "anchors": f"{REPO}/report/reference/anchors.csv",
        "provenance": f"{RESULTS}/data/cifar10.provenance.json",
    }


rule nets_summary:
    """results/nets/summary.csv: per net table the best variant by validation accuracy, its
    train/val accuracy, the test accuracy of best.json where the table selects, and the
    anchors.csv reference with the protocol difference."""
    input:
        unpack(_nets_summary_inputs),
    output:
        csv=f"{NETS_DIR}/summary.csv",
    log:
        f"{NETS_LOGS}/summary.log",
    benchmark:
        f"{NETS_BENCH}/summary.tsv"
    threads: 1
    resources:
        mem_mb=400,
        runtime=3,
    params:
        tables=lambda wc: [
            {
                "table": t,
                "description": config["experiments"][t].get("description", ""),
                "select": config["experiments"][t]["select"],
                "num_runs": len(EXPERIMENTS[t]),
            }
            for t in NETS_TABLES
            if t in EXPERIMENTS
        ],
        anchors=NETS_ANCHORS,
        data=config["data"]["cifar10"],
    script:
        "../scripts/nets_summary.py"


def _nets_step_specs():
    recs = {r["variant"]: r for r in EXPERIMENTS.get("fc_optimizers", [])}
    return [{"variant": v, "spec": recs[v]["spec"]} for v in ("adagrad", "adam") if v in recs]


rule nets_step_sizes:
    """fcnet-2: retrain the fc_optimizers table's AdaGrad and Adam runs (same specs) and
    record per iteration and weight matrix |dW|/|W| and the per-coordinate learning rate
    lr / (sqrt(cache) + eps) the rule applied."""
    input:
        data=f"{RESULTS}/prep/cifar10/centered.npz",
    output:
        csv=f"{NETS_DIR}/step_sizes.csv",
    log:
        f"{NETS_LOGS}/step_sizes.log",
    benchmark:
        f"{NETS_BENCH}/step_sizes.tsv"
    threads: 1
    resources:
        mem_mb=1200,
        runtime=5,
    params:
        runs=_nets_step_specs(),
    script:
        "../scripts/nets_step_sizes.py"


def _nets_question_inputs(qid):
    def inputs(wc):
        tabs = NETS_QUESTIONS[qid]
        out = {"tables": _nets_table_files(tabs)}
        if qid == "twolayer-1":
            out["history"] = _nets_run_files("twolayer_default", "history.npz") + _nets_run_files(
                "twolayer_search", "history.npz"
            )
            out["best"] = f"{RESULTS}/experiments/twolayer_search/best.json"
        elif qid == "fcnet-2":
            out["steps"] = f"{NETS_DIR}/step_sizes.csv"
        elif qid == "bn-3":
            out["split"] = f"{RESULTS}/prep/cifar10/split.npz"
        elif qid == "dropout-1":
            out["params"] = _nets_run_files("dropout", "params.npz")
            out["data"] = f"{RESULTS}/prep/cifar10/centered.npz"
        return out

    return inputs


def _nets_question_runs(qid):
    return {
        t: [{"variant": r["variant"], "run": r["run"], "spec": r["spec"]} for r in EXPERIMENTS[t]]
        for t in NETS_QUESTIONS[qid]
        if t in EXPERIMENTS
    }


# Settings of the question evidence (thresholds are stated in each JSON).
NETS_QSETTINGS = {
    "twolayer-1": {"x_min": -10.0, "x_max": 10.0, "points": 2001, "alpha": 0.01, "tol": 1e-3},
    "bn-1": {"trains_fraction": 0.5},
    "bn-3": {"num_images": 5000, "threshold": 127.5},
    "bn-4": {"small_widths": 1},  # "a very small feature dimension": the smallest width
    "dropout-1": {"seed": 0, "num_examples": 1000},
}

for _qid in NETS_QUESTIONS:

    rule:
        name:
            _nets_qrule(_qid)
        input:
            unpack(_nets_question_inputs(_qid)),
        output:
            json=f"{RESULTS}/questions/{_qid}.json",
            fig=report(
                _nets_figs(Q_FIG, _qid),
                caption=f"../../report/captions/question_{_qid.replace('-', '_')}.rst",
                category="Questions",
                subcategory=_qid,
            ),
        log:
            f"{NETS_LOGS}/question_{_qid}.log",
        benchmark:
            f"{NETS_BENCH}/question_{_qid}.tsv"
        threads: 1
        resources:
            mem_mb=1500 if _qid == "bn-3" else 500,
            runtime=3,
        params:
            qid=_qid,
            runs=_nets_question_runs(_qid),
            settings=NETS_QSETTINGS.get(_qid, {}),
        script:
            "../scripts/nets_questions.py"
