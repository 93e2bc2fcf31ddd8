"""Statistics beside the figures' percentages: Wilson intervals (``--ci``, ``ci: true``) and
``compare: [A, B]`` (difference, chi-square or Fisher, p-value, significance at the figure's alpha).

Everything runs through the real parts: figure files parsed from YAML, real SQLite files, the
``audit`` command, and the CSV, JSON and xlsx it writes read back (openpyxl, and the chart's XML).
The numbers are checked against scipy and statsmodels, not against this project's own functions.
"""

from __future__ import annotations

import csv
import json
import re
import sqlite3
import zipfile
from pathlib import Path

import openpyxl
import pytest
from scipy.stats import chi2_contingency, fisher_exact
from statsmodels.stats.proportion import proportion_confint

from audit.cli import main
from audit.demo import write_demo
from audit.errors import Problems
from audit.figures import parse_report
from audit.store import NewCase, Store
from audit.tabulate import tabulate_report

PROJECT = Path(__file__).resolve().parent.parent
SHIPPED = str(PROJECT / "exports" / "iom-thematic-2019.yaml")
SUMMARY_QUESTIONS = (
    "assessment_engaging", "assessment_desistance", "assessment_safety",
    "planning_engaging", "planning_reoffending", "planning_safety",
    "delivery_engaging", "delivery_desistance", "delivery_safety",
    "review_compliance", "review_desistance", "review_safety",
)

HEADER = """id: t
title: T
datasets:
  core: {rubric: hmip-core-2018, label: Core}
  thematic: {rubric: iom-thematic-2019, label: Thematic}
figures:
"""
TWO_COLUMNS = """  - id: "1"
    title: Engaging
    columns:
      - {dataset: core, where: iom_status == "no", label: Non-IOM}
      - {dataset: core, where: iom_status == "yes", label: IOM}
    rows:
      - {question: assessment_engaging, count: "yes", label: Engaging}
      - {question: assessment_safety, count: "yes", label: Safety}
      - {total: Total}
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(Problems) as caught:
        parse_report(HEADER + text, "f.yaml")
    return [str(p) for p in caught.value.problems]


# --- the figure file ---------------------------------------------------------------------------


def test_compare_names_two_column_labels_and_is_located():
    found = problems_of(TWO_COLUMNS + "    compare: [Non-IOM, IOMs]\n")
    assert found == ["f.yaml:16: figure '1': 'compare' names 'IOMs', which is not a column label (did you mean 'IOM'?); "
                     "the columns are 'Non-IOM', 'IOM'"]
    assert problems_of(TWO_COLUMNS + "    compare: [IOM, IOM]\n") == [
        "f.yaml:16: figure '1': 'compare' names column 'IOM' twice; name two different columns"]
    assert any("List should have at most 2 items" in p or "at most 2" in p for p in problems_of(TWO_COLUMNS + "    compare: [IOM, Non-IOM, IOM]\n"))
    one = '  - id: "2"\n    title: x\n    columns: [core]\n    compare: [a, b]\n    rows: [{options: rosh}]\n'
    assert problems_of(one) == ["f.yaml:10: figure '2': 'compare' needs a figure with two or more columns; this one has 1"]


@pytest.mark.parametrize("key", ["alpha: 0", "alpha: 1.5", "confidence: 1", "ci: maybe"])
def test_alpha_confidence_and_ci_are_checked_with_their_line(key):
    found = problems_of(TWO_COLUMNS + f"    {key}\n")
    assert len(found) == 1 and found[0].startswith("f.yaml:16: figure '1': ")


def test_ratings_key_names_a_scheme_for_one_of_the_datasets(tmp_path):
    report = parse_report(HEADER.replace("figures:", "ratings: ratings/hmip-2018.yaml\nfigures:") + TWO_COLUMNS,
                          str(PROJECT / "exports" / "f.yaml"))
    assert report.ratings_path() == PROJECT / "exports" / "ratings" / "hmip-2018.yaml" or report.ratings_path().is_file()
    with pytest.raises(Problems) as caught:
        parse_report(HEADER.replace("figures:", "ratings: nowhere/none.yaml\nfigures:") + TWO_COLUMNS, str(tmp_path / "f.yaml"))
    assert str(caught.value.problems[0]).startswith(f"{tmp_path / 'f.yaml'}:6: ratings: no rating scheme file 'nowhere/none.yaml'")
    survey_only = "id: t\ntitle: T\nratings: ratings/hmip-2018.yaml\ndatasets:\n  s: {rubric: pcc-survey-2019, label: S}\n" \
                  "figures:\n  - id: \"1\"\n    title: x\n    columns: [s]\n    rows: [{options: caseload}]\n"
    with pytest.raises(Problems) as caught:
        parse_report(survey_only, str(tmp_path / "g.yaml"))
    assert "rates rubric hmip-core-2018, which no dataset of this file uses (pcc-survey-2019)" in str(caught.value.problems[0])


# --- small data, checked against scipy and statsmodels -----------------------------------------


def core_db(path: Path, core_rubric, table: dict[str, tuple[int, int]]) -> Path:
    """Cases of the core rubric: per IOM status, (yes, no) answers to assessment_engaging; assessment_safety is
    'yes' in every IOM case and 'no' in one non-IOM case only (a small expected count: Fisher)."""
    cases, n = [], 0
    for status, (yes, no) in table.items():
        for i, answer in enumerate(["yes"] * yes + ["no"] * no):
            safety = "yes" if status == "yes" else ("no" if i == 0 else "yes")
            cases.append(NewCase(case_ref=f"C{n:04d}", site="crc_london", rubric=core_rubric, inspector="jb",
                                 answers={"iom_status": status, "assessment_engaging": answer, "assessment_safety": safety}))
            n += 1
    with Store.open(path) as store:
        store.insert_cases(cases, who="test", reason="test")
    return path


@pytest.fixture
def small(tmp_path, core_rubric) -> Path:
    return core_db(tmp_path / "core.db", core_rubric, {"no": (60, 40), "yes": (45, 15)})


def tabulated(db: Path, text: str, ci: bool = False):
    report = parse_report(HEADER + text, "f.yaml")
    with Store.open_read_only(db) as store:
        return tabulate_report(report, {"core": store}, ci=ci).tables[0]


def test_intervals_are_wilsons_and_tests_match_scipy(small):
    table = tabulated(small, TWO_COLUMNS + "    ci: true\n    compare: [Non-IOM, IOM]\n")
    engaging, safety, total = table.rows
    for cell in engaging.cells + safety.cells:
        low, high = proportion_confint(cell.count, cell.base, alpha=0.05, method="wilson")
        assert cell.ci == pytest.approx((low, high), abs=1e-12)
    assert total.comparison is None and all(c.ci is None for c in total.cells)
    # engaging: 60/100 against 45/60, every expected count large: chi-square without correction
    statistic, p_value, _, _ = chi2_contingency([[60, 40], [45, 15]], correction=False)
    assert engaging.comparison.test.startswith("Pearson") and engaging.comparison.p_value == pytest.approx(p_value, rel=1e-9)
    assert engaging.comparison.statistic == pytest.approx(statistic, rel=1e-9)
    assert engaging.comparison.difference == pytest.approx(100 * (45 / 60 - 60 / 100))
    assert engaging.comparison.significant is bool(p_value < 0.05)
    # safety: 99/100 against 60/60: an expected count below 5, so Fisher's exact test
    assert safety.comparison.test.startswith("Fisher")
    assert safety.comparison.p_value == pytest.approx(fisher_exact([[99, 1], [60, 0]])[1], rel=1e-9)
    assert safety.comparison.significant is False
    notes = " ".join(table.statistics_notes())
    assert "IOM compared with Non-IOM" in notes and "Pearson's chi-square without continuity correction in 1 row" in notes
    assert "Fisher's exact test (two-sided) in 1 row" in notes and "95% Wilson score interval" in notes


def test_alpha_decides_the_marker(small):
    p_value = chi2_contingency([[60, 40], [45, 15]], correction=False)[1]
    assert 0.01 < p_value < 0.1  # the fixture's table is between the two alphas
    strict = tabulated(small, TWO_COLUMNS + "    compare: [Non-IOM, IOM]\n    alpha: 0.01\n")
    loose = tabulated(small, TWO_COLUMNS + "    compare: [Non-IOM, IOM]\n    alpha: 0.1\n")
    assert strict.rows[0].comparison.significant is False and loose.rows[0].comparison.significant is True
    assert strict.significance_header == "Significant at 1%"


def test_without_statistics_nothing_is_added(small):
    table = tabulated(small, TWO_COLUMNS)
    assert not table.ci and table.compare is None and table.statistics_notes() == []
    assert all(c.ci is None for r in table.rows for c in r.cells) and all(r.comparison is None for r in table.rows)
    assert tabulated(small, TWO_COLUMNS, ci=True).rows[0].cells[0].ci is not None  # --ci asks for every figure


def test_tabulate_command_shows_intervals(small, capsys):
    assert main(["tabulate", str(small), "assessment_engaging", "--by", "iom_status", "--ci"]) == 0
    out = capsys.readouterr().out
    assert "95% CI" in out and "the 95% Wilson score interval" in out
    low, high = proportion_confint(45, 60, method="wilson")
    assert f"{round(low * 100)}-{round(high * 100)}%" in out  # IOM cases: 45 of 60


def test_zero_base_has_no_interval_and_no_test(tmp_path, core_rubric):
    db = core_db(tmp_path / "c.db", core_rubric, {"no": (3, 1)})
    table = tabulated(db, TWO_COLUMNS + "    ci: true\n    compare: [Non-IOM, IOM]\n")
    assert table.rows[0].cells[1].base == 0 and table.rows[0].cells[1].ci is None
    assert table.rows[0].comparison.p_value is None and table.rows[0].comparison.significant is None


# --- the demo: figure 5.2 reproduces chapter 5.3's claim ----------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    write_demo(folder)
    return folder


def export(demo: Path, out: Path, *extra: str) -> None:
    args = ["export", SHIPPED, *[a for n in ("thematic", "core", "survey") for a in ("--data", f"{n}={demo / n}.db")],
            "-o", str(out), *extra]
    assert main(args) == 0


@pytest.fixture(scope="module")
def tidy(demo, tmp_path_factory) -> list[dict]:
    out = tmp_path_factory.mktemp("csv") / "figures.csv"
    export(demo, out)
    with open(out, encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))


def test_figure_5_2_every_summary_question_significant_but_delivery_desistance(tidy):
    iom = {r["question_id"]: r for r in tidy if r["figure"] == "5.2" and r["column"] == "IOM cases"}
    non = {r["question_id"]: r for r in tidy if r["figure"] == "5.2" and r["column"] == "Non-IOM cases"}
    assert [q for q in SUMMARY_QUESTIONS if iom[q]["significant"] != "yes"] == ["delivery_desistance"]
    assert all(iom[q]["significant"] == "no" for q in ("delivery_desistance", "ro_desistance_relationships"))
    for question, row in iom.items():  # each p-value is scipy's on the counts the CSV itself gives
        a, b = non[question], row
        table = [[int(a["count"]), int(a["base"]) - int(a["count"])], [int(b["count"]), int(b["base"]) - int(b["count"])]]
        assert float(row["p_value"]) == pytest.approx(chi2_contingency(table, correction=False)[1], rel=1e-9)
        assert non[question]["p_value"] == "" and non[question]["significant"] == ""  # the test sits on column B
        low, high = proportion_confint(int(b["count"]), int(b["base"]), method="wilson")
        assert (float(row["ci_low"]), float(row["ci_high"])) == pytest.approx((low, high), abs=1e-12)


def test_csv_statistics_are_empty_where_they_do_not_apply(tidy):
    plain = [r for r in tidy if r["figure"] == "4.1"]  # no statistics asked for
    assert plain and all(r["ci_low"] == r["ci_high"] == r["p_value"] == r["significant"] == "" for r in plain)
    totals = [r for r in tidy if r["figure"] == "2.2" and r["row"] == "Total"]
    assert totals and all(r["ci_low"] == "" for r in totals)
    charted = [r for r in tidy if r["figure"] == "4.9"]  # ci: true, no compare
    assert all(r["ci_low"] != "" and r["p_value"] == "" for r in charted)


def test_json_carries_the_same_fields_and_the_test(demo, tmp_path):
    out = tmp_path / "figures.json"
    export(demo, out)
    figure = next(f for f in json.loads(out.read_text(encoding="utf-8"))["figures"] if f["figure"] == "5.2")
    rows = {r["question_id"]: r for r in figure["rows"]}
    desistance = rows["delivery_desistance"]
    assert desistance["cells"][1]["significant"] == "no" and desistance["cells"][0]["p_value"] is None
    assert desistance["comparison"]["test"] == "Pearson's chi-square (no continuity correction)"
    assert desistance["comparison"]["difference_points"] == pytest.approx(100 * (160 / 266 - 1629 / 2962))
    assert figure["statistics"]["compare"]["a"] == "Non-IOM cases" and figure["statistics"]["compare"]["alpha"] == 0.05
    assert any("docs/report-inconsistencies.md" in n for n in figure["statistics"]["notes"])


@pytest.fixture(scope="module")
def workbook_path(demo, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("xlsx") / "figures.xlsx"
    export(demo, out, "--ci")
    return out


def test_workbook_shows_the_claim_on_figure_5_2(workbook_path):
    ws = openpyxl.load_workbook(workbook_path)["Fig 5.2"]
    headers = {ws.cell(5, c).value: c for c in range(1, ws.max_column + 1)}
    marker, p_column, test = headers["Significant at 5%"], headers["p-value"], headers["Test"]
    assert ws.cell(4, headers["Difference (points)"]).value == "IOM cases compared with Non-IOM cases"
    marked = {}
    for r in range(6, ws.max_row + 1):
        label = ws.cell(r, 1).value
        if isinstance(label, str) and label.split(":")[0] in ("Assessment", "Planning", "Delivery", "Reviewing", "RO survey"):
            marked[label] = ws.cell(r, marker).value
            assert ws.cell(r, test).value == "chi-square"
            assert ws.cell(r, p_column).data_type == "n" and ws.cell(r, p_column).number_format == '[<0.0001]"<0.0001";0.0000'
    assert len(marked) == 14
    not_significant = [label for label, mark in marked.items() if mark != "Yes"]
    assert not_significant == [
        "Delivery: Does the implementation and delivery of services effectively support the service user’s desistance?",
        "RO survey: In this case, were there effective relationships with other agencies to support desistance through "
        "access to mainstream services both during and after the sentence?",
    ]
    texts = [c.value for row in ws.iter_rows(min_col=1, max_col=1) for c in row if isinstance(c.value, str)]
    assert any(t.startswith("IOM cases compared with Non-IOM cases, row by row") and "Pearson's chi-square" in t for t in texts)
    assert any("#30 and #31" in t for t in texts)


def test_workbook_intervals_beside_each_percentage(workbook_path):
    ws = openpyxl.load_workbook(workbook_path)["Fig 4.1"]  # no statistics in the file: --ci adds them
    assert [ws.cell(5, c).value for c in range(2, 7)] == ["Number", "Percentage", "Base", "95% CI low", "95% CI high"]
    r = next(c.row for row in ws.iter_rows(min_col=1, max_col=1) for c in row if c.value == "NPS")
    count, base = ws.cell(r, 2).value, ws.cell(r, 4).value
    assert (ws.cell(r, 5).value, ws.cell(r, 6).value) == pytest.approx(proportion_confint(count, base, method="wilson"), abs=1e-12)
    assert ws.cell(r, 5).number_format == "0%"


def test_charts_carry_the_intervals_as_error_bars(workbook_path):
    wb = openpyxl.load_workbook(workbook_path)
    ws = wb["Fig 4.9"]
    with zipfile.ZipFile(workbook_path) as z:
        charts = [z.read(n).decode() for n in sorted(z.namelist()) if n.startswith("xl/charts/chart")]
    assert len(charts) == 8 and all("<c:errBars>" in c or "<errBars>" in c for c in charts)
    chart = next(c for c in charts if "'Fig 4.9'" in c)
    bars = re.search(r"<(?:c:)?errBars>(.*?)</(?:c:)?errBars>", chart, re.S).group(1)
    assert bars.index("plus>") < bars.index("minus>")  # the schema's order (Excel repairs a file otherwise)
    plus_ref = re.search(r"<(?:c:)?plus>.*?<(?:c:)?f>'Fig 4\.9'!\$(\w)\$(\d+):\$\w\$(\d+)</", bars, re.S)
    column, first, last = plus_ref.group(1), int(plus_ref.group(2)), int(plus_ref.group(3))
    labels = [ws[f"A{r}"].value for r in range(first, last + 1)]
    assert labels == ["Assessment", "Planning", "Delivery", "Reviewing"]
    for r in range(first, last + 1):  # bar + amount above = the interval's high end, from the table above
        row = next(c.row for rr in ws.iter_rows(min_col=1, max_col=1, max_row=first - 2) for c in rr
                   if isinstance(c.value, str) and c.value.startswith(ws[f"A{r}"].value + ":"))
        count, base = ws.cell(row, 2).value, ws.cell(row, 4).value
        low, high = proportion_confint(count, base, method="wilson")
        value = ws[f"B{r}"].value
        assert value + ws[f"{column}{r}"].value == pytest.approx(high) and value - ws[f"C{r}"].value == pytest.approx(low)


# --- the Ratings sheet (a figure file's ``ratings:``) -------------------------------------------


def test_ratings_sheet_rates_the_cases_the_figures_count(demo, tmp_path):
    import shutil

    from audit.ratings import load_scheme

    folder = tmp_path / "copy"
    folder.mkdir()
    for name in ("thematic", "core", "survey"):
        shutil.copy(demo / f"{name}.db", folder / f"{name}.db")
    assert main(["ratings", "set", str(folder / "core.db"), "1.1", "outstanding", "--comment", "clear vision"]) == 0
    out = tmp_path / "figures.xlsx"
    export(folder, out)
    wb = openpyxl.load_workbook(out)
    ws = wb["Ratings"]
    assert "'Ratings'!A1" in [c.hyperlink.location for row in wb["Contents"].iter_rows() for c in row if c.hyperlink]
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    scheme = load_scheme(PROJECT / "ratings" / "hmip-2018.yaml")
    # every key question's yes and base, counted here straight from the file's verdicts (live, original cases)
    with sqlite3.connect(f"file:{folder / 'core.db'}?mode=ro", uri=True) as conn:
        counted = dict(((q, (yes, base)) for q, yes, base in conn.execute(
            "SELECT a.question_id, sum(a.value = '\"yes\"'), count(*) FROM answers a JOIN cases c ON c.uuid = a.case_uuid "
            "WHERE a.counted = 1 AND c.deleted_at IS NULL AND c.copy_of IS NULL GROUP BY a.question_id")))
    by_text = {r[8]: r for r in rows if r[8] in scheme.key_questions}
    assert set(by_text) == set(scheme.key_questions)
    for question, row in by_text.items():
        yes, base = counted[question]
        assert (row[2], row[3]) == (yes, base) and row[4] == pytest.approx(yes / base)
        assert (row[5], row[6]) == pytest.approx(proportion_confint(yes, base, method="wilson"), abs=1e-12)
    for standard in scheme.standards:
        row = next(r for r in rows if r[0] == f"{standard.id} {standard.title}")
        if standard.judged:
            expected = "Outstanding" if standard.id == "1.1" else "no judgement given"
        else:
            lowest = min(standard.key_questions, key=lambda q: counted[q][0] / counted[q][1])
            yes, base = counted[lowest]
            expected = scheme.for_percent((200 * yes + base) // (2 * base)).label
            assert by_text[lowest][0] == "lowest"
        assert row[7] == expected, standard.id
    assert "clear vision" in next(r for r in rows if r[0] == "1.1 Leadership")[8]
    overall = next(r for r in rows if r[0] == "Overall")
    assert overall[7] == "not rated" and "1.2, 1.3, 1.4, 3.1, 3.2 need a judgement" in overall[8]


def test_audit_ratings_with_a_status_rates_what_the_ratings_sheet_rates_with_it(demo, tmp_path, capsys):
    """`audit ratings --status complete` and the workbook exported with `--status complete`: the same
    cases, so the same counts, bases and ratings; both differ from every status (the demo has cases
    in progress), and both are what the file's verdicts give for its complete cases."""
    from audit.ratings import load_scheme

    scheme = load_scheme(PROJECT / "ratings" / "hmip-2018.yaml")
    out = tmp_path / "figures.xlsx"
    export(demo, out, "--status", "complete")
    rows = [[c.value for c in row] for row in openpyxl.load_workbook(out)["Ratings"].iter_rows()]
    sheet = {r[8]: (r[2], r[3]) for r in rows if r[8] in scheme.key_questions}
    sheet_ratings = {r[0].split()[0]: r[7] for r in rows if r[0] and r[0].split()[0] in {s.id for s in scheme.standards}}

    def rated(*status: str) -> tuple[dict, dict, str]:
        written = tmp_path / f"ratings{'-'.join(status)}.csv"
        assert main(["ratings", str(demo / "core.db"), "--scheme", str(PROJECT / "ratings" / "hmip-2018.yaml"),
                     *status, "-o", str(written)]) == 0
        said = capsys.readouterr()
        with open(written, encoding="utf-8-sig", newline="") as handle:
            records = list(csv.DictReader(handle))
        counts = {r["question"]: (int(r["count"]), int(r["base"])) for r in records if r["question"]}
        ratings = {r["standard"]: r["rating"] or "no judgement given" for r in records if not r["question"]}
        return counts, ratings, said.out + said.err

    complete, complete_ratings, said = rated("--status", "complete")
    everything, _, said_all = rated()
    with sqlite3.connect(f"file:{demo / 'core.db'}?mode=ro", uri=True) as conn:
        direct = dict(((q, (yes, base)) for q, yes, base in conn.execute(
            "SELECT a.question_id, sum(a.value = '\"yes\"'), count(*) FROM answers a JOIN cases c ON c.uuid = a.case_uuid "
            "WHERE a.counted = 1 AND c.deleted_at IS NULL AND c.copy_of IS NULL AND c.status = 'complete' "
            "GROUP BY a.question_id")))
    assert complete == sheet == {q: direct[q] for q in scheme.key_questions}
    assert all(complete[q][1] < everything[q][1] for q in scheme.key_questions)
    assert all(sheet_ratings[s] == complete_ratings[s] for s in sheet_ratings if s in complete_ratings)
    assert "rated: the 3,128 complete" in said and "warning" not in said
    assert "rated: all 3,308" in said_all and "use --status complete" in said_all
