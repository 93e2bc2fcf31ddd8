"""The new-case dialog: case_ref, site, inspector and rubric, checked by the store."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, OptionList, Static
from textual.widgets.option_list import Option

from audit.errors import AuditError
from audit.identity import near_miss
from audit.rubric import Rubric, load_rubric, search_path
from audit.store import Case, StoreError
from audit.tui.format import shown


@dataclass(frozen=True)
class RubricChoice:
    rubric: Rubric
    source: str  # "this database" or the file it was read from

    def label(self, default: bool) -> Text:
        where = "in this database" if self.source == "this database" else f"from {Path(self.source).name}"
        if default:
            where = "this database's cases use it"
        return Text.assemble((f"{self.rubric.id} v{self.rubric.version}", "bold"), f"  {self.rubric.title}", (f"  ({where})", "dim"))


class NewCaseScreen(ModalScreen[Case | None]):
    """Dismisses with the created case, or None when cancelled."""

    HELP = (
        "Type the case's reference, its site and the inspector, then press enter (from any field) to create the "
        "case and start answering. The rubric is the one this database's cases use; choosing another with the "
        "arrow keys asks you to confirm it (its cases would be left out of this database's figures). Escape cancels."
    )
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="new_case.cancel")]

    def __init__(self) -> None:
        super().__init__()
        self.choices: list[RubricChoice] = []
        self.default_sha: str | None = None  # the rubric of the database's newest case
        self.finding_rubrics = True  # rubrics are being found: an enter pressed meanwhile waits for them
        self._submit_when_found = False

    def compose(self) -> ComposeResult:
        self.known_sites = self.app.store.sites()  # each site once, as first spelt
        with Vertical(id="new-case-dialog", classes="dialog"):
            yield Label("New case", classes="dialog-title")
            yield Static(id="new-case-error", classes="error")  # on top: seen on any terminal
            with Grid(id="new-case-fields"):
                yield Label("Case reference")
                yield Input(id="case_ref", placeholder="e.g. T001")
                yield Label("Site")
                # the sites this database knows, completed as typed (right arrow takes the suggestion)
                yield Input(id="site", placeholder="e.g. sheffield",
                            suggester=SuggestFromList(self.known_sites, case_sensitive=False))
                yield Label("Inspector")
                yield Input(id="inspector", placeholder="your initials or name")
            yield Label("Rubric  (this database's, unless you choose another with the arrow keys)")
            yield OptionList(Option("finding rubrics…", disabled=True), id="rubric")
            with Horizontal(classes="buttons"):
                yield Button("Create and start", variant="primary", id="create")
                yield Button("Cancel", id="cancel")

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#case_ref", Input))  # now: keys typed after n go here
        self.find_rubrics()

    @work(thread=True, exit_on_error=False)
    def find_rubrics(self) -> None:
        """Rubrics already in the database, then the rubric files on the search path."""
        choices: dict[str, RubricChoice] = {}
        latest: Case | None = None
        skipped: list[str] = []
        try:
            store = self.app.reader()
            try:
                for row in store.rubrics():
                    choices[row["sha256"]] = RubricChoice(store.rubric(row["sha256"]), "this database")
                recent = store.list_cases(order_by="created_at", descending=True, limit=1)
                latest = recent[0] if recent else None
            finally:
                store.close()
        except (AuditError, sqlite3.Error) as exc:
            skipped.append(str(exc))
        for folder in search_path("rubrics"):
            for path in sorted(folder.glob("*.y*ml")):
                try:
                    rubric = load_rubric(path)
                except AuditError:
                    skipped.append(path.name)
                    continue
                choices.setdefault(rubric.sha256, RubricChoice(rubric, str(path)))
        self.app.call_from_thread(self._show_rubrics, list(choices.values()), latest, skipped)

    def _show_rubrics(self, choices: list[RubricChoice], latest: Case | None, skipped: list[str]) -> None:
        self.choices = choices
        shas = [c.rubric.sha256 for c in choices]
        self.default_sha = latest.rubric_sha256 if latest is not None and latest.rubric_sha256 in shas else None
        options = self.query_one("#rubric", OptionList)
        options.clear_options()
        for index, choice in enumerate(choices):
            options.add_option(Option(choice.label(choice.rubric.sha256 == self.default_sha), id=str(index)))
        if not choices:
            options.add_option(Option("no rubric files found; put one in ./rubrics", disabled=True))
        if latest is not None:
            if self.default_sha is not None:
                options.highlighted = shas.index(self.default_sha)
            for field, value in (("site", shown(latest.site)), ("inspector", shown(latest.inspector or ""))):
                box = self.query_one(f"#{field}", Input)
                if not box.value:
                    box.value = value
        elif len(choices) == 1:
            options.highlighted = 0
        else:
            options.highlighted = None  # an empty database: make the choice a conscious one
        if not self.query_one("#site", Input).value and self.app.store.site:
            self.query_one("#site", Input).value = self.app.store.site
        if skipped:
            self.notify("Skipped rubric files that do not load: " + ", ".join(skipped), severity="warning", markup=False)
        self.finding_rubrics = False
        if self._submit_when_found:
            self._submit_when_found = False
            self.submit()

    # -- checking as you type --------------------------------------------------------------
    @on(Input.Changed, "#case_ref, #site")
    def _check_duplicate(self) -> None:
        ref = self.query_one("#case_ref", Input).value.strip()
        site = self.query_one("#site", Input).value.strip()
        existing = self.app.store.find_case(site, ref) if ref and site else None
        if existing:
            self._error(f"{ref} already exists at {site}; use another reference or open that case from the list.")
            return
        like = near_miss(site, self.known_sites)
        self._error(f"Did you mean {shown(like)}? A site spelt {shown(site)} would be counted as a new site." if like else "")

    def _error(self, message: str) -> None:
        self.query_one("#new-case-error", Static).update(Text(message))

    # -- creating ----------------------------------------------------------------------------
    @on(Input.Submitted)
    @on(OptionList.OptionSelected, "#rubric")
    @on(Button.Pressed, "#create")
    def submit(self) -> None:
        ref = self.query_one("#case_ref", Input).value.strip()
        site = self.query_one("#site", Input).value.strip()
        inspector = self.query_one("#inspector", Input).value.strip()
        rubric_list = self.query_one("#rubric", OptionList)
        for field, value, message in (
            ("case_ref", ref, "Give the case's reference."),
            ("site", site, "Give the site the case belongs to."),
        ):
            if not value:
                self._error(message)
                self.query_one(f"#{field}", Input).focus()
                return
        if self.finding_rubrics:  # typed ahead: create the case once the rubrics are listed
            self._submit_when_found = True
            return
        if rubric_list.highlighted is None or not self.choices:
            self._error("Choose a rubric: pick one in the list with the arrow keys, then press enter.")
            rubric_list.focus()
            return
        rubric = self.choices[rubric_list.highlighted].rubric
        if self.default_sha is not None and rubric.sha256 != self.default_sha:
            self._confirm_other_rubric(rubric)
            return
        self._create(ref, site, inspector, rubric)

    def _confirm_other_rubric(self, rubric: Rubric) -> None:
        """A rubric other than the database's: only with an explicit yes (one arrow key once made a
        case that figures and export then refused for the whole file)."""
        from audit.tui.screens.confirm import ConfirmScreen

        default = next(c.rubric for c in self.choices if c.rubric.sha256 == self.default_sha)
        if rubric.id == default.id:
            why = (f"{rubric.id} v{rubric.version} is another version of the rubric this database's cases use "
                   f"(v{default.version}).")
        else:
            why = (f"{rubric.id} is another rubric than the one this database's cases use ({default.id}): its cases "
                   f"are left out of this database's figures, and an export of {default.id} refuses the file.")
        message = Text.assemble(why, " Create this case with ", (f"{rubric.id} v{rubric.version}", "bold"), " anyway?")

        def decided(confirmed: bool | None) -> None:
            rubric_list = self.query_one("#rubric", OptionList)
            if confirmed:
                ref = self.query_one("#case_ref", Input).value.strip()
                site = self.query_one("#site", Input).value.strip()
                inspector = self.query_one("#inspector", Input).value.strip()
                self._create(ref, site, inspector, rubric, allow_other_rubric=True)
            else:
                rubric_list.highlighted = [c.rubric.sha256 for c in self.choices].index(self.default_sha)
                rubric_list.focus()
                self._error(f"Not created: the rubric is {default.id} v{default.version} again; press enter to create the case.")

        self.app.push_screen(
            ConfirmScreen("Another rubric?", message, f"Use {rubric.id}", f"Keep {default.id}"), decided
        )

    def _create(self, ref: str, site: str, inspector: str, rubric: Rubric, *, allow_other_rubric: bool = False) -> None:
        def create() -> None:
            try:
                case = self.app.store.create_case(ref, site, rubric, inspector or None,
                                                  allow_other_rubric=allow_other_rubric)
            except StoreError as exc:
                if self.is_attached:
                    self._error(str(exc))
                    self.query_one("#case_ref", Input).focus()
                return
            if self.is_attached:
                self.dismiss(case)

        if not self.app.when_writable(create):
            self._error("Checking the database file first: the case is created the moment the check passes.")

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
