"""The two shipped rubrics match /work/shared/spec/rubrics.md exactly.

The spec's tables are written out here as data, and its "applies if" column as
plain Python predicates (an oracle that does not use the rule language), so
that the engine's verdicts are checked against the spec, not against the
rubric's own rules.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.counting import count_case, counts_in_base
from audit.engine import evaluate

YES_NO = {"yes": "Yes", "no": "No"}
YES_NO_NA = {"yes": "Yes", "no": "No", "na": "Not applicable"}

OFFENCES = {
    "violence": "Violence against the person",
    "breach_order": "Breach of restraining order or breach of non-molestation order",
    "sexual": "Sexual offence",
    "burglary": "Burglary",
    "robbery": "Robbery",
    "theft": "Theft and handling stolen goods",
    "fraud": "Fraud and forgery",
    "criminal_damage": "Criminal damage",
    "drugs": "Drug offences",
    "motoring": "Motoring offences",
    "other": "Other offences not listed above",
}
FACTORS = {
    "attitudes": "Attitudes to offending",
    "family": "Family and relationships",
    "thinking": "Thinking and behaviour",
    "lifestyle": "Lifestyle and associates",
    "drugs": "Drug misuse",
    "alcohol": "Alcohol misuse",
    "ete": "Education, training and employment",
    "accommodation": "Accommodation",
}
CHANGE = {"reduced": "Reduced", "same": "Stayed the same", "increased": "Increased"}

Answers = dict[str, Any]
Predicate = Callable[[Answers], bool]


# --- the spec's "applies if" column, as an oracle --------------------------------------------


def always(answers: Answers) -> bool:
    return True


def statutory(answers: Answers) -> bool:
    """'sentence_type is not non_statutory': known, and not non-statutory (unanswered is missing data)."""
    return answers.get("sentence_type") is not None and answers["sentence_type"] != "non_statutory"


def completed(answers: Answers) -> bool:
    return answers.get("assessment_completed") == "yes"


def factor_ticked(rubric_completes_first: bool, code: str) -> Predicate:
    def ticked(answers: Answers) -> bool:
        if rubric_completes_first and not completed(answers):
            return False  # factors itself does not apply, so nothing reads it
        return code in (answers.get("factors") or [])

    return ticked


def is_yes(question: str, gate: Predicate = always) -> Predicate:
    return lambda answers: gate(answers) and answers.get(question) == "yes"


# (id, type, options: code -> label, options that never count, range, applies if)
Spec = tuple[str, str, dict[str, str], set[str], tuple[int, int] | None, Predicate]

THEMATIC: list[Spec] = [
    ("sentence_type", "single", {"community": "Community sentence", "post_release": "Post-release supervision", "non_statutory": "Non-statutory supervision"}, set(), None, always),
    ("lead_agency", "single", {"crc": "CRC", "nps": "NPS", "police": "Police"}, set(), None, always),
    ("index_offence", "single", OFFENCES, set(), None, statutory),
    ("rosh", "single", {"low": "Low", "medium": "Medium", "high": "High", "very_high": "Very high"}, set(), None, statutory),
    ("previous_convictions", "integer", {}, set(), (0, 500), statutory),
    ("age", "integer", {}, set(), (10, 120), statutory),
    ("gender", "single", {"male": "Male", "female": "Female", "other": "Other"}, set(), None, statutory),
    ("ethnicity", "single", {"white": "White", "mixed": "Mixed", "asian": "Asian or Asian British", "black": "Black or Black British", "other": "Other ethnic group"}, set(), None, statutory),
    ("domestic_abuse", "yes_no", YES_NO, set(), None, always),
    ("lead_professional", "yes_no", YES_NO, set(), None, always),
    ("ro_knew_reasons", "yes_no", YES_NO, set(), None, statutory),
    ("reasons_explained", "yes_no", YES_NO, set(), None, statutory),
    ("assessment_completed", "yes_no", YES_NO, set(), None, always),
    ("assessment_engaging", "yes_no", YES_NO, set(), None, completed),
    ("assessment_desistance", "yes_no", YES_NO, set(), None, completed),
    ("factors", "multi", FACTORS, set(), None, completed),
    ("assessment_partners", "yes_no", YES_NO, set(), None, completed),
    ("assessment_safety", "yes_no", YES_NO, set(), None, completed),
    ("planning_engaging", "yes_no", YES_NO, set(), None, statutory),
    ("planning_reoffending", "yes_no", YES_NO, set(), None, statutory),
    ("planning_iom_requirements", "yes_no", YES_NO, set(), None, statutory),
    ("planning_roles", "yes_no", YES_NO, set(), None, statutory),
    ("planning_safety", "yes_no_na", YES_NO_NA, {"na"}, None, statutory),
    *[(f"services_{code}", "yes_no", YES_NO, set(), None, factor_ticked(True, code)) for code in FACTORS],
    ("supported_to_comply", "yes_no", YES_NO, set(), None, statutory),
    ("delivery_safety", "yes_no_na", YES_NO_NA, {"na"}, None, statutory),
    ("complied", "yes_no", YES_NO, set(), None, always),
    ("on_licence", "yes_no", YES_NO, set(), None, statutory),
    ("recalled", "yes_no", YES_NO, set(), None, is_yes("on_licence", statutory)),
    ("review_sufficient", "yes_no_na", YES_NO_NA, {"na"}, None, statutory),
    ("review_involved", "yes_no", YES_NO, set(), None, statutory),
    ("review_safety", "yes_no_na", YES_NO_NA, {"na"}, None, statutory),
    ("deselected", "yes_no", YES_NO, set(), None, always),
    ("exit_strategy", "yes_no", YES_NO, set(), None, is_yes("deselected")),
    ("reoffended", "yes_no", YES_NO, set(), None, statutory),
    ("reoffending_frequency", "single", {**CHANGE, "na": "Not applicable"}, {"na"}, None, is_yes("reoffended", statutory)),
    ("reoffending_seriousness", "single", CHANGE, set(), None, is_yes("reoffended", statutory)),
]

CORE: list[Spec] = [
    ("iom_status", "yes_no", YES_NO, set(), None, always),
    ("principal_offence", "single", OFFENCES, set(), None, always),
    ("factors", "multi", FACTORS, set(), None, always),
    *[(f"services_{code}", "yes_no", YES_NO, set(), None, factor_ticked(False, code)) for code in FACTORS],
    *[(qid, "yes_no", YES_NO, set(), None, always) for qid in ("assessment_engaging", "assessment_desistance", "assessment_safety")],
    *[(qid, "yes_no", YES_NO, set(), None, always) for qid in ("planning_engaging", "planning_reoffending")],
    ("planning_safety", "yes_no_na", YES_NO_NA, {"na"}, None, always),
    *[(qid, "yes_no", YES_NO, set(), None, always) for qid in ("delivery_engaging", "delivery_desistance")],
    ("delivery_safety", "yes_no_na", YES_NO_NA, {"na"}, None, always),
    *[(qid, "yes_no_na", YES_NO_NA, {"na"}, None, always) for qid in ("review_compliance", "review_desistance", "review_safety")],
    ("ro_interviewed", "yes_no", YES_NO, set(), None, always),
    ("ro_desistance_relationships", "yes_no", YES_NO, set(), None, is_yes("ro_interviewed")),
    ("ro_harm_relationships", "yes_no", YES_NO, set(), None, is_yes("ro_interviewed")),
    # the logistic regression's covariates (section 5.3): optional
    ("case_type", "single", {"community": "Community sentence", "custody": "Post-release (custody)"}, set(), None, always),
    ("rosh", "single", {"low": "Low", "medium": "Medium", "high": "High", "very_high": "Very high"}, set(), None, always),
    ("reoffending_likelihood", "single", {"low": "Low", "medium": "Medium", "high": "High"}, set(), None, always),
]
#: questions the spec makes optional (not required for a complete case), by rubric
OPTIONAL = {"hmip-core-2018": {"case_type", "rosh", "reoffending_likelihood"}}

RUBRICS = {"iom-thematic-2019": THEMATIC, "hmip-core-2018": CORE}


@pytest.fixture(params=list(RUBRICS))
def rubric_and_spec(request, thematic_rubric, core_rubric):
    rubric = {"iom-thematic-2019": thematic_rubric, "hmip-core-2018": core_rubric}[request.param]
    return rubric, RUBRICS[request.param]


def test_the_question_ids_are_exactly_the_spec(rubric_and_spec):
    rubric, spec = rubric_and_spec
    assert sorted(rubric.question_ids) == sorted(qid for qid, *_ in spec)
    assert len(rubric.question_ids) == len(set(rubric.question_ids))


def test_types_codes_labels_ranges_and_counting_match_the_spec(rubric_and_spec):
    rubric, spec = rubric_and_spec
    for qid, kind, options, never_counts, value_range, _ in spec:
        question = rubric.question(qid)
        assert question.type == kind, qid
        assert {code: option.label for code, option in question.options.items()} == options, qid
        assert list(question.options) == list(options), f"{qid}: codes in the spec's order"
        assert {code for code, option in question.options.items() if not option.counts} == never_counts, qid
        assert question.range == value_range, qid
        assert question.required == (qid not in OPTIONAL.get(rubric.id, set())), qid


def test_hmip_core_shares_the_thematic_offence_factor_and_services_questions(thematic_rubric, core_rubric):
    offence, principal = thematic_rubric.question("index_offence"), core_rubric.question("principal_offence")
    assert principal.options == offence.options
    for qid in ["factors", *[f"services_{code}" for code in FACTORS]]:
        assert core_rubric.question(qid).options == thematic_rubric.question(qid).options
        assert core_rubric.question(qid).text == thematic_rubric.question(qid).text
    assert core_rubric.question("iom_status").text == "Is the case subject to Integrated Offender Management?"


def _answer_strategy(rubric):
    """Any answers at all to the rubric's questions: each question skipped or given a valid value."""
    per_question = {}
    for question in rubric.questions:
        if question.type == "multi":
            value = st.lists(st.sampled_from(question.option_codes), unique=True, max_size=4)
        elif question.is_choice:
            value = st.sampled_from(question.option_codes)
        elif question.type == "integer":
            value = st.integers(*question.range)
        else:
            value = st.text(max_size=5)
        per_question[question.id] = st.one_of(st.none(), value)
    return st.fixed_dictionaries(per_question).map(lambda d: {k: v for k, v in d.items() if v is not None})


def _check_applicability(rubric, spec, answers):
    evaluation = evaluate(rubric, answers)
    expected = {qid for qid, *_, applies in spec if applies(answers)}
    assert set(evaluation.applicable) == expected, (answers, set(evaluation.applicable) ^ expected)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_thematic_applicability_is_the_spec_for_any_answers(thematic_rubric, data):
    _check_applicability(thematic_rubric, THEMATIC, data.draw(_answer_strategy(thematic_rubric)))


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_core_applicability_is_the_spec_for_any_answers(core_rubric, data):
    _check_applicability(core_rubric, CORE, data.draw(_answer_strategy(core_rubric)))


# --- representative answer sets, spelt out ---------------------------------------------------

PROFILE = ["index_offence", "rosh", "previous_convictions", "age", "gender", "ethnicity"]
PLANNING = ["planning_engaging", "planning_reoffending", "planning_iom_requirements", "planning_roles", "planning_safety"]
SERVICES = [f"services_{code}" for code in FACTORS]


def test_non_statutory_hides_the_profile_and_planning_questions(thematic_rubric):
    evaluation = evaluate(thematic_rubric, {"sentence_type": "non_statutory", "assessment_completed": "yes", "deselected": "yes"})
    hidden = PROFILE + PLANNING + ["ro_knew_reasons", "reasons_explained", "supported_to_comply", "delivery_safety",
                                   "on_licence", "recalled", "review_sufficient", "review_involved", "review_safety",
                                   "reoffended", "reoffending_frequency", "reoffending_seriousness"]
    assert not any(evaluation.applies(qid) for qid in hidden)
    for qid in ["lead_agency", "domestic_abuse", "lead_professional", "assessment_engaging", "factors", "complied", "exit_strategy"]:
        assert evaluation.applies(qid), qid
    statutory_case = evaluate(thematic_rubric, {"sentence_type": "community"})
    assert all(statutory_case.applies(qid) for qid in PROFILE + PLANNING)


def test_an_unanswered_sentence_type_is_missing_data_so_its_dependants_do_not_apply(thematic_rubric):
    evaluation = evaluate(thematic_rubric, {})
    assert not any(evaluation.applies(qid) for qid in PROFILE + PLANNING)
    assert evaluation.next_applicable() == "sentence_type"


def test_factors_drive_the_eight_services_questions(thematic_rubric, core_rubric):
    base = {"sentence_type": "post_release", "assessment_completed": "yes"}
    for code in FACTORS:
        evaluation = evaluate(thematic_rubric, {**base, "factors": [code]})
        assert [qid for qid in SERVICES if evaluation.applies(qid)] == [f"services_{code}"]
        core = evaluate(core_rubric, {"factors": [code]})
        assert [qid for qid in SERVICES if core.applies(qid)] == [f"services_{code}"]
    every = evaluate(thematic_rubric, {**base, "factors": list(FACTORS)})
    assert all(every.applies(qid) for qid in SERVICES)
    # factors answered, but then the assessment was not completed: factors stops applying, so do the services
    not_done = evaluate(thematic_rubric, {**base, "assessment_completed": "no", "factors": list(FACTORS)})
    assert not any(not_done.applies(qid) for qid in SERVICES)
    assert set(not_done.stale) == {"factors"}


@pytest.mark.parametrize(
    ("gate", "gated", "extra"),
    [
        ("on_licence", ["recalled"], {"sentence_type": "community"}),
        ("deselected", ["exit_strategy"], {}),
        ("reoffended", ["reoffending_frequency", "reoffending_seriousness"], {"sentence_type": "community"}),
    ],
)
def test_yes_no_gates(thematic_rubric, gate, gated, extra):
    for answer, applies in (("yes", True), ("no", False), (None, False)):
        answers = {**extra, gate: answer} if answer else dict(extra)
        evaluation = evaluate(thematic_rubric, answers)
        assert [evaluation.applies(qid) for qid in gated] == [applies] * len(gated), (gate, answer)


def test_recalled_also_needs_a_statutory_sentence(thematic_rubric):
    # on_licence == "yes" was given, but the case is non-statutory: on_licence does not apply, nor does recalled
    evaluation = evaluate(thematic_rubric, {"sentence_type": "non_statutory", "on_licence": "yes"})
    assert not evaluation.applies("recalled")
    assert evaluation.stale == ["on_licence"]


def test_not_applicable_answers_never_count(thematic_rubric, core_rubric):
    frequency = thematic_rubric.question("reoffending_frequency")
    assert not counts_in_base(frequency, "na")
    assert all(counts_in_base(frequency, code) for code in CHANGE)
    for rubric in (thematic_rubric, core_rubric):
        for question in rubric.questions:
            if question.type == "yes_no_na":
                assert not counts_in_base(question, "na"), question.id
                assert counts_in_base(question, "yes") and counts_in_base(question, "no"), question.id
    answers = {"sentence_type": "community", "reoffended": "yes", "reoffending_frequency": "na",
               "reoffending_seriousness": "same", "planning_safety": "na", "delivery_safety": "yes"}
    tally = count_case(thematic_rubric, answers)
    assert {"reoffending_seriousness", "delivery_safety", "sentence_type", "reoffended"} <= tally.counted
    assert "reoffending_frequency" not in tally.counted and "planning_safety" not in tally.counted
    assert tally.evaluation.applies("reoffending_frequency")  # it applies; its answer just stays out of the base
