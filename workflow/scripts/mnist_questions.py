"""Evidence for the MNIST questions (rules question_mnist_1 .. question_mnist_6).

Each writes results/questions/<id>.json ("id", "question", "source", "figures" relative to
results/, numbers, and a "finding" built from them) and results/figures/questions/<id>.<fmt>.
"faithful" = the write-up's settings (summed gradients, its lrs); "tuned" = mean-reduced
gradients with the lr chosen on the validation split. Every number is computed here from
this run's tables, histories, timings and parameters."""

import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from nplab.layers import sigmoid_backward, sigmoid_forward, tanh_backward, tanh_forward
from nplab.losses import mse_softmax_loss, softmax_loss
from nplab_io.atomic import write_json_atomic
from nplab_io.figures import save_figure
from nplab_io.jobs import run_job
from nplab_io.mnist import (
    best_per_group,
    epochs_to_reach,
    loss_noise,
    loss_per_example,
    value_at_time,
    weight_sparsity,
)

QUESTIONS = {
    "mnist-1": "Why did two hidden layers do worse than one in the write-up (slower, less accurate, noisier loss)?",
    "mnist-2": "Why does cross-entropy train a softmax classifier faster than MSE?",
    "mnist-3": "Why is sigmoid so far behind ReLU, leaky ReLU and tanh here?",
    "mnist-4": "Which of BGD, MBGD, SGD gets furthest for the time spent, and why?",
    "mnist-5": "Why did momentum and Adagrad not beat plain MBGD in the write-up, while RMSProp did?",
    "mnist-6": "What do L1 and L2 regularisation change in train vs test accuracy?",
}
SOURCE = "MNIST lab write-up (questions.md)"
KINDS = ("faithful", "tuned")


def _rel(path):
    p = str(path)
    return p.split("results/", 1)[1] if "results/" in p else p


def _f(x):
    return None if x is None or (isinstance(x, float) and not np.isfinite(x)) else float(x)


def _pct(x):
    return "n/a" if x is None or not np.isfinite(x) else f"{100 * x:.1f}%"


def load(sm):
    """({table: (runs, curves, loss, timings)}, {name: joined csv}) for the question's tables."""
    files = list(sm.input.tables)
    tables = [t for n in sm.params.names for t in sm.params.tables[n]]
    data = {
        t: tuple(pd.read_csv(f) for f in files[4 * i : 4 * i + 4]) for i, t in enumerate(tables)
    }
    joined = {n: pd.read_csv(p) for n, p in zip(sm.params.names, sm.input.joined)}
    return data, joined


def selected(sm, data, name):
    """{kind: {group: run record}} (best final val per variant group)."""
    f, t = sm.params.tables[name]
    return {"faithful": best_per_group(data[f][0]), "tuned": best_per_group(data[t][0])}


def joined_value(j, variant, epochs, col):
    r = j[(j["variant"] == variant) & (j["epochs"] == epochs)]
    return _f(r[col].iloc[0]) if len(r) and pd.notna(r[col].iloc[0]) else None


def curve(data, table, run):
    c = data[table][1]
    return c[c["run"] == run].sort_values("epoch")


def histories(sm):
    return {Path(p).parent.name: p for p in sm.input.history}


def finish(sm, info, fig):
    info["figures"] = [_rel(f) for f in sm.output.fig if str(f).endswith(".png")]
    save_figure(fig, sm.output.fig)
    write_json_atomic(sm.output.json, info)


# --------------------------------------------------------------------------- mnist-1
def _val_and_loss_curves(sm, data, sel, name, groups, loss_xlabel, loss_ylabel, title):
    """Validation accuracy per epoch (left) and training loss per example (right, log scale)
    of the selected faithful (solid) and tuned (dashed) run of each group of write-up
    table `name`."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for ki, kind in enumerate(KINDS):
        table = sm.params.tables[name][ki]
        for gi, g in enumerate(groups):
            r = sel[kind][g]
            c = curve(data, table, r["run"])
            ls = "-" if kind == "faithful" else "--"
            axes[0].plot(
                c["epoch"], c["val_acc"], ls, color=f"C{gi}", label=f"{g}, {kind} (lr {r['lr']:g})"
            )
            lo = data[table][2]
            lo = lo[lo["run"] == r["run"]]
            axes[1].plot(
                lo["iteration"],
                loss_per_example(lo["loss"], r),
                ls,
                color=f"C{gi}",
                lw=1,
                label=f"{g}, {kind}",
            )
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


def mnist_1(sm, log, info):
    data, joined = load(sm)
    j = joined["depth"]
    sel = selected(sm, data, "depth")
    hist = histories(sm)
    thr = float(sm.params.settings["plateau_acc"])
    info["plateau_acc"] = thr
    epochs = sorted({int(e) for e in j["epochs"]})
    info["epochs"] = epochs
    for kind in KINDS:
        table = sm.params.tables["depth"][KINDS.index(kind)]
        for g, key in (("1 hidden", "one"), ("2 hidden", "two")):
            r = sel[kind][g]
            for e in epochs:
                info[f"{kind}_{key}_test_acc_{e}"] = joined_value(j, g, e, f"{kind}_test_acc")
                info[f"{kind}_{key}_wall_time_s_{e}"] = joined_value(j, g, e, f"{kind}_wall_time_s")
                if kind == "faithful":
                    info[f"writeup_{key}_test_acc_{e}"] = joined_value(j, g, e, "writeup_test_acc")
            c = curve(data, table, r["run"])
            info[f"{kind}_{key}_epochs_to_{thr:g}"] = epochs_to_reach(c["epoch"], c["val_acc"], thr)
            lo = data[table][2]
            lo = lo[lo["run"] == r["run"]]["loss"].to_numpy()
            nz = loss_noise(lo)
            info[f"{kind}_{key}_loss_increase_frac"] = nz["increase_frac"]
            info[f"{kind}_{key}_loss_mean_abs_log_change"] = nz["mean_abs_log_change"]
            info[f"{kind}_{key}_lr"] = float(r["lr"])
    e_last = epochs[-1]
    for key, g in (("one", "1 hidden"), ("two", "2 hidden")):
        run = sel["faithful"][g]["run"]
        with np.load(hist[run]) as h:
            std = h["init_std"] if "init_std" in h.files else np.array([])
        info[f"faithful_{key}_init_activation_std"] = [float(v) for v in std]
    w1 = info[f"faithful_one_wall_time_s_{e_last}"]
    w2 = info[f"faithful_two_wall_time_s_{e_last}"]
    info["time_ratio_two_over_one"] = _f(w2 / w1) if w1 and w2 else None
    d = {
        k: (info[f"{k}_one_test_acc_{e_last}"] or 0) - (info[f"{k}_two_test_acc_{e_last}"] or 0)
        for k in KINDS
    }
    info["faithful_one_minus_two_test_acc"] = d["faithful"]
    info["tuned_one_minus_two_test_acc"] = d["tuned"]
    info["two_worse_faithful"] = bool(d["faithful"] > 0)
    info["two_worse_tuned"] = bool(d["tuned"] > 0)
    s2 = info["faithful_two_init_activation_std"]
    s1 = info["faithful_one_init_activation_std"]
    noisier = info["faithful_two_loss_increase_frac"] > info["faithful_one_loss_increase_frac"]
    info["two_noisier_faithful"] = bool(noisier)
    e1, e2 = info[f"faithful_one_epochs_to_{thr:g}"], info[f"faithful_two_epochs_to_{thr:g}"]
    info["finding"] = (
        f"With the write-up's settings (full batch, summed gradients, lr 1e-5, weights 0.01 N(0,1)) "
        f"the 2-hidden-layer net reaches {_pct(info[f'faithful_two_test_acc_{e_last}'])} test accuracy "
        f"after {e_last} epochs vs {_pct(info[f'faithful_one_test_acc_{e_last}'])} for one hidden "
        f"layer (write-up: {_pct(info[f'writeup_two_test_acc_{e_last}'])} vs "
        f"{_pct(info[f'writeup_one_test_acc_{e_last}'])}); it needs "
        f"{e2 if e2 is not None else 'more than ' + str(e_last)} epochs to pass {thr:.0%} validation "
        f"accuracy vs {e1 if e1 is not None else 'more than ' + str(e_last)}. At init the hidden "
        f"activations have std {', '.join(f'{v:.2g}' for v in s2)} (layer 1, 2) vs "
        f"{', '.join(f'{v:.2g}' for v in s1)} for one layer"
        + (
            f": the second 0.01-scaled matrix shrinks the signal {s2[0] / s2[1]:.0f}x, and the "
            f"gradients that flow back through it shrink the same way, so the first layer barely "
            f"moves at a small lr. "
            if len(s2) > 1 and s2[1] < s2[0]
            else ". "
        )
        + f""
        f"Its loss {'rises' if noisier else 'does not rise more often'} between consecutive steps "
        f"({100 * info['faithful_two_loss_increase_frac']:.1f}% of the steps vs "
        f"{100 * info['faithful_one_loss_increase_frac']:.1f}%), and each epoch costs "
        f"{info['time_ratio_two_over_one']:.2f}x the time of the 1-layer net. With mean-reduced "
        f"gradients and the lr chosen on val the gap is "
        f"{100 * d['tuned']:+.1f} points (two hidden {'still worse' if d['tuned'] > 0 else 'no longer worse'}) "
        f"vs {100 * d['faithful']:+.1f} points faithful"
        + (
            ": a step size suited to the deeper net removes most of its handicap."
            if d["tuned"] < 0.5 * d["faithful"]
            else ": the deeper net stays behind at this initialisation even with a tuned lr."
            if d["faithful"] > 0
            else "."
        )
    )

    fig, axes = _val_and_loss_curves(
        sm,
        data,
        sel,
        "depth",
        ("1 hidden", "2 hidden"),
        "iteration (= epoch, full batch)",
        "training loss per example",
        "mnist-1: one vs two hidden layers",
    )
    axes[0].axhline(thr, color="0.6", ls=":", lw=0.8)
    finish(sm, info, fig)


# --------------------------------------------------------------------------- mnist-2
def output_gradients():
    """|d loss / d score of the correct class| for one example, CE vs MSE-on-softmax, at a
    uniform softmax and at a confidently wrong one (p_correct = 0.01)."""
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


def mnist_2(sm, log, info):
    data, _ = load(sm)
    sel = selected(sm, data, "loss")
    targets = [float(t) for t in sm.params.settings["targets"]]
    info["targets"] = targets
    for kind in KINDS:
        table = sm.params.tables["loss"][KINDS.index(kind)]
        for g in ("cross_entropy", "mse"):
            r = sel[kind][g]
            c = curve(data, table, r["run"])
            info[f"{kind}_{g}_lr"] = float(r["lr"])
            info[f"{kind}_{g}_epochs_to"] = [
                epochs_to_reach(c["epoch"], c["val_acc"], t) for t in targets
            ]
            info[f"{kind}_{g}_final_val_acc"] = float(r["val_acc"])
            info[f"{kind}_{g}_test_acc"] = _f(r["test_acc"])
    g = output_gradients()
    info.update(g)
    info["uniform_grad_ratio_ce_over_mse"] = g["uniform_ce_grad_norm"] / g["uniform_mse_grad_norm"]
    info["wrong_grad_ratio_ce_over_mse"] = (
        g["confident_wrong_ce_grad_norm"] / g["confident_wrong_mse_grad_norm"]
    )
    ce_faster = {
        k: (info[f"{k}_cross_entropy_final_val_acc"] > info[f"{k}_mse_final_val_acc"])
        for k in KINDS
    }
    info["ce_ahead_faithful"] = bool(ce_faster["faithful"])
    info["ce_ahead_tuned"] = bool(ce_faster["tuned"])

    def ep(kind, g, i):
        v = info[f"{kind}_{g}_epochs_to"][i]
        return "never" if v is None else f"{v}"

    info["finding"] = (
        f"The gradient reaching the scores is the difference: cross-entropy's is p - onehot(y); MSE "
        f"on the softmax output multiplies (p - t) by the softmax Jacobian diag(p) - pp^T. At a "
        f"uniform softmax (where training starts) that makes the MSE gradient "
        f"{info['uniform_grad_ratio_ce_over_mse']:.1f}x smaller (norm {g['uniform_mse_grad_norm']:.3f} vs "
        f"{g['uniform_ce_grad_norm']:.3f}), and on a confidently wrong example (p_correct "
        f"{g['confident_wrong_p_correct']:.2f}) {info['wrong_grad_ratio_ce_over_mse']:.0f}x smaller: "
        f"MSE learns least from the examples it gets most wrong. Faithful runs (lr 1e-5, summed): "
        f"cross-entropy passes {', '.join(f'{t:.0%}' for t in targets)} val accuracy after "
        f"{', '.join(ep('faithful', 'cross_entropy', i) for i in range(len(targets)))} epochs, MSE after "
        f"{', '.join(ep('faithful', 'mse', i) for i in range(len(targets)))}; final val "
        f"{_pct(info['faithful_cross_entropy_final_val_acc'])} vs {_pct(info['faithful_mse_final_val_acc'])}. "
        f"With the lr tuned on val for each (CE {info['tuned_cross_entropy_lr']:g}, MSE "
        f"{info['tuned_mse_lr']:g}) CE ends at {_pct(info['tuned_cross_entropy_final_val_acc'])} vs "
        f"{_pct(info['tuned_mse_final_val_acc'])}"
        f"{'' if ce_faster['tuned'] else ' (a larger lr closes the gap here)'}."
    )

    fig, _ = _val_and_loss_curves(
        sm,
        data,
        sel,
        "loss",
        ("cross_entropy", "mse"),
        "iteration",
        "training loss per example (each its own loss)",
        "mnist-2: cross-entropy vs MSE on the softmax output",
    )
    finish(sm, info, fig)


# --------------------------------------------------------------------------- mnist-3
def mnist_3(sm, log, info):
    data, joined = load(sm)
    j = joined["activation"]
    sel = selected(sm, data, "activation")
    hist = histories(sm)
    acts = ["relu", "leaky_relu", "tanh", "sigmoid"]
    info["activations"] = acts
    e_last = int(j["epochs"].max())
    for a in acts:
        r = sel["faithful"][a]
        with np.load(hist[r["run"]]) as h:
            for p in ("init", "final"):
                for k in ("frac_saturated", "mean", "std"):
                    if f"{p}_{k}" in h.files:
                        info[f"{a}_{p}_{k}"] = float(h[f"{p}_{k}"][0])
        for kind in KINDS:
            for e in sorted({int(v) for v in j["epochs"]}):
                info[f"{kind}_{a}_test_acc_{e}"] = joined_value(j, a, e, f"{kind}_test_acc")
        info[f"writeup_{a}_test_acc_{e_last}"] = joined_value(j, a, e_last, "writeup_test_acc")
        info[f"tuned_{a}_lr"] = float(sel["tuned"][a]["lr"])
    x = np.linspace(-6, 6, 1201)
    s, cs = sigmoid_forward(x)
    t, ct = tanh_forward(x)
    info["sigmoid_max_local_grad"] = float(sigmoid_backward(np.ones_like(x), cs).max())
    info["tanh_max_local_grad"] = float(tanh_backward(np.ones_like(x), ct).max())
    others = [a for a in acts if a != "sigmoid"]
    gap = {
        k: min(info[f"{k}_{a}_test_acc_{e_last}"] or 0 for a in others)
        - (info[f"{k}_sigmoid_test_acc_{e_last}"] or 0)
        for k in KINDS
    }
    info["faithful_sigmoid_gap_to_worst_other"] = gap["faithful"]
    info["tuned_sigmoid_gap_to_worst_other"] = gap["tuned"]
    info["sigmoid_last_faithful"] = bool(gap["faithful"] > 0)
    others_txt = ", ".join(
        a + " " + _pct(info["faithful_" + a + "_test_acc_" + str(e_last)]) for a in others
    )
    sat_sig = info.get("sigmoid_final_frac_saturated", float("nan"))
    sat_tanh = info.get("tanh_final_frac_saturated", float("nan"))
    info["sigmoid_more_saturated_than_tanh"] = bool(sat_sig > sat_tanh)
    info["finding"] = (
        f"After {e_last} epochs at the write-up's settings sigmoid reaches "
        f"{_pct(info[f'faithful_sigmoid_test_acc_{e_last}'])} test accuracy, "
        f"{100 * gap['faithful']:.1f} points behind the worst of ReLU/leaky ReLU/tanh "
        f"({others_txt}). "
        + (
            "Saturation is not the main cause here: with 0.01-scaled weights the pre-activations stay "
            "small, and "
            if sat_sig < 0.1
            else "Saturation contributes: "
        )
        + f"{100 * info.get('sigmoid_init_frac_saturated', float('nan')):.1f}% of the sigmoid "
        f"outputs are saturated (<0.01 or >0.99) at init, "
        f"{100 * sat_sig:.1f}% after training (tanh: {100 * sat_tanh:.1f}%, |t|>0.99; ReLU outputs at 0: "
        f"{100 * info.get('relu_final_frac_saturated', float('nan')):.1f}%). What slows sigmoid is its "
        f"slope and offset: its local gradient is at most {info['sigmoid_max_local_grad']:.2f} (tanh "
        f"{info['tanh_max_local_grad']:.2f}, ReLU 1), so every backward pass through it is at least "
        f"4x weaker, and its outputs are all positive (mean {info.get('sigmoid_final_mean', float('nan')):.2f}"
        f" vs tanh {info.get('tanh_final_mean', float('nan')):.2f}), so the next layer's weight "
        f"gradients share one sign per unit and zig-zag. At a tiny fixed lr that is directly fewer "
        f"epochs' worth of progress; with the lr tuned per activation (sigmoid "
        f"{info['tuned_sigmoid_lr']:g}) the gap is {100 * gap['tuned']:.1f} points."
    )

    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    pos = np.arange(len(acts))
    for i, p in enumerate(("init", "final")):
        axes[0].bar(
            pos + (i - 0.5) * 0.4,
            [info.get(f"{a}_{p}_frac_saturated", 0.0) for a in acts],
            0.4,
            label=f"{p}",
        )
    axes[0].set_xticks(pos, acts)
    axes[0].set_ylabel(
        "fraction of hidden outputs saturated\n(sigmoid <.01/>.99, tanh |t|>.99, relu <= 0)"
    )
    axes[0].legend(fontsize=7)
    for ai, a in enumerate(acts):
        for ki, kind in enumerate(KINDS):
            table = sm.params.tables["activation"][ki]
            c = curve(data, table, sel[kind][a]["run"])
            axes[1].plot(
                c["epoch"],
                c["val_acc"],
                "-" if kind == "faithful" else "--",
                color=f"C{ai}",
                label=f"{a}, {kind}",
            )
    axes[1].set_xlabel("epoch")
    axes[1].set_ylabel("validation accuracy")
    axes[1].legend(fontsize=6, ncol=2)
    fig.suptitle("mnist-3: activations (faithful -, tuned --)", fontsize=9)
    fig.tight_layout()
    finish(sm, info, fig)


# --------------------------------------------------------------------------- mnist-4
def mnist_4(sm, log, info):
    data, joined = load(sm)
    sel = selected(sm, data, "batching")
    target = float(sm.params.settings["target_acc"])
    timing = {}
    for p in sm.input.timing:
        with open(p, encoding="utf-8") as fh:
            t = json.load(fh)
        timing[t["run"]] = np.asarray(t["epoch_elapsed_s"], dtype=float)
    info["target_acc"] = target
    groups = ["BGD", "MBGD", "SGD"]
    info["methods"] = groups
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8), sharey=True)
    for ki, kind in enumerate(KINDS):
        table = sm.params.tables["batching"][ki]
        curves = {}
        for g in groups:
            r = sel[kind][g]
            c = curve(data, table, r["run"])
            el = timing[r["run"]][: len(c)]
            curves[g] = (el, c["val_acc"].to_numpy()[: len(el)])
            info[f"{kind}_{g}_lr"] = float(r["lr"])
            info[f"{kind}_{g}_total_time_s"] = float(el[-1])
            info[f"{kind}_{g}_updates"] = int(r["iterations_run"])
            info[f"{kind}_{g}_final_val_acc"] = float(r["val_acc"])
            info[f"{kind}_{g}_test_acc"] = _f(r["test_acc"])
            hit = np.nonzero(curves[g][1] >= target)[0]
            info[f"{kind}_{g}_time_to_target_s"] = float(el[hit[0]]) if len(hit) else None
            axes[ki].plot(el, curves[g][1], "-o", ms=2.5, label=f"{g} (lr {r['lr']:g})")
        budget = min(info[f"{kind}_{g}_total_time_s"] for g in groups)
        info[f"{kind}_common_budget_s"] = budget
        for g in groups:
            info[f"{kind}_{g}_val_at_budget"] = _f(value_at_time(*curves[g], budget))
        best = max(groups, key=lambda g: info[f"{kind}_{g}_val_at_budget"] or -1)
        info[f"{kind}_furthest_at_budget"] = best
        reach = [g for g in groups if info[f"{kind}_{g}_time_to_target_s"] is not None]
        info[f"{kind}_fastest_to_target"] = (
            min(reach, key=lambda g: info[f"{kind}_{g}_time_to_target_s"]) if reach else None
        )
        axes[ki].axvline(budget, color="0.6", ls=":", lw=0.8)
        axes[ki].set_xscale("log")
        axes[ki].set_xlabel("wall time (s)")
        axes[ki].set_title(f"{kind}", fontsize=9)
        axes[ki].legend(fontsize=7, loc="lower right")
    axes[0].set_ylabel("validation accuracy")

    def t2(kind, g):
        v = info[f"{kind}_{g}_time_to_target_s"]
        return "never" if v is None else f"{v:.1f} s"

    k = "faithful"
    info["finding"] = (
        f"Faithful settings: within {info[f'{k}_common_budget_s']:.1f} s (the shortest of the three "
        f"runs) BGD reaches {_pct(info[f'{k}_BGD_val_at_budget'])} val accuracy, MBGD "
        f"{_pct(info[f'{k}_MBGD_val_at_budget'])}, SGD {_pct(info[f'{k}_SGD_val_at_budget'])}: "
        f"{info[f'{k}_furthest_at_budget']} gets furthest. Time to {target:.0%} val: BGD {t2(k, 'BGD')}, "
        f"MBGD {t2(k, 'MBGD')}, SGD {t2(k, 'SGD')}. Updates per second decide it: BGD makes one update "
        f"per epoch ({info[f'{k}_BGD_updates']} in all, "
        f"{info[f'{k}_BGD_updates'] / info[f'{k}_BGD_total_time_s']:.2g}/s), MBGD "
        f"{info[f'{k}_MBGD_updates']} ({info[f'{k}_MBGD_updates'] / info[f'{k}_MBGD_total_time_s']:.2g}/s) "
        f"at nearly the same GEMM cost per epoch, SGD one per example ({info[f'{k}_SGD_updates']:,}, "
        f"{info[f'{k}_SGD_updates'] / info[f'{k}_SGD_total_time_s']:.3g}/s): each SGD step is noisy "
        f"and matrix-vector work is far less efficient per example than matrix-matrix, but "
        + (
            "so many more steps get it there first. "
            if info[f"{k}_furthest_at_budget"] == "SGD"
            else f"here {info[f'{k}_furthest_at_budget']} still gets further. "
        )
        + f"With mean gradients and tuned lrs the furthest at {info['tuned_common_budget_s']:.1f} s is "
        f"{info['tuned_furthest_at_budget']} and the fastest to {target:.0%} is "
        f"{info['tuned_fastest_to_target'] or 'none'}."
    )
    fig.suptitle("mnist-4: validation accuracy vs wall time (dotted: common budget)", fontsize=9)
    fig.tight_layout()
    finish(sm, info, fig)


# --------------------------------------------------------------------------- mnist-5
def mnist_5(sm, log, info):
    data, joined = load(sm)
    j = joined["optimizers"]
    opts = list(j["variant"])
    info["optimizers"] = opts
    for _, r in j.iterrows():
        v = r["variant"]
        for col in (
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
        ):
            info[f"{v}_{col}"] = _f(r[col]) if pd.notna(r[col]) else None
    frs = data[sm.params.tables["optimizers"][0]][0]
    mom = frs[frs["variant"] == "Momentum"].iloc[0]
    plain = frs[frs["variant"] == "none"].iloc[0]
    b = int(plain["batch_size"])
    info["momentum_effective_mean_lr"] = float(mom["lr"]) * b / (1 - float(mom["momentum"]))
    info["plain_mean_lr"] = float(plain["lr"]) * b
    for kind in KINDS:
        base = info[f"none_{kind}_test_acc"] or 0
        for v in ("Momentum", "Adagrad", "RMSprop", "Adam"):
            x = info.get(f"{v}_{kind}_test_acc")
            info[f"{kind}_{v}_beats_plain"] = bool(x is not None and x > base)
    info["finding"] = (
        f"Momentum: the write-up used lr 1e-5, 10x below plain MBGD's 1e-4, and momentum 0.9 "
        f"multiplies a steady step by 1/(1-0.9) = 10, so its effective step "
        f"({info['momentum_effective_mean_lr']:.3g} in mean-gradient units) equals plain MBGD's "
        f"({info['plain_mean_lr']:.3g}): "
        f"{'the same step, so no gain' if abs(info['momentum_effective_mean_lr'] - info['plain_mean_lr']) <= 0.05 * info['plain_mean_lr'] else 'a different step'} (faithful test "
        f"{_pct(info['Momentum_faithful_test_acc'])} vs plain {_pct(info['none_faithful_test_acc'])}; "
        f"write-up {_pct(info['Momentum_writeup_test_acc'])} vs {_pct(info['none_writeup_test_acc'])}). "
        f"Adagrad divides by the root of the SUM of all squared gradients, so its step keeps shrinking "
        f"over the {int(mom['iterations_run'])} updates (faithful {_pct(info['Adagrad_faithful_test_acc'])}, "
        f"beats plain: {info['faithful_Adagrad_beats_plain']}); RMSProp divides by a decaying average "
        f"(decay 0.999) and keeps a usable step (faithful {_pct(info['RMSprop_faithful_test_acc'])}, beats "
        f"plain: {info['faithful_RMSprop_beats_plain']}). The adaptive rules are invariant to the gradient's scale, "
        f"so summing instead of averaging does not change them, while plain/momentum steps scale with the "
        f"batch size. With each rule's lr tuned on val (mean gradients): momentum "
        f"{_pct(info['Momentum_tuned_test_acc'])} (lr {info['Momentum_tuned_lr']}), Adagrad "
        f"{_pct(info['Adagrad_tuned_test_acc'])} (lr {info['Adagrad_tuned_lr']}), RMSProp "
        f"{_pct(info['RMSprop_tuned_test_acc'])}, Adam without bias correction "
        f"{_pct(info['Adam_tuned_test_acc'])}, plain {_pct(info['none_tuned_test_acc'])}: beats plain — "
        + ", ".join(
            f"{v} {info[f'tuned_{v}_beats_plain']}"
            for v in ("Momentum", "Adagrad", "RMSprop", "Adam")
        )
        + (
            ". The ranking changes with tuned lrs: the write-up's reflects its lrs as much as the rules."
            if any(
                info[f"tuned_{v}_beats_plain"] != info[f"faithful_{v}_beats_plain"]
                for v in ("Momentum", "Adagrad", "RMSprop", "Adam")
            )
            else ". The ranking is the same with tuned lrs."
        )
    )
    # The write-up's Adam row vs the rule at its stated lr and at a 10x step (diagnostic run)
    x10 = info.get("Adam 10x step_faithful_test_acc")
    if x10 is not None:
        x10_train = info.get("Adam 10x step_faithful_train_acc")
        adam = frs[frs["variant"] == "Adam"].iloc[0]
        b1, lr = float(adam["beta1"]), float(adam["lr"])
        lr_big = float(frs[frs["variant"] == "Adam 10x step"].iloc[0]["lr"])
        # m <- b1*m + g is the moving average / (1 - b1): the same steps at lr / (1 - b1)
        undamped = (
            f" — identical to accumulating the first moment as m <- {b1:g} m + g, without "
            f"the (1 - {b1:g}) factor, at lr {lr:g}"
            if math.isclose(lr_big / lr, 1 / (1 - b1))
            else ""
        )
        info["adam_gap_stated_lr"] = info["Adam_writeup_test_acc"] - info["Adam_faithful_test_acc"]
        info["adam_gap_10x_step"] = info["Adam_writeup_test_acc"] - x10
        info["adam_10x_explains_gap"] = bool(abs(info["adam_gap_10x_step"]) <= 0.01)
        info["finding"] += (
            f" Adam without bias correction at the write-up's lr {lr:g} reaches "
            f"{_pct(info['Adam_faithful_test_acc'])} test ({_pct(info['Adam_faithful_train_acc'])} train) "
            f"against its {_pct(info['Adam_writeup_test_acc'])} ({_pct(info['Adam_writeup_train_acc'])}); "
            f"the same rule with a {lr_big / lr:g}x step (lr {lr_big:g}{undamped}) reaches {_pct(x10)} "
            f"test ({_pct(x10_train)} train): "
            + (
                "within 1 point of the write-up: its Adam row is consistent with steps 10x larger than "
                "its stated settings give (we cannot see its code to say which)."
                if info["adam_10x_explains_gap"]
                else "still more than 1 point from the write-up, so a 10x step alone does not explain it."
            )
        )
    fig, ax = plt.subplots(figsize=(9, 3.8))
    pos = np.arange(len(opts))
    for i, (col, lab) in enumerate(
        (
            ("writeup_test_acc", "write-up"),
            ("faithful_test_acc", "faithful"),
            ("tuned_test_acc", "tuned"),
        )
    ):
        vals = [info.get(f"{v}_{col}") or 0 for v in opts]
        ax.bar(pos + (i - 1) * 0.27, vals, 0.27, label=lab)
    ax.set_xticks(pos, opts, fontsize=8)
    ax.set_ylim(0.8, 1.0)
    ax.set_ylabel("test accuracy (MBGD 6,000, 100 epochs)")
    ax.legend(fontsize=7)
    ax.set_title("mnist-5: update rules at the write-up's and at tuned lrs", fontsize=9)
    fig.tight_layout()
    finish(sm, info, fig)


# --------------------------------------------------------------------------- mnist-6
def mnist_6(sm, log, info):
    data, joined = load(sm)
    j = joined["regularization"]
    s = sm.params.settings
    tol = float(s["zero_tol"])
    info["zero_tol"] = tol
    params = {Path(p).parent.name: p for p in sm.input.params}
    groups = list(j["variant"])
    info["variants"] = groups
    weights = {}
    for _, r in j.iterrows():
        g = r["variant"]
        run = r["faithful_run"]
        with np.load(params[run]) as z:
            W = np.concatenate([z[k].ravel() for k in sorted(z.files) if k.startswith("W")])
        weights[g] = W
        sp = weight_sparsity(W, tol)
        info[f"{g}_reg"] = _f(r["faithful_reg"])
        info[f"{g}_frac_near_zero"] = sp["frac_near_zero"]
        info[f"{g}_l1_norm"] = sp["l1"]
        info[f"{g}_l2_norm"] = sp["l2"]
        for kind in KINDS:
            tr, te = _f(r[f"{kind}_train_acc"]), _f(r[f"{kind}_test_acc"])
            info[f"{g}_{kind}_train_acc"] = tr
            info[f"{g}_{kind}_test_acc"] = te
            info[f"{g}_{kind}_gap"] = None if tr is None or te is None else tr - te
        info[f"{g}_writeup_train_acc"] = _f(r["writeup_train_acc"])
        info[f"{g}_writeup_test_acc"] = _f(r["writeup_test_acc"])
    parts = []
    for opt in ("Adagrad", "RMSprop"):
        n, l1, l2 = f"none+{opt}", f"L1+{opt}", f"L2+{opt}"
        for reg in (l1, l2):
            info[f"{reg}_gap_change"] = (
                info[f"{reg}_faithful_gap"] - info[f"{n}_faithful_gap"]
                if info[f"{reg}_faithful_gap"] is not None
                else None
            )
            info[f"{reg}_test_change"] = (
                info[f"{reg}_faithful_test_acc"] - info[f"{n}_faithful_test_acc"]
            )
            info[f"{reg}_sparser"] = bool(
                info[f"{reg}_frac_near_zero"] > info[f"{n}_frac_near_zero"]
            )
        parts.append(
            f"with {opt}: train/test {_pct(info[f'{n}_faithful_train_acc'])}/{_pct(info[f'{n}_faithful_test_acc'])} "
            f"without a penalty, {_pct(info[f'{l1}_faithful_train_acc'])}/{_pct(info[f'{l1}_faithful_test_acc'])} "
            f"with L1 (reg {info[f'{l1}_reg']:g}; gap {100 * info[f'{l1}_gap_change']:+.2f} points, "
            f"{100 * info[f'{l1}_frac_near_zero']:.1f}% of the weights below {tol:g} vs "
            f"{100 * info[f'{n}_frac_near_zero']:.1f}%), {_pct(info[f'{l2}_faithful_train_acc'])}/"
            f"{_pct(info[f'{l2}_faithful_test_acc'])} with L2 (reg {info[f'{l2}_reg']:g}; gap "
            f"{100 * info[f'{l2}_gap_change']:+.2f} points, weight L2 norm {info[f'{l2}_l2_norm']:.1f} vs "
            f"{info[f'{n}_l2_norm']:.1f})"
        )
    changes = [info[f"{k}+{o}_gap_change"] for k in ("L1", "L2") for o in ("Adagrad", "RMSprop")]
    tests = [info[f"{k}+{o}_test_change"] for k in ("L1", "L2") for o in ("Adagrad", "RMSprop")]
    info["gap_shrinks_count"] = int(sum(c is not None and c < 0 for c in changes))
    info["l1_sparser_count"] = int(sum(info[f"L1+{o}_sparser"] for o in ("Adagrad", "RMSprop")))
    info["max_abs_test_change"] = float(max(abs(t) for t in tests))
    info["finding"] = (
        "Penalties (reg chosen on val; L2 loss reg/2 sum W^2, gradient reg W; L1 loss reg sum|W|, "
        "gradient reg sign(W)): " + "; ".join(parts) + f". The train-test gap shrinks in "
        f"{info['gap_shrinks_count']} of the 4 regularised runs (a penalty costs training accuracy "
        f"first); L1 makes the weights sparser than no penalty in {info['l1_sparser_count']} of 2 "
        f"(it pushes every weight toward 0 by a constant step, so weights of uninformative inputs such "
        f"as the always-black border pixels stay at 0), while L2 shrinks weights in proportion to their "
        f"size. Test accuracy moves by at most {100 * info['max_abs_test_change']:.2f} points."
    )
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for ai, opt in enumerate(("Adagrad", "RMSprop")):
        allw = np.concatenate([weights[f"{k}+{opt}"] for k in ("none", "L1", "L2")])
        lim = float(np.quantile(np.abs(allw), 0.999)) or 1.0
        bins = np.linspace(-lim, lim, int(s["bins"]) + 1)
        for i, k in enumerate(("none", "L1", "L2")):
            axes[ai].hist(
                weights[f"{k}+{opt}"],
                bins=bins,
                histtype="step",
                color=f"C{i}",
                label=f"{k} ({100 * info[f'{k}+{opt}_frac_near_zero']:.0f}% |w|<{tol:g})",
            )
        axes[ai].set_yscale("log")
        axes[ai].set_xlabel("weight value (all layers)")
        axes[ai].set_ylabel("count")
        axes[ai].set_title(f"{opt}, faithful", fontsize=9)
        axes[ai].legend(fontsize=7)
    fig.suptitle("mnist-6: weight histograms with no / L1 / L2 penalty", fontsize=9)
    fig.tight_layout()
    finish(sm, info, fig)


def main(sm, log):
    qid = sm.params.qid
    info = {"id": qid, "question": QUESTIONS[qid], "source": SOURCE}
    {
        "mnist-1": mnist_1,
        "mnist-2": mnist_2,
        "mnist-3": mnist_3,
        "mnist-4": mnist_4,
        "mnist-5": mnist_5,
        "mnist-6": mnist_6,
    }[qid](sm, log, info)
    log.info("%s: %s", qid, info["finding"])


run_job(snakemake, main)
