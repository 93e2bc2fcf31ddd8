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


#: rubric id() -> (the rubric, its questions that have an option marked ``counts: false``); the
#: rubric is held, so its id() cannot be reused while its entry is here
_MAY_NOT_COUNT: dict[int, tuple[Rubric, tuple[tuple[str, bool, frozenset[str]], ...]]] = {}


def questions_that_may_not_count(rubric: Rubric) -> tuple[tuple[str, bool, frozenset[str]], ...]:
    """(question id, is multi-choice, its options marked ``counts: false``) for each question whose
    answer may be left out of the base; an applicable answer to any other question always counts
    (:func:`_option_counts` is true). Worked out once per rubric."""
    entry = _MAY_NOT_COUNT.get(id(rubric))
    if entry is None or entry[0] is not rubric:
        if len(_MAY_NOT_COUNT) >= 64:
            _MAY_NOT_COUNT.clear()
        table = tuple(
            (q.id, q.type == "multi", frozenset(code for code, option in q.options.items() if not option.counts))
            for q in rubric.questions if q.is_choice and not all(o.counts for o in q.options.values())
        )
        entry = _MAY_NOT_COUNT[id(rubric)] = (rubric, table)
    return entry[1]


def counted_questions(evaluation: Evaluation) -> frozenset[str]:
    """The question ids of :func:`counted_answers`, looking only at the few questions where an answer
    may not count (the bulk paths ask this once per case). Decides as :func:`_option_counts` does: a
    code counts unless its option says ``counts: false``; a selection counts unless it is not empty
    and every code in it is such an option."""
    visible = evaluation.visible
    left_out = []
    for qid, multi, never in questions_that_may_not_count(evaluation.rubric):
        value = visible.get(qid)
        if value is None:
            continue
        if not multi and value.__class__ is str:
            if value in never:
                left_out.append(qid)
        elif multi and value.__class__ is list and all(code.__class__ is str for code in value):
            if value and never.issuperset(value):
                left_out.append(qid)
        elif not _option_counts(evaluation.rubric.question(qid), value):
            left_out.append(qid)
    return frozenset(visible).difference(left_out) if left_out else frozenset(visible)


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
    counted = counted_questions(evaluation)
    return CaseCount(evaluation, counted, *progress(evaluation))


def percent(count: int, base: int) -> int | None:
    """A whole-number percentage rounded half up from unrounded counts; None for a zero base."""
    if base <= 0:
        return None
    return (200 * count + base) // (2 * base)
