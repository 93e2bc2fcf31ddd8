"""Building blocks for the workbook, written in openpyxl's write-only mode.

A write-only sheet takes its rows in order, once, with column widths, frozen
panes and print setup fixed before the first row. Small sheets (figures,
contents, codebook) are laid out first in a :class:`Grid`, where any cell can
be placed in any order, then streamed out; data sheets stream row by row.

One font family (:data:`FONT_NAME`) everywhere, so that no viewer falls back to
a serif face for a style without a font name. Text is always a text cell:
never a formula or an error code (:func:`text_cell`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from openpyxl.worksheet.hyperlink import Hyperlink

from audit.writers.safety import xlsx_text

FONT_NAME = "Calibri"  # Excel's default body font; LibreOffice shows it as the metric-compatible Carlito
FONT = Font(name=FONT_NAME, size=11)
BOLD = Font(name=FONT_NAME, size=11, bold=True)
ITALIC = Font(name=FONT_NAME, size=11, italic=True)
SMALL = Font(name=FONT_NAME, size=10)
HEADING = Font(name=FONT_NAME, size=14, bold=True)
WARNING = Font(name=FONT_NAME, size=11, bold=True, color="9C0006")
LINK = Font(name=FONT_NAME, size=11, color="0563C1", underline="single")
HEADER_FILL = PatternFill("solid", fgColor="DDEBF7")
HIGHLIGHT_FILL = PatternFill("solid", fgColor="C6EFCE")  # the report's green shading
RULE = Border(bottom=Side(style="thin", color="8EA9DB"))
WRAP = Alignment(wrap_text=True, vertical="top")
TOP = Alignment(vertical="top")
RIGHT = Alignment(horizontal="right", vertical="top")
CENTRE = Alignment(horizontal="center", vertical="center", wrap_text=True)
HEADER_RIGHT = Alignment(horizontal="right", vertical="bottom", wrap_text=True)
PERCENT_FORMAT = "0%"
COUNT_FORMAT = "#,##0"
#: points per line of 11-point text, and characters per unit of column width (for row heights)
LINE_HEIGHT = 15.0


def text_cell(ws, value: str, **style: Any) -> WriteOnlyCell:
    """A cell that holds ``value`` as text whatever it starts with (never a formula or an error code)."""
    cell = WriteOnlyCell(ws, value=xlsx_text(value))
    cell.data_type = "s"
    for name, setting in style.items():
        setattr(cell, name, setting)
    return cell


def needs_cell(value: Any) -> bool:
    """Whether a plain value would be misread by openpyxl (a formula, an error code) or refused."""
    return isinstance(value, str) and (value[:1] == "=" or value in ERROR_CODES or xlsx_text(value) != value)


def plain(ws, value: Any) -> Any:
    """A value for a streamed row: as it is when openpyxl writes it faithfully, else a text cell
    (with no sheet, the value as it is)."""
    return text_cell(ws, value) if ws is not None and needs_cell(value) else value


def lines_needed(text: str, width: float, size: float = 11) -> int:
    """How many lines ``text`` in ``size``-point type takes in a wrapped cell ``width`` characters wide
    (a slightly generous estimate: a cut-off line is worse than a spare one)."""
    per_line = max(1, int(width * 1.2 * 11 / size))
    return sum(max(1, -(-len(part) // per_line)) for part in text.split("\n"))


@dataclass
class Grid:
    """A small sheet laid out in any order, then written in row order to a write-only sheet."""

    cells: dict[tuple[int, int], tuple[Any, dict[str, Any]]] = field(default_factory=dict)
    widths: dict[int, float] = field(default_factory=dict)
    heights: dict[int, float] = field(default_factory=dict)
    merges: list[str] = field(default_factory=list)
    links: dict[tuple[int, int], str] = field(default_factory=dict)

    def put(self, row: int, column: int, value: Any, **style: Any) -> None:
        self.cells[(row, column)] = (value, style)

    def link(self, row: int, column: int, text: str, location: str) -> None:
        self.put(row, column, text, font=LINK, alignment=TOP)
        self.links[(row, column)] = location

    def merge(self, row: int, first: int, last: int) -> None:
        if last > first:
            self.merges.append(f"{get_column_letter(first)}{row}:{get_column_letter(last)}{row}")

    def wrap_height(self, row: int, text: str, width: float, size: float = 11) -> None:
        """Make ``row`` tall enough for ``text`` wrapped in ``width`` characters."""
        lines = lines_needed(text, width, size)
        if lines > 1:
            height = LINE_HEIGHT * size / 11 * lines + 2
            self.heights[row] = max(self.heights.get(row, LINE_HEIGHT), height)

    @property
    def last_row(self) -> int:
        return max((r for r, _ in self.cells), default=0)

    def write(self, ws) -> None:
        """Column widths, row heights and merges first, then every row in order."""
        for column, width in self.widths.items():
            ws.column_dimensions[get_column_letter(column)].width = width
        for row, height in self.heights.items():
            ws.row_dimensions[row].height = height
        for ref in self.merges:
            ws.merged_cells.add(ref)
        by_row: dict[int, dict[int, tuple[Any, dict]]] = {}
        for (r, c), content in self.cells.items():
            by_row.setdefault(r, {})[c] = content
        for r in range(1, self.last_row + 1):
            row = by_row.get(r, {})
            width = max(row, default=0)
            out: list[Any] = [None] * width
            for c, (value, style) in row.items():
                out[c - 1] = self._cell(ws, r, c, value, style)
            ws.append(out)

    def _cell(self, ws, r: int, c: int, value: Any, style: dict[str, Any]) -> Any:
        if isinstance(value, str):
            cell = text_cell(ws, value, **style)
        else:
            cell = WriteOnlyCell(ws, value=value)
            for name, setting in style.items():
                setattr(cell, name, setting)
        if style.get("font") is None:
            cell.font = FONT
        if (r, c) in self.links:
            cell.hyperlink = Hyperlink(ref=f"{get_column_letter(c)}{r}", location=self.links[(r, c)])
        return cell


def printable(ws, *, landscape: bool = True, title_rows: str | None = None, one_page: bool = False,
              pages_wide: int = 1) -> None:
    """A4, scaled to ``pages_wide`` pages across (as many pages down as needed, or one page), with
    repeated title rows."""
    ws.page_setup.orientation = "landscape" if landscape else "portrait"
    ws.page_setup.paperSize = Worksheet.PAPERSIZE_A4
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.page_setup.fitToWidth = pages_wide
    ws.page_setup.fitToHeight = 1 if one_page else 0
    ws.page_margins.left = ws.page_margins.right = 0.5
    if title_rows:
        ws.print_title_rows = title_rows
