"""Evidence and figure of one question of the registry (rule question)."""

from nplab_io.evidence import run_question
from nplab_io.jobs import run_job


def main(sm, log):
    run_question(
        qid=sm.params.qid,
        family=sm.params.family,
        inputs=dict(sm.input.items()),
        outputs=dict(sm.output.items()),
        tables=sm.params.tables,
        table_files=sm.params.table_files,
        runs=sm.params.runs,
        settings=sm.params.settings,
        log=log,
    )


run_job(snakemake, main)
