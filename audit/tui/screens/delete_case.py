"""Deleting a case: a dialog that asks why. The case is soft-deleted by the case service
(kept with its history, never counted, listed only among the deleted cases, restorable)."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from audit.store import Case
from audit.tui.format import shown, status_label


class DeleteCaseScreen(ModalScreen[str | None]):
    """Dismisses with the reason to delete the case for, or None to keep it."""

    HELP = (
        "Type why the case is deleted (for example: created on the wrong rubric), then enter. The case is kept with "
        "its answers and history, never counted in a figure or export, and hidden from the list: c shows the deleted "
        "cases (its last step), where d restores one. escape keeps the case."
    )
    BINDINGS = [Binding("escape", "keep", "Keep the case", id="delete.keep")]

    def __init__(self, case: Case) -> None:
        super().__init__()
        self.case = case

    def compose(self) -> ComposeResult:
        case = self.case
        with Vertical(id="delete-dialog", classes="dialog confirm-dialog"):
            yield Label(f"Delete case {shown(case.case_ref)}?", classes="dialog-title")
            yield Static(Text.assemble(
                (shown(case.case_ref), "bold"), f" at {shown(case.site)}, {status_label(case.status)}, "
                f"{case.answered_count} of {case.applicable_count} answered. It is kept with its history, never counted, "
                "and can be restored (c shows deleted cases; d restores one).",
            ), id="confirm-message")
            yield Input(placeholder="why (for example: created on the wrong rubric)", id="delete-reason")
            yield Static(id="delete-error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Delete it  (enter)", variant="error", id="delete")
                yield Button("Keep it  (esc)", variant="primary", id="keep")

    def on_mount(self) -> None:
        self.set_focus(self.query_one("#delete-reason", Input))

    def _delete(self) -> None:
        reason = " ".join(self.query_one("#delete-reason", Input).value.split())
        if not reason:
            self.query_one("#delete-error", Static).update("Say why the case is deleted first: it is kept in the history.")
            self.set_focus(self.query_one("#delete-reason", Input))
            return
        self.dismiss(reason)

    @on(Input.Submitted, "#delete-reason")
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._delete()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "delete":
            self._delete()
        else:
            self.dismiss(None)

    def action_keep(self) -> None:
        self.dismiss(None)
