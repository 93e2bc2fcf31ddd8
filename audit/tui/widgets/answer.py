"""Answer widgets. They show the value the screen gives them and post what was
pressed; the screen decides what that means, saves it, and shows the result."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text
from textual.binding import Binding
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Input

#: letter keys, for the options that have these codes (yes_no, yes_no_na, "na" options)
LETTER_CODES = {"y": "yes", "n": "no", "a": "na"}


def option_key(index: int) -> str | None:
    """The digit that picks the option at ``index`` (0-based): 1-9, then 0 for the tenth."""
    if index < 9:
        return str(index + 1)
    if index == 9:
        return "0"
    return None


class ChoiceAnswer(Widget, can_focus=True):
    """The options of a choice question, numbered; a multi question shows check boxes."""

    BINDINGS = [
        Binding("y", "pick_code('yes')", "Yes", id="answer.yes"),
        Binding("n", "pick_code('no')", "No", id="answer.no"),
        Binding("a", "pick_code('na')", "N/A", id="answer.na"),
        *(
            Binding(str(n % 10), f"pick_number({n})", "Pick option by number", key_display="1-9, 0", show=False,
                    id=f"answer.option_{n}")
            for n in range(1, 11)
        ),
        Binding("space", "pick_highlighted", "Pick", id="answer.pick_highlighted"),
        Binding("up", "move(-1)", "Up", show=False, id="answer.up"),
        Binding("down", "move(1)", "Down", show=False, id="answer.down"),
    ]

    class Picked(Message):
        """An option was pressed: a choice for single questions, a toggle for multi."""

        def __init__(self, code: str) -> None:
            super().__init__()
            self.code = code

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.choices: list[tuple[str, str]] = []
        self.is_multi = False
        self.chosen_value: Any = None
        self.cursor_index = 0

    def show(self, options: list[tuple[str, str]], *, multi: bool, value: Any) -> None:
        """Options as (code, label) in rubric order, and the stored value to mark."""
        if [c for c, _ in options] != [c for c, _ in self.choices]:
            self.cursor_index = 0
        self.choices, self.is_multi, self.chosen_value = options, multi, value
        chosen = self._chosen()
        codes = [c for c, _ in options]
        if chosen and not multi:
            self.cursor_index = codes.index(next(iter(chosen)))
        self.cursor_index = min(self.cursor_index, max(len(options) - 1, 0))
        self.refresh(layout=True)
        self.refresh_bindings()

    def _chosen(self) -> set[str]:
        if self.chosen_value is None:
            return set()
        return set(self.chosen_value) if self.is_multi else {self.chosen_value}

    def render(self) -> Table:
        # a grid, so a long label wraps under itself, not under the keys
        chosen = self._chosen()
        grid = Table.grid(padding=(0, 1))
        grid.add_column(justify="right", style="dim", no_wrap=True)
        grid.add_column(no_wrap=True)
        grid.add_column()
        for index, (code, label) in enumerate(self.choices):
            key = option_key(index) or " "
            letter = next((k for k, c in LETTER_CODES.items() if c == code), None)
            keys = f"{key}" + (f"/{letter}" if letter else "")
            if self.is_multi:
                mark = "[x]" if code in chosen else "[ ]"
            else:
                mark = "(•)" if code in chosen else "( )"
            style = "bold" if code in chosen else ""
            if index == self.cursor_index and self.has_focus:
                style += " reverse"
            grid.add_row(f" {keys}", Text(mark, style=style), Text(label, style=style))
        return grid

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    # -- which keys apply to this question -------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        codes = [c for c, _ in self.choices]
        # False hides a key that does not fit this question (and lets it fall through)
        if action == "pick_code":
            return parameters[0] in codes
        if action == "pick_number":
            return int(parameters[0]) <= len(codes)
        return True

    def action_pick_code(self, code: str) -> None:
        if code in [c for c, _ in self.choices]:
            self.cursor_index = [c for c, _ in self.choices].index(code)
            self.post_message(self.Picked(code))

    def action_pick_number(self, number: int) -> None:
        if 1 <= number <= len(self.choices):
            self.cursor_index = number - 1
            self.post_message(self.Picked(self.choices[number - 1][0]))

    def action_pick_highlighted(self) -> None:
        if self.choices:
            self.post_message(self.Picked(self.choices[self.cursor_index][0]))

    def action_move(self, step: int) -> None:
        if self.choices:
            self.cursor_index = (self.cursor_index + step) % len(self.choices)
            self.refresh()


class AnswerInput(Input):
    """A typed answer (number, text, date); enter submits it to the screen."""

    BINDINGS = [Binding("enter", "submit", "Save and next", id="answer.submit")]

    def show(self, text: str, *, kind: str, placeholder: str) -> None:
        self.type = "integer" if kind == "integer" else "text"
        self.placeholder = placeholder
        self.value = text
        self.cursor_position = len(text)
