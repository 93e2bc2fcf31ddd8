"""A block of text that repaints only when it changes, and asks for layout only when its height must change.

``Static.update`` asks for a layout pass of the whole screen by default, and a
Static renders through Textual's content pipeline; on the keypress path the
layout pass cost more than everything else together (issue #16). A TextBox
renders its Rich renderable once per change into ready-made lines.

With ``shrink=False`` a box keeps the height it grew to (until the next layout
pass for another reason), so a line that wraps now and then, like the case
header, does not move everything below it up and down; ``reserve`` gives it
that height from the start.
"""

from __future__ import annotations

from typing import Hashable

from rich.console import Console, RenderableType
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Region, Size
from textual.strip import Strip
from textual.widget import Widget


def text_key(text: Text) -> tuple:
    """What makes two Texts draw the same (Text's == ignores its base style)."""
    return text.plain, tuple(text.spans), str(text.style)


_LINES: dict[tuple, list[Strip]] = {}  # recently drawn lines: the same hint is drawn for question after question
_LINES_KEPT = 512


def _styled(text: Text) -> Text:
    # Text.render leaves out the base style of a text without spans (Console.render adds it back)
    if text.style and not text.spans:
        text = text.copy()
        text.stylize(text.style)
    return text


def _broken_at_spaces(line: Text, width: int) -> list[Text] | None:
    """A line broken at the last space that fits, as Rich's wrap breaks it (a space that would be the
    cell past the width is left out) at a third of its cost; None for what Rich must do (a word longer
    than the line, wide characters, spaces at a break)."""
    parts: list[Text] = []
    while line.cell_len > width:
        plain = line.plain
        if len(plain) != line.cell_len:
            return None
        cut = plain.rfind(" ", 0, width + 1)
        if cut <= 0:
            return None
        if cut == width:
            head, _, line = line.divide([cut, cut + 1])
        else:
            head, line = line.divide([cut + 1])
        if line.plain.startswith(" "):
            return None
        parts.append(head)
    parts.append(line)
    return parts


def text_strips(text: Text, width: int, console: Console) -> list[Strip]:
    """``text`` as lines of at most ``width`` cells: each line of it as it is when it fits (a Rich wrap
    pass costs more than drawing), wrapped otherwise."""
    width = max(width, 1)
    strips: list[Strip] = []
    for line in text.split("\n", allow_blank=True) if text.plain else ():
        key = (text_key(line), width)
        drawn = _LINES.get(key)
        if drawn is None:
            parts = [line] if line.cell_len <= width else (_broken_at_spaces(line, width) or line.wrap(console, width))
            drawn = [Strip(list(_styled(part).render(console)), part.cell_len) for part in parts]
            if len(_LINES) >= _LINES_KEPT:
                _LINES.clear()
            _LINES[key] = drawn
        strips += drawn
    return strips


def changed_from(before: Strip | None, after: Strip | None) -> int:
    """The first cell at which two lines are drawn differently (0 when either is missing)."""
    if before is None or after is None:
        return 0
    x = 0
    for old, new in zip(before, after):
        if old != new:
            break
        x += old.cell_length
    return x


class TextBox(Widget):
    DEFAULT_CSS = """
    TextBox {
        height: auto;
    }
    """

    def __init__(self, text: Text | str = "", *, shrink: bool = True, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.shrink = shrink
        self._renderable: RenderableType = text if isinstance(text, Text) else Text(text)
        self._key: Hashable = text_key(self._renderable)
        self._strips: list[Strip] | None = None
        self._strips_width = -1
        self._base_style: Style | None = None
        self._reserved: Text | None = None
        self._reserved_key: Hashable = None

    @property
    def text(self) -> Text:
        """What is shown, as a Text (a table is rendered to plain lines)."""
        if isinstance(self._renderable, Text):
            return self._renderable
        return Text("\n".join(strip.text for strip in self._wrap(max(self.content_region.width, 80))))

    def set(self, renderable: RenderableType, key: Hashable = None) -> None:
        """Show ``renderable``; nothing happens when its ``key`` (a Text's content) is what is shown already."""
        key = text_key(renderable) if key is None and isinstance(renderable, Text) else key
        if key is not None and key == self._key:
            return
        drawn = self._strips if self._strips_width == self.content_region.width else None
        self._renderable, self._key, self._strips = renderable, key, None
        width, height = self.content_region.width, self.content_region.height
        lines = self.get_content_height(Size(width, height), Size(width, height), width) if width > 0 else -1
        fits = width > 0 and (lines == height if self.shrink else lines <= height)
        if not fits or drawn is None:
            self.refresh(layout=not fits)
            return
        # only what changed: "saved 10:03:00" becoming "saved 10:03:04" rewrites those cells, not the line
        for y in range(max(len(drawn), len(self._strips))):
            before = drawn[y] if y < len(drawn) else None
            after = self._strips[y] if y < len(self._strips) else None
            if before != after:
                x = changed_from(before, after)
                self.refresh(Region(x, y, max(width - x, 1), 1))

    def reserve(self, text: Text) -> None:
        """Be at least as tall as ``text`` would be: the longest this box will show for a while, so
        that growing into it later asks for no layout pass."""
        key = text_key(text)
        if key == self._reserved_key:
            return
        self._reserved, self._reserved_key = text, key
        width, height = self.content_region.width, self.content_region.height
        if width > 0 and len(text_strips(text, width, self.app.console)) > height:
            self.refresh(layout=True)

    # -- drawing -------------------------------------------------------------------------
    def _wrap(self, width: int) -> list[Strip]:
        if self._strips is None or width != self._strips_width:
            if isinstance(self._renderable, Text):  # drawn directly: a Console pass costs more
                self._strips = text_strips(self._renderable, width, self.app.console)
            else:
                console = self.app.console
                options = console.options.update(width=max(width, 1), height=None, no_wrap=False, highlight=False)
                lines = console.render_lines(self._renderable, options, pad=False, new_lines=False)
                self._strips = [Strip(line) for line in lines]
            self._strips_width = width
        return self._strips

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        lines = len(self._wrap(width))
        if self._reserved is not None:
            lines = max(lines, len(text_strips(self._reserved, width, self.app.console)))
        return lines

    def notify_style_update(self) -> None:
        self._base_style = None
        super().notify_style_update()

    def render_line(self, y: int) -> Strip:
        width = self.content_region.width
        if self._base_style is None:
            self._base_style = self.rich_style
        strips = self._wrap(width)
        if y >= len(strips):
            return Strip.blank(width, self._base_style)
        strip = strips[y]
        if y == self.content_region.height - 1 and len(strips) > y + 1:  # cut short (max-height): say so
            strip = Strip.join([strip.crop(0, max(width - 1, 0)), Strip([Segment("…")], 1)])
        return strip.apply_style(self._base_style).extend_cell_length(width, self._base_style)
