"""Checks the stage tests (tests/workflow/test_<stage>_stage.py) share: the stage's jobs in a
dry run, its figures on disk, and the evidence of its questions (keys, numbers, answer)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
from answer_checks import answer_problems
from compare_outputs import json_numbers
from conftest import run_snakemake

from nplab_io.evidence import render_answer


def read_csv(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def summary_rows(results: Path, stage: str, tables: list[str], columns) -> list[dict]:
    """results/<stage>/summary.csv: a row per table of ``tables`` in that order, with every
    column of ``columns``."""
    rows = read_csv(results / stage / "summary.csv")
    assert [r["table"] for r in rows] == tables
    for col in columns:
        assert col in rows[0], col
    return rows


def question_rules(qids) -> list[str]:
    """The rule of each question id (``knn-1`` -> ``question_knn_1``)."""
    return [f"question_{q.replace('-', '_')}" for q in qids]


def assert_dry_run_has_rules(workdir: Path, target: str, rules) -> None:
    """A dry run of ``target`` on the quick config plans a job of every rule in ``rules``."""
    res = run_snakemake(workdir, target, "-n", "--cores", "2", "--configfile", "config/quick.yaml")
    assert res.returncode == 0, res.stderr[-2000:]
    out = res.stdout + res.stderr
    for rule in rules:
        assert f"rule {rule}:" in out, rule


def assert_figures_exist(folder: Path, names) -> None:
    """Every figure of ``names`` is in ``folder`` as a PNG and an SVG of more than 1 kB."""
    for name in names:
        for fmt in ("png", "svg"):
            p = folder / f"{name}.{fmt}"
            assert p.is_file() and p.stat().st_size > 1000, p


def read_evidence(results: Path, qid: str) -> dict:
    return json.loads((results / "questions" / f"{qid}.json").read_text())


def assert_evidence(ev: dict, qid: str, keys, min_numbers: int = 1) -> None:
    """The evidence of ``qid`` holds every key of ``keys`` and at least ``min_numbers``
    numbers, all finite."""
    assert ev["question"] == qid
    for key in keys:
        assert key in ev, (qid, key)
    nums = json_numbers(ev)
    assert len(nums) >= min_numbers and all(math.isfinite(x) for x in nums), qid


def assert_answer_reads_well(entry: dict, ev: dict) -> str:
    """The prose is the registry's (none in the evidence) and the rendered answer passes
    every check of answer_checks except numbers; returns the answer."""
    assert "finding" not in ev  # prose lives in the registry's templates
    text = render_answer(entry, ev)
    assert answer_problems(entry, text, numbers=False) == [], text
    return text


def assert_course_question(results: Path, qid: str, entry: dict, family: str, keys) -> None:
    """A CS231n question of ``family``: its entry, answer, figures and evidence keys."""
    ev = read_evidence(results, qid)
    assert ev["question"] == qid and entry["family"] == family
    assert entry["source"].startswith("CS231n")
    assert_answer_reads_well(entry, ev)
    assert ev["figures"] and all((results / f).is_file() for f in ev["figures"])
    assert_evidence(ev, qid, keys)


def course_question_test(family: str, questions: dict, registry: dict):
    """The test of a CS231n family's question evidence, one case per question id, for a
    stage test module to bind as ``test_question_evidence`` (it uses that module's
    ``results`` fixture)."""

    @pytest.mark.e2e
    @pytest.mark.parametrize("qid", sorted(questions))
    def test_question_evidence(results, qid):
        assert_course_question(results, qid, registry[qid], family, questions[qid])

    return test_question_evidence
