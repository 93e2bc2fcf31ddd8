"""The one place that decides which answers count.

A percentage's base is the cases where the question applies and is answered.
It excludes, in this order of checking:

* questions that do not apply by rule (``Evaluation.visible`` holds only
  applicable questions);
* stale answers: given to a question that has since stopped applying, or
  retired by the inspector (the store never passes retired answers in);
* unanswered questions;
* answers whose option is marked ``counts: false``, such as "Not applicable".

"None of these" (an explicit empty multi-choice selection, ``[]``) is an
answer and counts.

The store persists this decision per answer (``answers.counted``) each time a
case changes, so tabulation, the UI's figures and the merge all read the same
verdict. Nothing else may decide it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from audit.engine import Evaluation
    from audit.rubric import Question, Rubric

#: Bumped whenever the rules below change what counts. A database records the
#: version its verdicts were written under (``meta.counting_version``) and is
#: recounted, in one transaction, when opened by code with another one.
#: 2: an explicit empty selection ("None of these") is an answer and counts.
COUNTING_VERSION = 2

# The engine is imported where it is used, so that percent() can be imported
# (by the store's case list, before first paint) without the rubric models.


def counts_in_base(question: Question, value: Any) -> bool:
    """Whether an applicable question's answer belongs in a percentage's base."""
    from audit.engine import is_answered

    return is_answered(value) and _option_counts(question, value)


def _option_counts(question: Question, value: Any) -> bool:
    """For an answered question: false only for options marked ``counts: false``."""
    if question.type == "multi":
        # "None of these" counts; a selection counts unless all it holds is e.g. "Not applicable"
        return not value or any(question.counts(code) for code in value)
    if question.is_choice:
        return question.counts(value)
    return True


def counted_answers(evaluation: Evaluation) -> dict[str, Any]:
    """The answers of one case that count, by question id."""
    rubric = evaluation.rubric
    # ``visible`` holds only applicable, answered questions
    return {qid: value for qid, value in evaluation.visible.items() if _option_counts(rubric.question(qid), value)}


@dataclass(frozen=True)
class CaseCount:
    """What the store persists for one case after each change."""

    evaluation: Evaluation
    counted: frozenset[str]  # question ids whose answer counts
    applicable_count: int
    answered_count: int  # applicable questions with an answer (N/A answers included)

    @property
    def percent_answered(self) -> int:
        return percent(self.answered_count, self.applicable_count) or 0


def progress(evaluation: Evaluation) -> tuple[int, int]:
    """(questions that apply, those of them answered): a case's progress, "Not applicable" answers included."""
    return len(evaluation.applicable), len(evaluation.visible)


def count_case(rubric: Rubric, answers: Mapping[str, Any], evaluation: Evaluation | None = None) -> CaseCount:
    if evaluation is None:
        from audit.engine import evaluate

        evaluation = evaluate(rubric, answers)
    counted = frozenset(counted_answers(evaluation))
    return CaseCount(evaluation, counted, *progress(evaluation))


def percent(count: int, base: int) -> int | None:
    """A whole-number percentage rounded half up from unrounded counts; None for a zero base."""
    if base <= 0:
        return None
    return (200 * count + base) // (2 * base)
