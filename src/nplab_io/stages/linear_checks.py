"""The course's checks of the linear classifiers on the dev split, in float64.

checks.json   sanity values (initial softmax loss vs -log(1/C), initial SVM loss vs
              (C-1)*delta with W = weight_scale * N(0, 1)), sparse numerical gradient checks
              (centred differences, nplab.gradcheck.grad_check_sparse) of the naive and the
              vectorised SVM and softmax with every reg, and naive vs vectorised loss /
              gradient differences. Deterministic (seeded, one BLAS thread).
timings.json  wall time of the naive and the vectorised loss+gradient (best of a few
              repeats) and the speedup — not reproducible, hence its own file.
"""

import math
import time

import numpy as np

from nplab.gradcheck import grad_check_sparse
from nplab.linear import (
    softmax_loss_naive,
    softmax_loss_vectorized,
    svm_loss_naive,
    svm_loss_vectorized,
)
from nplab_io.atomic import write_json_atomic


def main(sm, log):
    s = dict(sm.params.settings)
    with np.load(sm.input.data) as z:
        X = np.asarray(z["X_dev"], dtype=np.float64)
        y = np.asarray(z["y_dev"])
    n, d = X.shape
    c = 10
    rng = np.random.default_rng(int(s["seed"]))
    W = float(s["weight_scale"]) * rng.standard_normal((d, c))
    delta = float(s["delta"])
    h = float(s["h"])
    tol = float(s["tolerance"])
    fns = {
        "svm": {
            "naive": lambda w, r: svm_loss_naive(w, X, y, r, delta=delta),
            "vectorized": lambda w, r: svm_loss_vectorized(w, X, y, r, delta=delta),
        },
        "softmax": {
            "naive": lambda w, r: softmax_loss_naive(w, X, y, r),
            "vectorized": lambda w, r: softmax_loss_vectorized(w, X, y, r),
        },
    }
    out = {
        "N": int(n),
        "D": int(d),
        "C": c,
        "dtype": "float64",
        "split": "dev",
        "seed": int(s["seed"]),
        "weight_scale": float(s["weight_scale"]),
        "delta": delta,
        "h": h,
        "num_checks": int(s["num_checks"]),
        "tolerance": tol,
        "regularisation": "loss = mean data loss + reg * sum(W**2); gradient adds 2 * reg * W",
    }

    # sanity values at W = weight_scale * N(0, 1), no regularisation
    sm_loss = fns["softmax"]["vectorized"](W, 0.0)[0]
    svm_l = fns["svm"]["vectorized"](W, 0.0)[0]
    out.update(
        {
            "softmax_initial_loss": sm_loss,
            "softmax_expected_loss": -math.log(1.0 / c),
            "softmax_initial_loss_abs_diff": abs(sm_loss + math.log(1.0 / c)),
            "svm_initial_loss": svm_l,
            "svm_expected_loss": (c - 1) * delta,
            "svm_initial_loss_abs_diff": abs(svm_l - (c - 1) * delta),
        }
    )
    out["softmax_initial_loss_ok"] = out["softmax_initial_loss_abs_diff"] < 0.1
    out["svm_initial_loss_ok"] = out["svm_initial_loss_abs_diff"] < 0.5
    log.info(
        "initial losses: softmax %.4f (expected %.4f), svm %.4f (expected %.1f)",
        sm_loss,
        -math.log(0.1),
        svm_l,
        (c - 1) * delta,
    )

    # gradient checks: each implementation's own loss vs its own analytic gradient
    cases = []
    for model, impls in fns.items():
        for impl, fn in impls.items():
            for reg in s["regs"]:
                reg = float(reg)
                Wc = W.copy()
                _, grad = fn(Wc, reg)
                errs = grad_check_sparse(
                    lambda w: fn(w, reg)[0],
                    Wc,
                    grad,
                    num_checks=int(s["num_checks"]),
                    h=h,
                    rng=np.random.default_rng(int(s["seed"])),
                )
                if not np.array_equal(Wc, W):
                    raise ValueError("the gradient check did not restore W")
                cases.append(
                    {
                        "model": model,
                        "implementation": impl,
                        "reg": reg,
                        "max_rel_error": float(errs.max()),
                        "median_rel_error": float(np.median(errs)),
                        "num_above_tolerance": int(np.sum(errs > tol)),
                        "passed": bool(errs.max() < tol),
                    }
                )
                log.info("gradcheck %s %s reg %g: max rel error %.3e", model, impl, reg, errs.max())
    out["gradcheck"] = cases
    out["gradcheck_all_passed"] = all(cs["passed"] for cs in cases)

    # naive vs vectorised
    agree, timings = [], {}
    for model, impls in fns.items():
        for reg in s["regs"]:
            reg = float(reg)
            ln, gn = impls["naive"](W, reg)
            lv, gv = impls["vectorized"](W, reg)
            agree.append(
                {
                    "model": model,
                    "reg": reg,
                    "loss_naive": ln,
                    "loss_vectorized": lv,
                    "loss_abs_diff": abs(ln - lv),
                    "grad_frobenius_diff": float(np.linalg.norm(gn - gv)),
                    "grad_max_abs_diff": float(np.max(np.abs(gn - gv))),
                    "agree": bool(
                        abs(ln - lv) < 1e-9 and np.allclose(gn, gv, rtol=1e-9, atol=1e-12)
                    ),
                }
            )
        reg = float(s["regs"][-1])
        secs = {}
        for impl, fn in impls.items():
            best = math.inf
            for _ in range(int(s["timing_repeats"])):
                t0 = time.perf_counter()
                fn(W, reg)
                best = min(best, time.perf_counter() - t0)
            secs[impl] = best
        timings[model] = {
            "naive_s": round(secs["naive"], 6),
            "vectorized_s": round(secs["vectorized"], 6),
            "speedup": round(secs["naive"] / max(secs["vectorized"], 1e-9), 2),
            "reg": reg,
        }
        log.info(
            "%s: naive %.4f s, vectorised %.5f s (x%.0f)",
            model,
            secs["naive"],
            secs["vectorized"],
            timings[model]["speedup"],
        )
    out["naive_vs_vectorized"] = agree
    out["naive_vs_vectorized_all_agree"] = all(a["agree"] for a in agree)
    write_json_atomic(
        sm.output.timings,
        {
            "N": int(n),
            "D": int(d),
            "C": c,
            "dtype": "float64",
            "threads": int(sm.threads),
            "repeats": int(s["timing_repeats"]),
            "statistic": "best of repeats (seconds)",
            **timings,
        },
    )
    write_json_atomic(sm.output.json, out)
