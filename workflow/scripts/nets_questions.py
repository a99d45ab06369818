"""Evidence for the net questions (one rule each: question_twolayer_1, ..., question_dropout_2).

Each writes results/questions/<id>.json (flat numbers, booleans, strings, lists; "id",
"source", "figures" relative to results/, and a "finding" built from the numbers) and the
figure results/figures/questions/<id>.<fmt>. Every number is computed here from this run's
tables, histories, parameters or data."""

import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from nplab.diagnostics import (
    PREPROCESSING,
    axis_statistics,
    dropout_train_test_means,
    local_gradients,
    near_zero_ranges,
    preprocess_for_question,
)
from nplab.layers import batchnorm_forward, layernorm_forward
from nplab_io.atomic import write_json_atomic
from nplab_io.figures import save_figure
from nplab_io.jobs import run_job

SOURCES = {
    "twolayer-1": "CS231n two_layer_net.ipynb, inline question 1",
    "twolayer-2": "CS231n two_layer_net.ipynb, inline question 2",
    "fcnet-1": "CS231n FullyConnectedNets.ipynb, inline question 1",
    "fcnet-2": "CS231n FullyConnectedNets.ipynb, inline question 2",
    "bn-1": "CS231n BatchNormalization.ipynb, inline question 1",
    "bn-2": "CS231n BatchNormalization.ipynb, inline question 2",
    "bn-3": "CS231n BatchNormalization.ipynb, inline question 3",
    "bn-4": "CS231n BatchNormalization.ipynb, inline question 4",
    "dropout-1": "CS231n Dropout.ipynb, inline question 1",
    "dropout-2": "CS231n Dropout.ipynb, inline question 2",
}
CHANCE = 0.1  # ten CIFAR-10 classes


# --------------------------------------------------------------------------- helpers
def _rel(path):
    p = str(path)
    return p.split("results/", 1)[1] if "results/" in p else p


def _read_json(path):
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def load_tables(sm, tables):
    """{table: (runs, curves, loss)} from input.tables (3 files per table, in order)."""
    files = list(sm.input.tables)
    out = {}
    for i, t in enumerate(tables):
        runs, curves, loss = (pd.read_csv(f) for f in files[3 * i : 3 * i + 3])
        if runs.empty:
            raise ValueError(f"{files[3 * i]}: no runs")
        runs["diverged"] = runs["diverged"].astype(bool)
        runs["depth"] = [len(json.loads(h)) + 1 for h in runs["hidden_dims"]]
        runs["width"] = [json.loads(h)[0] if json.loads(h) else 0 for h in runs["hidden_dims"]]
        runs["gap"] = runs["train_acc"] - runs["val_acc"]
        out[t] = (runs, curves, loss)
    return out


def _pts(x):
    """An accuracy difference in percentage points."""
    return f"{100 * x:+.1f} points"


def _scale_range(scales):
    s = sorted(scales)
    if not s:
        return "none"
    return f"{s[0]:.3g}" if s[0] == s[-1] else f"{s[0]:.3g}-{s[-1]:.3g}"


def finish(sm, info, fig):
    info["figures"] = [_rel(f) for f in sm.output.fig if str(f).endswith(".png")]
    save_figure(fig, sm.output.fig)
    write_json_atomic(sm.output.json, info)


# --------------------------------------------------------------------------- twolayer-1
def twolayer_1(sm, log, info):
    s = sm.params.settings
    x = np.linspace(s["x_min"], s["x_max"], int(s["points"]))
    grads = local_gradients(x, alpha=s["alpha"])
    tol = float(s["tol"])
    info.update(
        {
            "x_min": s["x_min"],
            "x_max": s["x_max"],
            "points": int(s["points"]),
            "near_zero_tol": tol,
            "leaky_alpha": s["alpha"],
        }
    )
    for name, g in grads.items():
        rng_ = near_zero_ranges(x, g, tol)
        info[f"{name}_grad_min"] = float(g.min())
        info[f"{name}_grad_max"] = float(g.max())
        info[f"{name}_frac_near_zero"] = float(np.mean(np.abs(g) < tol))
        info[f"{name}_frac_exactly_zero"] = float(np.mean(g == 0))
        info[f"{name}_near_zero_ranges"] = [[a, b] for a, b in rng_]
    sig_small = np.abs(x)[np.abs(grads["sigmoid"]) < tol]
    info["sigmoid_saturates_beyond_abs_x"] = float(sig_small.min()) if len(sig_small) else None
    relu_zero = x[grads["relu"] == 0]
    info["relu_zero_for_x_at_most"] = float(relu_zero.max()) if len(relu_zero) else None

    # the trained nets: default run and the best twolayer_search run (record_stats)
    best = _read_json(sm.input.best)
    runs = sm.params.runs
    hist_paths = {Path(p).parent.name: p for p in sm.input.history}  # results/runs/<run>/
    nets = {"default": runs["twolayer_default"][0]["run"], "best": best["run"]}
    stats = {}
    for label, run in nets.items():
        with np.load(hist_paths[run]) as h:
            if "final_frac_dead_units" not in h.files:
                raise ValueError(
                    f"{hist_paths[run]}: no activation statistics; set "
                    "record_stats: true in the two-layer tables"
                )
            st = {}
            for p in ("init", "final"):
                for k in ("frac_zero", "frac_dead_units", "mean"):
                    if f"{p}_{k}" in h.files:
                        st[f"{p}_{k}"] = float(h[f"{p}_{k}"][0])
        stats[label] = st
        for k, v in st.items():
            info[f"{label}_net_{k}"] = v
        info[f"{label}_net_run"] = run
    info["best_net_variant"] = best["variant"]
    info["best_net_val_acc"] = float(best["val_acc"])
    sat = info["sigmoid_saturates_beyond_abs_x"]
    info["finding"] = (
        f"Sigmoid's local gradient s(1-s) is at most {info['sigmoid_grad_max']:.2f} and drops "
        f"below {tol:g} for |x| > {sat:.1f} on both sides ({100 * info['sigmoid_frac_near_zero']:.0f}% "
        f"of the inputs in [{s['x_min']:g}, {s['x_max']:g}]): a saturated sigmoid passes almost "
        f"nothing back. ReLU passes exactly 0 for every x <= 0 "
        f"({100 * info['relu_frac_exactly_zero']:.0f}% of the range), so a unit whose input is "
        f"negative for every example is dead. Leaky ReLU never passes less than "
        f"alpha = {info['leaky_relu_grad_min']:g} (no near-zero region). In the trained two-layer "
        f"nets, {100 * stats['default'].get('final_frac_zero', 0):.0f}% of the hidden ReLU outputs "
        f"on the validation images are zero (gradient 0) and "
        f"{100 * stats['default'].get('final_frac_dead_units', 0):.1f}% of the units are dead in "
        f"the course's default run; {100 * stats['best'].get('final_frac_zero', 0):.0f}% zero "
        f"outputs and {100 * stats['best'].get('final_frac_dead_units', 0):.1f}% dead units in "
        f"the best searched net ({best['variant']})."
    )

    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.6))
    floor = 1e-6
    for i, (name, g) in enumerate(grads.items()):
        a1.plot(x, np.maximum(g, floor), color=f"C{i}", lw=2.2 - 0.5 * i, label=name)
    a1.axhline(tol, color="0.6", ls=":", lw=0.8, label=f"near zero (< {tol:g})")
    a1.set_yscale("log")
    a1.set_ylim(floor / 2, 2)
    a1.set_xlabel("input x")
    a1.set_ylabel(f"local gradient d act / dx (0 drawn at {floor:g})")
    a1.legend(fontsize=7, loc="lower right")
    a1.set_title("local gradients (core backward functions)", fontsize=9)
    labels, keys = [], []
    for label in ("default", "best"):
        for p in ("init", "final"):
            labels.append(f"{label}\n{p}")
            keys.append((label, p))
    zero = [stats[lb].get(f"{p}_frac_zero", 0.0) for lb, p in keys]
    dead = [stats[lb].get(f"{p}_frac_dead_units", 0.0) for lb, p in keys]
    pos = np.arange(len(labels))
    a2.bar(pos - 0.2, zero, 0.4, label="zero outputs (ReLU off)")
    a2.bar(pos + 0.2, dead, 0.4, label="dead units (off for every image)")
    a2.set_xticks(pos, labels, fontsize=7)
    a2.set_ylabel("fraction (validation images)")
    a2.set_ylim(0, 1)
    a2.legend(fontsize=7, loc="upper left")
    a2.set_title("trained two-layer nets", fontsize=9)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- twolayer-2
def _group_gap(runs, col):
    g = (
        runs.groupby(col, sort=True)
        .agg(
            gap=("gap", "mean"),
            val_acc=("val_acc", "mean"),
            train_acc=("train_acc", "mean"),
            best_val=("val_acc", "max"),
        )
        .reset_index()
    )
    return g


def _trend(first, last, what):
    if abs(last - first) < 0.005:
        return f"leaves the {what} about the same"
    return f"{'shrinks' if last < first else 'widens'} the {what}"


def twolayer_2(sm, log, info):
    tabs = load_tables(sm, ["twolayer_data_size", "twolayer_search"])
    ds = tabs["twolayer_data_size"][0].sort_values("num_train_used")
    se = tabs["twolayer_search"][0]
    info["data_size_num_train"] = [int(v) for v in ds["num_train_used"]]
    info["data_size_train_acc"] = [float(v) for v in ds["train_acc"]]
    info["data_size_val_acc"] = [float(v) for v in ds["val_acc"]]
    info["data_size_gap"] = [float(v) for v in ds["gap"]]
    se["hidden"] = se["width"]
    by_h = _group_gap(se, "hidden")
    by_r = _group_gap(se, "reg")
    info["hidden_sizes"] = [int(v) for v in by_h["hidden"]]
    info["hidden_mean_gap"] = [float(v) for v in by_h["gap"]]
    info["hidden_mean_val_acc"] = [float(v) for v in by_h["val_acc"]]
    info["hidden_best_val_acc"] = [float(v) for v in by_h["best_val"]]
    info["regs"] = [float(v) for v in by_r["reg"]]
    info["reg_mean_gap"] = [float(v) for v in by_r["gap"]]
    info["reg_mean_val_acc"] = [float(v) for v in by_r["val_acc"]]
    info["reg_best_val_acc"] = [float(v) for v in by_r["best_val"]]
    g0, g1 = info["data_size_gap"][0], info["data_size_gap"][-1]
    v0, v1 = info["data_size_val_acc"][0], info["data_size_val_acc"][-1]
    info["more_data_gap_change"] = g1 - g0
    info["more_data_val_change"] = v1 - v0
    info["more_hidden_gap_change"] = info["hidden_mean_gap"][-1] - info["hidden_mean_gap"][0]
    info["more_hidden_val_change"] = (
        info["hidden_mean_val_acc"][-1] - info["hidden_mean_val_acc"][0]
    )
    info["more_reg_gap_change"] = info["reg_mean_gap"][-1] - info["reg_mean_gap"][0]
    info["more_reg_val_change"] = info["reg_mean_val_acc"][-1] - info["reg_mean_val_acc"][0]
    helps = [
        name
        for name, key in (
            ("more data", "more_data"),
            ("more hidden units", "more_hidden"),
            ("stronger regularisation", "more_reg"),
        )
        if info[f"{key}_gap_change"] < -0.005
    ]
    info["reduces_gap"] = helps
    info["finding"] = (
        f"More training data {_trend(g0, g1, 'train-val gap')}: {info['data_size_num_train'][0]:,} "
        f"examples give a gap of {g0:.3f} (train {info['data_size_train_acc'][0]:.3f}, val {v0:.3f}), "
        f"{info['data_size_num_train'][-1]:,} give {g1:.3f} (val {v1:.3f}). In the search, "
        f"hidden {info['hidden_sizes'][0]} vs {info['hidden_sizes'][-1]} units: mean gap "
        f"{info['hidden_mean_gap'][0]:.3f} vs {info['hidden_mean_gap'][-1]:.3f}, mean val "
        f"{info['hidden_mean_val_acc'][0]:.3f} vs {info['hidden_mean_val_acc'][-1]:.3f} (more units "
        f"add capacity: {_trend(info['hidden_mean_gap'][0], info['hidden_mean_gap'][-1], 'gap')}); "
        f"reg {info['regs'][0]:g} vs {info['regs'][-1]:g}: mean gap {info['reg_mean_gap'][0]:.3f} vs "
        f"{info['reg_mean_gap'][-1]:.3f}, mean val {info['reg_mean_val_acc'][0]:.3f} vs "
        f"{info['reg_mean_val_acc'][-1]:.3f}. Here the gap shrinks with: "
        f"{', '.join(helps) if helps else 'none of the three'}."
    )

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.5))
    a = axes[0]
    a.plot(ds["num_train_used"], ds["train_acc"], "-o", label="train")
    a.plot(ds["num_train_used"], ds["val_acc"], "-s", label="val")
    a.plot(ds["num_train_used"], ds["gap"], "--^", color="C3", label="gap")
    a.set_xscale("log")
    a.set_xlabel("training examples")
    a.set_ylabel("accuracy / gap")
    a.legend(fontsize=7)
    a.set_title("twolayer_data_size", fontsize=9)
    for ax, df, col, lab in (
        (axes[1], by_h, "hidden", "hidden units"),
        (axes[2], by_r, "reg", "reg"),
    ):
        pos = np.arange(len(df))
        ax.bar(pos - 0.2, df["gap"], 0.4, color="C3", label="mean gap")
        ax.bar(pos + 0.2, df["val_acc"], 0.4, color="C1", label="mean val acc")
        ax.set_xticks(pos, [f"{v:g}" for v in df[col]])
        ax.set_ylim(0, 1.3 * float(max(df["gap"].max(), df["val_acc"].max())))
        ax.set_xlabel(lab)
        ax.legend(fontsize=7)
        ax.set_title("twolayer_search, mean over the other settings", fontsize=9)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- fcnet-1
def fcnet_1(sm, log, info):
    runs = load_tables(sm, ["fc_init_scale"])["fc_init_scale"][0]
    scales = sorted(runs["weight_scale"].unique())
    info["weight_scales"] = [float(s) for s in scales]
    info["num_train"] = int(runs["num_train_used"].iloc[0])
    info["epochs"] = int(runs["epochs"].iloc[0])
    depths = sorted(runs["depth"].unique())
    info["depths"] = [int(d) for d in depths]
    parts = []
    for d in depths:
        sub = runs[runs["depth"] == d].sort_values("weight_scale")
        full = sub[(sub["train_acc"] >= 1.0) & ~sub["diverged"]]
        div = sub[sub["diverged"]]
        ok = sub[~sub["diverged"]]
        best = ok.loc[ok["train_acc"].idxmax()] if len(ok) else sub.iloc[0]
        k = f"depth{d}"
        info[f"{k}_train_acc"] = [float(v) for v in sub["train_acc"]]
        info[f"{k}_final_loss"] = [float(v) if pd.notna(v) else None for v in sub["final_loss"]]
        info[f"{k}_diverged"] = [bool(v) for v in sub["diverged"]]
        info[f"{k}_num_reach_100"] = int(len(full))
        info[f"{k}_num_diverged"] = int(len(div))
        info[f"{k}_scales_reach_100"] = [float(v) for v in full["weight_scale"]]
        info[f"{k}_best_scale"] = float(best["weight_scale"])
        info[f"{k}_best_train_acc"] = float(best["train_acc"])
        info[f"{k}_best_range"] = (
            _scale_range(full["weight_scale"])
            if len(full)
            else f"{best['weight_scale']:.3g} (best, {best['train_acc']:.2f} train acc)"
        )
        info[f"{k}_num_above_half"] = int(((sub["train_acc"] >= 0.5) & ~sub["diverged"]).sum())
        parts.append(
            f"the {d}-layer net reaches 100% train accuracy at {len(full)} of "
            f"{len(sub)} scales ({info[f'{k}_best_range']}) and diverges at {len(div)}"
        )
    d0, d1 = depths[0], depths[-1]
    n0, n1 = info[f"depth{d0}_num_reach_100"], info[f"depth{d1}_num_reach_100"]
    info["deeper_is_more_sensitive"] = bool(
        n1 < n0 or (n1 == n0 and info[f"depth{d1}_num_diverged"] > info[f"depth{d0}_num_diverged"])
    )
    info["finding"] = (
        f"Overfitting {info['num_train']} examples for {info['epochs']} epochs over "
        f"{len(scales)} init scales: "
        + "; ".join(parts)
        + ". "
        + (
            f"The {d1}-layer net is the more sensitive one: its working range of scales is "
            f"narrower, because the signal is multiplied by one more weight matrix per layer, so a "
            f"scale slightly too small makes activations and gradients vanish and slightly too large "
            f"makes them explode."
            if info["deeper_is_more_sensitive"]
            else f"Here the {d1}-layer net is not more sensitive than the {d0}-layer one."
        )
    )

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for i, d in enumerate(depths):
        sub = runs[runs["depth"] == d].sort_values("weight_scale")
        axes[0].plot(sub["weight_scale"], sub["train_acc"], "-o", color=f"C{i}", label=f"{d}-layer")
        axes[1].plot(
            sub["weight_scale"], sub["final_loss"], "-o", color=f"C{i}", label=f"{d}-layer"
        )
        dv = sub[sub["diverged"]]
        if len(dv):
            axes[0].scatter(
                dv["weight_scale"],
                dv["train_acc"],
                marker="x",
                s=70,
                color="k",
                zorder=5,
                label="diverged" if i == 0 else None,
            )
    axes[0].axhline(1.0, color="0.6", ls=":", lw=0.8)
    for ax, yl in zip(axes, ["final train accuracy", "final training loss"]):
        ax.set_xscale("log")
        ax.set_xlabel("weight scale")
        ax.set_ylabel(yl)
        ax.legend(fontsize=7)
    axes[1].set_yscale("log")
    fig.suptitle(
        f"fcnet-1: 3- vs 5-layer nets on {info['num_train']} examples (x = diverged)", fontsize=9
    )
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- fcnet-2
def fcnet_2(sm, log, info):
    steps = pd.read_csv(sm.input.steps)
    runs = load_tables(sm, ["fc_optimizers"])["fc_optimizers"][0]
    allw = steps[steps["param"] == "all"]
    opts = [o for o in ("adagrad", "adam") if o in set(allw["optimizer"])]
    if len(opts) < 2:
        raise ValueError(
            f"{sm.input.steps}: needs adagrad and adam rows, got {sorted(set(allw['optimizer']))}"
        )
    for o in opts:
        s = allw[allw["optimizer"] == o].sort_values("iteration")
        n = len(s)
        k = max(1, n // 10)
        info[f"{o}_iterations"] = int(n)
        info[f"{o}_lr"] = float(s["lr"].iloc[0])
        info[f"{o}_eff_lr_first"] = float(s["eff_lr_median"].iloc[0])
        info[f"{o}_eff_lr_last"] = float(s["eff_lr_median"].iloc[-1])
        info[f"{o}_eff_lr_ratio"] = info[f"{o}_eff_lr_last"] / info[f"{o}_eff_lr_first"]
        info[f"{o}_rel_update_first10pct"] = float(s["rel_update"].iloc[:k].mean())
        info[f"{o}_rel_update_last10pct"] = float(s["rel_update"].iloc[-k:].mean())
        info[f"{o}_rel_update_ratio"] = (
            info[f"{o}_rel_update_last10pct"] / info[f"{o}_rel_update_first10pct"]
        )
        info[f"{o}_eff_lr_monotone_decreasing"] = bool(np.all(np.diff(s["eff_lr_median"]) <= 0))
        info[f"{o}_loss_last10pct"] = float(s["loss"].iloc[-k:].mean())
        r = runs[runs["variant"] == o]
        if len(r):
            info[f"{o}_table_train_acc"] = float(r["train_acc"].iloc[0])
            info[f"{o}_table_val_acc"] = float(r["val_acc"].iloc[0])
    a, m = "adagrad", "adam"
    info["finding"] = (
        f"AdaGrad adds every squared gradient to its cache, so its per-coordinate learning rate "
        f"lr/(sqrt(cache)+eps) can only shrink: over {info[f'{a}_iterations']} iterations of the "
        f"fc_optimizers setting its median fell from {info[f'{a}_eff_lr_first']:.3g} to "
        f"{info[f'{a}_eff_lr_last']:.3g} (x{info[f'{a}_eff_lr_ratio']:.2f}), and its relative "
        f"update |dW|/|W| from {info[f'{a}_rel_update_first10pct']:.2e} (first 10% of the "
        f"iterations) to {info[f'{a}_rel_update_last10pct']:.2e} (last 10%). Adam's second "
        f"moment is a decaying average, not a sum, so its step does not decay with the number of "
        f"steps: its median lr/(sqrt(v_hat)+eps) went from {info[f'{m}_eff_lr_first']:.3g} to "
        f"{info[f'{m}_eff_lr_last']:.3g} (x{info[f'{m}_eff_lr_ratio']:.2f}) and its relative "
        f"update from {info[f'{m}_rel_update_first10pct']:.2e} to "
        f"{info[f'{m}_rel_update_last10pct']:.2e}."
        + (
            f" In the table Adam ends at val {info[f'{m}_table_val_acc']:.3f} vs AdaGrad "
            f"{info[f'{a}_table_val_acc']:.3f}."
            if f"{m}_table_val_acc" in info and f"{a}_table_val_acc" in info
            else ""
        )
    )

    fig, axes = plt.subplots(1, 3, figsize=(14, 3.5))
    for i, o in enumerate(opts):
        s = allw[allw["optimizer"] == o].sort_values("iteration")
        axes[0].plot(s["iteration"], s["eff_lr_median"] / s["lr"], color=f"C{i}", label=o)
        axes[1].plot(s["iteration"], s["rel_update"], color=f"C{i}", lw=0.8, label=o)
        axes[2].plot(s["iteration"], s["loss"], color=f"C{i}", lw=0.8, label=o)
    axes[0].set_ylabel("median lr multiplier 1/(sqrt(cache)+eps)")
    axes[1].set_ylabel("|dW| / |W| (all weights)")
    axes[2].set_ylabel("training loss")
    for ax in axes:
        ax.set_xlabel("iteration")
        ax.legend(fontsize=7)
    axes[0].set_yscale("log")
    axes[1].set_yscale("log")
    fig.suptitle("fcnet-2: effective step size of AdaGrad vs Adam", fontsize=9)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- bn-1
def bn_1(sm, log, info):
    runs = load_tables(sm, ["bn_init_scale"])["bn_init_scale"][0]
    frac = float(sm.params.settings["trains_fraction"])
    ok = runs[~runs["diverged"]]
    top = float(ok["train_acc"].max()) if len(ok) else CHANCE
    thr = CHANCE + frac * (top - CHANCE)
    info["trains_threshold_train_acc"] = thr
    info["trains_rule"] = (
        f"final train accuracy >= chance + {frac:g} x (best train accuracy of "
        f"the sweep - chance) = {thr:.3f}, and not diverged"
    )
    info["weight_scales"] = [float(s) for s in sorted(runs["weight_scale"].unique())]
    parts = {}
    for n, sub in runs.groupby("normalization", sort=True):
        sub = sub.sort_values("weight_scale")
        trains = sub[(sub["train_acc"] >= thr) & ~sub["diverged"]]
        good = sub[~sub["diverged"]]
        b = good.loc[good["val_acc"].idxmax()] if len(good) else sub.iloc[0]
        info[f"{n}_num_scales"] = int(len(sub))
        info[f"{n}_num_trains"] = int(len(trains))
        info[f"{n}_trains_min_scale"] = float(trains["weight_scale"].min()) if len(trains) else None
        info[f"{n}_trains_max_scale"] = float(trains["weight_scale"].max()) if len(trains) else None
        info[f"{n}_trains_decades"] = (
            float(np.log10(trains["weight_scale"].max() / trains["weight_scale"].min()))
            if len(trains)
            else 0.0
        )
        info[f"{n}_best_val_acc"] = float(b["val_acc"])
        info[f"{n}_best_scale"] = float(b["weight_scale"])
        info[f"{n}_best_train_acc"] = float(good["train_acc"].max()) if len(good) else 0.0
        info[f"{n}_mean_val_acc"] = float(sub["val_acc"].mean())
        info[f"{n}_num_diverged"] = int(sub["diverged"].sum())
        info[f"{n}_val_acc"] = [float(v) for v in sub["val_acc"]]
        info[f"{n}_train_acc"] = [float(v) for v in sub["train_acc"]]
        parts[n] = (
            f"{n}: trains at {len(trains)} of {len(sub)} scales "
            f"({_scale_range(trains['weight_scale']) if len(trains) else 'none'}), best val "
            f"{b['val_acc']:.3f} at {b['weight_scale']:.3g}, diverged {int(sub['diverged'].sum())}"
        )
    bn, no = "batchnorm", "none"
    wider = info.get(f"{bn}_num_trains", 0) > info.get(f"{no}_num_trains", 0)
    info["batchnorm_wider_range"] = bool(wider)
    info["finding"] = (
        "; ".join(parts[k] for k in (no, bn) if k in parts)
        + ". "
        + (
            "Batch norm trains over a much wider range of init scales: it rescales every layer's "
            "pre-activations to zero mean and unit variance per feature, so the output of a layer "
            "does not depend on the scale of its weights and the signal neither vanishes (tiny "
            "scales) nor explodes (large scales) through the seven layers; without it only scales "
            "near the right variance (~sqrt(2/fan_in)) let the signal through."
            if wider
            else "Here batch norm does not widen the range of usable scales."
        )
    )

    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for i, (n, sub) in enumerate(runs.groupby("normalization", sort=True)):
        sub = sub.sort_values("weight_scale")
        ax.plot(
            sub["weight_scale"], sub["train_acc"], "-o", ms=3, color=f"C{i}", label=f"{n}: train"
        )
        ax.plot(sub["weight_scale"], sub["val_acc"], "--s", ms=3, color=f"C{i}", label=f"{n}: val")
        if info[f"{n}_trains_min_scale"] is not None:
            ax.axvspan(
                info[f"{n}_trains_min_scale"],
                info[f"{n}_trains_max_scale"],
                color=f"C{i}",
                alpha=0.08,
            )
    ax.axhline(thr, color="0.5", ls=":", lw=0.8, label=f"trains threshold {thr:.2f}")
    ax.set_xscale("log")
    ax.set_xlabel("weight scale")
    ax.set_ylabel("accuracy")
    ax.legend(fontsize=7)
    ax.set_title("bn-1: batch norm vs none over init scales (shaded: trains)", fontsize=9)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- bn-2
def bn_2(sm, log, info):
    runs, curv, _ = load_tables(sm, ["bn_batch_size"])["bn_batch_size"]
    sizes = sorted(int(b) for b in runs["batch_size"].unique())
    info["batch_sizes"] = sizes
    norms = [n for n in ("none", "batchnorm", "layernorm") if n in set(runs["normalization"])]
    info["normalizations"] = norms
    parts = []
    for n in norms:
        sub = runs[runs["normalization"] == n].copy()
        sub["bs"] = sub["batch_size"].astype(int)
        sub = sub.sort_values("bs")
        info[f"{n}_train_acc"] = [float(v) for v in sub["train_acc"]]
        info[f"{n}_val_acc"] = [float(v) for v in sub["val_acc"]]
        info[f"{n}_val_spread"] = float(sub["val_acc"].max() - sub["val_acc"].min())
        info[f"{n}_val_small_minus_large"] = float(sub["val_acc"].iloc[0] - sub["val_acc"].iloc[-1])
        info[f"{n}_gap_smallest_batch"] = float(sub["gap"].iloc[0])
        parts.append(
            f"{n}: val "
            + "/".join(f"{v:.3f}" for v in sub["val_acc"])
            + " (train "
            + "/".join(f"{v:.3f}" for v in sub["train_acc"])
            + ")"
        )
    bn_drop = -info.get("batchnorm_val_small_minus_large", 0.0)
    ln_drop = -info.get("layernorm_val_small_minus_large", 0.0)
    info["batchnorm_drop_at_smallest_batch"] = bn_drop
    info["layernorm_drop_at_smallest_batch"] = ln_drop
    # each normalisation's advantage over none, at the largest and the smallest batch
    adv = {}
    for n in ("batchnorm", "layernorm"):
        if n in norms and "none" in norms:
            for split in ("train", "val"):
                a = [x - y for x, y in zip(info[f"{n}_{split}_acc"], info[f"none_{split}_acc"])]
                info[f"{n}_{split}_advantage_over_none"] = a
                adv[(n, split)] = a
    bn_tr = adv.get(("batchnorm", "train"), [0.0])
    info["batchnorm_train_advantage_shrinks"] = bool(bn_tr[0] < bn_tr[-1])
    info["batchnorm_hurt_more_by_small_batches"] = bool(bn_drop > ln_drop)

    def advs(n, split):
        a = adv.get((n, split))
        return (
            f"{_pts(a[-1])} at batch {sizes[-1]}, {_pts(a[0])} at batch {sizes[0]}" if a else "n/a"
        )

    info["finding"] = (
        f"Final accuracies for batch sizes {'/'.join(map(str, sizes))}: " + "; ".join(parts) + ". "
        f"Batch norm's advantage over no normalisation is {advs('batchnorm', 'train')} in train "
        f"accuracy and {advs('batchnorm', 'val')} in val accuracy; layer norm's is "
        f"{advs('layernorm', 'train')} (train) and {advs('layernorm', 'val')} (val). "
        + (
            "Batch norm's gain in fitting the training set shrinks as the batch shrinks: its mean "
            "and variance are estimated from the batch, so with a handful of examples they are "
            "noisy, and the running averages used at test time no longer match what the layers saw "
            "in training. Layer norm computes its statistics per example, so in principle it does "
            "not depend on the batch size"
            + (
                " (here it also loses ground at small batches: with the same number of epochs, small "
                "batches mean many more, noisier Adam steps for every variant)."
                if adv.get(("layernorm", "train"), [0, 0])[0]
                < adv.get(("layernorm", "train"), [0, 0])[-1]
                else "."
            )
            if info["batchnorm_train_advantage_shrinks"]
            else "Here batch norm's advantage does not shrink with the batch size."
        )
    )
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for i, n in enumerate(norms):
        ax.plot(sizes, info[f"{n}_val_acc"], "-o", color=f"C{i}", label=f"{n}: val")
        ax.plot(sizes, info[f"{n}_train_acc"], ":^", color=f"C{i}", label=f"{n}: train")
    ax.set_xscale("log")
    ax.set_xticks(sizes, [str(s) for s in sizes])
    ax.set_xlabel("batch size")
    ax.set_ylabel("final accuracy")
    ax.legend(fontsize=7)
    ax.set_title("bn-2: final accuracy vs batch size", fontsize=9)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- bn-3
def bn_3(sm, log, info):
    s = sm.params.settings
    with np.load(sm.input.split) as z:
        n = min(int(s["num_images"]), int(z["X_train"].shape[0]))
        X = z["X_train"][:n]
        shape = tuple(int(v) for v in z["image_shape"])
    info["num_images"] = int(n)
    info["threshold"] = float(s["threshold"])
    raw = axis_statistics(X, shape)
    scale = raw["feature_std_mean"]
    rows = {"raw": raw}
    for name in PREPROCESSING:
        rows[name] = axis_statistics(preprocess_for_question(name, X, shape, s["threshold"]), shape)
    Xf = X.astype(np.float64)
    d = Xf.shape[1]
    bn_out, _ = batchnorm_forward(Xf, np.ones(d), np.zeros(d), {"mode": "train"})
    ln_out, _ = layernorm_forward(Xf, np.ones(d), np.zeros(d))
    rows["core_batchnorm"] = axis_statistics(bn_out, shape)
    rows["core_layernorm"] = axis_statistics(ln_out, shape)
    tol = 1e-9
    # all-black images / pixel rows have a zero sum that no rescaling can make 1: the
    # per-example and per-row checks below look at the images / rows with a nonzero sum
    ex_ok = Xf.sum(axis=1) > 0
    row_ok = Xf.reshape(n, shape[0], -1).sum(axis=2) > 0
    info["num_black_images"] = int((~ex_ok).sum())
    info["num_black_pixel_rows"] = int((~row_ok).sum())
    mapping = {}
    for name, (desc, axis) in PREPROCESSING.items():
        st = rows[name]
        Xt = preprocess_for_question(name, X, shape, s["threshold"])
        ex_sums = Xt.sum(axis=1)[ex_ok]
        row_sums = Xt.reshape(n, shape[0], -1).sum(axis=2)[row_ok]
        # spread relative to the RMS (0 = constant, 1 = zero mean): scale-free, bounded
        rel_ex = float(ex_sums.std() / max(np.sqrt(np.mean(ex_sums**2)), 1e-300))
        rel_row = float(row_sums.std() / max(np.sqrt(np.mean(row_sums**2)), 1e-300))
        info[f"{name}_example_sum_rel_spread_nonblack"] = rel_ex
        info[f"{name}_row_sum_rel_spread_nonblack"] = rel_row
        fixes_feature = st["feature_mean_abs_max"] < tol * max(1.0, scale)
        fixes_example = rel_ex < tol
        fixes_row = rel_row < tol
        if fixes_feature:
            analog = "batch norm"
        elif fixes_row:
            analog = "layer norm (per example, over groups of features: closest to group norm)"
        elif fixes_example:
            analog = "layer norm"
        else:
            analog = "neither"
        mapping[name] = analog
        info[f"{name}_description"] = desc
        info[f"{name}_statistic_axis"] = axis
        info[f"{name}_analog"] = analog
        info[f"{name}_fixes_per_feature_mean"] = bool(fixes_feature)
        info[f"{name}_fixes_per_example_sum"] = bool(fixes_example)
        info[f"{name}_fixes_per_row_sum"] = bool(fixes_row)
    for name, st in rows.items():
        for k, v in st.items():
            info[f"{name}_{k}"] = v
    info["mapping"] = mapping
    info["batchnorm_like"] = [k for k, v in mapping.items() if v == "batch norm"]
    info["layernorm_like"] = [k for k, v in mapping.items() if v.startswith("layer norm")]
    info["neither"] = [k for k, v in mapping.items() if v == "neither"]
    raw_sums = Xf.sum(axis=1)
    raw_rel_ex = float(raw_sums.std() / np.sqrt(np.mean(raw_sums**2)))
    info["raw_example_sum_rel_spread"] = raw_rel_ex

    def says(name):
        st = rows[name]
        return (
            f"{PREPROCESSING[name][0][0].upper()}{PREPROCESSING[name][0][1:]} "
            f"(statistic: {PREPROCESSING[name][1]}): "
            f"afterwards the largest per-pixel mean over the images is "
            f"{st['feature_mean_abs_max']:.2g} (raw {raw['feature_mean_abs_max']:.0f}), the "
            f"spread/RMS of the image sums {info[f'{name}_example_sum_rel_spread_nonblack']:.2g} "
            f"(raw {raw_rel_ex:.2g}) and of the pixel-row "
            f"sums {info[f'{name}_row_sum_rel_spread_nonblack']:.2g} -> {mapping[name]}"
        )

    info["finding"] = (
        f"On {n:,} training images, a step is batch-norm-like if it makes a per-feature "
        f"statistic over the examples constant and layer-norm-like if it makes a per-example "
        f"statistic over the features constant. "
        + ". ".join(says(k) for k in PREPROCESSING)
        + f". For comparison the core's batch norm leaves per-feature means of "
        f"{rows['core_batchnorm']['feature_mean_abs_max']:.1e} and its layer norm a spread of "
        f"the per-example means of {rows['core_layernorm']['example_mean_spread']:.1e} "
        f"({info['num_black_images']} all-black images and {info['num_black_pixel_rows']} "
        f"all-black pixel rows cannot be rescaled and are left out of the sum checks)."
    )

    names = ["raw", *PREPROCESSING, "core_batchnorm", "core_layernorm"]
    fm = [
        max(rows[k]["feature_mean_abs_max"] / max(rows[k]["feature_std_mean"], 1e-300), 1e-18)
        for k in names
    ]
    ex = [
        max(rows[k]["example_sum_spread"] / max(abs(rows[k]["example_sum_mean"]), 1e-300), 1e-18)
        if abs(rows[k]["example_sum_mean"]) > 1e-9
        else max(rows[k]["example_mean_spread"] / max(rows[k]["example_std_mean"], 1e-300), 1e-18)
        for k in names
    ]
    fig, ax = plt.subplots(figsize=(9, 3.8))
    pos = np.arange(len(names))
    ax.bar(pos - 0.2, fm, 0.4, label="max |per-feature mean| / feature std (batch-norm axis)")
    ax.bar(pos + 0.2, ex, 0.4, label="spread of per-example sums, relative (layer-norm axis)")
    ax.set_yscale("log")
    ax.set_xticks(pos, [k.replace("_", "\n") for k in names], fontsize=7)
    ax.set_ylabel("statistic (log; ~0 = made constant)")
    ax.legend(fontsize=7)
    ax.set_title(f"bn-3: which statistic each preprocessing fixes ({n:,} images)", fontsize=9)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- bn-4
def bn_4(sm, log, info):
    runs = load_tables(sm, ["ln_width"])["ln_width"][0]
    widths = sorted(int(w) for w in runs["width"].unique())
    k = int(sm.params.settings["small_widths"])
    small = widths[:k]
    info["widths"] = widths
    info["small_widths"] = small
    info["num_hidden_layers"] = int(runs["depth"].iloc[0]) - 1
    norms = [n for n in ("none", "batchnorm", "layernorm") if n in set(runs["normalization"])]
    for n in norms:
        sub = runs[runs["normalization"] == n].sort_values("width")
        info[f"{n}_val_acc"] = [float(v) for v in sub["val_acc"]]
        info[f"{n}_train_acc"] = [float(v) for v in sub["train_acc"]]
        info[f"{n}_small_mean_val_acc"] = float(sub[sub["width"].isin(small)]["val_acc"].mean())
        info[f"{n}_largest_val_acc"] = float(sub[sub["width"] == widths[-1]]["val_acc"].mean())
    ln = "layernorm"
    for o in ("batchnorm", "none"):
        if o in norms and ln in norms:
            info[f"ln_minus_{o}_small"] = (
                info[f"{ln}_small_mean_val_acc"] - info[f"{o}_small_mean_val_acc"]
            )
            info[f"ln_minus_{o}_largest"] = (
                info[f"{ln}_largest_val_acc"] - info[f"{o}_largest_val_acc"]
            )
    ranks = []
    for i, _w in enumerate(widths):
        vals = {n: info[f"{n}_val_acc"][i] for n in norms}
        ranks.append(sorted(vals, key=vals.get).index(ln) + 1 if ln in vals else 0)
    info["layernorm_rank_by_width"] = ranks  # 1 = lowest val accuracy at that width
    info["layernorm_last_at_widths"] = [w for w, r in zip(widths, ranks) if r == 1]
    info["ln_minus_batchnorm_val_by_width"] = [
        a - b for a, b in zip(info.get(f"{ln}_val_acc", []), info.get("batchnorm_val_acc", []))
    ]
    info["ln_minus_batchnorm_train_by_width"] = [
        a - b for a, b in zip(info.get(f"{ln}_train_acc", []), info.get("batchnorm_train_acc", []))
    ]
    worse = info.get("ln_minus_batchnorm_small", 0) < 0 and info.get("ln_minus_none_small", 0) < 0
    gap_grows = info.get("ln_minus_batchnorm_small", 0) < info.get("ln_minus_batchnorm_largest", 0)
    info["layernorm_worst_at_small_width"] = bool(worse)
    info["layernorm_gap_shrinks_with_width"] = bool(gap_grows)
    info["finding"] = (
        f"Val accuracy by width {'/'.join(map(str, widths))}: "
        + "; ".join(f"{n} " + "/".join(f"{v:.3f}" for v in info[f"{n}_val_acc"]) for n in norms)
        + f". Layer norm is last at width(s) {', '.join(map(str, info['layernorm_last_at_widths'])) or 'none'}. "
        f"With {info['num_hidden_layers']} hidden layers of width "
        f"{'/'.join(map(str, small))}, layer norm reaches a mean val accuracy of "
        f"{info[f'{ln}_small_mean_val_acc']:.3f} vs {info['batchnorm_small_mean_val_acc']:.3f} "
        f"with batch norm and {info['none_small_mean_val_acc']:.3f} without normalisation "
        f"({_pts(info['ln_minus_batchnorm_small'])} vs batch norm, "
        f"{_pts(info['ln_minus_none_small'])} vs none); at width {widths[-1]} the differences are "
        f"{_pts(info['ln_minus_batchnorm_largest'])} and {_pts(info['ln_minus_none_largest'])}. "
        + (
            "Layer norm works poorly when the feature dimension is very small: its mean and variance "
            "are estimated over only a few features of each example, so they are noisy, and "
            "normalising a handful of values removes much of the little information they carry."
            if worse
            else "Here layer norm is not the worst at small widths."
        )
    )
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for i, n in enumerate(norms):
        ax.plot(widths, info[f"{n}_val_acc"], "-o", color=f"C{i}", label=f"{n}: val")
        ax.plot(widths, info[f"{n}_train_acc"], ":^", color=f"C{i}", label=f"{n}: train")
    ax.axvspan(small[0] * 0.9, small[-1] * 1.1, color="0.9", zorder=0)
    ax.set_xscale("log", base=2)
    ax.set_xticks(widths, [str(w) for w in widths])
    ax.set_xlabel("hidden width")
    ax.set_ylabel("final accuracy")
    ax.legend(fontsize=7)
    ax.set_title("bn-4: layer norm vs width (shaded: small widths)", fontsize=9)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- dropout-1
def dropout_1(sm, log, info):
    s = sm.params.settings
    runs = sm.params.runs["dropout"]
    with np.load(sm.input.data) as z:
        Xv = np.ascontiguousarray(z["X_val"][: int(s["num_examples"])], dtype=np.float32)
        yv = z["y_val"][: int(s["num_examples"])]
    info["num_examples"] = int(len(yv))
    rng = np.random.default_rng(int(s["seed"]))
    rows = []
    paths = {Path(p).parent.name: p for p in sm.input.params}  # results/runs/<run>/
    for rec in runs:
        path = paths[rec["run"]]
        p = float(rec["spec"]["dropout_keep"])
        if p >= 1.0 or len(rec["spec"]["hidden_dims"]) != 1:
            continue
        with np.load(path) as z:
            W1, b1, W2, b2 = (z[k] for k in ("W1", "b1", "W2", "b2"))
        h = np.maximum(Xv @ W1 + b1, 0)
        m = dropout_train_test_means(h, p, rng)
        ok = h @ W2 + b2  # test time as implemented (identity)
        bad = (h / np.float32(p)) @ W2 + b2  # a net trained without /p, tested without *p

        def conf(sc):
            e = np.exp(sc - sc.max(axis=1, keepdims=True))
            return float(np.mean(e.max(axis=1) / e.sum(axis=1)))

        m.update(
            {
                "variant": rec["variant"],
                "val_acc_consistent": float(np.mean(ok.argmax(1) == yv)),
                "val_acc_mismatched": float(np.mean(bad.argmax(1) == yv)),
                "confidence_consistent": conf(ok),
                "confidence_mismatched": conf(bad),
                "score_scale_mismatched": float(np.abs(bad).mean() / np.abs(ok).mean()),
            }
        )
        rows.append(m)
    if not rows:
        raise ValueError(
            "the dropout table has no run with keep probability < 1 and one hidden layer"
        )
    rows.sort(key=lambda r: -r["p"])
    keys = [
        "p",
        "mean_test",
        "mean_train_divided",
        "mean_train_not_divided",
        "ratio_train_to_test_divided",
        "ratio_train_to_test_not_divided",
        "fraction_kept",
        "val_acc_consistent",
        "val_acc_mismatched",
        "confidence_consistent",
        "confidence_mismatched",
        "score_scale_mismatched",
    ]
    for k in keys:
        info[k] = [float(r[k]) for r in rows]
    info["variants"] = [r["variant"] for r in rows]
    for k in ("ratio_train_to_test_divided", "ratio_train_to_test_not_divided"):
        if not all(math.isfinite(v) for v in info[k]):
            raise ValueError(f"{k}: the hidden layer's test-time mean is zero")
    r = rows[-1]
    info["finding"] = (
        f"On a trained hidden layer ({info['num_examples']} validation images), inverted dropout "
        f"with the division keeps the mean activation: train/test mean ratio "
        + ", ".join(
            f"{v:.3f} (keep {p:g})" for p, v in zip(info["p"], info["ratio_train_to_test_divided"])
        )
        + ". Without the division the training-time mean is p times the test-time mean: "
        + ", ".join(
            f"{v:.3f} (keep {p:g})"
            for p, v in zip(info["p"], info["ratio_train_to_test_not_divided"])
        )
        + f". The next layer is trained on inputs p times smaller than it gets at test time, so "
        f"unless test time multiplies by p its inputs are 1/p too large: for keep {r['p']:g} the "
        f"scores grow x{r['score_scale_mismatched']:.2f}, the mean top-class probability goes "
        f"from {r['confidence_consistent']:.3f} to {r['confidence_mismatched']:.3f} and val "
        f"accuracy from {r['val_acc_consistent']:.3f} to {r['val_acc_mismatched']:.3f} (one "
        f"dropout layer before the last affine layer; deeper nets compound the shift)."
    )
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    pos = np.arange(len(rows))
    ax.bar(pos - 0.27, info["mean_test"], 0.27, label="test time (no dropout)")
    ax.bar(pos, info["mean_train_divided"], 0.27, label="train, divided by p (inverted)")
    ax.bar(pos + 0.27, info["mean_train_not_divided"], 0.27, label="train, not divided")
    ax.set_xticks(pos, [f"keep {p:g}" for p in info["p"]])
    ax.set_ylabel("mean hidden activation")
    ax.legend(fontsize=7)
    ax.set_title("dropout-1: mean activation, train vs test time", fontsize=9)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- dropout-2
def dropout_2(sm, log, info):
    runs, curv, _ = load_tables(sm, ["dropout"])["dropout"]
    runs = runs.sort_values("dropout_keep", ascending=False)
    info["num_train"] = int(runs["num_train_used"].iloc[0])
    info["keep"] = [float(v) for v in runs["dropout_keep"]]
    info["train_acc"] = [float(v) for v in runs["train_acc"]]
    info["val_acc"] = [float(v) for v in runs["val_acc"]]
    info["gap"] = [float(v) for v in runs["gap"]]
    best_val = [float(curv[curv["variant"] == v]["val_acc"].max()) for v in runs["variant"]]
    info["best_epoch_val_acc"] = best_val
    i0, i1 = 0, len(runs) - 1
    info["gap_no_dropout"] = info["gap"][i0]
    info["gap_lowest_keep"] = info["gap"][i1]
    info["gap_reduction"] = info["gap"][i0] - info["gap"][i1]
    info["val_change"] = info["val_acc"][i1] - info["val_acc"][i0]
    info["dropout_reduces_gap"] = bool(info["gap_reduction"] > 0)
    info["finding"] = (
        f"On {info['num_train']} training examples: "
        + "; ".join(
            f"keep {k:g}: train {t:.3f}, val {v:.3f} (gap {g:.3f})"
            for k, t, v, g in zip(info["keep"], info["train_acc"], info["val_acc"], info["gap"])
        )
        + f". Going from keep {info['keep'][i0]:g} to keep {info['keep'][i1]:g} "
        + ("shrinks" if info["gap_reduction"] > 0 else "does not shrink")
        + f" the train-val gap by {info['gap_reduction']:.3f} and changes val accuracy by "
        f"{_pts(info['val_change'])}: "
        + (
            "dropout acts as a regulariser — it makes fitting the training set harder (lower "
            "train accuracy) and narrows the gap to validation."
            if info["gap_reduction"] > 0
            else "here dropout does not regularise measurably."
        )
    )
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for i, (_, r) in enumerate(runs.iterrows()):
        cc = curv[curv["variant"] == r["variant"]]
        ax.plot(
            cc["epoch"],
            cc["train_acc"],
            "-",
            color=f"C{i}",
            label=f"keep {r['dropout_keep']:g}: train",
        )
        ax.plot(
            cc["epoch"],
            cc["val_acc"],
            "--",
            color=f"C{i}",
            label=f"keep {r['dropout_keep']:g}: val",
        )
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.legend(fontsize=7, ncol=2)
    ax.set_title("dropout-2: train (solid) vs val (dashed)", fontsize=9)
    fig.tight_layout()
    return fig


QUESTIONS = {
    "twolayer-1": twolayer_1,
    "twolayer-2": twolayer_2,
    "fcnet-1": fcnet_1,
    "fcnet-2": fcnet_2,
    "bn-1": bn_1,
    "bn-2": bn_2,
    "bn-3": bn_3,
    "bn-4": bn_4,
    "dropout-1": dropout_1,
    "dropout-2": dropout_2,
}


def main(sm, log):
    qid = sm.params.qid
    info = {"id": qid, "question": qid, "source": SOURCES[qid]}
    fig = QUESTIONS[qid](sm, log, info)
    finish(sm, info, fig)
    log.info("%s: %s", qid, info["finding"])


run_job(snakemake, main)
