"""Render the lab report (results/report/lab_report.html); see nplab_io.report."""

from nplab_io.atomic import write_text_atomic
from nplab_io.jobs import run_job
from nplab_io.report import build_report


def main(sm, log):
    html = build_report(
        results=sm.params.results,
        root=sm.params.root,
        spec_dir=sm.params.spec_dir,
        sections_file=sm.input.sections,
        questions_dir=sm.params.questions_dir,
        template=sm.input.template,
        css_file=sm.input.css,
        script_file=sm.input.script,
        config=sm.params.config,
        config_name=sm.params.config_name,
        max_rows=sm.params.max_rows,
        current_outputs=sm.input.results,
        log=log,
    )
    write_text_atomic(sm.output.html, html)


run_job(snakemake, main)
