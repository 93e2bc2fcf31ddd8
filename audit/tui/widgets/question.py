"""The question on screen: where it is, its text, its options, the keys for it and what just happened.

One widget drawn line by line (a ScrollView with ``render_line``), so that an
answer repaints only the lines that changed ("Question 12" becoming "Question
13", the question's text, the message) and Textual's compositor has one widget
to draw where it had five (issue #16; see "The keypress path" in docs/ui.md).
It fills the space it is given and never asks for a layout pass: a longer
question scrolls it, it does not move anything else.

The answer keys of a choice question (y / n / a and the digits) are priority
bindings: the app runs them as the key arrives, before handing the key down
the focus chain; a key that does not fit the question (check_action False)
goes on as usual. The widget posts what was pressed; the screen decides what
that means, saves it, and shows the result.

A typed question (a number, a date, text) gets its field drawn here too, as
one line under the question, edited by this widget's own keys. An Input
widget beside the view had to be shown, hidden and focused whenever the kind
of question changed: a layout pass and a repaint of the whole screen, the
slowest answers of all (issue #15).
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from audit.tui.answering import NONE_OF_THESE
from audit.tui.widgets.text_box import changed_from, text_key, text_strips

#: letter keys, for the options that have these codes (yes_no, yes_no_na, "na" options)
LETTER_CODES = {"y": "yes", "n": "no", "a": "na"}
#: the key that records "None of these" on a several-choice question
NONE_KEY = "n"
EARLIER = "  ← earlier answer"
#: the widest a typed answer's field is drawn
FIELD_WIDTH = 64
#: the field's actions (its bindings apply only while a field is shown)
FIELD_ACTIONS = ("field_move", "field_home", "field_end", "field_submit", "field_delete_left", "field_delete_right",
                 "field_delete_to_start", "field_delete_to_end")


def option_key(index: int) -> str | None:
    """The digit that picks the option at ``index`` (0-based): 1-9, then 0 for the tenth."""
    if index < 9:
        return str(index + 1)
    if index == 9:
        return "0"
    return None


class QuestionView(ScrollView, can_focus=True, inherit_bindings=False):
    """A question and, for a choice question, its numbered options (check boxes and "None of these" when
    several may be ticked), then the keys for it and the last message (``status``)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "pick_code('yes')", "Yes", show=False, id="answer.yes", priority=True),
        Binding("n", "pick_code('no')", "No", show=False, id="answer.no", priority=True),
        Binding("n", "none_of_these", NONE_OF_THESE, show=False, id="answer.none_of_these", priority=True),
        Binding("a", "pick_code('na')", "N/A", show=False, id="answer.na", priority=True),
        *(
            Binding(str(n % 10), f"pick_number({n})", "Pick option by number", key_display="1-9, 0", show=False,
                    id=f"answer.option_{n}", priority=True)
            for n in range(1, 11)
        ),
        Binding("space", "pick_highlighted", "Pick the highlighted option", show=False, id="answer.pick_highlighted"),
        Binding("up", "move(-1)", "Up", show=False, id="answer.up"),
        Binding("down", "move(1)", "Down", show=False, id="answer.down"),
        # a typed answer's field (check_action: only while one is shown; otherwise the screen's keys)
        Binding("enter", "field_submit", "Save", id="field.submit"),
        Binding("left", "field_move(-1)", "Left", show=False, id="field.left"),
        Binding("right", "field_move(1)", "Right", show=False, id="field.right"),
        Binding("home,ctrl+a", "field_home", "Start", show=False, id="field.home"),
        Binding("end", "field_end", "End", show=False, id="field.end"),
        Binding("backspace", "field_delete_left", "Delete left", show=False, id="field.delete_left"),
        Binding("delete,ctrl+d", "field_delete_right", "Delete right", show=False, id="field.delete_right"),
        Binding("ctrl+u", "field_delete_to_start", "Delete to start", show=False, id="field.delete_to_start"),
        Binding("ctrl+k", "field_delete_to_end", "Delete to end", show=False, id="field.delete_to_end"),
    ]

    DEFAULT_CSS = """
    QuestionView > .question--field {
        background: $surface-lighten-1;  /* opaque: a partial style is not blended with what is under it */
    }
    QuestionView > .question--placeholder {
        color: $text-disabled;
    }
    QuestionView > .question--cursor {
        background: $input-cursor-background;
        color: $input-cursor-foreground;
        text-style: $input-cursor-text-style;
    }
    QuestionView > .question--selection {
        background: $input-selection-background;
        color: $input-selection-foreground;
    }
    """
    COMPONENT_CLASSES: ClassVar[set[str]] = {"question--field", "question--placeholder", "question--cursor",
                                             "question--selection"}

    class Picked(Message):
        """An option was pressed: a choice for single questions, a toggle for multi."""

        def __init__(self, code: str) -> None:
            super().__init__()
            self.code = code

    class NoneOfThese(Message):
        """The "None of these" key on a several-choice question."""

    class FieldChanged(Message):
        """The text of a typed answer's field changed (not saved: the screen says whether it could be)."""

        def __init__(self, value: str) -> None:
            super().__init__()
            self.value = value

    class FieldSubmitted(Message):
        """Enter in a typed answer's field."""

        def __init__(self, value: str) -> None:
            super().__init__()
            self.value = value

    class EditRefused(Message):
        """A key that would have changed a read-only answer."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.head = Text()
        self.status = Text()
        self.choices: list[tuple[str, str]] = []
        self.is_multi = False
        self.chosen_value: Any = None
        self.offered_value: Any = None
        self.cursor_index = 0
        self.answerable = False  # a choice question that applies: the answer keys work
        self.field: str | None = None  # a typed answer's text (None: no field, a choice question)
        self.field_cursor = 0
        self.field_selected = False  # a saved answer shown anew is selected: what is typed replaces it
        self.placeholder = ""
        self.read_only = False  # a complete case: the field's text cannot be changed
        self.editable = False  # a typed question that applies: the field takes keys
        self._field_lines: list[Strip] = []
        self._width = 0
        self._head_lines: list[Strip] = []
        self._option_lines: list[Strip] = []
        self._option_rows: list[int] = []  # first line of each option row, within the options
        self._status_lines: list[Strip] = []
        self._lines: list[Strip] = []
        self._drawn: dict[int, Strip] = {}  # line -> the strip drawn there, in the widget's style
        self._options_key: tuple = ()
        self._base_style: Style | None = None

    # -- what is shown ---------------------------------------------------------------------
    def show(self, head: Text, options: list[tuple[str, str]] | None, *, multi: bool = False, value: Any = None,
             offered: Any = None, answerable: bool = True, field: str | None = None, placeholder: str = "",
             read_only: bool = False) -> None:
        """A question: ``head`` (where it is, its text, its guidance), and for a choice question its options
        as (code, label) in rubric order with the stored value to mark. ``offered`` is a retired answer
        offered back (the question has no answer now): marked as the earlier answer, and highlighted.
        A typed question has no options and a ``field`` (its text: the saved answer, or the one offered
        back), edited here unless ``read_only`` (or ``answerable`` is false: it does not apply)."""
        options = options or []
        new_question = text_key(head) != text_key(self.head)
        was_editable, was_field = self.editable, self.field is not None
        self.placeholder, self.read_only = placeholder, read_only
        self.editable = field is not None and answerable
        if field is None:
            self.field = None
        elif field != self.field or not was_field or new_question:
            self.field, self.field_cursor, self.field_selected = field, len(field), bool(field)
        same_options = options == self.choices and multi == self.is_multi
        if not same_options:
            self.cursor_index = 0
        was_answerable = self.answerable
        self.choices, self.is_multi, self.chosen_value, self.offered_value = options, multi, value, offered
        self.answerable = answerable and bool(options)
        chosen = self._chosen()
        codes = [c for c, _ in options]
        if chosen and not multi:
            self.cursor_index = codes.index(next(iter(chosen)))
        elif offered is not None and not multi and offered in codes:
            self.cursor_index = codes.index(offered)
        self.cursor_index = min(self.cursor_index, max(self._row_count() - 1, 0))
        if not same_options or was_answerable != self.answerable or (was_field, was_editable) != (
                self.field is not None, self.editable):
            self.refresh_bindings()  # which letter keys apply, and whether the field's keys do
        if new_question:
            self.head = head
            self._head_lines = self._render_text(head)
        self._draw_options()
        self._draw_field()
        self._redraw()
        if new_question:
            self._scroll_home()

    def set_field(self, text: str) -> None:
        """Put ``text`` in the field (the cursor at its end)."""
        if self.field is not None:
            self.field, self.field_cursor, self.field_selected = text, len(text), bool(text)
            self._draw_field()
            self._redraw()

    @property
    def field_value(self) -> str:
        """What the typed answer's field holds ("" without one)."""
        return self.field or ""

    def set_status(self, status: Text) -> None:
        """The keys for this question and the last message, under the options or the field."""
        if text_key(status) == text_key(self.status):
            return
        self.status = status
        self._status_lines = self._render_text(status)
        self._redraw()

    @property
    def text(self) -> Text:
        """Everything shown, as plain lines."""
        return Text("\n".join(strip.text.rstrip() for strip in self._lines))

    def _row_count(self) -> int:
        return len(self.choices) + (1 if self.is_multi else 0)

    def _chosen(self) -> set[str]:
        if self.chosen_value is None:
            return set()
        return set(self.chosen_value) if self.is_multi else {self.chosen_value}

    # -- drawing -------------------------------------------------------------------------
    def _render_text(self, text: Text) -> list[Strip]:
        return text_strips(text, self._width, self.app.console)

    def _draw_options(self) -> None:
        """The options as rows of key, mark and label; a long label wraps under itself, not under the keys."""
        key = (tuple(self.choices), self.is_multi, repr(self.chosen_value), repr(self.offered_value), self.cursor_index,
               self.has_focus, self.answerable, self._width)
        if key == self._options_key:
            return
        self._options_key = key
        chosen = self._chosen()
        offered = self.offered_value
        earlier = set() if offered is None else (set(offered) if self.is_multi else {offered})
        rows: list[tuple[str, str, Text, bool]] = []
        for index, (code, label) in enumerate(self.choices):
            letter = None if self.is_multi else next((k for k, c in LETTER_CODES.items() if c == code), None)
            keys = (option_key(index) or " ") + (f"/{letter}" if letter else "")
            mark = ("[x]" if code in chosen else "[ ]") if self.is_multi else ("(•)" if code in chosen else "( )")
            shown = Text.assemble(label, (EARLIER, "yellow")) if code in earlier else Text(label)
            rows.append((keys, mark, shown, code in chosen))
        if self.is_multi:
            none = self.chosen_value == []
            shown = Text.assemble(NONE_OF_THESE, (EARLIER, "yellow")) if offered == [] else Text(NONE_OF_THESE)
            rows.append((NONE_KEY, "(•)" if none else "( )", shown, none))
        key_width = max((cell_len(keys) for keys, *_ in rows), default=0) + 1
        label_width = max(self._width - key_width - 6, 8)
        console = self.app.console
        lines: list[Strip] = []
        starts: list[int] = []
        for index, (keys, mark, label, is_chosen) in enumerate(rows):
            style = "bold" if is_chosen else ""
            if index == self.cursor_index and self.has_focus and self.answerable:
                style += " reverse"
            if not self.answerable:
                style += " dim"
            label.stylize(style)
            starts.append(len(lines))
            for number, line in enumerate(label.wrap(console, label_width)):
                lead = Text.assemble((keys.rjust(key_width) if number == 0 else " " * key_width, "dim"), "  ",
                                     (mark, style) if number == 0 else " " * len(mark), " ")
                lead.append_text(line)
                lines.append(Strip(list(lead.render(console)), lead.cell_len))
        self._option_lines, self._option_rows = lines, starts

    def _draw_field(self) -> None:
        """A typed answer's field: one line, scrolled sideways to keep the cursor in view."""
        if self.field is None:
            self._field_lines = []
            return
        width = max(min(self._width, FIELD_WIDTH), 4)
        box = self.get_component_rich_style("question--field", partial=True)
        cursor = self.has_focus and self.editable
        text, at = self.field, self.field_cursor
        start = max(0, at - width + 1)
        while cell_len(text[start:at]) > width - 1:  # wide characters take two cells
            start += 1
        shown = Text(style=box)
        if text:
            # a control character (pasted, or in an imported answer) is drawn as one replacement cell, so the
            # cursor keeps its place and nothing reaches the terminal (saving such text is refused, with why)
            visible = "".join(c if c.isprintable() else "\ufffd" for c in text[start:])
            shown.append(visible, style="" if self.editable else "dim")
            if cursor and self.field_selected:
                shown.stylize(self.get_component_rich_style("question--selection", partial=True), 0, len(visible))
        elif self.placeholder:
            shown.append(self.placeholder, style=self.get_component_rich_style("question--placeholder", partial=True))
        shown.truncate(width, pad=True)
        if cursor:
            column = at - start
            shown.stylize(self.get_component_rich_style("question--cursor", partial=True), column, column + 1)
        self._field_lines = [Strip(list(shown.render(self.app.console)), shown.cell_len)]

    def _redraw(self) -> None:
        """Put the parts together and repaint only the lines that differ from what is drawn."""
        lines = list(self._head_lines)
        if self._option_lines:
            lines += [Strip.blank(0), *self._option_lines]
        if self._field_lines:
            lines += [Strip.blank(0), *self._field_lines]
        if self._status_lines:
            lines += [Strip.blank(0), *self._status_lines]
        old, self._lines = self._lines, lines
        view = self.scrollable_content_region
        if view.height and (len(lines) > view.height or len(old) > view.height):  # (on_resize does it at first)
            self._fit_virtual_size()
        top, height, width = self.scroll_offset.y, view.height, view.width
        for line in range(max(len(old), len(lines))):
            before = old[line] if line < len(old) else None
            after = lines[line] if line < len(lines) else None
            if before == after:
                continue
            self._drawn.pop(line, None)
            if top <= line < top + height:
                x = changed_from(before, after)  # "Question 12" becoming "Question 13": from the number on
                self.refresh(Region(x, line - top, max(width - x, 1), 1))

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._lines)

    def _fit_virtual_size(self) -> None:
        # a scroll range only while the question is longer than the view (setting it is a layout pass)
        lines, height = len(self._lines), self.scrollable_content_region.height
        size = Size(0, lines) if height and lines > height else Size(0, 0)
        if size != self.virtual_size:
            self.virtual_size = size

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        if self._base_style is None:
            self._base_style = self.rich_style
        line = y + self.scroll_offset.y
        strip = self._drawn.get(line)
        if strip is None or strip.cell_length != width:
            source = self._lines[line] if line < len(self._lines) else Strip.blank(0)
            strip = source.apply_style(self._base_style).extend_cell_length(width, self._base_style)
            self._drawn[line] = strip
        return strip

    def notify_style_update(self) -> None:
        self._base_style = None
        self._drawn.clear()
        super().notify_style_update()

    def on_resize(self, _event: events.Resize) -> None:
        width = self.scrollable_content_region.width
        if width != self._width:
            self._width = width
            self._head_lines = self._render_text(self.head)
            self._status_lines = self._render_text(self.status)
            self._options_key = ()
            self._draw_options()
            self._draw_field()
        self._lines = []  # all drawn again
        self._drawn.clear()
        self._redraw()
        self._fit_virtual_size()
        self._scroll_home()
        self.refresh()

    def on_focus(self) -> None:
        self._draw_options()
        self._draw_field()
        self._redraw()

    def on_blur(self) -> None:
        self._draw_options()
        self._draw_field()
        self._redraw()

    # -- a typed answer's field ------------------------------------------------------------
    def check_consume_key(self, key: str, character: str | None) -> bool:
        # as an Input: a printable key types, so the key bar offers ^n for "To do" where u would be typed
        return self._takes_keys and character is not None and character.isprintable()

    @property
    def _takes_keys(self) -> bool:
        """A field that applies (a read-only one too, to say so); one that does not apply leaves the
        keys to the screen."""
        return self.field is not None and (self.editable or self.read_only)

    def on_key(self, event: events.Key) -> None:
        """A printable key types into the field (a letter key of the screen's, like u, types too)."""
        if not self._takes_keys or not event.is_printable or not event.character:
            return
        event.stop()
        event.prevent_default()
        self._insert(event.character)

    def on_paste(self, event: events.Paste) -> None:
        if not self._takes_keys or not event.text:
            return
        event.stop()
        event.prevent_default()
        lines = event.text.splitlines()
        self._insert(lines[0] if lines else "")

    def _insert(self, text: str) -> None:
        if self.field_selected:  # as an Input selects its text on focus: what is typed replaces it
            self._set_field(text, len(text))
            return
        at = self.field_cursor
        self._set_field(self.field[:at] + text + self.field[at:], at + len(text))

    def _set_field(self, text: str, cursor: int) -> None:
        changed = text != self.field
        if changed and self.read_only:
            self.post_message(self.EditRefused())
            return
        if changed and not self.editable:
            return
        self.field, self.field_cursor, self.field_selected = text, max(0, min(cursor, len(text))), False
        self._draw_field()
        self._redraw()
        if changed:
            self.post_message(self.FieldChanged(text))

    def action_field_submit(self) -> None:
        self.post_message(self.FieldSubmitted(self.field_value))

    def action_field_move(self, step: int) -> None:
        self._set_field(self.field_value, self.field_cursor + step)

    def action_field_home(self) -> None:
        self._set_field(self.field_value, 0)

    def action_field_end(self) -> None:
        self._set_field(self.field_value, len(self.field_value))

    def action_field_delete_left(self) -> None:
        at, text = self.field_cursor, self.field_value
        if self.field_selected:
            self._set_field("", 0)
        elif at:
            self._set_field(text[:at - 1] + text[at:], at - 1)

    def action_field_delete_right(self) -> None:
        at, text = self.field_cursor, self.field_value
        self._set_field("" if self.field_selected else text[:at] + text[at + 1:], at)

    def action_field_delete_to_start(self) -> None:
        self._set_field(self.field_value[self.field_cursor:], 0)

    def action_field_delete_to_end(self) -> None:
        self._set_field(self.field_value[:self.field_cursor], self.field_cursor)

    # -- which keys apply to this question -------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # False hides a key that does not fit this question and lets it go on down the focus chain
        if action in FIELD_ACTIONS:
            return self._takes_keys
        if action in ("pick_code", "none_of_these", "pick_number", "pick_highlighted", "move") and not self.answerable:
            return False
        codes = [c for c, _ in self.choices]
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
            self._draw_options()
            self._redraw()
            self._scroll_to_cursor()

    def _scroll_home(self) -> None:
        """A question longer than the view (a short terminal) shows its options and the keys for it, with
        as much of the question above them as fits; the first option stays in view."""
        height = self.scrollable_content_region.height
        first = self._option_line(0)
        target = 0 if not height else max(0, len(self._lines) - height)
        if first is not None:
            target = min(target, first)
        if target != self.scroll_offset.y:
            self.scroll_to(y=target, animate=False, immediate=True)

    def _scroll_to_cursor(self) -> None:
        line = self._option_line(self.cursor_index)
        if line is not None:
            self.scroll_to_region(Region(0, line, 1, 1), animate=False, immediate=True)

    def _option_line(self, index: int) -> int | None:
        if not self._option_lines or index >= len(self._option_rows):
            return None
        return len(self._head_lines) + 1 + self._option_rows[index]

    def on_click(self, event: events.Click) -> None:
        """A click on an option picks it, as its key would."""
        offset = event.get_content_offset(self)
        if offset is None or not self.answerable:
            return
        line = offset.y + self.scroll_offset.y
        end = len(self._head_lines) + 1 + len(self._option_lines)
        for index in reversed(range(self._row_count())):
            first = self._option_line(index)
            if first is not None and first <= line < end:
                self.cursor_index = index
                self.action_pick_highlighted()
                event.stop()
                return
