"""The course's sanity checks of FullyConnectedNet (float64): centred-difference gradient
check of every parameter on random data for each case (reg, normalisation, dropout with a
fixed seed), and the initial loss of a fresh net next to -log(1/C)."""

import math

import numpy as np

from nplab.diagnostics import check_net_gradients
from nplab.layers import (
    affine_forward,
    batchnorm_forward,
    dropout_forward,
    layernorm_forward,
    relu_forward,
)
from nplab.nets import FullyConnectedNet
from nplab_io.atomic import write_json_atomic
from nplab_io.jobs import run_job


def kink_margin(model, X, dropout_seed):
    """Smallest |ReLU input| of the train-mode forward pass: a centred difference with step h
    crosses a kink (and disagrees with the analytic gradient) only if this is below ~h."""
    p = model.params
    rng = np.random.default_rng(dropout_seed) if dropout_seed is not None else None
    h, smallest = X, np.inf
    for i in range(1, model.num_layers):
        h, _ = affine_forward(h, p[f"W{i}"], p[f"b{i}"])
        if model.normalization == "batchnorm":
            h, _ = batchnorm_forward(h, p[f"gamma{i}"], p[f"beta{i}"], {"mode": "train"})
        elif model.normalization == "layernorm":
            h, _ = layernorm_forward(h, p[f"gamma{i}"], p[f"beta{i}"])
        smallest = min(smallest, float(np.min(np.abs(h))))
        h, _ = relu_forward(h)
        if rng is not None:
            h, _ = dropout_forward(h, {"mode": "train", "p": model.dropout_keep_ratio, "rng": rng})
    return smallest


def main(sm, log):
    p = sm.params.settings
    N, D, C = int(p["N"]), int(p["D"]), int(p["C"])
    rng = np.random.default_rng(int(p["seed"]))
    X = rng.standard_normal((N, D))
    y = rng.integers(C, size=N)
    # a larger random batch for the initial-loss check (N=2 makes it noisy)
    Xl = rng.standard_normal((int(p["loss_N"]), D))
    yl = rng.integers(C, size=int(p["loss_N"]))
    cases, worst = [], 0.0
    for case in p["cases"]:
        model = FullyConnectedNet(
            p["hidden_dims"],
            input_dim=D,
            num_classes=C,
            normalization=None if case["normalization"] == "none" else case["normalization"],
            dropout_keep_ratio=case["dropout_keep"],
            reg=case["reg"],
            weight_scale=p["weight_scale"],
            dtype=np.float64,
            seed=int(p["seed"]),
        )
        dseed = int(p["dropout_seed"]) if case["dropout_keep"] < 1 else None
        if dseed is not None:
            model.rng = np.random.default_rng(dseed)
        init_loss, _ = model.loss(X, y)
        if dseed is not None:
            model.rng = np.random.default_rng(dseed)
        init_loss_large, _ = model.loss(Xl, yl)
        margin = kink_margin(model, X, dseed)
        if dseed is not None:
            model.rng = np.random.default_rng(dseed)
        _, grads = model.loss(X, y)
        errs = check_net_gradients(model, X, y, h=float(p["h"]), dropout_seed=dseed)
        mx = max(errs.values())
        worst = max(worst, mx)
        cases.append(
            {
                "name": case["name"],
                "normalization": case["normalization"],
                "reg": case["reg"],
                "dropout_keep": case["dropout_keep"],
                "dropout_seed": dseed,
                "initial_loss": float(init_loss),
                f"initial_loss_N{int(p['loss_N'])}": float(init_loss_large),
                "max_rel_error": {k: float(v) for k, v in errs.items()},
                # e.g. the biases before batch norm have an analytic gradient of exactly 0: their
                # relative error is centred-difference noise over the 1e-8 floor of rel_error
                "max_abs_grad": {k: float(np.max(np.abs(g))) for k, g in grads.items()},
                "max_rel_error_overall": float(mx),
                "worst_param": max(errs, key=errs.get),
                "min_abs_relu_input": margin,
                "kink_within_h": bool(margin < float(p["h"])),
                "passed": bool(mx < float(p["tolerance"])),
            }
        )
        log.info(
            "%s: initial loss %.4f (N=%d: %.4f), max rel error %.2e (%s)",
            case["name"],
            init_loss,
            int(p["loss_N"]),
            init_loss_large,
            mx,
            cases[-1]["worst_param"],
        )
    expected = math.log(C)
    no_reg = [c for c in cases if c["reg"] == 0]
    key = f"initial_loss_N{int(p['loss_N'])}"
    dev = max(abs(c[key] - expected) for c in no_reg) if no_reg else 0.0
    out = {
        "hidden_dims": list(p["hidden_dims"]),
        "N": N,
        "D": D,
        "C": C,
        "h": float(p["h"]),
        "dtype": "float64",
        "seed": int(p["seed"]),
        "weight_scale": float(p["weight_scale"]),
        "tolerance": float(p["tolerance"]),
        "cases": cases,
        "max_rel_error_overall": float(worst),
        "all_passed": bool(all(c["passed"] for c in cases)),
        "min_abs_relu_input": float(min(c["min_abs_relu_input"] for c in cases)),
        "kinks_within_h": int(sum(c["kink_within_h"] for c in cases)),
        "expected_initial_loss": expected,
        "initial_loss_N": int(p["loss_N"]),
        "initial_loss_max_abs_deviation": float(dev),
        "initial_loss_ok": bool(dev < float(p["loss_tolerance"])),
        "loss_tolerance": float(p["loss_tolerance"]),
        "finding": (
            f"Over {len(cases)} cases the largest relative gradient error is "
            f"{worst:.1e} (tolerance {float(p['tolerance']):.0e}; the closest ReLU input to "
            f"its kink is {min(c['min_abs_relu_input'] for c in cases):.1e}, vs the step "
            f"h = {float(p['h']):.0e}); a fresh net without "
            f"regularisation starts at a loss within {dev:.3f} of -log(1/{C}) = "
            f"{expected:.3f} on {int(p['loss_N'])} random examples."
        ),
    }
    write_json_atomic(sm.output.json, out)


run_job(snakemake, main)
