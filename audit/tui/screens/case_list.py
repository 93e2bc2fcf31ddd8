"""The case list: one page of cases at a time, filtered and sorted in SQL.

A page is read by a worker on its own connection, so typing in the filter never
waits for the database, and a 100k-case file costs one page, never every row.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Input, Static
from textual.worker import get_current_worker

from audit.errors import AuditError
from audit.store import STATUS_COMPLETE, STATUS_IN_PROGRESS, Case, Store
from audit.moderation import check_may_see
from audit.store import current_user
from audit.tui.answering import progress
from audit.tui.paging import AGAIN, DELETED, FIRST, LAST, PAGE_SIZE, ROWS, CaseQuery, Move, Page, read_page
from audit.tui.format import case_status_cell, local_time, shown, status_label
from audit.tui.widgets.case_table import CaseTable, Column, Row
from audit.tui.widgets.key_bar import KeyBar

FILTER_DELAY = 0.12  # seconds of quiet typing before the filter is applied

#: (column key, heading, the store's sort key, alignment)
COLUMNS = [
    ("case_ref", "Ref", "case_ref", "left"),
    ("site", "Site", "site", "left"),
    ("inspector", "Inspector", "inspector", "left"),
    ("status", "Status", "status", "left"),
    ("answered", "Answered", "progress", "right"),
    ("updated_at", "Last edited", "updated_at", "left"),
]
SORT_NAMES = {"case_ref": "ref", "site": "site", "inspector": "inspector", "status": "status",
              "progress": "% answered", "updated_at": "last edited"}
SORT_CYCLE = ["updated_at", "case_ref", "site", "inspector", "status", "progress"]
#: the status filter's last step shows the deleted cases (and only them): where d restores one
STATUS_CYCLE = [None, STATUS_IN_PROGRESS, STATUS_COMPLETE, "returned", "approved", DELETED]


class CaseListScreen(Screen):
    """Pick a case to audit, or start a new one."""

    class PageShown(Message, bubble=False):
        """A page of cases is on screen (posted after the refresh that draws it)."""

        def __init__(self, total: int | None, rows: int) -> None:
            super().__init__()
            self.total = total
            self.rows = rows

    HELP = (
        "The cases in this database, newest edit first. Enter opens a case; n starts a new one. "
        "/ filters by ref, site or inspector as you type; o changes the order and r reverses it; "
        "s shows one site (for a merged database); c shows cases of one status only, and last the deleted "
        "cases. d deletes the highlighted case (it asks why; the case keeps its history, never counts, and can be "
        "restored: among the deleted cases, d restores it). Cases returned by a "
        "reviewer come first; v opens the review queue (for quality leads). q quits. "
        "Moving past the last row loads the next page; home and end go to the first and the last case. "
        "The filter matches the start of a ref, site or inspector."
    )

    AUTO_FOCUS = "#cases"

    BINDINGS = [
        Binding("n", "new_case", "New", id="cases.new"),
        Binding("slash", "focus_filter", "Filter", id="cases.filter"),
        Binding("o", "cycle_sort", "Order", id="cases.sort"),
        Binding("r", "reverse_sort", "Reverse the order", show=False, id="cases.reverse"),
        Binding("s", "pick_site", "Site", id="cases.site"),
        Binding("c", "cycle_status", "Status", id="cases.status"),
        Binding("f", "figures", "Figures", id="cases.figures"),
        Binding("v", "review_queue", "Queue", id="cases.review_queue"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="cases.clear_filter"),
        Binding("down", "focus_table", "To the list", show=False, id="cases.to_list"),
        Binding("q", "app.quit", "Quit", id="cases.quit"),
        # listed by ? (the key bar keeps to one line at 80 columns)
        Binding("d", "delete_case", "Delete or restore", show=False, id="cases.delete"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.query_state = CaseQuery()
        self.page: Page | None = None  # the page shown
        self.case_total: int | None = None  # of the query shown (None while it is counted)
        self._counted: CaseQuery | None = None  # the query case_total belongs to
        self._generation = 0  # of the latest move: a page read for an older one is dropped
        self._pending_rows = 0  # rows asked for past the shown page while the next one is read
        self.loaded = False  # a page has been shown at least once
        self._first_resume = True
        self._filter_timer: Timer | None = None
        self._cursor_case: str | None = None  # uuid to put the cursor on after the next load

    def compose(self) -> ComposeResult:
        yield Static(id="list-title")
        yield Input(placeholder="Filter by ref, site or inspector  (press / to type here)", id="filter")
        yield CaseTable(id="cases")
        yield Static(id="list-empty")
        yield Static(id="list-status")
        yield KeyBar()

    def on_mount(self) -> None:
        self._add_columns()
        # the site shown is the list's filter, said once, in the status line (the two once disagreed)
        who = current_user()  # recorded with every answer and change made here
        self.query_one("#list-title", Static).update(Text.assemble(
            ("audit ", "bold"), (shown(str(self.app.db_path)), "bold cyan"), ("  ·  changes recorded as ", "dim"),
            (shown(who), "bold"), ("  (audit user set NAME)", "dim")))
        self.watch(self.app, "integrity", self._show_status, init=False)
        # The first page is read here, before the first frame: bounded, indexed queries (no keypress
        # can be waiting yet), so the list appears with its rows; the total is counted after it.
        try:
            self._show_page(self.query_state, self._generation, read_page(self.app.store, self.query_state, Move(FIRST)))
        except (AuditError, sqlite3.Error) as exc:
            self.app.notify(str(exc), title="Could not read cases", severity="error", markup=False)
        self.count_cases(self.query_state)

    def on_screen_resume(self) -> None:
        # every return to the list (from a case, a new case, the figures) shows fresh numbers
        if self.loaded and not self._first_resume:
            self.reload()
        self._first_resume = False

    # -- loading -------------------------------------------------------------------------
    @property
    def page_offset(self) -> int | None:
        return self.page.start if self.page is not None else 0

    def reload(self, *, cursor: str = "keep") -> None:
        """Read the shown page again (``keep``), or the first page (``first``); the total is counted again."""
        if cursor == "keep" and self._cursor_case is None:
            self._cursor_case = self.query_one(CaseTable).highlighted_key
        self._counted = None
        self._move(Move(AGAIN) if cursor == "keep" else Move(FIRST))

    def _move(self, move: Move) -> None:
        self._generation += 1
        self.load_page(self.query_state, move, self.page, self._generation)

    @work(thread=True, exclusive=True, group="case-page", exit_on_error=False)
    def load_page(self, query: CaseQuery, move: Move, shown: Page | None, generation: int) -> None:
        worker = get_current_worker()
        try:
            store = self.app.reader()
            try:
                page = read_page(store, query, move, shown)
                if not worker.is_cancelled:
                    self.app.call_from_thread(self._show_page, query, generation, page)
                total = None if self._counted == query else store.case_total(**query.filters())
            finally:
                store.close()
        except (AuditError, sqlite3.Error) as exc:
            if not worker.is_cancelled:
                self.app.call_from_thread(self.app.notify, str(exc), title="Could not read cases", severity="error", markup=False)
            return
        if total is not None and not worker.is_cancelled:
            self.app.call_from_thread(self._show_total, query, total)

    @work(thread=True, exclusive=True, group="case-count", exit_on_error=False)
    def count_cases(self, query: CaseQuery) -> None:
        worker = get_current_worker()
        try:
            store = self.app.reader()
            try:
                total = store.case_total(**query.filters())
            finally:
                store.close()
        except (AuditError, sqlite3.Error):
            return  # the page's own read says what is wrong
        if not worker.is_cancelled:
            self.app.call_from_thread(self._show_total, query, total)

    def _show_total(self, query: CaseQuery, total: int) -> None:
        if query != self.query_state:
            return
        self.case_total, self._counted = total, query
        page = self.page
        if page is not None and page.start is None and page.at_end:  # the last page: its place is now known
            self.page = replace(page, start=max(total - len(page.cases), 0))
        self._show_status()

    def _show_page(self, query: CaseQuery, generation: int, page: Page) -> None:
        if query != self.query_state or generation != self._generation:  # a newer move or filter came meanwhile
            return
        self._pending_rows = 0
        if self._counted != query:
            self.case_total = None
        elif page.start is None and page.at_end and self.case_total is not None:
            page = replace(page, start=max(self.case_total - len(page.cases), 0))
        self.page = page
        rows = page.cases
        target = page.cursor
        if self._cursor_case:
            uuids = [c.uuid for c in rows]
            if self._cursor_case in uuids:
                target = uuids.index(self._cursor_case)
        self._cursor_case = None
        self.query_one(CaseTable).show_rows([Row(case.uuid, self._cells(case)) for case in rows], cursor=target)
        self.loaded = True
        self._show_status()
        self.call_after_refresh(self._page_drawn, self.case_total, len(rows))

    def _page_drawn(self, total: int | None, rows: int) -> None:
        self.post_message(self.PageShown(total, rows))

    @staticmethod
    def _cells(case: Case) -> tuple:
        return (
            case.case_ref,
            case.site,
            case.inspector or "",
            case_status_cell(case),
            f"{progress(case.answered_count, case.applicable_count)}%",
            local_time(case.updated_at),
        )

    def _add_columns(self) -> None:
        query = self.query_state
        columns = []
        for key, heading, sort_key, align in COLUMNS:
            if sort_key == query.order_by:
                heading = f"{heading} {'▼' if query.descending else '▲'}"
            columns.append(Column(key, heading, align))
        self.query_one(CaseTable).set_columns(columns)

    def _show_status(self, *_: object) -> None:
        query = self.query_state
        parts = []
        page, total = self.page, self.case_total
        shown = len(page.cases) if page is not None else 0
        of = "…" if total is None else f"{total:,}"
        if not shown:
            parts.append("no cases")
        elif page.start is not None:
            parts.append(f"cases {page.start + 1:,}–{page.start + shown:,} of {of}")
        else:
            parts.append(f"the last {shown:,} cases of {of}")
        order = "newest first" if query.descending else "oldest first"
        if query.order_by != "updated_at":
            order = "descending" if query.descending else "ascending"
        parts.append(f"order: {SORT_NAMES[query.order_by]}, {order}")
        parts.append(f"site: {query.site or 'all sites'}")
        if query.status == DELETED:
            parts.append("deleted cases only (d restores one)")
        elif query.status:
            parts.append(f"status: {status_label(query.status)}")
        if not self.app.writable:  # from the first frame until the check has passed
            parts.append("checking the file…")
        self.query_one("#list-status", Static).update(Text(" · ".join(parts)))
        empty = self.query_one("#list-empty", Static)
        empty_list = self.loaded and (self.page is None or not self.page.cases)
        if empty_list:
            if query.filtered:
                empty.update(Text("No cases match. Press escape to clear the filter, s for all sites, c for every status."))
            else:
                empty.update(
                    Text.assemble(f"No cases in {self.app.db_path.name} yet.\n\nPress ", ("n", "bold"),
                                  " to start a new case, or ", ("?", "bold"), " for the keys.")
                )
            empty.display = True
        else:
            empty.display = False
        self.query_one(CaseTable).set_class(empty_list, "empty")

    def _requery(self, **changes) -> None:
        self.query_state = replace(self.query_state, **changes)
        self.reload(cursor="first")

    # -- events --------------------------------------------------------------------------
    @on(CaseTable.PageRequest)
    def _page(self, event: CaseTable.PageRequest) -> None:
        """The cursor went ``rows`` past the page (a held key: its presses add up while the page is read)."""
        page = self.page
        if page is None or not page.cases:
            return
        if event.rows > 0 and page.at_end and self._pending_rows >= 0:
            self.query_one(CaseTable).move_cursor(len(page.cases) - 1)
            return
        if event.rows < 0 and page.before is None and self._pending_rows <= 0:
            self.query_one(CaseTable).move_cursor(0)
            return
        self._pending_rows += event.rows
        self._move(Move(ROWS, self._pending_rows))

    @on(CaseTable.EndRequest)
    def _end(self, event: CaseTable.EndRequest) -> None:
        """Home and end: the true first and last case of the list, not of the page."""
        page, table = self.page, self.query_one(CaseTable)
        if page is None or not page.cases:
            return
        if event.last and page.at_end:
            table.move_cursor(len(page.cases) - 1)
        elif not event.last and page.before is None:
            table.move_cursor(0)
        else:
            self._pending_rows = 0
            self._move(Move(LAST if event.last else FIRST))

    @on(CaseTable.RowSelected, "#cases")
    def _open(self, event: CaseTable.RowSelected) -> None:
        self.open_case(event.key)

    @on(CaseTable.HeaderSelected, "#cases")
    def _sort_by_header(self, event: CaseTable.HeaderSelected) -> None:
        sort_key = {key: sort for key, _, sort, _ in COLUMNS}[event.column_key]
        if sort_key == self.query_state.order_by:
            self.action_reverse_sort()
        else:
            self._sort(sort_key)

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
        text = event.value.strip()
        self._filter_timer = self.set_timer(FILTER_DELAY, lambda: self._apply_filter(text))

    def _apply_filter(self, text: str) -> None:
        if text != self.query_state.search:
            self._requery(search=text)

    @on(Input.Submitted, "#filter")
    def _filter_done(self, event: Input.Submitted) -> None:
        self._apply_filter(event.value.strip())
        self.set_focus(self.query_one(CaseTable))

    # -- actions -------------------------------------------------------------------------
    def open_case(self, case_uuid: str) -> None:
        from audit.tui.screens.walkthrough import WalkthroughScreen

        self._cursor_case = case_uuid
        try:  # a case whose rubric cannot be read is refused here, with the store's message
            store = self.app.store
            case = store.case(case_uuid)
            if case.deleted:
                self.app.notify(f"{shown(case.case_ref)} is deleted ({shown(case.deleted_reason)}): d restores it first.",
                                title="A deleted case", severity="warning", markup=False)
                return
            store.rubric_for(case)
            check_may_see(store, case_uuid, current_user())  # a moderator sees the original after their own marking
        except AuditError as exc:
            self.app.notify(str(exc), title="Cannot open this case", severity="error", markup=False)
            return
        self.app.push_screen(WalkthroughScreen(case_uuid))

    def action_delete_case(self) -> None:
        """d: delete the highlighted case, with a reason (or, among the deleted cases, restore it)."""
        uuid = self.query_one(CaseTable).highlighted_key
        if uuid is None:
            return
        case = self.app.store.case(uuid)
        if case.deleted:
            self._restore_case(case)
            return
        from audit.tui.screens.delete_case import DeleteCaseScreen

        def decided(reason: str | None) -> None:
            if reason:
                self._write(lambda: self.app.cases.delete_case(uuid, reason),
                            f"Case {shown(case.case_ref)} at {shown(case.site)} deleted: it is kept with its history and "
                            "never counted. c (the last step: deleted cases) shows it, where d restores it.")

        self.app.push_screen(DeleteCaseScreen(case), decided)

    def _restore_case(self, case: Case) -> None:
        self._cursor_case = None
        self._write(lambda: self.app.cases.restore_case(case.uuid),
                    f"Case {shown(case.case_ref)} at {shown(case.site)} restored: it counts again and is back in the list.")

    def _write(self, change, said: str) -> None:
        """A change through the case service, once the file has passed its check; then the list again."""
        def write() -> None:
            try:
                change()
            except AuditError as exc:
                self.app.notify(str(exc), title="Not changed", severity="error", markup=False)
                return
            self.app.notify(said, markup=False)
            if self.is_attached:
                self.reload()

        if not self.app.when_writable(write):
            self.app.notify("Checking the database file first: the change is made the moment the check passes.",
                            markup=False)

    def action_new_case(self) -> None:
        from audit.tui.screens.new_case import NewCaseScreen

        def created(case: Case | None) -> None:
            if case is not None:
                if self.query_state.filtered:  # show the new case, whatever the filter was
                    self.query_one("#filter", Input).value = ""
                    self.query_state = CaseQuery(order_by=self.query_state.order_by, descending=self.query_state.descending)
                self.open_case(case.uuid)

        self.app.push_screen(NewCaseScreen(), created)

    # focus moves at once (set_focus), not after the keys already typed: "/SU0" filters by SU0
    def action_focus_filter(self) -> None:
        self.set_focus(self.query_one("#filter", Input))

    def action_focus_table(self) -> None:
        self.set_focus(self.query_one(CaseTable))

    def action_clear_filter(self) -> None:
        filter_input = self.query_one("#filter", Input)
        if filter_input.value:
            filter_input.value = ""
            self._requery(search="")
        self.set_focus(self.query_one(CaseTable))

    def _sort(self, order_by: str) -> None:
        self.query_state = replace(self.query_state, order_by=order_by, descending=order_by == "updated_at")
        self._add_columns()
        self.reload(cursor="first")

    def action_cycle_sort(self) -> None:
        index = SORT_CYCLE.index(self.query_state.order_by)
        self._sort(SORT_CYCLE[(index + 1) % len(SORT_CYCLE)])

    def action_reverse_sort(self) -> None:
        self.query_state = replace(self.query_state, descending=not self.query_state.descending)
        self._add_columns()
        self.reload(cursor="first")

    def action_cycle_status(self) -> None:
        index = STATUS_CYCLE.index(self.query_state.status)
        self._requery(status=STATUS_CYCLE[(index + 1) % len(STATUS_CYCLE)])

    def action_pick_site(self) -> None:
        from audit.tui.screens.site_picker import SitePickerScreen

        def picked(site: str | None | bool) -> None:
            if site is not False:
                self._requery(site=site)

        self.app.push_screen(SitePickerScreen(self.query_state.site), picked)

    def action_review_queue(self) -> None:
        from audit.tui.screens.review_queue import ReviewQueueScreen

        self.app.push_screen(ReviewQueueScreen())

    def action_figures(self) -> None:
        from audit.tui.screens.figures import FiguresScreen

        self.app.push_screen(FiguresScreen())
