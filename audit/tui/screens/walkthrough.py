"""The case walk-through: one question at a time, only those that apply.

Every change goes through the case service (``app.cases``: :class:`audit.cases.CaseService`),
which commits it before the screen says "saved" and returns the case as it now
is (:class:`audit.cases.CaseState`): the screen draws from that, and never reads
the case back or evaluates the rubric itself. One answer keypress is one call
and one evaluation. An answer that would make earlier answers stop applying is
not written: the service says which, the screen asks in a dialog, and calls
again with ``confirm_retire=True``. Retired answers whose question applies again
are offered back (each on its question, pre-selected, or all at once from a
dialog: ``CaseService.restore_answers``). A complete case is read-only here
until it is reopened (``ctrl+e``, or review then ``o``).

An answer redraws only what changed, in place (see "The keypress path" in
docs/ui.md): the question view's changed lines, the outline's changed lines
and the header. The screen has no containers: the header, the key bar and the
outline are split off its edges, the evidence note is docked at the bottom, and
the question view fills the rest, so that few widgets lie in the rectangle
around a frame's changes.
"""

from __future__ import annotations

import gc
from typing import Any, Callable

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Input

from audit.cases import CaseState, Outcome
from audit.engine import Evaluation
from audit.rubric import Question, Rubric
from audit.store import STATUS_COMPLETE, STATUS_IN_PROGRESS, Case, DatabaseBusy, StoreError
from audit.tui.answering import (
    ANSWERED, PENDING, TypedProblem, answer_label, expectation, is_read_only, progress, question_states,
    rubric_facts, ticked, typed_value,
)
from audit.tui.format import clock, shorten, shown, status_label
from audit.tui.widgets.key_bar import KeyBar
from audit.tui.widgets.outline import Outline, outline_text
from audit.tui.widgets.question import LETTER_CODES, NONE_KEY, QuestionView
from audit.tui.widgets.text_box import TextBox
from audit.tui.widgets.review_note import ReviewNote

CLEAR_KEY = "ctrl+x"
# what one call of the case service did
SAVED, ASK, WAITING, FAILED = "saved", "ask", "waiting", "failed"
REOPEN_KEY = "ctrl+e"


class WalkthroughScreen(Screen):
    """Answer one case's questions, in order, by keyboard."""

    HELP = (
        "Answer the case's questions one at a time; only those that apply are asked, and each answer is saved "
        "the moment you give it. For a choice, press its number (or y / n / a): it is saved and the next question "
        "appears. On a several-choice question, space or a number ticks an option, n records \"None of these\", "
        "and enter moves on. Type numbers and text, then enter. Tab moves to the evidence note. "
        "In a typed answer the letter keys type, so ctrl with the letter does the same (^n, ^o, ^r, ^t). "
        "ctrl+x clears an answer (it stays in the history). A complete case is read-only until it is reopened "
        "with ctrl+e (or in review: r, then o). A retired answer whose question applies again is offered back: "
        "enter brings it back, or choose another answer. The outline marks ✓ answered, · to do, ! passed over, – does not apply, "
        "? waits on an earlier answer, × answer retired, ↺ applies again: its retired answer is offered back."
    )

    # the plain key first: the key bar shows the first key of each action that works where the focus is
    BINDINGS = [
        Binding("enter", "next", "Next", id="walk.next"),
        Binding("left", "previous", "Back", id="walk.previous"),
        Binding("shift+tab", "previous", "Back", key_display="⇧tab", id="walk.previous_tab"),
        Binding("u", "next_todo", "To do", id="walk.next_todo"),
        Binding("ctrl+n", "next_todo", "To do", id="walk.next_todo_ctrl"),
        Binding("o", "focus_outline", "Outline", id="walk.outline"),
        Binding("ctrl+o", "focus_outline", "Outline", id="walk.outline_ctrl"),
        Binding("r", "review", "Review", id="walk.review"),
        Binding("ctrl+r", "review", "Review", id="walk.review_ctrl"),
        Binding("h", "history", "History", id="walk.history"),
        Binding("ctrl+t", "history", "History", id="walk.history_ctrl"),
        Binding("e", "focus_note", "Evidence note", show=False, id="walk.note"),
        Binding(CLEAR_KEY, "clear_answer", "Clear the answer", show=False, id="walk.clear"),
        # named by the read-only message on every question of such a case (the key bar keeps to one line)
        Binding(REOPEN_KEY, "reopen", "Reopen", show=False, id="walk.reopen"),
        Binding("backspace", "explain_clear", show=False, id="walk.backspace"),
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
        self.feedback_text: Text | str = ""
        self.number: dict[str, int] = {}
        self._would_retire: list[str] = []  # what the service said the change being asked about would retire
        self._section_tails: dict[str, str] = {}  # what each section's line in the outline says after its title
        self.last_saved: str | None = None
        self._header_shape: tuple = ()  # what the header's reserved room was worked out for

    # -- layout --------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        # no containers, and few widgets: each one inside the rectangle around a frame's changes is
        # drawn again on every answer. Split off the edges in this order (audit.tcss): header, key bar, outline.
        yield TextBox(id="case-header", shrink=False)
        yield KeyBar()
        yield Outline(id="outline")
        yield ReviewNote(id="review-note")
        # where it is, the question, its options, the keys for it and what just happened
        yield QuestionView(id="question")  # a typed answer's field too: no widget to show or hide
        yield Input(id="note", placeholder="what in the case file supports this answer")

    def on_mount(self) -> None:
        # looked up once: a query per widget per keypress adds up (see docs/ui.md, the keypress path)
        self.header = self.query_one("#case-header", TextBox)
        self.question = self.query_one(QuestionView)
        self.review_note = self.query_one(ReviewNote)
        self._hint_text, self._said = Text(), Text()
        self.note = self.query_one("#note", Input)
        self.note.border_title = "Evidence note (tab or e)"
        self.outline = self.query_one(Outline)
        state = self.app.cases.load(self.case_uuid)
        self.rubric: Rubric = state.rubric
        self._take(state)
        self.number = {qid: i + 1 for i, qid in enumerate(self.rubric.question_ids)}
        self.outline.build(
            [
                (s.id, shown(s.title), [(q.id, outline_text(self.number[q.id], shown(q.text))) for q in s.questions])
                for s in self.rubric.sections
            ]
        )
        start = self.evaluation.next_unanswered() or self.evaluation.next_applicable() or self.rubric.question_ids[0]
        self.show_question(start)
        self.watch(self.app, "integrity", lambda _: self._draw_header(), init=False)
        # every object alive now (the app, the rubric, these widgets) leaves the garbage collector's
        # view while the case is open: a full collection walked them all, the slowest 1-5% of answers
        # (docs/ui.md, the keypress path); given back on leaving, so nothing is held for good
        gc.freeze()

    def on_unmount(self) -> None:
        gc.unfreeze()

    # -- state from the store --------------------------------------------------------------
    def _load_answers(self) -> None:
        """Read the case again (on coming back from review, where its status may have changed)."""
        self._take(self.app.cases.load(self.case_uuid))

    def _take(self, state: CaseState, saved_at: str | None = None) -> None:
        """From now on, draw the case as the case service says it is (nothing is read back or evaluated)."""
        self.case: Case = state.case
        self.rows: dict[str, dict] = state.rows
        self.evaluation: Evaluation = state.evaluation
        self.state = state
        self.has_retired = any(row["state"] == "retired" for row in self.rows.values())
        if saved_at is not None:
            self.last_saved = saved_at
        else:
            self.last_saved = max((row["answered_at"] for row in self.rows.values() if row.get("answered_at")), default=None)

    def _restorable(self) -> list[str]:
        """Retired answers whose question applies again: offered back (none to look for in most cases)."""
        return self.state.restorable if self.has_retired else []

    def _offered(self, qid: str) -> Any:
        """The retired answer offered back on this question, if it applies again and has no answer now."""
        if not self.has_retired or qid not in self.evaluation.applicable or qid in self.evaluation.visible:
            return None
        if self.evaluation.answers.get(qid) is not None:
            return None
        row = self.rows.get(qid)
        return row["value"] if row and row["state"] == "retired" else None

    def _value(self, qid: str) -> Any:
        return self.evaluation.answers.get(qid) if qid in self.evaluation.applicable else None

    @property
    def read_only(self) -> bool:
        """A complete (or approved) case: nothing changes until it is reopened."""
        return is_read_only(self.case.status)

    def _question_is_typed(self) -> bool:
        return self.current is not None and not self.rubric.question(self.current).is_choice

    # -- drawing -------------------------------------------------------------------------
    def _draw_header(self) -> None:
        case = self.case
        required = rubric_facts(self.rubric).required
        missing = sum(1 for qid in self.evaluation.applicable if qid in required and qid not in self.evaluation.visible)
        saved = None if not self.app.writable else clock(self.last_saved) if self.last_saved else None
        # room for the longest this header gets while answering (every count at its widest, a save
        # time): a header that wraps to a second line half-way through moved the whole screen and
        # cost a layout pass on that keypress
        shape = (case.applicable_count, len(required), case.status, self.read_only, self.app.writable)
        if shape != self._header_shape:
            self._header_shape = shape
            self.header.reserve(self._header_text(case.applicable_count, case.applicable_count, len(required),
                                                  "00:00:00"))
        self.header.set(self._header_text(case.answered_count, case.applicable_count, missing, saved))

    def _header_text(self, answered: int, applicable: int, missing: int, saved: str | None) -> Text:
        case = self.case
        done = f"{answered}/{applicable} answered ({progress(answered, applicable)}%)"
        parts = [
            (f" {shown(case.case_ref)} ", "bold reverse"),
            f" {shown(case.site)}" + (f" · {shown(case.inspector)}" if case.inspector else ""),
            " │ ",
            (f"{shown(self.rubric.id)} v{shown(self.rubric.version)}", "cyan"),
            " │ ",
            (done, "bold"),
            (f", {missing} required to go" if missing else ""),
            " │ ",
            (status_label(case.status) + (", read-only" if self.read_only else ""),
             "green" if case.status == STATUS_COMPLETE else "yellow"),
        ]
        if not self.app.writable:
            parts += [" │ ", ("checking the file: answers are saved when it passes", "yellow")]
        elif saved:
            parts += [" │ ", (f"saved {saved}", "green")]
        return Text.assemble(*parts)

    def _draw_outline(self, states: dict[str, str]) -> None:
        sections = {}
        applies = self.evaluation.applicable
        for section_id, title, ids in rubric_facts(self.rubric).sections:
            applicable = [qid for qid in ids if qid in applies]
            done = sum(1 for qid in applicable if states[qid] == ANSWERED)
            if applicable:
                tail = f"  {done}/{len(applicable)}"
            elif any(states[qid] == PENDING for qid in ids):
                tail = "  waits on earlier answers"
            else:
                tail = "  does not apply"
            if self._section_tails.get(section_id) != tail:  # most answers change one section's count
                self._section_tails[section_id] = tail
                sections[section_id] = Text.assemble((title, "bold" if applicable else "dim"), (tail, "dim"))
        self.outline.show_states(states, self.current, sections)

    def show_question(self, qid: str, *, focus: bool = True) -> None:
        if self.current and self.current != qid and not self._leave_question():
            return
        self.current = qid
        question = self.rubric.question(qid)
        section = self.rubric.section_of(qid)
        applies = qid in self.evaluation.applicable
        place = f"Question {self.number[qid]}  ·  {shown(section.title)}"
        if not applies:
            place += "  ·  does not apply to this case"
        head = Text.assemble((place, "dim"), "\n\n", (shown(question.text), "bold" if applies else "dim"))
        if question.prompts:
            head.append("\n\n" + "\n".join(f"• {shown(p)}" for p in question.prompts), style="italic dim")
        self.review_note.show(self.case, qid, self.rubric)
        view = self.question
        is_choice = question.is_choice
        value = self._value(qid)
        offered = self._offered(qid)
        if is_choice:
            view.show(head, [(code, shown(opt.label)) for code, opt in question.options.items()],
                      multi=question.type == "multi", value=value, offered=offered, answerable=applies)
        else:
            shown_value = value if value is not None else offered
            view.show(head, None, answerable=applies, field="" if shown_value is None else str(shown_value),
                      placeholder=f"{expectation(question)}, then enter", read_only=self.read_only)
        self._hint_text = self._hint(question, applies)
        note = shown(self.rows.get(qid, {}).get("note") or "")
        note_box = self.note
        if note_box.value != note:
            note_box.value = note
        note_box.disabled = self.read_only or (not applies and not note)
        self._feedback(self.feedback_text)
        self.feedback_text = ""
        self._draw_header()
        self._draw_outline(question_states(self.rubric, self.evaluation, self.rows))
        self.outline.point_at(qid)
        if focus:
            target = view if applies else self.outline
            if self.focused is not target:
                self.set_focus(target)  # now, not after the keys already typed
        self.call_after_refresh(self.post_message, self.QuestionShown(qid))

    def _hint(self, question: Question, applies: bool) -> Text:
        if not applies:
            rule = self.evaluation.excluded_by(question.id)
            why = f" (rule: {rule.source})" if rule is not None else ""
            row = self.rows.get(question.id)
            kept = ""
            if row and row["value"] is not None and row["state"] == "retired":
                kept = f"\nIts earlier answer ({answer_label(question, row['value'])}) was retired: kept in the history, never counted."
            undecided = rule is not None and rule.evaluate(self.evaluation.visible) is None
            if undecided:
                return Text(f"Not asked yet: it depends on an answer not given yet{why}.{kept}", style="dim")
            return Text(f"Not asked: this question does not apply to this case{why}.{kept}", style="dim")
        if self.read_only:
            return Text(self._read_only_message(), style="green")
        offered = self._offered(question.id)
        if offered is not None:
            return Text.assemble(
                ("Enter brings back the earlier answer, ", "yellow"), (answer_label(question, offered), "bold yellow"),
                (" (retired; it applies again), or choose another." if question.is_choice else
                 " (retired; it applies again), or type another.", "yellow"))
        if question.type == "multi":
            return Text(f"Space or a number ticks or unticks an option (each tick is saved); {NONE_KEY}: None of these; "
                        "enter moves on.", style="dim")
        if question.is_choice:
            letters = [key for key, code in LETTER_CODES.items() if code in question.options]
            keys = "a number" + (f" (or {' / '.join(letters)})" if letters else "")
            more = "; beyond 10 options: ↑ ↓ then space" if len(question.options) > 10 else ""
            return Text(f"Press {keys} to answer and move on{more}; enter skips; ← goes back.", style="dim")
        return Text(f"Type {expectation(question)}; enter saves it and moves on.", style="dim")

    def _read_only_message(self) -> str:
        return (f"{shown(self.case.case_ref)} is {status_label(self.case.status)}, so its answers are read-only. "
                f"To change one, reopen the case: {REOPEN_KEY}.")

    def _feedback(self, message: Text | str, style: str = "green") -> None:
        self._said = message if isinstance(message, Text) else Text(message, style=style)
        self._draw_status()

    def _draw_status(self) -> None:
        self.question.set_status(self.status_text)  # under the options, or the typed answer's field

    @property
    def status_text(self) -> Text:
        """The keys for the question shown, and the last message."""
        return Text.assemble(self._hint_text, "\n", self._said) if self._said.plain else self._hint_text

    @property
    def said(self) -> str:
        """The last message shown under the answer (what was saved, or why not)."""
        return self._said.plain

    def _refuse_read_only(self) -> bool:
        """True (and says so) when the case is read-only."""
        if self.read_only:
            self._feedback(self._read_only_message(), "bold yellow")
            return True
        return False

    # -- answering -----------------------------------------------------------------------
    @on(QuestionView.Picked)
    def _picked(self, event: QuestionView.Picked) -> None:
        event.stop()
        qid = self.current
        if qid is None or qid not in self.evaluation.applicable or self._refuse_read_only():
            return
        question = self.rubric.question(qid)
        if question.type == "multi":
            value = ticked(question, self._value(qid), event.code)
            if value is None:
                self._feedback(
                    f"That is the last ticked option: press {NONE_KEY} for “None of these”, or {CLEAR_KEY} to clear the answer.",
                    "yellow",
                )
                return
            self.give_answer(qid, value, advance=False)
        else:
            self.give_answer(qid, event.code, advance=True)

    @on(QuestionView.NoneOfThese)
    def _none_of_these(self, event: QuestionView.NoneOfThese) -> None:
        event.stop()
        qid = self.current
        if qid is None or qid not in self.evaluation.applicable or self._refuse_read_only():
            return
        from audit.values import coerce

        if coerce(self.rubric.question(qid), []) != []:  # the store keeps [] from #7 on
            self._feedback("“None of these” cannot be recorded by this version of the store yet.", "bold red")
            return
        if self._value(qid) != []:
            self.give_answer(qid, [], advance=False)

    @on(QuestionView.EditRefused)
    def _edit_refused(self) -> None:
        self._refuse_read_only()

    @on(QuestionView.FieldChanged)
    def _typing(self, event: QuestionView.FieldChanged) -> None:
        """Say at once why what is being typed cannot be saved (a number field once dropped a '.' silently)."""
        qid = self.current
        if qid is None or self.rubric.question(qid).is_choice or qid not in self.evaluation.applicable or self.read_only:
            return
        question = self.rubric.question(qid)
        try:
            typed_value(question, event.value)
        except TypedProblem as exc:
            self._hint_text = Text(f"Not a valid answer yet: {exc}.", style="bold red")
        else:
            self._hint_text = self._hint(question, True)
        self._draw_status()

    @on(QuestionView.FieldSubmitted)
    def _typed(self, event: QuestionView.FieldSubmitted) -> None:
        event.stop()
        qid = self.current
        if qid is None or qid not in self.evaluation.applicable:
            return
        if self.read_only:
            self.action_next()
            return
        question = self.rubric.question(qid)
        saved = self._value(qid)
        try:
            value = typed_value(question, event.value)
        except TypedProblem as exc:
            self._feedback(f"Not saved: {exc}.", "bold red")
            return
        offered = self._offered(qid)
        if offered is not None and value == offered:
            self._restore([qid], advance=True)  # the earlier answer, brought back as it was (with history)
        elif value == saved:
            self.action_next()
        elif value is None:
            self._keep_saved(qid, saved)
        else:
            self.give_answer(qid, value, advance=True)

    def _keep_saved(self, qid: str, saved: Any) -> None:
        """A typed answer emptied: the saved answer stays (clearing takes its own key)."""
        question = self.rubric.question(qid)
        self.question.set_field(str(saved))
        self._feedback(f"Not cleared: the saved answer ({answer_label(question, saved)}) is kept. "
                       f"To clear an answer, press {CLEAR_KEY}.", "yellow")

    def _leave_question(self) -> bool:
        """Before leaving the question: save a typed answer and the note; False means stay."""
        return self._leave_typed_answer() and self._save_note()

    def keep_what_was_typed(self) -> None:
        """Quitting: save the note, and a typed answer that can be saved as it is."""
        self._save_note()
        self._leave_typed_answer()

    def _leave_typed_answer(self) -> bool:
        """Moving away from a number or text typed without enter: save it if it can be saved as it is.

        What cannot be saved (not valid, or emptied) is dropped and the saved answer kept, with a
        message on the next question. Returns False (stay) only when saving it would retire other
        answers, which needs the inspector's enter and confirmation.
        """
        qid = self.current
        if qid is None or qid not in self.evaluation.applicable or not self._question_is_typed() or self.read_only:
            return True
        question = self.rubric.question(qid)
        saved = self._value(qid)
        number = self.number[qid]
        try:
            value = typed_value(question, self.question.field_value)
        except TypedProblem as exc:
            kept = f"its saved answer ({answer_label(question, saved)}) is kept" if saved is not None else "it has no answer"
            self.feedback_text = Text(f"Question {number} not saved: {exc}; {kept}.", style="yellow")
            return True
        if value == saved:
            return True
        if value is None:
            if saved is not None:
                self.feedback_text = Text(f"Question {number} keeps its saved answer ({answer_label(question, saved)}): "
                                          f"{CLEAR_KEY} clears an answer.", style="yellow")
            return True
        if self.app.writable:
            done = self._save(qid, value, advance=False, show=False)
        else:  # asked now, saved when the check passes
            done = self._dry_run(qid, value)
            if done == SAVED:
                self._save_when_writable(qid, value, advance=False, show=False)
        if done == ASK:
            self._feedback("This change alters which questions apply: press enter to review and save it.", "yellow")
            self.set_focus(self.question)
            return False
        return True

    def give_answer(self, qid: str, value: Any, *, advance: bool) -> None:
        """Save an answer: one call of the case service (one evaluation). If it would retire earlier
        answers the service writes nothing and says which: the inspector is asked first."""
        if self._refuse_read_only():
            return
        if self.app.writable:
            if self._save(qid, value, advance) == ASK:
                self._ask_retire(qid, value, advance)
            return
        # the file is still being checked: what it would retire is asked now, the save waits for the check
        done = self._dry_run(qid, value)
        if done == ASK:
            self._ask_retire(qid, value, advance)
        elif done == SAVED:
            self._save_when_writable(qid, value, advance)

    def _dry_run(self, qid: str, value: Any) -> str:
        try:
            outcome = self.app.cases.answer(self.case_uuid, qid, value, dry_run=True)
        except StoreError as exc:
            self._feedback(str(exc), "bold red")
            return FAILED
        self._would_retire = outcome.would_retire
        return ASK if outcome.would_retire else SAVED

    def _ask_retire(self, qid: str, value: Any, advance: bool) -> None:
        """The retire dialog for the answers the service said this change would retire."""
        from audit.tui.screens.confirm import ConfirmRetireScreen

        listed = [
            (other, shown(self.rubric.question(other).text), answer_label(self.rubric.question(other), self._value(other)))
            for other in self._would_retire
        ]
        change = self._describe_change(qid, value)

        def decided(confirmed: bool | None) -> None:
            if confirmed:
                self._save_when_writable(qid, value, advance, confirmed=True)
            else:
                self.show_question(qid)
                self._feedback("Not changed: the earlier answer is kept and nothing was saved.", "yellow")

        self.app.push_screen(ConfirmRetireScreen(change, listed), decided)

    def _describe_change(self, qid: str, value: Any) -> Text:
        """'Unticking “Drug misuse”', 'Changing “question” to “label”' (value already checked by the service)."""
        question = self.rubric.question(qid)
        asked = ("“" + shorten(shown(question.text), 70) + "”", "italic")
        if value is None:
            return Text.assemble("Clearing the answer to ", asked)
        if question.type == "multi" and value:
            old, new = set(self._value(qid) or []), set(value)
            removed = [question.label_for(c) for c in question.option_codes if c in old - new]
            added = [question.label_for(c) for c in question.option_codes if c in new - old]
            verb, labels = ("Unticking", removed) if removed else ("Ticking", added)
            return Text.assemble(f"{verb} ", ("“" + "”, “".join(labels) + "”", "bold"), " in ", asked)
        return Text.assemble("Changing ", asked, " to ", ("“" + answer_label(question, value) + "”", "bold"))

    def _save_when_writable(self, qid: str, value: Any, advance: bool, *, show: bool = True,
                            confirmed: bool = False) -> None:
        """Save now, or as soon as the file has passed its check (writes wait for it; nothing else does)."""
        if self.app.writable:
            if self._save(qid, value, advance, show=show, confirmed=confirmed) == ASK:
                self._ask_retire(qid, value, advance)
            return

        def later() -> None:  # the case may have changed meanwhile: the service decides again then
            if self._save(qid, value, advance, show=show and self.is_current, confirmed=confirmed) == ASK:
                if self.is_current:
                    self._ask_retire(qid, value, advance)

        self.app.when_writable(later)
        said = Text(f"Checking the database file first: the answer to question {self.number[qid]} is saved "
                    "the moment the check passes.", style="yellow")
        if show:
            self._feedback(said)
        else:
            self.feedback_text = said

    def _save(self, qid: str, value: Any, advance: bool, *, show: bool = True, confirmed: bool = False,
              retrying: bool = False) -> str:
        """One call of the case service, then draw what it returned (``show``) or leave the message for
        the next question drawn. Returns SAVED, ASK (it would retire answers: nothing was written, and
        ``_would_retire`` lists them), WAITING (another program holds the file: the answer stays on
        screen and is saved once the file is free) or FAILED (the message says why)."""
        try:
            outcome: Outcome = self.app.cases.answer(self.case_uuid, qid, value, confirm_retire=confirmed)
        except DatabaseBusy:
            if retrying:
                raise  # the app tries again later
            self._wait_for_the_file(qid, lambda: self._saved_later(qid, value, confirmed))
            return WAITING
        except StoreError as exc:
            if self.is_attached:
                self._feedback(str(exc), "bold red")
            return FAILED
        if outcome.needs_confirmation:
            self._would_retire = outcome.would_retire
            return ASK
        if not self.is_attached or outcome.state is None:  # saved after the screen was left (the file check came later)
            return SAVED
        had_gaps = bool(self.evaluation.missing_required)
        offered_before = set(self._restorable())
        self._take(outcome.state, saved_at=outcome.case.updated_at)
        self.post_message(self.AnswerSaved(qid, outcome.value, list(outcome.retired)))
        question = self.rubric.question(qid)
        number = self.number[qid]
        said = f"Question {number} cleared" if outcome.value is None else f"Saved: {answer_label(question, outcome.value)}"
        if outcome.retired:
            said += f". Retired {len(outcome.retired)} answer(s) that no longer apply (kept in the history)."
        gaps_just_closed = had_gaps and not self.evaluation.missing_required and self.case.status != STATUS_COMPLETE
        if outcome.reopened:
            said += " The case is back in progress: a required question now needs an answer."
        elif gaps_just_closed:
            said += "  Every required question is answered: press r to review and mark the case complete."
        back = [other for other in self._restorable() if other not in offered_before]
        if not show:  # saved on leaving the question: said on the next one
            said += f" (question {number})"
            if self.current == qid:  # still leaving: the next question draws it
                self.feedback_text = said
            elif self.is_current:  # saved later (after the file check): the question shown now says it
                self._draw_header()
                self._draw_outline(question_states(self.rubric, self.evaluation, self.rows))
                self._feedback(said)
            return SAVED
        following = self.evaluation.next_applicable(after=qid) if advance else None
        if back:  # earlier answers apply again: offered back at once, not re-keyed
            following = None
        if advance and following is None and not back:
            said += ("  That was the last question." if gaps_just_closed else
                     "  That was the last question: press r to review and mark the case complete.")
        elif advance and not back:
            said += f" (question {number})"
        self.feedback_text = said
        self.show_question(following or qid)
        if back:
            self._offer_restore(back)
        return SAVED

    # -- retired answers that apply again ----------------------------------------------------
    def _offer_restore(self, question_ids: list[str]) -> None:
        """A change made retired answers apply again: bring them all back from a dialog, or one by one."""
        from audit.tui.screens.confirm import RestoreRetiredScreen

        listed = [
            (qid, self.number[qid], shown(self.rubric.question(qid).text),
             answer_label(self.rubric.question(qid), self.rows[qid]["value"]))
            for qid in question_ids
        ]

        def decided(everything: bool | None) -> None:
            if everything:
                self._restore(question_ids, advance=False)
            else:
                first = question_ids[0]
                self.feedback_text = Text(
                    f"Each earlier answer is offered on its question: enter brings it back, or choose another. "
                    f"Question {self.number[first]} first.", style="yellow")
                self.show_question(first)

        self.app.push_screen(RestoreRetiredScreen(listed), decided)

    def _through_service(self, call: Callable[[], Any]) -> Any:
        """One change through the case service; a refusal is said here. None when there is nothing
        to draw (refused, the screen left meanwhile, or no new state)."""
        try:
            outcome = call()
        except StoreError as exc:
            if self.is_attached:
                self._feedback(str(exc), "bold red")
            return None
        if not self.is_attached or outcome.state is None:
            return None
        return outcome

    def _restore(self, question_ids: list[str] | None, *, advance: bool) -> None:
        """Bring back retired answers (with history), through the case service."""
        if self._refuse_read_only():
            return

        def write() -> None:
            outcome = self._through_service(lambda: self.app.cases.restore_answers(self.case_uuid, question_ids))
            if outcome is None:
                return
            self._take(outcome.state, saved_at=outcome.case.updated_at if outcome.saved else None)
            restored = outcome.restored
            if not restored:
                said = "Nothing to bring back: those answers no longer apply."
            elif len(restored) == 1:
                qid = restored[0]
                said = (f"Brought back: {answer_label(self.rubric.question(qid), self.rows[qid]['value'])} "
                        f"(question {self.number[qid]}; the history says so)")
            else:
                said = f"Brought back {len(restored)} earlier answers (the history says so)."
            if outcome.retired:
                said += f" Retired {len(outcome.retired)} answer(s) that no longer apply."
            here = self.current or self.rubric.question_ids[0]
            following = self.evaluation.next_applicable(after=here) if advance else None
            self.feedback_text = Text(said, style="green")
            self.show_question(following or here)

        if not self.app.when_writable(write):
            self._feedback("Checking the database file first: the answers come back the moment the check passes.",
                           "yellow")

    def _saved_later(self, qid: str, value: Any, confirmed: bool = False) -> None:
        """The retry of an answer that found the file busy (raises DatabaseBusy while it still is)."""
        if self._save(qid, value, False, show=False, confirmed=confirmed, retrying=True) == ASK:
            # the case changed meanwhile, and this answer would now retire others: nothing written
            self.feedback_text = Text(f"Question {self.number[qid]} not saved: it would now make other answers "
                                      "stop applying; give it again to see which.", style="yellow")
        if self.is_attached and self.is_current and self.current == qid:  # still on it: say so here
            self._draw_header()
            self._draw_outline(question_states(self.rubric, self.evaluation, self.rows))
            self._feedback(self.feedback_text)
            self.feedback_text = ""

    def _wait_for_the_file(self, qid: str, write: Callable[[], object]) -> None:
        """Another program holds the file past the wait: the change stays on screen and is saved later."""
        self.app.when_free(write)
        if self.is_attached:
            self._feedback(Text(f"Not saved yet (question {self.number[qid]}): another program is writing the file. "
                                "What you gave stays here and is saved the moment the file is free.", style="bold yellow"))

    # -- notes ---------------------------------------------------------------------------
    def _save_note(self) -> bool:
        """Save the note box if it changed; False when it could not be saved (it stays in the box)."""
        qid = self.current
        if qid is None or self.read_only:
            return True
        text = self.note.value.strip()
        if text == shown(self.rows.get(qid, {}).get("note") or ""):  # as shown: unchanged
            return True

        def write(retrying: bool = False) -> bool:
            try:
                outcome = self.app.cases.note(self.case_uuid, qid, text or None)
            except DatabaseBusy:
                if retrying:
                    raise
                self._wait_for_the_file(qid, lambda: write(retrying=True))
                return True  # kept: it is saved when the file is free
            except StoreError as exc:
                if self.is_attached:
                    self._feedback(str(exc), "bold red")
                return False
            if self.is_attached and outcome.state is not None:
                self._take(outcome.state, saved_at=outcome.case.updated_at)
                if self.current == qid:
                    self._feedback("Evidence note saved.")
            return True

        if self.app.writable:
            return write()
        self.app.when_writable(write)
        self.rows.setdefault(qid, {"value": None, "state": "current"})["note"] = text  # shown until it is saved
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
        if qid in self.evaluation.applicable:
            self.question.focus()

    @on(Outline.Jump)
    def _jump(self, event: Outline.Jump) -> None:
        self.show_question(event.question_id)

    # -- actions -------------------------------------------------------------------------
    def action_next(self) -> None:
        if self.current is None:
            return
        if self._offered(self.current) is not None and not self.read_only:  # enter takes the earlier answer back
            self._restore([self.current], advance=True)
            return
        following = self.evaluation.next_applicable(after=self.current)
        if following is None:
            self._feedback("That was the last question that applies: press r to review and mark the case complete.", "yellow")
            return
        self.show_question(following)

    def action_previous(self) -> None:
        if self.current is None:
            return
        if self.focused is self.note and not self._save_note():
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
        """ctrl+x: clear the saved answer, after a confirmation (it stays in the history)."""
        qid = self.current
        if qid is None or qid not in self.evaluation.applicable or self._refuse_read_only():
            return
        question = self.rubric.question(qid)
        saved = self._value(qid)
        if saved is None:
            self._feedback(f"Question {self.number[qid]} has no answer to clear.", "yellow")
            return
        if self.app.cases.answer(self.case_uuid, qid, None, dry_run=True).would_retire:
            self.give_answer(qid, None, advance=False)  # the retire dialog asks, and names what else would go
            return
        from audit.tui.screens.confirm import ConfirmScreen

        def decided(confirmed: bool | None) -> None:
            if confirmed:
                self._save_when_writable(qid, None, advance=False)
            else:
                self._feedback("Not cleared: the answer is kept.", "yellow")

        message = Text.assemble("Clear the answer to ", ("“" + shorten(shown(question.text), 70) + "”", "italic"), " (",
                                (answer_label(question, saved), "bold"), ")? The change is kept in the case's history.")
        self.app.push_screen(ConfirmScreen("Clear this answer?", message, "Clear it", "Keep it"), decided)

    def action_reopen(self) -> None:
        """ctrl+e: a complete or approved case back in progress, so that its answers can change (with history)."""
        if not self.read_only:
            self._feedback(f"{shown(self.case.case_ref)} is {status_label(self.case.status)}: its answers can be changed "
                           "already.", "yellow")
            return

        def write() -> None:
            outcome = self._through_service(lambda: self.app.cases.set_status(self.case_uuid, STATUS_IN_PROGRESS))
            if outcome is None:
                return
            self._take(outcome.state, saved_at=outcome.case.updated_at)
            self.refresh_bindings()
            self.feedback_text = Text(f"Reopened: {shown(self.case.case_ref)} is in progress again, and its answers can "
                                      "be changed (the history says so). Mark it complete again in review (r, then c).",
                                      style="green")
            self.show_question(self.current or self.rubric.question_ids[0])

        if not self.app.when_writable(write):
            self._feedback("Checking the database file first: the case is reopened the moment the check passes.", "yellow")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "reopen":  # only where it does something
            return self.is_mounted and hasattr(self, "case") and self.read_only
        return True

    def action_explain_clear(self) -> None:
        """Backspace on a choice: never a silent clear; say which key clears."""
        if self.current is not None and self._value(self.current) is not None and not self.read_only:
            self._feedback(f"To clear this answer, press {CLEAR_KEY} (it is kept in the history).", "yellow")

    def action_focus_note(self) -> None:
        if self._refuse_read_only():
            return
        self.note.disabled = False
        self.set_focus(self.note)

    def action_focus_outline(self) -> None:
        self.set_focus(self.outline)

    def action_review(self) -> None:
        from audit.tui.screens.review import ReviewScreen

        if not self._leave_question():
            return

        def back(jump_to: str | None) -> None:
            self._load_answers()
            self.show_question(jump_to or self.current or self.rubric.question_ids[0])

        self.app.push_screen(ReviewScreen(self.case_uuid), back)

    def action_history(self) -> None:
        from audit.tui.screens.history import HistoryScreen

        if not self._leave_question():
            return
        # redrawn on return: an answer typed without enter was saved just now
        self.app.push_screen(HistoryScreen(self.case_uuid), lambda _: self.show_question(self.current))

    def action_back(self) -> None:
        """Escape: from the notes or the outline back to the answer; from the answer to the case list."""
        if not self._leave_question():
            return
        away = self.focused in (self.note, self.outline)
        if away and self.current in self.evaluation.applicable:
            self._focus_answer()
            return
        self.dismiss()
