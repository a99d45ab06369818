# Training runs and experiment tables (shared by the CIFAR-10 and MNIST stages).
#
# Every run of every table in config["experiments"] is one job, keyed by a hash of its
# settings (results/runs/<kind>-<hash>/): a run two tables share trains once, and changing
# one table's settings reruns only the runs (and tables) that changed.


def run_data(wc):
    return f"{RESULTS}/{DATA_SOURCES[RUNS[wc.run]['spec']['data']]}"


# Rough sizes for resources: training rows and inputs per dataset variant (full config).
_ROWS = {"cifar10": 49000, "mnist": 48000}
_DIMS = {"cifar10/features": 335, "mnist/scaled": 784}


def _run_size(spec):
    ds = spec["data"].split("/")[0]
    n = spec.get("num_train") or _ROWS[ds]
    d = _DIMS.get(spec["data"], 3073)
    return n, d


def run_mem_mb(wc):
    """Train + val + test arrays (float32) twice over, plus the model and headroom."""
    spec = RUNS[wc.run]["spec"]
    n, d = _run_size(spec)
    ds = spec["data"].split("/")[0]
    full = (_ROWS[ds] + 12000) * d * 4  # the whole .npz is read once
    width = max([d] + spec.get("hidden_dims", [10]))
    batch = spec.get("batch_size", 200)
    batch = n if batch == "full" else batch
    acts = 4 * batch * width * 4 * (len(spec.get("hidden_dims", [])) + 2)
    return int((2 * full + acts) / 2**20) + 400


def _run_flops(spec):
    """Training flops: 6 per weight per example (forward + two backward products)."""
    n, d = _run_size(spec)
    if spec.get("model") in ("svm", "softmax"):
        return 6 * spec["iterations"] * spec["batch_size"] * d * 10
    dims = [d, *spec["hidden_dims"], 10]
    weights = sum(a * b for a, b in zip(dims[:-1], dims[1:]))
    return 6 * n * weights * spec["epochs"]


def run_runtime_min(wc):
    """Minutes: the training flops at a conservative 5 GFLOP/s, times 3, plus 10."""
    return int(3 * _run_flops(RUNS[wc.run]["spec"]) / 5e9 / 60) + 10


def run_priority(wc):
    """Longest runs first (0-90, ~10 s per step at 50 GFLOP/s; single-example SGD counted
    10x for its per-step overhead), so that on a few cores a long run does not start last
    and finish alone while the other cores idle. Below the two-thread jobs (features,
    knn_full: 100), which must find every core free."""
    spec = RUNS[wc.run]["spec"]
    seconds = _run_flops(spec) / 50e9 * (10 if spec.get("batch_size") == 1 else 1)
    return min(90, int(seconds / 10))


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
    threads: lambda wc: RUNS[wc.run]["threads"]
    resources:
        mem_mb=run_mem_mb,
        runtime=run_runtime_min,
    params:
        spec=lambda wc: RUNS[wc.run]["spec"],
    script:
        "../scripts/train_net.py"


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
    threads: lambda wc: RUNS[wc.run]["threads"]
    resources:
        mem_mb=run_mem_mb,
        runtime=run_runtime_min,
    params:
        spec=lambda wc: RUNS[wc.run]["spec"],
    script:
        "../scripts/train_linear.py"


def table_runs(wc):
    return EXPERIMENTS[wc.table]


def table_files(kind):
    return lambda wc: [f"{RESULTS}/runs/{r['run']}/{kind}" for r in EXPERIMENTS[wc.table]]


rule experiment_table:
    """Gather one table's runs: runs.csv (metrics), curves.csv, loss.csv, timings.csv."""
    input:
        metrics=table_files("metrics.json"),
        timing=table_files("timing.json"),
        history=table_files("history.npz"),
    output:
        runs=f"{RESULTS}/experiments/{{table}}/runs.csv",
        curves=f"{RESULTS}/experiments/{{table}}/curves.csv",
        loss=f"{RESULTS}/experiments/{{table}}/loss.csv",
        timings=f"{RESULTS}/experiments/{{table}}/timings.csv",
    log:
        f"{LOGS}/experiments/{{table}}/table.log",
    benchmark:
        f"{BENCH}/experiments/{{table}}/table.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        table=lambda wc: wc.table,
        runs=lambda wc: [{"variant": r["variant"], "run": r["run"]} for r in EXPERIMENTS[wc.table]],
        max_points=500,
    script:
        "../scripts/experiment_table.py"


rule experiment_best:
    """The best run of a table by validation accuracy, evaluated once on the test split."""
    input:
        runs=f"{RESULTS}/experiments/{{table}}/runs.csv",
        params=table_files("params.npz"),
        data=lambda wc: f"{RESULTS}/{DATA_SOURCES[EXPERIMENTS[wc.table][0]['spec']['data']]}",
    output:
        best=f"{RESULTS}/experiments/{{table}}/best.json",
    log:
        f"{LOGS}/experiments/{{table}}/best.log",
    benchmark:
        f"{BENCH}/experiments/{{table}}/best.tsv"
    threads: 1
    resources:
        mem_mb=2500,
        runtime=10,
    params:
        table=lambda wc: wc.table,
        metric=lambda wc: config["experiments"][wc.table]["select"],
        runs=table_runs,
    script:
        "../scripts/experiment_best.py"


def experiment_targets(tables=None):
    out = []
    for table in tables if tables is not None else EXPERIMENTS:
        if table not in EXPERIMENTS:
            continue
        out.append(f"{RESULTS}/experiments/{table}/runs.csv")
        if config["experiments"][table]["select"]:
            out.append(f"{RESULTS}/experiments/{table}/best.json")
    return out


STAGE_TARGETS.append(experiment_targets)
