"""Answer widgets. They show the value the screen gives them and post what was
pressed; the screen decides what that means, saves it, and shows the result.

Both repaint only when what they show changed, and ask for a layout pass only
when their height changes (see "The keypress path" in docs/ui.md).
"""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input

from audit.tui.answering import NONE_OF_THESE
from audit.tui.widgets.text_box import TextBox

#: letter keys, for the options that have these codes (yes_no, yes_no_na, "na" options)
LETTER_CODES = {"y": "yes", "n": "no", "a": "na"}
#: the key that records "None of these" on a several-choice question
NONE_KEY = "n"


def option_key(index: int) -> str | None:
    """The digit that picks the option at ``index`` (0-based): 1-9, then 0 for the tenth."""
    if index < 9:
        return str(index + 1)
    if index == 9:
        return "0"
    return None


class ChoiceAnswer(TextBox, can_focus=True):
    """The options of a choice question, numbered; a multi question shows check boxes and "None of these"."""

    BINDINGS = [
        Binding("y", "pick_code('yes')", "Yes", show=False, id="answer.yes"),
        Binding("n", "pick_code('no')", "No", show=False, id="answer.no"),
        Binding("n", "none_of_these", NONE_OF_THESE, show=False, id="answer.none_of_these"),
        Binding("a", "pick_code('na')", "N/A", show=False, id="answer.na"),
        *(
            Binding(str(n % 10), f"pick_number({n})", "Pick option by number", key_display="1-9, 0", show=False,
                    id=f"answer.option_{n}")
            for n in range(1, 11)
        ),
        Binding("space", "pick_highlighted", "Pick the highlighted option", show=False, id="answer.pick_highlighted"),
        Binding("up", "move(-1)", "Up", show=False, id="answer.up"),
        Binding("down", "move(1)", "Down", show=False, id="answer.down"),
    ]

    class Picked(Message):
        """An option was pressed: a choice for single questions, a toggle for multi."""

        def __init__(self, code: str) -> None:
            super().__init__()
            self.code = code

    class NoneOfThese(Message):
        """The "None of these" key on a several-choice question."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.choices: list[tuple[str, str]] = []
        self.is_multi = False
        self.chosen_value: Any = None
        self.offered_value: Any = None
        self.cursor_index = 0

    def show(self, options: list[tuple[str, str]], *, multi: bool, value: Any, offered: Any = None) -> None:
        """Options as (code, label) in rubric order, and the stored value to mark. ``offered`` is a retired
        answer offered back (the question has no answer now): marked as the earlier answer, and highlighted."""
        same_options = options == self.choices and multi == self.is_multi
        if not same_options:
            self.cursor_index = 0
        self.choices, self.is_multi, self.chosen_value, self.offered_value = options, multi, value, offered
        chosen = self._chosen()
        codes = [c for c, _ in options]
        if chosen and not multi:
            self.cursor_index = codes.index(next(iter(chosen)))
        elif offered is not None and not multi and offered in codes:
            self.cursor_index = codes.index(offered)
        self.cursor_index = min(self.cursor_index, max(self._row_count() - 1, 0))
        if not same_options:
            self.refresh_bindings()  # which letter keys apply
        self._repaint()

    def _row_count(self) -> int:
        return len(self.choices) + (1 if self.is_multi else 0)

    def _chosen(self) -> set[str]:
        if self.chosen_value is None:
            return set()
        return set(self.chosen_value) if self.is_multi else {self.chosen_value}

    def _repaint(self) -> None:
        # drawn again only when something it shows changed
        drawn = (tuple(self.choices), self.is_multi, repr(self.chosen_value), repr(self.offered_value), self.cursor_index,
                 self.has_focus)
        if drawn != self._key:
            self.set(self._grid(), key=drawn)

    def _grid(self) -> Table:
        # a grid, so a long label wraps under itself, not under the keys
        chosen = self._chosen()
        offered = self.offered_value
        earlier = set() if offered is None else (set(offered) if self.is_multi else {offered})
        grid = Table.grid(padding=(0, 1))
        grid.add_column(justify="right", style="dim", no_wrap=True)
        grid.add_column(no_wrap=True)
        grid.add_column()
        for index, (code, label) in enumerate(self.choices):
            key = option_key(index) or " "
            letter = None if self.is_multi else next((k for k, c in LETTER_CODES.items() if c == code), None)
            keys = f"{key}" + (f"/{letter}" if letter else "")
            if self.is_multi:
                mark = "[x]" if code in chosen else "[ ]"
            else:
                mark = "(•)" if code in chosen else "( )"
            if code in earlier:
                label = Text.assemble(label, ("  ← earlier answer", "yellow"))
            grid.add_row(f" {keys}", *self._cells(index, mark, label, code in chosen))
        if self.is_multi:
            none = self.chosen_value == []
            label = Text.assemble(NONE_OF_THESE, ("  ← earlier answer", "yellow")) if offered == [] else NONE_OF_THESE
            grid.add_row(f" {NONE_KEY}", *self._cells(len(self.choices), "(•)" if none else "( )", label, none))
        return grid

    def _cells(self, index: int, mark: str, label: str | Text, chosen: bool) -> tuple[Text, Text]:
        style = "bold" if chosen else ""
        if index == self.cursor_index and self.has_focus:
            style += " reverse"
        if isinstance(label, Text):
            label = label.copy()
            label.stylize(style)
            return Text(mark, style=style), label
        return Text(mark, style=style), Text(label, style=style)

    def on_focus(self) -> None:
        self._repaint()

    def on_blur(self) -> None:
        self._repaint()

    # -- which keys apply to this question -------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        codes = [c for c, _ in self.choices]
        # False hides a key that does not fit this question (and lets it fall through)
        if action == "pick_code":
            return not self.is_multi and parameters[0] in codes
        if action == "none_of_these":
            return self.is_multi
        if action == "pick_number":
            return int(parameters[0]) <= len(codes)
        return True

    def action_pick_code(self, code: str) -> None:
        codes = [c for c, _ in self.choices]
        if code in codes:
            self.cursor_index = codes.index(code)
            self.post_message(self.Picked(code))

    def action_pick_number(self, number: int) -> None:
        if 1 <= number <= len(self.choices):
            self.cursor_index = number - 1
            self.post_message(self.Picked(self.choices[number - 1][0]))

    def action_none_of_these(self) -> None:
        if self.is_multi:
            self.cursor_index = len(self.choices)
            self.post_message(self.NoneOfThese())

    def action_pick_highlighted(self) -> None:
        if self.is_multi and self.cursor_index == len(self.choices):
            self.post_message(self.NoneOfThese())
        elif self.choices:
            self.post_message(self.Picked(self.choices[self.cursor_index][0]))

    def action_move(self, step: int) -> None:
        if self.choices:
            self.cursor_index = (self.cursor_index + step) % self._row_count()
            self._repaint()


#: keys that change an Input's text (besides printable characters and paste)
EDITING_KEYS = {"backspace", "delete", "ctrl+d", "ctrl+k", "ctrl+u", "ctrl+w", "ctrl+x", "ctrl+v",
                "ctrl+backspace", "alt+backspace", "super+backspace"}


class AnswerInput(Input):
    """A typed answer (number, text, date); enter submits it to the screen.

    Any text may be typed, so that what is shown is what was typed: the screen
    checks it and says why it cannot be saved (a number field that silently
    dropped a '.' once saved 125 for 12.5). When ``read_only`` (a complete case)
    the text cannot be changed and a key that would change it is reported.
    """

    BINDINGS = [
        Binding("enter", "submit", "Save", id="answer.submit"),
        # ctrl+x clears the saved answer here, as on every question (an Input would cut text);
        # ctrl+e reopens a complete case (an Input would go to the end: the end key still does)
        Binding("ctrl+x", "screen.clear_answer", "Clear the answer", show=False, id="answer.clear"),
        Binding("ctrl+e", "screen.reopen", "Reopen", show=False, id="answer.reopen"),
    ]

    class EditRefused(Message):
        """A key that would have changed a read-only answer."""

    read_only = False

    def show(self, text: str, *, placeholder: str, read_only: bool) -> None:
        self.read_only = read_only
        if self.placeholder != placeholder:
            self.placeholder = placeholder
        if self.value != text:
            self.value = text
            self.cursor_position = len(text)

    def on_key(self, event: events.Key) -> None:
        if self.read_only and (event.is_printable or event.key in EDITING_KEYS):
            event.stop()
            event.prevent_default()
            self.post_message(self.EditRefused())

    def on_paste(self, event: events.Paste) -> None:
        if self.read_only:
            event.stop()
            event.prevent_default()
            self.post_message(self.EditRefused())
