"""Checks that an answer of the question registry reads well (issue 15): its first sentence
is short (the verdict), no sentence is said twice, no number is stated in two sentences, it
keeps to its entry's ``max_words``, no template syntax is left and its HTML is escaped once.
Used by tests/io/test_answers.py (which shows each check can fail) and the evidence tests.
"""

from __future__ import annotations

import html
import re

FIRST_SENTENCE_WORDS = 40
DEFAULT_MAX_WORDS = 120
# a number: digits with decimals / thousands separators, an exponent, a percent sign; not part
# of a word (L2, s_j, 1-NN's "1" is kept: small integers are allowed anyway) nor an image id
NUMBER = re.compile(r"(?<![\w.])(?<!image )\d+(?:[.,]\d+)*(?:e[-+−]?\d+)?%?")
SMALL_INT = 10  # integers up to this (list positions, 1-NN, "3 vs 5 layers") may recur
# digits the template text (outside {{ }} / {% %}) may contain: formulas and names, never a
# measured value or a setting (those come from the evidence)
FORMULA = re.compile(
    r"\bL[12]\b|\b[15]-NN|N\(0,1\)|max\(0,|log\(1/|1/p\b|1/\(1|s\(1|√\(2/fan_in\)|/2h|\b[01]\b"
)


def plain(text) -> str:
    """The answer as a reader sees it: entities decoded, whitespace collapsed."""
    return " ".join(html.unescape(str(text)).split())


def sentences(text: str) -> list[str]:
    """Sentences end with . ! or ? before a capital, a digit, a quote or a bracket."""
    return [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z0-9(\"])", text) if s]


def repeated_numbers(text: str, allowed=frozenset()) -> dict[str, int]:
    """Numbers stated in more than one sentence (small integers and `allowed` aside)."""
    where: dict[str, set[int]] = {}
    for i, s in enumerate(sentences(text)):
        for m in NUMBER.finditer(s):
            t = m.group(0)
            if (t.isdigit() and int(t) <= SMALL_INT) or t in allowed:
                continue
            where.setdefault(t, set()).add(i)
    return {t: len(at) for t, at in where.items() if len(at) > 1}


def answer_problems(q, markup, *, numbers=True, allowed=frozenset()) -> list[str]:
    """Everything wrong with one rendered answer (empty when it reads well); ``numbers``:
    check that no number is stated twice (`allowed`: values that recur by chance)."""
    raw, text = str(markup), plain(markup)
    found = [f"template syntax left: {t}" for t in ("{{", "}}", "{%", "%}", "{#") if t in raw]
    if "<" in raw or ">" in raw.replace("&gt;", ""):
        found.append("raw < or > in the HTML (write &lt; / &gt;)")
    if re.search(r"&amp;(lt|gt|amp|#\d+);", raw):
        found.append("escaped twice")
    said = [s.lower() for s in sentences(text)]
    found += [f"sentence said twice: {s!r}" for s in sorted({s for s in said if said.count(s) > 1})]
    first = sentences(text)[0] if text else ""
    if not first or len(first.split()) > FIRST_SENTENCE_WORDS:
        found.append(f"first sentence has {len(first.split())} words: {first!r}")
    limit = q.get("max_words", DEFAULT_MAX_WORDS)
    if len(text.split()) > limit:
        found.append(f"{len(text.split())} words, more than {limit}")
    if numbers:
        repeats = repeated_numbers(text, allowed)
        if repeats:
            found.append(f"numbers stated in several sentences: {repeats}")
    return found


def typed_numbers(template: str) -> list[str]:
    """Digits in a template's own text (not read from the evidence) that are no formula."""
    text = re.sub(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", " ", template, flags=re.S)
    return re.findall(r"\S*\d\S*", FORMULA.sub(" ", text))
