"""Evidence for the linear-classifier and image-features questions: svm-1, svm-2, softmax-1,
softmax-2, softmax-3 and features-1 (CIFAR-10 dev/val splits, the best runs' weights and
confusion matrices)."""

from __future__ import annotations

import math
from pathlib import Path

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
from nplab_io.figures import label_axes, pyplot

NUM_CLASSES = 10  # CIFAR-10: the untrained models of svm-1 and softmax-1 score 10 classes
# features-1: the prefix of each feature model's evidence keys
FEATURE_MODELS = {"twolayer_features": "twolayer", "svm_features": "svm"}


# --------------------------------------------------------------------------- shared
def _xy(z, *names) -> list[np.ndarray]:
    """``X_<name>`` (float64) and ``y_<name>`` of each named split of the arrays ``z``."""
    return [a for n in names for a in (z[f"X_{n}"].astype(np.float64), np.asarray(z[f"y_{n}"]))]


def _arrays(data, *names, extra=()) -> dict[str, np.ndarray]:
    """Only the named splits (and ``extra`` arrays) of the input ``data``: the file also
    holds the training split."""
    return data.npz("data", keys=[f"{p}_{n}" for n in names for p in ("X", "y")] + list(extra))


def _best(data, table) -> dict:
    return data.table(table)["best"]


def _weights(data, best) -> np.ndarray:
    """W (float64) of the best run, from the params.npz of that run among the inputs."""
    by_run = {Path(p).parent.name: p for p in data.paths("params")}
    if best["run"] not in by_run:
        raise ValueError(f"run {best['run']} of {best['table']} has no params.npz among the inputs")
    with np.load(by_run[best["run"]]) as z:
        return np.asarray(z["W"], dtype=np.float64)


# --------------------------------------------------------------------------- svm-1
def _gradcheck_at(W, X, y, coords, delta, s) -> dict:
    """One margin Δ: numerical vs analytic gradient at ``coords`` and where the kinks sit."""
    dd, cc = (np.array(v) for v in zip(*coords))
    h, tol = s["h"], s["mismatch_tol"]

    def f(v):
        W2 = W.copy()
        W2[dd, cc] = v
        return svm_loss_vectorized(W2, X, y, 0.0, delta=delta)[0]

    num = eval_numerical_gradient(f, W[dd, cc].copy(), h=h)
    loss, grad = svm_loss_vectorized(W, X, y, 0.0, delta=delta)
    ana = grad[dd, cc]
    rel = np.abs(num - ana) / np.maximum(1e-8, np.abs(num) + np.abs(ana))
    bad, cross = rel > tol, kink_crossings(W, X, y, delta, h, coords) > 0
    scores = X @ W
    m = svm_margins(scores, y, delta)
    m = m[np.isfinite(m)]
    return {
        "num_mismatches": int(bad.sum()),
        "max_rel_error": float(rel.max()),
        "coords_with_kink_crossing": int(cross.sum()),
        "mismatches_at_kink_crossing": int(np.sum(bad & cross)),
        "mismatches_without_kink_crossing": int(np.sum(bad & ~cross)),
        "near_kink_terms_within_h": near_kink_terms(scores, y, delta, h),
        "near_kink_terms_within_band": int(np.sum(np.abs(m) < s["band"])),
        "active_term_fraction": float(np.mean(m > 0)),
        "initial_loss": float(loss),
        "_margins": m,
    }


def _relu_example(h) -> dict:
    """f(x) = max(0, x) before, at half a step from and two steps past its kink; the
    analytic derivative follows the loss's convention (1 only for x > 0)."""
    xs = [0.0, 0.5 * h, 2.0 * h]

    def relu(a):
        return float(np.maximum(0.0, a[0]))

    return {
        "example_1d_function": "f(x) = max(0, x)",
        "example_1d_x": xs,
        "example_1d_analytic": [1.0 if x > 0 else 0.0 for x in xs],
        "example_1d_numeric": [
            float(eval_numerical_gradient(relu, np.array([x]), h=h)[0]) for x in xs
        ],
    }


def compute_svm_1(data, settings):
    """Gradient check of the SVM loss at a small random W for several margins Δ, and which
    mismatching coordinates have a hinge term crossing its kink within ±h."""
    X, y = _xy(_arrays(data, "dev"), "dev")
    n = min(int(settings["num_rows"]), len(y))
    X, y = X[:n], y[:n]
    d, c = X.shape[1], NUM_CLASSES
    rng = np.random.default_rng(int(settings["seed"]))
    W = float(settings["weight_scale"]) * rng.standard_normal((d, c))
    flat = rng.choice(d * c, size=min(int(settings["num_coords"]), d * c), replace=False)
    coords = list(zip(*(v.tolist() for v in np.divmod(flat, c))))
    h, max_abs_x = float(settings["h"]), float(np.max(np.abs(X)))
    s = {"h": h, "mismatch_tol": float(settings["mismatch_tol"]), "band": h * max_abs_x}
    deltas = [float(v) for v in settings["deltas"]]
    per = [_gradcheck_at(W, X, y, coords, dv, s) for dv in deltas]
    ev = {
        "N": int(n),
        "D": int(d),
        "C": c,
        "dtype": "float64",
        "reg": 0.0,
        "weight_scale": float(settings["weight_scale"]),
        "h": h,
        "mismatch_tol": s["mismatch_tol"],
        "num_coords_checked": len(coords),
        "hinge_terms": int(n * (c - 1)),
        "max_abs_x": max_abs_x,
        "band_h_max_abs_x": s["band"],
        "deltas": deltas,
    }
    ev.update({k: [p[k] for p in per] for k in per[0] if k != "_margins"})
    ev["margin_std"] = float(np.std(per[0]["_margins"]))
    ev["all_mismatches_explained_by_kinks"] = sum(ev["mismatches_without_kink_crossing"]) == 0
    ev.update(_relu_example(h))
    ev["_margins"] = [p["_margins"] for p in per]
    return ev


def plot_svm_1(ev, data):
    plt = pyplot()
    dl, n = ev["deltas"], ev["num_coords_checked"]
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 3.8))
    ax, xs = axes[0], np.arange(len(dl))
    ax.bar(xs - 0.2, ev["num_mismatches"], 0.4, label=f"rel. error > {ev['mismatch_tol']:g}")
    ax.bar(xs + 0.2, ev["coords_with_kink_crossing"], 0.4, label="kink within ±h")
    ax.set_xticks(xs, [f"{v:g}" for v in dl])
    ax.set_xlabel("margin Δ")
    ax.set_ylabel(f"coordinates (of {n})")
    ax.set_title("gradient-check mismatches vs Δ", fontsize=9)
    ax.legend(fontsize=7)
    ax = axes[1]
    for k, (dv, m) in enumerate(zip(dl, ev["_margins"])):
        ax.hist(m, bins=80, histtype="step", color=f"C{k}", label=f"Δ = {dv:g}")
    ax.axvline(0.0, color="k", ls="--", lw=1)
    ax.set_xlabel("hinge argument s_j − s_y + Δ (kink at 0)")
    ax.set_ylabel("terms")
    ax.set_title("where the hinge terms sit at W = scale·N(0,1)", fontsize=9)
    ax.legend(fontsize=7)
    ax, u = axes[2], np.linspace(-2.0, 2.0, 201)
    ax.plot(u, np.maximum(0, u), color="C0", label="f(x) = max(0, x)")
    ax.plot([-1, 1], [0, 1], "o--", color="C3", label="centred difference: slope 0.5")
    ax.plot(u, np.zeros_like(u), ":", color="C2", label="analytic subgradient at 0: slope 0")
    ax.set_xlabel("x (units of h)")
    ax.set_title("1-D example at the kink", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- svm-2 / softmax-3
def _template_corr(data, best) -> tuple[list, np.ndarray, np.ndarray]:
    """Class names and the template x class-mean correlation matrices (centred, raw) of the
    linear_weights job, checked to come from the best run."""
    t = pd.read_csv(data.path("templates"))
    if not (t["run"] == best["run"]).all():
        raise ValueError(f"{data.path('templates')}: not computed from the best run {best['run']}")
    names = list(dict.fromkeys(t["template"]))

    def matrix(col):
        return t.pivot(index="template", columns="image_class", values=col).loc[names, names]

    return names, matrix("corr_centered").to_numpy(), matrix("corr_raw").to_numpy()


def _colour_preference(W, names, shape) -> dict:
    """Mean weight per colour channel of each template; the bluest and greenest template."""
    C = len(names)
    chan = W[:-1].T.reshape((C,) + shape).reshape(C, -1, shape[-1]).mean(axis=1)
    blue = chan[:, 2] - chan[:, :2].mean(axis=1)
    green = chan[:, 1] - chan[:, [0, 2]].mean(axis=1)
    return {
        "channel_mean_weight_rgb": [[float(v) for v in row] for row in chan],
        "bluest_template": names[int(np.argmax(blue))],
        "greenest_template": names[int(np.argmax(green))],
    }


def _templates(data, settings, model) -> dict:
    """The best run's class templates against every class's centred mean training image."""
    table = data.table_names[0]
    best = _best(data, table)
    W = _weights(data, best)
    shape = tuple(int(v) for v in settings["image_shape"])
    names, corr, corr_raw = _template_corr(data, best)
    own, off = np.diag(corr), corr[~np.eye(len(names), dtype=bool)]
    ev = {
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
        "num_classes_own_mean_best_match": int(
            (corr.argmax(axis=1) == np.arange(len(names))).sum()
        ),
        "best_matching_class": [names[k] for k in corr.argmax(axis=1)],
        **_colour_preference(W, names, shape),
        "weight_abs_max": float(np.abs(W[:-1]).max()),
    }
    return {**ev, "_W": W, "_corr": corr, "_shape": shape}


def _plot_templates(ev):
    plt = pyplot()
    names, corr, own = ev["class_names"], ev["_corr"], ev["own_class_corr"]
    C, imgs = len(names), weights_to_images(ev["_W"], ev["_shape"])
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
            weight = "bold" if i == j else "normal"
            ax.text(
                j, i, f"{corr[i, j]:.2f}", ha="center", va="center", fontsize=6.5, fontweight=weight
            )
    ax.set_xticks(range(C), names, rotation=45, ha="right", fontsize=7.5)
    ax.set_yticks(range(C), names, fontsize=7.5)
    ax.set_xlabel("class mean training image (centred)")
    ax.set_ylabel(f"{ev['model']} template")
    fig.colorbar(im, ax=ax, shrink=0.8, label="Pearson r")
    fig.suptitle(
        f"{ev['model']} class templates ({ev['table']}: {ev['variant']}) and their correlation "
        f"with the class mean images",
        fontsize=9.5,
    )
    return fig


def compute_svm_2(data, settings):
    """The best SVM's class templates (weights drawn as images) and how they match the
    class means."""
    return _templates(data, settings, "svm")


def plot_svm_2(ev, data):
    return _plot_templates(ev)


def compute_softmax_3(data, settings):
    """The best softmax classifier's class templates, as svm-2 does for the SVM."""
    return _templates(data, settings, "softmax")


def plot_softmax_3(ev, data):
    return _plot_templates(ev)


# --------------------------------------------------------------------------- softmax-1
def compute_softmax_1(data, settings):
    """The mean initial softmax loss on the dev split for small random weights (the checks'
    scale) against −log(1/C), and for larger initial scales."""
    checks = data.json("checks")
    X, y = _xy(_arrays(data, "dev"), "dev")
    C = NUM_CLASSES
    expected = -math.log(1.0 / C)
    scales = [float(v) for v in settings["weight_scales"]]
    losses, score_std, p_correct, per_ex = [], [], [], {}
    for ws in scales:
        # the same seed for every scale: the scales differ only in the factor
        W = ws * np.random.default_rng(int(settings["seed"])).standard_normal((X.shape[1], C))
        sc = X @ W
        per_ex[ws] = per_example_softmax_loss(sc, y)
        losses.append(float(per_ex[ws].mean()))
        score_std.append(float(sc.std()))
        p_correct.append(float(np.exp(-per_ex[ws]).mean()))
    ws = float(checks["weight_scale"])
    i0 = scales.index(ws) if ws in scales else 0
    return {
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
        "_per_example": per_ex[scales[i0]],
    }


def plot_softmax_1(ev, data):
    plt = pyplot()
    expected, mean, ws = ev["expected_loss"], ev["measured_loss"], ev["weight_scale"]
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 3.8))
    ax = axes[0]
    ax.hist(ev["_per_example"], bins=40, color="C0")
    ax.axvline(expected, color="C3", ls="--", label=f"−log(0.1) = {expected:.3f}")
    ax.axvline(mean, color="k", lw=1, label=f"mean = {mean:.3f}")
    ax.set_xlabel(f"per-example initial loss (W = {ws:g}·N(0,1))")
    ax.set_ylabel("dev examples")
    ax.legend(fontsize=8)
    ax = axes[1]
    ax.plot(ev["weight_scales"], ev["loss_by_scale"], "o-")
    ax.axhline(expected, color="C3", ls="--", label="−log(0.1)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    label_axes(ax, "initial weight scale", "mean initial softmax loss", legend=8)
    fig.suptitle("softmax-1: the initial loss of an untrained softmax classifier", fontsize=9.5)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- softmax-2
def _zero_loss_point(W, X, y, delta, svm_loss) -> tuple[int, float, bool]:
    """(index, alpha, scaled): a validation image with zero SVM loss as it is, else the
    first correctly classified one whose pixels, scaled by alpha, satisfy every margin."""
    zero = np.flatnonzero(svm_loss == 0.0)
    if len(zero):
        return int(zero[0]), 1.0, False
    correct = np.flatnonzero(np.argmax(X @ W, axis=1) == y)
    cand = [(int(k), zero_hinge_scale(W, X[k], y[k], delta)) for k in correct]
    cand = [(k, a) for k, a in cand if a is not None]
    if not cand:
        raise ValueError("no validation image can be scaled to a zero SVM loss")
    return cand[0][0], cand[0][1], True


def _point_losses(x, yi, Wsvm, Wsm, delta) -> dict:
    """The point's SVM hinge arguments and losses, and its softmax loss and probabilities."""
    s_svm, label = x @ Wsvm, np.array([yi])
    m = svm_margins(s_svm[None], label, delta)[0]
    m = m[np.isfinite(m)]
    p = np.exp(
        -per_example_softmax_loss(np.tile(x @ Wsm, (NUM_CLASSES, 1)), np.arange(NUM_CLASSES))
    )
    return {
        "svm_max_hinge_argument": float(np.max(m)),
        "svm_min_margin_over_delta": float(-np.max(m)),
        "svm_loss_contribution": float(per_example_svm_loss(s_svm[None], label, delta)[0]),
        "softmax_loss_contribution": float(per_example_softmax_loss((x @ Wsm)[None], label)[0]),
        "softmax_loss_contribution_svm_weights": float(
            per_example_softmax_loss(s_svm[None], label)[0]
        ),
        "softmax_prob_correct": float(p[yi]),
        "_svm_scores": s_svm,
        "_probs": p,
    }


def _sums_with_point(ev, Xd, yd, Wsvm, Wsm) -> dict:
    """The summed dev-split losses before and after adding the point."""
    svm_dev = per_example_svm_loss(Xd @ Wsvm, yd, ev["delta"])
    sm_dev = per_example_softmax_loss(Xd @ Wsm, yd)
    svm0, sm0 = float(svm_dev.sum()), float(sm_dev.sum())
    svm1, sm1 = svm0 + ev["svm_loss_contribution"], sm0 + ev["softmax_loss_contribution"]
    return {
        "dev_rows": int(len(yd)),
        "svm_sum_dev": svm0,
        "svm_sum_dev_plus_point": svm1,
        "softmax_sum_dev": sm0,
        "softmax_sum_dev_plus_point": sm1,
        "svm_sum_unchanged": bool(svm1 == svm0),
        "softmax_sum_changed": bool(sm1 != sm0),
        "frac_dev_zero_svm_loss": float(np.mean(svm_dev == 0.0)),
        "min_softmax_loss_dev": float(sm_dev.min()),
    }


def compute_softmax_2(data, settings):
    """A point with zero SVM loss under the best SVM: adding it leaves the summed SVM loss
    unchanged but adds a positive softmax loss under the best softmax."""
    bsvm, bsm = _best(data, "svm_wide"), _best(data, "softmax_wide")
    Wsvm, Wsm = _weights(data, bsvm), _weights(data, bsm)
    delta = float(bsvm["spec"].get("delta", 1.0))
    z = _arrays(data, "dev", "val", extra=["class_names", "image_shape"])
    Xd, yd, Xv, yv = _xy(z, "dev", "val")
    names = [str(c) for c in z["class_names"]]
    svm_val = per_example_svm_loss(Xv @ Wsvm, yv, delta)
    i, alpha, scaled = _zero_loss_point(Wsvm, Xv, yv, delta, svm_val)
    x, yi = Xv[i].copy(), int(yv[i])
    x[:-1] *= alpha  # the pixels, not the bias column
    ev = {
        "svm_run": bsvm["run"],
        "svm_variant": bsvm["variant"],
        "delta": delta,
        "softmax_run": bsm["run"],
        "softmax_variant": bsm["variant"],
        "point_scaled": scaled,
        "val_index": i,
        "alpha": float(alpha),
        "true_class": yi,
        "true_class_name": names[yi],
        **_point_losses(x, yi, Wsvm, Wsm, delta),
    }
    ev.update(_sums_with_point(ev, Xd, yd, Wsvm, Wsm))
    ev["frac_val_zero_svm_loss"] = float(np.mean(svm_val == 0.0))
    shape = tuple(int(v) for v in z["image_shape"])
    return {**ev, "_image": x[:-1].reshape(shape), "_names": names}


def plot_softmax_2(ev, data):
    plt = pyplot()
    yi, names = ev["true_class"], ev["_names"]
    fig, axes = plt.subplots(
        1, 3, figsize=(12.5, 3.6), gridspec_kw={"width_ratios": [0.8, 1.4, 1.4]}
    )
    img = ev["_image"]
    img = (img - img.min()) / max(img.max() - img.min(), 1e-12)
    axes[0].imshow(img, interpolation="nearest")
    axes[0].set_title(
        f"val image {ev['val_index']} ({ev['true_class_name']})\ncentred pixels × {ev['alpha']:g}",
        fontsize=8,
    )
    axes[0].axis("off")
    cols = ["C2" if k == yi else "C0" for k in range(NUM_CLASSES)]
    ax, s_svm = axes[1], ev["_svm_scores"]
    ax.bar(range(NUM_CLASSES), s_svm, color=cols)
    ax.axhline(s_svm[yi] - ev["delta"], color="C3", ls="--", label="correct score − Δ")
    ax.set_xticks(range(NUM_CLASSES), names, rotation=45, ha="right", fontsize=7)
    ax.set_title(f"SVM scores: hinge loss {ev['svm_loss_contribution']:g}", fontsize=9)
    ax.legend(fontsize=7)
    ax = axes[2]
    ax.bar(range(NUM_CLASSES), ev["_probs"], color=cols)
    ax.set_xticks(range(NUM_CLASSES), names, rotation=45, ha="right", fontsize=7)
    ax.set_title(
        f"softmax probabilities: loss −log p = {ev['softmax_loss_contribution']:.3f}", fontsize=9
    )
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- features-1
def _model_errors(best, wrong, names, group, top_k) -> dict:
    """One feature model's per-class accuracy, top confusions and how many of its errors
    stay within a group (both true and predicted class animals, or both vehicles)."""
    conf = np.asarray(best["confusion"], dtype=np.int64)
    acc = per_class_accuracy(conf)
    top = top_confusions(conf, top_k)
    pairs = top_confusions(np.triu(conf + conf.T, 1), top_k)
    same = [
        group.get(t) == group.get(p) and group.get(t) is not None
        for t, p in zip(wrong["true_name"], wrong["predicted_name"])
    ]
    wrongly = (
        np.bincount(wrong["predicted_label"], minlength=len(names)).argmax() if len(wrong) else None
    )
    return {
        "variant": best["variant"],
        "test_acc": float(best["test_acc"]),
        "num_test": int(best["num_test"]),
        "num_errors": int(len(wrong)),
        "per_class_acc": [float(v) for v in acc],
        "best_class": names[int(np.argmax(acc))],
        "worst_class": names[int(np.argmin(acc))],
        "top_confused_true": [names[t] for t, _, _ in top],
        "top_confused_pred": [names[p] for _, p, _ in top],
        "top_confused_count": [int(n) for _, _, n in top],
        "top_pairs": [f"{names[a]}/{names[b]}" for a, b, _ in pairs],
        "top_pair_count": [int(n) for _, _, n in pairs],
        "within_group_error_fraction": float(np.mean(same)) if same else 0.0,
        "most_predicted_wrongly": names[int(wrongly)] if wrongly is not None else "",
    }


def _misclassified(data, table, conf) -> pd.DataFrame:
    """The features_errors job's rows of ``table``, checked against its confusion matrix."""
    mis = pd.read_csv(data.path("misclassified"))
    wrong = mis[mis["table"] == table]
    errors = int(conf.sum() - np.trace(conf))
    if len(wrong) != errors:
        raise ValueError(
            f"{data.path('misclassified')}: {len(wrong)} rows for {table}, but its "
            f"confusion matrix has {errors} errors"
        )
    return wrong


def _top_cross_group_pair(conf, names, group) -> tuple[str, int]:
    """The largest confusion (both directions) between an animal and a vehicle."""
    cross = [
        (int(conf[i, j] + conf[j, i]), names[i], names[j])
        for i in range(len(names))
        for j in range(i + 1, len(names))
        if group.get(names[i]) != group.get(names[j])
    ]
    cross.sort(key=lambda r: (-r[0], r[1], r[2]))
    return (f"{cross[0][1]}/{cross[0][2]}", cross[0][0]) if cross else ("", 0)


def compute_features_1(data, settings):
    """Which classes the feature models confuse, and whether the errors stay within the
    animals or within the vehicles more often than errors spread evenly would."""
    groups = {g: list(v) for g, v in settings["groups"].items()}
    group = {nm: g for g, members in groups.items() for nm in members}
    names = [str(c) for c in data.npz("split", keys=["class_names"])["class_names"]]
    ev = {"class_names": names, "groups": groups}
    for table in data.table_names:
        best = _best(data, table)
        wrong = _misclassified(data, table, np.asarray(best["confusion"], dtype=np.int64))
        errors = _model_errors(best, wrong, names, group, int(settings["top_k"]))
        ev.update({f"{FEATURE_MODELS[table]}_{k}": v for k, v in errors.items()})
    ev["same_top_pair"] = ev["twolayer_top_pairs"][:1] == ev["svm_top_pairs"][:1]
    conf2 = np.asarray(_best(data, "twolayer_features")["confusion"], dtype=np.int64)
    pair, count = _top_cross_group_pair(conf2, names, group)
    ev.update(twolayer_top_cross_group_pair=pair, twolayer_top_cross_group_count=count)
    # chance level: errors spread evenly over the other classes stay within a group for
    # sum_g n_g (n_g - 1) / (C (C - 1)) of the (true, predicted) pairs
    sizes = [len(v) for v in groups.values()]
    chance = sum(k * (k - 1) for k in sizes) / (len(names) * (len(names) - 1))
    ev["within_group_chance_fraction"] = float(chance)
    return {**ev, "_confusion": conf2}


def plot_features_1(ev, data):
    plt = pyplot()
    names, conf = ev["class_names"], ev["_confusion"].astype(np.float64)
    norm = conf / np.maximum(conf.sum(axis=1, keepdims=True), 1)
    fig, axes = plt.subplots(1, 2, figsize=(12.0, 4.8), gridspec_kw={"width_ratios": [1.2, 1]})
    ax = axes[0]
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(names)):
        for j in range(len(names)):
            colour = "white" if norm[i, j] > 0.6 else "black"
            ax.text(
                j, i, str(int(conf[i, j])), ha="center", va="center", fontsize=6.5, color=colour
            )
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=7.5)
    ax.set_yticks(range(len(names)), names, fontsize=7.5)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(
        "two-layer net on features: confusion (counts; colour = row fraction)", fontsize=8.5
    )
    fig.colorbar(im, ax=ax, shrink=0.8)
    ax, xs = axes[1], np.arange(len(names))
    ax.bar(
        xs - 0.2,
        ev["twolayer_per_class_acc"],
        0.4,
        label=f"two-layer net ({ev['twolayer_test_acc']:.3f})",
    )
    ax.bar(xs + 0.2, ev["svm_per_class_acc"], 0.4, label=f"linear SVM ({ev['svm_test_acc']:.3f})")
    ax.set_xticks(xs, names, rotation=45, ha="right", fontsize=7.5)
    ax.set_ylabel("per-class test accuracy")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7.5)
    fig.tight_layout()
    return fig
