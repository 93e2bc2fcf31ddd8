"""The quality lead's review queue: complete cases not yet reviewed, the longest waiting first.

Enter opens a case to read it; a approves and x returns it (a dialog asks for
the comment); t shows the returned cases, still with their inspectors. The
moderation column says whether a second inspector marked the case and how far
the two markings differ. Read by a worker on its own connection.
"""

from __future__ import annotations

import sqlite3
from collections import Counter

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Static

from audit.errors import AuditError
from audit.identity import printable
from audit.moderation import FINISHED, all_copies, check_may_see
from audit.store import STATUS_APPROVED, Case, Store, current_user
from audit.tui.format import local_time
from audit.tui.widgets.case_table import CaseTable, Column, Row
from audit.tui.widgets.key_bar import KeyBar

AWAITING, RETURNED = "awaiting", "returned"


def read_queue(store: Store, which: str) -> tuple[list[Case], dict[str, str], str]:
    """(cases, moderation state by case uuid, the review counts in words)."""
    from audit.moderation_report import moderation_report
    from audit.review import returned_cases, review_counts, review_queue

    cases = review_queue(store) if which == AWAITING else returned_cases(store)
    state: dict[str, str] = {}
    copies = all_copies(store)
    if copies:
        report = moderation_report(store)
        original_of = {copy.case.uuid: moderated.original.case.uuid for moderated in report.cases for copy in moderated.copies}
        differ = Counter(original_of[d.copy_uuid] for d in [*report.disagreements, *report.applicability])
        for copy in copies:
            if copy.status not in FINISHED:
                state[copy.copy_of] = "being marked"
            elif copy.copy_of not in state:
                n = differ.get(copy.copy_of, 0)
                state[copy.copy_of] = f"{n} difference{'s' if n != 1 else ''}" if n else "agrees"
    return cases, state, review_counts(store).statement()


class ReviewQueueScreen(Screen):
    """Approve or return complete cases."""

    HELP = (
        "Complete cases that no quality lead has reviewed yet, the longest waiting first. Enter opens a case to "
        "read it; a approves it; x returns it to its inspector with a comment. t switches to the returned cases "
        "(waiting for their inspectors). The Moderation column says whether a second inspector marked the case, "
        "and how many questions the two markings differ on (audit moderate report lists them)."
    )
    AUTO_FOCUS = "#queue"
    BINDINGS = [
        Binding("a", "decide('approved')", "Approve", id="queue.approve"),
        Binding("x", "decide('returned')", "Return", id="queue.return"),
        Binding("t", "toggle", "Returned / awaiting", id="queue.toggle"),
        Binding("escape", "back", "Back", id="queue.back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.which = AWAITING
        self.cases: list[Case] = []

    def compose(self) -> ComposeResult:
        yield Static(id="queue-title")
        yield Static(id="queue-summary")
        yield CaseTable(id="queue")
        yield Static(id="queue-empty")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one(CaseTable).set_columns([
            Column("case_ref", "Ref"), Column("site", "Site"), Column("inspector", "Inspector"),
            Column("since", "Complete since"), Column("moderation", "Moderation"),
        ])
        self._title()
        self.load()

    def on_screen_resume(self) -> None:
        self.load()

    def _title(self) -> None:
        what = "Review queue: complete, not yet reviewed" if self.which == AWAITING else "Returned to their inspectors"
        self.query_one("#queue-title", Static).update(Text.assemble((what, "bold"), "  ·  ",
                                                                    (str(self.app.db_path), "bold cyan")))

    @work(thread=True, exclusive=True, group="review-queue", exit_on_error=False)
    def load(self) -> None:
        which = self.which
        try:
            store = self.app.reader()
            try:
                cases, state, summary = read_queue(store, which)
            finally:
                store.close()
        except (AuditError, sqlite3.Error) as exc:
            self.app.call_from_thread(self.app.notify, str(exc), title="Could not read the queue", severity="error",
                                      markup=False)
            return
        self.app.call_from_thread(self._show, which, cases, state, summary)

    def _show(self, which: str, cases: list[Case], state: dict[str, str], summary: str) -> None:
        if which != self.which:
            return
        table = self.query_one(CaseTable)
        keep = table.highlighted_key
        self.cases = cases
        rows = []
        for case in cases:
            since = local_time(case.updated_at)
            fifth = state.get(case.uuid, "—")
            if which == RETURNED:
                fifth = printable(case.review_comment or "")
            rows.append(Row(case.uuid, (case.case_ref, case.site, case.inspector or "", since,
                                        (fifth, "yellow" if "difference" in fifth or fifth == "being marked" else ""))))
        uuids = [c.uuid for c in cases]
        table.show_rows(rows, cursor=uuids.index(keep) if keep in uuids else 0)
        self.query_one("#queue-summary", Static).update(Text(summary, style="dim"))
        empty = self.query_one("#queue-empty", Static)
        empty.display = not cases
        empty.update(Text("Nothing awaits review." if which == AWAITING else "No case is waiting for its inspector."))
        table.set_class(not cases, "empty")
        self.refresh_bindings()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "decide":
            if not self.cases:
                return None  # shown dimmed: nothing to decide on
            return self.which == AWAITING  # a returned case waits for its inspector
        return True

    def _highlighted(self) -> Case | None:
        key = self.query_one(CaseTable).highlighted_key
        return next((c for c in self.cases if c.uuid == key), None)

    def _may_see(self, case: Case) -> bool:
        try:
            check_may_see(self.app.store, case.uuid, current_user())
        except AuditError as exc:
            self.app.notify(str(exc), title="Moderation is blind", severity="warning", markup=False)
            return False
        return True

    @on(CaseTable.RowSelected, "#queue")
    def _open(self, event: CaseTable.RowSelected) -> None:
        from audit.tui.screens.walkthrough import WalkthroughScreen

        case = next((c for c in self.cases if c.uuid == event.key), None)
        if case is not None and self._may_see(case):
            self.app.push_screen(WalkthroughScreen(case.uuid))

    def action_decide(self, status: str) -> None:
        from audit.tui.screens.review_decision import ReviewDecisionScreen

        case = self._highlighted()
        if case is None or not self._may_see(case):
            return

        def decided(saved: str | None) -> None:
            if saved is None:
                return
            said = "approved" if saved == STATUS_APPROVED else f"returned to {case.inspector or 'its inspector'}"
            self.notify(f"Case {printable(case.case_ref)} {said}.", markup=False)
            self.load()

        self.app.push_screen(ReviewDecisionScreen(case.uuid, status), decided)

    def action_toggle(self) -> None:
        self.which = RETURNED if self.which == AWAITING else AWAITING
        self.query_one(CaseTable).show_rows([])
        self._title()
        self.load()

    def action_back(self) -> None:
        self.dismiss()
