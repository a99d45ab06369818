"""Render the lab report (results/report/lab_report.html); see nplab_io.report."""

from nplab_io.atomic import write_text_atomic
from nplab_io.jobs import run_job
from nplab_io.report import build_report


def main(sm, log):
    names = ("results", "root", "spec_dir", "questions_dir", "config", "config_name", "max_rows")
    html = build_report(
        **{name: getattr(sm.params, name) for name in names},
        sections_file=sm.input.sections,
        template=sm.input.template,
        css_file=sm.input.css,
        script_file=sm.input.script,
        current_outputs=sm.input.results,
        log=log,
    )
    write_text_atomic(sm.output.html, html)


run_job(snakemake, main)
