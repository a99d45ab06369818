"""Build the lab report: one self-contained HTML file (Jinja2 template, autoescaped;
figures embedded as data URIs, each the smallest of a faithful PNG, a lossless WebP and
its SVG; CSS and a few lines of script inline; no external URL).

"Results at a glance" (sections.yaml's ``glance:`` rows and the run's facts) comes first;
then the sections, their figures/tables and the questions from report/sections.yaml and
the question registry report/questions/*.yaml. Every number comes from this run's outputs
under ``results/``; references and goals from report/reference/.
Used by workflow/scripts/report.py.
"""

import base64
import glob
import io
import math
import os
import re
import subprocess
from importlib import metadata
from pathlib import Path
from urllib.parse import quote, urlsplit

import jinja2
import numpy as np
import pandas as pd
import yaml

from nplab_io.atomic import read_json
from nplab_io.evidence.registry import answer_environment, load_registry, num, pct, render_answer

PINNED = [
    "numpy",
    "scipy",
    "scikit-image",
    "pandas",
    "matplotlib",
    "seaborn",
    "jinja2",
    "jsonschema",
    "pyyaml",
    "threadpoolctl",
    "snakemake",
    "snakemake-executor-plugin-slurm",
]


def _caption(path: Path) -> str:
    return path.stem.replace("_", " ").replace("-", " ")


class Outputs:
    """``results/`` as this config defines it: only the files of the current DAG count.

    A file left on disk by an earlier config (a disabled experiment's tables, figures and
    answers) is not shown: ``current`` lists the report's inputs; None trusts the disk."""

    def __init__(self, root, current=None):
        self.root = Path(root)
        self.current = None if current is None else {Path(p).resolve() for p in current}

    def __truediv__(self, key) -> Path:
        return self.root / key

    def shows(self, path) -> bool:
        path = Path(path)
        return path.exists() and (self.current is None or path.resolve() in self.current)

    def glob_current(self, pattern) -> list[Path]:
        return [Path(p) for p in sorted(glob.glob(str(self.root / pattern))) if self.shows(p)]


# --------------------------------------------------------------------------- figures
# A figure wider than this (pixels at the figures' 110 dpi) or with side-by-side panels
# spans the page: in a half-width card its text would shrink below ~60%.
WIDE_MIN_PX = 850
WIDE_MIN_ASPECT = 2.0
# The widest image kept: a full-width card is ~1,100 CSS px, the zoomed view up to this.
MAX_PX = 1400
# A 256-colour palette within 40 dB PSNR of the original looks identical (line plots, heat
# maps) and is ~3x smaller; photo grids (samples, templates) miss it and stay lossless.
FAITHFUL_MSE = 255**2 / 1e4
_SVG_SAFE = " =:/;,.-_()!*~+$@?[]{}"  # kept literally; quotes, <, >, &, # and newlines encoded


def _data_uri(mime: str, data: bytes) -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def _encoded(im, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def _small_raster(png: Path) -> tuple[str, tuple[int, int]]:
    """The PNG at display resolution, as the smaller of a faithful 256-colour PNG and a
    lossless WebP (data URI), and its original pixel size."""
    from PIL import Image  # Pillow is a dependency of matplotlib

    with Image.open(png) as src:
        size = src.size
        rgba = src.convert("RGBA")
    im = Image.new("RGB", rgba.size, "white")
    im.paste(rgba, mask=rgba.getchannel("A"))
    if im.width > MAX_PX:
        im = im.resize((MAX_PX, round(im.height * MAX_PX / im.width)), Image.Resampling.LANCZOS)
    pal = im.quantize(256, method=Image.Quantize.MEDIANCUT)
    diff = np.asarray(im, np.int32) - np.asarray(pal.convert("RGB"), np.int32)
    if float(np.mean(diff * diff)) <= FAITHFUL_MSE:
        return _data_uri("image/png", _encoded(pal, "PNG")), size
    webp = _encoded(im, "WEBP", lossless=True, quality=50, method=2)
    return _data_uri("image/webp", webp), size


def _svg_uri(svg: Path) -> str:
    return "data:image/svg+xml," + quote(svg.read_text(encoding="utf-8"), safe=_SVG_SAFE)


def _svg_size(svg: Path) -> tuple[int, int] | None:
    """An SVG's size in pixels at the PNGs' 110 dpi (matplotlib writes it in pt)."""
    m = re.search(r'width="([\d.]+)pt" height="([\d.]+)pt"', svg.read_text(encoding="utf-8")[:2000])
    return (round(float(m[1]) * 110 / 72), round(float(m[2]) * 110 / 72)) if m else None


def embed_figure(results: "Outputs", path: Path) -> dict | None:
    """One figure for the page: the smallest of its PNG (at display resolution) and its SVG
    sibling, and whether it spans the page. None when neither file is part of this run."""
    png, svg = path.with_suffix(".png"), path.with_suffix(".svg")
    uris, size = [], None
    if results.shows(png):
        small, size = _small_raster(png)
        uris.append(small)
        if size[0] <= MAX_PX:
            uris.append(_data_uri("image/png", png.read_bytes()))
    if results.shows(svg):
        uris.append(_svg_uri(svg))
        size = size or _svg_size(svg)
    if not uris:
        return None
    w, h = size or (0, 0)
    return {
        "src": min(uris, key=len),
        "caption": _caption(path),
        "path": str(path.relative_to(results.root)),
        "width": w or None,
        "height": h or None,
        "wide": bool(w and h and (w >= WIDE_MIN_PX or w / h >= WIDE_MIN_ASPECT)),
    }


def figures(results: "Outputs", patterns, skip=()) -> list[dict]:
    """The figures matching ``patterns`` (PNG or SVG; one per stem), minus ``skip`` stems."""
    out, seen = [], {results.root / s for s in skip}
    for pat in patterns or []:
        for p in results.glob_current(pat):
            stem = p.with_suffix("")
            if p.suffix not in (".png", ".svg") or stem in seen:
                continue
            seen.add(stem)
            fig = embed_figure(results, p)
            if fig:
                out.append(fig)
    return out


# --------------------------------------------------------------------------- tables
# Longer tables are collapsed (<details>, with their row count) below their summary.
COLLAPSE_ROWS = 15


def _fmt_cell(v):
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        return num(v, 4)
    return v


def _sort_key(v) -> str | None:
    """The number a sortable column orders by (the shown text is rounded or formatted)."""
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        return None
    return None if math.isnan(float(v)) else repr(float(v))


def html_table(df: pd.DataFrame, max_rows: int = 40) -> dict:
    """A DataFrame as a dict the template renders (escaped by Jinja): each cell is
    (shown text, sort key or None); ``numeric`` marks the columns that are all numbers."""
    n = len(df)
    df = df.head(max_rows)
    rows = [[(_fmt_cell(v), _sort_key(v)) for v in row] for row in df.itertuples(index=False)]
    numeric = [
        any(r[i][1] is not None for r in rows)
        and all(r[i][1] is not None or r[i][0] == "" for r in rows)
        for i in range(len(df.columns))
    ]
    # a column of long text gets room to wrap in lines, not single words
    prose = [any(len(str(r[i][0])) > 40 for r in rows) for i in range(len(df.columns))]
    return {
        "columns": [str(c) for c in df.columns],
        "numeric": numeric,
        "prose": prose,
        "rows": rows,
        "n": n,
        "truncated": n - len(df),
        "collapsed": n > COLLAPSE_ROWS,
    }


def csv_tables(results: Outputs, entries, max_rows) -> list[dict]:
    """The CSVs of a section's ``tables:`` entries, each a glob or ``{file: glob, columns:
    [...]}`` (the columns shown; the CSV keeps them all). Of each glob's matches, the
    summaries come first."""
    out = []
    for entry in entries or []:
        pat, cols = (entry, None) if isinstance(entry, str) else (entry["file"], entry["columns"])
        paths = sorted(results.glob_current(pat), key=lambda p: "summary" not in p.stem)
        for p in paths:
            df = pd.read_csv(p)
            df = df[[c for c in cols if c in df.columns]] if cols else df
            t = html_table(df, max_rows)
            t["title"] = p.stem.replace("_", " ")
            t["path"] = str(p.relative_to(results.root))
            out.append(t)
    return out


_SUMMARY_COLS = ["variant", "train_acc", "val_acc", "test_acc", "final_loss", "diverged"]


def experiment_tables(results: Path, names, max_rows) -> list[dict]:
    out = []
    for name in names or []:
        p = results / "experiments" / name / "runs.csv"
        if not results.shows(p):
            out.append({"title": name, "missing": True})
            continue
        df = pd.read_csv(p)
        cols = [c for c in _SUMMARY_COLS if c in df.columns and not df[c].isna().all()]
        t = html_table(df[cols], max_rows)
        t["title"] = name.replace("_", " ")
        t["path"] = str(p.relative_to(results.root))
        t["runs"] = len(df)
        t["diverged"] = (
            [str(v) for v in df.loc[df["diverged"].astype(str) == "True", "variant"]]
            if "diverged" in df.columns
            else []
        )
        best = results / "experiments" / name / "best.json"
        if results.shows(best):
            b = read_json(best)
            t["best"] = {
                "variant": b["variant"],
                "val_acc": b["val_acc"],
                "test_acc": b["test_acc"],
                "num_test": b["num_test"],
            }
        out.append(t)
    return out


# --------------------------------------------------------------------------- our numbers
class References:
    """report/reference/: the course's and literature's numbers (anchors.csv), the
    write-ups' (seed_results.csv) and the lab's goals (goals.csv)."""

    def __init__(self, spec_dir: Path):
        spec_dir = Path(spec_dir)
        self.anchors = pd.read_csv(spec_dir / "anchors.csv")
        seeds = spec_dir / "seed_results.csv"
        self.seeds = pd.read_csv(seeds, dtype=str) if seeds.exists() else pd.DataFrame()
        goals = spec_dir / "goals.csv"
        self.goals = pd.read_csv(goals).set_index("goal") if goals.exists() else pd.DataFrame()

    def anchor(self, model) -> dict | None:
        ref = self.anchors[self.anchors["model"] == model]
        return ref.iloc[0].to_dict() if len(ref) else None

    def writeup(self, selector) -> str:
        if not selector or not len(self.seeds):
            return ""
        sel = self.seeds
        for col, want in selector.items():
            sel = sel[sel[col] == str(want)]
        return (
            f"{pct(float(sel['test_acc'].iloc[0]))} ({sel['source'].iloc[0]})" if len(sel) else ""
        )

    def goal(self, name) -> dict | None:
        if not name:
            return None
        if name not in self.goals.index:
            raise ValueError(f"goal {name!r} is not in report/reference/goals.csv")
        return self.goals.loc[name].to_dict()


def _plain(v):
    return v.item() if isinstance(v, np.generic) else v


def our_record(results: Outputs, r) -> dict | None:
    """The record holding our number for a ``comparison:``/``glance:`` row: the JSON
    ``file``, or the row of the CSV ``file`` its ``query`` selects (the highest
    ``best_by`` value when several match: selection on val, never on test)."""
    src = results / r["file"]
    if not results.shows(src):
        return None
    if src.suffix == ".json":
        return read_json(src)
    df = pd.read_csv(src)
    if "query" in r:
        df = df.query(r["query"])
    if "best_by" in r:
        df = df.sort_values(r["best_by"], ascending=False, kind="stable")
    return {k: _plain(v) for k, v in df.iloc[0].items()} if len(df) else None


def our_number(record, r):
    if record is None:
        return None
    if "key" in r:
        val = record
        for k in r["key"].split("."):
            val = val.get(k) if isinstance(val, dict) else None
        return val
    v = record.get(r["column"])
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)


def comparison_rows(results: Outputs, refs: References, rows) -> pd.DataFrame:
    """Our number beside the reference (anchors.csv) and the write-up's (seed_results.csv).

    Each row of a section's ``comparison:`` list names where our number is (``file`` +
    ``key`` for JSON, or ``file`` + optional ``query`` + ``column`` for CSV), the anchor
    model, and optionally ``writeup:`` — column/value pairs selecting a seed_results row."""
    out = []
    for r in rows or []:
        ours = our_number(our_record(results, r), r)
        ref = refs.anchor(r.get("anchor"))
        out.append(
            {
                "model": r["model"],
                "ours": pct(ours) if ours is not None else "not run",
                "our protocol": r.get("protocol", ""),
                "write-up": refs.writeup(r.get("writeup")),
                "reference": pct(float(ref["value"])) if ref else "",
                "reference protocol": (
                    f"{ref['reference']}, {ref['protocol']} ({ref['source']})" if ref else ""
                ),
                "note": r.get("note", ""),
            }
        )
    return pd.DataFrame(out)


class _Fields(dict):
    """A record for str.format_map: a missing field shows as '?' instead of failing."""

    def __missing__(self, key):
        return "?"


def _fill(text: str, record) -> str:
    try:
        return text.format_map(_Fields(record or {}))
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        return text


def _reference_note(ref) -> str:
    """'val · CS231n svm.ipynb': which split the reference is on and where it is from (the
    section's comparison table gives the whole anchor)."""
    if not ref:
        return ""
    split = "val" if "val" in str(ref["reference"]) else "test"
    return f"{split} · {str(ref['source']).split(' (')[0]}"


def glance_rows(results: Outputs, refs: References, rows, section_ids) -> list[dict]:
    """The "Results at a glance" rows: one per model family of sections.yaml's ``glance:`` —
    our number (as ``comparison:`` rows find it), the write-up's, the reference, the goal
    and the protocol difference (``detail``/``protocol`` may name fields of our record,
    e.g. "{num_train} train images"). ``optional`` rows are left out until their file exists."""
    out = []
    for r in rows or []:
        record = our_record(results, r)
        if record is None and r.get("optional"):
            continue
        if r["section"] not in section_ids:
            raise ValueError(f"glance row {r['model']!r}: no section {r['section']!r}")
        ours = our_number(record, r)
        ref, goal = refs.anchor(r.get("anchor")), refs.goal(r.get("goal"))
        out.append(
            {
                "model": r["model"],
                "section": r["section"],
                "detail": _fill(r.get("detail", ""), record) if record else "",
                "ours": ours,
                "writeup": refs.writeup(r.get("writeup")),
                "reference": float(ref["value"]) if ref else None,
                "reference_note": _reference_note(ref),
                "goal": float(goal["min_test_acc"]) if goal else None,
                "met": None if goal is None or ours is None else ours >= goal["min_test_acc"],
                "protocol": _fill(r.get("protocol", ""), record) if record else "",
            }
        )
    return out


# --------------------------------------------------------------------------- sections
def _data_status(prov: dict) -> str:
    if prov.get("lossy_mirror"):
        return "a lossy reconstruction, not the official release"
    if prov.get("all_official_checksums"):
        return "the official release (official checksums)"
    return "checked against a mirror's checksums, not the official ones"


def _data_source(prov: dict) -> str:
    files = prov.get("files", [])
    mirrors = sorted({f["mirror"] for f in files if f.get("mirror")})
    if mirrors:
        return "mirror " + ", ".join(mirrors)
    hosts = sorted({urlsplit(f["source"]).netloc or f["source"] for f in files})
    return ", ".join(hosts) or "unknown"


def provenance(results: Path) -> list[dict]:
    out = []
    for ds in ("mnist", "cifar10"):
        p = results / "data" / f"{ds}.provenance.json"
        if not p.exists():
            continue
        prov = read_json(p)
        out.append(
            {
                "dataset": ds,
                "name": {"mnist": "MNIST", "cifar10": "CIFAR-10"}[ds],
                "lossy": bool(prov.get("lossy_mirror")),
                "official": bool(prov.get("all_official_checksums")),
                "status": _data_status(prov),
                "source": _data_source(prov),
                "npz_sha256": prov.get("npz_sha256"),
                "files": [
                    {
                        "name": f["filename"],
                        "source": f["source"],
                        "bytes": f["bytes"],
                        "sha256": f.get("sha256"),
                        "kind": f.get("checksum_kind"),
                    }
                    for f in prov.get("files", [])
                ],
                "class_counts": prov.get("class_counts", {}),
            }
        )
    return out


def benchmark_table(results: Path) -> pd.DataFrame:
    """One row per job's ``benchmark:`` file under ``results/benchmarks``: its rule (first
    folder), job (path without suffix), wall seconds ``s``, peak RSS ``max_rss_mb`` (a
    sample: see bench/lab_time.py) and the file's time ``end``; empty or unreadable files
    (a job that never finished) are left out."""
    rows = []
    for p in sorted(glob.glob(str(results / "benchmarks" / "**" / "*.tsv"), recursive=True)):
        try:
            b = pd.read_csv(p, sep="\t")
        except (pd.errors.EmptyDataError, pd.errors.ParserError):
            continue
        if b.empty:
            continue
        rel = Path(p).relative_to(results / "benchmarks")
        rows.append(
            {
                "rule": rel.parts[0],
                "job": str(rel.with_suffix("")),
                "s": float(b["s"].iloc[0]),
                "max_rss_mb": float(b["max_rss"].iloc[0]) if "max_rss" in b else float("nan"),
                "end": Path(p).stat().st_mtime,
            }
        )
    return pd.DataFrame(rows, columns=["rule", "job", "s", "max_rss_mb", "end"])


def performance(results: Path) -> dict:
    df = benchmark_table(results)
    if df.empty:
        return {"by_rule": None, "slowest": None, "total_s": 0.0, "jobs": 0}
    by_rule = (
        df.groupby("rule")
        .agg(
            jobs=("s", "size"),
            total_s=("s", "sum"),
            max_s=("s", "max"),
            max_rss_mb=("max_rss_mb", "max"),
        )
        .sort_values("total_s", ascending=False)
        .reset_index()
    )
    slowest = df.drop(columns="end").sort_values("s", ascending=False).head(15)
    return {
        "by_rule": html_table(by_rule, 200),
        "slowest": html_table(slowest, 15),
        "total_s": float(df["s"].sum()),
        "jobs": len(df),
    }


def git_commit(root: Path) -> tuple[str, bool]:
    """HEAD's hash and whether tracked files differ from it ('unknown' outside git)."""

    def git(*args):
        return subprocess.run(
            ["git", *args], cwd=root, capture_output=True, text=True, timeout=10
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD") or "unknown"
        dirty = commit != "unknown" and bool(git("status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.SubprocessError):
        return "unknown", False
    return commit, dirty


def reproducibility(config: dict, commit: tuple[str, bool]) -> dict:
    versions = []
    for name in PINNED:
        try:
            versions.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            versions.append((name, "not installed"))
    return {
        "config": yaml.safe_dump(config, sort_keys=True, default_flow_style=None, width=100),
        "versions": versions,
        "commit": commit[0],
        "dirty": commit[1],
        "seed": config.get("seed"),
    }


def run_facts(config, config_name, data, perf, commit) -> dict:
    """The run's facts above the glance table."""
    cifar = (config.get("data") or {}).get("cifar10") or {}
    split = [cifar.get(k) for k in ("num_training", "num_validation", "num_test")]
    return {
        "config": config_name or "not recorded",
        "data": data,
        "cifar_split": split if all(v is not None for v in split) else None,
        "job_minutes": perf["total_s"] / 60,
        "jobs": perf["jobs"],
        # the machine's, not Snakemake's --cores: that is not recorded in any output
        "cpus": len(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "commit": commit[0],
        "dirty": commit[1],
    }


def answer(q: dict, results: Outputs, env: jinja2.Environment) -> dict:
    path = results / "questions" / f"{q['id']}.json"
    # an answer whose evidence is not part of this config's DAG is disabled, even when an
    # earlier run's file is still on disk
    out = {
        "id": q["id"],
        "title": q["title"],
        "source": q["source"],
        "figures": [],
        "figure_stems": [],
        "missing": False,
    }
    if not results.shows(path):
        out["missing"] = True
        out["text"] = (
            f"No evidence for this question in this run: {path.name} was not produced "
            f"(the experiment behind it — {q.get('needs', 'see the config')} — is "
            "disabled or failed)."
        )
        return out
    ev = read_json(path)
    try:
        # rendered with autoescape: evidence values are escaped, the template's own markup
        # (entities such as &lt;) is kept, so the page must not escape it a second time
        text = render_answer(q, ev, env)
    except Exception as exc:  # a template/evidence mismatch must not break the report
        text = f"(The prepared answer could not be rendered: {type(exc).__name__}.) " + _generic(ev)
    out["text"] = text
    figs = [str(f) for f in ev.get("figures", []) if str(f).endswith((".png", ".svg"))]
    out["figures"] = figures(results, figs)
    out["figure_stems"] = [str(Path(f).with_suffix("")) for f in figs]
    return out


def _generic(ev: dict) -> str:
    parts = []
    if ev.get("finding"):
        parts.append(str(ev["finding"]))
    for k, v in ev.items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            parts.append(f"{k.replace('_', ' ')} = {num(v)}")
        if len(parts) >= 8:
            break
    return "; ".join(parts) + "."


def _section(s, results, refs, qby, env, max_rows) -> dict:
    answers = [answer(qby[qid], results, env) for qid in s.get("questions", [])]
    # a figure an answer shows is not repeated among the section's figures
    shown = [stem for a in answers for stem in a["figure_stems"]]
    return {
        "id": s["id"],
        "title": s["title"],
        "intro": s.get("intro", ""),
        "figures": figures(results, s.get("figures"), skip=shown),
        "tables": csv_tables(results, s.get("tables"), max_rows),
        "experiments": experiment_tables(results, s.get("experiments"), max_rows),
        "answers": answers,
        "comparison": (
            html_table(comparison_rows(results, refs, s["comparison"]), 50)
            if s.get("comparison")
            else None
        ),
        "provenance": None,
        "performance": None,
        "repro": None,
        "commands": [],
    }


def build_report(
    *,
    results,
    root,
    spec_dir,
    sections_file,
    questions_dir,
    template,
    css_file,
    config,
    script_file=None,
    config_name=None,
    max_rows=40,
    current_outputs=None,
    log=None,
) -> str:
    """The report's HTML text (see the module docstring)."""
    results, root, refs = Outputs(results, current_outputs), Path(root), References(spec_dir)
    sections_cfg = yaml.safe_load(Path(sections_file).read_text(encoding="utf-8"))
    questions = load_registry(questions_dir)
    qby = {q["id"]: q for q in questions}
    listed = {qid for s in sections_cfg["sections"] for qid in s.get("questions", [])}
    unlisted = sorted(set(qby) - listed)
    if unlisted:
        raise ValueError(f"{questions_dir}: questions not placed in any section: {unlisted}")
    env = answer_environment()
    data, perf, commit = provenance(results), performance(results), git_commit(root)
    sections = []
    for s in sections_cfg["sections"]:
        sec = _section(s, results, refs, qby, env, int(max_rows))
        if s["id"] == "data":
            sec["provenance"] = data
        if s["id"] == "performance":
            sec["performance"] = perf
        if s["id"] == "reproducibility":
            sec["repro"] = reproducibility(dict(config), commit)
            sec["commands"] = sections_cfg.get("commands", [])
        sections.append(sec)
    ids = {s["id"]: s["title"] for s in sections}
    glance = {
        "rows": glance_rows(results, refs, sections_cfg.get("glance"), ids),
        "facts": run_facts(dict(config), config_name, data, perf, commit),
        "note": sections_cfg.get("glance_note", ""),
    }
    tmpl_env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(template).parent), autoescape=True
    )
    tmpl_env.filters.update(pct=pct, num=num)
    html = tmpl_env.get_template(Path(template).name).render(
        title=sections_cfg["title"],
        subtitle=sections_cfg.get("subtitle", ""),
        glance=glance,
        sections=sections,
        css=Path(css_file).read_text(encoding="utf-8"),
        script=Path(script_file or Path(template).parent / "report.js").read_text(encoding="utf-8"),
        n_questions=len(questions),
        n_missing=sum(a["missing"] for s in sections for a in s["answers"]),
    )
    if log is not None:
        log.info(
            "report: %d sections, %d questions, %.1f MB",
            len(sections),
            len(questions),
            len(html.encode("utf-8")) / 1e6,
        )
    return html
