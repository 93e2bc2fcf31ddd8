"""The workbook a report writer publishes from, read back with openpyxl: charts, bases, fonts, widths,
print setup, cached chart values, data sheets and their markers."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import openpyxl
import pytest
from openpyxl.utils import column_index_from_string, range_boundaries

from audit.cli import main
from audit.counting import percent
from audit.store import NewCase, Store
from audit.tabulate import has_deleted_column

PROJECT = Path(__file__).resolve().parent.parent
REPORT = str(PROJECT / "exports" / "iom-thematic-2019.yaml")
CHARTED = ("Fig 2.1", "Fig 3.1", "Fig 4.1", "Fig 4.2", "Fig 4.4", "Fig 4.5", "Fig 4.8", "Fig 4.9")
FONT = "Calibri"


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("workbook") / "demo"
    assert main(["demo", str(folder)]) == 0
    return folder


def export(demo: Path, out: Path, *extra: str, names=("thematic", "core", "survey")) -> Path:
    data = [a for n in names for a in ("--data", f"{n}={demo / (n + '.db')}")]
    assert main(["export", REPORT, *data, "-o", str(out), *extra]) == 0
    return out


@pytest.fixture(scope="module")
def figures(demo, tmp_path_factory):
    return openpyxl.load_workbook(export(demo, tmp_path_factory.mktemp("figures") / "figures.xlsx"))


@pytest.fixture(scope="module")
def with_data(demo, tmp_path_factory):
    out = tmp_path_factory.mktemp("data") / "data.xlsx"
    return openpyxl.load_workbook(export(demo, out, "--include-data", names=("thematic", "survey")))


def cell_at(workbook, ref: str):
    """The cells a chart reference such as 'Fig 4.1'!$C$6:$C$8 points at."""
    sheet, cells = ref.rsplit("!", 1)
    ws = workbook[sheet.strip("'")]
    min_col, min_row, max_col, max_row = range_boundaries(cells.replace("$", ""))
    return [ws.cell(r, c).value for r in range(min_row, max_row + 1) for c in range(min_col, max_col + 1)]


def title_lines(chart) -> list[str]:
    return ["".join(run.t for run in paragraph.r) for paragraph in chart.title.tx.rich.p]


# --- charts --------------------------------------------------------------------------------


@pytest.mark.parametrize("sheet", CHARTED)
def test_chart_title_is_the_figure_number_and_a_short_title_on_at_most_two_lines_then_the_base(figures, sheet):
    (chart,) = figures[sheet]._charts
    lines = title_lines(chart)
    *title, base = lines
    assert 1 <= len(title) <= 2 and title[0].startswith(f"Figure {sheet[4:]}: ")
    assert all(len(line) <= 56 for line in title)
    ws = figures[sheet]
    bases = {ws.cell(r, 4).value for r in range(6, ws.max_row + 1)
             if isinstance(ws.cell(r, 3).value, float) and isinstance(ws.cell(r, 4).value, int)}  # not the chart data
    unit = "respondents" if sheet in ("Fig 2.1", "Fig 3.1") else "cases"
    expected = f"{min(bases)} to {max(bases)} {unit}" if len(bases) > 1 else f"{bases.pop()} {unit}"
    intervals = "; lines: 95% intervals" if sheet == "Fig 4.9" else ""  # 4.9 has ci: true (error bars)
    assert base == f"Base: {expected}{intervals}"


@pytest.mark.parametrize("sheet", CHARTED)
def test_chart_caches_the_values_and_labels_it_points_at(figures, sheet):
    """A viewer that does not recalculate draws the bars from the cache; it must be what the cells hold."""
    (chart,) = figures[sheet]._charts
    for series in chart.series:
        cached = [point.v for point in series.val.numRef.numCache.pt]
        assert cached and cached == pytest.approx(cell_at(figures, series.val.numRef.f))
        assert series.val.numRef.numCache.formatCode == "0%"
        labels = [point.v for point in series.cat.strRef.strCache.pt]
        assert labels == cell_at(figures, series.cat.strRef.f)
        assert 0 <= min(cached) and max(cached) <= 1  # fractions, plotted unrounded


def test_long_labels_turn_the_bars_horizontal(figures):
    direction = {sheet: figures[sheet]._charts[0].barDir for sheet in CHARTED}
    assert direction["Fig 3.1"] == "bar" and direction["Fig 4.8"] == "col" and direction["Fig 4.1"] == "col"
    # 4.9 charts the four short labels (Assessment, Planning, ...), not the 130-character questions
    chart = figures["Fig 4.9"]._charts[0]
    assert [p.v for p in chart.series[0].cat.strRef.strCache.pt] == ["Assessment", "Planning", "Delivery", "Reviewing"]


def test_a_chart_sits_beside_its_table(figures):
    for sheet in CHARTED:
        ws = figures[sheet]
        anchor = ws._charts[0].anchor._from
        assert anchor.col >= 5 and anchor.row == 3, sheet  # right of the table (D), level with its header


# --- one font family, print setup ----------------------------------------------------------


def test_one_font_family_throughout(figures, with_data):
    for workbook in (figures, with_data):
        for ws in workbook.worksheets:
            for row in ws.iter_rows():
                for cell in row:
                    if cell.value is not None:
                        assert cell.font.name == FONT, (ws.title, cell.coordinate, cell.font.name)
    for sheet in CHARTED:
        chart = figures[sheet]._charts[0]
        fonts = {run.rPr.latin.typeface for p in chart.title.tx.rich.p for run in p.r}
        fonts |= {axis.txPr.p[0].pPr.defRPr.latin.typeface for axis in (chart.x_axis, chart.y_axis)}
        assert fonts == {FONT}, sheet


def test_figure_sheets_print_on_one_landscape_page_with_their_headers(figures):
    for ws in figures.worksheets[1:]:
        if ws.title.startswith("Fig") or ws.title == "A2":
            setup = ws.page_setup
            assert setup.orientation == "landscape" and ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
            assert (setup.fitToWidth, setup.fitToHeight) == (1, 1), ws.title
            assert ws.print_title_rows == "$4:$5", ws.title


def test_highlights_and_prefixes_come_from_the_figure_file(figures):
    ws = figures["Fig 5.2"]
    shaded = {c.value for row in ws.iter_rows(min_col=1, max_col=1) for c in row if c.fill.fgColor.rgb == "00C6EFCE"}
    assert len([v for v in shaded if v and v.split(":")[0] in ("Assessment", "Planning", "Delivery", "Reviewing")]) == 8
    assert "Delivery: Does the implementation and delivery of services effectively support the service user’s desistance?" not in shaded
    headings = [c.value for row in figures["Fig 4.6"].iter_rows(min_col=1, max_col=1) for c in row if c.font.b]
    assert "d) Lifestyle, including friends and associates" in headings


def test_quoted_sheet_lists_every_quoted_number_with_its_sentence(figures):
    ws = figures["Quoted in the text"]
    rows = [[c.value for c in row] for row in ws.iter_rows(min_row=5)]
    by_text = {r[1]: r for r in rows if r[1]}
    row = by_text["Of these, 268 (8.3 per cent) were recorded as being ‘subject to Integrated Offender Management’."]
    assert row[:5] == ["5.3", row[1], 268, 3247, pytest.approx(268 / 3247)]
    assert ws.cell(5 + rows.index(row), 5).number_format == "0.0%"  # printed to one decimal, as the report does
    assert by_text["39 out of 43 areas replied"][2:4] == [39, 43]
    assert by_text["We examined the quality of case supervision on 3,308 cases in total."][2:5] == [3308, "-", "-"]


# --- data sheets ---------------------------------------------------------------------------


def test_data_sheets_are_fitted_filtered_frozen_and_print_legibly(with_data):
    for name in ("Data thematic", "Codes thematic", "Data survey", "Codes survey"):
        ws = with_data[name]
        assert ws.freeze_panes == "C2" and ws.print_title_rows == "$1:$1" and ws.print_title_cols == "$A:$A"
        assert ws.auto_filter.ref == f"A1:{openpyxl.utils.get_column_letter(ws.max_column)}{ws.max_row}"
        setup = ws.page_setup
        assert setup.orientation == "landscape" and setup.fitToHeight == 0 and setup.fitToWidth >= 1
        for column in range(1, ws.max_column + 1):
            letter = openpyxl.utils.get_column_letter(column)
            longest = max(len(str(ws.cell(r, column).value or "")) for r in range(1, ws.max_row + 1))
            assert min(longest, 48) <= ws.column_dimensions[letter].width, (name, letter)  # nothing cut off
    assert with_data["Data thematic"].max_row == 61 and with_data["Data survey"].max_row == 51


def test_data_sheets_show_site_labels_markers_and_option_columns(with_data):
    labels = [[c.value for c in row] for row in with_data["Data thematic"].iter_rows()]
    codes = [[c.value for c in row] for row in with_data["Codes thematic"].iter_rows()]
    head, code_head = labels[0], codes[0]
    assert {r[1] for r in labels[1:]} == {"Waltham Forest", "Sheffield", "Stockport", "Colwyn Bay", "Cumbria", "Surrey", "Warwickshire"}
    assert "colwyn_bay" in {r[1] for r in codes[1:]}
    non_statutory = next(r for r in labels[1:] if r[head.index("sentence_type")] == "Non-statutory supervision")
    assert non_statutory[head.index("index_offence")] == "(does not apply)"
    assert non_statutory[head.index("factors")] == "(does not apply)"
    # the demo's gaps: one statutory case without ethnicity (Annex 2's 47 of 58)
    assert sum(1 for r in labels[1:] if r[head.index("ethnicity")] == "(unanswered)") == 1
    # 0/1 columns per option beside each multi-choice answer, on the codes sheet
    for row in codes[1:]:
        ticked = row[code_head.index("factors")]
        for code in ("attitudes", "drugs", "ete"):
            flag = row[code_head.index(f"factors___{code}")]
            if ticked in ("(does not apply)", "(unanswered)"):
                assert flag == ticked
            else:
                assert flag == (1 if code in ticked.split(";") else 0)
    statuses = {r[head.index("status")] for r in labels[1:]}
    assert statuses == {"Complete", "In progress", "Approved", "Returned"}  # the demo's review under way


def test_status_complete_leaves_unfinished_cases_out_of_the_data_sheets(demo, tmp_path):
    workbook = openpyxl.load_workbook(export(demo, tmp_path / "complete.xlsx", "--include-data", "--status", "complete",
                                             names=("thematic",)))
    rows = list(workbook["Data thematic"].iter_rows(values_only=True))
    assert len(rows) == 1 + 53 and {r[3] for r in rows[1:]} == {"Complete"}
    contents = [c.value for row in workbook["Contents"].iter_rows() for c in row if isinstance(c.value, str)]
    assert any("60 cases (3 in progress, 53 complete, 3 approved, 1 returned); counted: the 53 complete" in t for t in contents)


def test_retired_deleted_and_empty_answers(tmp_path, thematic_rubric):
    db = tmp_path / "t.db"
    answers = {"sentence_type": "community", "lead_agency": "crc", "assessment_completed": "yes", "factors": ["drugs"],
               "services_drugs": "yes"}
    with Store.open(db) as store:
        store.insert_cases([NewCase(case_ref=ref, site="surrey", rubric=thematic_rubric, answers=dict(answers))
                            for ref in ("A1", "A2", "A3")], who="t", reason="t")
        cases = {c.case_ref: c.uuid for c in store.list_cases()}
        # A1: assessment not completed after all: factors and services are retired, never shown as current
        store.set_answer(cases["A1"], "assessment_completed", "no")
        # A2: deleted (schema 2's soft delete: deleted_at set, answers no longer counted)
        if not has_deleted_column(store):
            store.db.execute("ALTER TABLE cases ADD COLUMN deleted_at TEXT")
        store.db.execute("UPDATE cases SET deleted_at = '2019-10-01T00:00:00Z' WHERE uuid = ?", [cases["A2"]])
        store.db.execute("UPDATE answer_data SET counted = 0 WHERE case_id = (SELECT id FROM cases WHERE uuid = ?)", [cases["A2"]])
        # A3: an explicit empty selection, "None of these", stored as JSON [] (as the case service stores it)
        store.db.execute("UPDATE answer_data SET value = '[]' WHERE case_id = (SELECT id FROM cases WHERE uuid = ?) AND question_key = (SELECT id FROM question_keys WHERE question_id = 'factors')", [cases["A3"]])
        store.db.execute("DELETE FROM answer_data WHERE case_id = (SELECT id FROM cases WHERE uuid = ?) AND question_key = (SELECT id FROM question_keys WHERE question_id = 'services_drugs')", [cases["A3"]])
    out = tmp_path / "t.xlsx"
    assert main(["export", REPORT, "--data", f"thematic={db}", "-o", str(out), "--include-data"]) == 0
    workbook = openpyxl.load_workbook(out)
    labels = {r[0]: r for r in workbook["Data thematic"].iter_rows(values_only=True)}
    codes = {r[0]: r for r in workbook["Codes thematic"].iter_rows(values_only=True)}
    head, code_head = labels["case_ref"], codes["case_ref"]
    assert set(labels) == {"case_ref", "A1", "A3"}  # the deleted case never shows
    assert labels["A1"][head.index("factors")] == "(does not apply)"
    assert labels["A1"][head.index("services_drugs")] == "(does not apply)"
    assert labels["A3"][head.index("factors")] == "None of these"
    assert codes["A3"][code_head.index("factors")] == "(none)"
    assert codes["A3"][code_head.index("factors___drugs")] == 0
    contents = [c.value for row in workbook["Contents"].iter_rows() for c in row if isinstance(c.value, str)]
    assert any(t.endswith("2 cases (2 in progress); counted: all 2; 1 deleted case left out") for t in contents)


# --- percentages ---------------------------------------------------------------------------


def shown_as_percent(fraction: float) -> int:
    """What a spreadsheet shows for a number formatted 0%: the value to 15 significant digits, times
    100, rounded half away from zero (Excel's and LibreOffice's display rounding)."""
    return int((Decimal(f"{fraction:.15g}") * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


@pytest.mark.parametrize("bases", [range(1, 401), [1346, 1385, 1658, 2186, 2401, 2439, 2962, 2976, 3247]])
def test_the_unrounded_fraction_formatted_0_percent_shows_the_half_up_whole_number(bases):
    for base in bases:
        for count in range(base + 1):
            assert shown_as_percent(count / base) == percent(count, base), (count, base)
