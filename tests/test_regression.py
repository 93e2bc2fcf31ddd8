"""``audit model``: adjusted odds ratios, checked against statsmodels' own fit and published examples.

Data goes in through the real ``audit import`` into a real database; results come
back through the real command and its CSV.
"""

from __future__ import annotations

import csv
import json
import math
import random
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import statsmodels.formula.api as smf
from openpyxl import load_workbook

from audit.cli import main
from tests.test_demo import audit_command

RUBRIC = """\
id: model-test
version: 1
title: A rubric for checking the logistic regression
sections:
  - id: case
    title: The case
    questions:
      - id: exposed
        type: yes_no
        text: Was the case exposed?
      - id: group
        type: single
        text: Which group?
        options: {a: A, b: B, c: C}
      - id: age
        type: integer
        text: Age
        range: [10, 120]
        required: false
      - id: band
        type: single
        text: Band
        required: false
        options: {low: Low, high: High}
      - id: tags
        type: multi
        text: Tags
        required: false
        options: {x: X, y: Y}
      - id: outcome
        type: yes_no_na
        text: Was the outcome good?
      - id: other_outcome
        type: yes_no
        text: Was the other outcome good?
        applies_if: group != "c"
"""


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*audit_command(), *args], capture_output=True, text=True, timeout=300)


def load(tmp: Path, rubric_text: str, cases: list[dict], name: str = "data") -> Path:
    rubric = tmp / f"{name}.yaml"
    rubric.write_text(rubric_text)
    source = tmp / f"{name}.jsonl"
    source.write_text("".join(json.dumps(case) + "\n" for case in cases))
    db = tmp / f"{name}.db"
    result = run("import", str(db), str(source), "--rubric", str(rubric))
    assert result.returncode == 0, result.stderr
    return db


def model_csv(tmp: Path, db: Path, *args: str) -> tuple[list[dict], str]:
    out = tmp / "model.csv"
    result = run("model", str(db), *args, "-o", str(out))
    assert result.returncode == 0, result.stderr
    with open(out, newline="", encoding="utf-8-sig") as handle:
        return list(csv.DictReader(handle)), result.stdout


# --- a published worked example ------------------------------------------------------------


def test_death_penalty_example_from_agresti(tmp_path):
    # Agresti A. (2007), An Introduction to Categorical Data Analysis, 2nd ed., Table 2.10 and
    # chapter 4 (logistic regression with categorical predictors): death penalty verdicts in Florida (Radelet and Pierce 1991) by defendant's and
    # victims' race. The main-effects logit model gives, for white defendants (d = 1),
    # b_d = -0.868 (SE 0.367), controlling for victims' race (b_v = 2.404, SE 0.601): adjusted
    # odds ratio exp(-0.868) = 0.42.
    rubric = """\
id: death-penalty
version: 1
title: Death penalty verdicts
sections:
  - id: s
    title: Verdicts
    questions:
      - {id: defendant, type: single, text: "Defendant's race", options: {black: Black, white: White}}
      - {id: victims, type: single, text: "Victims' race", options: {black: Black, white: White}}
      - {id: death_penalty, type: yes_no, text: "Death penalty?"}
"""
    cells = [("white", "white", 53, 414), ("white", "black", 0, 16), ("black", "white", 11, 37), ("black", "black", 4, 139)]
    cases, n = [], 0
    for defendant, victims, yes, no in cells:
        for verdict, count in (("yes", yes), ("no", no)):
            for _ in range(count):
                n += 1
                cases.append({"case_ref": f"D{n:04d}", "site": "florida",
                              "answers": {"defendant": defendant, "victims": victims, "death_penalty": verdict}})
    db = load(tmp_path, rubric, cases, "death")
    rows, _ = model_csv(tmp_path, db, "death_penalty", "--factor", "defendant", "--reference", "black", "--adjust", "victims")
    (row,) = rows
    assert (row["level"], row["reference"], row["cases"], row["events"], row["left_out"]) == ("white", "black", "674", "68", "0")
    coefficient = math.log(float(row["odds_ratio"]))
    se = (math.log(float(row["ci_high"])) - math.log(float(row["ci_low"]))) / (2 * 1.959963984540054)
    assert round(coefficient, 3) == -0.868
    assert round(se, 3) == 0.367
    assert round(float(row["odds_ratio"]), 2) == 0.42
    assert float(row["p_value"]) == pytest.approx(math.erfc(abs(coefficient / se) / math.sqrt(2)), rel=1e-6)


def test_aspirin_example_from_agresti(tmp_path):
    # Agresti (2007), Table 2.3 (Physicians' Health Study): myocardial infarction in 189 of
    # 11,034 on placebo and 104 of 11,037 on aspirin; sample odds ratio 1.83, 95% CI (1.44, 2.33).
    rubric = """\
id: aspirin
version: 1
title: Physicians' Health Study
sections:
  - id: s
    title: Trial
    questions:
      - {id: placebo, type: yes_no, text: "Placebo group?"}
      - {id: heart_attack, type: yes_no, text: "Myocardial infarction?"}
"""
    cases = []
    for group, yes, no in (("yes", 189, 10845), ("no", 104, 10933)):
        for verdict, count in (("yes", yes), ("no", no)):
            cases += [{"case_ref": f"P{len(cases) + i:05d}", "site": "phs", "answers": {"placebo": group, "heart_attack": verdict}}
                      for i in range(count)]
    db = load(tmp_path, rubric, cases, "aspirin")
    rows, _ = model_csv(tmp_path, db, "heart_attack", "--factor", "placebo")
    (row,) = rows
    assert [round(float(row[k]), 2) for k in ("odds_ratio", "ci_low", "ci_high")] == [1.83, 1.44, 2.33]
    assert row["adjusted_for"] == "" and row["significant"] == "yes"


# --- against statsmodels' own fit ----------------------------------------------------------


def fixed_dataset(seed: int = 7, size: int = 600) -> list[dict]:
    rng = random.Random(seed)
    cases = []
    for i in range(size):
        group = rng.choice("abc")
        exposed = rng.random() < (0.6 if group == "a" else 0.3)
        age = rng.randint(18, 70)
        band = rng.choice(["low", "high", None])  # unanswered in a third of cases
        score = -0.5 + 0.8 * exposed + 0.5 * (group == "b") - 0.02 * (age - 40) + 0.4 * (band == "high")
        good = rng.random() < 1 / (1 + math.exp(-score))
        outcome = "na" if rng.random() < 0.1 else ("yes" if good else "no")  # N/A never counts
        answers = {"exposed": "yes" if exposed else "no", "group": group, "age": age, "outcome": outcome,
                   "tags": rng.choice([["x"], [], ["x", "y"]])}
        if rng.random() < 0.05:
            del answers["exposed"]  # the factor unanswered
        if band is not None:
            answers["band"] = band
        if group != "c":
            answers["other_outcome"] = "yes" if rng.random() < (0.7 if exposed else 0.5) else "no"
        cases.append({"case_ref": f"M{i:04d}", "site": rng.choice(["north", "south", "east"]), "answers": answers})
    return cases


@pytest.fixture(scope="module")
def small_db(tmp_path_factory) -> Path:
    """300 cases of the fixed dataset, for the tests that only need some data."""
    return load(tmp_path_factory.mktemp("small"), RUBRIC, fixed_dataset(size=300))


def test_matches_statsmodels_fit_on_a_fixed_dataset(tmp_path):
    cases = fixed_dataset()
    db = load(tmp_path, RUBRIC, cases)
    rows, stdout = model_csv(tmp_path, db, "outcome", "other_outcome", "--factor", "exposed",
                             "--adjust", "group, age,band,site")
    by_outcome = {row["outcome"]: row for row in rows}
    for outcome in ("outcome", "other_outcome"):
        frame = pd.DataFrame([{**c["answers"], "site": c["site"]} for c in cases])
        counted = frame[frame[outcome].isin(["yes", "no"])]
        complete = counted.dropna(subset=["exposed", "group", "age", "band", "site"]).copy()
        complete["y"] = (complete[outcome] == "yes").astype(int)
        fit = smf.logit("y ~ C(exposed, Treatment('no')) + C(group) + age + C(band, Treatment('low')) + C(site)",
                        complete).fit(disp=0)
        term = "C(exposed, Treatment('no'))[T.yes]"
        low, high = fit.conf_int().loc[term]
        row = by_outcome[outcome]
        assert int(row["cases"]) == len(complete)
        assert int(row["events"]) == int(complete["y"].sum())
        assert float(row["odds_ratio"]) == pytest.approx(math.exp(fit.params[term]), rel=1e-6)
        assert float(row["ci_low"]) == pytest.approx(math.exp(low), rel=1e-6)
        assert float(row["ci_high"]) == pytest.approx(math.exp(high), rel=1e-6)
        assert float(row["p_value"]) == pytest.approx(fit.pvalues[term], rel=1e-6)
        # every case not in the model is accounted for, by the first thing it lacks
        assert int(row["cases"]) + int(row["left_out"]) == len(cases)
        no_outcome = len(frame) - len(counted)
        no_factor = int(counted["exposed"].isna().sum())
        no_band = int(counted["exposed"].notna().sum() - len(complete))
        assert row["left_out_reasons"] == "; ".join(
            f"{n:,} without a counted answer to {name}"
            for name, n in ((outcome, no_outcome), ("exposed", no_factor), ("band", no_band)) if n
        )
    assert f"Left out of each model, of {len(cases):,} cases" in stdout
    assert "  outcome: " in stdout


def test_xlsx_output_holds_the_same_numbers(tmp_path, small_db):
    db = small_db
    csv_rows, _ = model_csv(tmp_path, db, "outcome", "--factor", "exposed", "--adjust", "group,age")
    out = tmp_path / "model.xlsx"
    assert main(["model", str(db), "outcome", "--factor", "exposed", "--adjust", "group,age", "-o", str(out)]) == 0
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    ws = load_workbook(out)["Model"]
    header = [c.value for c in ws[5]]
    values = dict(zip(header, [c.value for c in ws[6]]))
    assert values["odds_ratio"] == pytest.approx(float(csv_rows[0]["odds_ratio"]), rel=1e-9)
    assert isinstance(values["p_value"], float) and values["cases"] == int(csv_rows[0]["cases"])
    assert "adjusted for group, age" in ws["A2"].value


def test_default_outcomes_are_every_yes_no_question_without_a_scheme(tmp_path, small_db):
    db = small_db
    rows, _ = model_csv(tmp_path, db, "--factor", "exposed", "--adjust", "group")
    assert [row["outcome"] for row in rows] == ["outcome", "other_outcome"]


def test_a_factor_with_three_levels_gives_a_row_per_level(tmp_path, small_db):
    db = small_db
    rows, _ = model_csv(tmp_path, db, "outcome", "--factor", "group", "--adjust", "age")
    assert [(row["level"], row["reference"]) for row in rows] == [("b", "a"), ("c", "a")]


def test_covariates_determined_by_others_are_dropped_not_fatal(tmp_path):
    cases = fixed_dataset(size=300)
    for case in cases:  # band follows site exactly: one of the two is redundant
        case["answers"]["band"] = "high" if case["site"] == "north" else "low"
    db = load(tmp_path, RUBRIC, cases)
    rows, _ = model_csv(tmp_path, db, "outcome", "--factor", "exposed", "--adjust", "site,band")
    assert rows[0]["odds_ratio"] and "dropped as determined by the others (band=high)" in rows[0]["note"]


# --- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize("args, message", [
    (["tags", "--factor", "exposed"], "OUTCOME: 'tags' is a multi question; the outcome must be a yes/no question"),
    (["outcome", "--factor", "exposd"], "--factor: no question 'exposd' in rubric model-test (did you mean 'exposed'?)"),
    (["outcome", "--factor", "age"], "--factor: 'age' is a integer question"),
    (["outcome", "--factor", "exposed", "--adjust", "tags"], "--adjust: 'tags' is a multi question"),
    (["outcome", "--factor", "exposed", "--adjust", "sites"], "--adjust: no question 'sites' in rubric model-test (did you mean 'site'?)"),
    (["outcome", "--factor", "exposed", "--reference", "maybe"], "--reference: 'maybe' is not an option of exposed"),
    (["outcome", "--factor", "exposed", "-o", "model.txt"], "model.txt: write the model as .csv or .xlsx"),
])
def test_bad_requests_are_one_line_and_exit_1(tmp_path, small_db, args, message, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(["model", str(small_db), *args]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_without_statsmodels_it_says_exactly_how_to_install_it(tmp_path, small_db):
    db = small_db
    blocker = tmp_path / "blocked" / "statsmodels"
    blocker.mkdir(parents=True)
    blocker.joinpath("__init__.py").write_text("raise ImportError('statsmodels is not installed')\n")
    env_path = f"{blocker.parent}"
    result = subprocess.run(
        [sys.executable, "-c", "import sys; from audit.cli import main; sys.exit(main(sys.argv[1:]))",
         "model", str(db), "outcome", "--factor", "exposed"],
        capture_output=True, text=True, env={"PYTHONPATH": env_path, "PATH": "/usr/bin:/bin"}, timeout=120,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        "error: audit model needs the statistics extra (statsmodels), which is not installed; install it with "
        "`pip install 'audit[stats]'` (in a clone of the project: `.venv/bin/pip install -e '.[stats]'`)"
    )


def test_statsmodels_is_imported_only_when_a_model_runs():
    code = ("import sys, audit.regression, audit.commands.model, audit.stats, audit.tabulate; "
            "print('statsmodels' in sys.modules, 'numpy' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.stdout.split() == ["False", "False"], result.stderr
