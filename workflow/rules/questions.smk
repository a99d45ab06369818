# The lab's questions: one rule per entry of the question registry (report/questions/*.yaml)
# whose experiment tables are enabled. Every rule runs workflow/scripts/question.py, which
# computes the evidence with nplab_io.evidence.<family> and draws the question's figure.

for _q in QUESTIONS_ON.values():

    rule:
        name:
            f"question_{_q['id'].replace('-', '_')}"
        input:
            **question_inputs(_q),
        output:
            **question_extra_outputs(_q),
            json=f"{RESULTS}/questions/{_q['id']}.json",
            fig=report(
                question_figures(_q["id"]),
                caption="../../report/captions/question.rst",
                category="Questions",
                subcategory=_q["id"],
            ),
        log:
            f"{LOGS}/questions/{_q['id']}.log",
        benchmark:
            f"{BENCH}/questions/{_q['id']}.tsv"
        conda:
            CONDA_ENV
        threads: 1
        resources:
            mem_mb=_q.get("resources", {}).get("mem_mb", 500),
            runtime=_q.get("resources", {}).get("runtime", 3),
        params:
            qid=_q["id"],
            family=_q["family"],
            tables=_q.get("tables", []),
            table_files=_q.get("table_files"),
            runs=question_runs(_q),
            settings=question_settings(_q),
            caption=_q["caption"],
            code=script_code(
                "question.py", modules=[f"nplab_io.evidence.{_q['family']}"], dynamic=False
            ),
        script:
            "../scripts/question.py"


STAGE_TARGETS.append(question_targets)
