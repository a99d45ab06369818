"""results/mnist/best.csv: per MNIST table the best faithful and the best tuned row (by val
accuracy), and the val-selected best model of mnist_best; the overall best by val first."""

from pathlib import Path

import pandas as pd

from nplab_io.atomic import read_json
from nplab_io.jobs import run_job
from nplab_io.tables import write_csv_atomic


def main(sm, log):
    rows = []
    for path in sm.input.tables:
        df = pd.read_csv(path)
        for kind in ("faithful", "tuned"):
            ok = df[df[f"{kind}_val_acc"].notna()]
            if ok.empty:
                continue
            r = ok.loc[ok[f"{kind}_val_acc"].idxmax()]
            rows.append(
                {
                    "source": f"{kind}: {Path(path).stem}",
                    "variant": r["variant"],
                    "epochs": int(r["epochs_run"]),
                    "run": r[f"{kind}_run"],
                    "val_acc": float(r[f"{kind}_val_acc"]),
                    "test_acc": float(r[f"{kind}_test_acc"]),
                    "train_acc": float(r[f"{kind}_train_acc"]),
                }
            )
    best = read_json(sm.input.best)
    spec = best["spec"]
    rows.append(
        {
            "source": "mnist_best",
            "variant": (
                f"{spec['hidden_dims']} {spec['init']} init, dropout keep {spec['dropout_keep']:g}, "
                f"{spec['optimizer']} lr {spec['lr']:g}, "
                f"{spec['schedule']} schedule, batch {spec['batch_size']}, reg {spec['reg']:g}"
            ),
            "epochs": int(spec["epochs"]),
            "run": best["run"],
            "val_acc": float(best["val_acc"]),
            "test_acc": float(best["test_acc"]),
            "train_acc": float(best["train_acc"]),
        }
    )
    out = pd.DataFrame(rows).sort_values("val_acc", ascending=False, kind="stable")
    out.insert(0, "rank_by_val", range(1, len(out) + 1))
    log.info("best by val: %s", out.iloc[0].to_dict())
    write_csv_atomic(sm.output.csv, out, float_format="%.6g")


run_job(snakemake, main)
