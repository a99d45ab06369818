"""Writing the small hand-made files the evidence tests read (tests/io/test_evidence_*.py):
tables (CSV), JSON and arrays (.npz), their folders created as needed."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from nplab_io.evidence import QuestionData, run_question
from nplab_io.evidence.io import TABLE_FILES, check_evidence


def write_csv(path: Path, rows: list[dict]) -> Path:
    """``rows`` (dicts with the same keys, in the column order of the first) as a CSV."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_json(path: Path, obj) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj))
    return path


def run_params(root: Path, run: str, **arrays) -> Path:
    """``root/runs/<run>/params.npz`` holding ``arrays``."""
    path = root / "runs" / run / "params.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return path


def question_data(entry: dict, inputs: dict, **kwargs) -> QuestionData:
    """The QuestionData of the registry ``entry``, with exactly the input names its
    registry entry gives its rule (``tables`` where it names tables); ``kwargs`` as
    QuestionData takes them (``runs``, ``outputs``)."""
    declared = set(entry.get("inputs", {})) | set(entry.get("run_files", {}))
    assert set(inputs) == declared | ({"tables"} if entry.get("tables") else set())
    inputs = {k: [str(p) for p in v] if isinstance(v, list) else str(v) for k, v in inputs.items()}
    files = entry.get("table_files") or TABLE_FILES
    return QuestionData(inputs, tables=entry.get("tables", []), table_files=files, **kwargs)


def public_evidence(ev: dict) -> dict:
    """What the job writes: no working values, JSON types only (keys sorted as on disk)."""
    public = {k: v for k, v in ev.items() if not k.startswith("_")}
    check_evidence(public)
    return json.loads(json.dumps(public, sort_keys=True))


def run_question_into(out: Path, family: str, qid: str, entry: dict, data: QuestionData, settings):
    """run_question as the question's job runs it, writing under ``out`` (results/): the
    evidence JSON on disk is what the evidence says and the figure was drawn. Returns the
    evidence."""
    outputs = {
        "json": str(out / "questions" / f"{qid}.json"),
        "fig": [str(out / "figures" / "questions" / f"{qid}.png")],  # svg: same figure
    }
    ev = run_question(
        qid=qid,
        family=family,
        inputs=data.inputs,
        outputs=outputs,
        tables=entry.get("tables", []),
        table_files=entry.get("table_files"),
        runs=data.runs,
        settings=settings,
    )
    assert ev["question"] == qid and ev["figures"] == [f"figures/questions/{qid}.png"]
    assert json.loads(Path(outputs["json"]).read_text()) == public_evidence(ev)
    assert Path(outputs["fig"][0]).stat().st_size > 1000
    return ev
