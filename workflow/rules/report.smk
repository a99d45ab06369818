# The lab report: one self-contained HTML file, built last from every stage's outputs.


rule report:
    """results/report/lab_report.html: every section, table, figure and answered question."""
    input:
        # every other stage's final targets (this file is included last)
        results=all_targets(),
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
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=1500,
        runtime=10,
    params:
        code=script_code("report.py"),
        # directories, from the files they hold (results/, the repository, its report/)
        results=lambda wc, output: str(Path(output.html).parents[1]),
        root=lambda wc, input: str(Path(input.template).parents[2]),
        questions_dir=lambda wc, input: str(Path(input.sections).with_name("questions")),
        spec_dir=lambda wc, input: str(Path(input.anchors).parent),
        config=plan.report_config(config),
        config_name=config_name(),
        # long tables are collapsed and sortable: show them whole up to this many rows
        max_rows=200,
    script:
        "../scripts/report.py"


STAGE_TARGETS.append(lambda: [f"{RESULTS}/report/lab_report.html"])
