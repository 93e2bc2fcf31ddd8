"""``?``: the keys of the screen underneath, read from its live bindings."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Label, Static

KEY_NAMES = {"question_mark": "?", "slash": "/", "escape": "esc", "space": "space", "shift+tab": "shift+tab",
             "left": "←", "right": "→", "up": "↑", "down": "↓", "pageup": "pgup", "pagedown": "pgdn", "enter": "enter"}


def key_name(key: str) -> str:
    return KEY_NAMES.get(key, key)


class HelpScreen(ModalScreen[None]):
    HELP = ""
    BINDINGS = [Binding("escape,question_mark,q", "close", "Close", id="help.close")]

    def __init__(self, below: Screen) -> None:
        super().__init__()
        self.below = below

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog", classes="dialog"):
            yield Label("Keys", classes="dialog-title")
            with VerticalScroll():
                yield Static(Text(getattr(self.below, "HELP", "") or "", style="italic"), id="help-text")
                yield Static(self._keys(), id="help-keys")
            yield Static(Text("Also: the arrow keys move, tab moves between fields, ctrl+q quits.  esc or ? closes this.",
                              style="dim"))

    def _keys(self) -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column(style="bold cyan", no_wrap=True)
        table.add_column()
        for keys, description in self.key_rows():
            table.add_row(Text(keys), Text(description))
        return table

    def key_rows(self) -> list[tuple[str, str]]:
        """(keys, what they do) for every described binding active on the screen below."""
        seen: dict[str, list[str]] = {}
        order: list[str] = []
        for key, active in self.below.active_bindings.items():
            binding = active.binding
            # audit's own keys all have ids; Textual's built-in ones (scrolling, copy) are summed up below
            if not binding.description or binding.system or not binding.id:
                continue
            if binding.description not in seen:
                seen[binding.description] = []
                order.append(binding.description)
            shown = binding.key_display or key_name(key)
            if shown not in seen[binding.description]:
                seen[binding.description].append(shown)
        return [(" / ".join(seen[description]), description) for description in order]

    def action_close(self) -> None:
        self.dismiss(None)
