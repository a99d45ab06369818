# The MNIST from-scratch lab (spec: "The MNIST fully-connected lab") and the extras beyond the
# course ("Also in the write-ups": LR schedules, weight initialisation, the perceptron).
# The training runs are jobs of runs.smk (config `experiments:` mnist_<t> = the write-up's
# settings with summed gradients, mnist_tuned_<t> = mean-reduced gradients with an lr grid,
# mnist_best, mnist_extras_*); this file joins them with the write-up's numbers
# (report/reference/seed_results.csv) into results/mnist/<t>.csv, draws the figures and the
# extras tables/figures. Questions mnist-1..6 are entries of report/questions/mnist.yaml
# (rules in questions.smk).
# Resources are sized from results/benchmarks/mnist/ of a full-config run on 2 cores (shared
# machine): tables 1-2 s / 80 MB, figures and questions 2-6 s / 130 MB, the perceptron
# (reads scaled.npz) 5 s / 220 MB. The 58 training runs of the mnist_* tables took 2,851
# CPU-seconds in all (BGD 200 epochs ~95 s, MBGD 100 epochs ~42 s, SGD batch 1 ~50 s,
# mnist_best ~230 s): ~24 min on 2 cores.

MNIST_DIR = f"{RESULTS}/mnist"
MNIST_FIG = f"{RESULTS}/figures/mnist"
EXTRAS_DIR = f"{RESULTS}/extras"
EXTRAS_FIG = f"{RESULTS}/figures/extras"
MNIST_LOGS = f"{LOGS}/mnist"
MNIST_BENCH = f"{BENCH}/mnist"

# write-up table -> (faithful table, tuned table); results/mnist/<name>.csv
MNIST_TABLES = {
    t: (f"mnist_{t}", f"mnist_tuned_{t}")
    for t in ["depth", "loss", "activation", "batching", "optimizers", "regularization"]
}
# rows the write-up has no number for: (variant group, epochs[, note])
MNIST_EXTRA_ROWS = {
    "loss": [["cross_entropy", 100], ["cross_entropy", 200], ["mse", 100], ["mse", 200]],
    "optimizers": [
        ["Adam (textbook)", 100],
        [
            "Adam 10x step",
            100,
            "ours, not the write-up's: its Adam at 10x its lr "
            "(= first moment without the (1 - beta1) factor), a diagnostic for mnist-5",
        ],
    ],
}
# figure -> the write-up tables it draws (faithful + tuned)
MNIST_FIGURES = {
    "depth_curves": ["depth"],
    "loss_curves": ["loss"],
    "activation_curves": ["activation"],
    "batching_time": ["batching"],
    "optimizer_curves": ["optimizers"],
    "regularization_curves": ["regularization"],
}
EXTRAS = {
    "schedules": "mnist_extras_schedules",
    "init": "mnist_extras_init",
}
EXTRAS_PERCEPTRON = {"digits": [0, 1], "max_epochs": 100, "seed": 0}


def _mnist_has(names):
    return all(t in EXPERIMENTS for n in names for t in MNIST_TABLES[n])


def _mnist_figs(directory, name):
    return expand(f"{directory}/{name}.{{fmt}}", fmt=FIG_FORMATS)


def _mnist_table_files(names, kinds=("runs.csv", "curves.csv", "loss.csv", "timings.csv")):
    return [f"{RESULTS}/experiments/{t}/{k}" for n in names for t in MNIST_TABLES[n] for k in kinds]


def _mnist_runs(tables):
    return {
        t: [{"variant": r["variant"], "run": r["run"], "spec": r["spec"]} for r in EXPERIMENTS[t]]
        for t in tables
        if t in EXPERIMENTS
    }


def _mnist_run_files(table, kind):
    return [f"{RESULTS}/runs/{r['run']}/{kind}" for r in EXPERIMENTS[table]]


def mnist_targets():
    """The MNIST stage's final outputs (registered in STAGE_TARGETS for rule all)."""
    out = []
    for name in MNIST_TABLES:
        if _mnist_has([name]):
            out.append(f"{MNIST_DIR}/{name}.csv")
    if "mnist_best" in EXPERIMENTS and _mnist_has(list(MNIST_TABLES)):
        out.append(f"{MNIST_DIR}/best.csv")
    for fig, names in MNIST_FIGURES.items():
        if _mnist_has(names):
            out += _mnist_figs(MNIST_FIG, fig)
    for name, table in EXTRAS.items():
        if table in EXPERIMENTS:
            out.append(f"{EXTRAS_DIR}/{name}.csv")
            out += _mnist_figs(EXTRAS_FIG, name)
    out.append(f"{EXTRAS_DIR}/perceptron.csv")
    out += _mnist_figs(EXTRAS_FIG, "perceptron")
    return out + family_question_targets("mnist")


STAGE_TARGETS.append(mnist_targets)


rule mnist:
    """Every output of the MNIST stage and the extras (and the runs they need): `snakemake mnist`."""
    input:
        mnist_targets(),


rule mnist_table:
    """results/mnist/<name>.csv: every write-up row with our faithful (summed gradients, the
    write-up's lr) and tuned (mean-reduced, lr chosen on val) numbers beside it."""
    input:
        tables=lambda wc: _mnist_table_files([wc.name], ("runs.csv", "curves.csv", "timings.csv")),
        seed=f"{REPO}/report/reference/seed_results.csv",
    output:
        csv=f"{MNIST_DIR}/{{name}}.csv",
    log:
        f"{MNIST_LOGS}/table_{{name}}.log",
    benchmark:
        f"{MNIST_BENCH}/table_{{name}}.tsv"
    wildcard_constraints:
        name="|".join(MNIST_TABLES),
    threads: 1
    resources:
        mem_mb=300,
        runtime=3,
    params:
        code=script_code("mnist_table.py"),
        name=lambda wc: wc.name,
        tables=lambda wc: list(MNIST_TABLES[wc.name]),
        extra_rows=lambda wc: MNIST_EXTRA_ROWS.get(wc.name, []),
        max_epochs=config["limits"]["max_epochs"],
    script:
        "../scripts/mnist_table.py"


rule mnist_best_table:
    """results/mnist/best.csv: the best run of every MNIST table by val accuracy, with its
    test accuracy, and the val-selected best model (mnist_best)."""
    input:
        tables=[f"{MNIST_DIR}/{n}.csv" for n in MNIST_TABLES],
        best=f"{RESULTS}/experiments/mnist_best/best.json",
        runs=f"{RESULTS}/experiments/mnist_best/runs.csv",
    output:
        csv=f"{MNIST_DIR}/best.csv",
    log:
        f"{MNIST_LOGS}/best.log",
    benchmark:
        f"{MNIST_BENCH}/best.tsv"
    threads: 1
    resources:
        mem_mb=300,
        runtime=3,
    params:
        code=script_code("mnist_best.py"),
    script:
        "../scripts/mnist_best.py"


def _mnist_figure_inputs(wc):
    names = MNIST_FIGURES[wc.fig]
    out = {"tables": _mnist_table_files(names)}
    if wc.fig == "batching_time":
        out["timing"] = [
            f for n in names for t in MNIST_TABLES[n] for f in _mnist_run_files(t, "timing.json")
        ]
    return out


rule mnist_figure:
    """One figure of the MNIST tables (faithful and tuned side by side)."""
    input:
        unpack(_mnist_figure_inputs),
    output:
        fig=report(
            expand(f"{MNIST_FIG}/{{{{fig}}}}.{{fmt}}", fmt=FIG_FORMATS),
            caption="../../report/captions/mnist_figure.rst",
            category="MNIST",
            subcategory="{fig}",
        ),
    log:
        f"{MNIST_LOGS}/figure_{{fig}}.log",
    benchmark:
        f"{MNIST_BENCH}/figure_{{fig}}.tsv"
    wildcard_constraints:
        fig="|".join(MNIST_FIGURES),
    threads: 1
    resources:
        mem_mb=400,
        runtime=3,
    params:
        code=script_code("mnist_figures.py"),
        names=lambda wc: MNIST_FIGURES[wc.fig],
        tables=lambda wc: {n: list(MNIST_TABLES[n]) for n in MNIST_FIGURES[wc.fig]},
        runs=lambda wc: _mnist_runs([t for n in MNIST_FIGURES[wc.fig] for t in MNIST_TABLES[n]]),
    script:
        "../scripts/mnist_figures.py"


def _extras_inputs(wc):
    table = EXTRAS[wc.extra]
    out = {
        "tables": [
            f"{RESULTS}/experiments/{table}/{k}"
            for k in ("runs.csv", "curves.csv", "loss.csv", "timings.csv")
        ]
    }
    if wc.extra == "init":
        out["history"] = _mnist_run_files(table, "history.npz")
    return out


rule extras_table:
    """results/extras/<extra>.csv + figure: the LR schedules on one model (with the four
    curves), or the weight-init schemes on a deep net (activation statistics per layer)."""
    input:
        unpack(_extras_inputs),
    output:
        csv=f"{EXTRAS_DIR}/{{extra}}.csv",
        fig=report(
            expand(f"{EXTRAS_FIG}/{{{{extra}}}}.{{fmt}}", fmt=FIG_FORMATS),
            caption="../../report/captions/extras_figure.rst",
            category="Extras",
            subcategory="{extra}",
        ),
    log:
        f"{MNIST_LOGS}/extras_{{extra}}.log",
    benchmark:
        f"{MNIST_BENCH}/extras_{{extra}}.tsv"
    wildcard_constraints:
        extra="|".join(EXTRAS),
    threads: 1
    resources:
        mem_mb=400,
        runtime=3,
    params:
        code=script_code("extras_tables.py"),
        extra=lambda wc: wc.extra,
        table=lambda wc: EXTRAS[wc.extra],
        runs=lambda wc: _mnist_runs([EXTRAS[wc.extra]])[EXTRAS[wc.extra]],
    script:
        "../scripts/extras_tables.py"


rule extras_perceptron:
    """The perceptron on two MNIST digits (train split): updates until convergence,
    Novikoff's bound (R / gamma)^2 for the separator it found, test accuracy."""
    input:
        data=f"{RESULTS}/prep/mnist/scaled.npz",
    output:
        csv=f"{EXTRAS_DIR}/perceptron.csv",
        fig=report(
            _mnist_figs(EXTRAS_FIG, "perceptron"),
            caption="../../report/captions/extras_figure.rst",
            category="Extras",
            subcategory="perceptron",
        ),
    log:
        f"{MNIST_LOGS}/extras_perceptron.log",
    benchmark:
        f"{MNIST_BENCH}/extras_perceptron.tsv"
    threads: 1
    resources:
        mem_mb=800,
        runtime=3,
    params:
        code=script_code("extras_perceptron.py"),
        settings=EXTRAS_PERCEPTRON,
    script:
        "../scripts/extras_perceptron.py"
