"""The CS231n ConvolutionalNetworks sanity values, float64 (rule cnn_checks).

results/cnn/checks.json: the three-layer convnet's initial loss vs log(C) with reg 0 and
reg 0.5; centred-difference gradient checks (nplab.gradcheck) of the layers (conv, max
pool, spatial batch norm, spatial group norm) and of whole nets (ThreeLayerConvNet at the
course's and at a larger weight scale, a small ConvNet with batch + group norm); the
notebook's conv / max-pool forward outputs; naive vs fast conv and pooling. Deterministic.
"""

import math
from functools import partial

import numpy as np

from nplab import conv as C
from nplab.cnn import ConvNet, ThreeLayerConvNet
from nplab.gradcheck import eval_numerical_gradient, eval_numerical_gradient_array, rel_error
from nplab_io.atomic import write_json_atomic


def nchw_to_nhwc(a):
    return np.ascontiguousarray(np.transpose(a, (0, 2, 3, 1)))


# The notebook's printed outputs (NCHW) for its linspace inputs (conv: stride 2, pad 1;
# max pool: 2x2, stride 2).
# fmt: off
CONV_OUT = np.array([
    -0.08759809, -0.10987781, -0.18387192, -0.2109216, 0.21027089, 0.21661097, 0.22847626,
    0.23004637, 0.50813986, 0.54309974, 0.64082444, 0.67101435, -0.98053589, -1.03143541,
    -1.19128892, -1.24695841, 0.69108355, 0.66880383, 0.59480972, 0.56776003, 2.36270298,
    2.36904306, 2.38090835, 2.38247847,
]).reshape(2, 3, 2, 2)
POOL_OUT = np.array([
    -0.26315789, -0.24842105, -0.20421053, -0.18947368, -0.14526316, -0.13052632, -0.08631579,
    -0.07157895, -0.02736842, -0.01263158, 0.03157895, 0.04631579, 0.09052632, 0.10526316,
    0.14947368, 0.16421053, 0.20842105, 0.22315789, 0.26736842, 0.28210526, 0.32631579,
    0.34105263, 0.38526316, 0.4,
]).reshape(2, 3, 2, 2)
# fmt: on


def reference_forwards():
    """Relative error of conv / max-pool forward against the notebook's printed outputs
    (its inputs are linspaces in NCHW, weights (F, C, KH, KW))."""
    xs, ws = (2, 3, 4, 4), (3, 3, 4, 4)
    x = nchw_to_nhwc(np.linspace(-0.1, 0.5, num=np.prod(xs)).reshape(xs))
    w = np.linspace(-0.2, 0.3, num=np.prod(ws)).reshape(ws).transpose(2, 3, 1, 0)
    b = np.linspace(-0.1, 0.2, num=3)
    out, _ = C.conv_forward_naive(x, w, b, {"stride": 2, "pad": 1})
    conv = rel_error(out, nchw_to_nhwc(CONV_OUT))
    xp = nchw_to_nhwc(np.linspace(-0.3, 0.4, num=96).reshape(2, 3, 4, 4))
    pool_out, _ = C.max_pool_forward_naive(xp, {"pool_height": 2, "pool_width": 2, "stride": 2})
    pool = rel_error(pool_out, nchw_to_nhwc(POOL_OUT))
    return {"conv_forward": conv, "max_pool_forward": pool}


def grad_error(forward, backward, arrays, rng, h):
    """Largest relative error of ``backward``'s gradients w.r.t. ``arrays`` (the inputs
    ``forward()`` reads, perturbed in place) against centred differences."""
    out, cache = forward()
    dout = rng.standard_normal(out.shape)
    grads = backward(dout, cache)
    grads = grads if isinstance(grads, tuple) else (grads,)
    return max(
        rel_error(eval_numerical_gradient_array(lambda _: forward()[0], a, dout, h=h), g)
        for a, g in zip(arrays, grads)
    )


def layer_checks(rng, h):
    """Each layer's backward pass vs centred differences on the notebook's shapes (its
    NCHW (N, C, H, W) -> NHWC); every input and parameter the backward pass returns."""
    n = rng.standard_normal
    x, w, b, cp = n((4, 5, 5, 3)), n((3, 3, 3, 2)), n(2), {"stride": 1, "pad": 1}
    xp, pp = n((3, 8, 8, 2)), {"pool_height": 2, "pool_width": 2, "stride": 2}
    xb, gb, bb = 5 * n((2, 4, 5, 3)) + 12, n(3), n(3)
    xg, gg, bg = 5 * n((2, 4, 5, 6)) + 12, n(6), n(6)
    cases = {
        "conv_backward": (
            partial(C.conv_forward_naive, x, w, b, cp),
            C.conv_backward_naive,
            (x, w, b),
        ),
        "max_pool_backward": (
            partial(C.max_pool_forward_naive, xp, pp),
            C.max_pool_backward_naive,
            (xp,),
        ),
        "spatial_batchnorm_backward": (
            partial(C.spatial_batchnorm_forward, xb, gb, bb, {"mode": "train"}),
            C.spatial_batchnorm_backward,
            (xb, gb, bb),
        ),
        "spatial_groupnorm_backward": (
            partial(C.spatial_groupnorm_forward, xg, gg, bg, 2),
            C.spatial_groupnorm_backward,
            (xg, gg, bg),
        ),
    }
    return {k: grad_error(f, bk, arrays, rng, h) for k, (f, bk, arrays) in cases.items()}


def net_check(model, X, y, h):
    """Max relative error of every parameter's gradient, and the loss."""
    loss, grads = model.loss(X, y)
    errs = {
        k: rel_error(
            eval_numerical_gradient(lambda _: model.loss(X, y)[0], model.params[k], h=h), grads[k]
        )
        for k in sorted(model.params)
    }
    return {"loss": float(loss), "max_rel_error": errs, "max_rel_error_overall": max(errs.values())}


def net_checks(p, rng):
    out = {}
    for case in p["nets"]:
        shape = tuple(case["input_shape"])
        X = rng.standard_normal((int(case["N"]), *shape))
        y = rng.integers(10, size=int(case["N"]))
        kw = dict(
            input_shape=shape,
            dtype=np.float64,
            seed=int(p["seed"]),
            weight_scale=case["weight_scale"],
            reg=case["reg"],
        )
        if case["model"] == "three_layer":
            model = ThreeLayerConvNet(num_filters=3, filter_size=3, hidden_dim=7, **kw)
        else:
            model = ConvNet(case["blocks"], case["hidden_dims"], init="gaussian", **kw)
        r = net_check(model, X, y, float(case["h"]))
        r.update(
            case=case["name"],
            tolerance=case["tolerance"],
            passed=r["max_rel_error_overall"] < case["tolerance"],
        )
        out[case["name"]] = r
    return out


def initial_losses(p, rng):
    n = int(p["loss_N"])
    X = rng.standard_normal((n, 32, 32, 3))
    y = rng.integers(10, size=n)
    out = {}
    for reg in p["loss_regs"]:
        model = ThreeLayerConvNet(dtype=np.float64, seed=int(p["seed"]), reg=reg)
        out[f"reg_{reg:g}"] = float(model.loss(X, y)[0])
    return out


def max_diff(a, b) -> float:
    a, b = (t if isinstance(t, tuple) else (t,) for t in (a, b))
    return max(float(np.abs(u - v).max()) for u, v in zip(a, b))


def naive_vs_fast(rng):
    """Max |naive - fast| of conv and pooling, forward and backward (both pooling paths:
    tiling 2x2 / 2 windows and overlapping 3x3 / 2 ones)."""
    n = rng.standard_normal
    x, w, b, cp, xp = (
        n((4, 9, 9, 3)),
        n((3, 3, 3, 5)),
        n(5),
        {"stride": 2, "pad": 1},
        n((4, 8, 8, 3)),
    )
    pairs = {
        "conv": (
            partial(C.conv_forward_naive, x, w, b, cp),
            C.conv_backward_naive,
            partial(C.conv_forward, x, w, b, cp),
            C.conv_backward,
        )
    }
    for kind in ("max", "avg"):
        for path, size in (("reshape", 2), ("strided", 3)):
            pp = {"pool_height": size, "pool_width": size, "stride": 2}
            pairs[f"{kind}_pool_{path}"] = (
                partial(getattr(C, f"{kind}_pool_forward_naive"), xp, pp),
                getattr(C, f"{kind}_pool_backward_naive"),
                partial(getattr(C, f"{kind}_pool_forward"), xp, pp, path=path),
                getattr(C, f"{kind}_pool_backward"),
            )
    out = {}
    for name, (fwd_n, back_n, fwd_f, back_f) in pairs.items():
        (on, cn), (of, cf) = fwd_n(), fwd_f()
        d = rng.standard_normal(on.shape)
        out[f"{name}_forward"] = max_diff(on, of)
        out[f"{name}_backward"] = max_diff(back_n(d, cn), back_f(d, cf))
    return out


def main(sm, log):
    p = sm.params.settings
    rng = np.random.default_rng(int(p["seed"]))
    tol = p["tolerances"]
    expected = math.log(10)
    losses = initial_losses(p, rng)
    layers = {**reference_forwards(), **layer_checks(rng, float(p["h"]))}
    nets = net_checks(p, rng)
    fast = naive_vs_fast(rng)
    out = {
        "dtype": "float64",
        "seed": int(p["seed"]),
        "expected_initial_loss": expected,
        "initial_loss": losses,
        "initial_loss_N": int(p["loss_N"]),
        "initial_loss_ok": bool(abs(losses["reg_0"] - expected) < float(p["loss_tolerance"])),
        "initial_loss_reg_above_no_reg": bool(losses["reg_0.5"] > losses["reg_0"]),
        "layers": {
            k: {"rel_error": v, "tolerance": tol[k], "passed": bool(v < tol[k])}
            for k, v in layers.items()
        },
        "nets": nets,
        "naive_vs_fast_max_abs_diff": fast,
        "naive_vs_fast_tolerance": float(tol["naive_vs_fast"]),
        "naive_equals_fast": bool(max(fast.values()) < float(tol["naive_vs_fast"])),
    }
    out["all_passed"] = bool(
        out["initial_loss_ok"]
        and out["naive_equals_fast"]
        and all(v["passed"] for v in out["layers"].values())
        and all(v["passed"] for v in nets.values())
    )
    for k, v in out["layers"].items():
        log.info("%s: rel error %.2e (tolerance %.0e)", k, v["rel_error"], v["tolerance"])
    for k, v in nets.items():
        log.info("%s: max rel error %.2e", k, v["max_rel_error_overall"])
    log.info("initial losses %s; naive vs fast %s", losses, fast)
    write_json_atomic(sm.output.json, out)
