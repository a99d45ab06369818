"""Build the lab report: one self-contained HTML file (Jinja2 template, autoescaped;
figures embedded as base64 PNG; CSS inline; no external URL).

Sections, their figures/tables and the questions come from report/sections.yaml and
the question registry report/questions/*.yaml; every number comes from this run's outputs under ``results/``.
Used by workflow/scripts/report.py.
"""

import base64
import glob
import json
import math
import subprocess
from importlib import metadata
from pathlib import Path

import jinja2
import pandas as pd
import yaml

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


def _read_json(path):
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def _png(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


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


def figures(results: Path, patterns) -> list[dict]:
    out, seen = [], set()
    for pat in patterns or []:
        for p in results.glob_current(pat):
            if p.suffix != ".png" or p in seen:
                continue
            seen.add(p)
            out.append(
                {"src": _png(p), "caption": _caption(p), "path": str(p.relative_to(results.root))}
            )
    return out


def _fmt_cell(v):
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        return num(v, 4)
    return v


def html_table(df: pd.DataFrame, max_rows: int = 40) -> dict:
    """A DataFrame as a dict the template renders (escaped by Jinja)."""
    n = len(df)
    df = df.head(max_rows)
    return {
        "columns": [str(c) for c in df.columns],
        "rows": [[_fmt_cell(v) for v in row] for row in df.itertuples(index=False)],
        "truncated": n - len(df),
    }


def csv_tables(results: Path, patterns, max_rows) -> list[dict]:
    out = []
    for pat in patterns or []:
        for p in results.glob_current(pat):
            df = pd.read_csv(p)
            t = html_table(df, max_rows)
            t["title"] = Path(p).stem.replace("_", " ")
            t["path"] = str(Path(p).relative_to(results.root))
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
            b = _read_json(best)
            t["best"] = {
                "variant": b["variant"],
                "val_acc": b["val_acc"],
                "test_acc": b["test_acc"],
                "num_test": b["num_test"],
            }
        out.append(t)
    return out


# --------------------------------------------------------------------------- sections
def comparison_rows(results: Path, spec_dir: Path, rows) -> pd.DataFrame:
    """Our number beside the reference (anchors.csv) and the write-up's (seed_results.csv).

    Each row of a section's ``comparison:`` list names where our number is (``file`` +
    ``key`` for JSON, or ``file`` + optional ``query`` + ``column`` for CSV), the anchor
    model, and optionally ``writeup:`` — column/value pairs selecting a seed_results row."""
    anchors = pd.read_csv(spec_dir / "anchors.csv")
    seeds_path = spec_dir / "seed_results.csv"
    seeds = pd.read_csv(seeds_path, dtype=str) if seeds_path.exists() else pd.DataFrame()
    out = []
    for r in rows or []:
        ours = None
        src = results / r["file"]
        if results.shows(src):
            if src.suffix == ".json":
                val = _read_json(src)
                for k in r["key"].split("."):
                    val = val.get(k) if isinstance(val, dict) else None
                ours = val
            else:
                df = pd.read_csv(src)
                if "query" in r:
                    df = df.query(r["query"])
                ours = float(df[r["column"]].iloc[0]) if len(df) else None
        ref = anchors[anchors["model"] == r.get("anchor")]
        writeup = ""
        if r.get("writeup") and len(seeds):
            sel = seeds
            for col, want in r["writeup"].items():
                sel = sel[sel[col] == str(want)]
            if len(sel):
                writeup = f"{pct(float(sel['test_acc'].iloc[0]))} ({sel['source'].iloc[0]})"
        out.append(
            {
                "model": r["model"],
                "ours": pct(ours) if ours is not None else "not run",
                "our protocol": r.get("protocol", ""),
                "write-up": writeup,
                "reference": pct(float(ref["value"].iloc[0])) if len(ref) else "",
                "reference protocol": (
                    f"{ref['reference'].iloc[0]}, {ref['protocol'].iloc[0]} "
                    f"({ref['source'].iloc[0]})"
                )
                if len(ref)
                else "",
                "note": r.get("note", ""),
            }
        )
    return pd.DataFrame(out)


def provenance(results: Path) -> list[dict]:
    out = []
    for ds in ("mnist", "cifar10"):
        p = results / "data" / f"{ds}.provenance.json"
        if not p.exists():
            continue
        prov = _read_json(p)
        out.append(
            {
                "dataset": ds,
                "lossy": bool(prov.get("lossy_mirror")),
                "official": bool(prov.get("all_official_checksums")),
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


def performance(results: Path) -> dict:
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
            }
        )
    if not rows:
        return {"by_rule": None, "slowest": None, "total_s": 0.0}
    df = pd.DataFrame(rows)
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
    slowest = df.sort_values("s", ascending=False).head(15)
    return {
        "by_rule": html_table(by_rule, 50),
        "slowest": html_table(slowest, 15),
        "total_s": float(df["s"].sum()),
    }


def reproducibility(config: dict, root: Path) -> dict:
    versions = []
    for name in PINNED:
        try:
            versions.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            versions.append((name, "not installed"))
    try:
        commit = (
            subprocess.run(
                ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10
            ).stdout.strip()
            or "unknown"
        )
    except (OSError, subprocess.SubprocessError):
        commit = "unknown"
    return {
        "config": yaml.safe_dump(config, sort_keys=True, default_flow_style=None, width=100),
        "versions": versions,
        "commit": commit,
        "seed": config.get("seed"),
    }


def answer(q: dict, results: Path, env: jinja2.Environment) -> dict:
    path = results / "questions" / f"{q['id']}.json"
    # an answer whose evidence is not part of this config's DAG is disabled, even when an
    # earlier run's file is still on disk
    out = {
        "id": q["id"],
        "title": q["title"],
        "source": q["source"],
        "figures": [],
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
    ev = _read_json(path)
    try:
        # rendered with autoescape: evidence values are escaped, the template's own markup
        # (entities such as &lt;) is kept, so the page must not escape it a second time
        text = render_answer(q, ev, env)
    except Exception as exc:  # a template/evidence mismatch must not break the report
        text = f"(The prepared answer could not be rendered: {type(exc).__name__}.) " + _generic(ev)
    out["text"] = text
    figs = [f for f in ev.get("figures", []) if str(f).endswith(".png")]
    figs += [
        str(Path(f).with_suffix(".png"))
        for f in ev.get("figures", [])
        if str(f).endswith(".svg") and str(Path(f).with_suffix(".png")) not in figs
    ]
    out["figures"] = figures(results, figs)
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
    max_rows=40,
    current_outputs=None,
    log=None,
) -> str:
    """The report's HTML text (see the module docstring)."""
    results, root, spec_dir = Outputs(results, current_outputs), Path(root), Path(spec_dir)
    sections_cfg = yaml.safe_load(Path(sections_file).read_text(encoding="utf-8"))
    questions = load_registry(questions_dir)
    env = answer_environment()
    qby = {q["id"]: q for q in questions}
    max_rows = int(max_rows)
    sections = []
    for s in sections_cfg["sections"]:
        sec = {
            "id": s["id"],
            "title": s["title"],
            "intro": s.get("intro", ""),
            "figures": figures(results, s.get("figures")),
            "tables": csv_tables(results, s.get("tables"), max_rows),
            "experiments": experiment_tables(results, s.get("experiments"), max_rows),
            "answers": [answer(qby[qid], results, env) for qid in s.get("questions", [])],
            "comparison": None,
            "provenance": None,
            "performance": None,
            "repro": None,
            "commands": [],
        }
        if s.get("comparison"):
            sec["comparison"] = html_table(comparison_rows(results, spec_dir, s["comparison"]), 50)
        if s["id"] == "data":
            sec["provenance"] = provenance(results)
        if s["id"] == "performance":
            sec["performance"] = performance(results)
        if s["id"] == "reproducibility":
            sec["repro"] = reproducibility(dict(config), root)
            sec["commands"] = sections_cfg.get("commands", [])
        sections.append(sec)
    listed = {qid for s in sections_cfg["sections"] for qid in s.get("questions", [])}
    unlisted = sorted(set(qby) - listed)
    if unlisted:
        raise ValueError(f"{questions_dir}: questions not placed in any section: {unlisted}")
    tmpl_env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(template).parent), autoescape=True
    )
    tmpl_env.filters.update(pct=pct, num=num)
    css = Path(css_file).read_text(encoding="utf-8")
    html = tmpl_env.get_template(Path(template).name).render(
        title=sections_cfg["title"],
        subtitle=sections_cfg.get("subtitle", ""),
        sections=sections,
        css=css,
        n_questions=len(questions),
        n_missing=sum(a["missing"] for s in sections for a in s["answers"]),
    )
    if log is not None:
        log.info(
            "report: %d sections, %d questions, %.1f MB",
            len(sections),
            len(questions),
            len(html) / 1e6,
        )
    return html
