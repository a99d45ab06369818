"""Extras beyond the course (rule extras_table):

schedules  results/extras/schedules.csv: the four LR schedules (step, cosine, linear,
           inverse sqrt) and none on one model; figure: the learning rate each run used per
           epoch and its validation accuracy.
init       results/extras/init.csv: weight-init schemes on a 6-hidden-layer net, ReLU and
           tanh: per layer the activation std / saturated fraction on the validation images
           at init and after training, and the accuracies; figure: std per layer at init.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from nplab_io.figures import label_axes, pyplot, save_figure
from nplab_io.jobs import run_job
from nplab_io.tables import write_csv_atomic

plt = pyplot()


def write_csv(df, path):
    write_csv_atomic(path, df, float_format="%.6g")


def schedules(sm, log, runs, curves):
    rows = []
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.8))
    for i, (_, r) in enumerate(runs.iterrows()):
        c = curves[curves["run"] == r["run"]].sort_values("epoch")
        rows.append(
            {
                "schedule": r["variant"],
                "schedule_params": r.get("schedule_params", ""),
                "lr0": float(r["lr"]),
                "lr_first_epoch": float(c["lr"].iloc[0]),
                "lr_last_epoch": float(c["lr"].iloc[-1]),
                "epochs": int(r["epochs_run"]),
                "final_loss": float(r["final_loss"]),
                "train_acc": float(r["train_acc"]),
                "val_acc": float(r["val_acc"]),
                "test_acc": float(r["test_acc"]),
            }
        )
        a1.step(c["epoch"] - 1, c["lr"], where="post", color=f"C{i}", label=r["variant"])
        a2.plot(c["epoch"], c["val_acc"], "-o", ms=3, color=f"C{i}", label=r["variant"])
    a1.set_xlabel("epoch t (0-based)")
    a1.set_ylabel("learning rate")
    a1.set_title("the schedules: step a0*g^floor(t/s), cosine, linear, a0/sqrt(t+eps)", fontsize=8)
    a1.legend(fontsize=7)
    a2.set_xlabel("epoch")
    a2.set_ylabel("validation accuracy")
    a2.legend(fontsize=7, loc="lower right")
    a2.set_title("one model ([256], SGD, batch 128)", fontsize=9)
    fig.tight_layout()
    df = pd.DataFrame(rows)
    log.info("schedules: best val %s", df.loc[df["val_acc"].idxmax()].to_dict())
    return df, fig


def init(sm, log, runs, curves):
    hist = {Path(p).parent.name: p for p in sm.input.history}
    rows = []
    acts = sorted(runs["activation"].unique())
    fig, axes = plt.subplots(1, len(acts) + 1, figsize=(5 * (len(acts) + 1), 3.8))
    for ai, act in enumerate(acts):
        sub = runs[runs["activation"] == act]
        for i, (_, r) in enumerate(sub.iterrows()):
            with np.load(hist[r["run"]]) as h:
                st = {k: h[k] for k in h.files if k.startswith(("init_", "final_"))}
            for li, layer in enumerate(st.get("init_layer", [])):
                rows.append(
                    {
                        "activation": act,
                        "init": r["init"],
                        "layer": int(layer),
                        "init_mean": float(st["init_mean"][li]),
                        "init_std": float(st["init_std"][li]),
                        "init_frac_saturated": float(st["init_frac_saturated"][li]),
                        "final_std": float(st["final_std"][li]),
                        "final_frac_saturated": float(st["final_frac_saturated"][li]),
                        "train_acc": float(r["train_acc"]),
                        "val_acc": float(r["val_acc"]),
                        "test_acc": float(r["test_acc"]),
                        "diverged": bool(r["diverged"]),
                    }
                )
            if "init_std" in st:
                axes[ai].plot(
                    st["init_layer"],
                    np.maximum(st["init_std"], 1e-12),
                    "-o",
                    ms=3,
                    color=f"C{i}",
                    label=f"{r['init']} (val {r['val_acc']:.3f})",
                )
        axes[ai].set_yscale("log")
        ylabel = "activation std at init (validation images)"
        label_axes(axes[ai], "hidden layer", ylabel, title=f"{act}", legend=7)
    ax = axes[-1]
    inits = list(dict.fromkeys(runs["init"]))
    pos = np.arange(len(inits))
    for ai, act in enumerate(acts):
        sub = runs[runs["activation"] == act].set_index("init")
        ax.bar(
            pos + (ai - 0.5) * 0.4, [float(sub.loc[i, "val_acc"]) for i in inits], 0.4, label=act
        )
    ax.set_xticks(pos, inits)
    ax.set_ylabel("validation accuracy after training")
    ax.set_ylim(0, 1)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return pd.DataFrame(rows), fig


def main(sm, log):
    runs, curves, _loss, timings = (pd.read_csv(f) for f in sm.input.tables)
    df, fig = {"schedules": schedules, "init": init}[sm.params.extra](sm, log, runs, curves)
    save_figure(fig, sm.output.fig)
    write_csv(df, sm.output.csv)


run_job(snakemake, main)
