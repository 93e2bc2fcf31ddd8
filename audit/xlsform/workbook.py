"""Reading an XLSForm workbook as plain rows, refusing anything that is not one.

A form from another team is untrusted input: the file is checked to be an
xlsx (a zip with a workbook inside) of bounded size before openpyxl reads a
byte of it, and each sheet is read in read-only mode up to a row limit.
Every cell is kept with its place, ``FORM.xlsx:survey!B17``, so later
checks can say exactly which cell to change. Cells are read as pyxform
reads them: stripped, non-breaking spaces made spaces, whole numbers
without ``.0``.
"""

from __future__ import annotations

import datetime as dt
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from openpyxl.utils import get_column_letter

from audit.errors import AuditError, Problem, Problems

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_UNPACKED_BYTES = 200 * 1024 * 1024
MAX_ROWS = {"survey": 5_000, "choices": 50_000, "settings": 100}
MAX_COLUMNS = 200
# pyxform stops reading a sheet after this many empty rows (or header cells) in a row
EMPTY_ROWS_THAT_END_A_SHEET = 60
EMPTY_COLUMNS_THAT_END_A_HEADER = 20


@dataclass(frozen=True)
class Cell:
    value: str
    where: str  # FORM.xlsx:survey!B17


@dataclass
class Row:
    number: int  # as Excel numbers it
    cells: dict[str, Cell]  # column header -> non-empty cell

    def text(self, column: str) -> str:
        cell = self.cells.get(column)
        return cell.value if cell else ""


@dataclass
class Sheet:
    name: str  # as the workbook spells it
    path: str
    headers: dict[str, str] = field(default_factory=dict)  # header -> column letter
    rows: list[Row] = field(default_factory=list)

    def where(self, row: int, column: str | None = None) -> str:
        letter = self.headers.get(column, "A") if column else "A"
        return f"{self.path}:{self.name}!{letter}{row}"

    def header_where(self, column: str) -> str:
        return self.where(1, column)


def cell_text(value: Any) -> str:
    """A cell's value as pyxform reads it."""
    if value is None:
        return ""
    if value is True:
        return "TRUE"
    if value is False:
        return "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date().isoformat()
    text = str(value).replace("\xa0", " ")
    return "" if text.isspace() else text.strip()


def check_file(path: str | Path) -> None:
    """Refuse, with one line, a file that is missing, too big, or not an xlsx workbook."""
    shown = str(path)
    target = Path(path)
    if target.is_dir():
        raise AuditError(f"{shown}: is a folder; give the path of an .xlsx form")
    try:
        size = target.stat().st_size
        with target.open("rb") as handle:
            head = handle.read(8)
    except FileNotFoundError:
        raise AuditError(f"{shown}: file not found; check the path") from None
    except OSError as exc:
        raise AuditError(f"{shown}: cannot be read ({exc.strerror})") from None
    if size > MAX_FILE_BYTES:
        raise AuditError(f"{shown}: is {size // (1024 * 1024)} MB; an XLSForm is far smaller (at most {MAX_FILE_BYTES // (1024 * 1024)} MB); check the file")
    if head.startswith(b"\xd0\xcf\x11\xe0"):
        raise AuditError(f"{shown}: is an old-style .xls workbook; open it in a spreadsheet and save it as .xlsx")
    if not head.startswith(b"PK\x03\x04"):
        raise AuditError(f"{shown}: is not an .xlsx workbook; save the form as .xlsx (Excel workbook)")
    try:
        with zipfile.ZipFile(target) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise AuditError(f"{shown}: is a damaged .xlsx file ({exc}); save the form again") from None
    unpacked = sum(member.file_size for member in members)
    if unpacked > MAX_UNPACKED_BYTES:
        raise AuditError(f"{shown}: unpacks to {unpacked // (1024 * 1024)} MB, far more than any XLSForm; check the file")
    if not any(member.filename == "xl/workbook.xml" for member in members):
        raise AuditError(f"{shown}: is a zip file but not an .xlsx workbook; save the form as .xlsx")


def read_workbook(path: str | Path, shown: str | None = None) -> dict[str, Sheet]:
    """The survey, choices and settings sheets (those present), by lowercase name.

    Raises :class:`AuditError` for a file that cannot be read, and
    :class:`Problems` for sheets that break the limits.
    """
    import openpyxl

    shown = shown or str(path)
    check_file(path)
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for damaged files
        raise AuditError(f"{shown}: cannot be read as an .xlsx workbook ({type(exc).__name__}: {exc}); save the form again") from None
    try:
        sheets: dict[str, Sheet] = {}
        problems: list[Problem] = []
        for name in workbook.sheetnames:
            key = name.strip().lower()
            if key in MAX_ROWS:
                if key in sheets:
                    problems.append(Problem(f"{shown}:{name}", f"a second '{key}' sheet; keep one"))
                    continue
                try:
                    sheets[key] = _read_sheet(workbook[name], name, shown, MAX_ROWS[key], problems)
                except Problems:
                    raise
                except Exception as exc:
                    raise AuditError(f"{shown}:{name}: cannot be read ({type(exc).__name__}: {exc}); save the form again") from None
        if problems:
            raise Problems(problems, summary=f"{shown}: {len(problems)} problem{'s' if len(problems) > 1 else ''}; nothing was written")
        return sheets
    finally:
        workbook.close()


def _read_sheet(worksheet, name: str, shown: str, max_rows: int, problems: list[Problem]) -> Sheet:
    sheet = Sheet(name=name, path=shown)
    rows: Iterator[tuple] = worksheet.iter_rows(values_only=True)
    first = next(rows, ())
    columns: dict[int, str] = {}  # 0-based index -> header
    empty_run = 0
    for index, raw in enumerate(first[: MAX_COLUMNS + EMPTY_COLUMNS_THAT_END_A_HEADER + 1]):
        header = " ".join(cell_text(raw).split())
        if not header:
            empty_run += 1
            continue
        where = f"{shown}:{name}!{get_column_letter(index + 1)}1"
        if empty_run >= EMPTY_COLUMNS_THAT_END_A_HEADER:
            problems.append(Problem(where, f"column '{header}' comes after {empty_run} empty header cells, where ODK tools stop reading; move it left"))
        empty_run = 0
        if index >= MAX_COLUMNS:
            problems.append(Problem(where, f"the sheet has more than {MAX_COLUMNS} columns; an XLSForm needs a few"))
            break
        if header in sheet.headers:
            problems.append(Problem(where, f"column '{header}' appears twice (first in column {sheet.headers[header]}); keep one"))
            continue
        columns[index] = header
        sheet.headers[header] = get_column_letter(index + 1)
    empty_rows = 0
    for number, values in enumerate(rows, start=2):
        if number - 1 > max_rows:
            problems.append(Problem(f"{shown}:{name}", f"has more than {max_rows:,} rows; an XLSForm of a case audit is far smaller"))
            break
        cells: dict[str, Cell] = {}
        for index, raw in enumerate(values):
            text = cell_text(raw)
            if not text:
                continue
            letter = get_column_letter(index + 1)
            where = f"{shown}:{name}!{letter}{number}"
            header = columns.get(index)
            if header is None:
                if index < MAX_COLUMNS:
                    problems.append(Problem(where, "this cell is in a column with no header in row 1; add the header or clear the cell"))
                continue
            cells[header] = Cell(text, where)
        if not cells:
            empty_rows += 1
            continue
        if empty_rows >= EMPTY_ROWS_THAT_END_A_SHEET:
            problems.append(Problem(f"{shown}:{name}!A{number}", f"row {number} comes after {empty_rows} empty rows, where ODK tools stop reading; delete the empty rows"))
        empty_rows = 0
        sheet.rows.append(Row(number, cells))
    return sheet
