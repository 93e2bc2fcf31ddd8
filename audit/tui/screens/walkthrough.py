"""The case walk-through: one question at a time, only those that apply.

Every answer is committed by ``Store.set_answer`` before the screen says
"saved". An answer that would make earlier answers stop applying is first
previewed (``Store.preview_answer``) and confirmed in a dialog; cancelled, nothing
is written and the widget shows the stored value again.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input, Label, Static

from audit.engine import Evaluation, evaluate
from audit.rubric import Question, Rubric
from audit.store import STATUS_COMPLETE, Case, StoreError
from audit.tui.format import clock, shorten, status_label
from audit.tui.widgets.answer import AnswerInput, ChoiceAnswer
from audit.tui.widgets.answer import LETTER_CODES
from audit.tui.widgets.outline import ANSWERED, ATTENTION, NOT_APPLICABLE, PENDING, RETIRED, TODO, Outline, outline_text
from audit.values import ValueProblem, coerce, display
from audit.tui.widgets.key_bar import KeyBar
from audit.tui.widgets.review_note import ReviewNote

PLACEHOLDERS = {
    "text": "type the answer, then enter",
    "date": "YYYY-MM-DD or DD/MM/YYYY, then enter",
}


def question_states(rubric: Rubric, evaluation: Evaluation, rows: dict[str, dict]) -> dict[str, str]:
    """Each question's mark in the outline.

    Attention: a required question that applies, is unanswered, and lies before
    the furthest answered question (it was passed over). Pending: a question
    whose rule cannot be decided until an earlier question is answered.
    """
    furthest = max((rubric.position(qid) for qid in evaluation.visible), default=-1)
    states: dict[str, str] = {}
    for qid in rubric.question_ids:
        if qid not in evaluation.applicable:
            row = rows.get(qid)
            if row and row["state"] == "retired" and row["value"] is not None:
                states[qid] = RETIRED
            else:
                rule = evaluation.excluded_by(qid)
                undecided = rule is not None and rule.evaluate(evaluation.visible) is None
                states[qid] = PENDING if undecided else NOT_APPLICABLE
        elif qid in evaluation.visible:
            states[qid] = ANSWERED
        elif rubric.question(qid).required and rubric.position(qid) < furthest:
            states[qid] = ATTENTION
        else:
            states[qid] = TODO
    return states


class WalkthroughScreen(Screen):
    """Answer one case's questions, in order, by keyboard."""

    HELP = (
        "Answer the case's questions one at a time; only those that apply are asked, and each answer is saved "
        "the moment you give it. For a choice, press its number (or y / n / a): it is saved and the next question "
        "appears. For several-choice questions, space or a number ticks an option; enter moves on. Type numbers "
        "and text, then enter. Tab moves to the evidence notes. The outline marks ✓ answered, · to do, "
        "! passed over, – does not apply, × answer retired."
    )

    BINDINGS = [
        Binding("enter", "next", "Next", id="walk.next"),
        Binding("left", "previous", "Previous", id="walk.previous"),
        Binding("shift+tab", "previous", "Previous", id="walk.previous_tab"),
        Binding("u", "next_todo", "Next to do", id="walk.next_todo"),
        Binding("backspace", "clear_answer", "Clear", show=False, id="walk.clear"),
        Binding("e", "focus_note", "Evidence", id="walk.note"),
        Binding("o", "focus_outline", "Outline", show=False, id="walk.outline"),
        Binding("r", "review", "Review", id="walk.review"),
        Binding("h", "history", "History", id="walk.history"),
        Binding("escape", "back", "Cases", id="walk.back"),
    ]

    class AnswerSaved(Message, bubble=False):
        """An answer was committed to the database."""

        def __init__(self, question_id: str, value: Any, retired: list[str]) -> None:
            super().__init__()
            self.question_id = question_id
            self.value = value
            self.retired = retired

    class QuestionShown(Message, bubble=False):
        """A question is on screen (posted after the refresh that draws it)."""

        def __init__(self, question_id: str) -> None:
            super().__init__()
            self.question_id = question_id

    def __init__(self, case_uuid: str) -> None:
        super().__init__()
        self.case_uuid = case_uuid
        self.current: str | None = None
        self.feedback_text = ""

    # -- layout --------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static(id="case-header")
        with Horizontal(id="walk-body"):
            yield Outline(id="outline")
            with Vertical(id="question-panel"):
                yield ReviewNote(id="review-note")
                yield Static(id="q-place")
                yield Static(id="q-text")
                yield Static(id="q-prompts")
                yield ChoiceAnswer(id="choice")
                yield AnswerInput(id="typed")
                yield Static(id="q-hint")
                yield Static(id="q-feedback")
                with Vertical(id="note-box"):
                    yield Label("Evidence notes  (tab or e; saved on enter or when you leave)", id="note-label")
                    yield Input(id="note", placeholder="what in the case file supports this answer")
        yield KeyBar()

    def on_mount(self) -> None:
        store = self.app.store
        self.case: Case = store.case(self.case_uuid)
        self.rubric: Rubric = store.rubric_for(self.case)
        self._load_answers()
        outline = self.query_one(Outline)
        number = {qid: i + 1 for i, qid in enumerate(self.rubric.question_ids)}
        outline.build(
            [
                (s.id, s.title, [(q.id, outline_text(number[q.id], q.text)) for q in s.questions])
                for s in self.rubric.sections
            ]
        )
        start = self.evaluation.next_unanswered() or self.evaluation.next_applicable() or self.rubric.question_ids[0]
        self.show_question(start)

    # -- state from the store --------------------------------------------------------------
    def _load_answers(self) -> None:
        """Re-read this case's answers, counts and status (after every write)."""
        store = self.app.store
        self.case = store.case(self.case_uuid)
        self.rows = store.answer_rows(self.case_uuid)
        current = {qid: row["value"] for qid, row in self.rows.items() if row["state"] == "current" and row["value"] is not None}
        self.evaluation = evaluate(self.rubric, current)

    def _value(self, qid: str) -> Any:
        return self.evaluation.answers.get(qid)

    # -- drawing -------------------------------------------------------------------------
    def _draw_header(self, saved_at: str | None = None) -> None:
        case = self.case
        missing = len(self.evaluation.missing_required)
        progress = f"{case.answered_count}/{case.applicable_count} answered ({case.percent_answered}%)"
        parts = [
            (f" {case.case_ref} ", "bold reverse"),
            f" {case.site}" + (f" · {case.inspector}" if case.inspector else ""),
            " │ ",
            (f"{self.rubric.id} v{self.rubric.version}", "cyan"),
            " │ ",
            (progress, "bold"),
            (f", {missing} required to go" if missing else ", all required answered", "" if missing else "green"),
            " │ ",
            (status_label(case.status), "green" if case.status == STATUS_COMPLETE else "yellow"),
        ]
        if saved_at:
            parts += [" │ ", (f"saved {clock(saved_at)}", "green")]
        self.query_one("#case-header", Static).update(Text.assemble(*parts))

    def _draw_outline(self, states: dict[str, str]) -> None:
        sections = {}
        for section in self.rubric.sections:
            ids = [q.id for q in section.questions]
            applicable = [qid for qid in ids if qid in self.evaluation.applicable]
            done = sum(1 for qid in applicable if qid in self.evaluation.visible)
            if applicable:
                tail = f"  {done}/{len(applicable)}"
            elif any(states[qid] == PENDING for qid in ids):
                tail = "  waits on earlier answers"
            else:
                tail = "  does not apply"
            style = "bold" if applicable else "dim"
            sections[section.id] = Text.assemble((section.title, style), (tail, "dim"))
        self.query_one(Outline).show_states(states, self.current, sections)

    def show_question(self, qid: str, *, focus: bool = True) -> None:
        if self.current and self.current != qid and not self._save_what_was_typed():
            return
        self.current = qid
        question = self.rubric.question(qid)
        section = self.rubric.section_of(qid)
        applies = qid in self.evaluation.applicable
        applicable = self.evaluation.applicable_questions
        states = question_states(self.rubric, self.evaluation, self.rows)
        so_far = " so far" if PENDING in states.values() else ""
        if applies:
            place = f"{section.title}  ·  question {applicable.index(qid) + 1} of the {len(applicable)} that apply{so_far}"
        else:
            place = f"{section.title}  ·  does not apply to this case"
        self.query_one("#q-place", Static).update(Text(place, style="dim"))
        self.query_one(ReviewNote).show(self.case, qid, self.rubric)
        self.query_one("#q-text", Static).update(Text(question.text, style="bold" if applies else "dim"))
        prompts = "\n".join(f"• {p}" for p in question.prompts)
        self.query_one("#q-prompts", Static).update(Text(prompts, style="italic"))
        self.query_one("#q-prompts", Static).display = bool(prompts)

        choice = self.query_one(ChoiceAnswer)
        typed = self.query_one(AnswerInput)
        choice.display = question.is_choice
        typed.display = not question.is_choice
        value = self._value(qid) if applies else None
        if question.is_choice:
            choice.show([(code, opt.label) for code, opt in question.options.items()], multi=question.type == "multi", value=value)
            choice.disabled = not applies
        else:
            typed.show("" if value is None else str(value), kind=question.type, placeholder=self._placeholder(question))
            typed.disabled = not applies
        self.query_one("#q-hint", Static).update(self._hint(question, applies))
        note = self.rows.get(qid, {}).get("note") or ""
        self.query_one("#note", Input).value = note
        self.query_one("#note", Input).disabled = not applies and not note
        self._feedback(self.feedback_text)
        self.feedback_text = ""
        self._draw_header(self._last_saved())
        self._draw_outline(states)
        self.query_one(Outline).point_at(qid)
        if focus:
            if applies:
                (choice if question.is_choice else typed).focus()
            else:
                self.query_one(Outline).focus()
        self.call_after_refresh(self.post_message, self.QuestionShown(qid))

    def _placeholder(self, question: Question) -> str:
        if question.type == "integer":
            low, high = question.range or (None, None)
            return f"a whole number from {low} to {high}, then enter"
        return PLACEHOLDERS.get(question.type, "type the answer, then enter")

    def _hint(self, question: Question, applies: bool) -> Text:
        hint = self._keys_hint(question, applies)
        following = self.evaluation.next_applicable(after=question.id)
        if applies and following in self.evaluation.visible and self.evaluation.unanswered:
            hint.append("  u jumps to the next question still to do.", style="dim")
        return hint

    def _keys_hint(self, question: Question, applies: bool) -> Text:
        if not applies:
            rule = self.evaluation.excluded_by(question.id)
            why = f" (rule: {rule.source})" if rule is not None else ""
            row = self.rows.get(question.id)
            kept = ""
            if row and row["value"] is not None and row["state"] == "retired":
                kept = f"\nIts earlier answer ({display(question, row['value'])}) was retired: kept in the history, never counted."
            undecided = rule is not None and rule.evaluate(self.evaluation.visible) is None
            if undecided:
                return Text(f"Not asked yet: it depends on an answer not given yet{why}.{kept}", style="dim")
            return Text(f"Not asked: this question does not apply to this case{why}.{kept}", style="dim")
        if question.type == "multi":
            return Text("Space or a number ticks or unticks an option (each tick is saved); enter moves on.", style="dim")
        if question.is_choice:
            letters = [key for key, code in LETTER_CODES.items() if code in question.options]
            keys = "a number" + (f" (or {' / '.join(letters)})" if letters else "")
            more = "; beyond 10 options: ↑ ↓ then space" if len(question.options) > 10 else ""
            return Text(f"Press {keys} to answer and move on{more}; enter skips; ← goes back.", style="dim")
        return Text("Enter saves and moves on; shift+tab goes back.", style="dim")

    def _feedback(self, message: str, style: str = "green") -> None:
        self.query_one("#q-feedback", Static).update(Text(message, style=style))

    def _last_saved(self) -> str | None:
        stamps = [row["answered_at"] for row in self.rows.values() if row.get("answered_at")]
        return max(stamps) if stamps else None

    # -- answering -----------------------------------------------------------------------
    @on(ChoiceAnswer.Picked)
    def _picked(self, event: ChoiceAnswer.Picked) -> None:
        qid = self.current
        if qid is None or qid not in self.evaluation.applicable:
            return
        question = self.rubric.question(qid)
        if question.type == "multi":
            ticked = set(self._value(qid) or [])
            ticked ^= {event.code}
            value = [code for code in question.option_codes if code in ticked] or None
            self.give_answer(qid, value, advance=False)
        else:
            self.give_answer(qid, event.code, advance=True)

    @on(Input.Submitted, "#typed")
    def _typed(self, event: Input.Submitted) -> None:
        event.stop()
        qid = self.current
        if qid is None or qid not in self.evaluation.applicable:
            return
        if not self._typed_changed(qid, event.value):
            self.action_next()
            return
        self.give_answer(qid, event.value.strip() or None, advance=True)

    def _typed_changed(self, qid: str, text: str) -> bool:
        """Whether the typed text means another value than the one stored (an invalid text does)."""
        try:
            return coerce(self.rubric.question(qid), text) != self._value(qid)
        except ValueProblem:
            return True

    def _save_what_was_typed(self) -> bool:
        """Before leaving the question: save a typed answer and the note; False means stay."""
        return self._leave_typed_answer() and self._save_note()

    def keep_what_was_typed(self) -> None:
        """Quitting: save the note, and a typed answer that can be saved as it is (one that is
        not valid, or would retire other answers, needs the inspector and is left)."""
        self._save_note()
        self._leave_typed_answer()

    def _leave_typed_answer(self) -> bool:
        """Moving away from a number or text typed without enter: save it, or say why not.

        Returns False (stay) when it cannot be saved as it is, or when saving it would
        retire other answers, which needs the inspector's enter and confirmation.
        """
        qid = self.current
        if qid is None or qid not in self.evaluation.applicable or self.rubric.question(qid).is_choice:
            return True
        text = self.query_one(AnswerInput).value
        if not self._typed_changed(qid, text):
            return True
        if self.app.refuse_write():
            return False
        try:
            affected = self.app.store.preview_answer(self.case_uuid, qid, text.strip() or None)
        except StoreError as exc:
            self._feedback("Not saved: " + str(exc).split(": ", 1)[-1] + ". Correct it, or clear it to leave.", "bold red")
            self.query_one(AnswerInput).focus()
            return False
        if affected:
            self._feedback("This change alters which questions apply: press enter to review and save it.", "yellow")
            self.query_one(AnswerInput).focus()
            return False
        return self._save(qid, text.strip() or None, advance=False, show=False)

    def give_answer(self, qid: str, value: Any, *, advance: bool) -> None:
        """Save an answer, asking first if it would retire earlier answers."""
        if self.app.refuse_write():
            self.show_question(qid)
            return
        try:
            affected = self.app.store.preview_answer(self.case_uuid, qid, value)
        except StoreError as exc:
            self._feedback(str(exc).split(": ", 1)[-1], "bold red")
            return
        if not affected:
            self._save(qid, value, advance)
            return
        from audit.tui.screens.confirm import ConfirmRetireScreen

        listed = [
            (other, self.rubric.question(other).text, display(self.rubric.question(other), self._value(other)))
            for other in affected
        ]
        change = self._describe_change(qid, value)

        def decided(confirmed: bool | None) -> None:
            if confirmed:
                self._save(qid, value, advance)
            else:
                self.feedback_text = "Not changed: the earlier answer is kept and nothing was saved."
                self.show_question(qid)
                self.feedback_text = ""
                self._feedback("Not changed: the earlier answer is kept and nothing was saved.", "yellow")

        self.app.push_screen(ConfirmRetireScreen(change, listed), decided)

    def _describe_change(self, qid: str, value: Any) -> Text:
        """'Unticking “Drug misuse”', 'Changing “question” to “label”' (value already checked by preview)."""
        question = self.rubric.question(qid)
        asked = ("“" + shorten(question.text, 70) + "”", "italic")
        if value is None:
            return Text.assemble("Clearing the answer to ", asked)
        if question.type == "multi":
            old, new = set(self._value(qid) or []), set(value)
            removed = [question.label_for(c) for c in question.option_codes if c in old - new]
            added = [question.label_for(c) for c in question.option_codes if c in new - old]
            verb, labels = ("Unticking", removed) if removed else ("Ticking", added)
            return Text.assemble(f"{verb} ", ("“" + "”, “".join(labels) + "”", "bold"), " in ", asked)
        coerced = coerce(question, value)
        return Text.assemble("Changing ", asked, " to ", ("“" + display(question, coerced) + "”", "bold"))

    def _save(self, qid: str, value: Any, advance: bool, *, show: bool = True) -> bool:
        """Commit one answer, then draw the result (``show``) or leave it for the next question drawn."""
        try:
            result = self.app.store.set_answer(self.case_uuid, qid, value)  # committed on return
        except StoreError as exc:
            self._feedback(str(exc), "bold red")
            return False
        was_complete = self.case.status == STATUS_COMPLETE
        had_gaps = bool(self.evaluation.missing_required)
        self._load_answers()
        self.post_message(self.AnswerSaved(qid, result.value, list(result.retired)))
        question = self.rubric.question(qid)
        said = "Cleared" if result.value is None else f"Saved: {display(question, result.value)}"
        if result.retired:
            said += f". Retired {len(result.retired)} answer(s) that no longer apply (kept in the history)."
        gaps_just_closed = had_gaps and not self.evaluation.missing_required and result.status != STATUS_COMPLETE
        if was_complete and result.status != STATUS_COMPLETE:
            said += " The case is back in progress: a required question now needs an answer."
        elif gaps_just_closed:
            said += "  Every required question is answered: press r to review and mark the case complete."
        self.feedback_text = said
        if not show:  # leaving this question: say it on the next one
            self.feedback_text = f"{said} (question {self.rubric.position(qid) + 1})"
            return True
        following = self.evaluation.next_applicable(after=qid) if advance else None
        if advance and following is None:
            self.feedback_text = said + ("  That was the last question." if gaps_just_closed else
                                         "  That was the last question: press r to review and mark the case complete.")
        self.show_question(following or qid)
        return True

    # -- notes ---------------------------------------------------------------------------
    def _save_note(self) -> bool:
        """Save the note box if it changed; False when it could not be saved (it stays in the box)."""
        qid = self.current
        if qid is None:
            return True
        box = self.query_one("#note", Input)
        text = box.value.strip()
        if text == (self.rows.get(qid, {}).get("note") or ""):
            return True
        if self.app.refuse_write():
            return False
        try:
            self.app.store.set_note(self.case_uuid, qid, text or None)
        except StoreError as exc:
            self._feedback(str(exc), "bold red")
            return False
        self._load_answers()
        self._feedback("Evidence note saved.")
        return True

    @on(Input.Submitted, "#note")
    def _note_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._save_note()
        self._focus_answer()

    @on(Input.Blurred, "#note")
    def _note_left(self) -> None:
        if self.is_attached:
            self._save_note()

    def _focus_answer(self) -> None:
        qid = self.current
        if qid is None:
            return
        question = self.rubric.question(qid)
        target = self.query_one(ChoiceAnswer) if question.is_choice else self.query_one(AnswerInput)
        if qid in self.evaluation.applicable:
            target.focus()

    @on(Outline.Jump)
    def _jump(self, event: Outline.Jump) -> None:
        self.show_question(event.question_id)

    # -- actions -------------------------------------------------------------------------
    def action_next(self) -> None:
        if self.current is None:
            return
        following = self.evaluation.next_applicable(after=self.current)
        if following is None:
            self._feedback("That was the last question that applies: press r to review and mark the case complete.", "yellow")
            return
        self.show_question(following)

    def action_previous(self) -> None:
        if self.current is None:
            return
        if self.focused is self.query_one("#note", Input) and not self._save_note():
            return
        before = self.evaluation.previous_applicable(self.current)
        if before is None:
            self._feedback("This is the first question.", "yellow")
            return
        self.show_question(before)

    def action_next_todo(self) -> None:
        todo = self.evaluation.next_unanswered(after=self.current)
        if todo is None:
            self._feedback("Every question that applies has an answer.", "green")
            return
        self.show_question(todo)

    def action_clear_answer(self) -> None:
        qid = self.current
        if qid is None or qid not in self.evaluation.applicable or self._value(qid) is None:
            return
        self.give_answer(qid, None, advance=False)

    def action_focus_note(self) -> None:
        note = self.query_one("#note", Input)
        note.disabled = False
        note.focus()

    def action_focus_outline(self) -> None:
        self.query_one(Outline).focus()

    def action_review(self) -> None:
        from audit.tui.screens.review import ReviewScreen

        if not self._save_what_was_typed():
            return

        def back(jump_to: str | None) -> None:
            self._load_answers()
            self.show_question(jump_to or self.current or self.rubric.question_ids[0])

        self.app.push_screen(ReviewScreen(self.case_uuid), back)

    def action_history(self) -> None:
        from audit.tui.screens.history import HistoryScreen

        if not self._save_what_was_typed():
            return
        # redrawn on return: an answer typed without enter was saved just now
        self.app.push_screen(HistoryScreen(self.case_uuid), lambda _: self.show_question(self.current))

    def action_back(self) -> None:
        """Escape: from the notes or the outline back to the answer; from the answer to the case list."""
        if not self._save_what_was_typed():
            return
        away = self.focused in (self.query_one("#note", Input), self.query_one(Outline))
        if away and self.current in self.evaluation.applicable:
            self._focus_answer()
            return
        self.dismiss()
