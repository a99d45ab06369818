"""Evidence for the linear-classifier and features questions (one rule each: question_svm_1,
question_svm_2, question_softmax_1, question_softmax_2, question_softmax_3,
question_features_1).

Each writes results/questions/<id>.json (numbers, booleans, strings, short lists; "id",
"source", "figures" relative to results/, and a "finding" built from the numbers) and the
figure results/figures/questions/<id>.<fmt>. Every number is computed here from this run's
data, weights, tables or predictions."""

import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from nplab.gradcheck import eval_numerical_gradient
from nplab.linear import svm_loss_vectorized
from nplab.linear_analysis import (
    kink_crossings,
    near_kink_terms,
    per_class_accuracy,
    per_example_softmax_loss,
    per_example_svm_loss,
    svm_margins,
    top_confusions,
    weights_to_images,
    zero_hinge_scale,
)
from nplab_io.atomic import write_json_atomic
from nplab_io.figures import save_figure
from nplab_io.jobs import run_job

SOURCES = {
    "svm-1": "CS231n svm.ipynb, inline question 1 (softmax.ipynb 2025, inline question 2)",
    "svm-2": "CS231n svm.ipynb, inline question 2",
    "softmax-1": "CS231n softmax.ipynb, inline question 1",
    "softmax-2": "CS231n softmax.ipynb, inline questions 2/4",
    "softmax-3": "CS231n softmax.ipynb (2025), inline question 3",
    "features-1": "CS231n features.ipynb, inline question 1",
}


# --------------------------------------------------------------------------- helpers
def _rel(path):
    p = str(path)
    return p.split("results/", 1)[1] if "results/" in p else p


def _read_json(path):
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _bests(sm):
    return {b["table"]: b for b in (_read_json(p) for p in sm.input.best)}


def _weights(sm, best):
    by_run = {Path(p).parent.name: p for p in sm.input.params}
    if best["run"] not in by_run:
        raise ValueError(f"run {best['run']} of {best['table']} has no params.npz among the inputs")
    with np.load(by_run[best["run"]]) as z:
        return np.asarray(z["W"], dtype=np.float64)


def finish(sm, info, fig):
    info["figures"] = [_rel(f) for f in sm.output.fig if str(f).endswith(".png")]
    save_figure(fig, sm.output.fig)
    write_json_atomic(sm.output.json, info)


# --------------------------------------------------------------------------- svm-1
def svm_1(sm, log, info):
    s = sm.params.settings
    with np.load(sm.input.data) as z:
        X = np.asarray(z["X_dev"], dtype=np.float64)
        y = np.asarray(z["y_dev"])
    n = min(int(s["num_rows"]), len(y))
    X, y = X[:n], y[:n]
    d, c = X.shape[1], 10
    rng = np.random.default_rng(int(s["seed"]))
    W = float(s["weight_scale"]) * rng.standard_normal((d, c))
    flat = rng.choice(d * c, size=min(int(s["num_coords"]), d * c), replace=False)
    dd, cc = np.divmod(flat, c)
    coords = list(zip(dd.tolist(), cc.tolist()))
    h, tol = float(s["h"]), float(s["mismatch_tol"])
    band = h * float(np.max(np.abs(X)))
    scores = X @ W
    info.update(
        {
            "N": int(n),
            "D": int(d),
            "C": c,
            "dtype": "float64",
            "reg": 0.0,
            "weight_scale": float(s["weight_scale"]),
            "h": h,
            "mismatch_tol": tol,
            "num_coords_checked": len(coords),
            "hinge_terms": int(n * (c - 1)),
            "max_abs_x": float(np.max(np.abs(X))),
            "band_h_max_abs_x": band,
            "deltas": [float(v) for v in s["deltas"]],
        }
    )
    per = {
        k: []
        for k in (
            "num_mismatches",
            "max_rel_error",
            "coords_with_kink_crossing",
            "mismatches_at_kink_crossing",
            "mismatches_without_kink_crossing",
            "near_kink_terms_within_h",
            "near_kink_terms_within_band",
            "active_term_fraction",
            "initial_loss",
        )
    }
    margins = {}
    for delta in info["deltas"]:
        v0 = W[dd, cc].copy()

        def f(v, delta=delta):
            W2 = W.copy()
            W2[dd, cc] = v
            return svm_loss_vectorized(W2, X, y, 0.0, delta=delta)[0]

        num = eval_numerical_gradient(f, v0.copy(), h=h)
        loss, grad = svm_loss_vectorized(W, X, y, 0.0, delta=delta)
        ana = grad[dd, cc]
        rel = np.abs(num - ana) / np.maximum(1e-8, np.abs(num) + np.abs(ana))
        bad = rel > tol
        cross = kink_crossings(W, X, y, delta, h, coords) > 0
        m = svm_margins(scores, y, delta)
        margins[delta] = m[np.isfinite(m)]
        per["num_mismatches"].append(int(bad.sum()))
        per["max_rel_error"].append(float(rel.max()))
        per["coords_with_kink_crossing"].append(int(cross.sum()))
        per["mismatches_at_kink_crossing"].append(int(np.sum(bad & cross)))
        per["mismatches_without_kink_crossing"].append(int(np.sum(bad & ~cross)))
        per["near_kink_terms_within_h"].append(near_kink_terms(scores, y, delta, h))
        per["near_kink_terms_within_band"].append(int(np.sum(np.abs(margins[delta]) < band)))
        per["active_term_fraction"].append(float(np.mean(margins[delta] > 0)))
        per["initial_loss"].append(float(loss))
        log.info(
            "delta %g: %d/%d mismatches, %d coords cross a kink",
            delta,
            bad.sum(),
            len(coords),
            cross.sum(),
        )
    info.update(per)
    info["margin_std"] = float(np.std(margins[info["deltas"][0]]))
    info["all_mismatches_explained_by_kinks"] = sum(per["mismatches_without_kink_crossing"]) == 0

    # 1-D example: f(x) = max(0, x); analytic derivative with the loss's convention (x > 0)
    relu = lambda a: float(np.maximum(0.0, a[0]))  # noqa: E731
    ex = []
    for x0 in (0.0, 0.5 * h, 2.0 * h):
        numd = float(eval_numerical_gradient(relu, np.array([x0]), h=h)[0])
        ex.append({"x": x0, "analytic": 1.0 if x0 > 0 else 0.0, "numeric": numd})
    info["example_1d_function"] = "f(x) = max(0, x)"
    info["example_1d_x"] = [e["x"] for e in ex]
    info["example_1d_analytic"] = [e["analytic"] for e in ex]
    info["example_1d_numeric"] = [e["numeric"] for e in ex]

    dl = info["deltas"]
    i0 = dl.index(min(dl))
    i1 = dl.index(1.0) if 1.0 in dl else len(dl) // 2
    parts = [f"Δ = {dv:g}: {nm} of {len(coords)}" for dv, nm in zip(dl, per["num_mismatches"])]
    explained = sum(per["mismatches_at_kink_crossing"])
    total = sum(per["num_mismatches"])
    info["finding"] = (
        f"The hinge max(0, s_j − s_y + Δ) has a kink where its argument is 0; there the loss is "
        f"not differentiable and a centred difference straddling the kink averages the two "
        f"one-sided slopes. 1-D example: f(x) = max(0, x) at x = 0 has analytic (sub)gradient "
        f"{ex[0]['analytic']:g} but the numerical gradient (f(h) − f(−h))/2h = {ex[0]['numeric']:g}; "
        f"at x = h/2 the pair is {ex[1]['analytic']:g} vs {ex[1]['numeric']:g}, and at x = 2h both "
        f"are {ex[2]['numeric']:g}. Checking {len(coords)} random coordinates of W "
        f"({info['weight_scale']:g}·N(0,1), {n} dev rows, float64, h = {h:g}), the relative error "
        f"exceeded {tol:g} for " + "; ".join(parts) + ". "
        f"{explained} of {total} mismatches are at coordinates where some hinge term crosses its "
        f"kink within ±h, and no coordinate without such a crossing mismatches "
        f"({sum(per['mismatches_without_kink_crossing'])}). At this initialisation the hinge "
        f"arguments sit around Δ (std {info['margin_std']:.2f}): Δ = {dl[i0]:g} puts the kink in "
        f"the middle of them — only {per['near_kink_terms_within_band'][i0]} of "
        f"{info['hinge_terms']} terms lie within h·max|x| = {band:.1e} of it, but each moves "
        f"with every coordinate of two columns of W, so they spoil "
        f"{per['coords_with_kink_crossing'][i0]} coordinates — while a larger Δ moves the kink "
        f"away ({per['coords_with_kink_crossing'][i1]} crossing coordinates for Δ = {dl[i1]:g}, "
        f"{per['coords_with_kink_crossing'][-1]} for Δ = {dl[-1]:g}). It is not a reason for "
        f"concern: the mismatch is a property of the loss at its kinks, not a bug in the "
        f"gradient, and the analytic subgradient is still a valid descent direction; a check "
        f"that fails only at kink crossings passes."
    )

    fig, axes = plt.subplots(1, 3, figsize=(13.5, 3.8))
    ax = axes[0]
    xs = np.arange(len(dl))
    ax.bar(xs - 0.2, per["num_mismatches"], 0.4, label=f"rel. error > {tol:g}")
    ax.bar(xs + 0.2, per["coords_with_kink_crossing"], 0.4, label="kink within ±h")
    ax.set_xticks(xs, [f"{v:g}" for v in dl])
    ax.set_xlabel("margin Δ")
    ax.set_ylabel(f"coordinates (of {len(coords)})")
    ax.set_title("gradient-check mismatches vs Δ", fontsize=9)
    ax.legend(fontsize=7)
    ax = axes[1]
    for k, dv in enumerate(dl):
        ax.hist(margins[dv], bins=80, histtype="step", color=f"C{k}", label=f"Δ = {dv:g}")
    ax.axvline(0.0, color="k", ls="--", lw=1)
    ax.set_xlabel("hinge argument s_j − s_y + Δ (kink at 0)")
    ax.set_ylabel("terms")
    ax.set_title("where the hinge terms sit at W = scale·N(0,1)", fontsize=9)
    ax.legend(fontsize=7)
    ax = axes[2]
    u = np.linspace(-2.0, 2.0, 201)
    ax.plot(u, np.maximum(0, u), color="C0", label="f(x) = max(0, x)")
    ax.plot([-1, 1], [0, 1], "o--", color="C3", label="centred difference: slope 0.5")
    ax.plot(u, np.zeros_like(u), ":", color="C2", label="analytic subgradient at 0: slope 0")
    ax.set_xlabel("x (units of h)")
    ax.set_title("1-D example at the kink", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- svm-2 / softmax-3
def templates(sm, log, info, model):
    table = sm.params.tables[0]
    best = _bests(sm)[table]
    W = _weights(sm, best)
    shape = tuple(int(v) for v in sm.params.image_shape)
    t = pd.read_csv(sm.input.templates)
    if not (t["run"] == best["run"]).all():
        raise ValueError(f"{sm.input.templates}: not computed from the best run {best['run']}")
    names = list(dict.fromkeys(t["template"]))
    C = len(names)
    corr = t.pivot(index="template", columns="image_class", values="corr_centered")
    corr = corr.loc[names, names].to_numpy()
    corr_raw = t.pivot(index="template", columns="image_class", values="corr_raw")
    corr_raw = corr_raw.loc[names, names].to_numpy()
    own = np.diag(corr)
    off = corr[~np.eye(C, dtype=bool)]
    argmax_own = corr.argmax(axis=1) == np.arange(C)
    Wp = W[:-1].T.reshape((C,) + shape)  # (C, H, W, 3) in weight units
    chan = Wp.reshape(C, -1, shape[-1]).mean(axis=1)  # mean weight per colour channel
    blue_pref = chan[:, 2] - chan[:, :2].mean(axis=1)
    green_pref = chan[:, 1] - chan[:, [0, 2]].mean(axis=1)
    info.update(
        {
            "model": model,
            "table": table,
            "variant": best["variant"],
            "run": best["run"],
            "lr": float(best["spec"]["lr"]),
            "reg": float(best["spec"]["reg"]),
            "val_acc": float(best["val_acc"]),
            "test_acc": float(best["test_acc"]),
            "class_names": names,
            "own_class_corr": [float(v) for v in own],
            "own_class_corr_raw": [float(v) for v in np.diag(corr_raw)],
            "mean_own_class_corr": float(own.mean()),
            "min_own_class_corr": float(own.min()),
            "max_own_class_corr": float(own.max()),
            "mean_other_class_corr": float(off.mean()),
            "num_classes_own_mean_best_match": int(argmax_own.sum()),
            "best_matching_class": [names[k] for k in corr.argmax(axis=1)],
            "channel_mean_weight_rgb": [[float(v) for v in row] for row in chan],
            "bluest_template": names[int(np.argmax(blue_pref))],
            "greenest_template": names[int(np.argmax(green_pref))],
            "weight_abs_max": float(np.abs(W[:-1]).max()),
        }
    )
    hi, lo = names[int(np.argmax(own))], names[int(np.argmin(own))]
    info["finding"] = (
        f"Each {model} template (the best {table} run, {best['variant']}, test accuracy "
        f"{best['test_acc']:.3f}) looks like a blurred average of its class: it correlates "
        f"with its own class's centred mean training image at r = {own.mean():.2f} on average "
        f"(from {own.min():.2f} for {lo} to {own.max():.2f} for {hi}) against "
        f"{off.mean():.2f} with the other classes' means, and for "
        f"{int(argmax_own.sum())} of {C} classes its own class is the best-matching mean image. "
        f"Colour carries much of it: the {info['bluest_template']} template puts the most weight "
        f"on blue (sky or water backgrounds) and the {info['greenest_template']} template on "
        f"green. A linear classifier scores a class by one inner product with one template, so "
        f"the template that fits best is a prototype of the whole class — every pose, colour and "
        f"position of the class averaged into one image (e.g. a two-headed horse or a car whose "
        f"colour is the most common one); the L2 penalty (reg {best['spec']['reg']:g}) keeps "
        f"it smooth."
    )

    imgs = weights_to_images(W, shape)
    fig = plt.figure(figsize=(12.0, 6.2))
    gs = fig.add_gridspec(2, C, height_ratios=[1.0, 3.0], hspace=0.12)
    for i in range(C):
        ax = fig.add_subplot(gs[0, i])
        ax.imshow(imgs[i].astype(np.uint8), interpolation="nearest")
        ax.set_title(f"{names[i]}\nr = {own[i]:.2f}", fontsize=7.5)
        ax.axis("off")
    ax = fig.add_subplot(gs[1, 2 : C - 2])
    im = ax.imshow(corr, cmap="RdBu_r", vmin=-1, vmax=1)
    for i in range(C):
        for j in range(C):
            ax.text(
                j,
                i,
                f"{corr[i, j]:.2f}",
                ha="center",
                va="center",
                fontsize=6.5,
                fontweight="bold" if i == j else "normal",
            )
    ax.set_xticks(range(C), names, rotation=45, ha="right", fontsize=7.5)
    ax.set_yticks(range(C), names, fontsize=7.5)
    ax.set_xlabel("class mean training image (centred)")
    ax.set_ylabel(f"{model} template")
    fig.colorbar(im, ax=ax, shrink=0.8, label="Pearson r")
    fig.suptitle(
        f"{model} class templates ({table}: {best['variant']}) and their correlation "
        f"with the class mean images",
        fontsize=9.5,
    )
    return fig


# --------------------------------------------------------------------------- softmax-1
def softmax_1(sm, log, info):
    s = sm.params.settings
    checks = _read_json(sm.input.checks)
    with np.load(sm.input.data) as z:
        X = np.asarray(z["X_dev"], dtype=np.float64)
        y = np.asarray(z["y_dev"])
    C = 10
    expected = -math.log(1.0 / C)
    scales = [float(v) for v in s["weight_scales"]]
    losses, score_std, p_correct, per_ex = [], [], [], {}
    for ws in scales:
        W = ws * np.random.default_rng(int(s["seed"])).standard_normal((X.shape[1], C))
        sc = X @ W
        le = per_example_softmax_loss(sc, y)
        per_ex[ws] = le
        losses.append(float(le.mean()))
        score_std.append(float(sc.std()))
        p_correct.append(float(np.exp(-le).mean()))
    i0 = (
        scales.index(float(checks["weight_scale"]))
        if float(checks["weight_scale"]) in scales
        else 0
    )
    info.update(
        {
            "num_classes": C,
            "expected_loss": expected,
            "minus_log_0_1": -math.log(0.1),
            "weight_scale": scales[i0],
            "N": int(len(y)),
            "split": "dev",
            "reg": 0.0,
            "measured_loss": losses[i0],
            "measured_loss_checks_json": float(checks["softmax_initial_loss"]),
            "abs_diff": abs(losses[i0] - expected),
            "relative_diff": abs(losses[i0] - expected) / expected,
            "mean_prob_correct": p_correct[i0],
            "score_std": score_std[i0],
            "per_example_loss_min": float(per_ex[scales[i0]].min()),
            "per_example_loss_max": float(per_ex[scales[i0]].max()),
            "weight_scales": scales,
            "loss_by_scale": losses,
            "score_std_by_scale": score_std,
            "prob_correct_by_scale": p_correct,
        }
    )
    far = [f"{ws:g}: {lv:.2f}" for ws, lv in zip(scales, losses) if ws != scales[i0]]
    info["finding"] = (
        f"With W = {scales[i0]:g}·N(0,1) every score is almost 0 (std {score_std[i0]:.3f}), so "
        f"the softmax spreads its probability evenly over the C = {C} classes: the correct "
        f"class gets {p_correct[i0]:.4f} on average (1/C = {1 / C:g}) and each example's loss "
        f"is about −log(1/C) = −log(0.1) = {expected:.4f}. Measured on the {len(y)} dev rows: "
        f"{losses[i0]:.4f} (|difference| {abs(losses[i0] - expected):.4f}; the linear checks "
        f"record {checks['softmax_initial_loss']:.4f}). The approximation needs small weights: "
        f"with larger initial scales the mean loss is " + ", ".join(far) + "."
    )

    fig, axes = plt.subplots(1, 2, figsize=(10.5, 3.8))
    ax = axes[0]
    ax.hist(per_ex[scales[i0]], bins=40, color="C0")
    ax.axvline(expected, color="C3", ls="--", label=f"−log(0.1) = {expected:.3f}")
    ax.axvline(losses[i0], color="k", lw=1, label=f"mean = {losses[i0]:.3f}")
    ax.set_xlabel(f"per-example initial loss (W = {scales[i0]:g}·N(0,1))")
    ax.set_ylabel("dev examples")
    ax.legend(fontsize=8)
    ax = axes[1]
    ax.plot(scales, losses, "o-")
    ax.axhline(expected, color="C3", ls="--", label="−log(0.1)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("initial weight scale")
    ax.set_ylabel("mean initial softmax loss")
    ax.legend(fontsize=8)
    fig.suptitle("softmax-1: the initial loss of an untrained softmax classifier", fontsize=9.5)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- softmax-2
def softmax_2(sm, log, info):
    bests = _bests(sm)
    bsvm, bsm = bests["svm_wide"], bests["softmax_wide"]
    Wsvm, Wsm = _weights(sm, bsvm), _weights(sm, bsm)
    delta = float(bsvm["spec"].get("delta", 1.0))
    with np.load(sm.input.data) as z:
        Xd = np.asarray(z["X_dev"], dtype=np.float64)
        yd = np.asarray(z["y_dev"])
        Xv = np.asarray(z["X_val"], dtype=np.float64)
        yv = np.asarray(z["y_val"])
        names = [str(c) for c in z["class_names"]] if "class_names" in z.files else None
    svm_val = per_example_svm_loss(Xv @ Wsvm, yv, delta)
    zero = np.flatnonzero(svm_val == 0.0)
    if len(zero):
        i, alpha = int(zero[0]), 1.0
        how = "a validation image that already satisfies every margin (used as it is)"
    else:
        correct = np.flatnonzero(np.argmax(Xv @ Wsvm, axis=1) == yv)
        cand = [(int(k), zero_hinge_scale(Wsvm, Xv[k], yv[k], delta)) for k in correct]
        cand = [(k, a) for k, a in cand if a is not None]
        if not cand:
            raise ValueError("no validation image can be scaled to a zero SVM loss")
        i, alpha = cand[0]
        how = "a correctly classified validation image with its pixels scaled by alpha"
    x = Xv[i].copy()
    x[:-1] *= alpha
    yi = int(yv[i])
    s_svm = x @ Wsvm
    m = svm_margins(s_svm[None], np.array([yi]), delta)[0]
    svm_c = float(per_example_svm_loss(s_svm[None], np.array([yi]), delta)[0])
    sm_c = float(per_example_softmax_loss((x @ Wsm)[None], np.array([yi]))[0])
    sm_c_svmw = float(per_example_softmax_loss(s_svm[None], np.array([yi]))[0])
    p = np.exp(-per_example_softmax_loss(np.tile(x @ Wsm, (10, 1)), np.arange(10)))
    svm_dev = per_example_svm_loss(Xd @ Wsvm, yd, delta)
    sm_dev = per_example_softmax_loss(Xd @ Wsm, yd)
    before_svm, before_sm = float(svm_dev.sum()), float(sm_dev.sum())
    info.update(
        {
            "svm_run": bsvm["run"],
            "svm_variant": bsvm["variant"],
            "softmax_run": bsm["run"],
            "softmax_variant": bsm["variant"],
            "delta": delta,
            "point_source": how,
            "val_index": i,
            "alpha": float(alpha),
            "true_class": yi,
            "true_class_name": names[yi] if names else str(yi),
            "svm_max_hinge_argument": float(np.max(m[np.isfinite(m)])),
            "svm_min_margin_over_delta": float(-np.max(m[np.isfinite(m)])),
            "svm_loss_contribution": svm_c,
            "softmax_loss_contribution": sm_c,
            "softmax_loss_contribution_svm_weights": sm_c_svmw,
            "softmax_prob_correct": float(p[yi]),
            "dev_rows": int(len(yd)),
            "svm_sum_dev": before_svm,
            "svm_sum_dev_plus_point": before_svm + svm_c,
            "softmax_sum_dev": before_sm,
            "softmax_sum_dev_plus_point": before_sm + sm_c,
            "svm_sum_unchanged": bool(before_svm + svm_c == before_svm),
            "softmax_sum_changed": bool(before_sm + sm_c != before_sm),
            "frac_dev_zero_svm_loss": float(np.mean(svm_dev == 0.0)),
            "frac_val_zero_svm_loss": float(np.mean(svm_val == 0.0)),
            "min_softmax_loss_dev": float(sm_dev.min()),
            "answer": "true",
        }
    )
    info["finding"] = (
        f"True. The point used is {how} (validation image {i}, class {info['true_class_name']}, "
        f"alpha = {alpha:g}): under the best SVM ({bsvm['variant']}) its correct score beats "
        f"every other class by more than Δ = {delta:g} (largest hinge argument "
        f"{info['svm_max_hinge_argument']:.3f} < 0), so it adds exactly "
        f"{svm_c:g} to the summed SVM loss ({before_svm:.4f} over the {len(yd)} dev rows before "
        f"and after). Under the best softmax ({bsm['variant']}) the same point adds "
        f"−log p = {sm_c:.4f} (p = {p[yi]:.3f} for the correct class; {sm_c_svmw:.4f} with the "
        f"SVM's scores): the softmax loss is positive for every finite score, because the "
        f"probability of the correct class is always below 1. Such points are common: "
        f"{100 * info['frac_dev_zero_svm_loss']:.0f}% of the dev rows already contribute 0 to the "
        f"SVM loss, while the smallest softmax contribution among them is "
        f"{info['min_softmax_loss_dev']:.2e}."
    )

    fig, axes = plt.subplots(
        1, 3, figsize=(12.5, 3.6), gridspec_kw={"width_ratios": [0.8, 1.4, 1.4]}
    )
    shape = tuple(int(v) for v in sm.params.image_shape)
    img = x[:-1].reshape(shape)
    img = (img - img.min()) / max(img.max() - img.min(), 1e-12)
    axes[0].imshow(img, interpolation="nearest")
    axes[0].set_title(
        f"val image {i} ({info['true_class_name']})\ncentred pixels × {alpha:g}", fontsize=8
    )
    axes[0].axis("off")
    ax = axes[1]
    cols = ["C2" if k == yi else "C0" for k in range(10)]
    ax.bar(range(10), s_svm, color=cols)
    ax.axhline(s_svm[yi] - delta, color="C3", ls="--", label="correct score − Δ")
    ax.set_xticks(range(10), names if names else range(10), rotation=45, ha="right", fontsize=7)
    ax.set_title(f"SVM scores: hinge loss {svm_c:g}", fontsize=9)
    ax.legend(fontsize=7)
    ax = axes[2]
    ax.bar(range(10), p, color=cols)
    ax.set_xticks(range(10), names if names else range(10), rotation=45, ha="right", fontsize=7)
    ax.set_title(f"softmax probabilities: loss −log p = {sm_c:.3f}", fontsize=9)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- features-1
def features_1(sm, log, info):
    s = sm.params.settings
    bests = _bests(sm)
    mis = pd.read_csv(sm.input.misclassified)
    with np.load(sm.input.split) as z:
        names = [str(c) for c in z["class_names"]]
    group = {}
    for g, members in s["groups"].items():
        for nm in members:
            group[nm] = g
    info["class_names"] = names
    info["groups"] = {g: list(v) for g, v in s["groups"].items()}
    short = {"twolayer_features": "twolayer", "svm_features": "svm"}
    tops = {}
    for table in sm.params.tables:
        b = bests[table]
        conf = np.asarray(b["confusion"], dtype=np.int64)
        acc = per_class_accuracy(conf)
        top = top_confusions(conf, int(s["top_k"]))
        sym = conf + conf.T
        pairs = top_confusions(np.triu(sym, 1), int(s["top_k"]))
        wrong = mis[mis["table"] == table]
        if len(wrong) != int(conf.sum() - np.trace(conf)):
            raise ValueError(
                f"{sm.input.misclassified}: {len(wrong)} rows for {table}, but its "
                f"confusion matrix has {int(conf.sum() - np.trace(conf))} errors"
            )
        same = [
            group.get(t) == group.get(p) and group.get(t) is not None
            for t, p in zip(wrong["true_name"], wrong["predicted_name"])
        ]
        k = short[table]
        tops[k] = (top, pairs, acc, b)
        info.update(
            {
                f"{k}_variant": b["variant"],
                f"{k}_test_acc": float(b["test_acc"]),
                f"{k}_num_test": int(b["num_test"]),
                f"{k}_num_errors": int(len(wrong)),
                f"{k}_per_class_acc": [float(v) for v in acc],
                f"{k}_best_class": names[int(np.argmax(acc))],
                f"{k}_worst_class": names[int(np.argmin(acc))],
                f"{k}_top_confused_true": [names[t] for t, _, _ in top],
                f"{k}_top_confused_pred": [names[p] for _, p, _ in top],
                f"{k}_top_confused_count": [int(n) for _, _, n in top],
                f"{k}_top_pairs": [f"{names[a]}/{names[bb]}" for a, bb, _ in pairs],
                f"{k}_top_pair_count": [int(n) for _, _, n in pairs],
                f"{k}_within_group_error_fraction": float(np.mean(same)) if same else 0.0,
                f"{k}_most_predicted_wrongly": names[
                    int(np.bincount(wrong["predicted_label"], minlength=len(names)).argmax())
                ]
                if len(wrong)
                else "",
            }
        )
    info["same_top_pair"] = info["twolayer_top_pairs"][:1] == info["svm_top_pairs"][:1]
    t = info
    # the largest confusion that crosses the animal/vehicle divide (two-layer net)
    conf2 = np.asarray(bests["twolayer_features"]["confusion"], dtype=np.int64)
    cross = [
        (int(conf2[i, j] + conf2[j, i]), names[i], names[j])
        for i in range(len(names))
        for j in range(i + 1, len(names))
        if group.get(names[i]) != group.get(names[j])
    ]
    cross.sort(key=lambda r: (-r[0], r[1], r[2]))
    info["twolayer_top_cross_group_pair"] = f"{cross[0][1]}/{cross[0][2]}" if cross else ""
    info["twolayer_top_cross_group_count"] = cross[0][0] if cross else 0
    frac = t["twolayer_within_group_error_fraction"]
    # chance level: errors spread evenly over the other classes stay within a group for
    # sum_g n_g (n_g - 1) / (C (C - 1)) of the (true, predicted) pairs
    sizes = [len(v) for v in s["groups"].values()]
    chance = sum(k * (k - 1) for k in sizes) / (len(names) * (len(names) - 1))
    info["within_group_chance_fraction"] = float(chance)
    verdict = "Mostly yes" if frac > chance else "Only partly"
    pairs_txt = ", ".join(
        f"{a} ({n})" for a, n in zip(t["twolayer_top_pairs"][:3], t["twolayer_top_pair_count"][:3])
    )
    info["finding"] = (
        f"{verdict}. The two-layer net on HOG + hue features ({t['twolayer_variant']}) classifies "
        f"{100 * t['twolayer_test_acc']:.1f}% of the {t['twolayer_num_test']} test images "
        f"correctly; its most confused class pairs (both directions) are {pairs_txt}, and the "
        f"single largest off-diagonal entry is {t['twolayer_top_confused_true'][0]} predicted as "
        f"{t['twolayer_top_confused_pred'][0]} ({t['twolayer_top_confused_count'][0]} images). "
        f"{100 * frac:.0f}% of its {t['twolayer_num_errors']} errors confuse two animals or two "
        f"vehicles (errors spread evenly would do so {100 * chance:.0f}% of the time) — classes "
        f"with similar outlines (HOG) and similar colours (hue histogram), while the features "
        f"throw away finer texture and layout. The largest confusion across the animal/vehicle "
        f"divide is {info['twolayer_top_cross_group_pair']} "
        f"({info['twolayer_top_cross_group_count']} images). Per-class accuracy ranges from "
        f"{100 * min(t['twolayer_per_class_acc']):.0f}% ({t['twolayer_worst_class']}) to "
        f"{100 * max(t['twolayer_per_class_acc']):.0f}% ({t['twolayer_best_class']}). The linear "
        f"SVM on the same features ({100 * t['svm_test_acc']:.1f}%) "
        f"{'shares' if t['same_top_pair'] else 'does not share'} the top confused pair "
        f"({t['svm_top_pairs'][0] if t['svm_top_pairs'] else 'none'}); "
        f"{100 * t['svm_within_group_error_fraction']:.0f}% of its errors stay within a group."
    )

    top, pairs, acc, b = tops["twolayer"]
    conf = np.asarray(b["confusion"], dtype=np.float64)
    norm = conf / np.maximum(conf.sum(axis=1, keepdims=True), 1)
    fig, axes = plt.subplots(1, 2, figsize=(12.0, 4.8), gridspec_kw={"width_ratios": [1.2, 1]})
    ax = axes[0]
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(names)):
        for j in range(len(names)):
            ax.text(
                j,
                i,
                str(int(conf[i, j])),
                ha="center",
                va="center",
                fontsize=6.5,
                color="white" if norm[i, j] > 0.6 else "black",
            )
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=7.5)
    ax.set_yticks(range(len(names)), names, fontsize=7.5)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(
        "two-layer net on features: confusion (counts; colour = row fraction)", fontsize=8.5
    )
    fig.colorbar(im, ax=ax, shrink=0.8)
    ax = axes[1]
    xs = np.arange(len(names))
    ax.bar(
        xs - 0.2,
        t["twolayer_per_class_acc"],
        0.4,
        label=f"two-layer net ({t['twolayer_test_acc']:.3f})",
    )
    ax.bar(xs + 0.2, t["svm_per_class_acc"], 0.4, label=f"linear SVM ({t['svm_test_acc']:.3f})")
    ax.set_xticks(xs, names, rotation=45, ha="right", fontsize=7.5)
    ax.set_ylabel("per-class test accuracy")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7.5)
    fig.tight_layout()
    return fig


def main(sm, log):
    qid = sm.params.qid
    info = {"id": qid, "source": SOURCES[qid]}
    if qid == "svm-1":
        fig = svm_1(sm, log, info)
    elif qid == "svm-2":
        fig = templates(sm, log, info, "svm")
    elif qid == "softmax-3":
        fig = templates(sm, log, info, "softmax")
    elif qid == "softmax-1":
        fig = softmax_1(sm, log, info)
    elif qid == "softmax-2":
        fig = softmax_2(sm, log, info)
    elif qid == "features-1":
        fig = features_1(sm, log, info)
    else:  # pragma: no cover - the rules are generated from the same list
        raise ValueError(f"unknown question {qid!r}")
    finish(sm, info, fig)
    log.info("%s: %s", qid, info["finding"])


run_job(snakemake, main)
