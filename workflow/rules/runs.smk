# Training runs and experiment tables (shared by the CIFAR-10 and MNIST stages).
#
# Every run of every table in config["experiments"] is one job, keyed by a hash of its
# settings (results/runs/<kind>-<hash>/): a run two tables share trains once, and changing
# one table's settings reruns only the runs (and tables) that changed.


from nplab_io.cnn_runs import cnn_cost, cnn_macs, cnn_train_images


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
        code=script_code("train_net.py"),
        spec=lambda wc: RUNS[wc.run]["spec"],
    script:
        "../scripts/train_net.py"


# ---------------------------------------------------------------- cnn runs
# Cost model of a cnn run (nplab_io.cnn_runs): forward multiply-adds per image x 2 flops,
# a training step ~3x a forward pass (1x with frozen features: backpropagation stops at
# the head), plus the per-epoch evaluation of eval_train_samples + the val split.
def _cnn_flops(spec):
    macs = cnn_macs(spec)
    n = cnn_train_images(spec, config["data"]["cifar10"]["num_training"])
    step = 1 if spec["freeze"] == "features" else 3
    evals = spec["eval_train_samples"] + (
        spec["num_val"] or config["data"]["cifar10"]["num_validation"]
    )
    return 2 * macs * (step * n + evals) * spec["epochs"]


def cnn_mem_mb(wc):
    """The pixel arrays as loaded plus half again for a class subset / shuffled copy, a
    batch's activations (~8 copies: conv output, norm cache, ReLU, pooling, gradients)
    and a 250-image evaluation chunk's, the parameters with gradients and Adam state, and
    the interpreter with NumPy and scikit-image. Measured peak RSS (full config): 0.8 GB
    for the small ablation net, 0.9 GB for the best CNN; this gives 1.5 and 1.8 GB."""
    spec = RUNS[wc.run]["spec"]
    c = config["data"]["cifar10"]
    data = (c["num_training"] + c["num_validation"] + c["num_test"]) * 3072 * 4
    cost = cnn_cost(spec)
    acts = (8 * spec["batch_size"] + 2 * 250) * cost["activations"] * 4
    params = 4 * 4 * cost["weights"]  # weights, gradients, two optimizer states
    return int((1.5 * data + acts + params) / 2**20) + 400


def cnn_runtime_min(wc):
    """Minutes: the flops at a conservative 10 GFLOP/s (measured: ~40 per core), plus 10."""
    return int(_cnn_flops(RUNS[wc.run]["spec"]) / 10e9 / 60) + 10


def cnn_priority(wc):
    """As run_priority (longest first, ~10 s per step at 50 GFLOP/s, at most 90); a
    two-thread run gets 100 with the other two-thread jobs, which need both cores."""
    if RUNS[wc.run]["threads"] > 1:
        return 100
    return min(90, int(_cnn_flops(RUNS[wc.run]["spec"]) / 50e9 / 10))


def cnn_inputs(wc):
    """The pixels, and a transfer run's source parameters."""
    spec = RUNS[wc.run]["spec"]
    out = {"data": run_data(wc)}
    if spec["init_run"] is not None:
        out["init"] = f"{RESULTS}/runs/{spec['init_run']}/params.npz"
    return out


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
    threads: lambda wc: RUNS[wc.run]["threads"]
    resources:
        mem_mb=cnn_mem_mb,
        runtime=cnn_runtime_min,
    params:
        code=script_code("train_cnn.py"),
        spec=lambda wc: RUNS[wc.run]["spec"],
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
    threads: lambda wc: RUNS[wc.run]["threads"]
    resources:
        mem_mb=run_mem_mb,
        runtime=run_runtime_min,
    params:
        code=script_code("train_linear.py"),
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
        code=script_code("experiment_best.py"),
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
