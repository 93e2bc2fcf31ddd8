"""Small text helpers shared by screens: times, truncation, answer labels."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from audit.identity import printable
from audit.store import STATUS_COMPLETE, decode

if TYPE_CHECKING:  # the rubric engine loads after the case list has painted
    from audit.rubric import Question


def local_time(stamp: str | None, *, seconds: bool = False) -> str:
    """A stored UTC stamp as local 'YYYY-MM-DD HH:MM'."""
    if not stamp:
        return ""
    try:
        moment = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return stamp
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def clock(stamp: str | None) -> str:
    """A stored UTC stamp as local 'HH:MM:SS'."""
    return local_time(stamp, seconds=True)[-8:] if stamp else ""


def shown(text: object) -> str:
    """Text from a database or a file, safe to draw: control and invisible characters escaped
    (a site name must not rewrite the terminal). Every user-controlled string goes through it."""
    return printable("" if text is None else text)


def shorten(text: str, width: int) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


def status_label(status: str) -> str:
    return {STATUS_COMPLETE: "complete", "approved": "approved", "returned": "returned"}.get(status, "in progress")


def case_status_cell(case) -> tuple[str, str]:
    """A case's status for a list, in its colour: a returned case stands out; a moderation copy says so."""
    if getattr(case, "deleted_at", None):
        return shorten(f"deleted: {printable(case.deleted_reason or '')}", 40), "dim red"
    label = status_label(case.status)
    if case.copy_of is not None:
        label += " · moderation"
    style = {STATUS_COMPLETE: "green", "approved": "green", "returned": "bold red"}.get(case.status, "")
    return label, style


def stored_label(question: Question | None, stored: str | None) -> str:
    """A JSON-encoded stored answer as people read it (labels, not codes; "None of these" for [])."""
    if stored is None:
        return ""
    try:
        value: Any = decode(stored)
    except ValueError:
        return stored
    from audit.tui.answering import answer_label

    return answer_label(question, value)
