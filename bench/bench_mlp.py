#!/usr/bin/env python
"""One epoch of minibatch SGD on a 784-256-10 MLP: nplab vs PyTorch vs scikit-learn.

Random data (standard-normal float32 inputs, labels 0-9), ReLU hidden layer,
softmax cross-entropy, plain SGD (lr 1e-2, no momentum, no weight decay),
batch 200, one epoch over all rows.  nplab trains through its ``Solver`` with
per-epoch accuracy checks made as cheap as possible (tiny val set, small
``num_train_samples``).  Baselines, measured in the same run with the same
thread count:

* PyTorch CPU: ``nn.Linear``+``nn.ReLU``+``nn.Linear``, ``CrossEntropyLoss``,
  ``torch.optim.SGD``, one epoch over a pre-shuffled tensor;
* scikit-learn ``MLPClassifier(solver="sgd", max_iter=1, momentum=0, alpha=0)``.

It also reports a GEMM-bound lower bound: the epoch's FLOPs
(3 x 2 x N x (784*256 + 256*10), forward + backward) divided by the GFLOP/s
of a plain float32 ``np.matmul`` of the batch's shape measured in this run.

Goals (not tests): nplab/torch <= 1.0, nplab/sklearn <= 0.6.

    .venv/bin/python bench/bench_mlp.py
    .venv/bin/python bench/bench_mlp.py --n 20000 --repeat 2 --json results/bench/mlp.json
"""

from __future__ import annotations

import _common

_THREADS = _common.pin_threads_from_argv()

import warnings  # noqa: E402

import numpy as np  # noqa: E402

_common.ensure_nplab_importable()

GOAL_TORCH = 1.0
GOAL_SKLEARN = 0.6


def parse_args():
    p = _common.base_parser(__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=60_000, help="training rows")
    p.add_argument("--input-dim", type=int, default=784)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--batch-size", type=int, default=200)
    p.add_argument("--lr", type=float, default=1e-2)
    _common.int_arg(p, "--n-val", 100, "rows of the (tiny) validation set nplab's Solver needs")
    help_ = "rows the Solver uses for its end-of-epoch train accuracy"
    _common.int_arg(p, "--num-train-samples", 100, help_)
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch baseline")
    p.add_argument("--no-sklearn", action="store_true", help="skip the scikit-learn baseline")
    p.add_argument(
        "--no-breakdown",
        action="store_true",
        help="skip the per-step breakdown of nplab (loss() alone, Solver overhead)",
    )
    return p.parse_args()


# --------------------------------------------------------------------------- nplab
def make_nplab(args, seed):
    from nplab.nets import FullyConnectedNet

    return FullyConnectedNet(
        [args.hidden],
        input_dim=args.input_dim,
        num_classes=args.classes,
        activation="relu",
        normalization=None,
        dropout_keep_ratio=1.0,
        reg=0.0,
        loss="softmax",
        dtype=np.float32,
        seed=seed,
    )


def make_solver(model, data, args, seed):
    from nplab.solver import Solver

    return Solver(
        model,
        data,
        update_rule="sgd",
        optim_config={"learning_rate": args.lr},
        batch_size=args.batch_size,
        num_epochs=1,
        seed=seed,
        num_train_samples=args.num_train_samples,
        num_val_samples=None,
        verbose=False,
    )


def nplab_case(args, data):
    state = {}

    def setup():
        state["solver"] = None
        model = make_nplab(args, args.seed)
        state["solver"] = make_solver(model, data, args, args.seed)

    def run():
        state["solver"].train()

    def extra():
        hist = getattr(state["solver"], "loss_history", None)
        return {
            "final_loss": float(np.mean(hist[-10:])) if hist else None,
            "iterations": len(hist) if hist else None,
        }

    return {"fn": run, "setup": setup, "warmup": 0, "extra": extra}


def bench_nplab_breakdown(args, X, y):
    """Time model.loss() on one batch (forward+backward) and the SGD update alone."""
    model = make_nplab(args, args.seed)
    B = args.batch_size
    xb, yb = X[:B], y[:B]
    iters = args.n // B
    steps = min(iters, 50)

    def loss_steps():
        for _ in range(steps):
            model.loss(xb, yb)

    t_loss = _common.time_it(loss_steps, repeat=args.repeat, warmup=1)
    _, grads = model.loss(xb, yb)

    def update_steps():
        for _ in range(steps):
            for k, w in model.params.items():
                w -= args.lr * grads[k]

    t_upd = _common.time_it(update_steps, repeat=args.repeat, warmup=1)
    dtypes = sorted({str(v.dtype) for v in model.params.values()})
    grad_dtypes = sorted({str(v.dtype) for v in grads.values()})
    return {
        "loss_per_step_s": t_loss["best"] / steps,
        "update_per_step_s": t_upd["best"] / steps,
        "loss_epoch_estimate_s": t_loss["best"] / steps * iters,
        "param_dtypes": dtypes,
        "grad_dtypes": grad_dtypes,
    }


# --------------------------------------------------------------------------- torch
def torch_case(args, torch, X, y):
    from torch import nn

    rng = np.random.default_rng(args.seed + 1)
    perm = rng.permutation(len(X))
    Xt = torch.from_numpy(np.ascontiguousarray(X[perm]))
    yt = torch.from_numpy(y[perm].astype(np.int64))
    B = args.batch_size
    state = {}

    def setup():
        torch.manual_seed(args.seed)
        model = nn.Sequential(
            nn.Linear(args.input_dim, args.hidden), nn.ReLU(), nn.Linear(args.hidden, args.classes)
        )
        state["model"] = model
        state["opt"] = torch.optim.SGD(model.parameters(), lr=args.lr, momentum=0.0)
        state["lossf"] = nn.CrossEntropyLoss()

    def run():
        model, opt, lossf = state["model"], state["opt"], state["lossf"]
        losses = []
        for i in range(0, len(Xt) - B + 1, B):
            opt.zero_grad(set_to_none=True)
            loss = lossf(model(Xt[i : i + B]), yt[i : i + B])
            loss.backward()
            opt.step()
            losses.append(loss.detach())
        state["losses"] = losses

    def extra():
        return {
            "final_loss": float(torch.stack(state["losses"][-10:]).mean()),
            "iterations": len(state["losses"]),
        }

    return {"fn": run, "setup": setup, "warmup": 1, "extra": extra}


# --------------------------------------------------------------------------- sklearn
def sklearn_case(args, X, y):
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.neural_network import MLPClassifier

    state = {}

    def setup():
        state["clf"] = MLPClassifier(
            hidden_layer_sizes=(args.hidden,),
            activation="relu",
            solver="sgd",
            batch_size=args.batch_size,
            max_iter=1,
            learning_rate_init=args.lr,
            learning_rate="constant",
            momentum=0.0,
            nesterovs_momentum=False,
            alpha=0.0,
            shuffle=True,
            early_stopping=False,
            random_state=args.seed,
        )

    def run():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=ConvergenceWarning)
            state["clf"].fit(X, y)

    def extra():
        clf = state["clf"]
        return {
            "final_loss": float(clf.loss_),  # mean loss over the epoch
            "iterations": int(clf.t_ // args.batch_size) if hasattr(clf, "t_") else None,
            "coef_dtype": str(clf.coefs_[0].dtype),
        }

    return {"fn": run, "setup": setup, "warmup": 0, "extra": extra}


def matmul_case(args):
    """The epoch's worth of batch-shaped forward GEMMs, (B x D) @ (D x H), as a GFLOP/s probe."""
    rng = np.random.default_rng(args.seed)
    a = rng.standard_normal((args.batch_size, args.input_dim), dtype=np.float32)
    b = rng.standard_normal((args.input_dim, args.hidden), dtype=np.float32)
    out = np.empty((args.batch_size, args.hidden), dtype=np.float32)
    calls = max(1, args.n // args.batch_size)

    def run():
        for _ in range(calls):
            np.matmul(a, b, out=out)

    return {
        "fn": run,
        "setup": None,
        "warmup": 1,
        "flops": 2.0 * args.batch_size * args.input_dim * args.hidden * calls,
        "calls": calls,
    }


# --------------------------------------------------------------------------- main
def main() -> None:
    args = parse_args()
    torch = None if args.no_torch else _common.optional_import("torch")
    have_sklearn = False
    if not args.no_sklearn:
        have_sklearn = _common.optional_import("sklearn") is not None
    _common.apply_thread_limits(args.threads)
    info = _common.machine_info(args.threads, args.wait_idle)

    rng = np.random.default_rng(args.seed)
    X = rng.standard_normal((args.n, args.input_dim), dtype=np.float32)
    y = rng.integers(0, args.classes, size=args.n).astype(np.int64)
    Xv = rng.standard_normal((args.n_val, args.input_dim), dtype=np.float32)
    yv = rng.integers(0, args.classes, size=args.n_val).astype(np.int64)
    data = {"X_train": X, "y_train": y, "X_val": Xv, "y_val": yv}

    D, H, C, N, B = args.input_dim, args.hidden, args.classes, args.n, args.batch_size
    flops = 3 * 2 * N * (D * H + H * C)
    # What is strictly needed: forward, both weight gradients, and the hidden
    # layer's input gradient -- not the gradient w.r.t. the input X.
    flops_min = 2 * N * (2 * D * H + 3 * H * C)
    print(
        f"MLP {D}-{H}-{C} (ReLU, softmax), float32, N={N}, batch {B}, 1 epoch SGD lr={args.lr}; "
        f"best of {args.repeat}"
    )
    print(f"epoch FLOPs (fwd+bwd, 3 x 2 x N x (D*H + H*C)) = {flops / 1e9:.1f} GFLOP")

    cases = {"nplab": nplab_case(args, data)}
    if torch is not None:
        cases["torch"] = torch_case(args, torch, X, y)
    if have_sklearn:
        cases["sklearn"] = sklearn_case(args, X, y)
    cases["matmul"] = matmul_case(args)
    print(
        f"\ntiming {', '.join(cases)} in {args.repeat} interleaved rounds "
        f"(matmul = {cases['matmul']['calls']} x np.matmul ({B}x{D})@({D}x{H}) float32) ...",
        flush=True,
    )
    timed = _common.time_interleaved(cases, repeat=args.repeat)
    for name, c in cases.items():
        if "extra" in c:
            timed[name].update(c["extra"]())
    mm_batch = {
        "shape": [B, D, H],
        "calls": cases["matmul"]["calls"],
        "seconds": timed.pop("matmul"),
        "gflops": None,
    }
    mm_batch["gflops"] = cases["matmul"]["flops"] / mm_batch["seconds"]["best"] / 1e9
    mm_large = _common.matmul_gflops(
        4096, D, H, np.float32, repeat=max(args.repeat, 3), seed=args.seed
    )
    bound_s = flops / (mm_batch["gflops"] * 1e9)
    bound_min_s = flops_min / (mm_batch["gflops"] * 1e9)
    print(
        f"np.matmul float32 ({B}x{D})@({D}x{H}): {mm_batch['gflops']:.1f} GFLOP/s (in the rounds); "
        f"(4096x{D})@({D}x{H}): {mm_large['gflops']:.1f} GFLOP/s (after)"
    )

    results = {
        "flops": flops,
        "flops_min": flops_min,
        "matmul_batch": mm_batch,
        "matmul_large": mm_large,
        "gemm_bound_s": bound_s,
        "gemm_bound_min_s": bound_min_s,
    }
    t_np = timed["nplab"]
    results["nplab"] = t_np
    t_torch = timed.get("torch")
    t_sk = timed.get("sklearn")
    if t_torch:
        results["torch"] = t_torch
    if t_sk:
        results["sklearn"] = t_sk
    if not args.no_breakdown:
        results["nplab_breakdown"] = bench_nplab_breakdown(args, X, y)

    r_torch = t_np["best"] / t_torch["best"] if t_torch else None
    r_sk = t_np["best"] / t_sk["best"] if t_sk else None
    r_bound = t_np["best"] / bound_s
    results.update(
        {
            "ratio_nplab_torch": r_torch,
            "ratio_nplab_sklearn": r_sk,
            "ratio_nplab_gemm_bound": r_bound,
            "ratio_nplab_gemm_bound_min": t_np["best"] / bound_min_s,
        }
    )

    def gflops(t):
        return f"{flops / t / 1e9:.1f}"

    loss_np = f"{t_np['final_loss']:.4f}" if t_np.get("final_loss") is not None else "-"
    rows = [_common.timing_row("nplab Solver", t_np, gflops(t_np["best"]), loss_np, "1.00")]
    for label, t, r in (("PyTorch", t_torch, r_torch), ("scikit-learn", t_sk, r_sk)):
        if t:
            loss = f"{t['final_loss']:.4f}"
            rows.append(_common.timing_row(label, t, gflops(t["best"]), loss, _common.fmt_ratio(r)))
    rows.append(
        [
            "GEMM bound (3x fwd)",
            _common.fmt_s(bound_s),
            "-",
            f"{mm_batch['gflops']:.1f}",
            "-",
            _common.fmt_ratio(r_bound),
        ]
    )
    rows.append(
        [
            "GEMM bound (no dX)",
            _common.fmt_s(bound_min_s),
            "-",
            f"{mm_batch['gflops']:.1f}",
            "-",
            _common.fmt_ratio(t_np["best"] / bound_min_s),
        ]
    )
    _common.print_table(
        ["", "best", "median", "GFLOP/s", "loss (end)", "nplab / this"],
        rows,
        title="one epoch (seconds; loss = mean of last 10 batches, sklearn: epoch mean)",
    )

    print()
    print(
        f"nplab / torch   = {_common.fmt_ratio(r_torch):>6}   {_common.goal_mark(r_torch, GOAL_TORCH)}"
    )
    print(
        f"nplab / sklearn = {_common.fmt_ratio(r_sk):>6}   {_common.goal_mark(r_sk, GOAL_SKLEARN)}"
    )
    print(
        f"nplab / GEMM lower bound = {r_bound:.2f}  (bound = {flops / 1e9:.1f} GFLOP at "
        f"{mm_batch['gflops']:.1f} GFLOP/s = {_common.fmt_s(bound_s)})"
    )
    print(
        f"nplab / GEMM bound without the input gradient = {t_np['best'] / bound_min_s:.2f}  "
        f"({flops_min / 1e9:.1f} GFLOP = 2N(2DH + 3HC) -> {_common.fmt_s(bound_min_s)}; "
        f"sklearn / this = {t_sk['best'] / bound_min_s:.2f})"
        if t_sk
        else f"nplab / GEMM bound without the input gradient = {t_np['best'] / bound_min_s:.2f}"
    )

    bd = results.get("nplab_breakdown")
    if bd:
        iters = N // B
        print(
            f"\nnplab breakdown per step: model.loss() {_common.fmt_s(bd['loss_per_step_s'])}, "
            f"SGD update {_common.fmt_s(bd['update_per_step_s'])}; x{iters} steps = "
            f"{_common.fmt_s(bd['loss_epoch_estimate_s'] + bd['update_per_step_s'] * iters)} "
            f"of {_common.fmt_s(t_np['best'])} Solver time; params {bd['param_dtypes']}, grads {bd['grad_dtypes']}"
        )

    print()
    _common.write_results(args, "mlp", info, results)


if __name__ == "__main__":
    main()
