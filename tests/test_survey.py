"""The PCC survey rubric matches shared/spec/rubrics.md, and its demo database is the survey Annex 2 describes."""

from __future__ import annotations

from collections import Counter

import pytest

from audit.demo import POLICE_FORCE_AREAS, survey_cases
from audit.engine import evaluate
from audit.rubric import load_rubric_by_id
from audit.store import Store

YES_NO = {"yes": "Yes", "no": "No"}

# shared/spec/rubrics.md, "pcc-survey-2019": id -> (type, options code -> label, codes never in a base)
SPEC = {
    "respondent_level": ("single", {"force_area": "Police force area", "multi_scheme": "Several local IOM schemes",
                                    "london_borough": "London borough"}, set()),
    "caseload": ("single", {"up_to_50": "Up to 50", "51_100": "51-100", "101_200": "101-200", "201_500": "201-500",
                            "501_1000": "501-1,000", "over_1000": "Over 1,000", "not_known": "Not known"}, {"not_known"}),
    "colocated_police_probation": ("yes_no", YES_NO, set()),
    "colocated_partners": ("yes_no", YES_NO, set()),
    "priority_access": ("yes_no", YES_NO, set()),
    "partners": ("multi", {"housing": "Housing aid and advice services", "substance_misuse": "Substance misuse services",
                           "social_landlords": "Registered social landlords", "peer_mentoring": "Peer mentoring services",
                           "mental_health": "Mental health services", "employment": "Employment and training services",
                           "other": "Other"}, set()),
    "biggest_gap": ("single", {"housing": "Housing", "mental_health": "Mental health services", "other": "Other"}, set()),
    "monitors_outcomes": ("yes_no", YES_NO, set()),
}


@pytest.fixture(scope="module")
def rubric():
    return load_rubric_by_id("pcc-survey-2019")


def test_question_ids_types_codes_and_labels_are_the_spec(rubric):
    assert rubric.id == "pcc-survey-2019"
    assert rubric.question_ids == list(SPEC)
    for qid, (kind, options, never) in SPEC.items():
        question = rubric.question(qid)
        assert question.type == kind, qid
        assert {code: o.label for code, o in question.options.items()} == options, qid
        assert {code for code, o in question.options.items() if not o.counts} == never, qid
        assert question.applies_if is None and rubric.section_of(qid).applies_if is None, qid  # every question always applies


def test_a_respondent_may_skip_any_question_but_the_level_of_the_response(rubric):
    assert [q.id for q in rubric.questions if q.required] == ["respondent_level"]
    assert evaluate(rubric, {"respondent_level": "force_area"}).missing_required == []


@pytest.fixture(scope="module")
def demo_cases(rubric):
    return survey_cases(rubric)


def test_fifty_respondents_from_thirty_nine_police_force_areas(demo_cases):
    assert len(demo_cases) == 50
    sites = Counter(case.site for case in demo_cases)
    assert len(sites) == 39 and set(sites) <= set(POLICE_FORCE_AREAS) and len(POLICE_FORCE_AREAS) == 43
    assert sites["metropolitan"] == 9  # the nine London boroughs
    levels = Counter(case.answers["respondent_level"] for case in demo_cases)
    assert levels == {"force_area": 36, "multi_scheme": 5, "london_borough": 9}
    assert not {"northumbria", "west_midlands"} & set(sites)  # "all the major conurbations except ..."
    assert all(case.status == "complete" and case.inspector is None for case in demo_cases)
    assert len({case.case_ref for case in demo_cases}) == 50


def test_the_demo_writes_the_survey_database(tmp_path):
    from audit.demo import write_demo

    written = {w.path.name: w for w in write_demo(tmp_path)}
    survey = written["survey.db"]
    assert (survey.cases, survey.sites, survey.complete, survey.rubric_id) == (50, 39, 50, "pcc-survey-2019")
    with Store.open(tmp_path / "survey.db", create=False) as store:
        assert store.case_count() == 50
        assert {r["rubric_id"] for r in store.rubrics()} == {"pcc-survey-2019"}
