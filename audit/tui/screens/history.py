"""A case's audit trail: who changed what, when, and why."""

from __future__ import annotations

import sqlite3

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Static

from audit.errors import AuditError
from audit.rubric import Rubric
from audit.tui.format import local_time, shorten, status_label, stored_label
from audit.tui.widgets.key_bar import KeyBar

FIELD_NAMES = {"value": "answer", "note": "evidence note", "state": "answer state", "status": "case status", "case": "case"}


def history_cells(rubric: Rubric, entry: dict) -> tuple:
    """One history row as people read it: question text and option labels, not ids and codes."""
    qid = entry["question_id"]
    question = rubric.question(qid) if qid and rubric.has_question(qid) else None
    field = entry["field"]
    old, new = entry["old_value"], entry["new_value"]
    if field == "value":
        old, new = stored_label(question, old), stored_label(question, new)
    elif field == "status":
        old, new = status_label(old) if old else "", status_label(new) if new else ""
    what = shorten(question.text, 30) if question else (qid or "")
    # what changed, from what to what, first: all on a 120-column screen (who and why follow)
    return (
        Text(local_time(entry["changed_at"], seconds=True)),
        Text(what),
        Text(FIELD_NAMES.get(field, field)),
        Text(shorten(old or "", 24)),
        Text(shorten(new or "", 24), style="bold"),
        Text(entry["changed_by"] or ""),
        Text(entry["reason"] or ""),
    )


class HistoryScreen(Screen):
    HELP = "Every change to this case, oldest first: answers, evidence notes, retired answers and status. Escape goes back."
    BINDINGS = [Binding("escape", "back", "Back", id="history.back")]

    def __init__(self, case_uuid: str) -> None:
        super().__init__()
        self.case_uuid = case_uuid

    def compose(self) -> ComposeResult:
        yield Static(id="history-title")
        yield DataTable(id="history", cursor_type="row", zebra_stripes=True)
        yield KeyBar()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("When", "Question", "Changed", "From", "To", "Who", "Why")
        table.focus()
        self.load_history()

    @work(thread=True, exit_on_error=False)
    def load_history(self) -> None:
        try:
            store = self.app.reader()
            try:
                case = store.case(self.case_uuid)
                rubric = store.rubric_for(case)
                rows = [history_cells(rubric, entry) for entry in store.history(self.case_uuid)]
            finally:
                store.close()
        except (AuditError, sqlite3.Error) as exc:
            self.app.call_from_thread(self.app.notify, str(exc), title="Could not read the history", severity="error", markup=False)
            return
        self.app.call_from_thread(self._show, case.case_ref, case.site, rows)

    def _show(self, ref: str, site: str, rows: list[tuple]) -> None:
        self.query_one("#history-title", Static).update(
            Text.assemble(("History of ", "bold"), (ref, "bold reverse"), f" at {site}  ·  {len(rows)} change(s), oldest first")
        )
        table = self.query_one(DataTable)
        table.add_rows(rows)
        if rows:
            table.move_cursor(row=len(rows) - 1)

    def action_back(self) -> None:
        self.dismiss()
