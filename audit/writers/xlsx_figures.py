"""The workbook's figure sheets, the numbers quoted in the text, and the Contents sheet.

A figure sheet reads as the report prints the figure: its heading, the
question or note under it, the table (counts as numbers, percentages as the
unrounded fraction formatted ``0%``, so they show the half-up whole number and
a chart plots the exact value), "-" where the report prints "-", the report's
shading, then the base of each column in words, when each question applies,
which cases were counted, and a chart beside the report's charts.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from openpyxl.styles import Alignment

from audit.tabulate import BASE_NOTE, TEST_SHORT, CaseSelection, FigureTable, ReportTables, all_tables, confidence_words
from audit.writers.charts import ChartData, ChartSeries, bar_chart
from audit.writers.sheets import (
    BOLD, CENTRE, COUNT_FORMAT, HEADER_FILL, HEADER_RIGHT, HEADING, HIGHLIGHT_FILL, ITALIC, PERCENT_FORMAT, RIGHT, RULE,
    SMALL, TOP, WARNING, WRAP, Grid, printable,
)

HEADER_ROW = 4  # column labels; the parts (Number, Percentage, Base) are on the row below
LABEL_WIDTH = 62
NUMBER_WIDTH = 12
DASH = "-"  # where the report prints no percentage
INDENTED = Alignment(wrap_text=True, vertical="top", indent=1)
P_VALUE_FORMAT = '[<0.0001]"<0.0001";0.0000'
POINTS_FORMAT = '+0.0;-0.0;0.0'
COMPARE_HEADERS = ("Difference (points)", "p-value", "Test")  # then the significance marker's header


class Layout:
    """Where a figure's numbers go: per column its parts (then its interval, with statistics), then the
    comparison's columns (with ``compare``)."""

    def __init__(self, table: FigureTable):
        self.parts = table.parts
        self.ci_parts = ("ci_low", "ci_high") if table.ci else ()
        self.width = len(self.parts) + len(self.ci_parts)  # columns under each figure column
        self.columns = len(table.columns)
        self.compare_first = 2 + self.width * self.columns
        self.compare_headers = (*COMPARE_HEADERS, table.significance_header) if table.compare is not None else ()
        self.last = self.compare_first + len(self.compare_headers) - 1

    def first(self, index: int) -> int:
        """The sheet column of figure column ``index``'s first part."""
        return 2 + index * self.width

    def headers(self, table: FigureTable) -> list[str]:
        interval = [f"{table.ci_header} low", f"{table.ci_header} high"] if self.ci_parts else []
        return [table.header(p) for p in self.parts] + interval


def _note(grid: Grid, row: int, text: str, width: float, last_column: int = 1, **style) -> int:
    """A line of text under a table, across its columns, wrapped."""
    grid.put(row, 1, text, alignment=WRAP, **style)
    grid.merge(row, 1, last_column)
    grid.wrap_height(row, text, width, style["font"].size if style.get("font") else 11)
    return row + 1


def _header_group(grid: Grid, first: int, label: str, headers: list[str] | tuple[str, ...], labelled: bool) -> None:
    if labelled:
        grid.put(HEADER_ROW, first, label, font=BOLD, alignment=CENTRE, fill=HEADER_FILL)
    for offset, header in enumerate(headers):
        if offset and labelled:
            grid.put(HEADER_ROW, first + offset, None, fill=HEADER_FILL)
        grid.put(HEADER_ROW + 1, first + offset, header, font=BOLD, alignment=HEADER_RIGHT, fill=HEADER_FILL, border=RULE)
    if labelled:
        grid.merge(HEADER_ROW, first, first + len(headers) - 1)


def _header(grid: Grid, table: FigureTable, layout: Layout) -> None:
    labelled = any(table.columns)
    if labelled:
        grid.put(HEADER_ROW, 1, "", fill=HEADER_FILL)
    else:  # a one-column figure has no column label: no empty band above its headers
        grid.heights[HEADER_ROW] = 6
    grid.put(HEADER_ROW + 1, 1, "", fill=HEADER_FILL, border=RULE)
    headers = layout.headers(table)
    for index, label in enumerate(table.columns):
        _header_group(grid, layout.first(index), label, headers, labelled)
    compared = ""
    if table.compared is not None:
        compared = f"{table.compared[1]} compared with {table.compared[0]}"
        _header_group(grid, layout.compare_first, compared, layout.compare_headers, True)
    longest = max([*table.columns, compared], key=len)
    if labelled and longest:
        grid.wrap_height(HEADER_ROW, longest, NUMBER_WIDTH * min(layout.width, len(layout.compare_headers) or layout.width))
    grid.wrap_height(HEADER_ROW + 1, max([*headers, *layout.compare_headers], key=len), NUMBER_WIDTH)


def _statistics(grid: Grid, r: int, table: FigureTable, layout: Layout, row, fill) -> None:
    """The interval beside each percentage, and the comparison's difference, p-value, test and marker."""
    style = {"fill": fill} if fill else {}
    if layout.ci_parts:
        for index, cell in enumerate(row.cells):
            column = layout.first(index) + len(layout.parts)
            for offset in range(2):
                if row.is_total:
                    grid.put(r, column + offset, None, **style)
                elif cell.ci is None:
                    grid.put(r, column + offset, DASH, alignment=RIGHT, **style)
                else:
                    grid.put(r, column + offset, cell.ci[offset], number_format=PERCENT_FORMAT, alignment=TOP, **style)
    if table.compare is None:
        return
    test = row.comparison
    for offset in range(len(layout.compare_headers)):
        column = layout.compare_first + offset
        if row.is_total:
            grid.put(r, column, None, **style)
        elif test is None or test.p_value is None:
            grid.put(r, column, DASH, alignment=RIGHT, **style)
        elif offset == 0:
            grid.put(r, column, test.difference, number_format=POINTS_FORMAT, alignment=TOP, **style)
        elif offset == 1:
            grid.put(r, column, test.p_value, number_format=P_VALUE_FORMAT, alignment=TOP, **style)
        elif offset == 2:
            grid.put(r, column, TEST_SHORT[test.test], alignment=RIGHT, **style)
        else:
            grid.put(r, column, "Yes" if test.significant else "No", alignment=RIGHT,
                     **({"font": BOLD} if test.significant else {}), **style)


def _values(grid: Grid, r: int, table: FigureTable, row, fill, layout: Layout) -> None:
    for index, cell in enumerate(row.cells):
        column = layout.first(index)
        for part in table.parts:
            style = {"fill": fill} if fill else {}
            if row.is_total and part != "count":
                grid.put(r, column, None, **style)
            elif part == "percent" and cell.fraction is not None:
                grid.put(r, column, cell.fraction, number_format=PERCENT_FORMAT, alignment=TOP, **style)
            elif part in ("percent", "base") and cell.part(part) is None:
                grid.put(r, column, DASH, alignment=RIGHT, **style)
            else:
                grid.put(r, column, cell.part(part), number_format=COUNT_FORMAT, alignment=TOP,
                         **({"font": BOLD} if row.is_total else {}), **style)
            column += 1
    _statistics(grid, r, table, layout, row, fill)


def figure_sheet(table: FigureTable, sheet: str, selections: dict[str, CaseSelection]) -> tuple[Grid, object | None]:
    """The figure's sheet as a grid, and its chart (or None)."""
    grid = Grid()
    layout = Layout(table)
    last_column = layout.last
    grid.widths[1] = LABEL_WIDTH
    for column in range(2, last_column + 1):
        grid.widths[column] = NUMBER_WIDTH
    grid.put(1, 1, table.heading, font=HEADING)
    if table.note:
        grid.put(2, 1, table.note, font=ITALIC)
    _header(grid, table, layout)

    r = HEADER_ROW + 2
    section = ""
    chart_rows: list[tuple[int, object]] = []
    for row in table.rows:
        if row.section and row.section != section:
            section = row.section
            if section != table.title:  # a sub-table titled as the figure is not headed twice (5.1)
                heading = table.section_heading(section)
                grid.put(r, 1, heading, font=BOLD, alignment=WRAP)
                grid.wrap_height(r, heading, LABEL_WIDTH)
                r += 1
        fill = HIGHLIGHT_FILL if row.highlight else None
        grid.put(r, 1, row.label, font=BOLD if row.is_total else None, alignment=WRAP, **({"fill": fill} if fill else {}))
        grid.wrap_height(r, row.label, LABEL_WIDTH)
        _values(grid, r, table, row, fill, layout)
        if not row.is_total and row.in_base:
            chart_rows.append((r, row))
        r += 1

    r += 1
    # a merged note's width in characters; wider sheets print smaller, and wrap sooner than the width suggests
    width = (LABEL_WIDTH + NUMBER_WIDTH * (last_column - 1)) * (1.0 if last_column <= 7 else 0.85)
    if table.highlight_note:
        grid.put(r, 1, table.highlight_note, alignment=WRAP, fill=HIGHLIGHT_FILL)
        grid.merge(r, 1, last_column)
        grid.wrap_height(r, table.highlight_note, width)
        r += 1
    r = _note(grid, r, "Base", width, last_column, font=BOLD)
    for index, (label, cases) in enumerate(zip(table.columns, table.column_notes)):
        text = f"{label + ': base' if label else 'Base:'} {table.base_words(index)}. The column counts {cases}."
        if len(table.bases(index)) > 1:
            text += f" Each row's base is in its {table.header('base')} column."
        r = _note(grid, r, text, width, last_column)
    for note in table.applies_notes:
        r = _note(grid, r, note, width, last_column, font=SMALL)
    statistics = table.statistics_notes()
    if statistics:
        r = _note(grid, r, "Statistics", width, last_column, font=BOLD)
        for note in statistics:
            r = _note(grid, r, note, width, last_column)
    for name in dict.fromkeys(table.column_datasets):
        if name in selections:
            r = _note(grid, r, f"Cases counted ({name}): {selections[name].summary()}.", width, last_column, font=SMALL)
    r = _note(grid, r, BASE_NOTE, width, last_column, font=SMALL)

    chart = None
    if table.is_chart and chart_rows:
        chart = _chart(grid, table, sheet, chart_rows, r + 1, layout)
        grid_anchor = f"{_letter(last_column + 2)}{HEADER_ROW}"
        chart.anchor = grid_anchor
    return grid, chart


def _letter(column: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(column)


def _error_bars(table: FigureTable, rows: list[tuple[int, object]], index: int) -> tuple[tuple, tuple] | None:
    """Each bar's distance down to its interval's low end and up to its high end (None without intervals)."""
    if not table.ci:
        return None
    below, above = [], []
    for _, row in rows:
        cell = row.cells[index]
        fraction = cell.fraction
        below.append(None if cell.ci is None or fraction is None else fraction - cell.ci[0])
        above.append(None if cell.ci is None or fraction is None else cell.ci[1] - fraction)
    return tuple(below), tuple(above)


def _chart(grid: Grid, table: FigureTable, sheet: str, rows: list[tuple[int, object]], free_row: int, layout: Layout):
    parts = table.parts
    percent = "percent" in parts
    part_index = parts.index("percent" if percent else parts[0])
    numbers = [r for r, _ in rows]
    labels = tuple(row.chart_label or row.label for _, row in rows)
    contiguous = numbers == list(range(numbers[0], numbers[0] + len(numbers)))
    bars = percent and table.ci  # error bars: the interval of each percentage
    series = []
    for index, label in enumerate(table.columns):
        values = tuple((row.cells[index].fraction if percent else row.cells[index].count) for _, row in rows)
        series.append((label, layout.first(index) + part_index, values, _error_bars(table, rows, index) if bars else None))
    if contiguous and not any(row.chart_label for _, row in rows) and not bars:
        first, label_column = numbers[0], 1
        placed = [ChartSeries(name, column, values) for name, column, values, _ in series]
    else:  # the bars' labels and values (and error bars) as a block of their own, under the notes
        grid.put(free_row, 1, "Chart data (the labels and values the chart shows)", font=BOLD)
        first, label_column = free_row + 1, 1
        placed = []
        column = 2
        for name, _, values, errors in series:
            grid.put(free_row, column, name or table.header("percent" if percent else "count"), font=BOLD, alignment=HEADER_RIGHT)
            for i, value in enumerate(values):
                grid.put(first + i, column, value, number_format=PERCENT_FORMAT if percent else COUNT_FORMAT)
            if errors is None:
                placed.append(ChartSeries(name, column, values))
                column += 1
                continue
            for offset, (words, amounts) in enumerate(zip(("Interval below", "Interval above"), errors), start=1):
                grid.put(free_row, column + offset, words, font=BOLD, alignment=HEADER_RIGHT)
                for i, amount in enumerate(amounts):
                    grid.put(first + i, column + offset, amount, number_format="0.0%")
            placed.append(ChartSeries(name, column, values, minus_column=column + 1, plus_column=column + 2,
                                      minus=errors[0], plus=errors[1]))
            column += 3
        for i, label in enumerate(labels):
            grid.put(first + i, 1, label)
        if bars:
            grid.put(first + len(labels), 1, f"The error bars show each percentage's {confidence_words(table.confidence)} "
                     "Wilson interval: the percentage minus the first amount to the percentage plus the second.",
                     font=SMALL)
    bases = "; ".join(f"{label} {table.base_words(i)}" if label else table.base_words(i) for i, label in enumerate(table.columns))
    shown = f"Base: {bases}" + (f"; lines: {confidence_words(table.confidence)} intervals" if bars else "")
    data = ChartData(sheet=sheet, title=table.chart_title or (table.heading,), base=shown,
                     label_column=label_column, first_row=first, labels=labels, series=tuple(placed), percent=percent)
    return bar_chart(data)


# --- numbers quoted in the text ------------------------------------------------------------

QUOTED_COLUMNS = (("Chapter", 9), ("Quoted in the text", 60), ("Number", 10), ("Base", 10), ("Percentage", 12),
                  ("Counted from", 70))


def quoted_sheet(table: FigureTable) -> Grid:
    grid = Grid()
    grid.put(1, 1, table.heading, font=HEADING)
    grid.merge(1, 1, len(QUOTED_COLUMNS))
    grid.put(2, 1, table.note or "", alignment=WRAP, font=ITALIC)
    grid.merge(2, 1, len(QUOTED_COLUMNS))
    grid.wrap_height(2, table.note or "", sum(w for _, w in QUOTED_COLUMNS))
    header = 4
    for column, (title, width) in enumerate(QUOTED_COLUMNS, start=1):
        grid.widths[column] = width
        grid.put(header, column, title, font=BOLD, fill=HEADER_FILL, border=RULE,
                 alignment=HEADER_RIGHT if 3 <= column <= 5 else WRAP)
    for r, row in enumerate(table.rows, start=header + 1):
        cell = row.cells[0]
        grid.put(r, 1, row.section, alignment=TOP)
        grid.put(r, 2, row.label, alignment=WRAP)
        grid.put(r, 3, cell.count, number_format=COUNT_FORMAT, alignment=TOP)
        grid.put(r, 4, cell.base if cell.base is not None else DASH, number_format=COUNT_FORMAT, alignment=RIGHT)
        if cell.fraction is not None:
            fmt = PERCENT_FORMAT if not row.decimals else "0." + "0" * row.decimals + "%"
            grid.put(r, 5, cell.fraction, number_format=fmt, alignment=TOP)
        else:
            grid.put(r, 5, DASH, alignment=RIGHT)
        grid.put(r, 6, row.source, alignment=INDENTED, font=SMALL)
        grid.wrap_height(r, row.label, QUOTED_COLUMNS[1][1])
        grid.wrap_height(r, row.source, QUOTED_COLUMNS[5][1], SMALL.size)
    r = header + len(table.rows) + 2
    _note(grid, r, BASE_NOTE, QUOTED_COLUMNS[1][1], font=SMALL)
    grid.merge(r, 1, len(QUOTED_COLUMNS))
    return grid


# --- contents ------------------------------------------------------------------------------

CONTENTS_WIDTHS = (10, 86, 20, 14)


def contents_sheet(result: ReportTables, sheets: dict[str, str], data_sheets: list[str], ratings: str | None = None) -> Grid:
    grid = Grid()
    width = sum(CONTENTS_WIDTHS)
    for column, w in enumerate(CONTENTS_WIDTHS, start=1):
        grid.widths[column] = w
    report = result.report

    def line(r: int, text: str, **style) -> int:
        grid.put(r, 1, text, alignment=WRAP, **style)
        grid.merge(r, 1, len(CONTENTS_WIDTHS))
        grid.wrap_height(r, text, width)
        return r + 1

    grid.put(1, 1, report.title if report else "Figure tables", font=HEADING)
    source = f" from {Path(report.path).name}" if report and report.path else ""
    r = line(2, f"Written by audit on {dt.date.today().isoformat()}{source}.")
    r = line(r + 1, "Which cases count", font=BOLD)
    for name, selection in result.selections.items():
        dataset = report.datasets.get(name) if report else None
        label = f" ({dataset.label}, rubric {dataset.rubric_id})" if dataset else ""
        r = line(r, f"{name}{label}, {selection.path}: {selection.summary()}")
    for warning in result.status_warnings:
        r = line(r, f"Warning: {warning}", font=WARNING)

    r += 1
    for column, header in enumerate(("Figure", "Title", "Sheet", "Shown as"), start=1):
        grid.put(r, column, header, font=BOLD, fill=HEADER_FILL, border=RULE)
    for table in all_tables(result):
        r += 1
        grid.put(r, 1, table.figure, alignment=TOP)
        grid.put(r, 2, table.heading, alignment=WRAP)
        grid.wrap_height(r, table.heading, CONTENTS_WIDTHS[1])
        grid.link(r, 3, sheets[table.figure], f"'{sheets[table.figure]}'!A1")
        grid.put(r, 4, "chart and table" if table.is_chart else "table", alignment=TOP)
    if ratings is not None:
        r += 1
        scheme = result.ratings[0].ratings.scheme
        grid.put(r, 1, "Ratings", alignment=TOP)
        grid.put(r, 2, f"Ratings under {scheme.title}: " + ", ".join(item.label for item in result.ratings), alignment=WRAP)
        grid.link(r, 3, ratings, f"'{ratings}'!A1")
        grid.put(r, 4, "table", alignment=TOP)
    r += 2
    if result.warnings:
        r = line(r, "Not included", font=BOLD)
        for warning in result.warnings:
            r = line(r, warning)
        r += 1
    if data_sheets:
        r = line(r, "Case-level data", font=BOLD)
        r = line(r, f"Sheets {', '.join(data_sheets)}: one row per case counted, as asked for with --include-data. "
                    "The Codebook sheet explains every column and the markers used.")
        r += 1
    line(r, BASE_NOTE, font=SMALL)
    return grid


def write_figure_sheets(wb, result: ReportTables, sheets: dict[str, str]) -> None:
    """Every figure's sheet (with its chart), then the quoted numbers, in the workbook's order."""
    for table in result.tables:
        ws = wb.create_sheet(sheets[table.figure])
        grid, chart = figure_sheet(table, sheets[table.figure], result.selections)
        ws.freeze_panes = f"B{HEADER_ROW + 2}"
        printable(ws, title_rows=f"{HEADER_ROW}:{HEADER_ROW + 1}", one_page=len(table.rows) <= 40)
        grid.write(ws)
        if chart is not None:
            ws.add_chart(chart)
    if result.quoted:
        ws = wb.create_sheet(sheets[result.quoted.figure])
        ws.freeze_panes = "C5"
        printable(ws, title_rows="4:4")
        quoted_sheet(result.quoted).write(ws)
