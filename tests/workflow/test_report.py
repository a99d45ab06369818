"""The lab report: built from results, self-contained, escaped, every question answered."""

import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, _is_ci, run_snakemake

from nplab_io.evidence import load_registry
from nplab_io.report import build_report, num, pct

REPORT = ROOT / "report"


class _Collect(HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids, self.imgs, self.attrs, self.stack_errors = {}, [], [], []
        self.title, self._in_title, self._open = "", False, []
        self.text_by_id, self._id_stack = {}, []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.attrs.extend(v for k, v in attrs if v)
        if tag == "img":
            self.imgs.append(a.get("src", ""))
        if tag == "title":
            self._in_title = True
        if "id" in a:
            self.ids[a["id"]] = tag
            self._id_stack.append((tag, a["id"], len(self._open)))
            self.text_by_id[a["id"]] = ""
        if tag not in ("meta", "img", "br", "link", "hr", "input"):
            self._open.append(tag)

    def handle_endtag(self, tag):
        if tag == "title":
            self._in_title = False
        if not self._open or self._open[-1] != tag:
            self.stack_errors.append(tag)
            return
        self._open.pop()
        while self._id_stack and self._id_stack[-1][2] >= len(self._open):
            self._id_stack.pop()

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        for _, i, _ in self._id_stack:
            self.text_by_id[i] += data


def _parse(html: str) -> _Collect:
    p = _Collect()
    p.feed(html)
    p.close()
    return p


def _registry_with(tmp_path: Path, qid: str, **fields) -> Path:
    """A copy of the question registry whose entry ``qid`` has ``fields`` replaced."""
    out = tmp_path / "questions"
    out.mkdir()
    for src in (REPORT / "questions").glob("*.yaml"):
        entries = yaml.safe_load(src.read_text(encoding="utf-8"))
        for q in entries:
            if q["id"] == qid:
                q.update(fields)
        (out / src.name).write_text(yaml.safe_dump(entries, allow_unicode=True), encoding="utf-8")
    return out


def _build(results: Path, questions_dir: Path = REPORT / "questions", **kw) -> str:
    return build_report(
        results=results,
        root=ROOT,
        spec_dir=REPORT / "reference",
        sections_file=REPORT / "sections.yaml",
        questions_dir=questions_dir,
        template=REPORT / "templates" / "lab_report.html.j2",
        css_file=REPORT / "templates" / "report.css",
        config={"seed": 0},
        **kw,
    )


def test_formatters_hand_values():
    assert pct(0.4312) == "43.1%" and pct(None) == "n/a" and pct(float("nan")) == "n/a"
    assert num(12345) == "12,345" and num(0.000123) == "1.23e-04" and num(2.0 / 3) == "0.667"
    assert num(True) == "yes"


def test_user_text_is_escaped_and_missing_evidence_is_said(tmp_path):
    res = tmp_path / "results"
    (res / "experiments" / "svm_course").mkdir(parents=True)
    (res / "experiments" / "svm_course" / "runs.csv").write_text(
        "table,variant,run,kind,train_acc,val_acc,diverged\n"
        "svm_course,<script>alert(1)</script>,linear-000000000000,linear,0.5,0.4,False\n"
    )
    (res / "questions").mkdir()
    (res / "questions" / "softmax-1.json").write_text(
        json.dumps(
            {
                "id": "softmax-1",
                "split": "<img src=x onerror=alert(2)>",
                "initial_loss": 2.302,
                "figures": [],
            }
        )
    )
    registry = _registry_with(
        tmp_path,
        "softmax-1",
        answer="Loss {{ ev.initial_loss }} on {{ ev.split }}. {{ finding }}",
        finding="split {{ ev.split }}",
    )
    html = _build(res, registry)
    assert (
        "<script>alert(1)</script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    )
    assert "<img src=x" not in html
    p = _parse(html)
    assert not p.stack_errors
    assert "No evidence for this question" in p.text_by_id["knn-1"]
    assert "2.302" in p.text_by_id["softmax-1"]


def test_answer_templates_interpolate_evidence_and_escape_it_exactly_once(tmp_path):
    res = tmp_path / "results"
    (res / "questions").mkdir(parents=True)
    ev = {
        "id": "softmax-1",
        "num_classes": 10,
        "expected_loss": 2.302585093,
        "N": 500,
        "split": "dev",
        "measured_loss": 2.3391,
        "abs_diff": 0.0365,
        "mean_prob_correct": 0.0988,
        "label": "p <i>is</i> small",
        "figures": [],
    }
    (res / "questions" / "softmax-1.json").write_text(json.dumps(ev))
    registry = _registry_with(
        tmp_path,
        "softmax-1",
        answer="{{ finding }} Measured on {{ ev.N }} {{ ev.split }} rows: "
        "{{ ev.measured_loss | num(4) }} ({{ ev.mean_prob_correct | num }}); &lt;= holds.",
        finding="{{ ev.label }}",
    )
    html = _build(res, registry)
    text = _parse(html).text_by_id["softmax-1"]
    # numbers come from the evidence file, formatted by the template
    assert "2.339" in text and "500 dev rows" in text and "0.0988" in text
    # evidence markup is escaped once: shown as text, neither live HTML nor double-escaped
    assert "<i>is</i>" not in html and "&lt;i&gt;is&lt;/i&gt;" in html and "&amp;lt;" not in html
    assert "p <i>is</i> small" in text


def test_every_question_of_the_spec_is_in_the_report_config():
    spec = ROOT.parent / "shared" / "spec" / "questions.md"
    qs = load_registry(REPORT / "questions")
    ids = [q["id"] for q in qs]
    assert len(ids) == len(set(ids)) == 25
    if spec.exists():
        spec_ids = re.findall(r"^\| ([a-z]+-\d) \|", spec.read_text(), flags=re.M)
        assert sorted(spec_ids) == sorted(ids)


def _numbers(ev) -> set[str]:
    out = set()

    def walk(v):
        if isinstance(v, bool):
            return
        if isinstance(v, (int, float)):
            out.update(
                {
                    num(v),
                    num(v, 2),
                    pct(v),
                    pct(v, 0),
                    pct(v, 2),
                    str(v),
                    f"{v:,}" if isinstance(v, int) else str(v),
                }
            )
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
        elif isinstance(v, list):
            for x in v[:50]:
                walk(x)

    walk(ev)
    return {s for s in out if re.search(r"\d", s)}


@pytest.mark.e2e
def test_quick_report_is_complete_self_contained_and_answers_from_evidence(quick_run):
    res = quick_run / "results"
    html = (res / "report" / "lab_report.html").read_text(encoding="utf-8")
    p = _parse(html)
    assert not p.stack_errors, p.stack_errors[:5]
    assert "nplab" in p.title
    assert p.ids.get("toc") == "nav"
    sections = yaml.safe_load((REPORT / "sections.yaml").read_text())["sections"]
    for s in sections:
        assert p.ids.get(s["id"]) == "section", s["id"]
    # nothing fetched from the network: no http(s) in any attribute, no url(http...) in CSS
    assert not [a for a in p.attrs if re.match(r"\s*(https?:)?//", a)]
    assert not re.search(r"url\(\s*['\"]?https?:", html) and "@import" not in html
    assert p.imgs and all(s.startswith("data:image/png;base64,") and len(s) > 200 for s in p.imgs)
    qs = load_registry(REPORT / "questions")
    for q in qs:
        text = p.text_by_id.get(q["id"], "")
        ev_path = res / "questions" / f"{q['id']}.json"
        assert ev_path.exists(), f"no evidence for {q['id']} in the quick run"
        ev = json.loads(ev_path.read_text())
        answer = text.split("Source:", 1)[-1]
        assert len(answer.strip()) > 40, q["id"]
        assert any(n in answer for n in _numbers(ev)), (q["id"], answer[:300])


@pytest.mark.e2e
def test_report_renders_offline_in_headless_chromium(quick_run):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        if _is_ci():
            pytest.fail("CI=true but chromium is missing (.ci/run installs it)")
        pytest.skip("chromium is not installed (.ci/run installs it)")
    page = (quick_run / "results" / "report" / "lab_report.html").resolve()
    shot = ROOT / "results" / "report" / "screenshot_quick.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--proxy-server=127.0.0.1:9",
        "--proxy-bypass-list=<-loopback>",
    ]
    r = subprocess.run(
        [chromium, *flags, "--window-size=1280,2000", f"--screenshot={shot}", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0 and shot.exists() and shot.stat().st_size > 10_000, r.stderr[-1000:]
    dom = subprocess.run(
        [chromium, *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120
    ).stdout
    p = _parse(dom)
    assert "nplab" in p.title and p.ids.get("toc") == "nav"
    for s in yaml.safe_load((REPORT / "sections.yaml").read_text())["sections"]:
        assert p.ids.get(s["id"]) == "section", s["id"]


@pytest.mark.e2e
def test_snakemake_own_report_builds_offline(quick_run):
    """`snakemake --report` (Snakemake's own report: workflow, rule graph, the outputs
    flagged with report(...) and their captions) works on a finished run without network."""
    out = quick_run / "results" / "snakemake_report.html"
    res = run_snakemake(
        quick_run, "--report", str(out), "--configfile", "config/quick.yaml", timeout=600
    )
    assert res.returncode == 0, res.stderr[-3000:]
    html = out.read_text(encoding="utf-8", errors="replace")
    assert len(html) > 50_000
    # no script or stylesheet fetched from the network
    assert not re.search(r"<(script|link)[^>]+(src|href)=[\"']https?:", html)
    for needle in ("lab_report.html", "Lab report", "nplab"):
        assert needle in html, needle
