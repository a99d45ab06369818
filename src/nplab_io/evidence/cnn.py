"""Evidence for the convolutional-net questions cnn-1 .. cnn-7.

Every number comes from this run's CNN tables (runs.csv joined with the run specs, see
:func:`nplab_io.cnn_figures.cnn_frame`), run parameters, data or the CNN stage's own
jobs (results/cnn/checks.json, timing.json); the prose is in ``report/questions/cnn.yaml``.

Noise. An accuracy on n images has a binomial standard error sqrt(p(1-p)/n); the
difference of two independent ones about sqrt(2) times that. ``*_noise`` keys hold two
such standard errors of a difference: a margin below it is not a finding.
"""

from __future__ import annotations

import math
import re

import numpy as np

from nplab import conv as C
from nplab_io.cnn_figures import (
    STRATEGIES,
    cnn_frame,
    filter_grid,
    transfer_cells,
    transfer_grid,
)
from nplab_io.cnn_runs import build_cnn, cnn_macs, pixel_permutation, shuffle_pixels
from nplab_io.figures import label_axes, pyplot
from nplab_io.models import build_net

CHANCE = 0.1  # ten CIFAR-10 classes
_PARAM = re.compile(r"^(W|b|gamma|beta)\d+$")


def _frame(data, table):
    return cnn_frame(data.table(table)["runs"], data.runs[table])


def diff_noise(p: float, n: int) -> float:
    """Two standard errors of the difference of two accuracies near p on n images each."""
    p = min(max(float(p), 0.0), 1.0)
    return 2.0 * math.sqrt(2.0 * p * (1.0 - p) / max(int(n), 1))


def eval_size(records, total: int, spec_key: str | None = "num_val") -> int:
    """About how many images a table's runs were evaluated on: the split's size, times
    the share of the run's classes (CIFAR-10's splits are about balanced), capped by the
    spec's own limit (``num_val``); the smallest over the runs."""
    sizes = []
    for r in records:
        spec, n = r["spec"], int(total)
        if spec.get("classes"):
            n = round(n * len(spec["classes"]) / 10)
        if spec_key and spec.get(spec_key):
            n = min(n, int(spec[spec_key]))
        sizes.append(n)
    return min(sizes)


def _n_eval(frame, records, total: int, split: str = "val") -> int:
    """The images the table's runs were evaluated on: the runs' own count
    (``num_<split>_used``) when runs.csv has it, else :func:`eval_size`'s estimate."""
    col = f"num_{split}_used"
    if col in frame.columns and frame[col].notna().all():
        return int(frame[col].min())
    return eval_size(records, total, "num_val" if split == "val" else None)


def _one(frame, what: str, **where) -> dict:
    """The single row of ``frame`` matching ``where`` (column == value)."""
    sel = frame
    for col, value in where.items():
        sel = sel[sel[col] == value]
    if len(sel) != 1:
        raise ValueError(f"{what}: expected one run with {where}, found {len(sel)}")
    return sel.iloc[0]


def count_params(path) -> int:
    """Trainable parameters in a run's params.npz (batch-norm running statistics aside)."""
    with np.load(path) as z:
        return int(sum(z[k].size for k in z.files if _PARAM.match(k)))


def _run_file(data, name, run):
    """results/runs/<run>/<file> among the question's run files ``name``."""
    for p in data.paths(name):
        if p.parent.name == run:
            return p
    raise ValueError(f"no {name} file of run {run}")


def _spec(data, table, run) -> dict:
    return next(r["spec"] for r in data.runs[table] if r["run"] == run)


def _ranked(values: dict) -> tuple[str, float]:
    """(winner, margin over the runner-up) of {label: accuracy}."""
    order = sorted(values, key=lambda k: (-values[k], k))
    margin = values[order[0]] - values[order[1]] if len(order) > 1 else 0.0
    return order[0], float(margin)


# --------------------------------------------------------------------------- cnn-1
def _edge_outcome(edge_normal: float, edge_shuffled: float, noise: float) -> str:
    """What shuffling the pixels does to the CNN's edge over the FC net."""
    if edge_shuffled < -noise:
        return "reverses"
    if edge_shuffled <= noise:
        return "vanishes"
    return "shrinks" if edge_shuffled < edge_normal - noise else "persists"


def _example_images(data, seed: int):
    """The first validation image and its pixel-shuffled version (HWC)."""
    z = data.npz("images", keys=["X_val", "image_shape"])
    shape = tuple(int(v) for v in z["image_shape"])
    image = z["X_val"][:1]
    shuffled = shuffle_pixels(image, pixel_permutation(seed, shape), shape)
    return image.reshape(shape), shuffled.reshape(shape)


def compute_cnn_1(data, settings):
    """Validation accuracy, parameters and multiply-adds of the CNN and the FC net, on
    normal and on pixel-shuffled images (one fixed permutation for every split)."""
    f = _frame(data, "cnn_vs_fc")
    n_val = _n_eval(f, data.runs["cnn_vs_fc"], settings["num_val"])
    ev = {"num_val": n_val}
    for arch in ("cnn", "fc"):
        for shuffled, tag in ((False, "normal"), (True, "shuffled")):
            r = _one(f, "cnn_vs_fc", net=arch, shuffled=shuffled)
            ev[f"{arch}_{tag}_val_acc"] = float(r["val_acc"])
            ev[f"{arch}_{tag}_train_acc"] = float(r["train_acc"])
        spec = _spec(data, "cnn_vs_fc", r["run"])  # the shuffled run: it has the seed
        ev[f"{arch}_params"] = count_params(_run_file(data, "params", r["run"]))
        ev[f"{arch}_macs"] = cnn_macs(spec)
        ev["shuffle_seed"] = int(spec["pixel_shuffle"])
    ev["params_ratio_cnn_to_fc"] = ev["cnn_params"] / ev["fc_params"]
    ev["macs_ratio_cnn_to_fc"] = ev["cnn_macs"] / ev["fc_macs"]
    for tag in ("normal", "shuffled"):
        ev[f"cnn_edge_{tag}"] = ev[f"cnn_{tag}_val_acc"] - ev[f"fc_{tag}_val_acc"]
    for arch in ("cnn", "fc"):
        ev[f"{arch}_shuffle_change"] = ev[f"{arch}_shuffled_val_acc"] - ev[f"{arch}_normal_val_acc"]
    ev["noise"] = noise = diff_noise(np.mean([ev[k] for k in ev if k.endswith("_val_acc")]), n_val)
    ev["cnn_better_normal"] = bool(ev["cnn_edge_normal"] > noise)
    ev["cnn_worse_normal"] = bool(ev["cnn_edge_normal"] < -noise)
    ev["fc_unchanged"] = bool(abs(ev["fc_shuffle_change"]) <= noise)
    ev["cnn_hurt_by_shuffle"] = bool(ev["cnn_shuffle_change"] < -noise)
    ev["edge_outcome"] = _edge_outcome(ev["cnn_edge_normal"], ev["cnn_edge_shuffled"], noise)
    return {**ev, "_images": _example_images(data, ev["shuffle_seed"])}


def plot_cnn_1(ev, data):
    plt = pyplot()
    fig, axes = plt.subplots(
        1, 4, figsize=(12, 3.2), gridspec_kw={"width_ratios": [2.2, 1, 1.1, 1.1]}
    )
    a1, a2 = axes[0], axes[1]
    for ax, img, title in zip(axes[2:], ev["_images"], ("a validation image", "pixels shuffled")):
        ax.imshow(np.clip(img / 255.0, 0, 1), interpolation="nearest")
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    x = np.arange(2)
    for i, arch in enumerate(("cnn", "fc")):
        vals = [ev[f"{arch}_normal_val_acc"], ev[f"{arch}_shuffled_val_acc"]]
        a1.bar(x + (i - 0.5) * 0.38, vals, 0.38, color=f"C{i}", label=arch.upper())
    a1.axhline(CHANCE, color="0.5", ls=":", lw=0.8, label="chance")
    a1.set_xticks(x, ["normal images", "pixels shuffled"])
    a1.set_ylabel("validation accuracy")
    a1.legend(fontsize=8)
    a1.set_title(f"± noise {ev['noise']:.3f} (2 s.e. of a difference)", fontsize=8)
    a2.bar([0, 1], [ev["cnn_params"], ev["fc_params"]], color=["C0", "C1"])
    a2.set_xticks([0, 1], ["CNN", "FC"])
    a2.set_ylabel("parameters")
    fig.suptitle("cnn-1: CNN vs FC net on normal and pixel-shuffled images", fontsize=9)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- cnn-2
def gradient_reach(X, size: int) -> dict:
    """Pool NHWC images with size x size windows (stride = size), backpropagate a gradient
    of ones through nplab.conv's fast pool backward, and count the input positions that
    receive any gradient; also the windows whose maximum is tied."""
    pp = {"pool_height": size, "pool_width": size, "stride": size}
    out, cache = C.max_pool_forward(X, pp)
    dmax = C.max_pool_backward(np.ones_like(out), cache)
    aout, acache = C.avg_pool_forward(X, pp)
    davg = C.avg_pool_backward(np.ones_like(aout), acache)
    n, h, w, c = X.shape
    win = X[:, : h - h % size, : w - w % size].reshape(n, h // size, size, w // size, size, c)
    ties = (win == win.max(axis=(2, 4), keepdims=True)).sum(axis=(2, 4)) > 1
    return {
        "max_frac_receive": float(np.mean(dmax != 0)),
        "avg_frac_receive": float(np.mean(davg != 0)),
        "max_frac_windows_tied": float(np.mean(ties)),
        "max_share_per_window": 1.0 / (size * size),
        "avg_share_per_position": float(davg.max()),
    }


def compute_cnn_2(data, settings):
    """The pooling ablation (max / avg / stride-2 conv) and where each pooling sends the
    gradient, on real validation images."""
    f = _frame(data, "cnn_pooling")
    n_val = _n_eval(f, data.runs["cnn_pooling"], settings["num_val"])
    ev = {"num_val": n_val}
    accs = {}
    for pool in ("max", "avg", "conv"):
        r = _one(f, "cnn_pooling", pool=pool)
        accs[pool] = float(r["val_acc"])
        ev[f"{pool}_val_acc"] = accs[pool]
        ev[f"{pool}_train_acc"] = float(r["train_acc"])
        ev[f"{pool}_params"] = count_params(_run_file(data, "params", r["run"]))
    ev["winner"], ev["margin"] = _ranked(accs)
    ev["max_minus_avg"] = accs["max"] - accs["avg"]
    ev["conv_extra_params"] = ev["conv_params"] - ev["max_params"]
    ev["noise"] = diff_noise(np.mean(list(accs.values())), n_val)
    ev["margin_beyond_noise"] = bool(ev["margin"] > ev["noise"])
    z = data.npz("images", keys=["X_val", "image_shape"])
    n_img = int(settings["num_images"])
    X = z["X_val"][:n_img].astype(np.float64).reshape(-1, *(int(s) for s in z["image_shape"]))
    ev["num_images"] = len(X)
    ev["pool_size"] = int(settings["pool_size"])
    ev.update(gradient_reach(X, ev["pool_size"]))
    return ev


def plot_cnn_2(ev, data):
    plt = pyplot()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 3.4))
    pools = ["max", "avg", "conv"]
    x = np.arange(3)
    a1.bar(x - 0.2, [ev[f"{p}_train_acc"] for p in pools], 0.4, color="0.6", label="train")
    a1.bar(x + 0.2, [ev[f"{p}_val_acc"] for p in pools], 0.4, color="C0", label="val")
    a1.set_xticks(x, ["max pool", "average pool", "stride-2 conv"])
    a1.set_ylabel("accuracy")
    a1.legend(fontsize=8)
    a1.set_title("pooling ablation (cnn_pooling)", fontsize=9)
    a2.bar([0, 1], [ev["max_frac_receive"], ev["avg_frac_receive"]], color=["C3", "C2"])
    a2.axhline(ev["max_share_per_window"], color="0.4", ls="--", lw=0.8, label="1 per window")
    a2.set_xticks([0, 1], ["max", "average"])
    a2.set_ylim(0, 1.05)
    title = f"{ev['num_images']} validation images, {ev['pool_size']}×{ev['pool_size']}"
    label_axes(a2, ylabel="fraction of input positions\nreceiving gradient", legend=8, title=title)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- cnn-3
def neighbour_corr(w) -> float:
    """Correlation between horizontally / vertically adjacent weights of the same channel,
    pooled over (..., H, W, C, F) filters, each centred on its own mean: ~0 for random
    weights, towards 1 for smooth filters."""
    w = np.asarray(w, np.float64)
    w = w - w.mean(axis=(0, 1, 2), keepdims=True)
    pairs = [(w[:, :-1], w[:, 1:]), (w[:-1], w[1:])]
    num = sum(float(np.sum(a * b)) for a, b in pairs)
    den = sum(math.sqrt(float(np.sum(a * a)) * float(np.sum(b * b))) for a, b in pairs)
    return num / den if den else 0.0


def colour_stats(w) -> dict:
    """Of (H, W, 3, F) filters: the fraction of their energy in colour (the part that is
    not the same in all three channels; 2/3 for random weights, 0 for grey filters), the
    mean correlation between two channels' spatial patterns, and the fraction of filters
    with an opponent channel pair (correlation below -0.5)."""
    w = np.asarray(w, np.float64)
    w = w - w.mean(axis=(0, 1, 2), keepdims=True)
    grey = w.mean(axis=2, keepdims=True)
    chroma = np.sum((w - grey) ** 2, axis=(0, 1, 2)) / np.maximum(
        np.sum(w**2, axis=(0, 1, 2)), 1e-30
    )
    flat = w.reshape(-1, 3, w.shape[-1])
    corr = []
    with np.errstate(invalid="ignore", divide="ignore"):  # a flat channel: corr 0
        for f in range(flat.shape[-1]):
            c = np.corrcoef(flat[:, :, f].T)
            corr.append([c[0, 1], c[0, 2], c[1, 2]])
    corr = np.nan_to_num(np.array(corr))
    return {
        "colour_fraction": float(chroma.mean()),
        "channel_corr": float(corr.mean()),
        "opponent_fraction": float(np.mean(corr.min(axis=1) < -0.5)),
    }


def _filter_stats(prefix, w, w0) -> dict:
    ev = {
        f"{prefix}_smoothness": neighbour_corr(w),
        f"{prefix}_init_smoothness": neighbour_corr(w0),
    }
    ev.update({f"{prefix}_{k}": v for k, v in colour_stats(w).items()})
    ev.update({f"{prefix}_init_{k}": v for k, v in colour_stats(w0).items()})
    ev[f"{prefix}_change_from_init"] = float(np.linalg.norm(w - w0) / np.linalg.norm(w0))
    return ev


def _conv_filters(data, run, spec, shape) -> tuple[np.ndarray, np.ndarray]:
    """A CNN run's first-layer weights, trained and at init (rebuilt from its spec: the
    same seed draws the same weights)."""
    with np.load(_run_file(data, "params", run)) as z:
        w = z["W1"].astype(np.float64)
    k = len(spec["classes"]) if spec.get("classes") else 10
    return w, build_cnn(spec, shape, k).params["W1"].astype(np.float64)


def _fc_templates(data, best, shape) -> tuple[np.ndarray, np.ndarray]:
    """The best two-layer net's first-layer weights as (H, W, C, hidden) images, trained
    and at init."""
    with np.load(_run_file(data, "params", best["run"])) as z:
        t = z["W1"].astype(np.float64)
    t0 = build_net(best["spec"], t.shape[0], 10).params["W1"].astype(np.float64)
    return t.reshape(*shape, -1), t0.reshape(*shape, -1)


def compute_cnn_3(data, settings):
    """First-layer filters of the best CNN and of the notebook's three-layer convnet
    (7x7), trained and at init, next to the first-layer templates of the best two-layer
    net (twolayer_search): smoothness, colour, distance from init."""
    shape = tuple(int(s) for s in settings["image_shape"])
    best, fc_best = data.json("cnn_best"), data.json("fc_best")
    three = data.runs["cnn_three_layer"][0]
    nets = {
        "cnn": _conv_filters(data, best["run"], best["spec"], shape),
        "three_layer": _conv_filters(data, three["run"], three["spec"], shape),
        "fc": _fc_templates(data, fc_best, shape),
    }
    ev = {"cnn_variant": best["variant"], "cnn_val_acc": float(best["val_acc"])}
    ev["three_layer_val_acc"] = float(data.table("cnn_three_layer")["runs"]["val_acc"].iloc[0])
    ev["fc_val_acc"] = float(fc_best["val_acc"])
    noise = ev["smoothness_noise"] = float(settings["smoothness_noise"])
    # iid weights: the channel mean keeps 1/C of the energy, colour the rest
    ev["random_colour_fraction"] = 1 - 1 / shape[-1]
    for name, (w, w0) in nets.items():
        ev[f"{name}_num_filters"] = int(w.shape[-1])
        ev[f"{name}_filter_size"] = int(w.shape[0])
        ev.update(_filter_stats(name, w, w0))
        ev[f"{name}_smoother_than_init"] = bool(
            ev[f"{name}_smoothness"] > ev[f"{name}_init_smoothness"] + noise
        )
    ev["any_conv_smoother_than_init"] = (
        ev["cnn_smoother_than_init"] or ev["three_layer_smoother_than_init"]
    )
    return {**ev, "_filters": nets}


def plot_cnn_3(ev, data):
    plt = pyplot()
    nets = ev["_filters"]
    rows = [
        ("cnn", 0, f"best CNN, trained (val {ev['cnn_val_acc']:.3f})"),
        ("cnn", 1, "best CNN at init"),
        ("three_layer", 0, f"three-layer convnet, trained (val {ev['three_layer_val_acc']:.3f})"),
        ("three_layer", 1, "three-layer convnet at init"),
        ("fc", 0, f"two-layer FC net: first-layer templates (val {ev['fc_val_acc']:.3f})"),
    ]
    cols = 16
    fig, axes = plt.subplots(
        len(rows), cols, figsize=(cols * 0.75, 0.95 * len(rows)), squeeze=False
    )
    for ax in axes.ravel():
        ax.axis("off")
    for i, (name, which, label) in enumerate(rows):
        w = nets[name][which]
        n = min(w.shape[-1], cols)
        filter_grid(axes[i, :n], w[..., :n], label)
    fig.suptitle("cnn-3: first-layer filters (each rescaled to its own min-max)", fontsize=9)
    return fig


# --------------------------------------------------------------------------- cnn-4
def compute_cnn_4(data, settings):
    """Validation accuracy and train - val gap per augmentation, against none."""
    f = _frame(data, "cnn_augment")
    n_val = _n_eval(f, data.runs["cnn_augment"], settings["num_val"])
    base = _one(f, "cnn_augment", augmentation="none")
    hflip = _one(f, "cnn_augment", augmentation="hflip")
    vflip = _one(f, "cnn_augment", augmentation="vflip")
    gap = (f["train_acc"] - f["val_acc"]).astype(float)
    delta = (f["val_acc"] - float(base["val_acc"])).astype(float)
    noise = diff_noise(float(f["val_acc"].mean()), n_val)
    ev = {
        "num_val": n_val,
        "variants": [str(v) for v in f["variant"]],
        "augmentations": [str(a) for a in f["augmentation"]],
        "val_acc": [float(v) for v in f["val_acc"]],
        "train_acc": [float(v) for v in f["train_acc"]],
        "gap": [float(v) for v in gap],
        "delta_vs_none": [float(v) for v in delta],
        "noise": noise,
        "none_val_acc": float(base["val_acc"]),
        "none_gap": float(base["train_acc"] - base["val_acc"]),
        "hflip_delta": float(hflip["val_acc"] - base["val_acc"]),
        "vflip_delta": float(vflip["val_acc"] - base["val_acc"]),
        "vflip_minus_hflip": float(vflip["val_acc"] - hflip["val_acc"]),
    }
    i = int(np.argmax(f["val_acc"].to_numpy()))
    ev.update(
        best_variant=ev["variants"][i],
        best_val_acc=ev["val_acc"][i],
        best_delta=ev["delta_vs_none"][i],
        best_gap=ev["gap"][i],
    )
    ev["helped"] = [v for v, d in zip(ev["variants"], delta) if d > noise]
    ev["hurt"] = [v for v, d in zip(ev["variants"], delta) if d < -noise]
    ev["vflip_worse_than_hflip"] = bool(ev["vflip_minus_hflip"] < -noise)
    return ev


def plot_cnn_4(ev, data):
    plt = pyplot()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.6))
    x = np.arange(len(ev["variants"]))
    colours = [
        "C3" if a == "vflip" else ("C2" if a == "hflip" else "C0") for a in ev["augmentations"]
    ]
    a1.bar(x, ev["delta_vs_none"], color=colours)
    a1.axhspan(-ev["noise"], ev["noise"], color="0.85", zorder=0, label="noise (2 s.e.)")
    a1.set_ylabel("val accuracy − no augmentation")
    a1.legend(fontsize=7)
    a2.bar(x, ev["gap"], color="C1")
    a2.set_ylabel("train − val accuracy")
    for ax in (a1, a2):
        ax.set_xticks(x, ev["variants"], rotation=35, ha="right", fontsize=7)
    fig.suptitle(
        f"cnn-4: augmentation ablation (no augmentation: val {ev['none_val_acc']:.3f})", fontsize=9
    )
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- cnn-5
def _classes(spec) -> set:
    return {str(c) for c in (spec.get("classes") or [])}


def compute_cnn_5(data, settings):
    """Test accuracy of the 12 transfer cells; per case the winning strategy, its margin
    and the gain of the better pretrained strategy over training from scratch."""
    f = _frame(data, "cnn_transfer")
    cells = transfer_cells(f, "test_acc")
    n_test = _n_eval(f, data.runs["cnn_transfer"], settings["num_test"], "test")
    ev = {"num_test": n_test, "noise": diff_noise(float(f["test_acc"].mean()), n_test), "cases": []}
    for (task, size), cell in sorted(cells.items()):
        if set(cell) != set(STRATEGIES):
            raise ValueError(f"cnn_transfer: case {task}/{size} has strategies {sorted(cell)}")
        key = f"{task}_{size}"
        ev["cases"].append(key)
        ev.update({f"{key}_{s}": cell[s] for s in STRATEGIES})
        ev[f"{key}_winner"], ev[f"{key}_margin"] = _ranked(cell)
        ev[f"{key}_gain"] = max(cell["frozen"], cell["finetune"]) - cell["scratch"]
    if len(ev["cases"]) != 4:
        raise ValueError(f"cnn_transfer: expected 4 cases, found {ev['cases']}")
    source = {c for r in data.runs["cnn_transfer_source"] for c in _classes(r["spec"])}
    target = {c for r in data.runs["cnn_transfer"] for c in _classes(r["spec"])}
    ev["classes_disjoint"] = bool(source and target and not source & target)
    ev["small_similar_goal"] = float(settings["goal_gain"])
    ev["small_similar_goal_met"] = bool(ev["similar_small_gain"] >= ev["small_similar_goal"])
    return {**ev, "_frame": f}


def plot_cnn_5(ev, data):
    return transfer_grid(ev["_frame"], "cnn-5: transfer learning, test accuracy per case")


# --------------------------------------------------------------------------- cnn-6
def compute_cnn_6(data, settings):
    """Validation accuracy vs batch size for none / spatial batch norm / group norm."""
    f = _frame(data, "cnn_norm")
    sizes = sorted(int(b) for b in set(f["batch_size"]))
    n_val = _n_eval(f, data.runs["cnn_norm"], settings["num_val"])
    ev = {"batch_sizes": sizes, "num_val": n_val, "norms": []}
    for norm in ("none", "batch", "group"):
        sub = f[f["norm"] == norm]
        if sub.empty:
            raise ValueError(f"cnn_norm: no runs with norm {norm!r}")
        accs = [float(_one(sub, "cnn_norm", batch_size=b)["val_acc"]) for b in sizes]
        ev["norms"].append(norm)
        ev[f"{norm}_val_acc"] = accs
        ev[f"{norm}_range"] = max(accs) - min(accs)
        ev[f"{norm}_smallest_minus_largest"] = accs[0] - accs[-1]
    ev["noise"] = diff_noise(float(f["val_acc"].mean()), ev["num_val"])
    # against none at the same batch size: a larger batch also means fewer updates per epoch
    for norm in ("batch", "group"):
        rel = [a - b for a, b in zip(ev[f"{norm}_val_acc"], ev["none_val_acc"])]
        ev[f"{norm}_minus_none"] = rel
        ev[f"{norm}_shift"] = rel[-1] - rel[0]  # largest batch minus smallest
    bs, gs = abs(ev["batch_shift"]), abs(ev["group_shift"])
    ev["batch_more_sensitive"] = bool(bs > gs + ev["noise"])
    ev["group_more_sensitive"] = bool(gs > bs + ev["noise"])
    return ev


def plot_cnn_6(ev, data):
    plt = pyplot()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.6))
    sizes = ev["batch_sizes"]
    for i, norm in enumerate(ev["norms"]):
        a1.plot(sizes, ev[f"{norm}_val_acc"], "-o", color=f"C{i}", label=norm)
        if norm != "none":
            a2.plot(sizes, ev[f"{norm}_minus_none"], "-o", color=f"C{i}", label=norm)
    a2.axhspan(-ev["noise"], ev["noise"], color="0.88", zorder=0, label="noise (2 s.e.)")
    a2.axhline(0, color="0.4", lw=0.8)
    for ax, label in ((a1, "validation accuracy"), (a2, "val accuracy − no normalisation")):
        ax.set_xscale("log", base=2)
        ax.set_xticks(sizes, [str(b) for b in sizes])
        ax.set(xlabel="batch size", ylabel=label)
        ax.legend(fontsize=7)
    fig.suptitle("cnn-6: normalisation vs batch size (fixed epochs)", fontsize=9)
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- cnn-7
def compute_cnn_7(data, settings):
    """Naive vs fast speed-ups and the fast convolution's GFLOP/s against a plain matmul
    of the same size (timing.json: volatile, every key says timing), and the naive == fast
    differences (checks.json)."""
    t, chk = data.json("timing"), data.json("checks")
    conv, pool, lab = t["conv"], t["pool"], t["lab"]
    diffs = chk["naive_vs_fast_max_abs_diff"]
    ev = {
        "threads": int(t["threads"]),
        "conv_positions": int(conv["positions"]),
        "conv_x_shape": conv["x_shape"],
        "conv_w_shape": conv["w_shape"],
        "conv_stride": int(conv["stride"]),
        "conv_pad": int(conv["pad"]),
        "pool_x_shape": pool["x_shape"],
        "patch_size": int(np.prod(conv["w_shape"][:3])),
        "num_filters": int(conv["w_shape"][3]),
        "naive_fast_max_abs_diff": float(max(diffs.values())),
        "naive_equals_fast": bool(chk["naive_equals_fast"]),
        "lab_batch": int(lab["layers"][0]["batch"]),
        "lab_layers": len(lab["layers"]),
    }
    timing = {
        "conv_forward_speedup": conv["forward_speedup"],
        "conv_backward_speedup": conv["backward_speedup"],
        "pool_forward_speedup": pool["forward_speedup"],
        "pool_backward_speedup": pool["backward_speedup"],
        "naive_us_per_position": 1e6 * conv["naive_forward_seconds_per_position"],
        "naive_forward_gflops": conv["naive_forward_gflops_per_s"],
        "fast_forward_gflops": conv["fast_forward_gflops_per_s"],
        "lab_conv_gflops": lab["conv_gflops_per_s"],
        "lab_matmul_gflops": lab["matmul_gflops_per_s"],
        "lab_fraction_of_matmul": lab["ratio_to_baseline"],
    }
    ev.update({f"timing_{k}": float(v) for k, v in timing.items()})
    # a speed-up is stated only when far beyond timing noise (see the registry entry)
    big = float(settings["big_speedup"])
    ev["timing_speedups_beyond_noise"] = bool(
        min(timing[k] for k in timing if k.endswith("speedup")) >= big
    )
    ev["timing_big_speedup"] = big
    return {**ev, "_lab": lab}


def plot_cnn_7(ev, data):
    plt = pyplot()
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 3.6))
    names = ["conv forward", "conv backward", "max pool forward", "max pool backward"]
    keys = ["conv_forward", "conv_backward", "pool_forward", "pool_backward"]
    a1.bar(range(4), [ev[f"timing_{k}_speedup"] for k in keys], color="C0")
    a1.set_yscale("log")
    a1.set_xticks(range(4), names, rotation=20, fontsize=8)
    a1.set_ylabel("naive time / fast time")
    a1.set_title("speed-up on the notebook's shapes", fontsize=9)
    layers = ev["_lab"]["layers"]
    x = np.arange(len(layers))
    a2.bar(x - 0.2, [r["conv_gflops_per_s"] for r in layers], 0.4, label="fast conv (fwd + bwd)")
    a2.bar(
        x + 0.2, [r["matmul_gflops_per_s"] for r in layers], 0.4, label="plain matmul, same sizes"
    )
    a2.set_xticks(x, [f"{r['c_in']}→{r['c_out']}\n@{r['hw']}" for r in layers], fontsize=7)
    a2.set_ylabel("GFLOP/s (float32)")
    a2.legend(fontsize=7)
    a2.set_title(f"lab layers, batch {ev['lab_batch']}, {ev['threads']} threads", fontsize=9)
    fig.suptitle("cnn-7: timings of this run (they vary between runs)", fontsize=9)
    fig.tight_layout()
    return fig
