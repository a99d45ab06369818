"""One figure of the two-layer / deep fully-connected net tables (rule nets_figure).

Reads the tables' runs.csv / curves.csv / loss.csv (and, for the first-layer weights, the
best twolayer_search run's params.npz named by best.json) and draws the figure named by
the ``fig`` wildcard."""

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from nplab_io.atomic import read_json
from nplab_io.figures import label_axes, pyplot, save_figure

plt = pyplot()


def load_tables(sm):
    """{table: (runs, curves, loss)} from the input list (3 files per table, in order)."""
    files = list(sm.input.tables)
    out = {}
    for i, t in enumerate(sm.params.tables):
        runs, curves, loss = (pd.read_csv(f) for f in files[3 * i : 3 * i + 3])
        if runs.empty:
            raise ValueError(f"{files[3 * i]}: no runs")
        runs["depth"] = [len(json.loads(h)) + 1 for h in runs["hidden_dims"]]
        runs["width"] = [json.loads(h)[0] if json.loads(h) else 0 for h in runs["hidden_dims"]]
        out[t] = (runs, curves, loss)
    return out


def _var_curves(df, variant):
    return df[df["variant"] == variant]


def curves(sm, tabs, title):
    """Loss per iteration and train/val accuracy per epoch, one colour per variant."""
    runs, curv, loss = tabs
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.6))
    for i, v in enumerate(runs["variant"]):
        lc, cc = _var_curves(loss, v), _var_curves(curv, v)
        label = v if len(runs) > 1 else None
        a1.plot(lc["iteration"], lc["loss"], color=f"C{i}", lw=0.8, label=label)
        a2.plot(
            cc["epoch"],
            cc["train_acc"],
            "-o",
            color=f"C{i}",
            ms=3,
            label=f"{v}: train" if label else "train",
        )
        a2.plot(
            cc["epoch"],
            cc["val_acc"],
            "--s",
            color=f"C{i}" if label else "C1",
            ms=3,
            label=f"{v}: val" if label else "val",
        )
    a1.set_xlabel("iteration")
    a1.set_ylabel("training loss (minibatch)")
    a1.set_title("loss")
    a2.set_xlabel("epoch")
    a2.set_ylabel("accuracy")
    best = runs.loc[runs["val_acc"].idxmax()]
    a2.set_title(f"accuracy (best val {best['val_acc']:.3f}, train {best['train_acc']:.3f})")
    a2.legend(fontsize=7)
    if len(runs) > 1:
        a1.legend(fontsize=7)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def weights_grid(sm, tabs):
    """First-layer weights of the best twolayer_search run as 32x32x3 images."""
    runs, _, _ = tabs
    best = read_json(sm.input.best)
    paths = {Path(p).parent.name: p for p in sm.input.params}  # results/runs/<run>/
    with np.load(paths[best["run"]]) as z:
        W1 = z["W1"].astype(np.float64)
    if W1.shape[0] != 32 * 32 * 3:
        raise ValueError(f"W1 has {W1.shape[0]} rows; expected 3072 CIFAR-10 pixels")
    H_all = W1.shape[1]
    # at most 100 units (those with the largest weight norm, in unit order) keep the figure
    # readable and the embedded PNG small
    keep = np.sort(np.argsort(-np.linalg.norm(W1, axis=0), kind="stable")[:100])
    W1 = W1[:, keep]
    H = W1.shape[1]
    cols = int(math.ceil(math.sqrt(H)))
    rows = int(math.ceil(H / cols))
    pad = 1
    mosaic = np.ones((rows * (32 + pad) + pad, cols * (32 + pad) + pad, 3))
    for j in range(H):
        img = W1[:, j].reshape(32, 32, 3)
        lo, hi = img.min(), img.max()
        img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
        r, c = divmod(j, cols)
        mosaic[
            pad + r * (32 + pad) : pad + r * (32 + pad) + 32,
            pad + c * (32 + pad) : pad + c * (32 + pad) + 32,
        ] = img
    size = min(12, max(4, cols * 0.45))
    fig, ax = plt.subplots(figsize=(size, size * rows / cols + 0.4))
    ax.imshow(mosaic, interpolation="nearest")
    ax.axis("off")
    ax.set_title(
        f"first-layer weights of the best twolayer_search run ({best['variant']}; "
        f"{H} of {H_all} hidden units"
        + (" with the largest weight norm" if H_all > H else "")
        + f"; val {best['val_acc']:.3f}, test {best['test_acc']:.3f})",
        fontsize=8,
    )
    return fig


def search_heatmap(sm, tabs):
    """Validation accuracy per lr x reg, one panel per hidden size x epochs."""
    runs, _, _ = tabs
    hs = sorted(runs["hidden_dims"].unique(), key=lambda h: json.loads(h))
    eps = sorted(runs["epochs"].unique())
    lrs = sorted(runs["lr"].unique())
    regs = sorted(runs["reg"].unique())
    best = runs.loc[runs["val_acc"].idxmax()]
    vmin, vmax = runs["val_acc"].min(), runs["val_acc"].max()
    fig, axes = plt.subplots(
        len(hs),
        len(eps),
        figsize=(2.6 * len(eps) + 1.2, 2.2 * len(hs) + 0.8),
        squeeze=False,
        layout="constrained",
    )
    im = None
    for i, h in enumerate(hs):
        for j, e in enumerate(eps):
            ax = axes[i, j]
            sub = runs[(runs["hidden_dims"] == h) & (runs["epochs"] == e)]
            grid = np.full((len(regs), len(lrs)), np.nan)
            for _, r in sub.iterrows():
                grid[regs.index(r["reg"]), lrs.index(r["lr"])] = r["val_acc"]
            im = ax.imshow(grid, cmap="viridis", vmin=vmin, vmax=vmax, aspect="auto")
            for a in range(len(regs)):
                for b in range(len(lrs)):
                    if np.isfinite(grid[a, b]):
                        is_best = (
                            h == best["hidden_dims"]
                            and e == best["epochs"]
                            and regs[a] == best["reg"]
                            and lrs[b] == best["lr"]
                        )
                        ax.text(
                            b,
                            a,
                            f"{grid[a, b]:.3f}",
                            ha="center",
                            va="center",
                            fontsize=7,
                            color="w" if grid[a, b] < (vmin + vmax) / 2 else "k",
                            fontweight="bold" if is_best else "normal",
                        )
            ax.set_xticks(range(len(lrs)), [f"{x:g}" for x in lrs], fontsize=7)
            ax.set_yticks(range(len(regs)), [f"{x:g}" for x in regs], fontsize=7)
            ax.set_title(f"hidden {json.loads(h)}, {e} epochs", fontsize=8)
            if i == len(hs) - 1:
                ax.set_xlabel("learning rate", fontsize=8)
            if j == 0:
                ax.set_ylabel("reg", fontsize=8)
    fig.colorbar(im, ax=axes, shrink=0.8, label="validation accuracy")
    fig.suptitle(f"twolayer_search: best {best['variant']} (val {best['val_acc']:.3f})", fontsize=9)
    return fig


def overfit(sm, tabs):
    runs, curv, loss = tabs
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.4))
    for i, v in enumerate(runs["variant"]):
        cc, lc = _var_curves(curv, v), _var_curves(loss, v)
        a1.plot(cc["epoch"], cc["train_acc"], "-o", ms=3, color=f"C{i}", label=f"{v}: train")
        a1.plot(cc["epoch"], cc["val_acc"], "--", color=f"C{i}", label=f"{v}: val")
        a2.plot(lc["iteration"], lc["loss"], color=f"C{i}", label=v)
    a1.axhline(1.0, color="0.5", lw=0.8, ls=":")
    a1.set_xlabel("epoch")
    a1.set_ylabel("accuracy")
    a1.legend(fontsize=7)
    a1.set_title(
        "train accuracy reaches 100%? "
        + ", ".join(
            f"{v}: {'yes' if a >= 1.0 else f'no ({a:.2f})'}"
            for v, a in zip(runs["variant"], runs["train_acc"])
        ),
        fontsize=8,
    )
    a2.set_xlabel("iteration")
    a2.set_ylabel("training loss")
    a2.set_yscale("log")
    a2.legend(fontsize=7)
    fig.suptitle(f"fc_overfit: {int(runs['num_train_used'].iloc[0])} training examples", fontsize=9)
    fig.tight_layout()
    return fig


def _mark_diverged(ax, sub, x, ycol, yfallback):
    d = sub[sub["diverged"].astype(bool)]
    if len(d):
        y = [r[ycol] if ycol in r and pd.notna(r[ycol]) else yfallback for _, r in d.iterrows()]
        ax.scatter(d[x], y, marker="x", s=60, color="k", zorder=5, label="diverged")


def scale_sweep(sm, tabs, group, panels, title):
    """Metrics vs weight_scale (log x), one line per ``group`` value; diverged runs as x."""
    runs, _, _ = tabs
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.5))
    for ax, (col, label, logy) in zip(np.atleast_1d(axes), panels):
        top = None
        if logy:
            vals = runs[col].dropna()
            top = float(vals.max()) if len(vals) else 1.0
        for i, (g, sub) in enumerate(runs.groupby(group, sort=True)):
            sub = sub.sort_values("weight_scale")
            ax.plot(sub["weight_scale"], sub[col], "-o", ms=4, color=f"C{i}", label=str(g))
            _mark_diverged(ax, sub, "weight_scale", col, top if logy else 0.0)
        ax.set_xscale("log")
        if logy:
            ax.set_yscale("log")
        ax.set_xlabel("weight scale")
        ax.set_ylabel(label)
        handles, labels = ax.get_legend_handles_labels()
        uniq = dict(zip(labels, handles))
        ax.legend(uniq.values(), uniq.keys(), fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def optimizers(sm, tabs):
    runs, curv, loss = tabs
    fig, axes = plt.subplots(1, 3, figsize=(14, 3.6))
    for i, v in enumerate(runs["variant"]):
        lc, cc = _var_curves(loss, v), _var_curves(curv, v)
        axes[0].plot(lc["iteration"], lc["loss"], lw=0.7, color=f"C{i}", label=v)
        axes[1].plot(cc["epoch"], cc["train_acc"], "-o", ms=3, color=f"C{i}", label=v)
        axes[2].plot(cc["epoch"], cc["val_acc"], "-o", ms=3, color=f"C{i}", label=v)
    for ax, yl in zip(axes, ["training loss", "train accuracy", "val accuracy"]):
        ax.set_ylabel(yl)
        ax.set_xlabel("iteration" if yl == "training loss" else "epoch")
    first = loss.groupby("variant")["loss"].first().dropna()
    if len(first) and np.isfinite(loss["loss"]).any():
        top = 1.3 * float(first.median())
        axes[0].set_ylim(min(float(loss["loss"].min()), top) * 0.9, top)
        axes[0].set_ylabel(f"training loss (clipped at {top:.2f})")
    axes[0].legend(fontsize=7)
    best = runs.loc[runs["val_acc"].idxmax()]
    fig.suptitle(
        f"update rules ({int(runs['num_train_used'].iloc[0])} examples, "
        f"{json.loads(runs['hidden_dims'].iloc[0])} net): best val "
        f"{best['val_acc']:.3f} ({best['variant']})",
        fontsize=9,
    )
    fig.tight_layout()
    return fig


def batch_size(sm, tabs):
    runs, curv, _ = tabs
    norms = [n for n in ("none", "batchnorm", "layernorm") if n in set(runs["normalization"])]
    fig, axes = plt.subplots(
        2, len(norms), figsize=(4 * len(norms), 6), squeeze=False, sharey="row"
    )
    sizes = sorted(runs["batch_size"].unique(), key=lambda b: int(b) if str(b).isdigit() else 0)
    for j, n in enumerate(norms):
        for k, b in enumerate(sizes):
            r = runs[(runs["normalization"] == n) & (runs["batch_size"] == b)]
            if r.empty:
                continue
            cc = _var_curves(curv, r["variant"].iloc[0])
            axes[0, j].plot(
                cc["epoch"], cc["train_acc"], "-o", ms=3, color=f"C{k}", label=f"batch {b}"
            )
            axes[1, j].plot(
                cc["epoch"], cc["val_acc"], "-o", ms=3, color=f"C{k}", label=f"batch {b}"
            )
        axes[0, j].set_title(n, fontsize=9)
        axes[1, j].set_xlabel("epoch")
    axes[0, 0].set_ylabel("train accuracy")
    axes[1, 0].set_ylabel("val accuracy")
    axes[0, 0].legend(fontsize=7)
    fig.suptitle("batch norm / layer norm / none vs batch size", fontsize=9)
    fig.tight_layout()
    return fig


def widths(sm, tabs):
    runs, _, _ = tabs
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
    for i, (n, sub) in enumerate(runs.groupby("normalization", sort=True)):
        sub = sub.sort_values("width")
        axes[0].plot(sub["width"], sub["val_acc"], "-o", ms=4, color=f"C{i}", label=n)
        axes[1].plot(sub["width"], sub["train_acc"], "-o", ms=4, color=f"C{i}", label=n)
    for ax, yl in zip(axes, ["val accuracy", "train accuracy"]):
        ax.set_xscale("log", base=2)
        ax.set_xlabel("hidden width (every hidden layer)")
        ax.set_ylabel(yl)
        ax.legend(fontsize=7)
    fig.suptitle(
        f"layer norm vs width ({int(runs['depth'].iloc[0]) - 1} hidden layers)", fontsize=9
    )
    fig.tight_layout()
    return fig


def dropout(sm, tabs):
    runs, curv, _ = tabs
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    for i, (_, r) in enumerate(runs.sort_values("dropout_keep", ascending=False).iterrows()):
        cc = _var_curves(curv, r["variant"])
        for ax, col in zip(axes, ("train_acc", "val_acc")):
            ax.plot(
                cc["epoch"], cc[col], "-o", ms=3, color=f"C{i}", label=f"keep {r['dropout_keep']:g}"
            )
    for ax, split in zip(axes, ("train", "val")):
        ax.set_title(f"{split} accuracy")
        label_axes(ax, "epoch", legend=7)
    axes[0].set_ylabel("accuracy")
    fig.suptitle(f"dropout: {int(runs['num_train_used'].iloc[0])} training examples", fontsize=9)
    fig.tight_layout()
    return fig


def fc_best_curves(sm, tabs):
    r = tabs[0].iloc[0]
    return curves(
        sm,
        tabs,
        f"best fully-connected net (fc_best): "
        f"{json.loads(r['hidden_dims'])}, {r['normalization']}, "
        f"keep {r['dropout_keep']:g}, {r['optimizer']}",
    )


def fc_init_scale(sm, tabs):
    runs = tabs[0]
    runs["net"] = [f"{d}-layer" for d in runs["depth"]]
    title = (
        f"init scale: 3- vs 5-layer nets, {int(runs['num_train_used'].iloc[0])} "
        f"examples, {int(runs['epochs'].iloc[0])} epochs (x = diverged)"
    )
    panels = [("train_acc", "final train accuracy", False)]
    panels += [("final_loss", "final training loss (last epoch)", True)]
    return scale_sweep(sm, tabs, "net", panels, title)


def bn_init_scale(sm, tabs):
    runs = tabs[0]
    title = (
        f"batch norm vs none over init scales "
        f"({json.loads(runs['hidden_dims'].iloc[0])}, "
        f"{int(runs['num_train_used'].iloc[0])} examples; x = diverged)"
    )
    panels = [(col, f"{col.split('_')[0]} accuracy", False) for col in ("val_acc", "train_acc")]
    panels += [("final_loss", "final training loss", True)]
    return scale_sweep(sm, tabs, "normalization", panels, title)


#: figure name -> function(sm, the tables of its first table) -> Figure
FIGURES = {
    "twolayer_default_curves": lambda sm, tabs: curves(
        sm, tabs, "two-layer net, the course's first run (twolayer_default)"
    ),
    "fc_best_curves": fc_best_curves,
    "twolayer_weights": weights_grid,
    "twolayer_search": search_heatmap,
    "fc_overfit": overfit,
    "fc_init_scale": fc_init_scale,
    "fc_optimizers": optimizers,
    "bn_init_scale": bn_init_scale,
    "bn_batch_size": batch_size,
    "ln_width": widths,
    "dropout_curves": dropout,
}


def main(sm, log):
    fig_name = sm.wildcards.fig
    if fig_name not in FIGURES:  # pragma: no cover - the wildcard is constrained
        raise ValueError(f"unknown figure {fig_name!r}")
    tabs = load_tables(sm)
    fig = FIGURES[fig_name](sm, tabs[sm.params.tables[0]])
    save_figure(fig, sm.output.fig)
    log.info("figure %s written", fig_name)
