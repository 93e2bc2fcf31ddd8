"""``audit export``: real files written by the command, read back with openpyxl, csv and json."""

from __future__ import annotations

import csv
import json
import shutil
import stat
from pathlib import Path

import openpyxl
import pytest
from openpyxl.chart import BarChart

from audit.cli import main
from audit.rubric import load_rubric_by_id
from audit.store import NewCase, Store

PROJECT = Path(__file__).resolve().parent.parent
SHIPPED = str(PROJECT / "exports" / "iom-thematic-2019.yaml")
CHARTS = {"2.1", "3.1", "4.1", "4.2", "4.4", "4.5", "4.8", "4.9"}
RISKY = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(1,2)", "\tstart", "\rstart", "=1+1"]
#: case refs cannot hold a tab or carriage return at all (audit.identity refuses them)
RISKY_REFS = [r for r in RISKY if r[0] not in "\t\r"]


def write_db(path: Path, rubric, answer_sets: list[dict], refs: list[str] | None = None, site: str = "sheffield",
             status: str = "in_progress") -> Path:
    store = Store.open(path)
    refs = refs or [f"C{i:03d}" for i in range(len(answer_sets))]
    store.insert_cases(
        [NewCase(case_ref=ref, site=site, rubric=rubric, answers=a, inspector="jb", status=status) for ref, a in zip(refs, answer_sets)],
        who="test", reason="test",
    )
    store.close()
    return path


@pytest.fixture(scope="module")
def databases(tmp_path_factory, thematic_rubric, core_rubric) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("dbs")
    thematic = [
        {"sentence_type": "community", "lead_agency": "crc", "age": 23, "assessment_completed": "yes", "factors": ["family", "drugs"],
         "services_drugs": "yes", "services_family": "no", "reoffended": "yes", "reoffending_frequency": "na",
         "planning_safety": "na", "assessment_safety": "yes"},
        {"sentence_type": "post_release", "lead_agency": "nps", "assessment_completed": "yes", "factors": ["drugs"],
         "services_drugs": "no", "reoffended": "yes", "reoffending_frequency": "reduced", "planning_safety": "yes",
         "assessment_safety": "no"},
        {"sentence_type": "post_release", "lead_agency": "nps", "assessment_completed": "no", "reoffended": "no"},
    ]
    core = [
        {"iom_status": "yes", "principal_offence": "robbery", "factors": ["drugs"], "services_drugs": "yes", "assessment_engaging": "yes"},
        {"iom_status": "yes", "principal_offence": "theft", "factors": ["family"], "assessment_engaging": "no"},
        {"iom_status": "no", "principal_offence": "theft", "factors": ["drugs"], "services_drugs": "no", "assessment_engaging": "yes"},
    ]
    survey = [
        {"respondent_level": "force_area", "caseload": "201_500", "partners": ["housing", "other"], "colocated_partners": "yes"},
        {"respondent_level": "london_borough", "caseload": "not_known", "partners": ["housing"]},
    ]
    paths = {
        "thematic": write_db(folder / "thematic.db", thematic_rubric, thematic),
        "core": write_db(folder / "core.db", core_rubric, core),
        "survey": write_db(folder / "survey.db", load_rubric_by_id("pcc-survey-2019"), survey, site="metropolitan",
                           status="complete"),
    }
    store = Store.open(paths["thematic"], create=False)
    first = store.list_cases(order_by="case_ref", descending=False)[0]
    store.set_note(first.uuid, "lead_agency", "=1+1 evidence from the police record")
    store.close()
    return paths


def export(databases, out: Path, *extra: str, report: str = SHIPPED, names=("thematic", "core", "survey")) -> int:
    args = ["export", report, *[a for n in names for a in ("--data", f"{n}={databases[n]}")], "-o", str(out), *extra]
    return main(args)


@pytest.fixture(scope="module")
def workbook_path(databases, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("out") / "figures.xlsx"
    assert export(databases, out) == 0
    return out


@pytest.fixture(scope="module")
def workbook(workbook_path):
    return openpyxl.load_workbook(workbook_path)


@pytest.fixture(scope="module")
def data_workbook(databases, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "with-data.xlsx"
    assert export(databases, out, "--include-data") == 0
    return openpyxl.load_workbook(out)


def find_row(ws, label: str) -> int:
    for row in ws.iter_rows(min_col=1, max_col=1):
        if row[0].value == label:
            return row[0].row
    raise AssertionError(f"no row {label!r} in {ws.title}")


def test_output_is_private(workbook_path):
    assert stat.S_IMODE(workbook_path.stat().st_mode) == 0o600
    assert [p.name for p in workbook_path.parent.iterdir()] == ["figures.xlsx"]  # no temp file left


FIGURE_SHEETS = ["Fig 2.1", "Fig 2.2", "Fig 3.1", "Fig 4.1", "Fig 4.2", "Fig 4.3", "Fig 4.4", "Fig 4.5", "Fig 4.6",
                 "Fig 4.7", "Fig 4.8", "Fig 4.9", "Fig 5.1", "Fig 5.2", "A2"]


def test_workbook_sheets(workbook, data_workbook):
    # case-level data (case_ref, site, inspector) travels only when asked for
    # the shipped file names a rating scheme for its core dataset: a Ratings sheet
    assert workbook.sheetnames == ["Contents", *FIGURE_SHEETS, "Quoted in the text", "Ratings", "Codebook"]
    assert data_workbook.sheetnames == ["Contents", *FIGURE_SHEETS, "Quoted in the text", "Ratings", "Codebook", "Data thematic",
                                        "Codes thematic", "Data core", "Codes core", "Data survey", "Codes survey"]
    contents = workbook["Contents"]
    links = {c.value: c for row in contents.iter_rows() for c in row if c.hyperlink is not None}
    assert links["Fig 2.2"].hyperlink.location == "'Fig 2.2'!A1"
    assert links["Quoted in the text"].hyperlink.location == "'Quoted in the text'!A1"


def test_figure_sheet_numbers_formats_bases_and_notes(workbook):
    ws = workbook["Fig 4.3"]
    assert ws["A1"].value == "Figure 4.3: The factors most linked to the service user’s offending"
    # 4.3 declares ci: true and compare: each column's interval beside it, then the comparison
    assert ws["B4"].value == "Thematic IOM sample" and ws["G4"].value == "Core programme IOM cases"
    assert ws["L4"].value == "Thematic IOM sample compared with Core programme IOM cases"
    assert [ws.cell(5, c).value for c in range(2, 16)] == ["Number", "Percentage", "Base", "95% CI low", "95% CI high"] * 2 + [
        "Difference (points)", "p-value", "Test", "Significant at 5%"]
    assert ws.freeze_panes == "B6"
    row = find_row(ws, "Drug misuse")
    count, share, base = (ws.cell(row, c) for c in (2, 3, 4))
    assert (count.value, base.value) == (2, 2) and count.data_type == "n"
    assert share.value == 1 and share.number_format == "0%" and share.data_type == "n"
    row = find_row(ws, "Family and relationships")
    assert ws.cell(row, 3).value == 0.5 and ws.cell(row, 8).value == 0.5  # core IOM: 1 of 2
    texts = [c.value for r in ws.iter_rows(min_col=1, max_col=1) for c in r if isinstance(c.value, str)]
    assert any("It excludes cases where the question does not apply" in t for t in texts)
    assert ("Core programme IOM cases: base 2 cases. The column counts cases in the HMI Probation core inspection programme "
            "2018/2019 where the answer to “Is the case subject to Integrated Offender Management?” is Yes.") in texts
    assert not any("iom_status" in t or "==" in t for t in texts)  # bases in words, never rule syntax


def test_percentages_hold_the_unrounded_fraction(workbook):
    ws = workbook["Fig 4.1"]  # CRC 1 of 3, NPS 2 of 3
    crc, nps = find_row(ws, "CRC"), find_row(ws, "NPS")
    assert ws.cell(crc, 3).value == pytest.approx(1 / 3) and ws.cell(nps, 3).value == pytest.approx(2 / 3)
    assert ws.cell(nps, 3).number_format == "0%"


def test_not_applicable_row_shows_a_dash_where_the_report_does(workbook):
    ws = workbook["Fig 5.1"]
    # the first sub-table is titled as the figure: it is not headed twice
    assert ws["A6"].value == "Yes"
    assert sum(1 for row in ws.iter_rows(min_col=1, max_col=1) for c in row if c.value and c.value.startswith("Is there evidence")) == 0
    row = find_row(ws, "Not applicable")
    assert [ws.cell(row, c).value for c in (2, 3, 4)] == [1, "-", "-"]
    reduced = find_row(ws, "Reduced")
    assert [ws.cell(reduced, c).value for c in (2, 3, 4)] == [1, 1, 1]


def test_figure_5_2_shows_percentage_then_number_and_the_shading(workbook):
    ws = workbook["Fig 5.2"]
    assert [ws.cell(5, c).value for c in range(2, 10)] == ["Percentage", "Number", "95% CI low", "95% CI high"] * 2
    row = find_row(ws, "Assessment: Does assessment focus sufficiently on engaging the service user?")
    assert [ws.cell(row, c).value for c in (2, 3, 6, 7)] == [1, 1, 0.5, 2]
    shaded = [c.value for r in ws.iter_rows(min_col=1, max_col=1) for c in r
              if c.fill.fgColor.rgb == "00C6EFCE" and c.value and c.value[:4] in ("Asse", "Plan", "Deli", "Revi")]
    assert len(shaded) == 8
    assert any(v and v.startswith("Shaded: the 8 of the 12") for r in ws.iter_rows(min_col=1, max_col=1) for v in [r[0].value])


def test_figure_4_6_prints_the_reports_letters(workbook):
    ws = workbook["Fig 4.6"]
    headings = [c.value for r in ws.iter_rows(min_col=1, max_col=1) for c in r if c.font.b and c.value and c.value[1:3] == ") "]
    assert headings[0] == "a) Attitudes to offending" and headings[-1] == "h) Accommodation" and len(headings) == 8


def test_total_row_of_figure_2_2(workbook):
    ws = workbook["Fig 2.2"]
    row = find_row(ws, "Total")
    assert [ws.cell(row, c).value for c in (2, 3, 4)] == [2, None, None]
    assert ws.cell(row, 1).font.b


def test_charts_beside_the_reports_charts_only(workbook):
    for name in workbook.sheetnames:
        if not name.startswith("Fig"):
            continue
        charts = workbook[name]._charts
        if name[4:] in CHARTS:
            assert len(charts) == 1 and isinstance(charts[0], BarChart), name
        else:
            assert charts == [], name


def test_no_formula_anywhere(workbook):
    for ws in workbook.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)


def test_codebook_and_data_sheets(data_workbook):
    workbook = data_workbook
    book = [[c.value for c in row] for row in workbook["Codebook"].iter_rows()]
    header = next(i for i, r in enumerate(book) if r[0] == "Dataset")
    assert book[header] == ["Dataset", "Column", "Question", "Section", "Type", "Options (code = label)", "Range",
                            "Applies when", "Rule as written", "Rubric"]
    rows = book[header + 1:]
    safety = next(r for r in rows if r[0] == "thematic" and r[1] == "planning_safety")
    assert safety[5] == "yes = Yes\nno = No\nna = Not applicable (never in a base)"
    assert safety[8] == 'sentence_type != "non_statutory"'
    assert safety[7] == ("the answer to “What type of sentence or supervision is the service user subject to?” "
                         "is not Non-statutory supervision")
    assert sum(1 for r in rows if r[0] == "thematic" and r[1].split("\n")[0] == "planning_safety") == 1  # one row per question
    assert any(r[0] == "core" and r[1] == "iom_status" for r in rows)
    labels = [[c.value for c in row] for row in workbook["Data thematic"].iter_rows()]
    codes = [[c.value for c in row] for row in workbook["Codes thematic"].iter_rows()]
    assert len(labels) == 4 and labels[0][:5] == ["case_ref", "site", "inspector", "status", "rubric_version"]
    column = labels[0].index("factors")
    assert labels[1][column] == "Family and relationships; Drug misuse" and codes[1][codes[0].index("factors")] == "family;drugs"
    assert [codes[1][codes[0].index(f"factors___{code}")] for code in ("family", "drugs", "alcohol")] == [1, 1, 0]
    lead = labels[0].index("lead_agency")
    assert (labels[1][lead], codes[1][codes[0].index("lead_agency")]) == ("CRC", "crc")
    age = labels[0].index("age")  # a number stays a number a spreadsheet can sum, not text
    assert (labels[1][age], codes[1][codes[0].index("age")]) == (23, 23)
    assert "Notes thematic" not in workbook.sheetnames


def test_notes_only_when_asked(databases, tmp_path):
    out = tmp_path / "notes.xlsx"
    assert export(databases, out, "--include-notes") == 0
    ws = openpyxl.load_workbook(out)["Notes thematic"]
    rows = [[c.value for c in row] for row in ws.iter_rows()]
    assert rows == [["case_ref", "site", "question", "note"], ["C000", "sheffield", "lead_agency", "=1+1 evidence from the police record"]]
    assert ws["D2"].data_type == "s"


def test_contents_states_which_cases_count(workbook):
    texts = [c.value for row in workbook["Contents"].iter_rows() for c in row if isinstance(c.value, str)]
    assert any(t.startswith("thematic (the thematic case assessment at the seven fieldwork sites, rubric iom-thematic-2019), "
                            "thematic.db: 3 cases (3 in progress); counted: all 3") for t in texts), texts
    assert ("Warning: core: 3 of the 3 cases counted are in progress (not finished); use --status complete to count "
            "finished assessments only") in texts


def test_status_complete_counts_finished_cases_only(tmp_path, thematic_rubric, capsys):
    finished = tmp_path / "finished.db"
    with Store.open(finished) as store:
        store.insert_cases([NewCase(case_ref=f"C{i}", site="surrey", rubric=thematic_rubric, status=status,
                                    answers={"sentence_type": "community", "lead_agency": agency})
                            for i, (status, agency) in enumerate([("complete", "crc"), ("in_progress", "nps"), ("in_progress", "crc")])],
                           who="test", reason="test")
    out = tmp_path / "complete.json"
    assert main(["export", SHIPPED, "--data", f"thematic={finished}", "--status", "complete", "-o", str(out)]) == 0
    captured = capsys.readouterr()
    assert f"thematic ({finished.name}): 3 cases (2 in progress, 1 complete); counted: the 1 complete" in captured.out
    assert "in progress (not finished)" not in captured.err
    document = json.loads(out.read_text(encoding="utf-8"))
    lead = next(f for f in document["figures"] if f["figure"] == "4.1")
    assert [(r["row"], r["cells"][0]["count"], r["cells"][0]["base"]) for r in lead["rows"]] == [
        ("CRC", 1, 1), ("NPS", 0, 1), ("Police", 0, 1)]
    assert document["cases_counted"][0]["statuses_counted"] == ["complete"]


def test_output_that_is_an_input_is_refused(databases, tmp_path, capsys):
    named = tmp_path / "thematic.json"  # a database whose name ends like an export
    shutil.copy(databases["thematic"], named)
    before = named.read_bytes()
    assert main(["export", SHIPPED, "--data", f"thematic={named}", "-o", str(named)]) == 1
    assert "is one of the databases being read" in capsys.readouterr().err
    assert named.read_bytes() == before


# --- formula injection ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def risky(tmp_path_factory, thematic_rubric) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("risky")
    db = write_db(folder / "risky.db", thematic_rubric,
                  [{"sentence_type": "community", "lead_agency": "crc"} for _ in RISKY_REFS], refs=RISKY_REFS)
    report = folder / "risky.yaml"
    report.write_text(
        "id: risky\ntitle: '=TITLE()'\ndatasets:\n  thematic: {rubric: iom-thematic-2019, label: '@dataset'}\nfigures:\n"
        "  - id: '1'\n    title: '+1 title'\n    chart: bar\n    columns:\n      - {dataset: thematic, label: '-col'}\n"
        "    sections:\n      - title: '@section'\n        rows:\n"
        "          - {options: lead_agency, labels: {crc: '=EVIL()', nps: '#N/A'}}\n"
        "          - {total: '\tTotal'}\n"
    )
    return {"thematic": db, "report": report}


def test_xlsx_never_turns_text_into_formulas(risky, tmp_path):
    out = tmp_path / "risky.xlsx"
    assert export(risky, out, "--include-data", "--include-notes", report=str(risky["report"]), names=("thematic",)) == 0
    workbook = openpyxl.load_workbook(out)
    texts = {}
    for ws in workbook.worksheets:
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (ws.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    texts[cell.value] = cell.data_type
    for value in ["=EVIL()", "#N/A", "@section", "-col", "Figure 1: +1 title", "=TITLE()", "\tTotal", *RISKY_REFS]:
        assert texts.get(value) == "s", value
    refs = [c.value for c in workbook["Data thematic"]["A"]][1:]
    assert sorted(refs) == sorted(RISKY_REFS)


def test_csv_prefixes_risky_text_with_an_apostrophe(risky, tmp_path):
    out = tmp_path / "risky.csv"
    assert export(risky, out, report=str(risky["report"]), names=("thematic",)) == 0
    with open(out, encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert {r["row"] for r in rows} == {"'=EVIL()", "#N/A", "Police", "'\tTotal"}
    assert {r["section"] for r in rows} == {"'@section"} and {r["column"] for r in rows} == {"'-col"}
    assert {r["title"] for r in rows} == {"'+1 title"}


def test_markdown_starts_no_line_or_cell_with_a_formula_and_keeps_each_row_on_one_line(risky, tmp_path):
    report = risky["report"].with_name("risky-md.yaml")
    report.write_text(risky["report"].read_text().replace("'+1 title'", "'+1 title'\n    note: '=NOTE()'")
                      .replace("nps: '#N/A'", 'nps: "two\\rlines"'))
    out = tmp_path / "risky.md"
    assert export(risky, out, report=str(report), names=("thematic",)) == 0
    text = out.read_bytes().decode("utf-8")
    assert "\r" not in text and "| two lines |" in text
    lines = text.split("\n")
    assert not [line for line in lines if line.startswith(("=", "+", "-", "@", "\t"))]
    rows = [line for line in lines if line.startswith("|") and not line.startswith("|---")]
    cells = [cell.strip(" |*") for line in rows for cell in line.split(" | ")]
    assert not [cell for cell in cells if cell != "-" and cell.startswith(("=", "+", "-", "@", "\t"))], cells  # "-": no percentage
    # Markdown shows an escaped character as itself: the tables read as they did
    assert "| \\=EVIL() |" in text and "\\=NOTE()" in text and "\\-col: Number" in text
    from markdown_it import MarkdownIt  # rich's Markdown parser

    html = MarkdownIt("commonmark").enable("table").render(text)
    for shown in ("<td>=EVIL()</td>", "<td>two lines</td>", "<td><strong>Total</strong></td>", "<p>=NOTE()</p>", "-col: Number</th>"):
        assert shown in html, shown


# --- the other formats ------------------------------------------------------------------------


def test_tidy_csv(databases, tmp_path):
    out = tmp_path / "figures.csv"
    assert export(databases, out) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # a byte-order mark: Excel reads the file as UTF-8
    with open(out, encoding="utf-8-sig", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = [dict(zip(header, r)) for r in reader]
    assert header == ["figure", "title", "section", "row", "column", "count", "base", "percent",
                      "dataset", "question_id", "option_code", "fraction", "ci_low", "ci_high", "p_value", "significant"]
    drug = [r for r in rows if r["figure"] == "4.6" and r["section"] == "Drug misuse" and r["row"] == "Yes"]
    assert [(r["column"], r["count"], r["base"], r["percent"]) for r in drug] == [
        ("Thematic IOM sample", "1", "2", "50"), ("Core programme IOM cases", "1", "1", "100")]
    assert [(r["dataset"], r["question_id"], r["option_code"], r["fraction"]) for r in drug] == [
        ("thematic", "services_drugs", "yes", "0.5"), ("core", "services_drugs", "yes", "1.0")]
    meta = json.loads(out.with_name("figures.csv-metadata.json").read_text(encoding="utf-8"))
    assert meta["url"] == "figures.csv" and [c["name"] for c in meta["tableSchema"]["columns"]] == header
    counted = {d["dataset"]: d for d in meta["notes"][0]["casesCounted"]}
    assert counted["thematic"]["cases_by_status"] == {"in_progress": 3} and counted["thematic"]["statuses_counted"] == "all"
    assert stat.S_IMODE(out.with_name("figures.csv-metadata.json").stat().st_mode) == 0o600
    total = next(r for r in rows if r["figure"] == "2.2" and r["row"] == "Total")
    assert (total["count"], total["base"], total["percent"], total["column"]) == ("2", "2", "", "")
    na = next(r for r in rows if r["figure"] == "5.1" and r["row"] == "Not applicable")
    assert (na["count"], na["base"], na["percent"]) == ("1", "", "")
    assert len({r["figure"] for r in rows}) == 16  # 15 figures and the numbers quoted in the text


def test_markdown_tables(databases, tmp_path):
    out = tmp_path / "figures.md"
    assert export(databases, out) == 0
    text = out.read_text(encoding="utf-8")
    assert "### Figure 4.3: The factors most linked to the service user’s offending" in text
    assert ("|  | Thematic IOM sample: Number | Thematic IOM sample: Percentage | Thematic IOM sample: Base | "
            "Thematic IOM sample: 95% CI | Core programme IOM cases: Number | Core programme IOM cases: Percentage | "
            "Core programme IOM cases: Base | Core programme IOM cases: 95% CI | Difference (points) | p-value | "
            "Significant at 5% |") in text
    # 2 of 2 against 1 of 2: Fisher's exact test (expected counts below 5), p = 1
    assert "| Drug misuse | 2 | 100% | 2 | 34-100% | 1 | 50% | 2 | 9-91% | +50.0 | 1.0000 | No |" in text
    assert "Fisher's exact test (two-sided) in 8 rows" in text
    assert "| **e) Drug misuse** |" in text  # 4.6's sub-table heading, with the report's letter
    assert "| Not applicable | 1 | - | - |" in text


def test_json(databases, tmp_path):
    out = tmp_path / "figures.json"
    assert export(databases, out) == 0
    document = json.loads(out.read_text(encoding="utf-8"))
    assert document["report"] == "iom-thematic-2019"
    assert document["warnings"] == [f"{name}: 3 of the 3 cases counted are in progress (not finished); use --status complete "
                                    "to count finished assessments only" for name in ("thematic", "core")]
    figure = next(f for f in document["figures"] if f["figure"] == "4.1")
    assert figure["chart"] == "bar" and figure["columns"] == [
        {"label": "", "dataset": "thematic", "cases": "cases in the thematic case assessment at the seven fieldwork sites"}]
    row = figure["rows"][1]
    assert (row["row"], row["question_id"], row["option_codes"]) == ("NPS", "lead_agency", ["nps"])
    assert row["cells"] == [{"count": 2, "base": 3, "percent": 67, "fraction": 2 / 3, "ci_low": None, "ci_high": None,
                             "p_value": None, "significant": None}]  # 4.1 has no statistics
    assert document["cases_counted"][0]["cases_by_status"] == {"in_progress": 3}


# --- refusals -------------------------------------------------------------------------------


def test_missing_dataset_is_a_warning_not_an_error(databases, tmp_path, capsys):
    out = tmp_path / "thematic-only.csv"
    assert export(databases, out, names=("thematic",)) == 0
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "warning: thematic: 3 of the 3 cases counted are in progress (not finished); use --status complete to count "
        "finished assessments only",
        *[f"warning: figure {f} skipped: dataset '{d}' was not given (add --data {d}=DB)"
          for f, d in (("2.1", "survey"), ("2.2", "core"), ("3.1", "survey"), ("4.3", "core"), ("4.6", "core"), ("5.2", "core"))],
        "warning: 17 numbers quoted in the text skipped: dataset 'survey' was not given (add --data survey=DB)",
        "warning: 8 numbers quoted in the text skipped: dataset 'core' was not given (add --data core=DB)",
    ]
    assert out.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--data", "thematic={thematic}", "-o", "{out}.txt"], "'.txt' is not an export format; end the file name with one of .xlsx, .csv, .md, .json"),
        (["--data", "thematic", "-o", "{out}.csv"], "--data 'thematic': write NAME=DB, e.g. --data thematic=thematic.db"),
        (["--data", "thematc={thematic}", "-o", "{out}.csv"], "--data: unknown dataset 'thematc' (did you mean 'thematic'?); this report's datasets are thematic, core"),
        (["--data", "core={thematic}", "-o", "{out}.csv"], "holds cases of rubric 'iom-thematic-2019', but dataset 'core' is rubric 'hmip-core-2018'"),
        (["--data", "thematic={thematic}", "--data", "thematic={core}", "-o", "{out}.csv"], "dataset 'thematic' is given twice"),
        (["--data", "thematic={missing}", "-o", "{out}.csv"], "does not exist; check the path"),
        (["--data", "thematic={thematic}", "--include-notes", "-o", "{out}.csv"], "--include-notes: case-level data and evidence notes go only into an .xlsx workbook"),
        (["-o", "{out}.csv"], "no data given; add --data NAME=DB for thematic, core"),
    ],
)
def test_bad_arguments_are_one_line_errors_and_write_nothing(databases, tmp_path, capsys, args, message):
    values = {"thematic": databases["thematic"], "core": databases["core"], "missing": tmp_path / "nope.db", "out": tmp_path / "out"}
    argv = ["export", SHIPPED, *[a.format(**values) for a in args]]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and err[0].startswith("error: "), err
    assert list(tmp_path.iterdir()) == []


def test_usage_error_exits_2(databases, capsys):
    assert main(["export", SHIPPED, "--data", f"thematic={databases['thematic']}"]) == 2
    assert "Missing option '-o'" in capsys.readouterr().err


def test_failed_write_leaves_the_old_file_and_no_temp_file(databases, tmp_path, monkeypatch, capsys):
    out = tmp_path / "figures.xlsx"
    out.write_bytes(b"previous export")

    def broken_save(self, filename):
        Path(filename).write_bytes(b"half a workbook")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("openpyxl.Workbook.save", broken_save)
    assert export(databases, out) == 1
    err = capsys.readouterr().err
    assert "No space left on device" in err
    assert "Traceback" not in err and "Exception ignored" not in err  # the streamed sheets end quietly
    assert out.read_bytes() == b"previous export"
    assert [p.name for p in tmp_path.iterdir()] == ["figures.xlsx"]
