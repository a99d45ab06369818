"""The MNIST lab's tables: our faithful and tuned runs joined beside the write-up's numbers.

Variant labels of the mnist tables are ``"<group>"`` or ``"<group>, <key>=<value>, ..."``
(e.g. ``"L2+RMSprop, reg=10"``, ``"tanh, lr=0.25"``): every run of a group is a candidate
for the same write-up row, and the candidate with the best VALIDATION accuracy at the
row's epoch count is reported (its test accuracy is the row's number).

Pure functions over plain records (lists of dicts / DataFrames); the workflow scripts read
the files and write the outputs.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

__all__ = [
    "split_label",
    "equivalent_mean_lr",
    "pick_candidates",
    "writeup_rows",
    "best_per_group",
    "loss_per_example",
    "perceptron_summary",
    "epochs_to_reach",
    "value_at_time",
    "loss_noise",
    "weight_sparsity",
    "mean_difference_separator",
    "join_table",
    "JOIN_COLUMNS",
    "WRITEUP_EXPERIMENT",
    "ADAPTIVE",
]

#: our table suffix (mnist_<suffix>, mnist_tuned_<suffix>) -> seed_results "experiment"
WRITEUP_EXPERIMENT = {
    "depth": "depth",
    "loss": None,
    "activation": "activation",
    "batching": "batching",
    "optimizers": "optimizer",
    "regularization": "regularization",
}
#: update rules whose step does not depend on the gradient's scale (up to epsilon)
ADAPTIVE = ("adagrad", "rmsprop", "adam", "adam_no_bias_correction")

JOIN_COLUMNS = [
    "table",
    "variant",
    "epochs",
    "epochs_run",
    "writeup_lr",
    "writeup_test_acc",
    "writeup_train_acc",
    "writeup_wall_time_s",
    "faithful_run",
    "faithful_reg",
    "faithful_val_acc",
    "faithful_test_acc",
    "faithful_train_acc",
    "faithful_wall_time_s",
    "faithful_candidates",
    "tuned_run",
    "tuned_lr",
    "tuned_reg",
    "tuned_val_acc",
    "tuned_test_acc",
    "tuned_train_acc",
    "tuned_wall_time_s",
    "tuned_candidates",
    "batch_size",
    "equivalent_mean_lr",
    "note",
]


def split_label(label: str) -> tuple[str, dict]:
    """``"L2+RMSprop, reg=10"`` -> ``("L2+RMSprop", {"reg": "10"})``; a bare label is its group."""
    parts = [p.strip() for p in str(label).split(", ")]
    group, params = parts[0], {}
    for p in parts[1:]:
        if "=" not in p:
            raise ValueError(f"variant label {label!r}: expected '<group>, key=value', got {p!r}")
        k, v = p.split("=", 1)
        params[k.strip()] = v.strip()
    return group, params


def equivalent_mean_lr(lr: float, batch_size: int, optimizer: str) -> float:
    """The mean-reduced lr that takes the same steps as ``lr`` on gradients summed over
    ``batch_size`` examples: ``lr * batch_size`` for (momentum) SGD; the same lr for the
    adaptive rules (Adagrad, RMSProp, Adam divide the scale out, up to epsilon)."""
    if not (isinstance(batch_size, int) and batch_size >= 1):
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
    if not (math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a finite number > 0, got {lr!r}")
    return float(lr) if optimizer in ADAPTIVE else float(lr) * batch_size


def _at_epoch(run: dict, curves: pd.DataFrame, epochs: int) -> dict | None:
    """Accuracies / wall time of one run after ``epochs`` epochs (None: not recorded)."""
    if int(run["epochs"]) == epochs:
        test, train, wall = run.get("test_acc"), run.get("train_acc"), run.get("wall_time_s")
    else:
        test, train = run.get(f"test_acc_epoch{epochs}"), run.get(f"train_acc_epoch{epochs}")
        wall = run.get(f"elapsed_epoch{epochs}_s")
        if test is None or (isinstance(test, float) and math.isnan(test)):
            return None
    c = curves[(curves["run"] == run["run"]) & (curves["epoch"] == epochs)]
    val = (
        float(c["val_acc"].iloc[0])
        if len(c)
        else (float(run["val_acc"]) if int(run["epochs"]) == epochs else None)
    )
    if val is None:
        return None
    return {
        "run": run["run"],
        "val_acc": val,
        "test_acc": None if test is None else float(test),
        "train_acc": None if train is None else float(train),
        "wall_time_s": None
        if wall is None or (isinstance(wall, float) and math.isnan(wall))
        else float(wall),
    }


def pick_candidates(
    runs: pd.DataFrame, curves: pd.DataFrame, group: str, epochs: int, diverged_ok: bool = False
) -> dict | None:
    """The run of ``group`` with the best val accuracy after ``epochs`` epochs.

    ``runs``: a table's runs.csv joined with its timings (``wall_time_s``, ``elapsed_epoch*_s``).
    Ties go to the first run in table order. Returns the record plus ``candidates`` (how many
    runs competed), ``lr`` and ``reg`` of the winner; None if no run of the group recorded
    that epoch.
    """
    best, n = None, 0
    for _, r in runs.iterrows():
        if split_label(r["variant"])[0] != group:
            continue
        if not diverged_ok and bool(r.get("diverged", False)):
            continue
        rec = _at_epoch(r.to_dict(), curves, epochs)
        if rec is None:
            continue
        n += 1
        if best is None or rec["val_acc"] > best["val_acc"]:
            best = dict(
                rec,
                lr=float(r["lr"]),
                reg=float(r.get("reg", 0.0) or 0.0),
                batch_size=r["batch_size"],
                optimizer=r["optimizer"],
            )
    if best is not None:
        best["candidates"] = n
    return best


def writeup_rows(seed: pd.DataFrame, experiment: str | None) -> pd.DataFrame:
    """The write-up's rows (source mnist_lab) of one experiment, in file order."""
    cols = ["variant", "lr", "epochs", "wall_time_s", "test_acc", "train_acc", "note"]
    if experiment is None:
        return pd.DataFrame(columns=cols)
    sub = seed[(seed["source"] == "mnist_lab") & (seed["experiment"] == experiment)]
    return sub[cols].reset_index(drop=True)


def _batch_int(batch_size, n_train: int) -> int:
    return n_train if str(batch_size) == "full" else int(batch_size)


def join_table(
    name: str,
    seed: pd.DataFrame,
    faithful: tuple[pd.DataFrame, pd.DataFrame],
    tuned: tuple[pd.DataFrame, pd.DataFrame],
    n_train: int,
    extra_rows: Iterable[tuple] = (),
    max_epochs: int | None = None,
) -> pd.DataFrame:
    """One tidy table: every write-up row of ``name`` (plus ``extra_rows`` = (group, epochs)
    or (group, epochs, note) rows the write-up has no number for) with our faithful and
    tuned numbers beside it.

    ``faithful``/``tuned``: (runs, curves) of mnist_<name> and mnist_tuned_<name>.
    ``n_train``: training examples (the batch size of full-batch runs). ``max_epochs``: the
    config's epoch cap (quick config): a row's runs are then read after
    ``min(epochs, max_epochs)`` epochs (column ``epochs_run``).
    """
    wu = writeup_rows(seed, WRITEUP_EXPERIMENT[name])
    keys = [(str(r["variant"]), int(r["epochs"])) for _, r in wu.iterrows()]
    extra_notes = {}
    for r in extra_rows:
        if len(r) not in (2, 3):
            raise ValueError(f"extra row {r!r}: expected (group, epochs) or (group, epochs, note)")
        key = (str(r[0]), int(r[1]))
        if key not in keys:
            keys.append(key)
        if len(r) == 3:
            extra_notes[key] = str(r[2])
    rows = []
    for group, epochs in keys:
        w = wu[(wu["variant"] == group) & (wu["epochs"] == epochs)]
        ep = epochs if max_epochs is None else min(epochs, int(max_epochs))
        f = pick_candidates(*faithful, group, ep)
        t = pick_candidates(*tuned, group, ep)
        row = {"table": name, "variant": group, "epochs": epochs, "epochs_run": ep}
        if len(w):
            w = w.iloc[0]
            row.update(
                writeup_lr=float(w["lr"]),
                writeup_test_acc=float(w["test_acc"]),
                writeup_train_acc=float(w["train_acc"]) if pd.notna(w["train_acc"]) else None,
                writeup_wall_time_s=float(w["wall_time_s"]),
                note=str(w["note"]) if pd.notna(w["note"]) else "",
            )
        notes = [row.get("note", "")] if row.get("note") else []
        if (group, epochs) in extra_notes:
            notes.append(extra_notes[(group, epochs)])
        for prefix, rec in (("faithful", f), ("tuned", t)):
            if rec is None:
                continue
            row.update(
                {
                    f"{prefix}_run": rec["run"],
                    f"{prefix}_val_acc": rec["val_acc"],
                    f"{prefix}_test_acc": rec["test_acc"],
                    f"{prefix}_train_acc": rec["train_acc"],
                    f"{prefix}_wall_time_s": rec["wall_time_s"],
                    f"{prefix}_reg": rec["reg"],
                    f"{prefix}_candidates": rec["candidates"],
                }
            )
            if prefix == "tuned":
                row["tuned_lr"] = rec["lr"]
        if f is not None:
            b = _batch_int(f["batch_size"], n_train)
            row["batch_size"] = b
            row["equivalent_mean_lr"] = equivalent_mean_lr(f["lr"], b, f["optimizer"])
            if f["optimizer"] in ADAPTIVE:
                notes.append(
                    f"{f['optimizer']}: scale-invariant, equivalent lr = "
                    + ("write-up lr" if len(w) else "the run's lr")
                )
            if f["candidates"] > 1:
                notes.append(f"faithful reg {f['reg']:g} chosen on val from {f['candidates']} runs")
        if t is not None and t["candidates"] > 1:
            notes.append(f"tuned lr {t['lr']:g} chosen on val from {t['candidates']} runs")
        row["note"] = "; ".join(notes)
        rows.append(row)
    df = pd.DataFrame(rows)
    for c in JOIN_COLUMNS:
        if c not in df.columns:
            df[c] = None
    return df[JOIN_COLUMNS]


def best_per_group(runs: pd.DataFrame) -> dict:
    """``{group: run record}``: per variant group the run with the best final val accuracy
    (diverged runs only if the group has nothing else), groups in table order."""
    out: dict = {}
    for _, r in runs.iterrows():
        g = split_label(r["variant"])[0]
        rec = r.to_dict()
        rec["reg"] = float(rec.get("reg", 0.0) or 0.0)
        cur = out.get(g)
        key = (not bool(rec.get("diverged", False)), float(rec["val_acc"]))
        if cur is None or key > (not bool(cur.get("diverged", False)), float(cur["val_acc"])):
            out[g] = rec
    return out


def loss_per_example(loss, run: dict):
    """A run's loss values per example: summed (reduction "sum") losses divided by the
    batch size (the training set size for full-batch runs); mean losses unchanged."""
    if run.get("reduction") != "sum":
        return loss
    b = run["batch_size"]
    n = int(run["num_train_used"]) if str(b) == "full" else int(b)
    return loss / n


def perceptron_summary(model, X, y, X_test=None, y_test=None) -> dict:
    """Numbers of a fitted :class:`nplab.perceptron.Perceptron` on (X, y): updates, epochs,
    Novikoff's R, the margin gamma of the separator it found and the bound (R/gamma)^2
    (valid for any separator, so ``n_updates <= bound`` when it converged), accuracies."""
    from nplab.perceptron import convergence_bound

    out = {
        "n_train": int(len(y)),
        "n_positive": int(np.sum(np.asarray(y) == model.classes_[1])),
        "epochs": int(model.epochs_),
        "converged": bool(model.converged_),
        "n_updates": int(model.n_updates_),
        "train_acc": model.score(X, y),
    }
    if model.converged_:
        b = convergence_bound(X, y, model.w_, model.b_)
        out.update(R=float(b["R"]), gamma=float(b["gamma"]), bound=float(b["bound"]))
        out["bound_holds"] = bool(out["n_updates"] <= out["bound"])
    else:
        out.update(R=float("nan"), gamma=float("nan"), bound=float("nan"), bound_holds=None)
    sep = mean_difference_separator(X, y, model.classes_)
    if sep is not None:
        b = convergence_bound(X, y, *sep)
        out.update(mean_diff_gamma=float(b["gamma"]), mean_diff_bound=float(b["bound"]))
    else:
        out.update(mean_diff_gamma=float("nan"), mean_diff_bound=float("nan"))
    if X_test is not None:
        out["n_test"] = int(len(y_test))
        out["test_acc"] = model.score(X_test, y_test)
    return out


def epochs_to_reach(epochs, values, target: float) -> int | None:
    """The first epoch whose value is >= ``target`` (None if never)."""
    for e, v in zip(epochs, values):
        if np.isfinite(v) and v >= target:
            return int(e)
    return None


def value_at_time(times, values, budget: float) -> float | None:
    """The last value recorded at or before ``budget`` seconds (None if none was)."""
    times = np.asarray(times, dtype=float)
    values = np.asarray(values, dtype=float)
    ok = np.nonzero(times <= budget + 1e-9)[0]
    return float(values[ok[-1]]) if len(ok) else None


def loss_noise(loss) -> dict:
    """How jumpy a loss curve is: the fraction of steps where it rose, and the mean
    |log(loss[t+1] / loss[t])| (finite, positive values only)."""
    v = np.asarray(loss, dtype=float)
    v = v[np.isfinite(v) & (v > 0)]
    if len(v) < 2:
        return {"increase_frac": 0.0, "mean_abs_log_change": 0.0}
    d = np.diff(np.log(v))
    return {
        "increase_frac": float(np.mean(d > 0)),
        "mean_abs_log_change": float(np.mean(np.abs(d))),
    }


def weight_sparsity(w, tol: float) -> dict:
    """Fraction of |w| < tol, and the L1 / L2 norms of ``w`` (float64)."""
    w = np.asarray(w, dtype=np.float64).ravel()
    return {
        "frac_near_zero": float(np.mean(np.abs(w) < tol)),
        "l1": float(np.abs(w).sum()),
        "l2": float(np.sqrt(np.sum(w * w))),
    }


def mean_difference_separator(X, y, classes=(0, 1)):
    """``(w, b)`` with ``w`` = mean of the positive class - mean of the negative class and
    ``b`` halfway between the two classes' closest scores, if that separates the data
    (every positive score above every negative one), else None."""
    X = np.asarray(X, dtype=np.float64)
    pos = np.asarray(y) == classes[1]
    if pos.all() or not pos.any():
        return None
    w = X[pos].mean(axis=0) - X[~pos].mean(axis=0)
    s = X @ w
    lo, hi = float(s[~pos].max()), float(s[pos].min())
    if hi <= lo:
        return None
    return w, -(lo + hi) / 2
