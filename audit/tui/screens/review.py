"""Review a case: required questions still unanswered, with a jump to each; mark complete or reopen."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from audit.store import STATUS_COMPLETE, STATUS_IN_PROGRESS, StoreError
from audit.tui.dialogs import fit_list
from audit.tui.format import shorten, status_label
from audit.tui.widgets.key_bar import KeyBar

MISSING_LIST_LINES = 20  # at most; fewer on a short terminal


class ReviewScreen(ModalScreen[str | None]):
    """Dismisses with a question id to jump to, or None to go back where you were."""

    HELP = (
        "The required questions that apply to this case and have no answer yet. Enter jumps to one. "
        "c marks the case complete (only when none are left); o reopens a complete case; escape goes back."
    )
    BINDINGS = [
        Binding("c", "complete", "Mark complete", id="review.complete"),
        Binding("o", "reopen", "Reopen", id="review.reopen"),
        Binding("escape", "back", "Back", id="review.back"),
    ]

    def __init__(self, case_uuid: str) -> None:
        super().__init__()
        self.case_uuid = case_uuid
        self.case = None
        self.missing: list[str] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="review-dialog", classes="dialog"):
            yield Label("Review", classes="dialog-title")
            yield Static(id="review-summary")
            yield Static(id="review-feedback")  # above the list, so a long list never hides it
            yield OptionList(id="missing")
        yield KeyBar()

    def on_mount(self) -> None:
        self.refresh_review()

    def on_resize(self) -> None:
        fit_list(self, self.query_one("#review-dialog"), self.query_one("#missing"), MISSING_LIST_LINES)

    def _feedback(self, text: Text) -> None:
        self.query_one("#review-feedback", Static).update(text)
        self.call_after_refresh(self.on_resize)  # the message takes lines from the list

    def refresh_review(self) -> None:
        store = self.app.store
        self.case = store.case(self.case_uuid)
        rubric = store.rubric_for(self.case)
        evaluation = store.evaluation(self.case_uuid)
        self.missing = evaluation.missing_required
        optional = [qid for qid in evaluation.unanswered if qid not in self.missing]
        retired = sum(1 for row in store.answer_rows(self.case_uuid).values() if row["state"] == "retired")
        case = self.case
        lines = [
            Text.assemble((f"{case.case_ref}", "bold"), f" at {case.site}  ·  status: ",
                          (status_label(case.status), "green" if case.status == STATUS_COMPLETE else "yellow")),
            Text(f"{case.answered_count} of {case.applicable_count} questions that apply are answered ({case.percent_answered}%)."),
        ]
        if self.missing:
            lines.append(Text(f"{len(self.missing)} required question(s) still need an answer before the case can be marked complete:", style="yellow"))
        else:
            lines.append(Text("Every required question that applies has an answer. Press c to mark the case complete."
                              if case.status != STATUS_COMPLETE else "The case is complete. Press o to reopen it.", style="green"))
        if optional:
            lines.append(Text(f"{len(optional)} optional question(s) unanswered.", style="dim"))
        if retired:
            lines.append(Text(f"{retired} retired answer(s) kept in the history, not counted.", style="dim"))
        self.query_one("#review-summary", Static).update(Text("\n").join(lines))
        options = self.query_one("#missing", OptionList)
        options.clear_options()
        number = {qid: i + 1 for i, qid in enumerate(rubric.question_ids)}
        for qid in self.missing:
            question = rubric.question(qid)
            section = rubric.section_of(qid).title
            options.add_option(Option(Text(f"{number[qid]:>3}  {shorten(section, 18):<18}  {shorten(question.text, 70)}"), id=qid))
        options.display = bool(self.missing)
        if self.missing:
            options.highlighted = 0
            options.focus()
        self.refresh_bindings()
        self.call_after_refresh(self.on_resize)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # False hides the key: only the status change that fits is offered
        if self.case is None:
            return action not in ("complete", "reopen")
        if action == "complete":
            return self.case.status != STATUS_COMPLETE
        if action == "reopen":
            return self.case.status == STATUS_COMPLETE
        return True

    @on(OptionList.OptionSelected, "#missing")
    def _jump(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def _set_status(self, status: str, said: str) -> None:
        def write() -> None:
            try:
                self.app.store.set_status(self.case_uuid, status)
            except StoreError as exc:
                if self.is_attached:
                    self._feedback(Text(str(exc), style="bold red"))
                return
            if self.is_attached:
                self.refresh_review()
                self._feedback(Text(said, style="green"))
            self.notify(said, markup=False)

        if not self.app.when_writable(write):
            self._feedback(Text("Checking the database file first: the status changes the moment the check passes.",
                                style="yellow"))

    def action_complete(self) -> None:
        if self.missing:
            self._feedback(
                Text(f"Not yet: {len(self.missing)} required question(s) need an answer first. Enter jumps to the highlighted one.", style="bold red")
            )
            return
        self._set_status(STATUS_COMPLETE, f"Case {self.case.case_ref} marked complete.")

    def action_reopen(self) -> None:
        self._set_status(STATUS_IN_PROGRESS, f"Case {self.case.case_ref} reopened.")

    def action_back(self) -> None:
        self.dismiss(None)
