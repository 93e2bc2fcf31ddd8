"""Writing small XLSForm workbooks for tests, cell by cell as a person would."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import openpyxl

Rows = Sequence[Sequence[object]]

SETTINGS = [["form_id", "form_title", "version"], ["case-audit", "Case audit", "1"]]


def write_xlsform(path: Path, survey: Rows, choices: Rows | None = None, settings: Rows | None = SETTINGS,
                  extra_sheets: dict[str, Rows] | None = None) -> Path:
    """An .xlsx with the given sheets; each is a list of rows, the header first (None leaves a cell empty)."""
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    sheets = {"survey": survey, "choices": choices, "settings": settings, **(extra_sheets or {})}
    for name, rows in sheets.items():
        if rows is None:
            continue
        sheet = workbook.create_sheet(name)
        for row in rows:
            sheet.append(list(row))
    workbook.save(path)
    return path


def sheet_values(path: Path) -> dict[str, list[list[str]]]:
    """Every sheet's cell values as text, trailing empty cells and rows dropped (to compare two forms)."""
    workbook = openpyxl.load_workbook(path, read_only=True)
    out = {}
    for name in workbook.sheetnames:
        rows = []
        for row in workbook[name].iter_rows(values_only=True):
            values = ["" if v is None else str(v) for v in row]
            while values and values[-1] == "":
                values.pop()
            rows.append(values)
        while rows and not rows[-1]:
            rows.pop()
        out[name] = rows
    workbook.close()
    return out
