# Linear classifiers (multiclass SVM, softmax) and image features on CIFAR-10 (spec: "Linear
# classifiers", "Image features"): the course's sanity values, gradient checks and naive vs
# vectorised comparison on the dev split, a heat map of every lr x reg grid, the summary next
# to the anchors, class-template images and loss curves of the best SVM / softmax, the
# confusion matrices and misclassified galleries of the feature models, and the evidence for
# questions svm-1/2, softmax-1/2/3 and features-1.
# The training runs are jobs of runs.smk (the `experiments:` tables svm_*, softmax_* and
# twolayer_features); this file only reads their outputs. Resources are sized from
# results/benchmarks/linear/ of a full-config run on 2 cores (every job here takes seconds;
# the jobs reading split.npz hold the 49,000 training images).

LINEAR_DIR = f"{RESULTS}/linear"
LINEAR_FIG = f"{RESULTS}/figures/linear"
FEAT_DIR = f"{RESULTS}/features"
FEAT_FIG = f"{RESULTS}/figures/features"
LINEAR_LOGS = f"{LOGS}/linear"
LINEAR_BENCH = f"{BENCH}/linear"
LINEAR_QFIG = f"{RESULTS}/figures/questions"

# the lr x reg grids (one heat map each)
LINEAR_GRID_TABLES = [
    "svm_course",
    "svm_wide",
    "svm_long",
    "softmax_course",
    "softmax_writeup",
    "softmax_wide",
    "softmax_long",
    "svm_features",
    "softmax_features",
]
# results/linear/summary.csv: the grids plus the two-layer net on the features
LINEAR_SUMMARY_TABLES = LINEAR_GRID_TABLES + ["twolayer_features"]
# the grid whose best run stands for each model (weight images, loss curve, questions)
LINEAR_WIDE = {"svm": "svm_wide", "softmax": "softmax_wide"}
LINEAR_COURSE = {"svm": "svm_course", "softmax": "softmax_course"}
# feature models whose mistakes are drawn (confusion matrix + misclassified gallery)
FEATURES_ERROR_TABLES = ["twolayer_features", "svm_features"]
# anchors.csv model each table is compared with
LINEAR_ANCHORS = {
    "svm_course": "linear svm",
    "svm_wide": "linear svm",
    "svm_long": "linear svm",
    "softmax_course": "softmax",
    "softmax_writeup": "softmax",
    "softmax_wide": "softmax",
    "softmax_long": "softmax",
    "svm_features": "linear svm on hog+hsv",
    "softmax_features": "linear svm on hog+hsv",
    "twolayer_features": "two-layer net on hog+hsv",
}
# The lab's accuracy goals (TEST accuracy of the table's best run; full config).
LINEAR_GOALS = {
    "svm_wide": 0.39,
    "svm_long": 0.39,
    "softmax_wide": 0.40,
    "softmax_long": 0.40,
    "twolayer_features": 0.60,
}
# The course's checks (svm.ipynb / softmax.ipynb) on the dev split, float64.
LINEAR_CHECKS = {
    "seed": 0,
    "weight_scale": 1e-4,
    "delta": 1.0,
    "regs": [0.0, 50.0],
    "h": 1e-5,
    "num_checks": 20,
    "tolerance": 1e-6,
    "timing_repeats": 3,
}
# question id -> the tables whose outputs it needs
LINEAR_QUESTIONS = {
    "svm-1": [],
    "svm-2": ["svm_wide"],
    "softmax-1": [],
    "softmax-2": ["svm_wide", "softmax_wide"],
    "softmax-3": ["softmax_wide"],
    "features-1": ["twolayer_features", "svm_features"],
}
LINEAR_QSETTINGS = {
    # gradient check of the SVM at a small random W (margins ~ delta) on a few hundred dev rows
    "svm-1": {
        "deltas": [0.0, 0.5, 1.0, 5.0, 10.0],
        "num_rows": 300,
        "num_coords": 300,
        "weight_scale": 1e-4,
        "h": 1e-5,
        "mismatch_tol": 1e-6,
        "seed": 0,
    },
    "softmax-1": {"weight_scales": [1e-4, 1e-3, 1e-2], "seed": 0},
    "softmax-2": {},
    "features-1": {
        "top_k": 5,
        "groups": {
            "vehicles": ["airplane", "automobile", "ship", "truck"],
            "animals": ["bird", "cat", "deer", "dog", "frog", "horse"],
        },
    },
}


def _linear_has(tables):
    return all(t in EXPERIMENTS for t in tables)


def _linear_figs(directory, name):
    return expand(f"{directory}/{name}.{{fmt}}", fmt=FIG_FORMATS)


def _linear_run_files(table, kind):
    return [f"{RESULTS}/runs/{r['run']}/{kind}" for r in EXPERIMENTS[table]]


def _linear_runs(table):
    return [
        {"variant": r["variant"], "run": r["run"], "spec": r["spec"]} for r in EXPERIMENTS[table]
    ]


def _linear_qrule(qid):
    return "question_" + qid.replace("-", "_")


def linear_targets():
    """The linear/features stage's final outputs (registered in STAGE_TARGETS)."""
    out = [f"{LINEAR_DIR}/checks.json", f"{LINEAR_DIR}/timings.json"]
    grids = [t for t in LINEAR_GRID_TABLES if t in EXPERIMENTS]
    for t in grids:
        out += _linear_figs(LINEAR_FIG, f"{t}_heatmap")
    if [t for t in LINEAR_SUMMARY_TABLES if t in EXPERIMENTS]:
        out.append(f"{LINEAR_DIR}/summary.csv")
    for model, table in LINEAR_WIDE.items():
        if table in EXPERIMENTS:
            out += _linear_figs(LINEAR_FIG, f"{model}_weights")
            out += _linear_figs(LINEAR_FIG, f"{model}_loss")
            out.append(f"{LINEAR_DIR}/{model}_templates.csv")
    if _linear_has(FEATURES_ERROR_TABLES):
        out.append(f"{FEAT_DIR}/misclassified.csv")
        for t in FEATURES_ERROR_TABLES:
            out += _linear_figs(FEAT_FIG, f"{t}_confusion")
            out += _linear_figs(FEAT_FIG, f"{t}_misclassified")
    for qid, tabs in LINEAR_QUESTIONS.items():
        if _linear_has(tabs):
            out.append(f"{RESULTS}/questions/{qid}.json")
            out += _linear_figs(LINEAR_QFIG, qid)
    return out


STAGE_TARGETS.append(linear_targets)


rule linear:
    """Every output of the linear/features stage (and the runs it needs): `snakemake linear`."""
    input:
        linear_targets(),


rule linear_checks:
    """Sanity values, numerical gradient checks (float64, centred differences) and naive vs
    vectorised SVM / softmax on the dev split; wall times go to their own file."""
    input:
        data=f"{RESULTS}/prep/cifar10/centered_bias.npz",
    output:
        json=f"{LINEAR_DIR}/checks.json",
        timings=f"{LINEAR_DIR}/timings.json",
    log:
        f"{LINEAR_LOGS}/checks.log",
    benchmark:
        f"{LINEAR_BENCH}/checks.tsv"
    threads: 1
    resources:
        mem_mb=400,
        runtime=5,
    params:
        settings=LINEAR_CHECKS,
    script:
        "../scripts/linear_checks.py"


rule linear_heatmap:
    """Validation accuracy of every lr x reg point of one grid table (diverged points marked)."""
    input:
        runs=f"{RESULTS}/experiments/{{table}}/runs.csv",
        best=f"{RESULTS}/experiments/{{table}}/best.json",
    output:
        fig=report(
            expand(f"{LINEAR_FIG}/{{{{table}}}}_heatmap.{{fmt}}", fmt=FIG_FORMATS),
            caption="../../report/captions/linear_heatmap.rst",
            category="Linear classifiers",
            subcategory="{table}",
        ),
    log:
        f"{LINEAR_LOGS}/heatmap_{{table}}.log",
    benchmark:
        f"{LINEAR_BENCH}/heatmap_{{table}}.tsv"
    wildcard_constraints:
        table="|".join(LINEAR_GRID_TABLES),
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        description=lambda wc: config["experiments"][wc.table].get("description", ""),
    script:
        "../scripts/linear_heatmap.py"


def _linear_summary_inputs(wc):
    tables = [t for t in LINEAR_SUMMARY_TABLES if t in EXPERIMENTS]
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


rule linear_summary:
    """results/linear/summary.csv: per table the best variant by validation accuracy, its
    test accuracy from best.json, the anchors.csv reference, the protocol difference and the
    lab's accuracy goal where there is one."""
    input:
        unpack(_linear_summary_inputs),
    output:
        csv=f"{LINEAR_DIR}/summary.csv",
    log:
        f"{LINEAR_LOGS}/summary.log",
    benchmark:
        f"{LINEAR_BENCH}/summary.tsv"
    threads: 1
    resources:
        mem_mb=400,
        runtime=3,
    params:
        tables=lambda wc: [
            {
                "table": t,
                "kind": EXPERIMENTS[t][0]["kind"],
                "description": config["experiments"][t].get("description", ""),
                "select": config["experiments"][t]["select"],
                "num_runs": len(EXPERIMENTS[t]),
            }
            for t in LINEAR_SUMMARY_TABLES
            if t in EXPERIMENTS
        ],
        anchors=LINEAR_ANCHORS,
        goals=LINEAR_GOALS,
        data=config["data"]["cifar10"],
    script:
        "../scripts/linear_summary.py"


rule linear_weights:
    """Class templates of the best SVM / softmax run (bias row stripped, 32x32x3, rescaled to
    0-255) and their correlation with every class's mean training image."""
    input:
        best=lambda wc: f"{RESULTS}/experiments/{LINEAR_WIDE[wc.model]}/best.json",
        params=lambda wc: _linear_run_files(LINEAR_WIDE[wc.model], "params.npz"),
        split=f"{RESULTS}/prep/cifar10/split.npz",
        mean=f"{RESULTS}/prep/cifar10/mean_image.npz",
    output:
        fig=report(
            expand(f"{LINEAR_FIG}/{{{{model}}}}_weights.{{fmt}}", fmt=FIG_FORMATS),
            caption="../../report/captions/linear_weights.rst",
            category="Linear classifiers",
            subcategory="{model}",
        ),
        csv=f"{LINEAR_DIR}/{{model}}_templates.csv",
    log:
        f"{LINEAR_LOGS}/weights_{{model}}.log",
    benchmark:
        f"{LINEAR_BENCH}/weights_{{model}}.tsv"
    wildcard_constraints:
        model="svm|softmax",
    threads: 1
    resources:
        mem_mb=1500,
        runtime=5,
    script:
        "../scripts/linear_weights.py"


def _linear_loss_inputs(wc):
    tables = [LINEAR_WIDE[wc.model]] + [t for t in [LINEAR_COURSE[wc.model]] if t in EXPERIMENTS]
    return {
        "loss": [f"{RESULTS}/experiments/{t}/loss.csv" for t in tables],
        "best": [f"{RESULTS}/experiments/{t}/best.json" for t in tables],
    }


rule linear_loss:
    """Minibatch loss per iteration of the best SVM / softmax run (wide grid; the best run of
    the course grid beside it)."""
    input:
        unpack(_linear_loss_inputs),
    output:
        fig=report(
            expand(f"{LINEAR_FIG}/{{{{model}}}}_loss.{{fmt}}", fmt=FIG_FORMATS),
            caption="../../report/captions/linear_loss.rst",
            category="Linear classifiers",
            subcategory="{model}",
        ),
    log:
        f"{LINEAR_LOGS}/loss_{{model}}.log",
    benchmark:
        f"{LINEAR_BENCH}/loss_{{model}}.tsv"
    wildcard_constraints:
        model="svm|softmax",
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    script:
        "../scripts/linear_loss.py"


rule features_errors:
    """Confusion matrix and a gallery of misclassified test images per predicted class (the
    first few in test order) for the best two-layer net and the best SVM on the features;
    every misclassified test image listed in results/features/misclassified.csv."""
    input:
        best=[f"{RESULTS}/experiments/{t}/best.json" for t in FEATURES_ERROR_TABLES],
        split=f"{RESULTS}/prep/cifar10/split.npz",
    output:
        csv=f"{FEAT_DIR}/misclassified.csv",
        confusion=report(
            expand(
                f"{FEAT_FIG}/{{table}}_confusion.{{fmt}}",
                table=FEATURES_ERROR_TABLES,
                fmt=FIG_FORMATS,
            ),
            caption="../../report/captions/features_confusion.rst",
            category="Image features",
        ),
        gallery=report(
            expand(
                f"{FEAT_FIG}/{{table}}_misclassified.{{fmt}}",
                table=FEATURES_ERROR_TABLES,
                fmt=FIG_FORMATS,
            ),
            caption="../../report/captions/features_misclassified.rst",
            category="Image features",
        ),
    log:
        f"{LINEAR_LOGS}/features_errors.log",
    benchmark:
        f"{LINEAR_BENCH}/features_errors.tsv"
    threads: 1
    resources:
        mem_mb=600,
        runtime=5,
    params:
        tables=FEATURES_ERROR_TABLES,
        per_class=8,
    script:
        "../scripts/features_errors.py"


def _linear_question_inputs(qid):
    def inputs(wc):
        out = {}
        tabs = LINEAR_QUESTIONS[qid]
        if tabs:
            out["best"] = [f"{RESULTS}/experiments/{t}/best.json" for t in tabs]
        if qid in ("svm-1", "softmax-1", "softmax-2"):
            out["data"] = f"{RESULTS}/prep/cifar10/centered_bias.npz"
        if qid == "softmax-1":
            out["checks"] = f"{LINEAR_DIR}/checks.json"
        if qid in ("svm-2", "softmax-2", "softmax-3"):
            out["params"] = [p for t in tabs for p in _linear_run_files(t, "params.npz")]
        if qid == "svm-2":
            out["templates"] = f"{LINEAR_DIR}/svm_templates.csv"
        if qid == "softmax-3":
            out["templates"] = f"{LINEAR_DIR}/softmax_templates.csv"
        if qid == "features-1":
            out["misclassified"] = f"{FEAT_DIR}/misclassified.csv"
            out["split"] = f"{RESULTS}/prep/cifar10/split.npz"
        return out

    return inputs


for _qid in LINEAR_QUESTIONS:

    rule:
        name:
            _linear_qrule(_qid)
        input:
            unpack(_linear_question_inputs(_qid)),
        output:
            json=f"{RESULTS}/questions/{_qid}.json",
            fig=report(
                _linear_figs(LINEAR_QFIG, _qid),
                caption=f"../../report/captions/question_{_qid.replace('-', '_')}.rst",
                category="Questions",
                subcategory=_qid,
            ),
        log:
            f"{LINEAR_LOGS}/question_{_qid}.log",
        benchmark:
            f"{LINEAR_BENCH}/question_{_qid}.tsv"
        threads: 1
        resources:
            mem_mb=800,
            runtime=5,
        params:
            qid=_qid,
            tables=LINEAR_QUESTIONS[_qid],
            runs={t: _linear_runs(t) for t in LINEAR_QUESTIONS[_qid] if t in EXPERIMENTS},
            settings=LINEAR_QSETTINGS.get(_qid, {}),
            image_shape=[32, 32, 3],
        script:
            "../scripts/linear_questions.py"
