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
# figure -> the write-up tables it draws (faithful + tuned)
MNIST_FIGURES = {
    "depth_curves": ["depth"],
    "loss_curves": ["loss"],
    "activation_curves": ["activation"],
    "batching_time": ["batching"],
    "optimizer_curves": ["optimizers"],
    "regularization_curves": ["regularization"],
}
# extra -> its table (results/extras/<extra>.csv and figure); the write-up tables' extra
# rows and the perceptron's settings: config mnist.extra_rows, mnist.perceptron
EXTRAS = {
    "schedules": "mnist_extras_schedules",
    "init": "mnist_extras_init",
}

STAGE_TARGETS.append(mnist_targets)


rule mnist:
    """Every output of the MNIST stage and the extras (and the runs they need): `snakemake mnist`."""
    input:
        mnist_targets(),


rule mnist_table:
    """results/mnist/<name>.csv: every write-up row with our faithful (summed gradients, the
    write-up's lr) and tuned (mean-reduced, lr chosen on val) numbers beside it."""
    input:
        tables=lambda wc: mnist_table_files([wc.name], ("runs.csv", "curves.csv", "timings.csv")),
        seed=f"{REPO}/report/reference/seed_results.csv",
    output:
        csv=f"{MNIST_DIR}/{{name}}.csv",
    log:
        f"{MNIST_LOGS}/table_{{name}}.log",
    benchmark:
        f"{MNIST_BENCH}/table_{{name}}.tsv"
    wildcard_constraints:
        name="|".join(MNIST_TABLES),
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=300,
        runtime=3,
    params:
        code=script_code("mnist_table.py"),
        name=lambda wc: wc.name,
        tables=lambda wc: list(MNIST_TABLES[wc.name]),
        extra_rows=lambda wc: config["mnist"]["extra_rows"].get(wc.name, []),
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
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=300,
        runtime=3,
    params:
        code=script_code("mnist_best.py"),
    script:
        "../scripts/mnist_best.py"


rule mnist_figure:
    """One figure of the MNIST tables (faithful and tuned side by side)."""
    input:
        unpack(mnist_figure_inputs),
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
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=400,
        runtime=3,
    params:
        code=script_code("mnist_figures.py"),
        names=lambda wc: MNIST_FIGURES[wc.fig],
        tables=lambda wc: {n: list(MNIST_TABLES[n]) for n in MNIST_FIGURES[wc.fig]},
        runs=lambda wc: run_records([t for n in MNIST_FIGURES[wc.fig] for t in MNIST_TABLES[n]]),
    script:
        "../scripts/mnist_figures.py"


rule extras_table:
    """results/extras/<extra>.csv + figure: the LR schedules on one model (with the four
    curves), or the weight-init schemes on a deep net (activation statistics per layer)."""
    input:
        unpack(extras_inputs),
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
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=400,
        runtime=3,
    params:
        code=script_code("extras_tables.py"),
        extra=lambda wc: wc.extra,
        table=lambda wc: EXTRAS[wc.extra],
        runs=lambda wc: run_records([EXTRAS[wc.extra]])[EXTRAS[wc.extra]],
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
            figures(EXTRAS_FIG, "perceptron"),
            caption="../../report/captions/extras_figure.rst",
            category="Extras",
            subcategory="perceptron",
        ),
    log:
        f"{MNIST_LOGS}/extras_perceptron.log",
    benchmark:
        f"{MNIST_BENCH}/extras_perceptron.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=800,
        runtime=3,
    params:
        code=script_code("extras_perceptron.py"),
        settings=config["mnist"]["perceptron"],
    script:
        "../scripts/extras_perceptron.py"
