"""One figure of the CNN tables (rule cnn_figure): the figure kind and its table are the
rule's params; the drawing is nplab_io.cnn_figures."""

import json

import pandas as pd

from nplab_io.cnn_figures import FIGURES, cnn_frame
from nplab_io.figures import save_figure
from nplab_io.jobs import run_job


def main(sm, log):
    table, kind = sm.params.table, sm.params.kind
    files = {p.split("/")[-1].split(".")[0]: p for p in sm.input.tables}
    tabs = {name: pd.read_csv(path) for name, path in files.items()}
    frame = cnn_frame(tabs["runs"], sm.params.runs[table])
    best = None
    best_path = dict(sm.input.items()).get("best")
    if best_path:
        with open(best_path, encoding="utf-8") as fh:
            best = json.load(fh)
    title = f"{table}: {sm.params.description}" if sm.params.description else table
    fig = FIGURES[kind](frame, tabs, best, title)
    save_figure(fig, list(sm.output.fig))
    log.info("%s (%s): %d runs", table, kind, len(frame))


run_job(snakemake, main)
