"""The walk-through's outline: sections and their questions, each marked with a state.

Drawn line by line (a ScrollView with ``render_line``), so that an answer
repaints only the lines whose mark changed: never a layout pass, and the view
scrolls in jumps of most of its height rather than a line per question.
"""

from __future__ import annotations

from functools import lru_cache
from typing import ClassVar, NamedTuple

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

from audit.tui.answering import ANSWERED, ATTENTION, NOT_APPLICABLE, OFFERED, PENDING, RETIRED, TODO
from audit.tui.format import shorten

#: state -> (mark, style)
MARKS = {
    ANSWERED: ("✓", "green"),
    TODO: ("·", ""),
    ATTENTION: ("!", "bold yellow"),
    NOT_APPLICABLE: ("–", "dim"),
    RETIRED: ("×", "dim strike"),
    PENDING: ("?", "dim"),  # its rule waits on an answer not given yet
    OFFERED: ("↺", "yellow"),  # applies again: its retired answer is offered back
}


_PLAIN = Style()
_CURRENT = Style(bold=True, reverse=True)
_style = lru_cache(maxsize=None)(Style.parse)


class _QuestionLine(NamedTuple):
    """A question's line: its guide ("├ "), the mark of its state and its number and text, as styled."""

    guide: str
    mark: str
    mark_style: Style
    text: str
    text_style: Style

    @property
    def plain(self) -> str:
        return f"{self.guide}{self.mark} {self.text}"

    def as_text(self) -> Text:
        return Text.assemble(self.guide, (f"{self.mark} ", self.mark_style), (self.text, self.text_style))

    def strip(self) -> Strip:
        segments: list[Segment] = []
        for text, style in ((self.guide, _PLAIN), (f"{self.mark} ", self.mark_style), (self.text, self.text_style)):
            if segments and segments[-1].style == style:  # fewer segments, fewer bytes to the terminal
                text = segments.pop().text + text
            segments.append(Segment(text, style))
        return Strip(segments, cell_len(self.guide) + cell_len(self.mark) + 1 + cell_len(self.text))


class Outline(ScrollView, can_focus=True):
    """One line per section and per question; the current question is shown in reverse."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select", "Go to question", show=False, id="outline.select"),
        Binding("up", "cursor(-1)", show=False, id="outline.up"),
        Binding("down", "cursor(1)", show=False, id="outline.down"),
        Binding("pageup", "page(-1)", show=False, id="outline.page_up"),
        Binding("pagedown", "page(1)", show=False, id="outline.page_down"),
        Binding("home", "to_end(-1)", show=False, id="outline.home"),
        Binding("end", "to_end(1)", show=False, id="outline.end"),
    ]
    COMPONENT_CLASSES: ClassVar[set[str]] = {"outline--cursor"}

    class Jump(Message):
        """The inspector picked a question in the outline."""

        def __init__(self, question_id: str) -> None:
            super().__init__()
            self.question_id = question_id

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._lines: list[tuple[str | None, str]] = []  # (question id or None, section id)
        self._line_of: dict[str, int] = {}  # question id -> line
        self._section_line: dict[str, int] = {}
        self._texts: dict[str, str] = {}  # question id -> "12 What type of…"
        self._labels: list[Text | _QuestionLine] = []
        self._strips: dict[int, Strip] = {}  # drawn lines, for the width in _strip_width
        self._strip_width = 0
        self._shown_states: dict[str, tuple[str, bool]] = {}
        self._current: str | None = None
        self._cursor = 0
        self._base_style: Style | None = None  # Textual computes these by walking the DOM: once per style change
        self._cursor_style: Style | None = None

    # -- content -------------------------------------------------------------------------
    def build(self, sections: list[tuple[str, str, list[tuple[str, str]]]]) -> None:
        """Sections as (id, title, [(question id, "number text")])."""
        self._lines, self._labels = [], []
        self._line_of.clear()
        self._section_line.clear()
        self._shown_states.clear()
        for section_id, title, questions in sections:
            self._section_line[section_id] = len(self._lines)
            self._lines.append((None, section_id))
            self._labels.append(Text(title, style="bold"))
            for index, (question_id, text) in enumerate(questions):
                self._line_of[question_id] = len(self._lines)
                self._texts[question_id] = ("└ " if index == len(questions) - 1 else "├ ") + text
                self._lines.append((question_id, section_id))
                self._labels.append(Text(self._texts[question_id]))
        self._strips.clear()
        self.virtual_size = Size(self.size.width, len(self._lines))
        self.refresh()

    def show_states(self, states: dict[str, str], current: str | None, sections: dict[str, Text]) -> None:
        """Relabel only the questions whose state (or current-ness) changed, and repaint only their lines."""
        self._current = current
        for question_id, state in states.items():
            key = (state, question_id == current)
            if self._shown_states.get(question_id) == key:
                continue
            self._shown_states[question_id] = key
            mark, style = MARKS[state]
            guide, text = self._texts[question_id][:2], self._texts[question_id][2:]
            text_style = _style(style if state != ATTENTION else "") + (_CURRENT if question_id == current else _PLAIN)
            self._set_label(self._line_of[question_id], _QuestionLine(guide, mark, _style(style), text, text_style))
        for section_id, label in sections.items():
            self._set_label(self._section_line[section_id], label)

    def _set_label(self, line: int, label: Text | _QuestionLine) -> None:
        if self._labels[line] == label:
            return
        self._labels[line] = label
        self._strips.pop(line, None)
        self._refresh_line(line)

    def state_of(self, question_id: str) -> str | None:
        """The state the outline shows for a question."""
        shown = self._shown_states.get(question_id)
        return shown[0] if shown else None

    def line_text(self, question_id: str) -> str:
        """A question's line as plain text (mark, number and text)."""
        return self._labels[self._line_of[question_id]].plain

    @property
    def cursor_question(self) -> str | None:
        return self._lines[self._cursor][0] if self._lines else None

    def point_at(self, question_id: str) -> None:
        """Put the cursor on a question and bring it into view."""
        line = self._line_of.get(question_id)
        if line is not None:
            self._move(line)

    # -- drawing -------------------------------------------------------------------------
    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        line = y + self.scroll_offset.y
        if line >= len(self._lines):
            return Strip.blank(width, self._base_style or self.rich_style)
        if width != self._strip_width:
            self._strips.clear()
            self._strip_width = width
        strip = self._strips.get(line)
        if strip is None:
            strip = self._drawn(self._labels[line], width)
            self._strips[line] = strip
        if self._base_style is None:
            self._base_style = self.rich_style
            self._cursor_style = self._base_style + self.get_component_rich_style("outline--cursor")
        base = self._cursor_style if line == self._cursor and self.has_focus else self._base_style
        return strip.apply_style(base).extend_cell_length(width, base)

    def _drawn(self, label: Text | _QuestionLine, width: int) -> Strip:
        if isinstance(label, _QuestionLine):
            strip = label.strip()  # three segments, not a pass of Rich's Text over spans: most redrawn lines
            if strip.cell_length <= width:
                return strip
            label = label.as_text()
        label = label.copy()
        label.truncate(width, overflow="ellipsis")
        return Strip(list(label.render(self.app.console)), label.cell_len)

    def _refresh_line(self, line: int) -> None:
        y = line - self.scroll_offset.y
        if 0 <= y < self.size.height:  # the text only: the scroll bar beside it has not changed
            self.refresh(Region(0, y, self.scrollable_content_region.width, 1))

    def notify_style_update(self) -> None:
        self._base_style = None
        self._cursor_style = None
        super().notify_style_update()

    def on_resize(self, _event: events.Resize) -> None:
        self.virtual_size = Size(self.size.width, len(self._lines))
        self._strips.clear()
        self._scroll_into_view()

    def on_focus(self) -> None:
        self._refresh_line(self._cursor)

    def on_blur(self) -> None:
        self._refresh_line(self._cursor)

    # -- moving --------------------------------------------------------------------------
    def _move(self, line: int) -> None:
        line = min(max(line, 0), max(len(self._lines) - 1, 0))
        if line != self._cursor:
            old, self._cursor = self._cursor, line
            if self.has_focus:
                self._refresh_line(old)
                self._refresh_line(line)
        self._scroll_into_view()

    def _scroll_into_view(self) -> None:
        height = self.size.height
        if height < 1:
            return  # not laid out yet: on_resize does it
        top = self.scroll_offset.y
        if top <= self._cursor < top + height:
            return
        # a jump, so that the next questions are in view too: one repaint of the outline per most of a
        # screen of questions, not one per question
        target = self._cursor - height // 6 if self._cursor >= top + height else self._cursor - (5 * height) // 6
        self.scroll_to(y=max(0, target), animate=False, force=True, immediate=True)

    def action_cursor(self, step: int) -> None:
        self._move(self._cursor + step)

    def action_page(self, step: int) -> None:
        self._move(self._cursor + step * max(self.size.height - 1, 1))

    def action_to_end(self, step: int) -> None:
        self._move(0 if step < 0 else len(self._lines) - 1)

    def action_select(self) -> None:
        question_id = self.cursor_question
        if question_id is not None:
            self.post_message(self.Jump(question_id))

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        line = offset.y + self.scroll_offset.y
        if line < len(self._lines):
            self._move(line)
            self.action_select()
            event.stop()


def outline_text(number: int, text: str, width: int = 40) -> str:
    return f"{number:>2} {shorten(text, width)}"
