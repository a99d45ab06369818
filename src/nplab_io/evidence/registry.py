"""The question registry (``report/questions/<family>.yaml``) and running one question.

Fields of a registry entry (``report/questions/README.md`` explains them for authors):
``id``, ``title``, ``source``, ``needs`` (what must be enabled, in words), ``caption``
(Snakemake report), ``answer`` and optional ``finding`` (Jinja over ``ev``, the evidence),
optional ``max_words`` (the rendered answer's length limit, checked by the tests); for its
rule: ``tables`` (experiment tables; the question exists only when all are enabled),
``table_files``, ``run_files`` (per-run files of the tables), ``inputs`` (other files under
results/), ``outputs`` (extra files it writes), ``settings``, ``config_settings`` (settings
read from the validated config), ``resources``.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
from collections.abc import Mapping
from pathlib import Path

import jinja2
import markupsafe
import yaml

from nplab_io.atomic import write_json_atomic, write_text_atomic
from nplab_io.evidence.io import QuestionData, check_evidence, rel

__all__ = [
    "REQUIRED_KEYS",
    "OPTIONAL_KEYS",
    "load_registry",
    "question_functions",
    "answer_environment",
    "render_answer",
    "run_question",
    "pct",
    "num",
    "fmt",
]

REQUIRED_KEYS = ("id", "title", "source", "needs", "caption", "answer")
OPTIONAL_KEYS = (
    "finding",
    "max_words",
    "tables",
    "table_files",
    "run_files",
    "inputs",
    "outputs",
    "settings",
    "config_settings",
    "resources",
)


def load_registry(directory) -> list[dict]:
    """Every question of ``directory/*.yaml``, each with its ``family`` (the file's stem)."""
    directory = Path(directory)
    questions, seen = [], {}
    for path in sorted(directory.glob("*.yaml")):
        entries = yaml.safe_load(path.read_text(encoding="utf-8")) or []
        if not isinstance(entries, list):
            raise ValueError(f"{path}: expected a list of question entries")
        for q in entries:
            _check_entry(path, q)
            if q["id"] in seen:
                raise ValueError(f"{path}: question {q['id']!r} is also defined in {seen[q['id']]}")
            seen[q["id"]] = path.name
            questions.append(dict(q, family=path.stem))
    return questions


def _check_entry(path: Path, q) -> None:
    if not isinstance(q, dict) or "id" not in q:
        raise ValueError(f"{path}: every entry needs an 'id'")
    missing = [k for k in REQUIRED_KEYS if k not in q]
    if missing:
        raise ValueError(f"{path}: question {q['id']!r} lacks {', '.join(missing)}")
    unknown = sorted(set(q) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS))
    if unknown:
        raise ValueError(f"{path}: question {q['id']!r} has unknown field(s) {unknown}")
    limit = q.get("max_words", 1)
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise ValueError(f"{path}: question {q['id']!r}: max_words must be a positive integer")


def has_evidence_module(family: str) -> bool:
    return importlib.util.find_spec(f"nplab_io.evidence.{family}") is not None


def question_functions(family: str, qid: str):
    """``(compute, plot)`` of question ``qid`` in ``nplab_io.evidence.<family>``."""
    module = importlib.import_module(f"nplab_io.evidence.{family}")
    name = qid.replace("-", "_")
    try:
        return getattr(module, f"compute_{name}"), getattr(module, f"plot_{name}")
    except AttributeError as exc:
        raise ValueError(f"nplab_io.evidence.{family} lacks compute/plot for {qid}") from exc


# --------------------------------------------------------------------------- templates
def pct(x, digits=1):
    """0.4312 -> '43.1%'; None/NaN -> 'n/a'."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "n/a"
    return f"{100 * float(x):.{digits}f}%"


def num(x, digits=3):
    """A number with `digits` significant digits; ints unchanged; None -> 'n/a'."""
    if x is None:
        return "n/a"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, int):
        return f"{x:,}"
    x = float(x)
    if math.isnan(x):
        return "n/a"
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e5):
        return f"{x:.{max(digits - 1, 0)}e}"
    return f"{x:.{digits}g}"


def fmt(x, spec: str) -> str:
    """Python's format mini-language in a template: ``{{ x | fmt('.2f') }}``."""
    return format(x, spec)


def answer_environment() -> jinja2.Environment:
    """The one Jinja environment answers render in: autoescaped, strict about missing keys."""
    env = jinja2.Environment(
        autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True
    )
    env.filters.update(pct=pct, num=num, fmt=fmt)
    env.globals.update(pct=pct, num=num, fmt=fmt)
    return env


def render_answer(q: Mapping, evidence: Mapping, env: jinja2.Environment | None = None):
    """The answer's HTML (Markup): its template with ``ev`` and the rendered ``finding``."""
    env = env or answer_environment()
    finding = markupsafe.Markup("")
    if q.get("finding"):
        finding = markupsafe.Markup(env.from_string(q["finding"]).render(ev=evidence).strip())
    text = env.from_string(q["answer"]).render(ev=evidence, finding=finding)
    return markupsafe.Markup(text.strip())


# --------------------------------------------------------------------------- one job
def run_question(
    *,
    qid: str,
    family: str,
    inputs: Mapping,
    outputs: Mapping,
    tables=(),
    table_files=None,
    runs=None,
    settings=None,
    log=None,
) -> dict:
    """Compute, check and write one question's evidence JSON, extra outputs and figure."""
    from nplab_io.figures import save_figure

    compute, plot = question_functions(family, qid)
    data = QuestionData(
        inputs,
        outputs=outputs,
        tables=tables,
        runs=runs,
        **({"table_files": table_files} if table_files else {}),
    )
    evidence = compute(data, dict(settings or {}))
    public = {k: v for k, v in evidence.items() if not str(k).startswith("_")}
    public.setdefault("question", qid)
    public.setdefault("figures", [rel(p) for p in data.output("fig") if str(p).endswith(".png")])
    check_evidence(public)
    write_json_atomic(data.output("json")[0], public)
    for name, text in evidence.get("_files", {}).items():
        write_text_atomic(data.output(name)[0], text)
    save_figure(plot(evidence, data), data.output("fig"))
    if log is not None:
        log.info("%s: %d evidence keys", qid, len(public))
    return public
