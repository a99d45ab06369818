"""Question evidence: the numbers behind every answer of the report.

The question registry (``report/questions/<family>.yaml``) is the only place a question is
defined: its title, source, the inputs its rule needs, its settings, its caption and the
prose of its answer, as Jinja templates over the evidence. This package holds the code:
one module per family (``knn``, ``linear``, ``nets``, ``mnist``, ...) with, per question
``<qid>`` (``knn-1`` -> ``knn_1``),

* ``compute_<qid>(data, settings) -> dict``: the evidence, numbers, booleans and short
  labels only (keys starting with ``_`` are working values for the figure, never written);
* ``plot_<qid>(evidence, data) -> Figure``: the question's figure.

:func:`run_question` runs one question (the rule's script calls only that).
"""

from nplab_io.evidence.io import QuestionData, check_evidence
from nplab_io.evidence.registry import (
    load_registry,
    question_functions,
    render_answer,
    run_question,
)

__all__ = [
    "QuestionData",
    "check_evidence",
    "load_registry",
    "question_functions",
    "render_answer",
    "run_question",
]
