"""fcnet-2: how large the steps of AdaGrad and Adam are, iteration by iteration.

Retrains the fc_optimizers table's ``adagrad`` and ``adam`` runs (the same specs, so the
same data, init and batches) with the core's update rules wrapped to record, for every
weight matrix and iteration: the relative update |dW|/|W|, the gradient norm, and the
per-coordinate learning rate the rule applied (lr / (sqrt(cache) + eps); median and mean
over the matrix). Rows with ``param == "all"`` aggregate the weight matrices."""

import numpy as np
import pandas as pd

from nplab import optim
from nplab.diagnostics import effective_learning_rate, relative_update
from nplab_io.jobs import run_job
from nplab_io.models import build_net, build_solver
from nplab_io.tables import write_csv_atomic


def load(path, spec):
    with np.load(path) as z:
        n = spec["num_train"]
        Xtr = np.ascontiguousarray(z["X_train"][:n] if n else z["X_train"], dtype=np.float32)
        ytr = z["y_train"][:n] if n else z["y_train"]
        nv = spec["num_val"]
        Xva = np.ascontiguousarray(z["X_val"][:nv] if nv else z["X_val"], dtype=np.float32)
        yva = z["y_val"][:nv] if nv else z["y_val"]
    return {"X_train": Xtr, "y_train": ytr, "X_val": Xva, "y_val": yva}


def record_run(variant, spec, data, log):
    rule = spec["optimizer"]
    base = optim.OPTIMIZERS[rule]
    model = build_net(spec, int(data["X_train"].shape[1]), int(data["y_train"].max()) + 1)
    weights = [k for k in model.params if k.startswith("W")]
    rows = []
    names = {}  # id(per-parameter config dict) -> parameter name
    state = {"calls": 0, "agg": {}}

    def update(w, dw, config):
        name = names[id(config)]
        state["calls"] += 1
        it = (state["calls"] - 1) // len(names)
        if name not in weights:
            return base(w, dw, config)
        before = w.astype(np.float64)
        next_w, config = base(w, dw, config)
        eff = effective_learning_rate(rule, config)
        delta = np.linalg.norm(next_w.astype(np.float64) - before)
        rows.append(
            {
                "optimizer": variant,
                "iteration": it + 1,
                "param": name,
                "rel_update": relative_update(before, next_w),
                "grad_norm": float(np.linalg.norm(np.asarray(dw, dtype=np.float64))),
                "eff_lr_median": float(np.median(eff)),
                "eff_lr_mean": float(np.mean(eff)),
                "lr": float(config["learning_rate"]),
            }
        )
        agg = state["agg"].setdefault(it + 1, [0.0, 0.0, [], 0.0])
        agg[0] += delta**2
        agg[1] += float(np.sum(before**2))
        agg[2].append(eff.ravel())
        agg[3] += float(np.sum(np.asarray(dw, dtype=np.float64) ** 2))
        if name == weights[-1]:  # the iteration's last weight matrix: summarise, free
            eff_all = np.concatenate(agg[2])
            agg[2] = (float(np.median(eff_all)), float(np.mean(eff_all)))
        return next_w, config

    solver = build_solver(spec, model, data, update_rule=update)
    names.update({id(c): k for k, c in solver.optim_configs.items()})
    hist = solver.train()
    losses = hist.loss_history
    for it, (d2, w2, (eff_med, eff_mean), g2) in sorted(state["agg"].items()):
        rows.append(
            {
                "optimizer": variant,
                "iteration": it,
                "param": "all",
                "rel_update": float(np.sqrt(d2) / np.sqrt(w2)) if w2 > 0 else 0.0,
                "grad_norm": float(np.sqrt(g2)),
                "eff_lr_median": eff_med,
                "eff_lr_mean": eff_mean,
                "lr": float(spec["lr"]),
            }
        )
    df = pd.DataFrame(rows)
    df["loss"] = [float(losses[i - 1]) for i in df["iteration"]]
    log.info(
        "%s: %d iterations, final val acc %.4f, median eff lr %.3g -> %.3g",
        variant,
        hist.iterations,
        hist.val_acc_history[-1] if len(hist.val_acc_history) else -1,
        df[df.param == "all"]["eff_lr_median"].iloc[0],
        df[df.param == "all"]["eff_lr_median"].iloc[-1],
    )
    return df


def main(sm, log):
    if not sm.params.runs:
        raise ValueError("the fc_optimizers table has no 'adagrad' and 'adam' variants")
    frames = []
    for r in sm.params.runs:
        spec = dict(r["spec"])
        frames.append(record_run(r["variant"], spec, load(sm.input.data, spec), log))
    df = pd.concat(frames, ignore_index=True)
    df = df.sort_values(["optimizer", "param", "iteration"], kind="stable")
    if not np.isfinite(df.select_dtypes("number").to_numpy()).all():
        raise ValueError("non-finite step sizes recorded (did a run diverge?)")
    write_csv_atomic(sm.output.csv, df, float_format="%.8g")


run_job(snakemake, main)
