"""Naive vs fast convolution and pooling, and the fast convolution against a plain matrix
product of the same size (rule cnn_timing; results/cnn/timing.json).

Timings are volatile: every timing-derived key matches the volatile-key pattern of the
determinism test (``*_seconds``, ``*_speedup``, ``*_per_s``, ``ratio_to_baseline``), so
two runs differ only there. Contenders are timed in interleaved rounds (naive, fast,
naive, fast, ...) and the best round counts, so a slow phase of the machine hits both.
"""

import time

import numpy as np

from nplab import conv as C
from nplab_io.atomic import write_json_atomic


def best_of(fns: dict, repeats: dict) -> dict:
    """{name: best seconds}, the contenders interleaved round by round."""
    best = {k: float("inf") for k in fns}
    for r in range(max(repeats.values())):
        for k, fn in fns.items():
            if r < repeats[k]:
                t0 = time.perf_counter()
                fn()
                best[k] = min(best[k], time.perf_counter() - t0)
    return best


def conv_flops(n, ho, wo, k, f) -> float:
    """One matrix product of the convolution: 2 * (N*Ho*Wo) * K * F."""
    return 2.0 * n * ho * wo * k * f


def notebook_conv(p, rng) -> dict:
    """The notebook's x (100, 3, 31, 31) -> NHWC, 25 3x3 filters, stride 2, pad 1, float64."""
    n, hw, c, f, k = (int(p[key]) for key in ("N", "HW", "C", "F", "K"))
    x = rng.standard_normal((n, hw, hw, c))
    w, b = rng.standard_normal((k, k, c, f)), rng.standard_normal(f)
    cp = {"stride": int(p["stride"]), "pad": int(p["pad"])}
    out_n, cache_n = C.conv_forward_naive(x, w, b, cp)
    _, cache_f = C.conv_forward(x, w, b, cp)
    dout = rng.standard_normal(out_n.shape)
    t = best_of(
        {
            "naive_forward": lambda: C.conv_forward_naive(x, w, b, cp),
            "fast_forward": lambda: C.conv_forward(x, w, b, cp),
            "naive_backward": lambda: C.conv_backward_naive(dout, cache_n),
            "fast_backward": lambda: C.conv_backward(dout, cache_f),
        },
        {"naive_forward": p["naive_repeats"], "naive_backward": p["naive_repeats"]}
        | {"fast_forward": p["fast_repeats"], "fast_backward": p["fast_repeats"]},
    )
    ho, wo = out_n.shape[1:3]
    flops = conv_flops(n, ho, wo, k * k * c, f)
    out = {"x_shape": list(x.shape), "w_shape": list(w.shape), **cp, "dtype": "float64"}
    out |= {"out_shape": list(out_n.shape), "positions": int(n * ho * wo), "flops_forward": flops}
    out |= {f"{name}_seconds": v for name, v in t.items()}
    for d, mult in (("forward", 1), ("backward", 2)):
        out[f"{d}_speedup"] = t[f"naive_{d}"] / t[f"fast_{d}"]
        for impl in ("naive", "fast"):
            out[f"{impl}_{d}_gflops_per_s"] = mult * flops / t[f"{impl}_{d}"] / 1e9
    out["naive_forward_seconds_per_position"] = t["naive_forward"] / (n * ho * wo)
    return out


def notebook_pool(p, rng) -> dict:
    """Max pooling of x (100, 32, 32, 3), 2x2 stride 2: loops vs the reshape path."""
    n, hw, c = int(p["N"]), int(p["HW"]), int(p["C"])
    x = rng.standard_normal((n, hw, hw, c))
    pp = {"pool_height": int(p["size"]), "pool_width": int(p["size"]), "stride": int(p["stride"])}
    out_n, cache_n = C.max_pool_forward_naive(x, pp)
    _, cache_f = C.max_pool_forward(x, pp)
    dout = rng.standard_normal(out_n.shape)
    t = best_of(
        {
            "naive_forward": lambda: C.max_pool_forward_naive(x, pp),
            "fast_forward": lambda: C.max_pool_forward(x, pp),
            "naive_backward": lambda: C.max_pool_backward_naive(dout, cache_n),
            "fast_backward": lambda: C.max_pool_backward(dout, cache_f),
        },
        {"naive_forward": p["naive_repeats"], "naive_backward": p["naive_repeats"]}
        | {"fast_forward": p["fast_repeats"], "fast_backward": p["fast_repeats"]},
    )
    out = {"x_shape": list(x.shape), **pp, "dtype": "float64"}
    out |= {f"{name}_seconds": v for name, v in t.items()}
    for d in ("forward", "backward"):
        out[f"{d}_speedup"] = t[f"naive_{d}"] / t[f"fast_{d}"]
    return out


def lab_layer(shape, p, rng) -> dict:
    """Fast conv forward + backward (3x3, pad 1, float32) vs the same three products as
    plain contiguous matmuls (forward, weight gradient, input gradient; the first layer's
    input gradient is skipped by both: its input is the images)."""
    c_in, c_out, hw = shape
    n, k = int(p["batch"]), 9 * c_in
    need_dx = c_in != 3
    x = rng.standard_normal((n, hw, hw, c_in), dtype=np.float32)
    w = rng.standard_normal((3, 3, c_in, c_out), dtype=np.float32)
    b = np.zeros(c_out, np.float32)
    dout = rng.standard_normal((n, hw, hw, c_out), dtype=np.float32)
    col = rng.standard_normal((n * hw * hw, k), dtype=np.float32)
    col_t, w2 = np.ascontiguousarray(col.T), w.reshape(k, c_out)
    w2_t, out2 = np.ascontiguousarray(w2.T), np.empty((n * hw * hw, c_out), np.float32)

    def conv():
        _, cache = C.conv_forward(x, w, b, {"stride": 1, "pad": 1})
        C.conv_backward(dout, cache, need_dx=need_dx)

    def matmul():
        np.matmul(col, w2, out=out2)
        np.matmul(col_t, out2)
        if need_dx:
            np.matmul(out2, w2_t)

    reps = int(p["repeats"])
    t = best_of({"conv": conv, "matmul": matmul}, {"conv": reps, "matmul": reps})
    flops = (3 if need_dx else 2) * conv_flops(n, hw, hw, k, c_out)
    return {"c_in": c_in, "c_out": c_out, "hw": hw, "batch": n, "flops": flops} | {
        "conv_seconds": t["conv"],
        "matmul_seconds": t["matmul"],
    }


def lab_shapes(p, rng) -> dict:
    layers = [lab_layer(tuple(s), p, rng) for s in p["shapes"]]
    flops = sum(r["flops"] for r in layers)
    conv_s = sum(r["conv_seconds"] for r in layers)
    mm_s = sum(r["matmul_seconds"] for r in layers)
    for r in layers:
        r["conv_gflops_per_s"] = r["flops"] / r["conv_seconds"] / 1e9
        r["matmul_gflops_per_s"] = r["flops"] / r["matmul_seconds"] / 1e9
        r["ratio_to_baseline"] = r["matmul_seconds"] / r["conv_seconds"]
    return {"dtype": "float32", "layers": layers, "flops": flops} | {
        "conv_seconds": conv_s,
        "matmul_seconds": mm_s,
        "conv_gflops_per_s": flops / conv_s / 1e9,
        "matmul_gflops_per_s": flops / mm_s / 1e9,
        "ratio_to_baseline": mm_s / conv_s,
    }


def main(sm, log):
    p = sm.params.settings
    rng = np.random.default_rng(int(p["seed"]))
    out = {
        "threads": int(sm.threads),
        "conv": notebook_conv(p["conv"], rng),
        "pool": notebook_pool(p["pool"], rng),
        "lab": lab_shapes(p["lab"], rng),
    }
    c, q, lab = out["conv"], out["pool"], out["lab"]
    log.info(
        "conv speed-up forward %.0fx, backward %.0fx; pool %.0fx / %.0fx; lab shapes: conv "
        "%.1f GFLOP/s vs matmul %.1f GFLOP/s",
        c["forward_speedup"],
        c["backward_speedup"],
        q["forward_speedup"],
        q["backward_speedup"],
        lab["conv_gflops_per_s"],
        lab["matmul_gflops_per_s"],
    )
    write_json_atomic(sm.output.json, out)
