"""What the workflow plans for a job, computed from its run spec and the config alone.

Pure functions behind ``workflow/rules/common.smk``: the resources and priority of a
training run (runs.smk), the run records the stage rules pass to their scripts, the config
the report shows, and the caption of a CNN figure. No Snakemake objects, no files: the
rule files wrap these in input / resource functions of the wildcards.

Resource estimates are deliberately rough (sized from the benchmarks of a full-config run
on 2 cores, with headroom); the priorities order the runs longest first, so that on a few
cores a long run does not start last and finish alone while the other cores idle.
"""

from __future__ import annotations

from .cnn_runs import cnn_cost, cnn_macs, cnn_train_images

__all__ = [
    "FIRST_PRIORITY",
    "RUN_PRIORITY_MAX",
    "ROWS",
    "DIMS",
    "run_size",
    "run_flops",
    "run_mem_mb",
    "run_runtime_min",
    "run_priority",
    "cnn_flops",
    "cnn_mem_mb",
    "cnn_runtime_min",
    "cnn_priority",
    "run_records",
    "report_config",
    "CNN_FIGURE_TEXT",
    "cnn_caption",
]

#: The priority of the jobs every run waits for (data preparation, features, knn_full) and
#: of multi-thread runs; training runs stay below it (at most RUN_PRIORITY_MAX), so these
#: start first (Snakemake reserves no cores: a multi-thread job waits for all to be free).
FIRST_PRIORITY = 100
RUN_PRIORITY_MAX = 90

#: Training rows per dataset (full config), for the resource estimates.
ROWS = {"cifar10": 49000, "mnist": 48000}
#: Input width per data source; anything else is CIFAR-10 pixels plus a bias (3,073).
DIMS = {"cifar10/features": 335, "mnist/scaled": 784}
_PIXELS_DIM = 3073

# ---------------------------------------------------------------- net and linear runs


def run_size(spec: dict) -> tuple[int, int]:
    """(training rows, input width) of a net or linear run."""
    ds = spec["data"].split("/")[0]
    n = spec.get("num_train") or ROWS[ds]
    d = DIMS.get(spec["data"], _PIXELS_DIM)
    return n, d


def run_flops(spec: dict) -> int:
    """Training flops: 6 per weight per example (forward + two backward products)."""
    n, d = run_size(spec)
    if spec.get("model") in ("svm", "softmax"):
        return 6 * spec["iterations"] * spec["batch_size"] * d * 10
    dims = [d, *spec["hidden_dims"], 10]
    weights = sum(a * b for a, b in zip(dims[:-1], dims[1:]))
    return 6 * n * weights * spec["epochs"]


def run_mem_mb(spec: dict) -> int:
    """Train + val + test arrays (float32) twice over, plus the model and headroom."""
    n, d = run_size(spec)
    ds = spec["data"].split("/")[0]
    full = (ROWS[ds] + 12000) * d * 4  # the whole .npz is read once
    width = max([d] + spec.get("hidden_dims", [10]))
    batch = spec.get("batch_size", 200)
    batch = n if batch == "full" else batch
    acts = 4 * batch * width * 4 * (len(spec.get("hidden_dims", [])) + 2)
    return int((2 * full + acts) / 2**20) + 400


def run_runtime_min(spec: dict) -> int:
    """Minutes: the training flops at a conservative 5 GFLOP/s, times 3, plus 10."""
    return int(3 * run_flops(spec) / 5e9 / 60) + 10


def run_priority(spec: dict) -> int:
    """Longest runs first (0 to RUN_PRIORITY_MAX, ~10 s per step at 50 GFLOP/s;
    single-example SGD counted 10x for its per-step overhead); below FIRST_PRIORITY."""
    seconds = run_flops(spec) / 50e9 * (10 if spec.get("batch_size") == 1 else 1)
    return min(RUN_PRIORITY_MAX, int(seconds / 10))


# ---------------------------------------------------------------- cnn runs
# Cost model of a cnn run (nplab_io.cnn_runs): forward multiply-adds per image x 2 flops,
# a training step ~3x a forward pass (1x with frozen features: backpropagation stops at
# the head), plus the per-epoch evaluation of eval_train_samples + the val split.
# ``cifar10`` is the config's data.cifar10 (the split sizes).


def cnn_flops(spec: dict, cifar10: dict) -> int:
    """Training and per-epoch evaluation flops of a cnn run."""
    macs = cnn_macs(spec)
    n = cnn_train_images(spec, cifar10["num_training"])
    step = 1 if spec["freeze"] == "features" else 3
    evals = spec["eval_train_samples"] + (spec["num_val"] or cifar10["num_validation"])
    return 2 * macs * (step * n + evals) * spec["epochs"]


def cnn_mem_mb(spec: dict, cifar10: dict) -> int:
    """The pixel arrays as loaded plus half again for a class subset / shuffled copy, a
    batch's activations (~8 copies: conv output, norm cache, ReLU, pooling, gradients)
    and a 250-image evaluation chunk's, the parameters with gradients and Adam state, and
    the interpreter with NumPy and scikit-image. Measured peak RSS (full config): 0.8 GB
    for the small ablation net, 0.9 GB for the best CNN; this gives 1.5 and 1.8 GB."""
    data = (cifar10["num_training"] + cifar10["num_validation"] + cifar10["num_test"]) * 3072 * 4
    cost = cnn_cost(spec)
    acts = (8 * spec["batch_size"] + 2 * 250) * cost["activations"] * 4
    params = 4 * 4 * cost["weights"]  # weights, gradients, two optimizer states
    return int((1.5 * data + acts + params) / 2**20) + 400


def cnn_runtime_min(spec: dict, cifar10: dict) -> int:
    """Minutes: the flops at a conservative 10 GFLOP/s (measured: ~40 per core), plus 10."""
    return int(cnn_flops(spec, cifar10) / 10e9 / 60) + 10


def cnn_priority(spec: dict, threads: int, cifar10: dict) -> int:
    """As :func:`run_priority` (longest first, ~10 s per step at 50 GFLOP/s); a
    multi-thread run gets FIRST_PRIORITY, as it needs every core free."""
    if threads > 1:
        return FIRST_PRIORITY
    return min(RUN_PRIORITY_MAX, int(cnn_flops(spec, cifar10) / 50e9 / 10))


# ---------------------------------------------------------------- what rules pass on


def run_records(experiments: dict, tables) -> dict:
    """Each enabled table of ``tables`` -> its runs as ``{"variant", "run", "spec"}``
    (``experiments``: the expanded tables, table -> run records)."""
    return {
        t: [{"variant": r["variant"], "run": r["run"], "spec": r["spec"]} for r in experiments[t]]
        for t in tables
        if t in experiments
    }


def report_config(config: dict) -> dict:
    """The config shown in the report, minus where the data came from: the mirror is
    recorded by the download provenance, and must not make a second run rebuild the
    report when the same verified files are reused (e.g. mirror given only once)."""
    shown = {k: v for k, v in config.items() if k != "mirror"}
    shown["data"] = {k: v for k, v in config["data"].items() if k != "mirror"}
    return shown


#: What each kind of CNN figure shows (Snakemake's --report caption; the table's
#: description, which states its train subset and epochs, follows).
CNN_FIGURE_TEXT = {
    "curves": "minibatch loss per iteration and train/val accuracy per epoch of every run",
    "norm_batch_size": "validation accuracy vs batch size without normalisation, with spatial "
    "batch norm and with group norm (log x)",
    "augment_bars": "validation accuracy and the train - val gap per augmentation, against no "
    "augmentation (dashed)",
    "transfer_grid": "test accuracy of the three strategies (from scratch, frozen pretrained "
    "layers + new head, fine-tune all) in the four cases: similar / different target task x "
    "small / large target data",
    "confusion": "confusion matrix of the validation-selected CNN on the test split (rows: true "
    "class), evaluated once",
}


def cnn_caption(kind: str, table: str, description: str) -> str:
    """The caption of a CNN figure of ``kind`` drawn from ``table``."""
    return f"{table}: {CNN_FIGURE_TEXT[kind]}. {description}".strip()
