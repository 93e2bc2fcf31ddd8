"""Section 5.3's statistical claims, checked on the demo's core programme data.

* "These differences were statistically significant for all summary questions except
  for one - Delivery: Does the implementation and delivery of services effectively
  support the service user's desistance?" (figure 5.2, chi-square);
* "In 8 of the 12 questions, IOM status was an independent factor" (logistic
  regression adjusting for type of case, RoSH level, likelihood of reoffending and
  provider), and of the two RO survey questions only the risk-of-harm one.

Which eight the report shaded, and why the RO desistance row is not significant
with the demo's counts: docs/report-inconsistencies.md, #29 to #31.
"""

from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import pytest

from audit.demo import write_demo
from audit.stats import CHI_SQUARE, compare
from audit.store import Store
from tests.test_regression import run

SUMMARY_QUESTIONS = (
    "assessment_engaging", "assessment_desistance", "assessment_safety",
    "planning_engaging", "planning_reoffending", "planning_safety",
    "delivery_engaging", "delivery_desistance", "delivery_safety",
    "review_compliance", "review_desistance", "review_safety",
)
RO_QUESTIONS = ("ro_desistance_relationships", "ro_harm_relationships")
#: the eight the demo takes as shaded green (docs/report-inconsistencies.md #29)
INDEPENDENT = {
    "assessment_desistance", "assessment_safety", "planning_reoffending", "planning_safety",
    "delivery_safety", "review_compliance", "review_desistance", "review_safety",
}
COVARIATES = "case_type,rosh,reoffending_likelihood,site"


@pytest.fixture(scope="module")
def core_db(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("claims")
    write_demo(folder)
    return folder / "core.db"


def columns(store: Store, question: str) -> dict[str, tuple[int, int]]:
    """(yes, base) for the non-IOM and IOM columns, from the counted answers."""
    status = {uuid: value for uuid, _, value in store.iter_answers(["iom_status"])}
    tally: dict[str, Counter] = {"no": Counter(), "yes": Counter()}
    for uuid, _, value in store.iter_answers([question]):
        if uuid in status:
            tally[status[uuid]][value] += 1
    return {column: (counts["yes"], sum(counts.values())) for column, counts in tally.items()}


def test_chi_square_claim_all_significant_but_delivery_desistance(core_db):
    with Store.open(core_db, create=False) as store:
        results = {}
        for question in SUMMARY_QUESTIONS + RO_QUESTIONS:
            cells = columns(store, question)
            results[question] = compare(*cells["no"], *cells["yes"], alpha=0.05)
    assert {q: r.test for q, r in results.items()} == {q: CHI_SQUARE for q in results}  # every expected count is large
    not_significant = [q for q in SUMMARY_QUESTIONS if not results[q].significant]
    assert not_significant == ["delivery_desistance"]
    assert all(results[q].difference > 0 for q in SUMMARY_QUESTIONS)  # IOM cases judged better in every row
    # the RO rows: harm significant; desistance not, with the counts nearest the printed percentages (#31)
    assert results["ro_harm_relationships"].significant is True
    assert results["ro_desistance_relationships"].significant is False
    assert results["ro_desistance_relationships"].p_value == pytest.approx(0.0689, abs=5e-4)


def test_regression_claim_iom_independent_in_8_of_12(core_db, tmp_path):
    out = tmp_path / "model.csv"
    result = run("model", str(core_db), *SUMMARY_QUESTIONS, *RO_QUESTIONS, "--factor", "iom_status",
                 "--adjust", COVARIATES, "-o", str(out))
    assert result.returncode == 0, result.stderr
    with open(out, newline="", encoding="utf-8-sig") as handle:
        rows = {row["outcome"]: row for row in csv.DictReader(handle)}
    independent = {q for q in SUMMARY_QUESTIONS if rows[q]["significant"] == "yes"}
    assert independent == INDEPENDENT
    assert len(independent) == 8
    for question in SUMMARY_QUESTIONS:  # where it is independent, IOM status helps
        assert (float(rows[question]["odds_ratio"]) > 1) or question not in INDEPENDENT
    # "only one of the two showed IOM status as operating independently ...: risk of harm to others"
    assert rows["ro_harm_relationships"]["significant"] == "yes"
    assert rows["ro_desistance_relationships"]["significant"] == "no"
    # the 61 cases without a recorded IOM status, and those without a likelihood of reoffending, are left out
    reasons = rows["assessment_desistance"]["left_out_reasons"]
    assert "61 without a counted answer to iom_status" in reasons
    assert "without a counted answer to reoffending_likelihood" in reasons
    assert "Left out of each model, of 3,308 cases" in result.stdout


def test_covariates_are_optional_answers_of_every_recorded_case(core_db):
    with Store.open(core_db, create=False) as store:
        status = {uuid: value for uuid, _, value in store.iter_answers(["iom_status"])}
        values = {q: {uuid: v for uuid, _, v in store.iter_answers([q])} for q in ("case_type", "rosh", "reoffending_likelihood")}
    assert len(status) == 3247
    assert set(values["case_type"]) >= set(status) and set(values["rosh"]) >= set(status)
    missing = [uuid for uuid in status if uuid not in values["reoffending_likelihood"]]
    assert 0 < len(missing) < 60  # a few unrecorded: left out of the model, as the output says
    iom = [uuid for uuid, v in status.items() if v == "yes"]
    custody = sum(values["case_type"][uuid] == "custody" for uuid in iom) / len(iom)
    assert custody == pytest.approx(0.70, abs=0.01)


def test_model_defaults_to_the_rating_schemes_key_questions(core_db, tmp_path):
    # no OUTCOME: the key questions of the shipped scheme for hmip-core-2018 (ratings/hmip-2018.yaml)
    out = tmp_path / "default.csv"
    result = run("model", str(core_db), "--factor", "iom_status", "--adjust", COVARIATES, "-o", str(out))
    assert result.returncode == 0, result.stderr
    with open(out, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["outcome"] for row in rows] == list(SUMMARY_QUESTIONS)
    assert {row["outcome"] for row in rows if row["significant"] == "yes"} == INDEPENDENT
