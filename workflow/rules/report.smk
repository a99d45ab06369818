# The lab report: one self-contained HTML file, built last from every stage's outputs.


def report_config():
    """The config shown in the report, minus where the data came from: the mirror is
    recorded by the download provenance, and must not make a second run rebuild the
    report when the same verified files are reused (e.g. mirror given only once)."""
    shown = {k: v for k, v in config.items() if k != "mirror"}
    shown["data"] = {k: v for k, v in config["data"].items() if k != "mirror"}
    return shown


def config_name():
    """The config file(s) this run was given (--configfile), else the default one."""
    given = [Path(f).name for f in workflow.overwrite_configfiles or []]
    return ", ".join(given) or "config.yaml"


def report_inputs():
    """Every other stage's final targets (this file is included last)."""
    return all_targets()


rule report:
    """results/report/lab_report.html: every section, table, figure and answered question."""
    input:
        results=report_inputs(),
        template=f"{REPO}/report/templates/lab_report.html.j2",
        css=f"{REPO}/report/templates/report.css",
        script=f"{REPO}/report/templates/report.js",
        sections=f"{REPO}/report/sections.yaml",
        questions=sorted(glob.glob(f"{REPO}/report/questions/*.yaml")),
        anchors=f"{REPO}/report/reference/anchors.csv",
        seed_results=f"{REPO}/report/reference/seed_results.csv",
        goals=f"{REPO}/report/reference/goals.csv",
    output:
        html=report(
            f"{RESULTS}/report/lab_report.html",
            caption="../../report/captions/lab_report.rst",
            category="Lab report",
        ),
    log:
        f"{LOGS}/report/report.log",
    benchmark:
        f"{BENCH}/report/report.tsv"
    threads: 1
    resources:
        mem_mb=1500,
        runtime=10,
    params:
        code=script_code("report.py"),
        results=RESULTS,
        root=workflow.basedir,
        questions_dir=f"{REPO}/report/questions",
        spec_dir=f"{REPO}/report/reference",
        config=report_config(),
        config_name=config_name(),
        # long tables are collapsed and sortable: show them whole up to this many rows
        max_rows=200,
    script:
        "../scripts/report.py"


def report_targets():
    return [f"{RESULTS}/report/lab_report.html"]


STAGE_TARGETS.append(report_targets)
