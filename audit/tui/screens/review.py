"""Review a case: every question that applies with its answer and evidence note, required gaps
first; enter on any row goes to that question. Mark the case complete, or reopen it."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from audit.cases import CaseState
from audit.store import STATUS_COMPLETE, STATUS_IN_PROGRESS, StoreError
from audit.tui.answering import answer_label, is_answered, is_read_only, progress
from audit.tui.dialogs import fit_list
from audit.tui.format import shown, status_label
from audit.tui.widgets.key_bar import KeyBar

LIST_LINES = 200  # at most; fewer on a short terminal (the list scrolls)


class ReviewScreen(ModalScreen[str | None]):
    """Dismisses with a question id to go to, or None to go back where you were."""

    HELP = (
        "Every question that applies to this case, with its answer and evidence note: the required ones "
        "still without an answer first, then the optional ones, then those answered, each under its own heading. "
        "Enter on any row goes to that question. c marks the case complete (only when no required question is "
        "left); o reopens a complete case so that its answers can be changed; escape goes back."
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
        self.rows: list[str] = []  # question ids in the order listed

    def compose(self) -> ComposeResult:
        with Vertical(id="review-dialog", classes="dialog"):
            yield Label("Review", classes="dialog-title")
            yield Static(id="review-summary")
            yield Static(id="review-feedback")  # above the list, so a long list never hides it
            yield OptionList(id="questions")
        yield KeyBar()

    def on_mount(self) -> None:
        self.refresh_review()

    def on_resize(self) -> None:
        fit_list(self, self.query_one("#review-dialog"), self.query_one("#questions"), LIST_LINES)

    def _feedback(self, text: Text) -> None:
        self.query_one("#review-feedback", Static).update(text)
        self.call_after_refresh(self.on_resize)  # the message takes lines from the list

    def refresh_review(self, state: CaseState | None = None) -> None:
        """Draw the case as the case service says it is (read once when the screen opens)."""
        if state is None:
            state = self.app.cases.load(self.case_uuid)
        self.case = case = state.case
        rubric, answer_rows, evaluation = state.rubric, state.rows, state.evaluation
        number = {qid: i + 1 for i, qid in enumerate(rubric.question_ids)}
        applicable = evaluation.applicable_questions
        answered = [qid for qid in applicable if is_answered(evaluation, qid)]
        self.missing = [qid for qid in applicable if qid not in answered and rubric.question(qid).required]
        optional = [qid for qid in applicable if qid not in answered and qid not in self.missing]
        retired = sum(1 for row in answer_rows.values() if row["state"] == "retired")

        done = progress(case.answered_count, case.applicable_count)
        lines = [
            Text.assemble((shown(case.case_ref), "bold"), f" at {shown(case.site)}  ·  status: ",
                          (status_label(case.status), "green" if case.status == STATUS_COMPLETE else "yellow")),
            Text(f"{case.answered_count} of {case.applicable_count} questions that apply are answered ({done}%)."),
        ]
        if self.missing:
            lines.append(Text(f"{len(self.missing)} required question(s) still need an answer before the case can "
                              "be marked complete: they are listed first.", style="yellow"))
        elif is_read_only(case.status):
            lines.append(Text("The case is complete, so its answers are read-only. Press o to reopen it.", style="green"))
        else:
            lines.append(Text("Every required question that applies has an answer. Press c to mark the case complete.",
                              style="green"))
        if retired:
            lines.append(Text(f"{retired} retired answer(s) kept in the history, not counted.", style="dim"))
        self.query_one("#review-summary", Static).update(Text("\n").join(lines))

        options = self.query_one("#questions", OptionList)
        highlighted = options.highlighted_option.id if options.highlighted_option is not None else None
        options.clear_options()
        self.rows = []
        groups = [
            ("Required, no answer yet", self.missing),
            ("Optional, no answer yet", optional),
            ("Answered", answered),
        ]
        for heading, ids in groups:
            if not ids:
                continue
            options.add_option(Option(Text(f"{heading} ({len(ids)})", style="bold"), disabled=True))
            for qid in ids:
                question = rubric.question(qid)
                row = answer_rows.get(qid, {})
                value = evaluation.answers.get(qid)
                answer = answer_label(question, value) if qid in answered else "no answer"
                text = Text.assemble((f"{number[qid]:>3}  ", "dim"), shown(question.text), "\n     → ",
                                     (answer, "bold" if qid in answered else "yellow italic"))
                if row.get("note"):
                    text.append(f"\n     evidence: {shown(row['note'])}", style="dim italic")
                options.add_option(Option(text, id=qid))
                self.rows.append(qid)
        if self.rows:
            options.highlighted = self._index_of(highlighted if highlighted in self.rows else self.rows[0])
            self.set_focus(options)
        self.refresh_bindings()
        self.call_after_refresh(self.on_resize)

    def _index_of(self, qid: str) -> int:
        options = self.query_one("#questions", OptionList)
        return next(i for i in range(options.option_count) if options.get_option_at_index(i).id == qid)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # False hides the key: only the status change that fits is offered
        if self.case is None:
            return action not in ("complete", "reopen")
        if action == "complete":
            return not is_read_only(self.case.status)
        if action == "reopen":
            return is_read_only(self.case.status)
        return True

    @on(OptionList.OptionSelected, "#questions")
    def _jump(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)

    def _set_status(self, status: str, said: str) -> None:
        def write() -> None:
            try:
                outcome = self.app.cases.set_status(self.case_uuid, status)
            except StoreError as exc:
                if self.is_attached:
                    self._feedback(Text(str(exc), style="bold red"))
                return
            if self.is_attached:
                self.refresh_review(outcome.state)
                self._feedback(Text(said, style="green"))
            self.notify(said, markup=False)

        if not self.app.when_writable(write):
            self._feedback(Text("Checking the database file first: the status changes the moment the check passes.",
                                style="yellow"))

    def action_complete(self) -> None:
        if self.missing:
            self.query_one("#questions", OptionList).highlighted = self._index_of(self.missing[0])
            self._feedback(
                Text(f"Not yet: {len(self.missing)} required question(s) need an answer first. Enter goes to the "
                     "highlighted one.", style="bold red")
            )
            return
        self._set_status(STATUS_COMPLETE, f"Case {shown(self.case.case_ref)} marked complete: its answers are now read-only.")

    def action_reopen(self) -> None:
        self._set_status(STATUS_IN_PROGRESS, f"Case {shown(self.case.case_ref)} reopened: its answers can be changed.")

    def action_back(self) -> None:
        self.dismiss(None)
