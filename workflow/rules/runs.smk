# Training runs and experiment tables (shared by the CIFAR-10 and MNIST stages).
#
# Every run of every table in config["experiments"] is one job, keyed by a hash of its
# settings (results/runs/<kind>-<hash>/): a run two tables share trains once, and changing
# one table's settings reruns only the runs (and tables) that changed.


rule train_net:
    """One fully-connected net run (see nplab_io.runs for the spec keys)."""
    input:
        data=run_data,
    output:
        metrics=f"{RESULTS}/runs/{{run}}/metrics.json",
        timing=f"{RESULTS}/runs/{{run}}/timing.json",
        history=f"{RESULTS}/runs/{{run}}/history.npz",
        params=f"{RESULTS}/runs/{{run}}/params.npz",
    log:
        f"{LOGS}/runs/{{run}}.log",
    benchmark:
        f"{BENCH}/runs/{{run}}.tsv"
    wildcard_constraints:
        run=r"net-[0-9a-f]{12}",
    priority: run_priority
    conda:
        CONDA_ENV
    threads: lambda wc: RUNS[wc.run]["threads"]
    resources:
        mem_mb=run_mem_mb,
        runtime=run_runtime_min,
    params:
        code=script_code("train_net.py"),
        spec=run_spec,
    script:
        "../scripts/train_net.py"


rule train_cnn:
    """One convolutional (or, for comparisons, FC) net run on CIFAR-10 images (see
    nplab_io.runs KINDS["cnn"] and nplab_io.cnn_runs)."""
    input:
        unpack(cnn_inputs),
    output:
        metrics=f"{RESULTS}/runs/{{run}}/metrics.json",
        timing=f"{RESULTS}/runs/{{run}}/timing.json",
        history=f"{RESULTS}/runs/{{run}}/history.npz",
        params=f"{RESULTS}/runs/{{run}}/params.npz",
    log:
        f"{LOGS}/runs/{{run}}.log",
    benchmark:
        f"{BENCH}/runs/{{run}}.tsv"
    wildcard_constraints:
        run=r"cnn-[0-9a-f]{12}",
    priority: cnn_priority
    conda:
        CONDA_ENV
    threads: lambda wc: RUNS[wc.run]["threads"]
    resources:
        mem_mb=cnn_mem_mb,
        runtime=cnn_runtime_min,
    params:
        code=script_code("train_cnn.py"),
        spec=run_spec,
    script:
        "../scripts/train_cnn.py"


rule train_linear:
    """One linear classifier run (SVM or softmax, minibatch SGD)."""
    input:
        data=run_data,
    output:
        metrics=f"{RESULTS}/runs/{{run}}/metrics.json",
        timing=f"{RESULTS}/runs/{{run}}/timing.json",
        history=f"{RESULTS}/runs/{{run}}/history.npz",
        params=f"{RESULTS}/runs/{{run}}/params.npz",
    log:
        f"{LOGS}/runs/{{run}}.log",
    benchmark:
        f"{BENCH}/runs/{{run}}.tsv"
    wildcard_constraints:
        run=r"linear-[0-9a-f]{12}",
    priority: run_priority
    conda:
        CONDA_ENV
    threads: lambda wc: RUNS[wc.run]["threads"]
    resources:
        mem_mb=run_mem_mb,
        runtime=run_runtime_min,
    params:
        code=script_code("train_linear.py"),
        spec=run_spec,
    script:
        "../scripts/train_linear.py"


rule experiment_table:
    """Gather one table's runs: runs.csv (metrics), curves.csv, loss.csv, timings.csv."""
    input:
        metrics=table_run_files("metrics.json"),
        timing=table_run_files("timing.json"),
        history=table_run_files("history.npz"),
    output:
        runs=f"{RESULTS}/experiments/{{table}}/runs.csv",
        curves=f"{RESULTS}/experiments/{{table}}/curves.csv",
        loss=f"{RESULTS}/experiments/{{table}}/loss.csv",
        timings=f"{RESULTS}/experiments/{{table}}/timings.csv",
    log:
        f"{LOGS}/experiments/{{table}}/table.log",
    benchmark:
        f"{BENCH}/experiments/{{table}}/table.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        code=script_code("experiment_table.py"),
        table=lambda wc: wc.table,
        runs=lambda wc: [{"variant": r["variant"], "run": r["run"]} for r in EXPERIMENTS[wc.table]],
        max_points=500,
    script:
        "../scripts/experiment_table.py"


rule experiment_best:
    """The best run of a table by validation accuracy, evaluated once on the test split."""
    input:
        runs=f"{RESULTS}/experiments/{{table}}/runs.csv",
        params=table_run_files("params.npz"),
        data=lambda wc: f"{RESULTS}/{DATA_SOURCES[EXPERIMENTS[wc.table][0]['spec']['data']]}",
    output:
        best=f"{RESULTS}/experiments/{{table}}/best.json",
    log:
        f"{LOGS}/experiments/{{table}}/best.log",
    benchmark:
        f"{BENCH}/experiments/{{table}}/best.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=2500,
        runtime=10,
    params:
        code=script_code("experiment_best.py"),
        table=lambda wc: wc.table,
        metric=lambda wc: config["experiments"][wc.table]["select"],
        runs=lambda wc: EXPERIMENTS[wc.table],
    script:
        "../scripts/experiment_best.py"


STAGE_TARGETS.append(experiment_targets)
