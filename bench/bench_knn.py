#!/usr/bin/env python
"""k-nearest-neighbour prediction: nplab vs scikit-learn, GEMM efficiency, memory.

Random float32 data of CIFAR-10's size by default (1,000 test x 49,000 train x
3,072 dims; scale down with --n-test/--n-train/--dim).  Parts:

1. L2 no-loop prediction with k=1 (``KNearestNeighbor.fit`` + ``predict``) vs
   scikit-learn ``KNeighborsClassifier(n_neighbors=1, algorithm="brute")``
   fit+predict.  Goal: nplab/sklearn <= 1.0.
2. Achieved GFLOP/s of nplab's no-loop distance computation
   (2 * n_test * n_train * dim flops, the matmul part) vs a plain float32
   ``np.matmul`` (n_test x dim) @ (dim x n_train) in the same run.
   Goal: >= 80 % of the plain matmul.
3. The three distance methods (two loops, one loop, no loops) on a small case
   (200 x 5,000 x 3,072 by default) with speedups relative to two loops.
4. ``--memory`` (slow): peak RSS increase while predicting 10,000 x 50,000
   (dim 3,072) with the default chunking, measured in a fresh subprocess
   (VmHWM reset through /proc/self/clear_refs when the kernel allows it).
   Goal: <= 2 GiB beyond the input arrays.

    .venv/bin/python bench/bench_knn.py
    .venv/bin/python bench/bench_knn.py --n-test 500 --n-train 10000 --repeat 2
    .venv/bin/python bench/bench_knn.py --memory --json results/bench/knn.json
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

GOAL_SKLEARN = 1.0
GOAL_GEMM_FRACTION = 0.80
GOAL_MEMORY_GIB = 2.0
GIB = 1024**3


def parse_args(argv=None):
    p = _common.base_parser(__doc__.split("\n\n")[0])
    p.add_argument("--n-test", type=int, default=1_000)
    p.add_argument("--n-train", type=int, default=49_000)
    p.add_argument("--dim", type=int, default=3_072)
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--no-sklearn", action="store_true", help="skip the scikit-learn baseline")
    p.add_argument(
        "--small-n-test", type=int, default=200, help="test rows for the three-method comparison"
    )
    _common.int_arg(p, "--small-n-train", 5_000, "train rows for the three-method comparison")
    p.add_argument("--no-methods", action="store_true", help="skip the two/one/no-loop comparison")
    p.add_argument(
        "--memory", action="store_true", help="also run the (slow) peak-memory measurement"
    )
    p.add_argument("--memory-n-test", type=int, default=10_000)
    p.add_argument("--memory-n-train", type=int, default=50_000)
    p.add_argument("--memory-dim", type=int, default=3_072)
    p.add_argument(
        "--_memory-child", dest="memory_child", action="store_true", help=argparse_hidden()
    )
    p.set_defaults(repeat=3)
    return p.parse_args(argv)


def argparse_hidden():
    import argparse

    return argparse.SUPPRESS


def make_data(n_test, n_train, dim, classes, seed):
    rng = np.random.default_rng(seed)
    X_train = rng.standard_normal((n_train, dim), dtype=np.float32)
    y_train = rng.integers(0, classes, size=n_train).astype(np.int64)
    X_test = rng.standard_normal((n_test, dim), dtype=np.float32)
    return X_train, y_train, X_test


def new_knn():
    from nplab.knn import KNearestNeighbor

    return KNearestNeighbor(k=1, metric="l2")


# --------------------------------------------------------------------------- memory
def memory_child(args):
    """Runs in a fresh interpreter: build inputs, then measure predict()'s peak RSS."""
    import resource

    X_train, y_train, X_test = make_data(
        args.memory_n_test, args.memory_n_train, args.memory_dim, args.classes, args.seed
    )
    inputs = X_train.nbytes + y_train.nbytes + X_test.nbytes
    knn = new_knn()
    knn.fit(X_train, y_train)
    rss_before = _common.proc_status_bytes("VmRSS")
    hwm_before_raw = _common.proc_status_bytes("VmHWM")
    reset = _common.reset_peak_rss()
    hwm_before = _common.proc_status_bytes("VmHWM")
    t0 = time.perf_counter()
    pred = knn.predict(X_test)
    seconds = time.perf_counter() - t0
    hwm_after = _common.proc_status_bytes("VmHWM")
    rss_after = _common.proc_status_bytes("VmRSS")
    ru_maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    out = {
        "n_test": args.memory_n_test,
        "n_train": args.memory_n_train,
        "dim": args.memory_dim,
        "input_bytes": inputs,
        "rss_before": rss_before,
        "hwm_before_raw": hwm_before_raw,
        "hwm_reset": reset,
        "hwm_before": hwm_before,
        "hwm_after": hwm_after,
        "rss_after": rss_after,
        "ru_maxrss_self": ru_maxrss,
        "peak_increase": hwm_after - rss_before,
        "predict_s": seconds,
        "pred_dtype": str(pred.dtype),
        "pred_shape": list(pred.shape),
        "memory_budget_bytes": getattr(knn, "memory_budget_bytes", None),
    }
    print("MEMORY_RESULT " + json.dumps(out), flush=True)


def run_memory(args):
    cmd = [
        sys.executable,
        os.path.abspath(__file__),
        "--_memory-child",
        "--threads",
        str(args.threads),
        "--seed",
        str(args.seed),
        "--memory-n-test",
        str(args.memory_n_test),
        "--memory-n-train",
        str(args.memory_n_train),
        "--memory-dim",
        str(args.memory_dim),
        "--classes",
        str(args.classes),
    ]
    print(
        f"\nmemory: subprocess predicting {args.memory_n_test} x {args.memory_n_train} x {args.memory_dim} "
        f"(this takes a while) ...",
        flush=True,
    )
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    proc = subprocess.run(cmd, capture_output=True, text=True)
    children_maxrss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024
    if proc.returncode != 0:
        print(f"memory measurement failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
        return {"error": proc.stderr[-3000:], "returncode": proc.returncode}
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("MEMORY_RESULT ")][-1]
    res = json.loads(line.split(" ", 1)[1])
    res["ru_maxrss_children"] = children_maxrss
    res["ru_maxrss_children_before"] = before
    inc_gib = res["peak_increase"] / GIB
    res["peak_increase_gib"] = inc_gib
    n_te, n_tr = res["n_test"], res["n_train"]
    full32 = n_te * n_tr * 4
    rows = [
        ["input arrays (X_train + y_train + X_test)", f"{res['input_bytes'] / GIB:.2f} GiB"],
        ["RSS before predict", f"{res['rss_before'] / GIB:.2f} GiB"],
        [
            "peak RSS during predict (VmHWM" + (", reset)" if res["hwm_reset"] else ", NOT reset)"),
            f"{res['hwm_after'] / GIB:.2f} GiB",
        ],
        [
            "peak increase beyond inputs",
            f"{inc_gib:.2f} GiB  {_common.goal_mark(inc_gib, GOAL_MEMORY_GIB)}",
        ],
        ["ru_maxrss of the child (RUSAGE_CHILDREN)", f"{children_maxrss / GIB:.2f} GiB"],
        ["(full float32 distance matrix would be)", f"{full32 / GIB:.2f} GiB"],
        ["predict time", _common.fmt_s(res["predict_s"])],
        ["KNearestNeighbor.memory_budget_bytes", str(res.get("memory_budget_bytes"))],
    ]
    _common.print_table(
        ["memory (default chunking)", "value"],
        rows,
        title=f"peak memory, {n_te} test x {n_tr} train x {res['dim']} float32, k=1",
    )
    return res


# --------------------------------------------------------------------------- main
def main() -> None:
    args = parse_args()
    if args.memory_child:
        _common.apply_thread_limits(args.threads)
        memory_child(args)
        return

    have_sklearn = False
    if not args.no_sklearn:
        have_sklearn = _common.optional_import("sklearn") is not None
    _common.apply_thread_limits(args.threads)
    info = _common.machine_info(args.threads, args.wait_idle)
    results = {}

    nte, ntr, dim = args.n_test, args.n_train, args.dim
    flops = 2.0 * nte * ntr * dim
    print(f"kNN L2, k=1, float32: {nte} test x {ntr} train x {dim} dims; best of {args.repeat}")
    X_train, y_train, X_test = make_data(nte, ntr, dim, args.classes, args.seed)
    print(f"inputs: X_train {X_train.nbytes / GIB:.2f} GiB, X_test {X_test.nbytes / GIB:.3f} GiB")

    # 1. + 2. predictions and distance GEMM efficiency, in interleaved rounds ----------
    state = {}

    def np_predict():
        knn = new_knn()
        knn.fit(X_train, y_train)
        state["pred"] = knn.predict(X_test)

    cases = {"nplab predict": {"fn": np_predict}}
    if have_sklearn:
        from sklearn.neighbors import KNeighborsClassifier

        def sk_predict():
            clf = KNeighborsClassifier(n_neighbors=1, algorithm="brute")
            clf.fit(X_train, y_train)
            state["sk_pred"] = clf.predict(X_test)

        cases["sklearn predict"] = {"fn": sk_predict}

    knn = new_knn()
    knn.fit(X_train, y_train)

    def np_dists():
        state["d"] = None  # free the previous result before allocating the next
        state["d"] = knn.compute_distances_no_loops(X_test)

    def plain_mm():
        state["m"] = None
        state["m"] = np.matmul(X_test, X_train.T)

    cases["nplab distances"] = {"fn": np_dists, "warmup": 1}
    cases["np.matmul"] = {"fn": plain_mm, "warmup": 1}
    print(f"timing {', '.join(cases)} in {args.repeat} interleaved rounds ...", flush=True)
    timed = _common.time_interleaved(cases, repeat=args.repeat)
    dist_dtype = str(state["d"].dtype)
    state.pop("d"), state.pop("m")

    t_np = timed["nplab predict"]
    t_sk = timed.get("sklearn predict")
    results["nplab_predict"] = t_np
    agree = None
    if t_sk:
        results["sklearn_predict"] = t_sk
        agree = float(np.mean(np.asarray(state["pred"]) == state["sk_pred"]))
        results["prediction_agreement"] = agree
    r_sk = t_np["best"] / t_sk["best"] if t_sk else None
    results["ratio_nplab_sklearn"] = r_sk

    t_dist, t_mm = timed["nplab distances"], timed["np.matmul"]
    g_dist = flops / t_dist["best"] / 1e9
    g_mm = flops / t_mm["best"] / 1e9
    frac = g_dist / g_mm
    results.update(
        {
            "nplab_distances_no_loops": t_dist,
            "plain_matmul": t_mm,
            "gflops_nplab": g_dist,
            "gflops_matmul": g_mm,
            "gemm_fraction": frac,
            "distance_dtype": dist_dtype,
        }
    )

    _common.print_table(
        ["", "best", "median", "GFLOP/s (matmul part)", "nplab / this"],
        [
            _common.timing_row(
                "nplab fit+predict (k=1, no loops)",
                t_np,
                f"{flops / t_np['best'] / 1e9:.1f}",
                "1.00",
            ),
            [
                "sklearn KNeighborsClassifier brute",
                _common.fmt_s(t_sk["best"]) if t_sk else "skipped",
                _common.fmt_s(t_sk["median"]) if t_sk else "-",
                f"{flops / t_sk['best'] / 1e9:.1f}" if t_sk else "-",
                _common.fmt_ratio(r_sk),
            ],
            _common.timing_row("nplab compute_distances_no_loops", t_dist, f"{g_dist:.1f}", "-"),
            _common.timing_row(
                "plain np.matmul (n_test x dim)@(dim x n_train)", t_mm, f"{g_mm:.1f}", "-"
            ),
        ],
        title=f"kNN k=1, {nte} x {ntr} x {dim} float32 ({flops / 1e9:.0f} GFLOP in the matmul part)",
    )
    print()
    print(
        f"nplab / sklearn (fit+predict)            = {_common.fmt_ratio(r_sk):>6}   "
        f"{_common.goal_mark(r_sk, GOAL_SKLEARN)}"
        + (f"; predictions agree on {agree:.1%}" if agree is not None else "")
    )
    print(
        f"nplab distances GFLOP/s / np.matmul's    = {frac:>6.1%}   "
        f"{_common.goal_mark(frac, GOAL_GEMM_FRACTION, higher_is_better=True)}; distances dtype {dist_dtype}"
    )
    # drop the big arrays (closures hold them too) before the next section allocates its own
    state.clear()
    X_train = X_test = y_train = knn = None

    # 3. two / one / no loops ------------------------------------------------------
    if not args.no_methods:
        snte, sntr = args.small_n_test, args.small_n_train
        print(f"\ntiming the three distance methods on {snte} x {sntr} x {dim} ...", flush=True)
        Xs_train, ys_train, Xs_test = make_data(snte, sntr, dim, args.classes, args.seed + 1)
        knn = new_knn()
        knn.fit(Xs_train, ys_train)
        methods = [
            ("two loops", knn.compute_distances_two_loops, 1),
            ("one loop", knn.compute_distances_one_loop, max(1, min(args.repeat, 3))),
            ("no loops", knn.compute_distances_no_loops, max(args.repeat, 5)),
        ]
        out, rows, ref = {}, [], None
        for name, fn, rep in methods:
            holder = {}
            t = _common.time_it(lambda: holder.__setitem__("d", fn(Xs_test)), repeat=rep)
            d = holder["d"]
            if ref is None:
                ref = d
                diff = 0.0
            else:
                diff = float(
                    np.max(np.abs(np.asarray(d, np.float64) - np.asarray(ref, np.float64)))
                )
            out[name] = {"seconds": t, "max_abs_diff_vs_two_loops": diff, "dtype": str(d.dtype)}
        base = out["two loops"]["seconds"]["best"]
        for name, _, rep in methods:
            o = out[name]
            o["speedup_vs_two_loops"] = base / o["seconds"]["best"]
            rows.append(
                [
                    name,
                    _common.fmt_s(o["seconds"]["best"]),
                    f"{rep}",
                    f"{o['speedup_vs_two_loops']:.1f}x",
                    f"{o['max_abs_diff_vs_two_loops']:.1e}",
                    o["dtype"],
                ]
            )
        _common.print_table(
            ["method", "best", "runs", "speedup vs two loops", "max |diff|", "dtype"],
            rows,
            title=f"distance methods, {snte} test x {sntr} train x {dim} float32",
        )
        results["methods"] = out
        results["methods_shape"] = [snte, sntr, dim]

    # 4. memory ------------------------------------------------------------------
    if args.memory:
        results["memory"] = run_memory(args)

    print()
    _common.write_results(args, "knn", info, results)


if __name__ == "__main__":
    main()
