"""The lab report: built from results, self-contained, escaped, every question answered."""

import base64
import io
import json
import os
import re
import select
import shutil
import subprocess
import time
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import ROOT, _is_ci, run_snakemake

from nplab_io.evidence import load_registry
from nplab_io.report import (
    Outputs,
    References,
    benchmark_table,
    build_report,
    csv_tables,
    embed_figure,
    glance_rows,
    num,
    pct,
    performance,
)

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


def test_benchmark_files_become_one_row_per_finished_job(tmp_path):
    bench = tmp_path / "benchmarks"
    (bench / "runs").mkdir(parents=True)
    (bench / "knn").mkdir()
    header = "s\th:m:s\tmax_rss\tmax_vms\n"
    (bench / "runs" / "net-a.tsv").write_text(header + "12.5\t0:00:12\t300.5\t900\n")
    (bench / "runs" / "net-b.tsv").write_text(header + "2.0\t0:00:02\t100\t400\n")
    (bench / "knn" / "full_l1.tsv").write_text(header + "7.25\t0:00:07\t50\t80\n")
    (bench / "knn" / "unfinished.tsv").write_text("")
    df = benchmark_table(tmp_path)
    assert df["job"].tolist() == ["knn/full_l1", "runs/net-a", "runs/net-b"]
    assert df["rule"].tolist() == ["knn", "runs", "runs"]
    assert df["s"].tolist() == [7.25, 12.5, 2.0] and df["max_rss_mb"].tolist() == [50, 300.5, 100]
    perf = performance(tmp_path)
    assert perf["jobs"] == 3 and perf["total_s"] == 21.75
    assert perf["slowest"]["columns"] == ["rule", "job", "s", "max_rss_mb"]  # no file times
    assert benchmark_table(tmp_path / "none").empty
    assert performance(tmp_path / "none")["jobs"] == 0


def test_formatters_hand_values():
    assert pct(0.4312) == "43.1%" and pct(None) == "n/a" and pct(float("nan")) == "n/a"
    assert num(12345) == "12,345" and num(0.000123) == "1.23e-04" and num(2.0 / 3) == "0.667"
    assert num(True) == "yes"


def _one_run_results(tmp_path, table: str, row: str, question: str, evidence: dict) -> Path:
    """A results/ holding one experiment table of one run (``row``: the columns after
    ``table``) and one question's evidence file."""
    res = tmp_path / "results"
    (res / "experiments" / table).mkdir(parents=True)
    (res / "experiments" / table / "runs.csv").write_text(
        f"table,variant,run,kind,train_acc,val_acc,diverged\n{table},{row}\n"
    )
    (res / "questions").mkdir()
    (res / "questions" / f"{question}.json").write_text(json.dumps(evidence))
    return res


def test_files_of_a_disabled_experiment_left_on_disk_are_not_shown(tmp_path):
    """Issue 13: after `enabled: false`, the old run's table and answer stay on disk; the
    report reads only what the current DAG produces (its inputs), so they disappear."""
    res = _one_run_results(
        tmp_path,
        "dropout",
        "keep=0.5,net-0123456789ab,net,0.91,0.777,False",
        "dropout-2",
        {"gap_keep1": 0.123456},
    )
    shown = _build(res)  # no list of current outputs: the disk is trusted
    assert "0.777" in shown
    html = _build(res, current_outputs=[])  # the config no longer produces them
    text = _parse(html).text_by_id["dropout-2"]
    assert "0.777" not in html and "No evidence for this question" in text
    assert "0.123456" not in html


def test_user_text_is_escaped_and_missing_evidence_is_said(tmp_path):
    res = _one_run_results(
        tmp_path,
        "svm_course",
        "<script>alert(1)</script>,linear-000000000000,linear,0.5,0.4,False",
        "softmax-1",
        {
            "id": "softmax-1",
            "split": "<img src=x onerror=alert(2)>",
            "initial_loss": 2.302,
            "figures": [],
        },
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
    assert len(ids) == len(set(ids)) == 33  # 25 of the first spec, uat-1 and cnn-1..7
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
    assert p.imgs and all(re.match(r"data:image/(png|webp|svg\+xml)[;,]", s) for s in p.imgs)
    assert len(html.encode("utf-8")) < 10e6  # the bound for the full config
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
def test_report_renders_offline_in_headless_chromium(quick_run, tmp_path):
    """The quick run's report in Chromium: every section, the glance first, a figure
    zoomed, a table expanded and sorted; screenshots of the top and of the SVM section go to
    results/report/ (README: "The report")."""
    page = (quick_run / "results" / "report" / "lab_report.html").resolve()
    flags = [*_CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'dump'}"]
    dom = subprocess.run(
        [_chromium(), *flags, "--dump-dom", page.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout
    p = _parse(dom)
    assert "nplab" in p.title and p.ids.get("toc") == "nav" and p.ids.get("glance") == "section"
    for s in yaml.safe_load((REPORT / "sections.yaml").read_text())["sections"]:
        assert p.ids.get(s["id"]) == "section", s["id"]
    shots = ROOT / "results" / "report"
    shots.mkdir(parents=True, exist_ok=True)
    _check_in_browser(page, tmp_path / "profile", shots)
    assert (shots / "screenshot_top.png").stat().st_size > 10_000


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


# --------------------------------------------------------------------------- browser
_CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # nothing may load from the network: every request would go to a closed port
    "--proxy-server=127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
]


def _chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        if _is_ci():
            pytest.fail("CI=true but chromium is missing (.ci/run installs it)")
        pytest.skip("chromium is not installed (.ci/run installs it)")
    return exe


class _Browser:
    """Headless Chromium driven over the DevTools protocol on a pipe (Chromium reads
    commands on fd 3 and answers on fd 4, each message JSON ended by a NUL byte): real
    mouse clicks with nothing but the standard library."""

    def __init__(self, profile: Path, width=1280, height=960):
        cmd = [_chromium(), *_CHROMIUM_FLAGS, f"--user-data-dir={profile}"]
        cmd += ["--remote-debugging-pipe", "about:blank"]
        # the shell hands our stdin/stdout pipes to Chromium as fds 3 and 4
        wrap = 'exec "$0" "$@" 3<&0 4>&1 0</dev/null 1>/dev/null'
        self.proc = subprocess.Popen(
            ["sh", "-c", wrap, *cmd],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.buf, self.last_id, self.session = b"", 0, None
        page = next(t for t in self.call("Target.getTargets")["targetInfos"] if t["type"] == "page")
        attached = self.call("Target.attachToTarget", targetId=page["targetId"], flatten=True)
        self.session = attached["sessionId"]
        self.size = (width, height)
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )

    def _message(self, timeout: float) -> dict:
        end = time.monotonic() + timeout
        while b"\0" not in self.buf:
            left = end - time.monotonic()
            if left <= 0 or not select.select([self.proc.stdout], [], [], left)[0]:
                raise TimeoutError("Chromium did not answer")
            chunk = os.read(self.proc.stdout.fileno(), 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method: str, timeout: float = 60, **params):
        self.last_id += 1
        msg = {"id": self.last_id, "method": method, "params": params}
        if self.session and not method.startswith("Target."):
            msg["sessionId"] = self.session
        self.proc.stdin.write(json.dumps(msg).encode() + b"\0")
        self.proc.stdin.flush()
        while True:  # events and other sessions' messages are skipped
            r = self._message(timeout)
            if r.get("id") == self.last_id:
                assert "error" not in r, (method, r["error"])
                return r["result"]

    def js(self, expr: str):
        r = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        assert "exceptionDetails" not in r, r["exceptionDetails"]
        return r["result"].get("value")

    def open(self, page: Path, scripts=True):
        self.call("Emulation.setScriptExecutionDisabled", value=not scripts)
        self.call("Page.navigate", url=page.resolve().as_uri())
        for _ in range(600):
            if self.js("document.readyState") == "complete":
                return
            time.sleep(0.05)
        raise TimeoutError(f"{page} did not load")

    def click(self, selector: str):
        """A real mouse click in the middle of the element (scrolled into view first)."""
        x, y = self.js(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=x, y=y, button="left", clickCount=1)

    def screenshot(self, path: Path):
        path.write_bytes(base64.b64decode(self.call("Page.captureScreenshot")["data"]))

    def close(self):
        self.proc.stdin.close()
        self.proc.kill()
        self.proc.wait(timeout=30)


_FIRST_TEXT_AFTER_TITLE = """(() => {
  const h1 = document.querySelector('h1');
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  walk.currentNode = h1;
  let n;
  while ((n = walk.nextNode()) && (h1.contains(n) || !n.textContent.trim())) {}
  const g = n && n.parentElement.closest('section');
  return g ? g.id : null;
})()"""

_GLANCE = """(() => {
  const t = document.querySelector('#glance table.glance-table');
  const r = t.getBoundingClientRect();
  const targets = [...t.querySelectorAll('tbody a')].map(a => a.getAttribute('href'));
  return {rows: t.tBodies[0].rows.length, bottom: r.bottom + scrollY,
          linked: targets.filter(h => (document.querySelector(h) || {}).tagName === 'SECTION').length};
})()"""

# the first figure whose image is wider than its card: a click must show it larger
_PICK_FIGURE = """(() => {
  const fig = [...document.querySelectorAll('figure.fig')].find(f => {
    const img = f.querySelector('img');
    return +img.getAttribute('width') > f.getBoundingClientRect().width * 1.2;
  });
  fig.id = 'zoom-test';
  return fig.querySelector('img').getBoundingClientRect().width;
})()"""

# zoomed: the summary covers the window and the image has its own size, scaled down only
# to fit the window (less the 1rem padding)
_ZOOMED = """new Promise(done => {
  const img = document.querySelector('#zoom-test img');
  const report = () => {
    const r = img.getBoundingClientRect(), s = img.parentElement.getBoundingClientRect();
    const w = document.documentElement.clientWidth, h = document.documentElement.clientHeight;
    const fit = Math.min(1, (s.width - 32) / img.naturalWidth, (s.height - 32) / img.naturalHeight);
    done({open: img.closest('details').open, width: r.width, full: img.naturalWidth * fit,
          cover: s.left === 0 && s.top === 0 && s.width === w && s.height === h});
  };
  img.complete ? report() : img.addEventListener('load', report);
})"""

_PICK_COLLAPSED = """(() => {
  const d = document.querySelector('details.rows');
  d.id = 'collapse-test';
  return {open: d.open, shown: d.querySelector('table').checkVisibility()};
})()"""

# a shown table's numeric column that is not in ascending order yet
_PICK_SORT = """(() => {
  for (const t of document.querySelectorAll('table.js-sort')) {
    if (!t.checkVisibility()) continue;
    for (const [i, th] of [...t.tHead.rows[0].cells].entries()) {
      const v = [...t.tBodies[0].rows].map(r => parseFloat(r.cells[i].getAttribute('data-v')));
      if (!th.classList.contains('num') || v.some(isNaN)) continue;
      if (v.some((x, j) => j && x < v[j - 1])) { th.id = 'sort-test'; return i; }
    }
  }
  return null;
})()"""


def _column(b: _Browser, col: int) -> list[float]:
    return b.js(
        "[...document.querySelector('#sort-test').closest('table').tBodies[0].rows]"
        f".map(r => parseFloat(r.cells[{col}].getAttribute('data-v')))"
    )


def _check_in_browser(page: Path, profile: Path, shots: Path | None = None) -> None:
    """In headless Chromium: the glance table is the first content after the title and
    fits a 1280×960 screen; with scripts off a click shows a figure at full size and
    a collapsed table expands; with scripts on a click on a header sorts its column."""
    b = _Browser(profile)
    try:
        b.open(page, scripts=False)
        assert b.js(_FIRST_TEXT_AFTER_TITLE) == "glance"
        glance = b.js(_GLANCE)
        assert glance["rows"] and glance["linked"] == glance["rows"], glance
        assert glance["bottom"] <= b.size[1], glance  # the whole outcome on the first screen
        if shots:
            b.screenshot(shots / "screenshot_top.png")
        card = b.js(_PICK_FIGURE)
        b.click("#zoom-test img")
        zoomed = b.js(_ZOOMED)
        # full size: its own pixel width, or the whole window when it is wider
        assert zoomed["open"] and zoomed["cover"], zoomed
        assert abs(zoomed["width"] - zoomed["full"]) < 2 and zoomed["width"] > 1.2 * card, (
            card,
            zoomed,
        )
        b.click("#zoom-test summary")
        assert not b.js("document.querySelector('#zoom-test details').open")
        assert b.js(_PICK_COLLAPSED) == {"open": False, "shown": False}
        b.click("#collapse-test > summary")
        assert b.js(_PICK_COLLAPSED) == {"open": True, "shown": True}
        assert not b.js("document.querySelector('table.js-sort')")  # scripts off: static

        b.open(page, scripts=True)
        col = b.js(_PICK_SORT)
        assert col is not None, "no unsorted numeric column in a shown table"
        before = _column(b, col)
        b.click("#sort-test")
        assert _column(b, col) == sorted(before)
        b.click("#sort-test")
        assert _column(b, col) == sorted(before, reverse=True)
        assert (
            b.js("document.querySelector('#sort-test').getAttribute('aria-sort')") == "descending"
        )
        if shots:
            b.js("document.querySelector('#svm').scrollIntoView()")
            b.screenshot(shots / "screenshot_section.png")
    finally:
        b.close()


def _fake_results(root: Path) -> Path:
    """A small results tree with a glance row, a long and a short runs table and figures."""
    from PIL import Image, ImageDraw

    res = root / "results"
    (res / "knn").mkdir(parents=True)
    (res / "knn" / "course_best.json").write_text(
        json.dumps(
            {
                "test_accuracy": 0.3,
                "best_k": 7,
                "n_folds": 5,
                "metric": "l2",
                "n_train": 5000,
                "n_test": 500,
            }
        )
    )
    for name, n in (("svm_course", 8), ("svm_wide", 25)):
        d = res / "experiments" / name
        d.mkdir(parents=True)
        rows = [f"{name},v{i},0.{(7 * i) % 10}5,0.{(3 * i) % 10}1,False" for i in range(n)]
        (d / "runs.csv").write_text(
            "table,variant,train_acc,val_acc,diverged\n" + "\n".join(rows) + "\n"
        )
    (res / "figures" / "linear").mkdir(parents=True)
    for name, size in (("svm_loss", (800, 560)), ("svm_weights", (1500, 400))):
        im = Image.new("RGB", size, "white")
        ImageDraw.Draw(im).rectangle([40, 40, size[0] - 40, size[1] - 40], outline="navy", width=6)
        im.save(res / "figures" / "linear" / f"{name}.png")
    return res


def test_report_works_in_headless_chromium(tmp_path):
    """Glance first, click-to-zoom, collapsed tables and sorting in a real browser, on a
    report built from a small results tree (the e2e test repeats this on the quick run)."""
    html = _build(_fake_results(tmp_path))
    page = tmp_path / "lab_report.html"
    page.write_text(html, encoding="utf-8")
    _check_in_browser(page, tmp_path / "profile")


def test_glance_rows_select_on_val_and_judge_goals(tmp_path):
    res = tmp_path / "results"
    (res / "linear").mkdir(parents=True)
    (res / "linear" / "summary.csv").write_text(
        "table,best_variant,num_train,val_acc,test_acc\n"
        "svm_course,a,400,0.30,0.45\n"  # the best test accuracy, but not the best on val
        "svm_long,b,400,0.41,0.392\n"
    )
    row = {
        "model": "Linear SVM",
        "section": "svm",
        "file": "linear/summary.csv",
        "query": "table in ['svm_course', 'svm_long']",
        "best_by": "val_acc",
        "column": "test_acc",
        "detail": "{table}: {best_variant}",
        "anchor": "linear svm",
        "goal": "svm",
        "protocol": "{num_train:,} train images, {missing}",
    }
    later = {"model": "CNN", "section": "cnn", "file": "cnn/best.json", "key": "test_acc"}
    refs = References(REPORT / "reference")
    rows = glance_rows(Outputs(res), refs, [row, dict(later, optional=True)], {"svm"})
    assert len(rows) == 1  # the optional row waits for its file
    (r,) = rows
    assert (r["ours"], r["detail"], r["met"]) == (0.392, "svm_long: b", True)
    assert r["goal"] == 0.39 and r["reference"] == 0.39 and r["reference_note"].startswith("val")
    assert r["protocol"] == "400 train images, ?"
    course = {k: v for k, v in row.items() if k != "best_by"}
    course["query"] = "table == 'svm_course'"
    (test_only,) = glance_rows(Outputs(res), refs, [course], {"svm"})
    assert test_only["ours"] == 0.45 and test_only["met"] is True
    row["query"] = "table == 'svm_long' and val_acc < 0"  # nothing selected
    (none,) = glance_rows(Outputs(res), refs, [row], {"svm"})
    assert none["ours"] is None and none["met"] is None
    with pytest.raises(ValueError, match="no section"):
        glance_rows(Outputs(res), refs, [later], {"svm"})
    with pytest.raises(ValueError, match="goals.csv"):
        glance_rows(Outputs(res), refs, [dict(row, goal="nope")], {"svm"})


def test_figures_embed_the_smaller_sibling_losslessly_and_span_when_wide(tmp_path):
    from PIL import Image

    out = Outputs(tmp_path)
    rng = np.random.default_rng(0)
    photo = rng.integers(0, 256, (300, 900, 3), dtype=np.uint8)  # no palette fits: lossless
    Image.fromarray(photo).save(tmp_path / "photo.png")
    plot = np.full((400, 600, 3), 255, np.uint8)
    plot[100:300, 50:550] = (31, 95, 168)
    Image.fromarray(plot).save(tmp_path / "plot.png")
    (tmp_path / "plot.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg"/>' + " " * 9000)
    photo_fig, plot_fig = (embed_figure(out, tmp_path / f) for f in ("photo.png", "plot.png"))
    assert photo_fig["wide"] and not plot_fig["wide"]  # 900 px (3:1) vs 600 px (3:2)
    mime, data = photo_fig["src"][5:].split(";base64,")
    assert mime == "image/webp"
    with Image.open(io.BytesIO(base64.b64decode(data))) as im:
        assert np.array_equal(np.asarray(im.convert("RGB")), photo)
    # the padded SVG is larger than the two-colour PNG, so the PNG is embedded
    assert plot_fig["src"].startswith("data:image/png;base64,")
    (tmp_path / "plot.svg").write_text('<svg xmlns="http://www.w3.org/2000/svg" width="9pt"/>')
    assert embed_figure(out, tmp_path / "plot.png")["src"].startswith("data:image/svg+xml,%3Csvg")


def test_tables_summary_first_long_ones_collapsed_numbers_sortable(tmp_path):
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "cv.csv").write_text(
        "k,acc\n" + "".join(f"{i},0.{i}\n" for i in range(1, 20))
    )
    (tmp_path / "t" / "cv_summary.csv").write_text("k,acc,note\n1,0.25,best\n3,,\n")
    short, long = csv_tables(Outputs(tmp_path), ["t/*.csv"], 200)
    assert (short["title"], long["title"]) == ("cv summary", "cv") and not short["collapsed"]
    assert long["collapsed"] and long["n"] == 19
    assert short["numeric"] == [True, True, False]
    assert short["rows"][1] == [(3, "3.0"), ("", None), ("", None)]
