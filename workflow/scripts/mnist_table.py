"""results/mnist/<name>.csv: the write-up's rows with our faithful and tuned numbers beside
them (logic: nplab_io.mnist.join_table)."""

import pandas as pd

from nplab_io.jobs import run_job
from nplab_io.mnist import join_table
from nplab_io.tables import write_csv_atomic


def load(files):
    """(runs joined with timings, curves) from runs.csv, curves.csv, timings.csv."""
    runs, curves, timings = (pd.read_csv(f) for f in files)
    extra = [c for c in timings.columns if c not in runs.columns or c == "run"]
    runs = runs.merge(timings[extra], on="run", how="left")
    return runs, curves


def main(sm, log):
    files = list(sm.input.tables)
    faithful, tuned = load(files[:3]), load(files[3:6])
    seed = pd.read_csv(sm.input.seed)
    n_train = int(faithful[0]["num_train_used"].max())
    df = join_table(
        sm.params.name,
        seed,
        faithful,
        tuned,
        n_train,
        extra_rows=[tuple(r) for r in sm.params.extra_rows],
        max_epochs=sm.params.max_epochs,
    )
    log.info("%s: %d rows (n_train %d)", sm.params.name, len(df), n_train)
    write_csv_atomic(sm.output.csv, df, float_format="%.6g")


run_job(snakemake, main)
