"""Confirmation dialogs: a yes/no question, and the retire-on-change dialog (an answer that makes
earlier answers stop applying). The safe choice is the default button in both."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from audit.tui.dialogs import fit_list
from audit.tui.format import shorten

RETIRE_LIST_LINES = 12  # at most; fewer on a short terminal


class ConfirmRetireScreen(ModalScreen[bool]):
    """Dismisses True to save the change and retire the listed answers, False to keep everything."""

    HELP = (
        "The new answer makes the listed questions stop applying. Retired answers stay in the case's history "
        "but are never counted. r retires them and saves the new answer; escape (or k) keeps the old answer "
        "and saves nothing."
    )
    BINDINGS = [
        Binding("r", "decide(True)", "Retire and save", id="retire.confirm"),
        Binding("escape,k", "decide(False)", "Keep old answer", id="retire.cancel"),
    ]

    def __init__(self, change: Text, affected: list[tuple[str, str, str]]) -> None:
        """``change`` says what the inspector is doing; ``affected`` lists (question id, question
        text, current answer label) for each answer that would be retired."""
        super().__init__()
        self.change = change
        self.affected = affected

    def compose(self) -> ComposeResult:
        count = len(self.affected)
        with Vertical(id="retire-dialog", classes="dialog"):
            yield Label(f"This change retires {count} answer{'s' if count != 1 else ''}", classes="dialog-title")
            many = count != 1
            yield Static(
                Text.assemble(
                    self.change,
                    f" means {'these questions no longer apply' if many else 'this question no longer applies'}. "
                    f"{'Their answers' if many else 'Its answer'} will be kept in the history but never counted:",
                )
            )
            with VerticalScroll(id="retire-list"):
                for qid, text, answer in self.affected:
                    yield Static(Text.assemble("  • ", (shorten(text, 60), ""), "  ", (answer, "bold"), (f"  ({qid})", "dim")))
            with Horizontal(classes="buttons"):
                yield Button(f"Retire {count} and save  (r)", variant="warning", id="confirm")
                yield Button("Keep the old answer  (esc)", variant="primary", id="cancel")

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#cancel", Button))  # the safe choice is the default
        self.call_after_refresh(self.on_resize)

    def on_resize(self) -> None:
        fit_list(self, self.query_one("#retire-dialog"), self.query_one("#retire-list"), RETIRE_LIST_LINES)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm")

    def action_decide(self, confirmed: bool) -> None:
        self.dismiss(confirmed)


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question: ``y`` (or its button) confirms; escape, ``n`` or the default button keeps things as they are."""

    HELP = "y does what the button on the left says; escape (or n) does nothing and goes back."
    BINDINGS = [
        Binding("y", "decide(True)", "Yes", id="confirm.yes"),
        Binding("escape,n", "decide(False)", "No", id="confirm.no"),
    ]

    def __init__(self, title: str, message: Text, confirm: str, cancel: str) -> None:
        super().__init__()
        self.title_text = title
        self.message = message
        self.confirm_label = confirm
        self.cancel_label = cancel

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog confirm-dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Static(self.message, id="confirm-message")
            with Horizontal(classes="buttons"):
                yield Button(f"{self.confirm_label}  (y)", variant="warning", id="yes")
                yield Button(f"{self.cancel_label}  (esc)", variant="primary", id="no")

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#no", Button))

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_decide(self, confirmed: bool) -> None:
        self.dismiss(confirmed)


class RestoreRetiredScreen(ModalScreen[bool]):
    """Retired answers apply again: dismisses True to bring them all back, False to go through them one by one
    (each is offered on its question, pre-selected: enter brings it back)."""

    HELP = (
        "A change made these questions apply again. Their earlier answers were retired (kept in the history, never "
        "counted) when they stopped applying. a brings them all back as they were (the history says so); escape (or "
        "o) leaves them unanswered for now: each is offered on its own question, where enter brings it back."
    )
    BINDINGS = [
        Binding("a", "decide(True)", "Bring all back", id="restore.all"),
        Binding("escape,o", "decide(False)", "One by one", id="restore.one_by_one"),
    ]

    def __init__(self, retired: list[tuple[str, int, str, str]]) -> None:
        """``retired`` lists (question id, its number, question text, the earlier answer's label)."""
        super().__init__()
        self.retired = retired

    def compose(self) -> ComposeResult:
        count = len(self.retired)
        many = count != 1
        with Vertical(id="restore-dialog", classes="dialog"):
            yield Label(f"{count} earlier answer{'s' if many else ''} can come back", classes="dialog-title")
            yield Static(
                f"{'These questions apply' if many else 'This question applies'} again. "
                f"{'Their answers were' if many else 'Its answer was'} retired when {'they' if many else 'it'} "
                "stopped applying, and kept in the history:"
            )
            with VerticalScroll(id="restore-list"):
                for _qid, number, text, answer in self.retired:
                    yield Static(Text.assemble(f"  {number:>3}  ", (shorten(text, 56), ""), "  ", (answer, "bold")))
            with Horizontal(classes="buttons"):
                yield Button(f"Bring {'all ' + str(count) if many else 'it'} back  (a)", variant="success", id="all")
                yield Button("One by one  (esc)", variant="primary", id="one")

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#one", Button))  # nothing is written unless asked for
        self.call_after_refresh(self.on_resize)

    def on_resize(self) -> None:
        fit_list(self, self.query_one("#restore-dialog"), self.query_one("#restore-list"), RETIRE_LIST_LINES)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "all")

    def action_decide(self, everything: bool) -> None:
        self.dismiss(everything)
