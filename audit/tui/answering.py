"""What the walk-through shows and checks, in plain Python (no Textual here).

The screens draw what these functions say, so that the rules stay in one place
and are tested without a terminal: how a typed answer is read, how an answer
is labelled, the state of each question in the outline, and progress.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from audit.identity import printable
from audit.store import STATUS_COMPLETE

if TYPE_CHECKING:  # the rubric engine loads after the case list has painted
    from audit.engine import Evaluation
    from audit.rubric import Question, Rubric

#: how an explicit empty selection (``[]``) of a several-choice question reads
NONE_OF_THESE = "None of these"
#: statuses in which a case's answers are read-only until it is reopened ("approved" comes with #11)
READ_ONLY_STATUSES = (STATUS_COMPLETE, "approved")

ANSWERED, TODO, NOT_APPLICABLE, ATTENTION, RETIRED, PENDING, OFFERED = (
    "answered", "todo", "not_applicable", "attention", "retired", "pending", "offered"
)

_WHOLE_NUMBER = re.compile(r"-?[0-9]+")


class TypedProblem(ValueError):
    """A typed answer that cannot be saved as it is; the message says why and what would do."""


def progress(done: int, total: int) -> int:
    """Percent done, rounded down: 100 only when everything is done (38 of 39 is 97, never 100)."""
    if total <= 0:
        return 0
    return done * 100 // total


def is_read_only(status: str) -> bool:
    return status in READ_ONLY_STATUSES


def answer_label(question: Question | None, value: Any) -> str:
    """An answer as people read it: option labels, "None of these" for an empty selection; safe for a
    terminal (a text answer from an imported file may hold control characters: they are shown escaped)."""
    if value is None:
        return ""
    if isinstance(value, list) and not value:
        return NONE_OF_THESE
    if question is None:
        return printable(value)
    from audit.values import display

    try:
        return printable(display(question, value))
    except (KeyError, TypeError, ValueError):  # an answer from an older version of the rubric: as stored
        return printable(value)


def expectation(question: Question) -> str:
    """What a typed answer must be, in words: 'a whole number, 10–120'."""
    if question.type == "integer":
        if question.range:
            low, high = question.range
            return f"a whole number, {low}–{high}"
        return "a whole number"
    if question.type == "date":
        return "a date, YYYY-MM-DD or DD/MM/YYYY"
    return "text"


def typed_value(question: Question, text: str) -> Any:
    """The value to save for what was typed, exactly as typed (None when blank).

    A number must be written as a whole number and nothing else: '12.5', '1,000'
    or 'twelve' are refused, never read as something else.
    """
    from audit.values import ValueProblem, coerce

    text = text.strip()
    if not text:
        return None
    if question.type == "integer":
        if not _WHOLE_NUMBER.fullmatch(text) or len(text) > 12:
            raise TypedProblem(f"“{_shown(text)}” is not a whole number: type {expectation(question)}")
        number = int(text)
        if question.range and not (question.range[0] <= number <= question.range[1]):
            raise TypedProblem(f"{number} is out of range: type {expectation(question)}")
        return number
    if any(not character.isprintable() for character in text):
        raise TypedProblem("the answer holds a control character: type it again without it")
    try:
        return coerce(question, text)
    except ValueProblem as exc:
        raise TypedProblem(f"{exc}") from None


def _shown(text: str, width: int = 20) -> str:
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= width else text[: width - 1] + "…"


@dataclass(frozen=True)
class RubricFacts:
    """What the walk-through asks of a rubric on every keypress, as plain dicts (a pydantic model's
    attributes and private attributes cost a lookup each, 200 questions at a time)."""

    ids: tuple[str, ...]
    position: dict[str, int]
    required: frozenset[str]
    section_of: dict[str, str]  # question id -> section id
    section_rule: dict[str, Any]  # section id -> Rule or None
    question_rule: dict[str, Any]  # question id -> Rule or None
    sections: tuple[tuple[str, str, tuple[str, ...]], ...]  # (id, title, question ids)


_FACTS: dict[str, RubricFacts] = {}


def rubric_facts(rubric: Rubric) -> RubricFacts:
    facts = _FACTS.get(rubric.sha256)
    if facts is None:
        questions = rubric.questions
        facts = _FACTS[rubric.sha256] = RubricFacts(
            ids=tuple(rubric.question_ids),
            position={q.id: i for i, q in enumerate(questions)},
            required=frozenset(q.id for q in questions if q.required),
            section_of={q.id: s.id for s in rubric.sections for q in s.questions},
            section_rule={s.id: s.rule for s in rubric.sections},
            question_rule={q.id: q.rule for q in questions},
            sections=tuple((s.id, s.title, tuple(q.id for q in s.questions)) for s in rubric.sections),
        )
    return facts


def question_states(rubric: Rubric, evaluation: Evaluation, rows: dict[str, dict]) -> dict[str, str]:
    """Each question's mark in the outline.

    Attention: a required question that applies, is unanswered, and lies before
    the furthest answered question (it was passed over). Pending: a question
    whose rule cannot be decided until an earlier question is answered. Offered: a question that
    applies again, with no answer, whose earlier answer was retired (it is offered back).
    """
    facts = rubric_facts(rubric)
    applicable, visible, answers = evaluation.applicable, evaluation.visible, evaluation.answers
    position = facts.position
    furthest = max((position[qid] for qid in visible), default=-1)
    section_truth: dict[str, Any] = {}
    states: dict[str, str] = {}
    for qid in facts.ids:
        if qid not in applicable:
            row = rows.get(qid)
            if row and row["state"] == "retired" and row["value"] is not None:
                states[qid] = RETIRED
                continue
            # as Evaluation.excluded_by: the first rule (the section's, then the question's) not true
            section = facts.section_of[qid]
            if section not in section_truth:
                rule = facts.section_rule[section]
                section_truth[section] = True if rule is None else rule.evaluate(visible)
            truth = section_truth[section]
            if truth is True:
                rule = facts.question_rule[qid]
                truth = True if rule is None else rule.evaluate(visible)
            states[qid] = PENDING if truth is None else NOT_APPLICABLE
        elif qid in visible or _is_empty_selection(answers.get(qid)):
            states[qid] = ANSWERED
        elif (row := rows.get(qid)) is not None and row["state"] == "retired" and row["value"] is not None:
            states[qid] = OFFERED
        elif qid in facts.required and position[qid] < furthest:
            states[qid] = ATTENTION
        else:
            states[qid] = TODO
    return states


def _is_empty_selection(value: Any) -> bool:
    return isinstance(value, list) and not value


def is_answered(evaluation: Evaluation, qid: str) -> bool:
    """Whether a question that applies has an answer ("None of these" is one)."""
    return qid in evaluation.visible or _is_empty_selection(evaluation.answers.get(qid))


def ticked(question: Question, current: Any, code: str) -> list[str] | None:
    """A several-choice answer after ticking or unticking ``code``: None when that would untick the
    last option (an empty selection is "None of these", which has its own key; clearing has another)."""
    chosen = set(current or [])
    chosen ^= {code}
    if not chosen:
        return None
    return [c for c in question.option_codes if c in chosen]
