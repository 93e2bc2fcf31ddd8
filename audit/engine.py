"""The rubric engine: for one case's answers, which questions apply.

``evaluate`` walks the questions in dependency order once, so a 200-question
rubric is evaluated in well under a millisecond and can run on every keypress.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from audit.rubric import Rubric
from audit.rules import Rule

Answers = Mapping[str, Any]


#: how many times :func:`evaluate` has run in this process (a keypress should cost one)
EVALUATIONS = 0


def is_answered(value: Any) -> bool:
    """An answer is given unless it is None or blank text. An empty selection ``[]`` is
    the answer "None of these"."""
    if value is None:
        return False
    if isinstance(value, str) and not value.strip():
        return False
    return True


@dataclass(frozen=True)
class Evaluation:
    rubric: Rubric
    answers: Answers
    applicable: frozenset[str]
    #: answers a rule can see: questions that apply and are answered
    visible: Mapping[str, Any]

    def applies(self, question_id: str) -> bool:
        return question_id in self.applicable

    @property
    def applicable_questions(self) -> list[str]:
        return [qid for qid in self.rubric.question_ids if qid in self.applicable]

    @property
    def stale(self) -> list[str]:
        """Questions with an answer that no longer apply: kept, never counted."""
        return [qid for qid in self.rubric.question_ids if qid not in self.applicable and is_answered(self.answers.get(qid))]

    @property
    def unanswered(self) -> list[str]:
        return [qid for qid in self.applicable_questions if qid not in self.visible]

    @property
    def missing_required(self) -> list[str]:
        """Required questions that apply and are not answered yet."""
        return [qid for qid in self.unanswered if self.rubric.question(qid).required]

    def next_applicable(self, after: str | None = None) -> str | None:
        """The next question that applies after ``after`` (the first when None)."""
        ids = self.rubric.question_ids
        start = 0 if after is None else self.rubric.position(after) + 1
        for qid in ids[start:]:
            if qid in self.applicable:
                return qid
        return None

    def previous_applicable(self, before: str) -> str | None:
        ids = self.rubric.question_ids
        for qid in reversed(ids[: self.rubric.position(before)]):
            if qid in self.applicable:
                return qid
        return None

    def next_unanswered(self, after: str | None = None) -> str | None:
        """The next applicable, unanswered question after ``after``, wrapping round."""
        todo = set(self.unanswered)
        if not todo:
            return None
        ids = self.rubric.question_ids
        start = 0 if after is None else self.rubric.position(after) + 1
        for qid in ids[start:] + ids[:start]:
            if qid in todo:
                return qid
        return None

    def excluded_by(self, question_id: str) -> Rule | None:
        """The rule (section's or question's) that keeps ``question_id`` from applying."""
        if question_id in self.applicable:
            return None
        section = self.rubric.section_of(question_id)
        for rule in (section.rule, self.rubric.question(question_id).rule):
            if rule is not None and rule.evaluate(self.visible) is not True:
                return rule
        return None


def evaluate(rubric: Rubric, answers: Answers) -> Evaluation:
    """Which questions apply, given these answers (question id -> value)."""
    global EVALUATIONS
    EVALUATIONS += 1
    applicable: set[str] = set()
    visible: dict[str, Any] = {}
    section_truth: dict[str, bool] = {}
    for qid, section_id, section_rule, question_rule in rubric.evaluation_plan:
        # a section's rule is decided once, before its first question: cycle checks
        # guarantee its inputs come earlier in evaluation order
        truth = section_truth.get(section_id)
        if truth is None:
            truth = section_truth[section_id] = section_rule is None or section_rule.evaluate(visible) is True
        if not truth:
            continue
        if question_rule is not None and question_rule.evaluate(visible) is not True:
            continue
        applicable.add(qid)
        value = answers.get(qid)
        if value is not None and is_answered(value):
            visible[qid] = value
    return Evaluation(rubric, answers, frozenset(applicable), visible)
