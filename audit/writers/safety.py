"""Text that a spreadsheet could run as a formula, made harmless.

A cell whose text begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
return can be taken for a formula by Excel or LibreOffice (CSV injection).
CSV cells get a leading apostrophe; xlsx cells are written as plain strings.
"""

from __future__ import annotations

import re
from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# characters an xlsx file cannot hold (openpyxl refuses them)
_ILLEGAL = re.compile(r"[\x00-\x08\x0b-\x0c\x0e-\x1f]")


def looks_like_formula(text: str) -> bool:
    return text.startswith(FORMULA_STARTS)


def csv_safe(value: Any) -> Any:
    """A CSV field that no spreadsheet will evaluate: risky text gets a leading apostrophe.

    Text that already starts with apostrophes before such a character gets one more, so
    that :func:`csv_read` gives back exactly what was written ("'=x" -> "''=x" -> "'=x")."""
    if isinstance(value, str) and looks_like_formula(value.lstrip("'")):
        return "'" + value
    return value


def csv_read(text: str) -> str:
    """A CSV field as it was before :func:`csv_safe`: the one apostrophe it added is taken off."""
    if text.startswith("'") and looks_like_formula(text[1:].lstrip("'")):
        return text[1:]
    return text


def xlsx_text(value: str) -> str:
    """Text an xlsx cell can hold: control characters dropped, at most 32,767 characters."""
    return _ILLEGAL.sub("", value)[:32767]


def put(ws, row: int, column: int, value: Any, **style: Any):
    """Write one xlsx cell; text is always a string cell, never a formula or an error code."""
    cell = ws.cell(row=row, column=column)
    if isinstance(value, str):
        cell.value = xlsx_text(value)
        cell.data_type = "s"  # openpyxl would make "=..." a formula and "#N/A" an error
    else:
        cell.value = value
    for name, setting in style.items():
        setattr(cell, name, setting)
    return cell
