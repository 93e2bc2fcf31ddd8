"""Figure tables as an Excel workbook (openpyxl).

Sheets: Contents; one per figure (title, table with counts as numbers and
percentages as numbers in a % format, each column's base, a note on what the
base excludes, a native bar chart beside the report's charts); Codebook; per
dataset a data sheet of labels and one of codes, one row per case; evidence
notes only when asked for. Every text cell goes through
:func:`audit.writers.safety.put`, so nothing can become a formula.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference, Series
from openpyxl.chart.label import DataLabelList
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.hyperlink import Hyperlink

from audit.figures import Report
from audit.rubric import Rubric
from audit.store import Store, decode
from audit.tabulate import BASE_NOTE, FigureTable, ReportTables
from audit.values import display
from audit.writers import atomic_output
from audit.writers.safety import put

PERCENT_FORMAT = "0%"
COUNT_FORMAT = "#,##0"
BOLD = Font(bold=True)
HEADING = Font(bold=True, size=13)
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
WRAP = Alignment(wrap_text=True, vertical="top")
CENTRE = Alignment(horizontal="center", vertical="center", wrap_text=True)
TOP = Alignment(vertical="top")
RIGHT = Alignment(horizontal="right", vertical="center", wrap_text=True)
HEADER_ROW = 4  # column labels; the parts (Number, Percentage, Base) are on the row below


def _fit_rows(ws, column: str, width: float) -> None:
    """Give rows with wrapped text in ``column`` the height their text needs (viewers do not always)."""
    for cell in ws[column]:
        if isinstance(cell.value, str) and cell.alignment.wrap_text:
            lines = sum(max(1, -(-len(part) // int(width * 1.05))) for part in cell.value.split("\n"))
            if lines > 1:
                ws.row_dimensions[cell.row].height = 15 * lines


def _printable(ws, landscape: bool = True) -> None:
    """Print on pages as wide as the sheet's used columns."""
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0


def _sheet_name(wanted: str, taken: set[str]) -> str:
    name = "".join("_" if ch in "[]:*?/\\" else ch for ch in wanted)[:31]
    stem, number = name, 2
    while name.casefold() in taken:
        suffix = f" ({number})"
        name, number = stem[: 31 - len(suffix)] + suffix, number + 1
    taken.add(name.casefold())
    return name


# --- figure sheets -------------------------------------------------------------------------


def _figure_sheet(wb: Workbook, table: FigureTable, name: str) -> None:
    ws = wb.create_sheet(name)
    parts = table.parts
    width = len(parts)
    put(ws, 1, 1, table.heading, font=HEADING)
    if table.note:
        put(ws, 2, 1, table.note, font=Font(italic=True, size=10))
    put(ws, HEADER_ROW, 1, "", fill=HEADER_FILL)
    put(ws, HEADER_ROW + 1, 1, "", fill=HEADER_FILL)
    for index, label in enumerate(table.columns):
        first = 2 + index * width
        put(ws, HEADER_ROW, first, label, font=BOLD, alignment=CENTRE, fill=HEADER_FILL)
        for offset, part in enumerate(parts):
            if offset:
                put(ws, HEADER_ROW, first + offset, None, fill=HEADER_FILL)
            put(ws, HEADER_ROW + 1, first + offset, table.header(part), font=BOLD, alignment=RIGHT, fill=HEADER_FILL)
        if width > 1:
            ws.merge_cells(start_row=HEADER_ROW, start_column=first, end_row=HEADER_ROW, end_column=first + width - 1)
    ws.freeze_panes = ws.cell(row=HEADER_ROW + 2, column=2)

    row_number = HEADER_ROW + 2
    section = ""
    chart_rows: list[int] = []
    for row in table.rows:
        if row.section and row.section != section:
            section = row.section
            put(ws, row_number, 1, section, font=BOLD, alignment=WRAP)
            row_number += 1
        put(ws, row_number, 1, row.label, font=BOLD if row.is_total else None, alignment=WRAP)
        column = 2
        for cell in row.cells:
            for part in parts:
                value = cell.part(part)
                if value is not None and part == "percent":
                    put(ws, row_number, column, value / 100, number_format=PERCENT_FORMAT, alignment=TOP)
                elif value is not None:
                    put(ws, row_number, column, value, number_format=COUNT_FORMAT, alignment=TOP)
                column += 1
        if not row.is_total and row.in_base:
            chart_rows.append(row_number)
        row_number += 1

    row_number += 1
    put(ws, row_number, 1, "Base", font=BOLD)
    for label, cases in zip(table.columns, table.column_notes):
        row_number += 1
        text = f"{label}: {cases}" if label else cases[:1].upper() + cases[1:]
        put(ws, row_number, 1, f"{text}. Each row's base is in its {table.header('base')} column.", alignment=WRAP)
    row_number += 1
    put(ws, row_number, 1, BASE_NOTE, alignment=WRAP)

    ws.column_dimensions["A"].width = 70
    for index in range(2, 2 + width * len(table.columns)):
        ws.column_dimensions[get_column_letter(index)].width = 13
    _fit_rows(ws, "A", 70)
    _printable(ws)
    if table.is_chart and chart_rows:
        _chart(ws, table, chart_rows, anchor_column=3 + width * len(table.columns))


def _chart(ws, table: FigureTable, rows: list[int], anchor_column: int) -> None:
    """A native bar chart of the percentages (or counts, if no percentage is shown)."""
    parts = table.parts
    part = "percent" if "percent" in parts else parts[0]
    first, last = min(rows), max(rows)
    chart = BarChart()
    long_labels = max(len(row.label) for row in table.rows) > 24
    chart.type = "bar" if long_labels else "col"
    chart.grouping = "clustered"
    chart.title = table.heading
    chart.y_axis.title = table.header(part)
    if part == "percent":
        chart.y_axis.number_format = PERCENT_FORMAT
        chart.y_axis.scaling.min = 0
        chart.y_axis.scaling.max = 1
    chart.x_axis.delete = False
    chart.y_axis.delete = False
    if chart.type == "bar":  # horizontal bars read top to bottom in the table's order
        chart.x_axis.scaling.orientation = "maxMin"
    for index, label in enumerate(table.columns):
        column = 2 + index * len(parts) + parts.index(part)
        values = Reference(ws, min_col=column, min_row=first, max_row=last)
        chart.series.append(Series(values, title=label or table.header(part)))
    chart.set_categories(Reference(ws, min_col=1, min_row=first, max_row=last))
    chart.dataLabels = DataLabelList(showVal=True, showCatName=False, showSerName=False, showLegendKey=False,
                                     showPercent=False)
    if len(table.columns) == 1:
        chart.legend = None
    chart.width = 30 if long_labels else 16
    chart.height = 12 if long_labels else 9
    ws.add_chart(chart, f"{get_column_letter(anchor_column)}{HEADER_ROW}")


# --- contents, codebook, data --------------------------------------------------------------


def _wide(ws, row: int, text: str, **style) -> None:
    """A line of text across the contents table's four columns, wrapped."""
    put(ws, row, 1, text, alignment=WRAP, **style)
    ws.merge_cells(start_row=row, start_column=1, end_row=row, end_column=4)
    lines = -(-len(text) // 120)
    if lines > 1:
        ws.row_dimensions[row].height = 15 * lines


def _contents(ws, result: ReportTables, sheets: dict[str, str], stores: dict[str, Store], report: Report | None) -> None:
    put(ws, 1, 1, report.title if report else "Figure tables", font=HEADING)
    put(ws, 2, 1, f"Written by audit on {dt.date.today().isoformat()}" + (f" from {Path(report.path).name}" if report and report.path else ""))
    row = 4
    for column, header in enumerate(("Figure", "Title", "Sheet", "Chart"), start=1):
        put(ws, row, column, header, font=BOLD, fill=HEADER_FILL)
    for table in result.tables:
        row += 1
        put(ws, row, 1, table.figure, alignment=WRAP)
        put(ws, row, 2, table.heading, alignment=WRAP)
        link = put(ws, row, 3, sheets[table.figure], font=Font(color="0563C1", underline="single"), alignment=WRAP)
        link.hyperlink = Hyperlink(ref=link.coordinate, location=f"'{sheets[table.figure]}'!A1")
        put(ws, row, 4, "bar chart" if table.is_chart else "", alignment=WRAP)
    row += 2
    if result.warnings:
        put(ws, row, 1, "Not included", font=BOLD)
        for warning in result.warnings:
            row += 1
            _wide(ws, row, warning)
        row += 2
    put(ws, row, 1, "Which cases count", font=BOLD)
    for name, selection in result.selections.items():
        row += 1
        dataset = report.datasets.get(name) if report else None
        label = f" ({dataset.label}, rubric {dataset.rubric_id})" if dataset else ""
        _wide(ws, row, f"{name}{label}, {selection.path}: {selection.summary()}")
    for warning in result.status_warnings:
        row += 1
        _wide(ws, row, f"Warning: {warning}", font=Font(bold=True, color="9C0006"))
    row += 2
    _wide(ws, row, BASE_NOTE)
    ws.column_dimensions["A"].width = 12
    ws.column_dimensions["B"].width = 90
    ws.column_dimensions["C"].width = 12
    ws.column_dimensions["D"].width = 10
    ws.freeze_panes = "A5"
    _fit_rows(ws, "B", 90)
    _printable(ws)


def _rubrics(store: Store) -> list[Rubric]:
    """The store's rubrics that its cases use, newest first."""
    shas = [r[0] for r in store.db.execute(
        "SELECT r.sha256 FROM rubrics r WHERE r.sha256 IN (SELECT DISTINCT rubric_sha256 FROM cases) ORDER BY r.added_at DESC")]
    return [store.rubric(sha) for sha in shas]


CODEBOOK_HEADERS = ("Dataset", "Rubric", "Version", "Section", "Question", "Question text", "Type",
                    "Applies if", "Option code", "Option label", "Counts in base")


def _codebook(ws, rubrics: dict[str, list[Rubric]]) -> None:
    for column, header in enumerate(CODEBOOK_HEADERS, start=1):
        put(ws, 1, column, header, font=BOLD, fill=HEADER_FILL)
    row = 1
    for name, found in rubrics.items():
        for rubric in found:
            for question in rubric.questions:
                section = rubric.section_of(question.id)
                rules = [r for r in (section.applies_if, question.applies_if) if r]
                applies = " and ".join(f"({r})" for r in rules) if len(rules) > 1 else (rules[0] if rules else "")
                options = list(question.options.items()) or [(None, None)]
                for code, option in options:
                    row += 1
                    values = [name, rubric.id, rubric.version, section.title, question.id, question.text, question.type,
                              applies, code, option.label if option else None,
                              ("yes" if option.counts else "no (never in a base)") if option else None]
                    for column, value in enumerate(values, start=1):
                        put(ws, row, column, value)
    for column, width in zip("ABCDEFGHIJK", (10, 18, 8, 24, 24, 70, 10, 36, 14, 40, 18)):
        ws.column_dimensions[column].width = width
    ws.freeze_panes = "A2"
    _printable(ws)
    ws.auto_filter.ref = f"A1:K{max(row, 1)}"


def _data_sheets(wb: Workbook, name: str, store: Store, rubrics: list[Rubric], include_notes: bool, taken: set[str]) -> None:
    """One row per case: a sheet of option labels and one of codes (and notes if asked)."""
    by_sha = {r.sha256: r for r in rubrics}
    question_ids: list[str] = []
    for rubric in rubrics:
        question_ids += [q for q in rubric.question_ids if q not in question_ids]
    position = {qid: index for index, qid in enumerate(question_ids)}
    fixed = ("case_ref", "site", "inspector", "status", "rubric_version")
    cases = store.db.execute(
        "SELECT uuid, case_ref, site, inspector, status, rubric_version, rubric_sha256 FROM cases ORDER BY site, case_ref, created_at"
    ).fetchall()
    answers: dict[str, dict[str, object]] = {}
    for case_uuid, qid, value in store.db.execute(
        "SELECT case_uuid, question_id, value FROM answers WHERE applies = 1 AND state = 'current' AND value IS NOT NULL"
    ):
        answers.setdefault(case_uuid, {})[qid] = decode(value)

    labels_ws = wb.create_sheet(_sheet_name(f"Data {name}", taken))
    codes_ws = wb.create_sheet(_sheet_name(f"Codes {name}", taken))
    for ws in (labels_ws, codes_ws):
        for column, header in enumerate((*fixed, *question_ids), start=1):
            put(ws, 1, column, header, font=BOLD, fill=HEADER_FILL)
        ws.freeze_panes = "B2"
    for row, (case_uuid, *values) in enumerate(cases, start=2):
        rubric = by_sha.get(values[-1])
        for column, value in enumerate(values[:-1], start=1):
            put(labels_ws, row, column, value)
            put(codes_ws, row, column, value)
        for qid, value in answers.get(case_uuid, {}).items():
            if qid not in position:
                continue
            column = len(fixed) + 1 + position[qid]
            question = rubric.question(qid) if rubric and rubric.has_question(qid) else None
            # option labels for choices; a number stays a number (and text is text)
            shown = display(question, value) if question is not None and question.is_choice else value
            put(labels_ws, row, column, ";".join(value) if isinstance(shown, list) else shown)
            put(codes_ws, row, column, ";".join(value) if isinstance(value, list) else value)
    if include_notes:
        ws = wb.create_sheet(_sheet_name(f"Notes {name}", taken))
        for column, header in enumerate(("case_ref", "site", "question", "note"), start=1):
            put(ws, 1, column, header, font=BOLD, fill=HEADER_FILL)
        rows = store.db.execute(
            "SELECT c.case_ref, c.site, a.question_id, a.note FROM answers a JOIN cases c ON c.uuid = a.case_uuid "
            "WHERE a.note IS NOT NULL AND a.state = 'current' ORDER BY c.site, c.case_ref, a.question_id"
        )
        for row, values in enumerate(rows, start=2):
            for column, value in enumerate(values, start=1):
                put(ws, row, column, value, alignment=WRAP if column == 4 else None)
        ws.column_dimensions["D"].width = 80
        ws.freeze_panes = "A2"


def write_xlsx(path: str | Path, result: ReportTables, stores: dict[str, Store] | None = None, *,
               include_data: bool = False, include_notes: bool = False) -> None:
    """Write the workbook atomically (mode 0600)."""
    stores = stores or {}
    report = result.report
    wb = Workbook()
    contents = wb.active
    contents.title = "Contents"
    taken = {"contents"}
    sheets = {}
    for table in result.tables:
        sheets[table.figure] = _sheet_name(table.sheet_name or table.figure, taken)
        _figure_sheet(wb, table, sheets[table.figure])
    rubrics: dict[str, list[Rubric]] = {}
    for name, store in stores.items():
        found = _rubrics(store)
        if not found and report and name in report.datasets:
            found = [report.datasets[name].rubric]
        rubrics[name] = found
    _codebook(wb.create_sheet(_sheet_name("Codebook", taken)), rubrics)
    for name, store in stores.items() if include_data or include_notes else ():
        _data_sheets(wb, name, store, rubrics[name], include_notes, taken)
    _contents(contents, result, sheets, stores, report)
    with atomic_output(path) as temp:
        wb.save(temp)
