"""The case list's table: one page of cases at a time (the screen loads pages)."""

from __future__ import annotations

from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable


class CaseTable(DataTable):
    """A DataTable holding one page; moving past either end asks for the next page."""

    BINDINGS = [
        Binding("enter", "select_cursor", "Open", id="cases.open"),
        Binding("pagedown", "page_down", "Next page", show=False, id="cases.page_down"),
        Binding("pageup", "page_up", "Previous page", show=False, id="cases.page_up"),
    ]

    class PageRequest(Message):
        """The cursor tried to leave the page: ``step`` is +1 (next) or -1 (previous)."""

        def __init__(self, step: int) -> None:
            super().__init__()
            self.step = step

    def __init__(self, **kwargs) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)

    def action_cursor_down(self) -> None:
        if self.row_count and self.cursor_row >= self.row_count - 1:
            self.post_message(self.PageRequest(+1))
        else:
            super().action_cursor_down()

    def action_cursor_up(self) -> None:
        if self.row_count and self.cursor_row <= 0:
            self.post_message(self.PageRequest(-1))
        else:
            super().action_cursor_up()

    def action_page_down(self) -> None:
        if self.row_count and self.cursor_row >= self.row_count - 1:
            self.post_message(self.PageRequest(+1))
        else:
            super().action_page_down()

    def action_page_up(self) -> None:
        if self.row_count and self.cursor_row <= 0:
            self.post_message(self.PageRequest(-1))
        else:
            super().action_page_up()
