"""Choose one site's cases (leads browsing a merged database) or all of them."""

from __future__ import annotations

import sqlite3

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList
from textual.widgets.option_list import Option

from audit.errors import AuditError
from audit.tui.dialogs import fit_list
from audit.tui.format import shown

ALL_SITES = "\x00all"  # an option id no site can have
SITE_LIST_LINES = 20  # at most; fewer on a short terminal


class SitePickerScreen(ModalScreen[str | None | bool]):
    """Dismisses with a site, None for all sites, or False when cancelled."""

    HELP = "Pick the site whose cases the list shows, or All sites. Escape keeps the current choice."
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="site.cancel")]

    def __init__(self, current: str | None) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="site-dialog", classes="dialog"):
            yield Label("Show the cases of", classes="dialog-title")
            yield OptionList(Option("reading sites…", disabled=True), id="sites")

    def on_mount(self) -> None:
        self.load_sites()

    def on_resize(self) -> None:
        fit_list(self, self.query_one("#site-dialog"), self.query_one("#sites"), SITE_LIST_LINES)

    @work(thread=True, exit_on_error=False)
    def load_sites(self) -> None:
        try:
            store = self.app.reader()
            try:
                counts = [(site, store.case_count(site=site)) for site in store.sites()]
                total = store.case_count()
            finally:
                store.close()
        except (AuditError, sqlite3.Error) as exc:
            self.app.call_from_thread(self.app.notify, str(exc), severity="error", markup=False)
            return
        self.app.call_from_thread(self._show, counts, total)

    def _show(self, counts: list[tuple[str, int]], total: int) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_option(Option(Text(f"All sites ({total:,} cases)"), id=ALL_SITES))
        for site, count in counts:
            options.add_option(Option(Text(f"{shown(site)} ({count:,})"), id=site))
        sites = [site for site, _ in counts]
        options.highlighted = sites.index(self.current) + 1 if self.current in sites else 0
        options.focus()
        self.call_after_refresh(self.on_resize)

    @on(OptionList.OptionSelected)
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(None if event.option.id == ALL_SITES else event.option.id)

    def action_cancel(self) -> None:
        self.dismiss(False)
