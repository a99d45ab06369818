"""Evidence for the net questions: twolayer-1/2, fcnet-1/2, bn-1..4 and dropout-1/2.

Every number comes from this run's experiment tables, run histories, parameters or data;
the prose that states them lives in ``report/questions/nets.yaml``."""

from __future__ import annotations

import json
import math

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
from nplab_io.figures import label_axes, pyplot

CHANCE = 0.1  # ten CIFAR-10 classes
NORMS = ("none", "batchnorm", "layernorm")


def _runs(data, table) -> pd.DataFrame:
    """A table's runs.csv with the columns every question compares on: depth (hidden
    layers + 1), width (of the first hidden layer, 0 without one) and the train-val gap."""
    runs = data.table(table)["runs"].copy()
    if runs.empty:
        raise ValueError(f"table {table}: no runs")
    hidden = [json.loads(h) for h in runs["hidden_dims"]]
    runs["diverged"] = runs["diverged"].astype(bool)
    runs["depth"] = [len(h) + 1 for h in hidden]
    runs["width"] = [h[0] if h else 0 for h in hidden]
    runs["gap"] = runs["train_acc"] - runs["val_acc"]
    return runs


def _floats(values) -> list[float]:
    return [float(v) for v in values]


def _norms(runs) -> list[str]:
    """The normalisations a table compares, in a fixed order."""
    return [n for n in NORMS if n in set(runs["normalization"])]


def _by_norm(runs, n, col) -> pd.DataFrame:
    return runs[runs["normalization"] == n].sort_values(col)


def _plot_norm_lines(ax, xs, ev, norms) -> None:
    for i, n in enumerate(norms):
        ax.plot(xs, ev[f"{n}_val_acc"], "-o", color=f"C{i}", label=f"{n}: val")
        ax.plot(xs, ev[f"{n}_train_acc"], ":^", color=f"C{i}", label=f"{n}: train")


# --------------------------------------------------------------------------- twolayer-1
def _gradient_evidence(x, grads, tol) -> dict:
    """Where each activation's local gradient is (near) zero on the grid x."""
    ev = {}
    for name, g in grads.items():
        ev[f"{name}_grad_min"] = float(g.min())
        ev[f"{name}_grad_max"] = float(g.max())
        ev[f"{name}_frac_near_zero"] = float(np.mean(np.abs(g) < tol))
        ev[f"{name}_frac_exactly_zero"] = float(np.mean(g == 0))
        ev[f"{name}_near_zero_ranges"] = [[a, b] for a, b in near_zero_ranges(x, g, tol)]
    sig_small = np.abs(x)[np.abs(grads["sigmoid"]) < tol]
    ev["sigmoid_saturates_beyond_abs_x"] = float(sig_small.min()) if len(sig_small) else None
    relu_zero = x[grads["relu"] == 0]
    ev["relu_zero_for_x_at_most"] = float(relu_zero.max()) if len(relu_zero) else None
    return ev


def _activation_stats(path) -> dict:
    """The hidden layer's zero outputs, dead units and mean at init and at the end of a
    run (recorded in its history by record_stats)."""
    with np.load(path) as h:
        if "final_frac_dead_units" not in h.files:
            raise ValueError(
                f"{path}: no activation statistics; set record_stats: true in the two-layer tables"
            )
        return {
            f"{p}_{k}": float(h[f"{p}_{k}"][0])
            for p in ("init", "final")
            for k in ("frac_zero", "frac_dead_units", "mean")
            if f"{p}_{k}" in h.files
        }


def compute_twolayer_1(data, settings):
    """Local gradients of sigmoid, ReLU and leaky ReLU over [x_min, x_max] (from the core's
    backward functions), and the zero outputs / dead units of the default and best nets."""
    s, tol = settings, float(settings["tol"])
    x = np.linspace(s["x_min"], s["x_max"], int(s["points"]))
    grads = local_gradients(x, alpha=s["alpha"])
    ev = {
        "x_min": s["x_min"],
        "x_max": s["x_max"],
        "points": int(s["points"]),
        "near_zero_tol": tol,
        "leaky_alpha": s["alpha"],
        **_gradient_evidence(x, grads, tol),
    }
    best = data.json("best")
    history = {p.parent.name: p for p in data.paths("history")}  # results/runs/<run>/
    nets = {"default": data.runs["twolayer_default"][0]["run"], "best": best["run"]}
    stats = {}
    for label, run in nets.items():
        stats[label] = _activation_stats(history[run])
        ev.update({f"{label}_net_{k}": v for k, v in stats[label].items()})
        ev[f"{label}_net_run"] = run
    ev["best_net_variant"] = best["variant"]
    ev["best_net_val_acc"] = float(best["val_acc"])
    return {**ev, "_x": x, "_grads": grads, "_stats": stats}


def plot_twolayer_1(ev, data):
    plt, tol, x, stats = pyplot(), ev["near_zero_tol"], ev["_x"], ev["_stats"]
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.6))
    floor = 1e-6  # exact zeros drawn on the log axis
    for i, (name, g) in enumerate(ev["_grads"].items()):
        a1.plot(x, np.maximum(g, floor), color=f"C{i}", lw=2.2 - 0.5 * i, label=name)
    a1.axhline(tol, color="0.6", ls=":", lw=0.8, label=f"near zero (< {tol:g})")
    a1.set_yscale("log")
    a1.set_ylim(floor / 2, 2)
    a1.set_xlabel("input x")
    a1.set_ylabel(f"local gradient d act / dx (0 drawn at {floor:g})")
    a1.legend(fontsize=7, loc="lower right")
    a1.set_title("local gradients (core backward functions)", fontsize=9)
    keys = [(label, p) for label in ("default", "best") for p in ("init", "final")]
    zero = [stats[lb].get(f"{p}_frac_zero", 0.0) for lb, p in keys]
    dead = [stats[lb].get(f"{p}_frac_dead_units", 0.0) for lb, p in keys]
    pos = np.arange(len(keys))
    a2.bar(pos - 0.2, zero, 0.4, label="zero outputs (ReLU off)")
    a2.bar(pos + 0.2, dead, 0.4, label="dead units (off for every image)")
    a2.set_xticks(pos, [f"{lb}\n{p}" for lb, p in keys], fontsize=7)
    a2.set_ylabel("fraction (validation images)")
    a2.set_ylim(0, 1)
    a2.legend(fontsize=7, loc="upper left")
    a2.set_title("trained two-layer nets", fontsize=9)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- twolayer-2
def _group_gap(runs, col) -> pd.DataFrame:
    """Mean gap, mean and best val accuracy per value of col (the other settings averaged)."""
    return (
        runs.groupby(col, sort=True)
        .agg(
            gap=("gap", "mean"),
            val_acc=("val_acc", "mean"),
            train_acc=("train_acc", "mean"),
            best_val=("val_acc", "max"),
        )
        .reset_index()
    )


def _search_evidence(by_h, by_r) -> dict:
    return {
        "hidden_sizes": [int(v) for v in by_h["hidden"]],
        "hidden_mean_gap": _floats(by_h["gap"]),
        "hidden_mean_val_acc": _floats(by_h["val_acc"]),
        "hidden_best_val_acc": _floats(by_h["best_val"]),
        "regs": _floats(by_r["reg"]),
        "reg_mean_gap": _floats(by_r["gap"]),
        "reg_mean_val_acc": _floats(by_r["val_acc"]),
        "reg_best_val_acc": _floats(by_r["best_val"]),
    }


def compute_twolayer_2(data, settings):
    """The train-val gap against the training-set size (twolayer_data_size) and against
    hidden size and regularisation (twolayer_search, means over the other settings)."""
    ds = _runs(data, "twolayer_data_size").sort_values("num_train_used")
    se = _runs(data, "twolayer_search")
    se["hidden"] = se["width"]
    by_h, by_r = _group_gap(se, "hidden"), _group_gap(se, "reg")
    ev = {
        "data_size_num_train": [int(v) for v in ds["num_train_used"]],
        "data_size_train_acc": _floats(ds["train_acc"]),
        "data_size_val_acc": _floats(ds["val_acc"]),
        "data_size_gap": _floats(ds["gap"]),
        **_search_evidence(by_h, by_r),
    }
    for key, gap, val in (
        ("more_data", "data_size_gap", "data_size_val_acc"),
        ("more_hidden", "hidden_mean_gap", "hidden_mean_val_acc"),
        ("more_reg", "reg_mean_gap", "reg_mean_val_acc"),
    ):
        ev[f"{key}_gap_change"] = ev[gap][-1] - ev[gap][0]
        ev[f"{key}_val_change"] = ev[val][-1] - ev[val][0]
    # a gap change within gap_tol counts as "about the same"
    tol = float(settings["gap_tol"])
    ev["gap_tol"] = tol
    ev["reduces_gap"] = [
        name
        for name, key in (
            ("more data", "more_data"),
            ("more hidden units", "more_hidden"),
            ("stronger regularisation", "more_reg"),
        )
        if ev[f"{key}_gap_change"] < -tol
    ]
    return {**ev, "_data_size": ds, "_by_hidden": by_h, "_by_reg": by_r}


def plot_twolayer_2(ev, data):
    plt, ds = pyplot(), ev["_data_size"]
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
        (axes[1], ev["_by_hidden"], "hidden", "hidden units"),
        (axes[2], ev["_by_reg"], "reg", "reg"),
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
def _depth_evidence(sub, k) -> dict:
    """One depth's sweep over init scales (sub sorted by scale): which scales reach 100%
    train accuracy, which diverge, and the best scale among those that did not."""
    full = sub[(sub["train_acc"] >= 1.0) & ~sub["diverged"]]
    ok = sub[~sub["diverged"]]
    best = ok.loc[ok["train_acc"].idxmax()] if len(ok) else sub.iloc[0]
    return {
        f"{k}_train_acc": _floats(sub["train_acc"]),
        f"{k}_final_loss": [float(v) if pd.notna(v) else None for v in sub["final_loss"]],
        f"{k}_diverged": [bool(v) for v in sub["diverged"]],
        f"{k}_num_reach_100": int(len(full)),
        f"{k}_num_diverged": int(sub["diverged"].sum()),
        f"{k}_scales_reach_100": _floats(full["weight_scale"]),
        f"{k}_best_scale": float(best["weight_scale"]),
        f"{k}_best_train_acc": float(best["train_acc"]),
        f"{k}_num_above_half": int(((sub["train_acc"] >= 0.5) & ~sub["diverged"]).sum()),
    }


def compute_fcnet_1(data, settings):
    """3- vs 5-layer nets overfitting a small set over init scales: how many scales reach
    100% train accuracy or diverge at each depth, and which depth is more sensitive."""
    runs = _runs(data, "fc_init_scale")
    depths = sorted(runs["depth"].unique())
    ev = {
        "weight_scales": _floats(sorted(runs["weight_scale"].unique())),
        "num_train": int(runs["num_train_used"].iloc[0]),
        "epochs": int(runs["epochs"].iloc[0]),
        "depths": [int(d) for d in depths],
    }
    for d in depths:
        sub = runs[runs["depth"] == d].sort_values("weight_scale")
        ev.update(_depth_evidence(sub, f"depth{d}"))
    lo, hi = f"depth{depths[0]}", f"depth{depths[-1]}"
    n0, n1 = ev[f"{lo}_num_reach_100"], ev[f"{hi}_num_reach_100"]
    ev["deeper_is_more_sensitive"] = bool(
        n1 < n0 or (n1 == n0 and ev[f"{hi}_num_diverged"] > ev[f"{lo}_num_diverged"])
    )
    return {**ev, "_runs": runs}


def plot_fcnet_1(ev, data):
    plt, runs = pyplot(), ev["_runs"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for i, d in enumerate(ev["depths"]):
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
        f"fcnet-1: 3- vs 5-layer nets on {ev['num_train']} examples (x = diverged)", fontsize=9
    )
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- fcnet-2
def _step_evidence(s, o) -> dict:
    """One optimizer's step sizes (s: its 'all' rows by iteration): the median effective
    learning rate first/last, and the relative update over the first/last 10% of steps."""
    n = len(s)
    k = max(1, n // 10)
    first, last = float(s["eff_lr_median"].iloc[0]), float(s["eff_lr_median"].iloc[-1])
    up_first = float(s["rel_update"].iloc[:k].mean())
    up_last = float(s["rel_update"].iloc[-k:].mean())
    return {
        f"{o}_iterations": int(n),
        f"{o}_lr": float(s["lr"].iloc[0]),
        f"{o}_eff_lr_first": first,
        f"{o}_eff_lr_last": last,
        f"{o}_eff_lr_ratio": last / first,
        f"{o}_rel_update_first10pct": up_first,
        f"{o}_rel_update_last10pct": up_last,
        f"{o}_rel_update_ratio": up_last / up_first,
        f"{o}_eff_lr_monotone_decreasing": bool(np.all(np.diff(s["eff_lr_median"]) <= 0)),
        f"{o}_loss_last10pct": float(s["loss"].iloc[-k:].mean()),
    }


def _steps_by_optimizer(data) -> dict[str, pd.DataFrame]:
    """AdaGrad's and Adam's per-iteration rows over all weights, from nets_step_sizes."""
    steps = data.csv("steps")
    allw = steps[steps["param"] == "all"]
    found = set(allw["optimizer"])
    if not {"adagrad", "adam"} <= found:
        raise ValueError(f"{data.path('steps')}: needs adagrad and adam rows, got {sorted(found)}")
    return {o: allw[allw["optimizer"] == o].sort_values("iteration") for o in ("adagrad", "adam")}


def compute_fcnet_2(data, settings):
    """How AdaGrad's and Adam's effective step sizes evolve (retrained fc_optimizers
    runs), next to their final accuracies in the table."""
    steps = _steps_by_optimizer(data)
    runs = _runs(data, "fc_optimizers")
    ev = {}
    for o, s in steps.items():
        ev.update(_step_evidence(s, o))
        r = runs[runs["variant"] == o]
        if len(r):
            ev[f"{o}_table_train_acc"] = float(r["train_acc"].iloc[0])
            ev[f"{o}_table_val_acc"] = float(r["val_acc"].iloc[0])
    return {**ev, "_steps": steps}


def plot_fcnet_2(ev, data):
    plt = pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.5))
    for i, (o, s) in enumerate(ev["_steps"].items()):
        axes[0].plot(s["iteration"], s["eff_lr_median"] / s["lr"], color=f"C{i}", label=o)
        axes[1].plot(s["iteration"], s["rel_update"], color=f"C{i}", lw=0.8, label=o)
        axes[2].plot(s["iteration"], s["loss"], color=f"C{i}", lw=0.8, label=o)
    ylabels = ["median lr multiplier 1/(sqrt(cache)+eps)", "|dW| / |W| (all weights)"]
    for ax, ylabel in zip(axes, [*ylabels, "training loss"]):
        label_axes(ax, "iteration", ylabel, legend=7)
    axes[0].set_yscale("log")
    axes[1].set_yscale("log")
    fig.suptitle("fcnet-2: effective step size of AdaGrad vs Adam", fontsize=9)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- bn-1
def _trains_evidence(sub, thr, n) -> dict:
    """One normalisation's sweep (sub sorted by scale): the scales where it trains
    (train accuracy >= thr, not diverged) and its best run by val accuracy."""
    trains = sub[(sub["train_acc"] >= thr) & ~sub["diverged"]]
    good = sub[~sub["diverged"]]
    b = good.loc[good["val_acc"].idxmax()] if len(good) else sub.iloc[0]
    lo, hi = trains["weight_scale"].min(), trains["weight_scale"].max()
    return {
        f"{n}_num_scales": int(len(sub)),
        f"{n}_num_trains": int(len(trains)),
        f"{n}_trains_min_scale": float(lo) if len(trains) else None,
        f"{n}_trains_max_scale": float(hi) if len(trains) else None,
        f"{n}_trains_decades": float(np.log10(hi / lo)) if len(trains) else 0.0,
        f"{n}_best_val_acc": float(b["val_acc"]),
        f"{n}_best_scale": float(b["weight_scale"]),
        f"{n}_best_train_acc": float(good["train_acc"].max()) if len(good) else 0.0,
        f"{n}_mean_val_acc": float(sub["val_acc"].mean()),
        f"{n}_num_diverged": int(sub["diverged"].sum()),
        f"{n}_val_acc": _floats(sub["val_acc"]),
        f"{n}_train_acc": _floats(sub["train_acc"]),
    }


def compute_bn_1(data, settings):
    """Over init scales, with and without batch norm: at how many scales the net trains
    (train accuracy at least trains_fraction of the way from chance to the sweep's best)."""
    runs = _runs(data, "bn_init_scale")
    frac = float(settings["trains_fraction"])
    ok = runs[~runs["diverged"]]
    top = float(ok["train_acc"].max()) if len(ok) else CHANCE
    thr = CHANCE + frac * (top - CHANCE)
    ev = {
        "chance": CHANCE,
        "trains_fraction": frac,
        "trains_threshold_train_acc": thr,
        "num_hidden_layers": int(runs["depth"].max()) - 1,
        "weight_scales": _floats(sorted(runs["weight_scale"].unique())),
    }
    for n, sub in runs.groupby("normalization", sort=True):
        ev.update(_trains_evidence(sub.sort_values("weight_scale"), thr, n))
    ev["batchnorm_wider_range"] = bool(
        ev.get("batchnorm_num_trains", 0) > ev.get("none_num_trains", 0)
    )
    return {**ev, "_runs": runs}


def plot_bn_1(ev, data):
    plt, thr = pyplot(), ev["trains_threshold_train_acc"]
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for i, (n, sub) in enumerate(ev["_runs"].groupby("normalization", sort=True)):
        sub = sub.sort_values("weight_scale")
        ax.plot(
            sub["weight_scale"], sub["train_acc"], "-o", ms=3, color=f"C{i}", label=f"{n}: train"
        )
        ax.plot(sub["weight_scale"], sub["val_acc"], "--s", ms=3, color=f"C{i}", label=f"{n}: val")
        if ev[f"{n}_trains_min_scale"] is not None:
            ax.axvspan(
                ev[f"{n}_trains_min_scale"], ev[f"{n}_trains_max_scale"], color=f"C{i}", alpha=0.08
            )
    ax.axhline(thr, color="0.5", ls=":", lw=0.8, label=f"trains threshold {thr:.2f}")
    ax.set_xscale("log")
    title = "bn-1: batch norm vs none over init scales (shaded: trains)"
    label_axes(ax, "weight scale", "accuracy", legend=7, title=title)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- bn-2
def _advantages(ev, norms) -> dict:
    """Each normalisation's train/val accuracy minus no normalisation's, per batch size."""
    out = {}
    if "none" not in norms:
        return out
    for n in ("batchnorm", "layernorm"):
        if n in norms:
            for split in ("train", "val"):
                out[f"{n}_{split}_advantage_over_none"] = [
                    x - y for x, y in zip(ev[f"{n}_{split}_acc"], ev[f"none_{split}_acc"])
                ]
    return out


def compute_bn_2(data, settings):
    """Final accuracy against the batch size for none / batch norm / layer norm."""
    runs = _runs(data, "bn_batch_size")
    runs["bs"] = runs["batch_size"].astype(int)
    norms = _norms(runs)
    ev = {
        "batch_sizes": sorted(int(b) for b in runs["batch_size"].unique()),
        "normalizations": norms,
        # the update rule(s) of the runs: small batches mean more of its steps per epoch
        "optimizer": ",".join(sorted(str(o) for o in runs["optimizer"].unique())),
    }
    for n in norms:
        sub = _by_norm(runs, n, "bs")
        ev[f"{n}_train_acc"] = _floats(sub["train_acc"])
        ev[f"{n}_val_acc"] = _floats(sub["val_acc"])
        ev[f"{n}_val_spread"] = float(sub["val_acc"].max() - sub["val_acc"].min())
        ev[f"{n}_val_small_minus_large"] = float(sub["val_acc"].iloc[0] - sub["val_acc"].iloc[-1])
        ev[f"{n}_gap_smallest_batch"] = float(sub["gap"].iloc[0])
    ev["batchnorm_drop_at_smallest_batch"] = -ev.get("batchnorm_val_small_minus_large", 0.0)
    ev["layernorm_drop_at_smallest_batch"] = -ev.get("layernorm_val_small_minus_large", 0.0)
    ev.update(_advantages(ev, norms))
    bn_tr = ev.get("batchnorm_train_advantage_over_none", [0.0])
    ev["batchnorm_train_advantage_shrinks"] = bool(bn_tr[0] < bn_tr[-1])
    ev["batchnorm_hurt_more_by_small_batches"] = bool(
        ev["batchnorm_drop_at_smallest_batch"] > ev["layernorm_drop_at_smallest_batch"]
    )
    return ev


def plot_bn_2(ev, data):
    plt, sizes = pyplot(), ev["batch_sizes"]
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    _plot_norm_lines(ax, sizes, ev, ev["normalizations"])
    ax.set_xscale("log")
    ax.set_xticks(sizes, [str(s) for s in sizes])
    label_axes(
        ax, "batch size", "final accuracy", legend=7, title="bn-2: final accuracy vs batch size"
    )
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- bn-3
def _rel_spread(sums) -> float:
    """Spread relative to the RMS (0 = constant, 1 = zero mean): scale-free, bounded."""
    return float(sums.std() / max(np.sqrt(np.mean(sums**2)), 1e-300))


def _analog(fixes_feature, fixes_row, fixes_example) -> str:
    if fixes_feature:
        return "batch norm"
    if fixes_row:
        return "layer norm (per example, over groups of features: closest to group norm)"
    return "layer norm" if fixes_example else "neither"


def _step_analog(name, Xt, stats, ex_ok, row_ok, scale, n_rows) -> dict:
    """Which statistic one preprocessing step makes constant: per feature (batch norm),
    per example (layer norm) or per pixel row (group norm), judged at 1e-9."""
    tol = 1e-9
    rel_ex = _rel_spread(Xt.sum(axis=1)[ex_ok])
    rel_row = _rel_spread(Xt.reshape(len(Xt), n_rows, -1).sum(axis=2)[row_ok])
    fixes = {
        "per_feature_mean": stats["feature_mean_abs_max"] < tol * max(1.0, scale),
        "per_example_sum": rel_ex < tol,
        "per_row_sum": rel_row < tol,
    }
    desc, axis = PREPROCESSING[name]
    return {
        f"{name}_example_sum_rel_spread_nonblack": rel_ex,
        f"{name}_row_sum_rel_spread_nonblack": rel_row,
        f"{name}_description": desc,
        f"{name}_statistic_axis": axis,
        f"{name}_analog": _analog(
            fixes["per_feature_mean"], fixes["per_row_sum"], fixes["per_example_sum"]
        ),
        **{f"{name}_fixes_{k}": bool(v) for k, v in fixes.items()},
    }


def _core_norm_statistics(Xf, shape) -> dict:
    """axis_statistics of the core's batch norm and layer norm (gamma 1, beta 0) on Xf."""
    d = Xf.shape[1]
    bn_out, _ = batchnorm_forward(Xf, np.ones(d), np.zeros(d), {"mode": "train"})
    ln_out, _ = layernorm_forward(Xf, np.ones(d), np.zeros(d))
    return {
        "core_batchnorm": axis_statistics(bn_out, shape),
        "core_layernorm": axis_statistics(ln_out, shape),
    }


def _analog_groups(mapping) -> dict:
    """The steps grouped by the normalisation they resemble."""
    return {
        "mapping": mapping,
        "batchnorm_like": [k for k, v in mapping.items() if v == "batch norm"],
        "layernorm_like": [k for k, v in mapping.items() if v.startswith("layer norm")],
        "neither": [k for k, v in mapping.items() if v == "neither"],
    }


def compute_bn_3(data, settings):
    """On num_images training images, the statistics each preprocessing step of the
    question makes constant, next to the core's batch and layer norm."""
    z = data.npz("split", keys=["X_train", "image_shape"])
    n = min(int(settings["num_images"]), int(z["X_train"].shape[0]))
    X, shape = z["X_train"][:n], tuple(int(v) for v in z["image_shape"])
    Xf = X.astype(np.float64)
    sums = Xf.sum(axis=1)
    # all-black images / pixel rows have a zero sum that no rescaling can make 1: the
    # per-example and per-row checks look at the images / rows with a nonzero sum
    ex_ok, row_ok = sums > 0, Xf.reshape(n, shape[0], -1).sum(axis=2) > 0
    rows = {"raw": axis_statistics(X, shape)}
    ev = {
        "num_images": int(n),
        "threshold": float(settings["threshold"]),
        "preprocessing": list(PREPROCESSING),
        "num_black_images": int((~ex_ok).sum()),
        "num_black_pixel_rows": int((~row_ok).sum()),
        "raw_example_sum_rel_spread": float(sums.std() / np.sqrt(np.mean(sums**2))),
    }
    scale = rows["raw"]["feature_std_mean"]
    for name in PREPROCESSING:
        Xt = preprocess_for_question(name, X, shape, settings["threshold"])
        rows[name] = axis_statistics(Xt, shape)
        ev.update(_step_analog(name, Xt, rows[name], ex_ok, row_ok, scale, shape[0]))
    rows.update(_core_norm_statistics(Xf, shape))
    ev.update({f"{name}_{k}": v for name, st in rows.items() for k, v in st.items()})
    ev.update(_analog_groups({name: ev[f"{name}_analog"] for name in PREPROCESSING}))
    return {**ev, "_rows": rows}


def _relative(a, b) -> float:
    """a / |b| on the log axis of the bn-3 figure (0 drawn at 1e-18)."""
    return max(a / max(abs(b), 1e-300), 1e-18)


def plot_bn_3(ev, data):
    plt, rows = pyplot(), ev["_rows"]
    names = ["raw", *ev["preprocessing"], "core_batchnorm", "core_layernorm"]
    fm = [_relative(rows[k]["feature_mean_abs_max"], rows[k]["feature_std_mean"]) for k in names]
    ex = [
        _relative(rows[k]["example_sum_spread"], rows[k]["example_sum_mean"])
        if abs(rows[k]["example_sum_mean"]) > 1e-9
        else _relative(rows[k]["example_mean_spread"], rows[k]["example_std_mean"])
        for k in names
    ]
    fig, ax = plt.subplots(figsize=(9, 3.8))
    pos = np.arange(len(names))
    ax.bar(pos - 0.2, fm, 0.4, label="max |per-feature mean| / feature std (batch-norm axis)")
    ax.bar(pos + 0.2, ex, 0.4, label="spread of per-example sums, relative (layer-norm axis)")
    ax.set_yscale("log")
    ax.set_xticks(pos, [k.replace("_", "\n") for k in names], fontsize=7)
    title = f"bn-3: which statistic each preprocessing fixes ({ev['num_images']:,} images)"
    label_axes(ax, ylabel="statistic (log; ~0 = made constant)", legend=7, title=title)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- bn-4
def _layernorm_ranks(ev, widths, norms) -> list[int]:
    """Layer norm's rank by val accuracy at each width (1 = lowest; 0 = not in the table)."""
    ranks = []
    for i, _w in enumerate(widths):
        vals = {n: ev[f"{n}_val_acc"][i] for n in norms}
        ranks.append(
            sorted(vals, key=vals.get).index("layernorm") + 1 if "layernorm" in vals else 0
        )
    return ranks


def _layernorm_differences(ev) -> dict:
    """Layer norm's val accuracy minus the others', at the small and the largest widths."""
    out = {}
    for o in ("batchnorm", "none"):
        if f"{o}_val_acc" in ev and "layernorm_val_acc" in ev:
            for where in ("small", "largest"):
                key = f"{where}_mean_val_acc" if where == "small" else "largest_val_acc"
                out[f"ln_minus_{o}_{where}"] = ev[f"layernorm_{key}"] - ev[f"{o}_{key}"]
    for split in ("val", "train"):
        out[f"ln_minus_batchnorm_{split}_by_width"] = [
            a - b
            for a, b in zip(
                ev.get(f"layernorm_{split}_acc", []), ev.get(f"batchnorm_{split}_acc", [])
            )
        ]
    return out


def compute_bn_4(data, settings):
    """Layer norm vs batch norm vs none over hidden widths; the smallest small_widths
    widths are the "very small feature dimension" of the question."""
    runs = _runs(data, "ln_width")
    widths = sorted(int(w) for w in runs["width"].unique())
    small = widths[: int(settings["small_widths"])]
    norms = _norms(runs)
    ev = {
        "widths": widths,
        "small_widths": small,
        "num_hidden_layers": int(runs["depth"].iloc[0]) - 1,
    }
    for n in norms:
        sub = _by_norm(runs, n, "width")
        ev[f"{n}_val_acc"] = _floats(sub["val_acc"])
        ev[f"{n}_train_acc"] = _floats(sub["train_acc"])
        ev[f"{n}_small_mean_val_acc"] = float(sub[sub["width"].isin(small)]["val_acc"].mean())
        ev[f"{n}_largest_val_acc"] = float(sub[sub["width"] == widths[-1]]["val_acc"].mean())
    ev.update(_layernorm_differences(ev))
    ranks = _layernorm_ranks(ev, widths, norms)
    ev["layernorm_rank_by_width"] = ranks
    ev["layernorm_last_at_widths"] = [w for w, r in zip(widths, ranks) if r == 1]
    small_bn, small_none = ev.get("ln_minus_batchnorm_small", 0), ev.get("ln_minus_none_small", 0)
    ev["layernorm_worst_at_small_width"] = bool(small_bn < 0 and small_none < 0)
    ev["layernorm_gap_shrinks_with_width"] = bool(
        small_bn < ev.get("ln_minus_batchnorm_largest", 0)
    )
    return {**ev, "_norms": norms}


def plot_bn_4(ev, data):
    plt, widths, small = pyplot(), ev["widths"], ev["small_widths"]
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    _plot_norm_lines(ax, widths, ev, ev["_norms"])
    ax.axvspan(small[0] * 0.9, small[-1] * 1.1, color="0.9", zorder=0)
    ax.set_xscale("log", base=2)
    ax.set_xticks(widths, [str(w) for w in widths])
    title = "bn-4: layer norm vs width (shaded: small widths)"
    label_axes(ax, "hidden width", "final accuracy", legend=7, title=title)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- dropout-1
DROPOUT_KEYS = (
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
)


def _confidence(scores) -> float:
    """Mean top-class softmax probability."""
    e = np.exp(scores - scores.max(axis=1, keepdims=True))
    return float(np.mean(e.max(axis=1) / e.sum(axis=1)))


def _dropout_row(path, p, Xv, yv, rng) -> dict:
    """A trained one-hidden-layer net's hidden activations under dropout (keep p), and its
    scores when test time forgets to undo a training without the division by p."""
    with np.load(path) as z:
        W1, b1, W2, b2 = (z[k] for k in ("W1", "b1", "W2", "b2"))
    h = np.maximum(Xv @ W1 + b1, 0)
    row = dropout_train_test_means(h, p, rng)
    ok = h @ W2 + b2  # test time as implemented (identity)
    bad = (h / np.float32(p)) @ W2 + b2  # a net trained without /p, tested without *p
    return {
        **row,
        "val_acc_consistent": float(np.mean(ok.argmax(1) == yv)),
        "val_acc_mismatched": float(np.mean(bad.argmax(1) == yv)),
        "confidence_consistent": _confidence(ok),
        "confidence_mismatched": _confidence(bad),
        "score_scale_mismatched": float(np.abs(bad).mean() / np.abs(ok).mean()),
    }


def compute_dropout_1(data, settings):
    """The mean hidden activation of each trained dropout net (keep < 1, one hidden layer)
    at test time and under the core's inverted dropout, with and without the division."""
    m = int(settings["num_examples"])
    z = data.npz("data", keys=["X_val", "y_val"])
    Xv, yv = np.ascontiguousarray(z["X_val"][:m], dtype=np.float32), z["y_val"][:m]
    rng = np.random.default_rng(int(settings["seed"]))
    params = {p.parent.name: p for p in data.paths("params")}  # results/runs/<run>/
    rows = []
    for rec in data.runs["dropout"]:
        p = float(rec["spec"]["dropout_keep"])
        if p < 1.0 and len(rec["spec"]["hidden_dims"]) == 1:
            row = _dropout_row(params[rec["run"]], p, Xv, yv, rng)
            rows.append({**row, "variant": rec["variant"]})
    if not rows:
        raise ValueError(
            "the dropout table has no run with keep probability < 1 and one hidden layer"
        )
    rows.sort(key=lambda r: -r["p"])
    ev = {"num_examples": int(len(yv)), "variants": [r["variant"] for r in rows]}
    ev.update({k: [float(r[k]) for r in rows] for k in DROPOUT_KEYS})
    for k in ("ratio_train_to_test_divided", "ratio_train_to_test_not_divided"):
        if not all(math.isfinite(v) for v in ev[k]):
            raise ValueError(f"{k}: the hidden layer's test-time mean is zero")
    return ev


def plot_dropout_1(ev, data):
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    pos = np.arange(len(ev["p"]))
    ax.bar(pos - 0.27, ev["mean_test"], 0.27, label="test time (no dropout)")
    ax.bar(pos, ev["mean_train_divided"], 0.27, label="train, divided by p (inverted)")
    ax.bar(pos + 0.27, ev["mean_train_not_divided"], 0.27, label="train, not divided")
    ax.set_xticks(pos, [f"keep {p:g}" for p in ev["p"]])
    ax.set_ylabel("mean hidden activation")
    ax.legend(fontsize=7)
    ax.set_title("dropout-1: mean activation, train vs test time", fontsize=9)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- dropout-2
def compute_dropout_2(data, settings):
    """Train/val accuracy and gap for each keep probability of the dropout table."""
    runs = _runs(data, "dropout").sort_values("dropout_keep", ascending=False)
    curves = data.table("dropout")["curves"]
    ev = {
        "num_train": int(runs["num_train_used"].iloc[0]),
        "keep": _floats(runs["dropout_keep"]),
        "train_acc": _floats(runs["train_acc"]),
        "val_acc": _floats(runs["val_acc"]),
        "gap": _floats(runs["gap"]),
        "best_epoch_val_acc": [
            float(curves[curves["variant"] == v]["val_acc"].max()) for v in runs["variant"]
        ],
    }
    ev["gap_no_dropout"], ev["gap_lowest_keep"] = ev["gap"][0], ev["gap"][-1]
    ev["gap_reduction"] = ev["gap"][0] - ev["gap"][-1]
    ev["val_change"] = ev["val_acc"][-1] - ev["val_acc"][0]
    ev["dropout_reduces_gap"] = bool(ev["gap_reduction"] > 0)
    return {**ev, "_runs": runs, "_curves": curves}


def plot_dropout_2(ev, data):
    plt, curves = pyplot(), ev["_curves"]
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for i, (_, r) in enumerate(ev["_runs"].iterrows()):
        cc = curves[curves["variant"] == r["variant"]]
        keep = f"keep {r['dropout_keep']:g}"
        ax.plot(cc["epoch"], cc["train_acc"], "-", color=f"C{i}", label=f"{keep}: train")
        ax.plot(cc["epoch"], cc["val_acc"], "--", color=f"C{i}", label=f"{keep}: val")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.legend(fontsize=7, ncol=2)
    ax.set_title("dropout-2: train (solid) vs val (dashed)", fontsize=9)
    fig.tight_layout()
    return fig
