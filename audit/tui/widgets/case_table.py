"""The case list's table: one page of cases, each visible row drawn as one pre-formatted Strip.

Textual's DataTable renders every visible cell through Rich (a Padding per cell),
which cost most of the case list's start-up. This widget only ever holds the
page the screen gives it: the cells are padded to their column's width once, in
``show_rows``, and ``render_line`` joins a row's ready-made text into one Strip
in the row's style (header, cursor, hover or zebra stripe, from the .tcss).
"""

from __future__ import annotations

from typing import ClassVar, Literal, NamedTuple, Sequence

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Region, Size
from textual.message import Message
from textual.scroll_view import ScrollView
from textual.strip import Strip

#: a cell is its text, or (text, Rich style) for a cell drawn in its own colour
Cell = str | tuple[str, str]

# control characters (a newline or escape in an imported name) would break the line: drawn as spaces
_CONTROL = {code: " " for code in [*range(32), 127, *range(128, 160)]}


class Column(NamedTuple):
    key: str
    title: str
    align: Literal["left", "right"] = "left"


class Row(NamedTuple):
    key: str
    cells: tuple[Cell, ...]


class TableMessage(Message):
    """A message from a CaseTable (``control``, so ``@on(..., "#cases")`` can pick the table)."""

    def __init__(self, table: CaseTable) -> None:
        super().__init__()
        self.table = table

    @property
    def control(self) -> CaseTable:
        return self.table


class CaseTable(ScrollView, can_focus=True):
    """One page of rows under a fixed header; moving past either end asks for the next page."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "select_cursor", "Open", id="cases.open", show=False),
        Binding("up", "cursor_up", show=False, id="cases.cursor_up"),
        Binding("down", "cursor_down", show=False, id="cases.cursor_down"),
        Binding("pagedown", "page_down", "Next page", show=False, id="cases.page_down"),
        Binding("pageup", "page_up", "Previous page", show=False, id="cases.page_up"),
        Binding("home,ctrl+home", "first_row", "First case", show=False, id="cases.first_row"),
        Binding("end,ctrl+end", "last_row", "Last case", show=False, id="cases.last_row"),
    ]

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "case-table--header",
        "case-table--header-hover",
        "case-table--cursor",
        "case-table--hover",
        "case-table--even-row",
        "case-table--odd-row",
    }

    CELL_PADDING = 1  # spaces either side of each cell

    class PageRequest(TableMessage):
        """The cursor tried to leave the page: ``rows`` past its last row (> 0) or before its first (< 0)."""

        def __init__(self, table: CaseTable, rows: int) -> None:
            super().__init__(table)
            self.rows = rows

        @property
        def step(self) -> int:
            return 1 if self.rows > 0 else -1

    class EndRequest(TableMessage):
        """Home (``last`` False) or end: the first or the last row of the whole list, not of the page."""

        def __init__(self, table: CaseTable, last: bool) -> None:
            super().__init__(table)
            self.last = last

    class RowSelected(TableMessage):
        """Enter, or a click on the highlighted row: open the row whose key is ``key``."""

        def __init__(self, table: CaseTable, key: str) -> None:
            super().__init__(table)
            self.key = key

    class HeaderSelected(TableMessage):
        """A click on a column's title."""

        def __init__(self, table: CaseTable, column_key: str) -> None:
            super().__init__(table)
            self.column_key = column_key

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._columns: list[Column] = []
        self._rows: list[Row] = []
        self._cursor = 0
        self._widths: list[int] = []
        self._header_cells: list[str] = []  # padded titles
        self._row_cells: list[list[tuple[str, Style | None]]] = []  # padded text and own style, per row
        self._hover_row: int | None = None
        self._hover_column: int | None = None  # a header cell under the mouse

    # -- the small API the screen uses -----------------------------------------------------
    def set_columns(self, columns: Sequence[Column]) -> None:
        """The columns (their titles carry the sort indicator); rows of the same shape stay."""
        self._columns = list(columns)
        if self._rows and len(self._rows[0].cells) != len(self._columns):
            self._rows, self._cursor = [], 0
        self._format()

    def show_rows(self, rows: Sequence[Row], *, cursor: int = 0) -> None:
        """Replace the rows, with the cursor on row ``cursor`` (clamped to the page)."""
        self._rows = list(rows)
        self._cursor = min(max(cursor, 0), max(len(self._rows) - 1, 0))
        self._hover_row = None
        self._format()
        self._scroll_cursor_into_view()

    @property
    def row_count(self) -> int:
        return len(self._rows)

    @property
    def cursor_row(self) -> int:
        return self._cursor

    @property
    def highlighted_key(self) -> str | None:
        """The key of the row under the cursor, or None on an empty page."""
        return self._rows[self._cursor].key if self._rows else None

    def row_text(self, index: int) -> tuple[str, ...]:
        """The cells of one row as plain text."""
        return tuple(cell if isinstance(cell, str) else cell[0] for cell in self._rows[index].cells)

    def move_cursor(self, row: int) -> None:
        if not self._rows:
            return
        row = min(max(row, 0), len(self._rows) - 1)
        if row != self._cursor:
            old, self._cursor = self._cursor, row
            self._refresh_row(old)
            self._refresh_row(row)
        self._scroll_cursor_into_view()

    # -- layout and drawing ----------------------------------------------------------------
    def _format(self) -> None:
        """Pad every cell to its column's width once, so drawing a line only joins text."""
        pad = " " * self.CELL_PADDING
        texts = [[self._cell_text(cell) for cell in row.cells] for row in self._rows]
        widths = [cell_len(column.title) for column in self._columns]
        for row in texts:
            for index, (text, _style) in enumerate(row):
                widths[index] = max(widths[index], cell_len(text))
        aligns = [column.align for column in self._columns]

        def fit(text: str, index: int) -> str:
            width = widths[index]
            if aligns[index] == "right":
                text = " " * (width - cell_len(text)) + text
            return pad + set_cell_size(text, width) + pad

        self._widths = widths
        self._header_cells = [fit(self._cell_text(column.title)[0], index) for index, column in enumerate(self._columns)]
        self._row_cells = [[(fit(text, index), style) for index, (text, style) in enumerate(row)] for row in texts]
        content_width = sum(widths) + 2 * self.CELL_PADDING * len(widths)
        self.virtual_size = Size(content_width, len(self._rows) + 1)  # + the header
        self.refresh()

    @staticmethod
    def _cell_text(cell: Cell) -> tuple[str, Style | None]:
        text, style = (cell, None) if isinstance(cell, str) else (cell[0], Style.parse(cell[1]) if cell[1] else None)
        return text.translate(_CONTROL), style

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        scroll_x, scroll_y = self.scroll_offset
        if y == 0:  # the header does not scroll up and down
            line_style = self.get_component_rich_style("case-table--header")
            hover_style = self.get_component_rich_style("case-table--header", "case-table--header-hover")
            segments = [
                Segment(text, hover_style if index == self._hover_column else line_style)
                for index, text in enumerate(self._header_cells)
            ]
        else:
            index = y - 1 + scroll_y
            if index >= len(self._rows):
                return Strip.blank(width, self.rich_style)
            line_style = self._row_style(index)
            # a cell's own colour shows on a stripe; on the cursor the cursor's colours win, as in DataTable
            on_cursor = index == self._cursor
            segments = [
                Segment(text, (style + line_style if on_cursor else line_style + style) if style else line_style)
                for text, style in self._row_cells[index]
            ]
        strip = Strip(segments).crop(scroll_x, scroll_x + width)
        return strip.extend_cell_length(width, line_style)

    def _row_style(self, index: int) -> Style:
        if index == self._cursor:
            return self.get_component_rich_style("case-table--cursor")
        stripe = "case-table--even-row" if index % 2 == 0 else "case-table--odd-row"
        if index == self._hover_row:
            return self.get_component_rich_style(stripe, "case-table--hover")
        return self.get_component_rich_style(stripe)

    def _refresh_row(self, index: int | None) -> None:
        if index is not None:
            self.refresh_line(index + 1)

    def _visible_rows(self) -> int:
        return self.scrollable_content_region.height - 1  # under the header

    def _scroll_cursor_into_view(self) -> None:
        visible = self._visible_rows()
        if visible < 1:  # not laid out yet: on_resize does it
            return
        top = round(self.scroll_y)
        if self._cursor < top:
            self.scroll_to(y=self._cursor, animate=False, force=True)
        elif self._cursor >= top + visible:
            self.scroll_to(y=self._cursor - visible + 1, animate=False, force=True)

    def on_resize(self, _event: events.Resize) -> None:
        self._scroll_cursor_into_view()

    # -- keys ----------------------------------------------------------------------------
    def _key_moved(self) -> None:
        if self._hover_row is not None:  # the keyboard hides the mouse's highlight, as DataTable did
            old, self._hover_row = self._hover_row, None
            self._refresh_row(old)

    def action_cursor_down(self) -> None:
        self._key_moved()
        if self._rows and self._cursor >= len(self._rows) - 1:
            self.post_message(self.PageRequest(self, +1))
        else:
            self.move_cursor(self._cursor + 1)

    def action_cursor_up(self) -> None:
        self._key_moved()
        if self._rows and self._cursor <= 0:
            self.post_message(self.PageRequest(self, -1))
        else:
            self.move_cursor(self._cursor - 1)

    def action_page_down(self) -> None:
        """A screenful down, the view moving with the cursor; past the last row, as far into the next
        page as the screenful reaches (each press counts, however fast they come)."""
        self._key_moved()
        if not self._rows:
            return
        step = max(self._visible_rows(), 1)
        target = self._cursor + step
        if target > len(self._rows) - 1:
            self.post_message(self.PageRequest(self, target - (len(self._rows) - 1)))
            return
        self.scroll_to(y=round(self.scroll_y) + step, animate=False, force=True)
        self.move_cursor(target)

    def action_page_up(self) -> None:
        self._key_moved()
        if not self._rows:
            return
        step = max(self._visible_rows(), 1)
        target = self._cursor - step
        if target < 0:
            self.post_message(self.PageRequest(self, target))
            return
        self.scroll_to(y=max(round(self.scroll_y) - step, 0), animate=False, force=True)
        self.move_cursor(target)

    def action_first_row(self) -> None:
        self._key_moved()
        self.post_message(self.EndRequest(self, last=False))

    def action_last_row(self) -> None:
        self._key_moved()
        self.post_message(self.EndRequest(self, last=True))

    def action_select_cursor(self) -> None:
        if self._rows:
            self.post_message(self.RowSelected(self, self._rows[self._cursor].key))

    # -- mouse ---------------------------------------------------------------------------
    def _place(self, event: events.MouseEvent) -> tuple[int | None, int | None]:
        """(row index or -1 for the header, column index) under the mouse; None where there is none."""
        offset = event.get_content_offset(self)
        if offset is None or offset.x >= self.scrollable_content_region.width:
            return None, None
        if offset.y == 0:
            x = offset.x + round(self.scroll_x)
            for index, width in enumerate(self._widths):
                x -= width + 2 * self.CELL_PADDING
                if x < 0:
                    return -1, index
            return -1, None
        row = offset.y - 1 + round(self.scroll_y)
        return (row, None) if row < len(self._rows) else (None, None)

    def _set_hover(self, row: int | None, column: int | None) -> None:
        if column != self._hover_column:
            self._hover_column = column
            self.refresh(Region(0, 0, self.size.width, 1))  # the header's line
        if row != self._hover_row:
            old, self._hover_row = self._hover_row, row
            self._refresh_row(old)
            self._refresh_row(row)

    def on_mouse_move(self, event: events.MouseMove) -> None:
        row, column = self._place(event)
        self._set_hover(row if row is not None and row >= 0 else None, column if row == -1 else None)

    def on_leave(self, _event: events.Leave) -> None:
        self._set_hover(None, None)

    def on_click(self, event: events.Click) -> None:
        row, column = self._place(event)
        if row == -1:
            if column is not None:
                self.post_message(self.HeaderSelected(self, self._columns[column].key))
            event.stop()
        elif row is not None:
            if row == self._cursor:  # a click on the highlighted row opens it, as DataTable did
                self.action_select_cursor()
            else:
                self.move_cursor(row)
            event.stop()
