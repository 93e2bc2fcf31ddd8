"""A case's audit trail: who changed what, when, and why. Enter shows one change in full."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Label, Static

from audit.errors import AuditError
from audit.rubric import Rubric
from audit.tui.format import local_time, shorten, shown, status_label, stored_label
from audit.tui.widgets.key_bar import KeyBar

FIELD_NAMES = {"value": "answer", "note": "evidence note", "state": "answer state", "status": "case status", "case": "case"}


@dataclass(frozen=True)
class Change:
    """One history entry as people read it: question text and option labels, not ids and codes."""

    when: str
    number: int | None  # the question's number in the rubric, as everywhere else
    question: str
    field: str
    old: str
    new: str
    who: str
    why: str

    def cells(self) -> tuple[Text, ...]:
        # what changed, from what to what, first: all on a 120-column screen (who and why follow)
        what = (f"{self.number} " if self.number else "") + self.question
        return (
            Text(self.when),
            Text(shorten(what, 30)),
            Text(self.field),
            Text(shorten(self.old, 24)),
            Text(shorten(self.new, 24), style="bold"),
            Text(self.who),
            Text(self.why),
        )


def read_change(rubric: Rubric, entry: dict) -> Change:
    qid = entry["question_id"]
    question = rubric.question(qid) if qid and rubric.has_question(qid) else None
    field = entry["field"]
    old, new = entry["old_value"], entry["new_value"]
    if field == "value":
        old, new = stored_label(question, old), stored_label(question, new)
    elif field == "status":
        old, new = status_label(old) if old else "", status_label(new) if new else ""
    else:  # a note, a case's reference, a state: as stored, made safe to draw
        old, new = shown(old), shown(new)
    return Change(
        when=local_time(entry["changed_at"], seconds=True),
        number=rubric.position(qid) + 1 if question else None,
        question=shown(question.text if question else (qid or "")),
        field=shown(FIELD_NAMES.get(field, field)),
        old=old or "",
        new=new or "",
        who=shown(entry["changed_by"]),
        why=shown(entry["reason"]),
    )


def history_cells(rubric: Rubric, entry: dict) -> tuple:
    return read_change(rubric, entry).cells()


class HistoryTable(DataTable):
    """The history's rows; home and end go to the first and the last change."""

    BINDINGS = [
        Binding("enter", "screen.show_change", "Full change", id="history.show_row"),
        Binding("home", "scroll_top", "First change", show=False, id="history.first"),
        Binding("end", "scroll_bottom", "Last change", show=False, id="history.last"),
    ]


class HistoryScreen(Screen):
    HELP = (
        "Every change to this case, oldest first: answers, evidence notes, retired answers and status. "
        "A long value is cut short in the table: enter shows the highlighted change in full. "
        "Home and end go to the first and the last change; escape goes back."
    )
    BINDINGS = [
        Binding("enter", "show_change", "Full change", id="history.show"),
        Binding("escape", "back", "Back", id="history.back"),
    ]

    def __init__(self, case_uuid: str) -> None:
        super().__init__()
        self.case_uuid = case_uuid
        self.changes: list[Change] = []

    def compose(self) -> ComposeResult:
        yield Static(id="history-title")
        yield HistoryTable(id="history", cursor_type="row", zebra_stripes=True)
        yield KeyBar()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("When", "Question", "Changed", "From", "To", "Who", "Why")
        self.set_focus(table)
        self.load_history()

    @work(thread=True, exit_on_error=False)
    def load_history(self) -> None:
        try:
            store = self.app.reader()
            try:
                case = store.case(self.case_uuid)
                rubric = store.rubric_for(case)
                changes = [read_change(rubric, entry) for entry in store.history(self.case_uuid)]
            finally:
                store.close()
        except (AuditError, sqlite3.Error) as exc:
            self.app.call_from_thread(self.app.notify, str(exc), title="Could not read the history", severity="error", markup=False)
            return
        self.app.call_from_thread(self._show, shown(case.case_ref), shown(case.site), changes)

    def _show(self, ref: str, site: str, changes: list[Change]) -> None:
        self.changes = changes
        self.query_one("#history-title", Static).update(
            Text.assemble(("History of ", "bold"), (ref, "bold reverse"), f" at {site}  ·  {len(changes)} change(s), "
                          "oldest first  ·  enter shows one in full")
        )
        table = self.query_one(DataTable)
        table.add_rows([change.cells() for change in changes])
        if changes:
            table.move_cursor(row=len(changes) - 1)

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_show_change()

    def action_show_change(self) -> None:
        table = self.query_one(DataTable)
        if self.changes and 0 <= table.cursor_row < len(self.changes):
            self.app.push_screen(ChangeScreen(self.changes[table.cursor_row]))

    def action_back(self) -> None:
        self.dismiss()


class ChangeScreen(ModalScreen[None]):
    """One change in full: the whole question, and the old and new values however long."""

    HELP = "One change to the case, in full. Escape (or enter) goes back to the history."
    BINDINGS = [Binding("escape,enter,q", "close", "Back", id="change.close")]

    def __init__(self, change: Change) -> None:
        super().__init__()
        self.change = change

    def compose(self) -> ComposeResult:
        change = self.change
        rows = [
            ("When", change.when),
            ("Question", (f"{change.number}  " if change.number else "") + change.question),
            ("Changed", change.field),
            ("From", change.old or "(nothing)"),
            ("To", change.new or "(nothing)"),
            ("Who", change.who),
            ("Why", change.why),
        ]
        with Vertical(id="change-dialog", classes="dialog"):
            yield Label("Change", classes="dialog-title")
            with VerticalScroll(id="change-body"):
                for name, value in rows:
                    yield Static(Text.assemble((f"{name:<9}", "bold"), value), classes="change-row")
            yield Static(Text("esc or enter goes back", style="dim"))

    def action_close(self) -> None:
        self.dismiss(None)
