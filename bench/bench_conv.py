#!/usr/bin/env python
"""Convolutional nets: nplab's NHWC NumPy core vs PyTorch CPU, at the same thread count.

Sections (``--sections``, default all but ``budgets``):

* ``layers`` -- conv forward + backward, float32, batch 128, on the lab's six 3x3 pad-1
  shapes (3->32 @32x32, 32->32 @32x32, 32->64 @16x16, 64->64 @16x16, 64->128 @8x8,
  128->128 @8x8): ``nplab.conv.conv_forward``/``conv_backward`` vs
  ``torch.nn.functional.conv2d`` with autograd, and the GFLOP/s of both against plain
  float32 ``np.matmul``s of the same three products (forward, weight gradient, input
  gradient) measured in the same rounds.  The first layer's input gradient is skipped by
  both (its input is the images).  Goal: total nplab / torch <= 1.5.
* ``epoch`` -- one training epoch (SGD momentum, batch 128) of a VGG-ish candidate for the
  lab's best CNN, [conv32-conv32-pool][conv64-conv64-pool][conv128-conv128-pool] with
  spatial batch norm and a 256-unit head, on 49,000 random 32x32x3 images: nplab
  ``ConvNet`` + ``Solver`` vs the same net in PyTorch.  ``--images`` times fewer images
  and extrapolates to 49,000 (the output says so).  Goal: nplab / torch <= 2.0.
* ``naive`` -- loop vs fast versions on CS231n's notebook shapes: conv x (100, 31, 31, 3),
  25 3x3 filters, stride 2, pad 1; max pool x (100, 32, 32, 3), 2x2 stride 2.
* ``memory`` -- peak memory of one training step (loss + gradients + Adam update) of the
  epoch's net at batch 128 and of a test-mode pass over 1,000 images (the Solver's
  evaluation batch), each in a fresh subprocess: numpy's traced allocations (tracemalloc)
  and the peak RSS; with the default im2col chunk budget and with chunking disabled.
* ``budgets`` (on demand) -- the ``layers`` total for several im2col chunk budgets.

    .venv/bin/python bench/bench_conv.py
    .venv/bin/python bench/bench_conv.py --sections layers,naive --repeat 5
    .venv/bin/python bench/bench_conv.py --sections epoch --images 4096 --json results/bench/conv.json
"""

from __future__ import annotations

import _common

_THREADS = _common.pin_threads_from_argv()

import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

_common.ensure_nplab_importable()

from nplab import conv as C  # noqa: E402
from nplab.cnn import ConvNet  # noqa: E402

GOAL_LAYERS = 1.5
GOAL_EPOCH = 2.0
MIB = 2**20
FULL_EPOCH = 49_000
SECTIONS = ("layers", "epoch", "naive", "memory", "budgets")
#: (C_in, C_out, H = W) of the lab's convolutions, all 3x3, stride 1, pad 1
LAB_SHAPES = [(3, 32, 32), (32, 32, 32), (32, 64, 16), (64, 64, 16), (64, 128, 8), (128, 128, 8)]
BEST_BLOCKS = [
    {"widths": [32, 32], "norm": "batch"},
    {"widths": [64, 64], "norm": "batch"},
    {"widths": [128, 128], "norm": "batch"},
]
BEST_HIDDEN = [256]


def parse_args(argv=None):
    p = _common.base_parser(__doc__.split("\n\n")[0])
    p.add_argument(
        "--sections",
        default="layers,epoch,naive,memory",
        help=f"comma-separated subset of {','.join(SECTIONS)}",
    )
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument(
        "--images", type=int, default=FULL_EPOCH, help="images of the timed epoch (extrapolated)"
    )
    p.add_argument("--epoch-repeat", type=int, default=2, help="timed epochs per contender")
    p.add_argument("--lr", type=float, default=1e-2)
    p.add_argument(
        "--col-budget-mib",
        type=float,
        default=C.DEFAULT_COL_BUDGET_BYTES / MIB,
        help="im2col chunk budget of nplab's convolutions",
    )
    p.add_argument("--budgets", default="1,2,4,8,16,64,1024", help="MiB values for 'budgets'")
    p.add_argument("--no-torch", action="store_true", help="skip the PyTorch baselines")
    p.add_argument("--_memory-child", dest="memory_child", default=None, help=argparse_hidden())
    args = p.parse_args(argv)
    args.sections = [s for s in args.sections.split(",") if s]
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        p.error(f"unknown section(s) {sorted(unknown)}; choose from {SECTIONS}")
    return args


def argparse_hidden():
    import argparse

    return argparse.SUPPRESS


def _budget(args) -> int:
    return max(1, int(args.col_budget_mib * MIB))


# --------------------------------------------------------------------------- layers
def conv_flops(n, c_in, c_out, hw, need_dx=True) -> float:
    """Forward + weight gradient (+ input gradient): 2 * N*H*W * 9*C_in * C_out each."""
    return (3 if need_dx else 2) * 2.0 * n * hw * hw * 9 * c_in * c_out


def layer_cases(args, torch, shape, budget):
    c_in, c_out, hw = shape
    n = args.batch_size
    need_dx = c_in != 3
    rng = np.random.default_rng(args.seed)
    x = rng.standard_normal((n, hw, hw, c_in), dtype=np.float32)
    w = (rng.standard_normal((3, 3, c_in, c_out), dtype=np.float32) * 0.1).astype(np.float32)
    b = rng.standard_normal(c_out, dtype=np.float32)
    dout = rng.standard_normal((n, hw, hw, c_out), dtype=np.float32)
    param = {"stride": 1, "pad": 1, "col_budget_bytes": budget}

    def nplab():
        _, cache = C.conv_forward(x, w, b, param)
        C.conv_backward(dout, cache, need_dx=need_dx)

    cases = {"nplab": {"fn": nplab, "warmup": 1}}
    if torch is not None:
        cases["torch"] = torch_layer_case(torch, x, w, b, dout, need_dx)
    cases["matmul"] = matmul_layer_case(n * hw * hw, 9 * c_in, c_out, need_dx, rng)
    return cases


def torch_layer_case(torch, x, w, b, dout, need_dx):
    F = torch.nn.functional
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).requires_grad_(need_dx)
    wt = torch.from_numpy(np.ascontiguousarray(w.transpose(3, 2, 0, 1))).requires_grad_()
    bt = torch.from_numpy(b.copy()).requires_grad_()
    gt = torch.from_numpy(np.ascontiguousarray(dout.transpose(0, 3, 1, 2)))

    def run():
        wt.grad = bt.grad = xt.grad = None
        F.conv2d(xt, wt, bt, stride=1, padding=1).backward(gt)

    return {"fn": run, "warmup": 1}


def matmul_layer_case(m, k, f, need_dx, rng):
    """The layer's products as plain contiguous float32 matmuls: (m,k)@(k,f), (k,m)@(m,f)
    and (m,f)@(f,k) -- what the convolution would cost with free copies."""
    col = rng.standard_normal((m, k), dtype=np.float32)
    col_t = np.ascontiguousarray(col.T)
    w = rng.standard_normal((k, f), dtype=np.float32)
    w_t = np.ascontiguousarray(w.T)
    out = np.empty((m, f), dtype=np.float32)
    dw = np.empty((k, f), dtype=np.float32)
    dcol = np.empty((m, k), dtype=np.float32)

    def run():
        np.matmul(col, w, out=out)
        np.matmul(col_t, out, out=dw)
        if need_dx:
            np.matmul(out, w_t, out=dcol)

    return {"fn": run, "warmup": 1}


def run_layers(args, torch):
    print(
        f"\n[layers] conv forward + backward, float32, batch {args.batch_size}, 3x3 pad 1, "
        f"im2col budget {args.col_budget_mib:g} MiB; best of {args.repeat} interleaved rounds"
    )
    rows, totals, per_shape = [], {"nplab": 0.0, "torch": 0.0, "matmul": 0.0}, []
    flops_total = 0.0
    for shape in LAB_SHAPES:
        c_in, c_out, hw = shape
        print(f"{c_in}->{c_out} @{hw}x{hw}:", flush=True)
        timed = _common.time_interleaved(
            layer_cases(args, torch, shape, _budget(args)), args.repeat
        )
        flops = conv_flops(args.batch_size, c_in, c_out, hw, need_dx=c_in != 3)
        flops_total += flops
        best = {k: v["best"] for k, v in timed.items()}
        for k in best:
            totals[k] += best[k]
        per_shape.append({"shape": shape, "flops": flops, "times": timed})
        rows.append(_layer_row(f"{c_in}->{c_out} @{hw}", flops, best))
    if torch is None:
        totals.pop("torch")
    rows.append(_layer_row("total", flops_total, totals))
    _common.print_table(
        [
            "shape",
            "nplab",
            "torch",
            "matmul",
            "nplab GF/s",
            "torch GF/s",
            "matmul GF/s",
            "nplab/torch",
            "nplab/matmul",
        ],
        rows,
        title="conv forward + backward (best times; GFLOP/s = the layer's 2 or 3 products / time)",
    )
    ratio = totals["nplab"] / totals["torch"] if "torch" in totals else None
    print(
        f"\ntotal nplab / torch = {_common.fmt_ratio(ratio)}   {_common.goal_mark(ratio, GOAL_LAYERS)}"
    )
    print(
        f"total nplab GFLOP/s = {flops_total / totals['nplab'] / 1e9:.1f}, plain matmul "
        f"{flops_total / totals['matmul'] / 1e9:.1f} (nplab reaches "
        f"{totals['matmul'] / totals['nplab']:.0%} of it)"
        + (f", torch {flops_total / totals['torch'] / 1e9:.1f}" if ratio else "")
    )
    return {"per_shape": per_shape, "totals": totals, "flops": flops_total, "ratio_torch": ratio}


def _layer_row(label, flops, best):
    def gf(k):
        return f"{flops / best[k] / 1e9:.1f}" if k in best else "-"

    def ratio(k):
        return _common.fmt_ratio(best["nplab"] / best[k]) if k in best else "-"

    return [
        label,
        _common.fmt_s(best["nplab"]),
        _common.fmt_s(best.get("torch")),
        _common.fmt_s(best["matmul"]),
        gf("nplab"),
        gf("torch"),
        gf("matmul"),
        ratio("torch"),
        ratio("matmul"),
    ]


def run_budgets(args):
    budgets = [float(v) for v in args.budgets.split(",")]
    print(f"\n[budgets] layers total (nplab only) for im2col budgets {budgets} MiB")
    cases = {}
    for mib in budgets:
        layer_fns = [layer_cases(args, None, s, int(mib * MIB))["nplab"]["fn"] for s in LAB_SHAPES]
        cases[f"{mib:g} MiB"] = {"fn": lambda fns=layer_fns: [f() for f in fns], "warmup": 1}
    timed = _common.time_interleaved(cases, args.repeat)
    rows = [
        [name, _common.fmt_s(t["best"]), _common.fmt_s(t["median"])] for name, t in timed.items()
    ]
    _common.print_table(["budget", "best", "median"], rows, title="six lab shapes, fwd + bwd")
    return timed


# --------------------------------------------------------------------------- epoch
def make_images(n, seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 32, 32, 3), dtype=np.float32), rng.integers(10, size=n)


def new_nplab_net(args, seed, budget):
    return ConvNet(
        BEST_BLOCKS, BEST_HIDDEN, (32, 32, 3), 10, init="he", seed=seed, col_budget_bytes=budget
    )


def nplab_epoch_case(args, X, y):
    from nplab.solver import Solver

    data = {"X_train": X, "y_train": y, "X_val": X[:100], "y_val": y[:100]}
    state = {}

    def setup():
        state["solver"] = None
        net = new_nplab_net(args, args.seed, _budget(args))
        net.loss(X[:8], y[:8])  # first-call costs outside the timing
        state["solver"] = Solver(
            net,
            data,
            update_rule="sgd_momentum",
            optim_config={"learning_rate": args.lr, "momentum": 0.9},
            batch_size=args.batch_size,
            num_epochs=1,
            num_train_samples=100,
            seed=args.seed,
        )

    def run():
        state["loss"] = state["solver"].train().loss_history[-10:].mean()

    return {"fn": run, "setup": setup, "state": state}


def torch_net(torch):
    nn = torch.nn
    layers, c = [], 3
    for block in BEST_BLOCKS:
        for width in block["widths"]:
            layers += [nn.Conv2d(c, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU()]
            c = width
        layers.append(nn.MaxPool2d(2))
    layers += [nn.Flatten(), nn.Linear(4 * 4 * c, BEST_HIDDEN[0]), nn.ReLU()]
    layers.append(nn.Linear(BEST_HIDDEN[0], 10))
    return nn.Sequential(*layers)


def torch_epoch_case(args, torch, X, y):
    rng = np.random.default_rng(args.seed + 1)
    perm = rng.permutation(len(X))
    Xt = torch.from_numpy(np.ascontiguousarray(X[perm].transpose(0, 3, 1, 2)))
    yt = torch.from_numpy(y[perm].astype(np.int64))
    B = args.batch_size
    state = {}

    def setup():
        torch.manual_seed(args.seed)
        net = torch_net(torch)
        opt = torch.optim.SGD(net.parameters(), lr=args.lr, momentum=0.9)
        lossf = torch.nn.CrossEntropyLoss()
        lossf(net(Xt[:8]), yt[:8]).backward()  # first-call costs outside the timing
        opt.zero_grad(set_to_none=True)
        state.update(net=net, opt=opt, lossf=lossf)

    def run():
        net, opt, lossf = state["net"], state["opt"], state["lossf"]
        net.train()
        losses = []
        for i in range(0, len(Xt), B):
            opt.zero_grad(set_to_none=True)
            loss = lossf(net(Xt[i : i + B]), yt[i : i + B])
            loss.backward()
            opt.step()
            losses.append(loss.detach())
        state["loss"] = float(torch.stack(losses[-10:]).mean())

    return {"fn": run, "setup": setup, "state": state}


def run_epoch(args, torch):
    n = args.images
    scale = FULL_EPOCH / n
    note = "" if n == FULL_EPOCH else f" (timed on {n:,} images, extrapolated x{scale:.2f})"
    print(
        f"\n[epoch] one epoch, batch {args.batch_size}, SGD momentum 0.9 lr {args.lr}, "
        f"{FULL_EPOCH:,} images{note}; best of {args.epoch_repeat} interleaved rounds"
    )
    X, y = make_images(n, args.seed)
    cases = {"nplab": nplab_epoch_case(args, X, y)}
    if torch is not None:
        cases["torch"] = torch_epoch_case(args, torch, X, y)
    timed = _common.time_interleaved(cases, args.epoch_repeat)
    rows, out = [], {"images_timed": n, "extrapolation": scale}
    for name, t in timed.items():
        full = t["best"] * scale
        out[name] = {**t, "epoch_s": full, "loss_end": cases[name]["state"].get("loss")}
        rows.append(
            [name, _common.fmt_s(t["best"]), _common.fmt_s(full), f"{out[name]['loss_end']:.3f}"]
        )
    _common.print_table(
        ["", f"best ({n:,} images)", f"epoch of {FULL_EPOCH:,}", "loss (end)"],
        rows,
        title="one epoch of the VGG-ish net (nplab includes the Solver's end-of-epoch checks)",
    )
    ratio = out["nplab"]["epoch_s"] / out["torch"]["epoch_s"] if torch is not None else None
    out["ratio_torch"] = ratio
    print(
        f"\nepoch nplab / torch = {_common.fmt_ratio(ratio)}   {_common.goal_mark(ratio, GOAL_EPOCH)}"
    )
    return out


# --------------------------------------------------------------------------- naive vs fast
def run_naive(args):
    print(
        f"\n[naive] loop vs fast versions, float64 (CS231n's notebook shapes); best of {args.repeat}"
    )
    rng = np.random.default_rng(args.seed)
    x = rng.standard_normal((100, 31, 31, 3))
    w = rng.standard_normal((3, 3, 3, 25))
    b = rng.standard_normal(25)
    cp = {"stride": 2, "pad": 1}
    xp = rng.standard_normal((100, 32, 32, 3))
    pp = {"pool_height": 2, "pool_width": 2, "stride": 2}
    out, cache_n = C.conv_forward_naive(x, w, b, cp)
    _, cache_f = C.conv_forward(x, w, b, cp)
    dout = rng.standard_normal(out.shape)
    pout, pcache_n = C.max_pool_forward_naive(xp, pp)
    _, pcache_f = C.max_pool_forward(xp, pp)
    pdout = rng.standard_normal(pout.shape)
    pairs = {
        "conv forward": (
            lambda: C.conv_forward_naive(x, w, b, cp)[0],
            lambda: C.conv_forward(x, w, b, cp)[0],
        ),
        "conv backward": (
            lambda: C.conv_backward_naive(dout, cache_n),
            lambda: C.conv_backward(dout, cache_f),
        ),
        "max pool forward": (
            lambda: C.max_pool_forward_naive(xp, pp)[0],
            lambda: C.max_pool_forward(xp, pp)[0],
        ),
        "max pool backward": (
            lambda: C.max_pool_backward_naive(pdout, pcache_n),
            lambda: C.max_pool_backward(pdout, pcache_f),
        ),
    }
    rows, out = [], {}
    for name, (naive, fast) in pairs.items():
        timed = _common.time_interleaved(
            {"naive": {"fn": naive}, "fast": {"fn": fast}}, args.repeat, verbose=False
        )
        a, f = naive(), fast()
        a, f = (a, f) if isinstance(a, tuple) else ((a,), (f,))
        err = max(float(np.max(np.abs(u - v))) for u, v in zip(a, f))
        speedup = timed["naive"]["best"] / timed["fast"]["best"]
        out[name] = {**timed, "speedup": speedup, "max_abs_diff": err}
        rows.append(
            [
                name,
                _common.fmt_s(timed["naive"]["best"]),
                _common.fmt_s(timed["fast"]["best"]),
                f"{speedup:.0f}x",
                f"{err:.1e}",
            ]
        )
    _common.print_table(
        ["", "naive", "fast", "speed-up", "max |diff|"],
        rows,
        title="conv x (100, 31, 31, 3), w (3, 3, 3, 25), stride 2, pad 1; pool x (100, 32, 32, 3) 2x2/2",
    )
    return out


# --------------------------------------------------------------------------- memory
def memory_child(args):
    """In a fresh interpreter: peak memory of one training step or one test-mode pass."""
    import tracemalloc

    from nplab import optim

    tracemalloc.start()  # before anything is built: every numpy buffer is traced
    what, budget = args.memory_child.split(":")
    net = new_nplab_net(args, args.seed, int(budget))
    n = args.batch_size if what == "step" else 1000
    X, y = make_images(n, args.seed)
    configs = {k: {"learning_rate": 1e-3} for k in net.params}

    def step():
        _, grads = net.loss(X, y)
        for k, w in net.params.items():
            net.params[k], configs[k] = optim.adam(w, grads[k], configs[k])

    run = step if what == "step" else (lambda: net.loss(X))
    run()  # optimizer state and first-call allocations exist before the measurement
    held, _ = tracemalloc.get_traced_memory()
    tracemalloc.reset_peak()
    rss_before = _common.proc_status_bytes("VmRSS")
    reset = _common.reset_peak_rss()
    run()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    res = {
        "what": what,
        "budget": int(budget),
        "images": n,
        "input_bytes": X.nbytes,
        "params_bytes": sum(v.nbytes for v in net.params.values()),
        "traced_held_before": held,
        "traced_peak": peak,
        "rss_before": rss_before,
        "hwm_after": _common.proc_status_bytes("VmHWM"),
        "hwm_reset": reset,
    }
    print("MEMORY_RESULT " + json.dumps(res), flush=True)


def run_memory(args):
    print(
        f"\n[memory] the epoch's net: one training step (batch {args.batch_size}, loss + grads + "
        "Adam) and one test-mode pass over 1,000 images, each in a fresh subprocess"
    )
    rows, out = [], []
    for what in ("step", "eval"):
        for budget in (_budget(args), 2**62):
            cmd = [
                sys.executable,
                os.path.abspath(__file__),
                "--_memory-child",
                f"{what}:{budget}",
                "--threads",
                str(args.threads),
                "--seed",
                str(args.seed),
                "--batch-size",
                str(args.batch_size),
            ]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"memory child failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
                continue
            line = [ln for ln in proc.stdout.splitlines() if ln.startswith("MEMORY_RESULT ")][-1]
            res = json.loads(line.split(" ", 1)[1])
            out.append(res)
            label = "default budget" if budget < 2**62 else "no chunking"
            rows.append(
                [
                    f"{'train step' if what == 'step' else 'test pass'}, {res['images']} images",
                    f"{label} ({budget / MIB:g} MiB)" if budget < 2**62 else label,
                    f"{res['traced_peak'] / MIB:.0f} MiB",
                    f"{(res['traced_peak'] - res['traced_held_before']) / MIB:.0f} MiB",
                    f"{res['hwm_after'] / MIB:.0f} MiB"
                    + ("" if res["hwm_reset"] else " (not reset)"),
                ]
            )
    _common.print_table(
        ["", "im2col chunks", "numpy peak", "above held", "peak RSS"],
        rows,
        title="peak memory: numpy's traced buffers at the peak (parameters, optimizer state, "
        "data, activations, im2col blocks), the part above what was held before the call, "
        "and the process's peak RSS (interpreter and libraries too)",
    )
    return out


# --------------------------------------------------------------------------- main
def main() -> None:
    args = parse_args()
    if args.memory_child:
        memory_child(args)
        return
    torch = None
    if not args.no_torch and {"layers", "epoch"} & set(args.sections):
        torch = _common.optional_import("torch")
    _common.apply_thread_limits(args.threads)
    info = _common.machine_info(args.threads, args.wait_idle)
    results = {}
    t0 = time.perf_counter()
    if "layers" in args.sections:
        results["layers"] = run_layers(args, torch)
    if "budgets" in args.sections:
        results["budgets"] = run_budgets(args)
    if "epoch" in args.sections:
        results["epoch"] = run_epoch(args, torch)
    if "naive" in args.sections:
        results["naive"] = run_naive(args)
    if "memory" in args.sections:
        results["memory"] = run_memory(args)
    print(
        f"\n(benchmark wall time {_common.fmt_s(time.perf_counter() - t0)}, threads {args.threads})"
    )
    _common.write_results(args, "conv", info, results)


if __name__ == "__main__":
    main()
