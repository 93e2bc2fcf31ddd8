"""Turning what people type or import into stored answer values, and back into labels."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from audit.rubric import Question

MULTI_SEPARATOR = ";"
#: an explicit empty selection ("None of these") in wide CSV; an empty cell is unanswered
NONE_TOKEN = "(none)"
#: how an explicit empty selection reads
NONE_LABEL = "None of these"
_UK_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


class ValueProblem(ValueError):
    """A value that does not fit its question; the message says why and what would."""


def coerce(question: Question, raw: Any) -> Any:
    """The stored value for ``raw`` (codes or labels, any case, stray spaces), or None if blank."""
    if raw is None:
        return None
    if isinstance(raw, str):
        raw = raw.strip()
        if raw == "":
            return None
    kind = question.type
    if kind == "multi":
        return _coerce_multi(question, raw)
    if question.is_choice:
        return _coerce_code(question, raw)
    if kind == "integer":
        return _coerce_integer(question, raw)
    if kind == "date":
        return _coerce_date(raw)
    if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
        raise ValueProblem(f"expected text, got {type(raw).__name__}")
    return str(raw)


def _coerce_code(question: Question, raw: Any) -> str:
    if not isinstance(raw, str):
        raise ValueProblem(f"{raw!r} is not an option; use one of {', '.join(question.option_codes)}")
    code = question.option_code_for(raw)
    if code is None:
        raise ValueProblem(f"'{raw}' is not an option code or label; use one of {', '.join(question.option_codes)}")
    return code


def _coerce_multi(question: Question, raw: Any) -> list[str] | None:
    if isinstance(raw, str):
        items = [part.strip() for part in raw.split(MULTI_SEPARATOR)]
    elif isinstance(raw, (list, tuple)):
        items = list(raw)
    else:
        raise ValueProblem(f"expected a list of option codes, got {type(raw).__name__}")
    codes = {_coerce_code(question, item) for item in items if not (isinstance(item, str) and not item.strip())}
    if not codes:
        return None
    return [code for code in question.option_codes if code in codes]


def _coerce_integer(question: Question, raw: Any) -> int:
    if isinstance(raw, bool):
        raise ValueProblem(f"expected a whole number, got {raw!r}")
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if isinstance(raw, str):
        text = raw.replace(",", "") if re.fullmatch(r"-?\d{1,3}(,\d{3})+", raw) else raw
        if re.fullmatch(r"-?\d+(\.0+)?", text):
            raw = int(float(text)) if "." in text else int(text)
    if not isinstance(raw, int):
        raise ValueProblem(f"'{raw}' is not a whole number")
    low, high = question.range or (None, None)
    if low is not None and not (low <= raw <= high):
        raise ValueProblem(f"{raw} is out of range {low}-{high}")
    return raw


def _coerce_date(raw: Any) -> str:
    if isinstance(raw, dt.datetime):
        return raw.date().isoformat()
    if isinstance(raw, dt.date):
        return raw.isoformat()
    if isinstance(raw, str):
        match = _UK_DATE.match(raw)
        try:
            if match:
                day, month, year = (int(g) for g in match.groups())
                return dt.date(year, month, day).isoformat()
            return dt.date.fromisoformat(raw[:10] if len(raw) > 10 and raw[10] in "T " else raw).isoformat()
        except ValueError:
            pass
    raise ValueProblem(f"'{raw}' is not a date; write YYYY-MM-DD or DD/MM/YYYY")


def display(question: Question, value: Any) -> str:
    """An answer as people read it: option labels, joined with '; ' for multi-choice."""
    if value is None:
        return ""
    if question.type == "multi":
        return "; ".join(question.label_for(code) for code in value)
    if question.is_choice:
        return question.label_for(value)
    return str(value)
