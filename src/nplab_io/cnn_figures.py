"""The CNN tables read as one frame per table, and their figures (rule cnn_figure and the
cnn-* questions' plots).

:func:`cnn_frame` joins a table's runs.csv with its run specs (the config's expansion) and
adds what the figures and the evidence group by: ``net`` ("fc" for a net without
convolutions, else "cnn"), ``norm`` and ``pool`` of the first block, ``shuffled``,
``augmentation`` (the transform names joined with "+", "none" without any), and for
transfer runs ``strategy`` (scratch / frozen / finetune), ``task`` and ``size``.
"""

from __future__ import annotations

import json
import math
import textwrap

import numpy as np
import pandas as pd

from nplab_io.figures import pyplot
from nplab_io.sources import CIFAR10_CLASS_NAMES

__all__ = [
    "CIFAR10_CLASSES",
    "STRATEGIES",
    "cnn_frame",
    "transfer_cells",
    "curves",
    "norm_batch_size",
    "augment_bars",
    "transfer_grid",
    "confusion",
    "filter_grid",
    "FIGURES",
]

CIFAR10_CLASSES = tuple(CIFAR10_CLASS_NAMES)
STRATEGIES = ("scratch", "frozen", "finetune")
TASKS = ("similar", "different")
SIZES = ("small", "large")
#: the spec's transfer targets (CIFAR-10 labels): 3 animals like the source's bird, cat,
#: deer (dog, frog, horse) and 3 vehicles (automobile, ship, truck)
TASK_CLASSES = {"similar": (5, 6, 7), "different": (1, 8, 9)}
#: ``arch`` values of fully-connected nets (convnet, three_layer: CNNs)
FC_ARCHS = ("fc",)


def _json(v):
    """A spec value as stored in runs.csv (JSON text) or in a run record (already parsed)."""
    if isinstance(v, str):
        try:
            return json.loads(v)
        except ValueError:
            return v
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    return v


def _first_block(spec) -> dict:
    blocks = _json(spec.get("blocks")) or [{}]
    return blocks[0] if isinstance(blocks[0], dict) else {}


def _augment_label(spec) -> str:
    items = _json(spec.get("augment")) or []
    return "+".join(str(a.get("name", "?")) for a in items) or "none"


def _strategy(spec) -> str:
    if not (spec.get("init_from") or spec.get("init_run")):
        return "scratch"
    return "frozen" if spec.get("freeze") not in (None, "none") else "finetune"


def _net(spec) -> str:
    return "fc" if str(spec.get("arch", "")).lower() in FC_ARCHS else "cnn"


def _task(spec, words) -> str:
    """similar / different: the target classes of the spec, else a word of the label."""
    classes = tuple(int(c) for c in _json(spec.get("classes")) or ())
    for task, wanted in TASK_CLASSES.items():
        if classes and sorted(classes) == sorted(wanted):
            return task
    return next((t for t in TASKS if t in words), "")


def _size(spec, words) -> str:
    """small (a per-class cap) / large (all images of the classes)."""
    if spec.get("classes"):
        return "small" if spec.get("per_class") is not None else "large"
    return next((s for s in SIZES if s in words), "")


def _labels(spec, variant: str) -> dict:
    block = _first_block(spec)
    words = variant.replace(",", " ").replace("/", " ").split()
    return {
        "net": _net(spec),
        "norm": str(block.get("norm") or "none"),
        "pool": str(block.get("pool", "max") or "none"),
        "shuffled": _json(spec.get("pixel_shuffle")) is not None,  # its value is a seed
        "augmentation": _augment_label(spec),
        "strategy": _strategy(spec),
        "task": _task(spec, words),
        "size": _size(spec, words),
    }


def cnn_frame(runs: pd.DataFrame, records) -> pd.DataFrame:
    """runs.csv of one table + the labels derived from each run's spec (joined on run)."""
    if runs.empty:
        raise ValueError("the table has no runs")
    by_run = {r["run"]: r for r in records}
    extra = pd.DataFrame(
        [_labels(by_run[run]["spec"], str(v)) for run, v in zip(runs["run"], runs["variant"])]
    )
    kept = runs.drop(columns=[c for c in extra.columns if c in runs.columns])
    return pd.concat([kept.reset_index(drop=True), extra], axis=1)


def transfer_cells(frame: pd.DataFrame, metric: str = "test_acc") -> dict:
    """{(task, size): {strategy: value}} of the transfer table."""
    cells: dict = {}
    for _, r in frame.iterrows():
        cells.setdefault((r["task"], r["size"]), {})[r["strategy"]] = float(r[metric])
    return cells


# --------------------------------------------------------------------------- figures
def wrap(title: str, width: int = 110) -> str:
    """A long title (a table's description) over several lines."""
    return "\n".join(textwrap.wrap(title, width)) or title


def curves(runs, curv, loss, title):
    """Loss per iteration and train/val accuracy per epoch, one colour per run."""
    plt = pyplot()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.6))
    many = len(runs) > 1
    cmap = plt.get_cmap("tab20" if len(runs) > 10 else "tab10")  # the 12 transfer cells
    for i, (run, v) in enumerate(zip(runs["run"], runs["variant"])):
        lc, cc, c = loss[loss["run"] == run], curv[curv["run"] == run], cmap(i % cmap.N)
        a1.plot(lc["iteration"], lc["loss"], color=c, lw=0.7, label=v if many else None)
        a2.plot(cc["epoch"], cc["train_acc"], "-o", color=c, ms=2, lw=0.8)
        a2.plot(cc["epoch"], cc["val_acc"], "--s", color=c, ms=2, lw=0.8)
    a1.set(xlabel="iteration", ylabel="training loss (minibatch)", title="loss")
    best = runs.loc[runs["val_acc"].idxmax()]
    a2.set(
        xlabel="epoch",
        ylabel="accuracy",
        title=f"train (solid) / val (dashed); best val {best['val_acc']:.3f}",
    )
    if many:
        a1.legend(fontsize=6, ncol=2 if len(runs) > 6 else 1)
    fig.suptitle(wrap(title), fontsize=8)
    fig.tight_layout()
    return fig


def norm_batch_size(frame, title):
    """Validation accuracy vs batch size, one line per normalisation."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for i, (norm, g) in enumerate(frame.sort_values("batch_size").groupby("norm", sort=True)):
        ax.plot(g["batch_size"], g["val_acc"], "-o", color=f"C{i}", label=norm)
    ax.set_xscale("log", base=2)
    ax.set(xlabel="batch size", ylabel="validation accuracy")
    ax.set_title(wrap(title, 70), fontsize=8)
    ax.legend(fontsize=8, title="normalisation", title_fontsize=8)
    fig.tight_layout()
    return fig


def augment_bars(frame, title):
    """Validation accuracy and train - val gap per augmentation (table order)."""
    plt = pyplot()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.6))
    x = np.arange(len(frame))
    base = frame.loc[frame["augmentation"] == "none", "val_acc"]
    colours = ["C3" if a == "vflip" else "C0" for a in frame["augmentation"]]
    a1.bar(x, frame["val_acc"], color=colours)
    if len(base):
        a1.axhline(float(base.iloc[0]), color="0.3", ls="--", lw=0.8)
    a2.bar(x, frame["train_acc"] - frame["val_acc"], color="C1")
    for ax, label in ((a1, "validation accuracy"), (a2, "train - val accuracy")):
        ax.set_xticks(x, frame["variant"], rotation=35, ha="right", fontsize=7)
        ax.set_ylabel(label)
    lo = float(frame["val_acc"].min())
    a1.set_ylim(max(0.0, lo - 0.1), min(1.0, float(frame["val_acc"].max()) + 0.05))
    fig.suptitle(wrap(title), fontsize=8)
    fig.tight_layout()
    return fig


def transfer_grid(frame, title, metric="test_acc"):
    """2 x 2 panels (task x size), three bars each (the strategies)."""
    plt = pyplot()
    cells = transfer_cells(frame, metric)
    fig, axes = plt.subplots(2, 2, figsize=(7.5, 5.2), sharey=True)
    for i, task in enumerate(TASKS):
        for j, size in enumerate(SIZES):
            ax, cell = axes[i, j], cells.get((task, size), {})
            vals = [cell.get(s, np.nan) for s in STRATEGIES]
            bars = ax.bar(range(3), vals, color=["0.6", "C0", "C2"])
            for b, v in zip(bars, vals):
                if not math.isnan(v):
                    ax.annotate(
                        f"{v:.3f}", (b.get_x() + 0.4, v), ha="center", va="bottom", fontsize=7
                    )
            ax.set_xticks(range(3), STRATEGIES, fontsize=8)
            ax.set_title(f"{task} task, {size} data", fontsize=9)
            ax.set_ylim(0, 1.05)
        axes[i, 0].set_ylabel(metric.replace("_", " "))
    fig.suptitle(wrap(title, 90), fontsize=8)
    fig.tight_layout()
    return fig


def confusion(best: dict, title):
    """The confusion matrix of best.json (rows: true class)."""
    plt = pyplot()
    m = np.asarray(best["confusion"], dtype=float)
    names = best.get("class_names") or list(CIFAR10_CLASSES[: len(m)])
    fig, ax = plt.subplots(figsize=(5.6, 4.8))
    im = ax.imshow(m / np.maximum(m.sum(axis=1, keepdims=True), 1), cmap="Blues", vmin=0, vmax=1)
    for (i, j), v in np.ndenumerate(m):
        ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=6)
    ax.set_xticks(range(len(m)), names, rotation=45, ha="right", fontsize=7)
    ax.set_yticks(range(len(m)), names, fontsize=7)
    ax.set(xlabel="predicted", ylabel="true")
    ax.set_title(wrap(title, 70), fontsize=8)
    fig.colorbar(im, ax=ax, fraction=0.046, label="fraction of the true class")
    fig.tight_layout()
    return fig


def filter_grid(ax_row, filters, label):
    """Draw (k, k, 3, F) filters (or (H, W, 3, F) templates) on a row of axes, each
    rescaled to its own min-max."""
    for ax, f in zip(ax_row, np.moveaxis(filters, -1, 0)):
        lo, hi = float(f.min()), float(f.max())
        ax.imshow((f - lo) / (hi - lo if hi > lo else 1.0), interpolation="nearest")
        ax.axis("off")
    ax_row[0].set_title(label, fontsize=7, loc="left")


#: figure kind -> function(frame, tables, best, title) used by workflow/scripts/cnn_figures.py
FIGURES = {
    "curves": lambda f, t, b, title: curves(f, t["curves"], t["loss"], title),
    "norm_batch_size": lambda f, t, b, title: norm_batch_size(f, title),
    "augment_bars": lambda f, t, b, title: augment_bars(f, title),
    "transfer_grid": lambda f, t, b, title: transfer_grid(f, title),
    "confusion": lambda f, t, b, title: confusion(b, title),
}
