"""A one-line key bar: the screen's shown bindings as text.

Textual's Footer builds a widget per key and rebuilds them on every focus
change, which cost more than the whole case list at start-up; one Static that
redraws its text does the same job for a keyboard-only UI.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class KeyBar(Static):
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: 1;
        background: $panel;
        color: $text;
    }
    """

    def on_mount(self) -> None:
        self._owner = self.screen
        self._owner.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self.call_after_refresh(self._redraw)

    def on_unmount(self) -> None:
        self._owner.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen) -> None:
        if self.is_attached and screen is self._owner:
            self.call_after_refresh(self._redraw)

    def _redraw(self) -> None:
        if not self.is_attached:
            return
        # one entry per action, with every key that does it: "←/shift+tab Previous"
        keys: dict[str, list[str]] = {}
        shown: dict[str, tuple[str, bool]] = {}
        for _node, binding, enabled, _tooltip in self.screen.active_bindings.values():
            if not binding.show:
                continue
            keys.setdefault(binding.action, [])
            display = self.app.get_key_display(binding)
            if display not in keys[binding.action]:
                keys[binding.action].append(display)
            shown.setdefault(binding.action, (binding.description, enabled))
        text = Text(no_wrap=True, overflow="ellipsis")
        for action, (description, enabled) in shown.items():
            text.append(f" {'/'.join(keys[action])}", style="bold #ffa62b" if enabled else "dim")
            text.append(f" {description} ", style="" if enabled else "dim")
        self.update(text)
