"""The quality lead's decision on one complete case: approve it, or return it with a comment.

A returned case goes back to its inspector with the comment, optionally about
one question (shown on the case and on that question). The change is the case
service's (history records who and when); this dialog only gathers it.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Select, Static

from audit.errors import AuditError
from audit.identity import printable
from audit.store import STATUS_APPROVED, STATUS_RETURNED, current_user
from audit.tui.format import local_time, shorten

WHOLE_CASE = "(the case as a whole)"


class ReviewDecisionScreen(ModalScreen[str | None]):
    """Dismisses with the status saved ('approved' or 'returned'), or None when nothing was saved."""

    HELP = (
        "Approve the case, or return it to its inspector with a comment saying what to change. The comment "
        "may name one question: the inspector sees it on the case and on that question. Tab moves between "
        "the choices; ctrl+s saves; escape closes without saving. Who decided, and when, is kept in the history."
    )
    BINDINGS = [
        Binding("ctrl+s", "save", "Save", id="decision.save", priority=True),
        Binding("escape", "cancel", "Cancel", id="decision.cancel"),
    ]

    def __init__(self, case_uuid: str, decision: str = STATUS_APPROVED) -> None:
        super().__init__()
        self.case_uuid = case_uuid
        self.decision = decision
        self.who = current_user()

    def compose(self) -> ComposeResult:
        store = self.app.store
        case = store.case(self.case_uuid)
        rubric = store.rubric_for(case)
        self.case = case
        with Vertical(id="decision-dialog", classes="dialog"):
            yield Label(f"Review case {printable(case.case_ref)} at {printable(case.site)}", classes="dialog-title")
            yield Static(Text.assemble(
                f"Marked by {printable(case.inspector or 'no inspector')}, complete since {local_time(case.updated_at)}; "
                f"{case.answered_count} of {case.applicable_count} questions answered. ",
                (f"You review as {printable(self.who)}.", "dim"),
            ), id="decision-case")
            with RadioSet(id="decision-choice", compact=True):
                yield RadioButton("Approve", value=self.decision == STATUS_APPROVED, id="choose-approve")
                yield RadioButton("Return to the inspector", value=self.decision == STATUS_RETURNED, id="choose-return")
            yield Label("Comment (needed to return; optional to approve)", classes="field-label")
            yield Input(placeholder="what should the inspector look at again?", id="decision-comment", compact=True)
            yield Label("About question (optional)", classes="field-label")
            numbered = [(f"{i}. {shorten(q.text, 60)}", q.id) for i, q in enumerate(rubric.questions, 1)]
            yield Select(numbered, prompt=WHOLE_CASE, id="decision-question", compact=True)
            yield Static(id="decision-error", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Save  (ctrl+s)", variant="primary", id="save", compact=True)
                yield Button("Cancel  (esc)", id="cancel", compact=True)

    def on_mount(self) -> None:
        self._follow_choice()
        self.query_one("#decision-comment" if self.decision == STATUS_RETURNED else "#decision-choice").focus()

    @property
    def chosen(self) -> str:
        return STATUS_RETURNED if self.query_one("#choose-return", RadioButton).value else STATUS_APPROVED

    @on(RadioSet.Changed)
    def _choice_changed(self) -> None:
        self._follow_choice()

    def _follow_choice(self) -> None:
        returning = self.chosen == STATUS_RETURNED
        self.query_one("#decision-question", Select).disabled = not returning
        self.query_one("#save", Button).label = "Return  (ctrl+s)" if returning else "Approve  (ctrl+s)"
        self.query_one("#save", Button).variant = "warning" if returning else "success"

    @on(Button.Pressed, "#save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    @on(Input.Submitted, "#decision-comment")
    def _comment_entered(self) -> None:
        self.action_save()

    def action_save(self) -> None:
        status = self.chosen
        comment = self.query_one("#decision-comment", Input).value.strip()
        question = self.query_one("#decision-question", Select).value
        question_id = question if status == STATUS_RETURNED and isinstance(question, str) else None
        if status == STATUS_RETURNED and not comment:
            self._error("Say what the inspector should change: a returned case needs a comment.")
            self.query_one("#decision-comment", Input).focus()
            return

        def save() -> None:
            try:
                self.app.store.service(self.who).set_status(self.case_uuid, status, comment=comment or None,
                                                            question_id=question_id)
            except AuditError as exc:
                if self.is_attached:
                    self._error(str(exc))
                return
            if self.is_attached:
                self.dismiss(status)

        if not self.app.when_writable(save):
            self._error("Checking the database file first: the decision is saved the moment the check passes.")

    def _error(self, message: str) -> None:
        error = self.query_one("#decision-error", Static)
        error.update(Text(printable(message), style="bold red"))
        error.display = True

    def action_cancel(self) -> None:
        self.dismiss(None)
