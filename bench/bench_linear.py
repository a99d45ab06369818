#!/usr/bin/env python
"""Naive (explicit loops) vs vectorised linear-classifier losses in nplab.

Times ``nplab.linear.svm_loss_naive`` / ``svm_loss_vectorized`` and
``softmax_loss_naive`` / ``softmax_loss_vectorized`` (loss + gradient) on the
course's dev-set size: 500 rows x 3073 columns (3072 pixels + bias), 10
classes, in float64 and float32, and prints the speedups.  Random data; the
last column is the bias column of ones.  Not a test: nothing here fails.

    .venv/bin/python bench/bench_linear.py
    .venv/bin/python bench/bench_linear.py --n 500 --dim 3073 --repeat 5 --json results/bench/linear.json
"""

from __future__ import annotations

import _common

_THREADS = _common.pin_threads_from_argv()

import numpy as np  # noqa: E402

_common.ensure_nplab_importable()


def parse_args():
    p = _common.base_parser(__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=500, help="rows (the course's dev set: 500)")
    p.add_argument("--dim", type=int, default=3073, help="columns including the bias column")
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--reg", type=float, default=5e-6, help="L2 regularisation strength")
    p.add_argument("--delta", type=float, default=1.0, help="SVM margin")
    p.add_argument("--dtypes", default="float64,float32", help="comma-separated dtypes")
    p.set_defaults(repeat=5)
    return p.parse_args()


def make_data(n, dim, classes, dtype, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, dim)).astype(dtype)
    X[:, -1] = 1.0  # bias column, as in the lab's centred_bias matrices
    y = rng.integers(0, classes, size=n)
    W = (1e-4 * rng.standard_normal((dim, classes))).astype(dtype)
    return W, X, y


def main() -> None:
    args = parse_args()
    from nplab import linear

    _common.apply_thread_limits(args.threads)
    info = _common.machine_info(args.threads, args.wait_idle)
    print(
        f"linear losses: N={args.n} x D={args.dim}, C={args.classes}, reg={args.reg}, "
        f"delta={args.delta}, best of {args.repeat} (vectorised: best of {max(args.repeat, 20)})"
    )

    cases = [
        (
            "svm",
            linear.svm_loss_naive,
            linear.svm_loss_vectorized,
            {"reg": args.reg, "delta": args.delta},
        ),
        ("softmax", linear.softmax_loss_naive, linear.softmax_loss_vectorized, {"reg": args.reg}),
    ]
    rows, results = [], []
    for dtype_name in [d.strip() for d in args.dtypes.split(",") if d.strip()]:
        dtype = np.dtype(dtype_name)
        W, X, y = make_data(args.n, args.dim, args.classes, dtype, args.seed)
        for name, naive, vec, kw in cases:
            loss_n, grad_n = naive(W, X, y, **kw)
            loss_v, grad_v = vec(W, X, y, **kw)
            loss_diff = abs(float(loss_n) - float(loss_v))
            grad_rel = float(np.max(np.abs(grad_n - grad_v)) / max(np.max(np.abs(grad_n)), 1e-30))
            t_naive = _common.time_it(lambda: naive(W, X, y, **kw), repeat=args.repeat, warmup=0)
            t_vec = _common.time_it(
                lambda: vec(W, X, y, **kw), repeat=max(args.repeat, 20), warmup=2
            )
            speedup = t_naive["best"] / t_vec["best"]
            rows.append(
                [
                    name,
                    dtype_name,
                    _common.fmt_s(t_naive["best"]),
                    _common.fmt_s(t_vec["best"]),
                    f"{speedup:.1f}x",
                    f"{loss_diff:.1e}",
                    f"{grad_rel:.1e}",
                    str(np.asarray(grad_v).dtype),
                ]
            )
            results.append(
                {
                    "loss": name,
                    "dtype": dtype_name,
                    "naive_s": t_naive,
                    "vectorized_s": t_vec,
                    "speedup": speedup,
                    "abs_loss_diff": loss_diff,
                    "max_rel_grad_diff": grad_rel,
                    "grad_dtype_vectorized": str(np.asarray(grad_v).dtype),
                }
            )

    _common.print_table(
        [
            "loss",
            "dtype",
            "naive",
            "vectorised",
            "speedup",
            "|dloss|",
            "max rel dgrad",
            "grad dtype",
        ],
        rows,
        title=f"naive vs vectorised loss+gradient ({args.n} x {args.dim}, {args.classes} classes; best of N)",
    )
    print()
    _common.write_results(args, "linear", info, results)


if __name__ == "__main__":
    main()
