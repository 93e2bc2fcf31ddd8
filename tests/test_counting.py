"""Counting (audit/counting.py): the one place that decides the base, and percentages."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from audit.counting import count_case, counted_answers, counts_in_base, percent
from audit.engine import evaluate
from audit.rubric import parse_rubric


@pytest.mark.parametrize(
    ("count", "base", "expected"),
    [
        (1, 8, 13),  # 12.5 rounds up (Python's round() would give 12)
        (1, 40, 3),  # 2.5 rounds up
        (1, 2, 50),
        (2, 3, 67),
        (1, 3, 33),
        (0, 5, 0),
        (5, 5, 100),
        (3, 8, 38),  # 37.5
        (5, 8, 63),  # 62.5
        (268, 268, 100),
        (2976 * 71 // 100, 2976, 71),
    ],
)
def test_percent_rounds_half_up(count, base, expected):
    assert percent(count, base) == expected
    assert isinstance(percent(count, base), int)


def test_percent_of_a_zero_base_is_none():
    assert percent(0, 0) is None
    assert percent(3, 0) is None
    assert percent(0, -1) is None


def test_half_up_differs_from_pythons_round_where_it_matters():
    # guard against anyone "simplifying" percent() to round(): banker's rounding gives 12 and 2
    assert round(100 * 1 / 8) == 12 and percent(1, 8) == 13
    assert round(100 * 1 / 40) == 2 and percent(1, 40) == 3


@given(st.integers(min_value=0, max_value=10**7), st.integers(min_value=1, max_value=10**7))
def test_percent_is_decimal_round_half_up(count, base):
    expected = int((Decimal(100 * count) / Decimal(base)).quantize(Decimal(1), rounding=ROUND_HALF_UP))
    assert percent(count, base) == expected


# --- what counts in a base --------------------------------------------------------------------

RUBRIC = """\
id: counting
version: 1
title: Counting
sections:
  - id: s
    title: S
    questions:
      - {id: gate, type: yes_no, text: Gate}
      - {id: safety, type: yes_no_na, text: Safety}
      - id: frequency
        type: single
        text: Frequency
        options:
          reduced: Reduced
          same: Stayed the same
          na: {label: Not applicable, counts: false}
      - id: needs
        type: multi
        text: Needs
        options:
          drugs: Drug misuse
          ete: ETE
          none: {label: None of these, counts: false}
      - {id: age, type: integer, text: Age, range: [0, 120]}
      - {id: note, type: text, text: Note, required: false}
      - {id: follow_up, type: yes_no, text: Follow-up, applies_if: gate == "yes"}
"""


@pytest.fixture(scope="module")
def rubric():
    return parse_rubric(RUBRIC, "counting.yaml")


@pytest.mark.parametrize(
    ("qid", "value", "counts"),
    [
        ("safety", "yes", True),
        ("safety", "no", True),
        ("safety", "na", False),
        ("frequency", "reduced", True),
        ("frequency", "na", False),
        ("needs", ["drugs"], True),
        ("needs", ["drugs", "ete"], True),
        ("needs", ["none"], False),  # only a never-counting option: out of the base
        ("needs", ["drugs", "none"], True),  # any counting option keeps it in
        ("needs", [], True),  # an explicit empty selection is the answer "None of these": it counts
        ("age", 0, True),  # zero is an answer
        ("note", "", False),
        ("note", "  ", False),
        ("note", "seen", True),
        ("gate", None, False),
    ],
)
def test_counts_in_base(rubric, qid, value, counts):
    assert counts_in_base(rubric.question(qid), value) is counts


def test_only_applicable_answered_counting_answers_are_counted(rubric):
    answers = {
        "gate": "no",
        "safety": "na",
        "frequency": "same",
        "needs": ["none"],
        "age": 41,
        "follow_up": "yes",  # stale: gate is "no", so follow_up does not apply
    }
    tally = count_case(rubric, answers)
    assert tally.counted == {"gate", "frequency", "age"}
    assert counted_answers(evaluate(rubric, answers)) == {"gate": "no", "frequency": "same", "age": 41}
    # applicable: gate, safety, frequency, needs, age, note (follow_up is out)
    assert tally.applicable_count == 6
    # answered applicable questions, "Not applicable" answers included; note is unanswered
    assert tally.answered_count == 5
    assert tally.percent_answered == percent(5, 6) == 83
    assert "follow_up" in tally.evaluation.stale


def test_an_answer_counts_again_when_its_question_applies_again(rubric):
    answers = {"gate": "no", "follow_up": "yes"}
    assert "follow_up" not in count_case(rubric, answers).counted
    assert "follow_up" in count_case(rubric, {**answers, "gate": "yes"}).counted


def test_a_case_with_no_answers(rubric):
    tally = count_case(rubric, {})
    assert tally.counted == frozenset()
    assert tally.answered_count == 0
    assert tally.applicable_count == 6
    assert tally.percent_answered == 0


def test_count_case_uses_a_given_evaluation(rubric):
    answers = {"gate": "yes", "follow_up": "no"}
    evaluation = evaluate(rubric, answers)
    assert count_case(rubric, answers, evaluation).evaluation is evaluation
