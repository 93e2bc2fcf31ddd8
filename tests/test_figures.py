"""Figure-table definitions: the shipped file says what the report prints; bad files give file:line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.cli import main
from audit.errors import Problems
from audit.figures import find_report, load_report, parse_report

PROJECT = Path(__file__).resolve().parent.parent
SHIPPED = PROJECT / "exports" / "iom-thematic-2019.yaml"


@pytest.fixture(scope="module")
def report():
    return load_report(SHIPPED)


def labels(figure, section: str | None = None) -> list[str]:
    return [row.label for s in figure.sections if section is None or s.title == section for row in s.rows]


def test_shipped_file_lists_every_figure_in_report_order(report):
    assert report.id == "iom-thematic-2019"
    assert [f.id for f in report.figures] == [
        "2.1", "2.2", "3.1", "4.1", "4.2", "4.3", "4.4", "4.5", "4.6", "4.7", "4.8", "4.9", "5.1", "5.2", "A2"]
    assert {f.id for f in report.figures if f.chart == "bar"} == {"2.1", "3.1", "4.1", "4.2", "4.4", "4.5", "4.8", "4.9"}
    assert {name: d.rubric_id for name, d in report.datasets.items()} == {
        "thematic": "iom-thematic-2019", "core": "hmip-core-2018", "survey": "pcc-survey-2019"}
    assert all(d.statuses is None for d in report.datasets.values())  # every status counts unless asked
    assert report.datasets["thematic"].site_label("colwyn_bay") == "Colwyn Bay"
    assert report.datasets["survey"].site_label("metropolitan") == "Metropolitan Police"


def test_survey_figures_2_1_and_3_1(report):
    caseload = report.figure("2.1")
    assert caseload.columns[0].dataset == "survey"
    assert labels(caseload) == ["Up to 50", "51-100", "101-200", "201-500", "501-1,000", "Over 1,000", "Not known"]
    assert [r.in_base for r in caseload.sections[0].rows][-2:] == [True, False]
    assert caseload.note == "Approximately how many offenders are covered by your IOM scheme(s) at any one time?"
    partners = report.figure("3.1")
    assert labels(partners)[:4] == ["Housing aid and advice services", "Substance misuse services",
                                    "Registered social landlords", "Peer mentoring services"]
    assert partners.chart_title == ["Figure 3.1: Wider partner involvement in IOM from our", "survey of PCCs"]


def test_charts_have_titles_of_at_most_two_lines(report):
    for figure in report.figures:
        if figure.chart:
            assert 1 <= len(figure.chart_title) <= 2, figure.id
            assert figure.chart_title[0].startswith(f"Figure {figure.id}: ")
    assert report.figure("4.2").chart_title == ["Figure 4.2: Reasons for IOM registration explained to",
                                                "the service user"]


def test_titles_and_headings_are_the_reports(report):
    assert report.figure("4.3").title == "The factors most linked to the service user’s offending"
    assert report.figure("4.3").heading == "Figure 4.3: The factors most linked to the service user’s offending"
    assert report.figure("4.9").title == "The quality of practice to keep victims and other people safe."
    assert report.figure("A2").heading == "Annex 2: Inspection case profile"
    assert report.figure("4.6").sheet_name == "Fig 4.6"


def test_figure_2_2_has_the_reports_rows_and_a_total(report):
    figure = report.figure("2.2")
    assert labels(figure)[:2] == ["Violence against the person", "Breach of restraining or non-molestation order"]
    assert len(labels(figure)) == 12 and labels(figure)[-1] == "Total"
    assert figure.sections[0].rows[-1].kind == "total"
    assert [c.label for c in figure.columns] == [""]
    assert figure.columns[0].where == 'iom_status == "yes"'


def test_figure_4_7_leaves_out_fraud_and_criminal_damage(report):
    assert labels(report.figure("4.7")) == [
        "Violence against the person", "Breach of restraining order or breach of non-molestation order", "Sexual offence",
        "Burglary", "Robbery", "Theft and handling stolen goods", "Drug offences", "Motoring offences",
        "Other offences not listed above",
    ]


def test_two_column_figures_put_datasets_side_by_side(report):
    for fid in ("4.3", "4.6"):
        assert [c.label for c in report.figure(fid).columns] == ["Thematic IOM sample", "Core programme IOM cases"]
    fig52 = report.figure("5.2")
    assert [(c.label, c.dataset, c.where) for c in fig52.columns] == [
        ("Non-IOM cases", "core", 'iom_status == "no"'), ("IOM cases", "core", 'iom_status == "yes"')]
    assert fig52.show == ["percent", "base"] and fig52.header("base") == "Number"


def test_figure_4_6_sections_are_the_eight_factors_with_the_reports_letters(report):
    figure = report.figure("4.6")
    assert [s.title for s in figure.sections] == [
        "Attitudes to offending", "Family and relationships", "Thinking and behaviour",
        "Lifestyle, including friends and associates", "Drug misuse", "Alcohol misuse",
        "Education, training and employment", "Accommodation",
    ]
    assert [s.prefix for s in figure.sections] == ["a)", "b)", "c)", "d)", "e)", "f)", "g)", "h)"]
    assert figure.sections[3].heading == "d) Lifestyle, including friends and associates"
    assert all(labels(figure, s.title) == ["Yes", "No"] for s in figure.sections)


def test_figure_5_1_sections_are_its_three_questions_with_the_not_applicable_row(report):
    figure = report.figure("5.1")
    titles = [s.title for s in figure.sections]
    assert titles[0].startswith("Is there evidence that the service user has been convicted")
    assert titles[1] == "In the opinion of the inspector, does the frequency of proven offending appear to have…"
    assert titles[2] == "In the opinion of the inspector, does the seriousness of proven offending appear to have…"
    frequency = figure.sections[1].rows
    assert [r.label for r in frequency] == ["Reduced", "Stayed the same", "Increased", "Not applicable"]
    assert [r.in_base for r in frequency] == [True, True, True, False]


def test_figure_5_2_rows_are_its_fourteen_questions_counting_yes(report):
    rows = report.figure("5.2").sections[0].rows
    assert len(rows) == 14
    assert rows[0].label == "Assessment: Does assessment focus sufficiently on engaging the service user?"
    assert rows[4].label.endswith("supporting the service user’s desistance?")
    assert all(r.codes == ("yes",) for r in rows)
    # "In 8 of the 12 questions ... shaded green": highlights are data, with a note saying what they mean
    assert sum(r.highlight for r in rows) == 8 and not any(r.highlight for r in rows[12:])
    assert "8 of the 12" in report.figure("5.2").highlight_note


def test_figure_4_9_is_the_four_keeping_safe_questions(report):
    rows = report.figure("4.9").sections[0].rows
    assert [r.question for r in rows] == ["assessment_safety", "planning_safety", "delivery_safety", "review_safety"]
    assert [r.chart_label for r in rows] == ["Assessment", "Planning", "Delivery", "Reviewing"]


def test_annex_2_case_profile(report):
    figure = report.figure("A2")
    # as Annex 2 prints them: "aged 18-25 years ... There were no service users in our sample aged 55 or over"
    assert labels(figure, "Age") == ["Aged 18-25 years", "Aged 26-35 years", "Aged 36-55 years", "Aged 55 or over"]
    bands = [(r.low, r.high) for r in figure.sections[4].rows]
    assert bands == [(18, 25), (26, 35), (36, 55), (55, None)]
    risk = figure.sections[2].rows[0]
    assert (risk.label, risk.codes) == ("Medium or high", ("medium", "high"))
    convictions = figure.sections[3].rows[0]
    assert (convictions.label, convictions.low, convictions.high) == ("More than 21 previous convictions", 22, None)
    assert labels(figure, "Index offence") == ["Violence", "Burglary"]
    assert labels(figure, "Sentence type") == ["Community sentence", "Post-release supervision", "Non-statutory supervision"]


def test_shipped_report_is_found_by_id():
    assert find_report("iom-thematic-2019").name == "iom-thematic-2019.yaml"
    assert load_report("iom-thematic-2019").id == "iom-thematic-2019"


# --- errors ----------------------------------------------------------------------------------

HEADER = """id: t
title: T
datasets:
  thematic: {rubric: iom-thematic-2019, label: Thematic}
  core: {rubric: hmip-core-2018, label: Core}
figures:
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(Problems) as caught:
        parse_report(HEADER + text, "f.yaml")
    return [str(p) for p in caught.value.problems]


def test_unquoted_figure_id_is_refused_with_its_line():
    found = problems_of('  - id: 4.10\n    title: x\n    columns: [thematic]\n    rows: [{options: rosh}]\n')
    assert found == ['f.yaml:7: figure id 4.1 must be quoted, e.g. id: "4.1" (YAML reads 4.10 as the number 4.1)']


def test_unknown_dataset_question_code_and_key_each_located():
    found = problems_of(
        '  - id: "1"\n'            # 7
        "    title: x\n"            # 8
        "    columns:\n"            # 9
        "      - dataset: thematc\n"  # 10
        '  - id: "2"\n'            # 11
        "    title: y\n"            # 12
        "    columns: [thematic]\n"  # 13
        "    rows:\n"               # 14
        "      - options: rosh\n"   # 15
        "        codes: [Low]\n"    # 16
        "      - options: roshh\n"  # 17
        "      - question: age\n"   # 18
        "        label: a\n"        # 19
        "        colour: red\n"     # 20
    )
    assert "f.yaml:10: figure '1': unknown dataset 'thematc' (did you mean 'thematic'?); datasets: thematic, core" in found
    assert "f.yaml:16: figure '2': 'Low' is not an option code of 'rosh' (codes: low, medium, high, very_high); use its code 'low'" in found
    assert any(p.startswith("f.yaml:17: figure '2': no question 'roshh' in rubric iom-thematic-2019") and "did you mean 'rosh'" in p for p in found)
    assert any(p.startswith("f.yaml:20: figure '2': unknown key 'colour'") for p in found)


def test_filter_is_checked_against_the_datasets_rubric():
    found = problems_of('  - id: "1"\n    title: x\n    columns:\n      - dataset: core\n        where: iom_status == "maybe"\n'
                        "    rows: [{options: factors}]\n")
    assert len(found) == 1
    assert found[0].startswith("f.yaml:11: figure '1': rule `iom_status == \"maybe\"` at column 1: 'maybe' is not an option code")


def test_unparseable_filter_is_located():
    found = problems_of('  - id: "1"\n    title: x\n    columns:\n      - dataset: core\n        where: iom_status = "yes"\n'
                        "    rows: [{options: factors}]\n")
    assert found[0].startswith("f.yaml:11: figure '1': rule `iom_status = \"yes\"`")


def test_question_must_exist_in_every_columns_rubric():
    found = problems_of('  - id: "1"\n    title: x\n    columns: [{dataset: thematic, label: T}, {dataset: core, label: C}]\n'
                        "    rows: [{options: ethnicity}]\n")
    assert found == ["f.yaml:10: figure '1': no question 'ethnicity' in rubric hmip-core-2018 (dataset 'core')"]
    found = problems_of('  - id: "1"\n    title: x\n    columns: [thematic, core]\n    rows: [{options: factors}]\n')
    assert found == ["f.yaml:9: figure '1': a figure with several columns needs a different label on each"]


def test_row_kinds_are_checked():
    found = problems_of(
        '  - id: "1"\n    title: x\n    columns: [thematic]\n    rows:\n'
        "      - total: Total\n"                                   # 11
        "      - {question: age, label: a, count: 'yes'}\n"       # 12
        "      - {question: rosh, label: b, min: 3}\n"            # 13
        "      - {question: age, label: c, min: 9, max: 2}\n"     # 14
        "      - {options: rosh, question: age}\n"                # 15
        "      - {question: planning_safety, label: d, count: [yes, na]}\n"  # 16
    )
    assert found == [
        "f.yaml:11: figure '1': a total row counts the base of the rows above it; put it after them",
        "f.yaml:12: figure '1': 'count' needs a choice question; 'age' is integer",
        "f.yaml:13: figure '1': 'min'/'max' need an integer question; 'rosh' is single",
        "f.yaml:14: figure '1': min 9 is above max 2",
        "f.yaml:15: figure '1': a row needs exactly one of 'options', 'question' or 'total'; it has options, question",
        "f.yaml:16: figure '1': 'count' mixes options that count with options that never count (such as Not applicable)",
    ]


def test_unquoted_yes_and_no_mean_the_codes_but_not_labels():
    text = (HEADER + '  - id: "1"\n    title: x\n    columns: [thematic]\n    rows:\n'
            "      - {options: planning_safety, codes: [yes, no, na], labels: {yes: Safe}}\n"
            "      - {question: review_safety, count: yes, label: Reviewed}\n")
    figure = parse_report(text, "f.yaml").figures[0]
    assert [(r.label, r.codes, r.in_base) for r in figure.sections[0].rows] == [
        ("Safe", ("yes",), True), ("No", ("no",), True), ("Not applicable", ("na",), False), ("Reviewed", ("yes",), True)]
    found = problems_of('  - id: "1"\n    title: x\n    columns: [thematic]\n    rows:\n      - {question: rosh, count: low, label: Yes}\n')
    assert found == ["f.yaml:11: figure '1': put this text in quotes; YAML reads an unquoted Yes, No, On or Off as true/false"]


def test_duplicate_figure_ids_and_missing_rows():
    found = problems_of('  - id: "1"\n    title: x\n    columns: [thematic]\n    rows: [{options: rosh}]\n'
                        '  - id: "1"\n    title: y\n    columns: [thematic]\n')
    assert found == ["f.yaml:11: figure '1': duplicate figure id (first used at line 7); ids must be unique"]
    found = problems_of('  - id: "2"\n    title: y\n    columns: [thematic]\n')
    assert found == ["f.yaml:7: figure '2': give either 'rows' or 'sections' (sub-tables, each with a title and rows)"]


def test_unknown_rubric_is_located_with_a_suggestion():
    with pytest.raises(Problems) as caught:
        parse_report("id: t\ntitle: T\ndatasets:\n  core: {rubric: hmip-core-201, label: C}\nfigures: []\n", "g.yaml")
    lines = [str(p) for p in caught.value.problems]
    assert any(line.startswith("g.yaml:4: dataset 'core': no rubric with id 'hmip-core-201' (did you mean 'hmip-core-2018'?)") for line in lines)


def test_rubric_check_command_validates_figure_files(tmp_path, capsys):
    assert main(["rubric", "check", str(SHIPPED)]) == 0
    assert "figure tables 'iom-thematic-2019' (15 figures)" in capsys.readouterr().out
    bad = tmp_path / "bad.yaml"
    bad.write_text(HEADER + '  - id: "1"\n    title: x\n    columns: [thematic]\n    rows: [{options: lead_agncy}]\n')
    assert main(["rubric", "check", str(bad)]) == 1
    err = capsys.readouterr().err
    assert f"{bad}:10: figure '1': no question 'lead_agncy' in rubric iom-thematic-2019 (dataset 'thematic') (did you mean 'lead_agency'?)" in err
    assert "Traceback" not in err
