"""Evidence for the MNIST lab's questions mnist-1 .. mnist-6.

A question's first table holds the "faithful" runs (the write-up's settings: summed
gradients, its lrs), its second the "tuned" ones (mean-reduced gradients, the lr chosen on
the validation split). Every number comes from this run's tables, histories, timings and
parameters; the prose is in report/questions/mnist.yaml.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from nplab.layers import sigmoid_backward, sigmoid_forward, tanh_backward, tanh_forward
from nplab.losses import mse_softmax_loss, softmax_loss
from nplab_io.evidence.io import read_json
from nplab_io.figures import label_axes, pyplot
from nplab_io.mnist import (
    best_per_group,
    epochs_to_reach,
    loss_noise,
    loss_per_example,
    value_at_time,
    weight_sparsity,
)

KINDS = ("faithful", "tuned")
DEPTHS = (("1 hidden", "one"), ("2 hidden", "two"))
LOSSES = ("cross_entropy", "mse")
ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid")
METHODS = ("BGD", "MBGD", "SGD")
RULES = ("Momentum", "Adagrad", "RMSprop", "Adam")
JOINED_OPTIMIZER_COLUMNS = (
    "writeup_test_acc",
    "faithful_test_acc",
    "tuned_test_acc",
    "tuned_lr",
    "writeup_train_acc",
    "faithful_train_acc",
    "writeup_lr",
    "equivalent_mean_lr",
    "faithful_val_acc",
    "tuned_val_acc",
)
PENALTY_OPTIMIZERS = ("Adagrad", "RMSprop")
PENALTIES = ("none", "L1", "L2")


# --------------------------------------------------------------------------- shared
def _f(x):
    """A float, or None for a missing or non-finite value."""
    return None if x is None or (isinstance(x, float) and not np.isfinite(x)) else float(x)


def _tables(data) -> dict:
    """``{kind: table}``: a question lists its faithful table first, its tuned one second."""
    return dict(zip(KINDS, data.table_names))


def _selected(data) -> dict:
    """``{kind: {group: run record}}``: the best final val accuracy per variant group."""
    return {k: best_per_group(data.table(t)["runs"]) for k, t in _tables(data).items()}


def _curve(data, table, run):
    c = data.table(table)["curves"]
    return c[c["run"] == run].sort_values("epoch")


def _loss(data, table, run):
    lo = data.table(table)["loss"]
    return lo[lo["run"] == run]


def _joined_value(j, variant, epochs, col):
    r = j[(j["variant"] == variant) & (j["epochs"] == epochs)]
    return _f(r[col].iloc[0]) if len(r) and pd.notna(r[col].iloc[0]) else None


def _by_run(paths) -> dict:
    """``{run id: path}`` of per-run files (results/runs/<run>/<file>)."""
    return {Path(p).parent.name: p for p in paths}


def _run_row(data, table, variant) -> pd.Series:
    runs = data.table(table)["runs"]
    return runs[runs["variant"] == variant].iloc[0]


def _val_and_loss_curves(ev, data, groups, loss_xlabel, loss_ylabel, title):
    """Validation accuracy per epoch (left) and training loss per example (right, log
    scale) of the selected faithful (solid) and tuned (dashed) run of each group."""
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for kind, table in _tables(data).items():
        ls = "-" if kind == "faithful" else "--"
        for gi, g in enumerate(groups):
            r = ev["_sel"][kind][g]
            c = _curve(data, table, r["run"])
            label = f"{g}, {kind} (lr {r['lr']:g})"
            axes[0].plot(c["epoch"], c["val_acc"], ls, color=f"C{gi}", label=label)
            lo = _loss(data, table, r["run"])
            y = loss_per_example(lo["loss"], r)
            axes[1].plot(lo["iteration"], y, ls, color=f"C{gi}", lw=1, label=f"{g}, {kind}")
    axes[0].set_xlabel("epoch")
    axes[0].set_ylabel("validation accuracy")
    axes[1].set_yscale("log")
    axes[1].set_xlabel(loss_xlabel)
    axes[1].set_ylabel(loss_ylabel)
    for a in axes:
        a.legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig, axes


# --------------------------------------------------------------------------- mnist-1
def _depth_run(data, j, r, kind, g, key, epochs, thr) -> dict:
    """One depth's test accuracies and wall times per write-up epoch count, epochs to the
    plateau threshold, loss noise and lr (its selected run of table ``kind``)."""
    table = _tables(data)[kind]
    ev = {}
    for e in epochs:
        ev[f"{kind}_{key}_test_acc_{e}"] = _joined_value(j, g, e, f"{kind}_test_acc")
        ev[f"{kind}_{key}_wall_time_s_{e}"] = _joined_value(j, g, e, f"{kind}_wall_time_s")
        if kind == "faithful":
            ev[f"writeup_{key}_test_acc_{e}"] = _joined_value(j, g, e, "writeup_test_acc")
    c = _curve(data, table, r["run"])
    ev[f"{kind}_{key}_epochs_to_{thr:g}"] = epochs_to_reach(c["epoch"], c["val_acc"], thr)
    nz = loss_noise(_loss(data, table, r["run"])["loss"].to_numpy())
    ev[f"{kind}_{key}_loss_increase_frac"] = nz["increase_frac"]
    ev[f"{kind}_{key}_loss_mean_abs_log_change"] = nz["mean_abs_log_change"]
    ev[f"{kind}_{key}_lr"] = float(r["lr"])
    return ev


def _init_std(data, sel) -> dict:
    """Hidden-activation std at initialisation of each depth's faithful run."""
    hist, ev = _by_run(data.paths("history")), {}
    for g, key in DEPTHS:
        with np.load(hist[sel["faithful"][g]["run"]]) as h:
            std = h["init_std"] if "init_std" in h.files else np.array([])
        ev[f"faithful_{key}_init_activation_std"] = [float(v) for v in std]
    return ev


def _depth_verdicts(ev, settings, e_last) -> dict:
    w1 = ev[f"faithful_one_wall_time_s_{e_last}"]
    w2 = ev[f"faithful_two_wall_time_s_{e_last}"]
    d = {
        k: (ev[f"{k}_one_test_acc_{e_last}"] or 0) - (ev[f"{k}_two_test_acc_{e_last}"] or 0)
        for k in KINDS
    }
    s2 = ev["faithful_two_init_activation_std"]
    deep = len(s2) > 1
    return {
        "time_ratio_two_over_one": _f(w2 / w1) if w1 and w2 else None,
        "faithful_one_minus_two_test_acc": d["faithful"],
        "tuned_one_minus_two_test_acc": d["tuned"],
        "two_worse_faithful": bool(d["faithful"] > 0),
        "two_worse_tuned": bool(d["tuned"] > 0),
        "two_noisier_faithful": bool(
            ev["faithful_two_loss_increase_frac"] > ev["faithful_one_loss_increase_frac"]
        ),
        "faithful_two_init_std_ratio": float(s2[0] / s2[1]) if deep else None,
        "faithful_two_init_signal_shrinks": bool(deep and s2[1] < s2[0]),
        "init_explains_gap": bool(deep and s2[1] < s2[0] / settings["init_shrink_factor"]),
        "tuned_removes_most_of_gap": bool(d["tuned"] < settings["most_of_gap"] * d["faithful"]),
    }


def compute_mnist_1(data, settings):
    """One vs two hidden layers: test accuracy per write-up epoch count (ours and the
    write-up's), epochs to the plateau accuracy, loss noise, time per epoch and the hidden
    activations' scale at initialisation."""
    j, sel = data.csv("joined"), _selected(data)
    thr = float(settings["plateau_acc"])
    epochs = sorted({int(e) for e in j["epochs"]})
    ev = {"plateau_acc": thr, "epochs": epochs}
    for kind in KINDS:
        for g, key in DEPTHS:
            ev.update(_depth_run(data, j, sel[kind][g], kind, g, key, epochs, thr))
    ev.update(_init_std(data, sel))
    ev.update(_depth_verdicts(ev, settings, epochs[-1]))
    ev["faithful_weight_scale"] = float(sel["faithful"]["2 hidden"]["weight_scale"])
    ev.update(
        init_shrink_factor=settings["init_shrink_factor"],
        most_of_gap=settings["most_of_gap"],
        _sel=sel,
    )
    return ev


def plot_mnist_1(ev, data):
    fig, axes = _val_and_loss_curves(
        ev,
        data,
        [g for g, _ in DEPTHS],
        "iteration (= epoch, full batch)",
        "training loss per example",
        "mnist-1: one vs two hidden layers",
    )
    axes[0].axhline(ev["plateau_acc"], color="0.6", ls=":", lw=0.8)
    return fig


# --------------------------------------------------------------------------- mnist-2
def output_gradients() -> dict:
    """|d loss / d scores| for one example, CE vs MSE-on-softmax, at a uniform softmax and
    at a confidently wrong one (a wrong class scored log(891) above the rest)."""
    y = np.array([0])
    out = {}
    for label, scores in (
        ("uniform", np.zeros((1, 10))),
        ("confident_wrong", np.array([[0.0, np.log(99.0 * 9)] + [0.0] * 8])),
    ):
        p = np.exp(scores - scores.max())
        p /= p.sum()
        out[f"{label}_p_correct"] = float(p[0, 0])
        for name, fn in (("ce", softmax_loss), ("mse", mse_softmax_loss)):
            _, d = fn(scores, y, reduction="sum")
            out[f"{label}_{name}_grad_correct"] = float(d[0, 0])
            out[f"{label}_{name}_grad_norm"] = float(np.linalg.norm(d))
    return out


def compute_mnist_2(data, settings):
    """Cross-entropy vs MSE on the softmax output: the gradient at the scores in two
    cases, epochs to each target val accuracy and the final accuracies of both runs."""
    sel = _selected(data)
    targets = [float(t) for t in settings["targets"]]
    ev = {"targets": targets}
    for kind, table in _tables(data).items():
        for g in LOSSES:
            r = sel[kind][g]
            c = _curve(data, table, r["run"])
            ev[f"{kind}_{g}_lr"] = float(r["lr"])
            ev[f"{kind}_{g}_epochs_to"] = [
                epochs_to_reach(c["epoch"], c["val_acc"], t) for t in targets
            ]
            ev[f"{kind}_{g}_final_val_acc"] = float(r["val_acc"])
            ev[f"{kind}_{g}_test_acc"] = _f(r["test_acc"])
    g = output_gradients()
    ev.update(g)
    ev["uniform_grad_ratio_ce_over_mse"] = g["uniform_ce_grad_norm"] / g["uniform_mse_grad_norm"]
    ev["wrong_grad_ratio_ce_over_mse"] = (
        g["confident_wrong_ce_grad_norm"] / g["confident_wrong_mse_grad_norm"]
    )
    for k in KINDS:
        ahead = ev[f"{k}_cross_entropy_final_val_acc"] > ev[f"{k}_mse_final_val_acc"]
        ev[f"ce_ahead_{k}"] = bool(ahead)
    ev["_sel"] = sel
    return ev


def plot_mnist_2(ev, data):
    fig, _ = _val_and_loss_curves(
        ev,
        data,
        LOSSES,
        "iteration",
        "training loss per example (each its own loss)",
        "mnist-2: cross-entropy vs MSE on the softmax output",
    )
    return fig


# --------------------------------------------------------------------------- mnist-3
def _activation_stats(h, a) -> dict:
    """Saturated share, mean and std of the first hidden layer at init and after training."""
    ev = {}
    for p in ("init", "final"):
        for k in ("frac_saturated", "mean", "std"):
            if f"{p}_{k}" in h.files:
                ev[f"{a}_{p}_{k}"] = float(h[f"{p}_{k}"][0])
    return ev


def _local_grad_max() -> dict:
    """The largest local gradient of sigmoid and tanh (on a grid over [-6, 6])."""
    x = np.linspace(-6, 6, 1201)
    _, cs = sigmoid_forward(x)
    _, ct = tanh_forward(x)
    return {
        "sigmoid_max_local_grad": float(sigmoid_backward(np.ones_like(x), cs).max()),
        "tanh_max_local_grad": float(tanh_backward(np.ones_like(x), ct).max()),
    }


def compute_mnist_3(data, settings):
    """Sigmoid vs ReLU, leaky ReLU and tanh: test accuracy per write-up epoch count, the
    saturated share and mean of the hidden outputs, the activations' largest slope."""
    j, sel = data.csv("joined"), _selected(data)
    hist = _by_run(data.paths("history"))
    epochs = sorted({int(v) for v in j["epochs"]})
    e_last = int(j["epochs"].max())
    ev = {"activations": list(ACTIVATIONS), "epochs": epochs}
    for a in ACTIVATIONS:
        with np.load(hist[sel["faithful"][a]["run"]]) as h:
            ev.update(_activation_stats(h, a))
        for kind in KINDS:
            for e in epochs:
                ev[f"{kind}_{a}_test_acc_{e}"] = _joined_value(j, a, e, f"{kind}_test_acc")
        ev[f"writeup_{a}_test_acc_{e_last}"] = _joined_value(j, a, e_last, "writeup_test_acc")
        ev[f"tuned_{a}_lr"] = float(sel["tuned"][a]["lr"])
    ev.update(_local_grad_max())
    ev.update(_sigmoid_verdicts(ev, e_last, float(settings["minor_saturation"])))
    ev["faithful_weight_scale"] = float(sel["faithful"]["sigmoid"]["weight_scale"])
    ev["_sel"] = sel
    return ev


def _sigmoid_verdicts(ev, e_last, minor) -> dict:
    """Sigmoid's gap to the worst other activation, and whether saturation is minor."""
    out, others = {}, [a for a in ACTIVATIONS if a != "sigmoid"]
    for k in KINDS:
        worst_other = min(ev[f"{k}_{a}_test_acc_{e_last}"] or 0 for a in others)
        sigmoid = ev[f"{k}_sigmoid_test_acc_{e_last}"] or 0
        out[f"{k}_sigmoid_gap_to_worst_other"] = worst_other - sigmoid
    out["sigmoid_last_faithful"] = bool(out["faithful_sigmoid_gap_to_worst_other"] > 0)
    sat_sig = ev.get("sigmoid_final_frac_saturated", float("nan"))
    sat_tanh = ev.get("tanh_final_frac_saturated", float("nan"))
    out["sigmoid_more_saturated_than_tanh"] = bool(sat_sig > sat_tanh)
    out.update(minor_saturation=minor, sigmoid_saturation_minor=bool(sat_sig < minor))
    return out


def plot_mnist_3(ev, data):
    plt = pyplot()
    acts = list(ACTIVATIONS)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    pos = np.arange(len(acts))
    for i, p in enumerate(("init", "final")):
        fracs = [ev.get(f"{a}_{p}_frac_saturated", 0.0) for a in acts]
        axes[0].bar(pos + (i - 0.5) * 0.4, fracs, 0.4, label=f"{p}")
    axes[0].set_xticks(pos, acts)
    axes[0].set_ylabel(
        "fraction of hidden outputs saturated\n(sigmoid <.01/>.99, tanh |t|>.99, relu <= 0)"
    )
    axes[0].legend(fontsize=7)
    for ai, a in enumerate(acts):
        for kind, table in _tables(data).items():
            c = _curve(data, table, ev["_sel"][kind][a]["run"])
            ls = "-" if kind == "faithful" else "--"
            axes[1].plot(c["epoch"], c["val_acc"], ls, color=f"C{ai}", label=f"{a}, {kind}")
    axes[1].set_xlabel("epoch")
    axes[1].set_ylabel("validation accuracy")
    axes[1].legend(fontsize=6, ncol=2)
    fig.suptitle("mnist-3: activations (faithful -, tuned --)", fontsize=9)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- mnist-4
def _leader(scores: dict):
    """The group with the single highest score (None: no score, or a tie at the top)."""
    known = {g: s for g, s in scores.items() if s is not None}
    if not known:
        return None
    top = max(known.values())
    leaders = [g for g, s in known.items() if s == top]
    return leaders[0] if len(leaders) == 1 else None


def _ahead_beyond_noise(low: dict, high: dict):
    """The group whose worst case (``low``) beats every other group's best case (``high``),
    or None. A missing score (no value yet) loses to any score."""
    for g, lo in low.items():
        if lo is None:
            continue
        others = [(-math.inf if high[o] is None else high[o]) for o in high if o != g]
        if all(lo > h for h in others):
            return g
    return None


def _batching_run(data, r, kind, g, timing, target) -> tuple[dict, tuple]:
    """One method's numbers (table ``kind``) and its (elapsed s, val acc, epoch) curve."""
    c = _curve(data, _tables(data)[kind], r["run"])
    el = timing[r["run"]][: len(c)]
    val = c["val_acc"].to_numpy()[: len(el)]
    hit = np.nonzero(val >= target)[0]
    ev = {
        f"{kind}_{g}_lr": float(r["lr"]),
        f"{kind}_{g}_total_time_s": float(el[-1]),
        f"{kind}_{g}_updates": int(r["iterations_run"]),
        f"{kind}_{g}_final_val_acc": float(r["val_acc"]),
        f"{kind}_{g}_test_acc": _f(r["test_acc"]),
        f"{kind}_{g}_time_to_target_s": float(el[hit[0]]) if len(hit) else None,
    }
    return ev, (el, val, c["epoch"].to_numpy()[: len(el)])


def _same_work(kind, curves) -> dict:
    """Timing-free: val accuracy after the number of epochs every method completed (each
    epoch computes every training example's gradient once, whatever the batch size)."""
    common = int(min(epochs[-1] for _, _, epochs in curves.values()))
    scores = {g: float(val[epochs <= common][-1]) for g, (_, val, epochs) in curves.items()}
    out = {f"{kind}_common_epochs": common}
    out.update({f"{kind}_{g}_val_at_common_epochs": s for g, s in scores.items()})
    out[f"{kind}_furthest_per_epoch"] = _leader(scores)
    return out


def _same_time(ev, kind, curves, target, noise) -> dict:
    """Val accuracy at the shortest run's wall time, and the verdicts that timing decides
    (furthest at that budget, fastest to the target) only when they survive every run's
    clock running ``1 + noise`` times slower or faster."""
    budget = min(ev[f"{kind}_{g}_total_time_s"] for g in METHODS)
    out = {f"{kind}_common_budget_s": budget}
    for g, (el, val, _) in curves.items():
        out[f"{kind}_{g}_val_at_budget"] = _f(value_at_time(el, val, budget))
    slow = {g: value_at_time(el * (1 + noise), v, budget) for g, (el, v, _) in curves.items()}
    fast = {g: value_at_time(el / (1 + noise), v, budget) for g, (el, v, _) in curves.items()}
    out[f"{kind}_furthest_at_budget"] = _ahead_beyond_noise(slow, fast)
    t = {g: ev[f"{kind}_{g}_time_to_target_s"] for g in METHODS}
    out[f"{kind}_methods_reaching_target"] = [g for g in METHODS if t[g] is not None]
    out[f"{kind}_fastest_to_target"] = _ahead_beyond_noise(
        {g: None if v is None else -v * (1 + noise) for g, v in t.items()},
        {g: None if v is None else -v / (1 + noise) for g, v in t.items()},
    )
    return out


def _timing_spread(curves: dict) -> float:
    """The largest relative difference in seconds per epoch between the faithful and the
    tuned run of one method: the same work timed twice."""
    per_epoch = {k: {g: c[0][-1] / len(c[0]) for g, c in cs.items()} for k, cs in curves.items()}
    pairs = [(per_epoch["faithful"][g], per_epoch["tuned"][g]) for g in METHODS]
    return float(max(abs(a - b) / min(a, b) for a, b in pairs))


def compute_mnist_4(data, settings):
    """BGD, MBGD and SGD: val accuracy after the same number of epochs (same work) and at
    the same wall time, time to the target accuracy, updates and their rate."""
    sel = _selected(data)
    target = float(settings["target_acc"])
    timing = {}
    for p in data.paths("timing"):
        t = read_json(p)
        timing[t["run"]] = np.asarray(t["epoch_elapsed_s"], dtype=float)
    ev = {"target_acc": target, "methods": list(METHODS)}
    curves = {}
    for kind in KINDS:
        curves[kind] = {}
        for g in METHODS:
            run_ev, curves[kind][g] = _batching_run(data, sel[kind][g], kind, g, timing, target)
            ev.update(run_ev)
    floor, spread = float(settings["timing_noise"]), _timing_spread(curves)
    # the stated noise, or more when two timings of the same work differ by more
    ev.update(timing_noise_floor=floor, timing_spread=spread, timing_noise=max(floor, spread))
    for kind in KINDS:
        ev.update(_same_work(kind, curves[kind]))
        ev.update(_same_time(ev, kind, curves[kind], target, ev["timing_noise"]))
    ev["_curves"] = curves
    return ev


def plot_mnist_4(ev, data):
    plt = pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    for ki, kind in enumerate(KINDS):
        for g in METHODS:
            el, val, _ = ev["_curves"][kind][g]
            axes[ki].plot(el, val, "-o", ms=2.5, label=f"{g} (lr {ev[f'{kind}_{g}_lr']:g})")
        axes[ki].axvline(ev[f"{kind}_common_budget_s"], color="0.6", ls=":", lw=0.8)
        axes[ki].set_xscale("log")
        axes[ki].set_xlabel("wall time (s)")
        axes[ki].set_title(f"{kind}", fontsize=9)
        axes[ki].legend(fontsize=7, loc="lower right")
    axes[0].set_ylabel("validation accuracy")
    fig.suptitle("mnist-4: validation accuracy vs wall time (dotted: common budget)", fontsize=9)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- mnist-5
def _rule_settings(data) -> dict:
    """The hyper-parameters the faithful momentum, plain and RMSProp runs used."""
    table = _tables(data)["faithful"]
    mom, plain = _run_row(data, table, "Momentum"), _run_row(data, table, "none")
    b = int(plain["batch_size"])
    return {
        "momentum_lr": float(mom["lr"]),
        "momentum": float(mom["momentum"]),
        # every faithful run of the table makes the same number of updates (MBGD, same epochs)
        "faithful_updates": int(mom["iterations_run"]),
        "plain_lr": float(plain["lr"]),
        "rmsprop_decay": float(_run_row(data, table, "RMSprop")["decay_rate"]),
        "momentum_effective_mean_lr": float(mom["lr"]) * b / (1 - float(mom["momentum"])),
        "plain_mean_lr": float(plain["lr"]) * b,
    }


def _adam_10x(data, ev, settings) -> dict:
    """The write-up's Adam row vs the rule at its stated lr and at a larger step (the
    diagnostic run "Adam 10x step"); {} when that run is not in the table."""
    x10 = ev.get("Adam 10x step_faithful_test_acc")
    if x10 is None:
        return {}
    table = _tables(data)["faithful"]
    adam = _run_row(data, table, "Adam")
    b1, lr = float(adam["beta1"]), float(adam["lr"])
    lr_big = float(_run_row(data, table, "Adam 10x step")["lr"])
    gap = ev["Adam_writeup_test_acc"] - x10
    tol = float(settings["adam_gap_tol"])
    return {
        "adam_lr": lr,
        "adam_beta1": b1,
        "adam_10x_lr": lr_big,
        "adam_step_ratio": lr_big / lr,
        # m <- b1*m + g is the moving average / (1 - b1): the same steps at lr / (1 - b1)
        "adam_10x_is_undamped_moment": bool(math.isclose(lr_big / lr, 1 / (1 - b1))),
        "adam_gap_stated_lr": ev["Adam_writeup_test_acc"] - ev["Adam_faithful_test_acc"],
        "adam_gap_10x_step": gap,
        "adam_gap_tol": tol,
        "adam_10x_explains_gap": bool(abs(gap) <= tol),
    }


def compute_mnist_5(data, settings):
    """Momentum, Adagrad, RMSProp and Adam against plain MBGD at the write-up's and at
    tuned lrs; momentum's effective step; the Adam 10x-step diagnostic."""
    j = data.csv("joined")
    ev = {"optimizers": list(j["variant"]), "rules": list(RULES)}
    for _, r in j.iterrows():
        for col in JOINED_OPTIMIZER_COLUMNS:
            ev[f"{r['variant']}_{col}"] = _f(r[col]) if pd.notna(r[col]) else None
    ev.update(_rule_settings(data))
    rtol = float(settings["same_step_rtol"])
    diff = abs(ev["momentum_effective_mean_lr"] - ev["plain_mean_lr"])
    ev.update(same_step_rtol=rtol, momentum_same_step=bool(diff <= rtol * ev["plain_mean_lr"]))
    for kind in KINDS:
        base = ev[f"none_{kind}_test_acc"] or 0
        for v in RULES:
            x = ev.get(f"{v}_{kind}_test_acc")
            ev[f"{kind}_{v}_beats_plain"] = bool(x is not None and x > base)
    ev["ranking_changes_with_tuning"] = any(
        ev[f"tuned_{v}_beats_plain"] != ev[f"faithful_{v}_beats_plain"] for v in RULES
    )
    ev.update(_adam_10x(data, ev, settings))
    return ev


def plot_mnist_5(ev, data):
    plt = pyplot()
    opts = ev["optimizers"]
    fig, ax = plt.subplots(figsize=(9, 3.8))
    pos = np.arange(len(opts))
    for i, (col, lab) in enumerate(
        (
            ("writeup_test_acc", "write-up"),
            ("faithful_test_acc", "faithful"),
            ("tuned_test_acc", "tuned"),
        )
    ):
        vals = [ev.get(f"{v}_{col}") or 0 for v in opts]
        ax.bar(pos + (i - 1) * 0.27, vals, 0.27, label=lab)
    ax.set_xticks(pos, opts, fontsize=8)
    ax.set_ylim(0.8, 1.0)
    ax.set_ylabel("test accuracy (MBGD 6,000, 100 epochs)")
    ax.legend(fontsize=7)
    ax.set_title("mnist-5: update rules at the write-up's and at tuned lrs", fontsize=9)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- mnist-6
def _regularized_row(r, W, tol) -> dict:
    """One joined row: its penalty, the sparsity and norms of its faithful run's weights,
    and train/test accuracy and their gap for both kinds."""
    g, sp = r["variant"], weight_sparsity(W, tol)
    ev = {
        f"{g}_reg": _f(r["faithful_reg"]),
        f"{g}_frac_near_zero": sp["frac_near_zero"],
        f"{g}_l1_norm": sp["l1"],
        f"{g}_l2_norm": sp["l2"],
    }
    for kind in KINDS:
        tr, te = _f(r[f"{kind}_train_acc"]), _f(r[f"{kind}_test_acc"])
        ev[f"{g}_{kind}_train_acc"] = tr
        ev[f"{g}_{kind}_test_acc"] = te
        ev[f"{g}_{kind}_gap"] = None if tr is None or te is None else tr - te
    ev[f"{g}_writeup_train_acc"] = _f(r["writeup_train_acc"])
    ev[f"{g}_writeup_test_acc"] = _f(r["writeup_test_acc"])
    return ev


def _penalty_changes(ev, opt) -> dict:
    """Each penalty's change of the gap and of test accuracy against no penalty."""
    n, out = f"none+{opt}", {}
    for reg in (f"L1+{opt}", f"L2+{opt}"):
        gap = ev[f"{reg}_faithful_gap"]
        out[f"{reg}_gap_change"] = gap - ev[f"{n}_faithful_gap"] if gap is not None else None
        out[f"{reg}_test_change"] = ev[f"{reg}_faithful_test_acc"] - ev[f"{n}_faithful_test_acc"]
        out[f"{reg}_sparser"] = bool(ev[f"{reg}_frac_near_zero"] > ev[f"{n}_frac_near_zero"])
    return out


def compute_mnist_6(data, settings):
    """No penalty vs L1 vs L2 (with Adagrad and RMSProp): train/test accuracy and gap, the
    share of near-zero weights and the weight norms of the faithful runs."""
    j = data.csv("joined")
    tol = float(settings["zero_tol"])
    params = _by_run(data.paths("params"))
    ev = {"zero_tol": tol, "variants": list(j["variant"]), "optimizers": list(PENALTY_OPTIMIZERS)}
    weights = {}
    for _, r in j.iterrows():
        with np.load(params[r["faithful_run"]]) as z:
            W = np.concatenate([z[k].ravel() for k in sorted(z.files) if k.startswith("W")])
        weights[r["variant"]] = W
        ev.update(_regularized_row(r, W, tol))
    for opt in PENALTY_OPTIMIZERS:
        ev.update(_penalty_changes(ev, opt))
    regs = [f"{k}+{o}" for k in ("L1", "L2") for o in PENALTY_OPTIMIZERS]
    changes = [ev[f"{reg}_gap_change"] for reg in regs]
    ev["regularised_runs"] = len(regs)
    ev["gap_shrinks_count"] = int(sum(c is not None and c < 0 for c in changes))
    ev["l1_runs"] = len(PENALTY_OPTIMIZERS)
    ev["l1_sparser_count"] = int(sum(ev[f"L1+{o}_sparser"] for o in PENALTY_OPTIMIZERS))
    ev["max_abs_test_change"] = float(max(abs(ev[f"{reg}_test_change"]) for reg in regs))
    ev.update(bins=int(settings["bins"]), _weights=weights)
    return ev


def plot_mnist_6(ev, data):
    plt = pyplot()
    weights, tol = ev["_weights"], ev["zero_tol"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for ai, opt in enumerate(PENALTY_OPTIMIZERS):
        allw = np.concatenate([weights[f"{k}+{opt}"] for k in PENALTIES])
        lim = float(np.quantile(np.abs(allw), 0.999)) or 1.0
        bins = np.linspace(-lim, lim, ev["bins"] + 1)
        for i, k in enumerate(PENALTIES):
            frac = ev[f"{k}+{opt}_frac_near_zero"]
            axes[ai].hist(
                weights[f"{k}+{opt}"],
                bins=bins,
                histtype="step",
                color=f"C{i}",
                label=f"{k} ({100 * frac:.0f}% |w|<{tol:g})",
            )
        axes[ai].set_yscale("log")
        label_axes(
            axes[ai], "weight value (all layers)", "count", title=f"{opt}, faithful", legend=7
        )
    fig.suptitle("mnist-6: weight histograms with no / L1 / L2 penalty", fontsize=9)
    fig.tight_layout()
    return fig
