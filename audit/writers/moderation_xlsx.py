"""The moderation report as a workbook: agreement, disagreements, applicability disagreements, method.

The Agreement sheet holds the same numbers the terminal and the UI's figures
screen show (:func:`audit.moderation_report.row_text`), unrounded, formatted
to display as they do there. Every text is a text cell (never a formula).
"""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill

from audit.moderation_report import Disagreement, ItemAgreement, ModerationReport, summary_lines
from audit.outfile import replacing
from audit.writers.safety import put

FONT = "Calibri"
BOLD = Font(name=FONT, size=11, bold=True)
PLAIN = Font(name=FONT, size=11)
TITLE = Font(name=FONT, size=14, bold=True)
ITALIC = Font(name=FONT, size=10, italic=True)
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
WRAP = Alignment(wrap_text=True, vertical="top")
TOP = Alignment(vertical="top")

AGREEMENT_HEADERS = [
    ("Question", 52), ("Item", 24), ("Pairs", 7), ("Agreed", 8), ("% agree", 9), ("CI low", 8), ("CI high", 8),
    ("Kappa", 8), ("SE", 7), ("Kappa CI low", 9), ("Kappa CI high", 9), ("AC1", 7), ("Alpha", 7),
    ("Applicability disagreements", 14), ("Missing answers", 9), ("Note", 40),
]
METHOD = [
    "Pairs: cases where both the first marker and a second marker answered the question (the original against "
    "each moderation copy). % agree: the share of pairs with the same answer, with its Wilson 95% interval.",
    "Kappa: Cohen's kappa, agreement beyond what the two markers' own answer shares would give by chance, with "
    "its large-sample standard error (Fleiss, Cohen and Everitt 1969) and 95% interval. Undefined when every "
    "answer was the same.",
    "AC1: Gwet's first-order agreement coefficient, over every marker's answer per case. It stays stable when "
    "nearly every answer is the same, where kappa collapses (the kappa paradox).",
    "Alpha: Krippendorff's alpha (nominal), shown where more than two inspectors marked a case or an answer is "
    "missing; it uses every answer given.",
    "A several-choice question is compared option by option (ticked or not). The overall row pools the choice "
    "questions; numbers and dates are compared per question only; free text is not compared. The overall "
    "interval treats each judgement as independent, which judgements about one case are not: read it as a guide.",
    "Applicability disagreements: a question that applied to one marker and not the other (by rule, or answered "
    "'Not applicable'). They are listed on their own sheet and are not in the pairs.",
    "Moderation copies never count in the figures.",
]


def _fit_height(ws, row: int, texts: list[tuple[str, float]]) -> None:
    """Give a row the height its longest wrapped text needs ((text, column width) pairs): spreadsheet
    programs do not grow a row for wrapped text written by a library."""
    lines = max([-(-len(text or "") // max(1, int(width * 1.1))) for text, width in texts] + [1])
    ws.row_dimensions[row].height = 15 * lines


def _header(ws, row: int, headers: list[tuple[str, float]]) -> None:
    for column, (text, width) in enumerate(headers, 1):
        put(ws, row, column, text, font=BOLD, fill=HEADER_FILL, alignment=WRAP)
        ws.column_dimensions[ws.cell(row=row, column=column).column_letter].width = width


def _agreement_row(ws, row: int, item: ItemAgreement) -> None:
    question, _, option = item.label.partition(" — ")
    put(ws, row, 1, question if item.item != "overall" else item.label, font=BOLD if item.item == "overall" else PLAIN,
        alignment=WRAP)
    put(ws, row, 2, option, font=PLAIN, alignment=WRAP)
    numbers = [
        (item.pairs, "#,##0"), (item.agreed, "#,##0"),
        (item.percent.value if item.percent else None, "0%"),
        (item.percent.ci[0] if item.percent and item.percent.ci else None, "0%"),
        (item.percent.ci[1] if item.percent and item.percent.ci else None, "0%"),
        (item.kappa.value if item.kappa else None, "0.00"), (item.kappa.se if item.kappa else None, "0.00"),
        (item.kappa.ci[0] if item.kappa and item.kappa.ci else None, "0.00"),
        (item.kappa.ci[1] if item.kappa and item.kappa.ci else None, "0.00"),
        (item.ac1.value if item.ac1 else None, "0.00"),
        (item.alpha if item.alpha_reason else None, "0.00"),
        (item.applicability, "#,##0"), (item.missing, "#,##0"),
    ]
    for column, (value, number_format) in enumerate(numbers, 3):
        if value is None:
            put(ws, row, column, "—" if column < 15 and not (column == 13 and not item.alpha_reason) else "", font=PLAIN,
                alignment=TOP)
            continue
        put(ws, row, column, value, font=PLAIN, number_format=number_format, alignment=TOP)
    put(ws, row, 16, item.caution, font=ITALIC, alignment=WRAP)
    _fit_height(ws, row, [(question if item.item != "overall" else item.label, AGREEMENT_HEADERS[0][1]),
                          (option, AGREEMENT_HEADERS[1][1]), (item.caution, AGREEMENT_HEADERS[15][1] * 1.1)])


def _disagreements(ws, title: str, rows: list[Disagreement], include_notes: bool) -> None:
    put(ws, 1, 1, title, font=TITLE)
    headers = [("Site", 16), ("Case", 10), ("Question id", 26), ("Question", 50), ("First marker", 12),
               ("First answer", 24)]
    if include_notes:
        headers.append(("First marker's note", 40))
    headers += [("Second marker", 12), ("Second answer", 24)]
    if include_notes:
        headers.append(("Second marker's note", 40))
    _header(ws, 3, headers)
    ws.row_dimensions[3].height = 30
    for number, d in enumerate(rows, 4):
        values = [d.site, d.case_ref, d.question_id, d.question, d.first_inspector, d.first_answer]
        if include_notes:
            values.append(d.first_note)
        values += [d.second_inspector, d.second_answer]
        if include_notes:
            values.append(d.second_note)
        for column, value in enumerate(values, 1):
            put(ws, number, column, value, font=PLAIN, alignment=WRAP)
        _fit_height(ws, number, [(str(value), width) for value, (_, width) in zip(values, headers)])
    if not rows:
        put(ws, 4, 1, "None.", font=ITALIC)
    ws.freeze_panes = "A4"
    if rows:
        ws.auto_filter.ref = f"A3:{ws.cell(row=3, column=len(headers)).column_letter}{len(rows) + 3}"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = "3:3"


def write_moderation_xlsx(path: str | Path, report: ModerationReport, *, include_notes: bool = True) -> None:
    """Write the report whole, or not at all (mode 0600)."""
    wb = Workbook()
    ws = wb.active
    ws.title = "Agreement"
    put(ws, 1, 1, "Moderation: agreement between first and second markings", font=TITLE)
    put(ws, 2, 1, f"From {Path(report.path).name}", font=ITALIC)
    row = 3
    for line in summary_lines(report):
        put(ws, row, 1, line, font=PLAIN)
        row += 1
    row += 1
    _header(ws, row, AGREEMENT_HEADERS)
    ws.row_dimensions[row].height = 30
    header_row = row
    for item in report.items:
        row += 1
        _agreement_row(ws, row, item)
    if report.overall is not None:
        row += 1
        _agreement_row(ws, row, report.overall)
    ws.freeze_panes = ws.cell(row=header_row + 1, column=3)
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = f"{header_row}:{header_row}"

    _disagreements(wb.create_sheet("Disagreements"), "Disagreements: both answered, differently", report.disagreements,
                   include_notes)
    _disagreements(wb.create_sheet("Applicability"), "Applicability disagreements: the question applied to one marker only",
                   report.applicability, include_notes)
    about = wb.create_sheet("Method")
    put(about, 1, 1, "What each column means, and when to trust it", font=TITLE)
    about.column_dimensions["A"].width = 110
    for number, text in enumerate(METHOD, 3):
        put(about, number, 1, text, font=PLAIN, alignment=WRAP)
        about.row_dimensions[number].height = 15 * (1 + len(text) // 120)
    with replacing(path) as temp:
        wb.save(temp)
