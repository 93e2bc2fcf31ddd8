"""Live figure tables for the open database, and completion by site and inspector.

The figures come from the same tabulation as ``audit export`` (report files
found in the exports search path whose datasets use this database's rubric),
so a lead sees the report's numbers while cases come in. Everything is read
by workers on their own connections; a cheap change check re-counts only when
the cases have changed.
"""

from __future__ import annotations

import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Static, TabbedContent, TabPane

from audit.errors import AuditError
from audit.rubric import search_path
from audit.store import Store
from audit.tui.answering import progress
from audit.tui.format import shown
from audit.tui.widgets.agreement import AgreementView
from audit.tui.widgets.key_bar import KeyBar
from audit.tui.widgets.ratings_view import RatingsView, live_ratings

POLL_SECONDS = 3.0


@dataclass
class FigureResult:
    tables: list[Any] = field(default_factory=list)  # audit.tabulate.FigureTable
    reports: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@contextmanager
def only_rubric(store: Store, rubric_id: str) -> Iterator[None]:
    """While open, this connection sees only the cases (and their answers) of one rubric.

    Temporary views named ``cases`` and ``answers`` shadow the tables of the same name
    (SQLite looks in the temp schema first); they live on this connection only and never
    touch the file. A database holding a case of another rubric (one wrong key in the
    new-case dialog once made one) still shows its figures, and says what it left out.
    """
    literal = "'" + rubric_id.replace("'", "''") + "'"
    conn = store.conn
    conn.execute(f"CREATE TEMP VIEW cases AS SELECT * FROM main.cases WHERE rubric_id = {literal}")
    conn.execute("CREATE TEMP VIEW answers AS SELECT a.* FROM main.answers a "
                 f"JOIN main.cases c ON c.uuid = a.case_uuid WHERE c.rubric_id = {literal}")
    try:
        yield
    finally:
        conn.execute("DROP VIEW IF EXISTS temp.answers")
        conn.execute("DROP VIEW IF EXISTS temp.cases")


def cases_by_rubric(store: Store) -> dict[str, int]:
    return dict(store.conn.execute("SELECT rubric_id, count(*) FROM cases GROUP BY rubric_id ORDER BY rubric_id").fetchall())


def live_figures(store: Store) -> FigureResult:
    """Tabulate every report whose datasets use a rubric of this database's cases, each over
    that rubric's cases only; cases of another rubric are left out and said to be."""
    from audit.figures import load_report
    from audit.tabulate import tabulate_report

    result = FigureResult()
    by_rubric = cases_by_rubric(store)
    if not by_rubric:
        result.notes.append("No cases yet: figures appear as soon as a case has answers.")
        return result
    # the database is one dataset: the rubric most of its cases use (a lead's export combines several files)
    rubric_id = max(by_rubric, key=lambda r: (by_rubric[r], r))
    counted_rubrics: set[str] = set()
    for folder in search_path("exports"):
        for path in sorted(folder.glob("*.y*ml")):
            try:
                report = load_report(path)
            except AuditError as exc:
                result.notes.append(f"{path.name} skipped: {str(exc).splitlines()[0]}")
                continue
            datasets = {name: store for name, dataset in report.datasets.items() if dataset.rubric_id == rubric_id}
            if not datasets:
                continue
            try:
                with only_rubric(store, rubric_id):
                    tables = tabulate_report(report, datasets)
            except AuditError as exc:
                result.notes.append(f"{path.name}: {exc}")
                continue
            counted_rubrics.add(rubric_id)
            result.reports.append(f"{report.title} ({path.name})")
            result.tables += tables.tables
            if tables.skipped:
                result.notes.append(
                    f"{len(tables.skipped)} figure(s) of {path.name} need another database (merge it in, or use audit export): "
                    + ", ".join(tables.skipped)
                )
    if counted_rubrics:
        left_out = {rubric_id: n for rubric_id, n in by_rubric.items() if rubric_id not in counted_rubrics}
        if left_out:
            result.notes.append(
                "Left out of these figures: " + ", ".join(f"{n:,} case(s) of rubric {rubric_id}" for rubric_id, n in left_out.items())
                + f" (the figures count {', '.join(sorted(counted_rubrics))} cases only)."
            )
    if not result.tables and not result.notes:
        result.notes.append("No figure-table file uses this database's rubric (looked in: "
                            + ", ".join(str(p) for p in search_path("exports")) + ").")
    return result


def changes(store: Store) -> tuple:
    """What the poll compares: the cases' change token, then the ratings' judgements (the Ratings tab)."""
    from audit.ratings import judgements_token

    return (*store.change_token(), *judgements_token(store))


def base_note() -> str:
    from audit.tabulate import BASE_NOTE

    return BASE_NOTE


def figure_renderable(table: Any) -> Group:
    """One figure table as the report lays it out: rows, and count / % / base under each column."""
    grid = Table(show_edge=False, header_style="bold", pad_edge=False, expand=False)
    grid.add_column("", no_wrap=False, max_width=48)
    parts = table.parts
    for column in table.columns:
        for part in parts:
            heading = table.header(part) if len(table.columns) == 1 or not column else f"{column}\n{table.header(part)}"
            grid.add_column(Text(heading), justify="right")
    section = None
    for row in table.rows:
        if row.section and row.section != section:
            section = row.section
            grid.add_row(Text(shown(section), style="bold italic"), *[""] * (len(table.columns) * len(parts)))
        cells = []
        for cell in row.cells:
            for part in parts:
                value = cell.part(part)
                if value is None:
                    cells.append("")
                else:
                    cells.append(f"{value}%" if part == "percent" else f"{value:,}")
        grid.add_row(Text(shown(row.label), style="bold" if row.is_total else ""), *cells)
    title = Text(shown(table.heading), style="bold cyan")
    extra = [Text(f"({'chart' if table.is_chart else 'table'} in the report)", style="dim")]
    if table.note:
        extra.append(Text(shown(table.note), style="dim italic"))
    return Group(title, *extra, grid, Text(""))


class FiguresScreen(Screen):
    HELP = (
        "The report's figure tables counted from this database, refreshed as cases change, and how far each "
        "site and inspector has got, the agreement of moderated cases, and the ratings of a rating scheme for "
        "this database's rubric (with the judgements recorded by audit ratings set). t switches between them; u recounts "
        "now; escape goes back. Progress is rounded down: 100% only when every case (or question) is done."
    )
    BINDINGS = [
        Binding("escape", "back", "Back", id="figures.back"),
        Binding("u", "recount", "Recount", id="figures.recount"),
        Binding("t", "switch_tab", "Switch tab", id="figures.switch_tab"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.token: tuple | None = None
        self.figures = FigureResult()  # what is on screen

    def compose(self) -> ComposeResult:
        yield Static(id="figures-title")
        with TabbedContent(id="figure-tabs"):
            with TabPane("Figures", id="tab-figures"):
                with VerticalScroll(id="figures-scroll"):
                    yield Static("Counting…", id="figures-body")
            with TabPane("Moderation", id="tab-moderation"):
                yield AgreementView(id="agreement")
            with TabPane("Completion", id="tab-completion"):
                with VerticalScroll():
                    yield Static(Text("By site", style="bold"))
                    yield DataTable(id="by-site", cursor_type="row", zebra_stripes=True)
                    yield Static(Text("By inspector", style="bold"))
                    yield DataTable(id="by-inspector", cursor_type="row", zebra_stripes=True)
            with TabPane("Ratings", id="tab-ratings"):
                yield RatingsView(id="ratings")
        yield KeyBar()

    def on_mount(self) -> None:
        for table_id, heading in (("#by-site", "Site"), ("#by-inspector", "Inspector")):
            self.query_one(table_id, DataTable).add_columns(heading, "Cases", "Complete", "In progress", "% complete", "% answered")
        self.query_one("#figures-title", Static).update(
            Text.assemble(("Figures ", "bold"), (str(self.app.db_path), "bold cyan"), ("  ·  counting…", "dim"))
        )
        self.query_one("#figures-scroll").focus()
        self.recount()
        self.set_interval(POLL_SECONDS, self.check_for_changes)

    @work(thread=True, exclusive=True, group="figures", exit_on_error=False)
    def recount(self) -> None:
        from audit.moderation_report import moderation_report

        try:
            store = self.app.reader()
            try:
                token = changes(store)
                sites = store.completion("site")
                inspectors = store.completion("inspector")
                figures = live_figures(store)
                moderation = moderation_report(store)
                ratings = live_ratings(store)
                live = sum(store.status_counts().values())  # cases in the figures: moderation copies aside
            finally:
                store.close()
        except (AuditError, sqlite3.Error) as exc:
            self.app.call_from_thread(self.app.notify, str(exc), title="Could not count", severity="error", markup=False)
            return
        self.app.call_from_thread(self._show, token, sites, inspectors, figures, live)
        self.app.call_from_thread(self.query_one(AgreementView).show, moderation)
        self.app.call_from_thread(self.query_one(RatingsView).show, ratings)

    @work(thread=True, exclusive=True, group="figures-poll", exit_on_error=False)
    def check_for_changes(self) -> None:
        if self.token is None:  # the first count is still running: restarting it would starve it on a slow machine
            return
        try:
            store = self.app.reader()
            try:
                token = changes(store)
            finally:
                store.close()
        except (AuditError, sqlite3.Error):
            return
        if token != self.token:
            self.app.call_from_thread(self.recount)

    def _show(self, token: tuple, sites: list[tuple], inspectors: list[tuple], figures: FigureResult,
              live: int | None = None) -> None:
        self.token = token
        self.figures = figures
        cases = token[0] if live is None else live
        self.query_one("#figures-title", Static).update(
            Text.assemble(("Figures ", "bold"), (str(self.app.db_path), "bold cyan"), f"  ·  {cases:,} case(s)",
                          ("  ·  live: recounted when cases change", "dim"))
        )
        for table_id, rows in (("#by-site", sites), ("#by-inspector", inspectors)):
            table = self.query_one(table_id, DataTable)
            table.clear()
            for group, count, complete, answered, applicable in rows:
                table.add_row(
                    Text(shown(group) or "(none)"), Text(f"{count:,}", justify="right"), Text(f"{complete:,}", justify="right"),
                    Text(f"{count - complete:,}", justify="right"),
                    Text(f"{progress(complete, count)}%", justify="right"),
                    Text(f"{progress(answered or 0, applicable or 0)}%", justify="right"),
                )
        parts: list[Any] = []
        if figures.reports:
            parts.append(Text("From " + "; ".join(figures.reports), style="dim"))
            parts.append(Text(base_note(), style="dim italic"))
        parts += [Text(note, style="yellow") for note in figures.notes]
        if parts:
            parts.append(Text(""))
        parts += [figure_renderable(table) for table in figures.tables]
        self.query_one("#figures-body", Static).update(Group(*parts))

    def action_recount(self) -> None:
        self.recount()

    def action_switch_tab(self) -> None:
        tabs = self.query_one(TabbedContent)
        order = ["tab-figures", "tab-moderation", "tab-completion", "tab-ratings"]
        tabs.active = order[(order.index(tabs.active) + 1) % len(order)]
        focus = {"tab-figures": "#figures-scroll", "tab-moderation": "#agreement-scroll", "tab-completion": "#by-site",
                 "tab-ratings": "#ratings"}
        self.query_one(focus[tabs.active]).focus()

    def action_back(self) -> None:
        self.dismiss()
