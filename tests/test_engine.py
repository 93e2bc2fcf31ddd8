"""The rubric engine (audit/engine.py): which questions apply, navigation, stale answers."""

from __future__ import annotations

import random

import pytest

from audit.engine import evaluate, is_answered
from audit.rubric import parse_rubric
from benchmarks.common import wide_rubric

CHAIN = """\
id: chain
version: 1
title: Engine test rubric
sections:
  - id: first
    title: First
    questions:
      - id: a
        type: yes_no
        text: A
      - id: b
        type: yes_no
        text: B
        applies_if: a == "yes"
      - id: c
        type: yes_no
        text: C
        applies_if: b == "yes"
      - id: d
        type: yes_no
        text: D
        applies_if: c == "yes" or a == "no"
      - id: e
        type: text
        text: E
        required: false
  - id: second
    title: Second
    applies_if: a == "yes"
    questions:
      - id: f
        type: yes_no_na
        text: F
      - id: g
        type: multi
        text: G
        applies_if: f == "no"
        options: {x: Ex, y: Why}
      - id: h
        type: integer
        text: H
        range: [0, 10]
        applies_if: not (f == "yes") and "x" not in g
"""


@pytest.fixture(scope="module")
def chain():
    return parse_rubric(CHAIN, "chain.yaml")


def applicable(rubric, answers):
    return evaluate(rubric, answers).applicable_questions


def test_with_no_answers_only_questions_without_rules_apply(chain):
    evaluation = evaluate(chain, {})
    assert evaluation.applicable_questions == ["a", "e"]
    assert evaluation.visible == {}
    assert evaluation.stale == []


def test_not_applicable_propagates_down_a_chain(chain):
    assert applicable(chain, {"a": "yes"}) == ["a", "b", "e", "f"]
    assert applicable(chain, {"a": "yes", "b": "yes"}) == ["a", "b", "c", "e", "f"]
    assert applicable(chain, {"a": "yes", "b": "yes", "c": "yes"}) == ["a", "b", "c", "d", "e", "f"]
    # b no longer applies: its answer is invisible, so c (reads b) and d's first half are unknown
    answers = {"a": "no", "b": "yes", "c": "yes", "d": "no"}
    evaluation = evaluate(chain, answers)
    assert evaluation.applicable_questions == ["a", "d", "e"]  # d applies through `or a == "no"`
    assert evaluation.stale == ["b", "c"]
    assert evaluation.visible == {"a": "no", "d": "no"}


def test_unanswered_is_unknown_not_false(chain):
    # `not (f == "yes")` with f unanswered is unknown, so h does not apply yet
    assert "h" not in applicable(chain, {"a": "yes"})
    # f == "na": g does not apply, so `"x" not in g` is unknown and h stays out, even though
    # `not (f == "yes")` is true: "not applicable" propagates
    assert "h" not in applicable(chain, {"a": "yes", "f": "na"})
    assert evaluate(chain, {"a": "yes", "f": "na", "g": ["y"]}).stale == ["g"]
    assert "h" in applicable(chain, {"a": "yes", "f": "no", "g": ["y"]})
    assert "h" not in applicable(chain, {"a": "yes", "f": "no", "g": ["x", "y"]})
    # g applies but is unanswered: `"x" not in g` is unknown
    assert "h" not in applicable(chain, {"a": "yes", "f": "no"})


def test_a_section_rule_is_anded_into_each_of_its_questions(chain):
    assert set(applicable(chain, {"a": "no", "f": "no", "g": ["y"]})) & {"f", "g", "h"} == set()
    assert {"f", "g", "h"} <= set(applicable(chain, {"a": "yes", "f": "no", "g": ["y"]}))
    evaluation = evaluate(chain, {"a": "no", "f": "no", "g": ["y"]})
    assert evaluation.stale == ["f", "g"]
    assert evaluation.excluded_by("g") is chain.sections[1].rule  # the section's rule comes first
    assert evaluation.excluded_by("f").source == 'a == "yes"'


def test_blank_answers_are_unanswered(chain):
    assert not is_answered(None) and not is_answered("") and not is_answered("  ")
    assert is_answered("no") and is_answered(0) and is_answered(["x"])
    evaluation = evaluate(chain, {"a": "yes", "e": "   ", "f": "no"})
    assert "e" not in evaluation.visible and "g" not in evaluation.visible
    assert "h" not in evaluation.applicable  # g is unanswered, so "x" not in g is unknown
    assert evaluation.stale == []  # a blank answer to an inapplicable question is not stale either
    assert evaluate(chain, {"a": "no", "e": "  "}).stale == []


def test_an_empty_selection_is_the_answer_none_of_these(chain):
    assert is_answered([])
    evaluation = evaluate(chain, {"a": "yes", "f": "no", "g": []})
    assert evaluation.visible["g"] == []
    assert "h" in evaluation.applicable  # "x" is not among no options: true, not unknown
    assert evaluate(chain, {"a": "no", "f": "no", "g": []}).stale == ["f", "g"]  # given, and no longer applying


def test_answers_to_unknown_questions_are_ignored(chain):
    evaluation = evaluate(chain, {"a": "yes", "zzz": "yes"})
    assert "zzz" not in evaluation.visible and "zzz" not in evaluation.applicable


def test_missing_required_lists_applicable_unanswered_required_questions(chain):
    assert evaluate(chain, {}).missing_required == ["a"]  # e is optional
    evaluation = evaluate(chain, {"a": "yes", "b": "no"})
    assert evaluation.unanswered == ["e", "f"]
    assert evaluation.missing_required == ["f"]
    done = evaluate(chain, {"a": "no", "d": "yes"})
    assert done.missing_required == []
    assert done.unanswered == ["e"]


def test_next_and_previous_applicable_skip_what_does_not_apply(chain):
    evaluation = evaluate(chain, {"a": "no"})  # applicable: a, d, e
    assert evaluation.next_applicable() == "a"
    assert evaluation.next_applicable("a") == "d"
    assert evaluation.next_applicable("b") == "d"  # from a question that does not apply
    assert evaluation.next_applicable("d") == "e"
    assert evaluation.next_applicable("e") is None
    assert evaluation.previous_applicable("e") == "d"
    assert evaluation.previous_applicable("d") == "a"
    assert evaluation.previous_applicable("h") == "e"
    assert evaluation.previous_applicable("a") is None


def test_next_unanswered_wraps_round(chain):
    evaluation = evaluate(chain, {"a": "yes", "b": "yes"})  # unanswered: c, e, f
    assert evaluation.next_unanswered() == "c"
    assert evaluation.next_unanswered("c") == "e"
    assert evaluation.next_unanswered("e") == "f"
    assert evaluation.next_unanswered("f") == "c"  # wraps
    assert evaluation.next_unanswered("h") == "c"
    full = evaluate(chain, {"a": "no", "d": "no", "e": "seen"})
    assert full.next_unanswered() is None


def test_excluded_by_names_the_rule_that_keeps_a_question_out(chain):
    evaluation = evaluate(chain, {"a": "yes", "f": "yes"})
    assert evaluation.excluded_by("a") is None  # applies
    assert evaluation.excluded_by("c").source == 'b == "yes"'  # b unanswered: unknown keeps it out too
    assert evaluation.excluded_by("g").source == 'f == "no"'
    assert evaluation.excluded_by("h").source == 'not (f == "yes") and "x" not in g'
    assert evaluate(chain, {"a": "no"}).excluded_by("h").source == 'a == "yes"'


def _reference_applicable(rubric, answers):
    """Applicability by brute force: re-evaluate every rule in document order until nothing changes.

    A different algorithm from the engine's single pass in dependency order; on an
    acyclic rubric both must reach the same answer.
    """
    applicable: set[str] = set()
    for _ in range(len(rubric.question_ids) + 2):
        visible = {qid: answers[qid] for qid in applicable if is_answered(answers.get(qid))}
        now = set()
        for section in rubric.sections:
            if section.rule is not None and section.rule.evaluate(visible) is not True:
                continue
            for question in section.questions:
                if question.rule is None or question.rule.evaluate(visible) is True:
                    now.add(question.id)
        if now == applicable:
            return applicable
        applicable = now
    raise AssertionError("did not settle")


def _random_answers(rubric, rng):
    answers = {}
    for question in rubric.questions:
        if rng.random() < 0.2:
            continue  # unanswered
        if question.type == "multi":
            answers[question.id] = [code for code in question.option_codes if rng.random() < 0.5]
        elif question.is_choice:
            answers[question.id] = rng.choice(question.option_codes)
        elif question.type == "integer":
            answers[question.id] = rng.randint(*question.range)
        else:
            answers[question.id] = "text"
    return answers


def test_a_200_question_rubric_evaluates_like_the_brute_force_reference():
    rubric = wide_rubric(200)
    assert len(rubric.question_ids) == 200
    with_rules = [q.id for q in rubric.questions if q.rule is not None]
    assert len(with_rules) > 40  # the test means something only if many questions have rules
    rng = random.Random(2019)
    sometimes_out = set()
    for _ in range(200):
        answers = _random_answers(rubric, rng)
        evaluation = evaluate(rubric, answers)
        expected = _reference_applicable(rubric, answers)
        assert set(evaluation.applicable) == expected
        assert evaluation.visible == {qid: answers[qid] for qid in expected if is_answered(answers.get(qid))}
        assert evaluation.stale == [qid for qid in rubric.question_ids if qid not in expected and is_answered(answers.get(qid))]
        sometimes_out |= set(with_rules) - expected
        for qid in rubric.question_ids:
            rule = evaluation.excluded_by(qid)
            assert (rule is None) == (qid in expected)
    assert len(sometimes_out) > 40


def test_evaluation_order_puts_every_rule_input_first(thematic_rubric):
    order = {qid: i for i, qid in enumerate(thematic_rubric.evaluation_order)}
    assert sorted(order) == sorted(thematic_rubric.question_ids)
    for question in thematic_rubric.questions:
        for rule in (thematic_rubric.section_of(question.id).rule, question.rule):
            for name in rule.names if rule else ():
                assert order[name] < order[question.id], (name, question.id)
