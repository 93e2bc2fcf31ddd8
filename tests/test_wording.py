"""Rules and bases in words: generated from the rubric's question texts and option labels, never rule syntax."""

from __future__ import annotations

import pytest

from audit.rules import parse_rule
from audit.wording import applies_in_words, rule_in_words

IOM = "“Is the case subject to Integrated Offender Management?”"
FACTORS = "“Which factors are most linked to the service user's offending?”"
AGE = "“How old is the service user?”"
SENTENCE = "“What type of sentence or supervision is the service user subject to?”"


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ('iom_status == "yes"', f"the answer to {IOM} is Yes"),
        ('iom_status != "no"', f"the answer to {IOM} is not No"),
        ('"drugs" in factors', f"the answers to {FACTORS} include Drug misuse"),
        ('"ete" not in factors', f"the answers to {FACTORS} do not include Education, training and employment"),
        ('iom_status == "yes" and "drugs" in factors', f"the answer to {IOM} is Yes and the answers to {FACTORS} include Drug misuse"),
    ],
)
def test_core_rules_in_words(core_rubric, rule, words):
    parse_rule(rule)  # only rules the language accepts reach the wording
    assert rule_in_words(rule, core_rubric) == words


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ("age >= 18", f"the answer to {AGE} is at least 18"),
        ("18 <= age", f"the answer to {AGE} is at least 18"),
        ("age > 55", f"the answer to {AGE} is more than 55"),
        ("18 <= age <= 25", f"the answer to {AGE} is at least 18 and the answer to {AGE} is at most 25"),
        ('sentence_type in ("community", "post_release")',
         f"the answer to {SENTENCE} is Community sentence or Post-release supervision"),
        ('sentence_type not in ("community", "post_release")',
         f"the answer to {SENTENCE} is neither Community sentence nor Post-release supervision"),
        ('not sentence_type == "community" or age < 30',
         f"(it is not true that the answer to {SENTENCE} is Community sentence or the answer to {AGE} is less than 30)"[1:-1]),
        ('(age < 30 or age > 50) and sentence_type == "community"',
         f"(the answer to {AGE} is less than 30 or the answer to {AGE} is more than 50) and the answer to {SENTENCE} is Community sentence"),
    ],
)
def test_thematic_rules_in_words(thematic_rubric, rule, words):
    parse_rule(rule)
    assert rule_in_words(rule, thematic_rubric) == words


def test_applicability_in_words_from_the_section_rule_and_the_question_rule(thematic_rubric):
    assert applies_in_words(thematic_rubric, "sentence_type") is None
    assert applies_in_words(thematic_rubric, "recalled") == (
        "the answer to “Was the service user on licence during the most recent period of supervision?” is Yes")
    # planning_safety has no rule of its own: its section's rule applies
    assert applies_in_words(thematic_rubric, "planning_safety") == f"the answer to {SENTENCE} is not Non-statutory supervision"
    assert applies_in_words(thematic_rubric, "services_drugs") == f"the answers to {FACTORS} include Drug misuse"
