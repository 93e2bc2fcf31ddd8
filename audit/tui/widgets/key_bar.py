"""The key bar: the screen's shown bindings as text (a second line on a narrow terminal).

Textual's Footer builds a widget per key and rebuilds them on every focus
change, which cost more than the whole case list at start-up; one Static that
redraws its text does the same job for a keyboard-only UI.
"""

from __future__ import annotations

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import Static


class KeyBar(Static):
    DEFAULT_CSS = """
    KeyBar {
        dock: bottom;
        height: auto;
        max-height: 2;
        background: $panel;
        color: $text;
    }
    """

    _shown: Text | None = None

    def on_mount(self) -> None:
        self._owner = self.screen
        self._owner.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self.call_after_refresh(self._redraw)

    def on_unmount(self) -> None:
        self._owner.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen) -> None:
        if self.is_attached and screen is self._owner:
            self.call_after_refresh(self._redraw)

    def on_resize(self) -> None:
        self.call_after_refresh(self._redraw)

    def _redraw(self) -> None:
        if not self.is_attached:
            return
        # one entry per action, with the shortest key that does it here: "u To do" where u works,
        # "^n To do" in a text field, where u would be typed (? lists every key)
        keys: dict[str, str] = {}
        shown: dict[str, tuple[str, bool]] = {}
        order: dict[str, tuple[int, int]] = {}
        # the focused widget's keys first ("⏎ Save"), then the screen's in the order it lists them, then the app's
        declared = [getattr(b, "action", "") for b in type(self.screen).BINDINGS]
        for node, binding, enabled, _tooltip in self.screen.active_bindings.values():
            if not binding.show:
                continue
            display = self.app.get_key_display(binding)
            if binding.action not in keys or cell_len(display) < cell_len(keys[binding.action]):
                keys[binding.action] = display
            if binding.action not in shown:
                shown[binding.action] = (binding.description, enabled)
                if node is self.app:
                    order[binding.action] = (2, len(order))
                elif node is self.screen:
                    order[binding.action] = (1, declared.index(binding.action) if binding.action in declared else len(order))
                else:
                    order[binding.action] = (0, len(order))
        shown = dict(sorted(shown.items(), key=lambda item: order[item[0]]))
        # a narrow terminal gets a second line, broken between keys, so none is cut off
        width = self.size.width or self.app.size.width
        text = Text(no_wrap=True, overflow="ellipsis")
        line_length = 0
        for action, (description, enabled) in shown.items():
            key_text, description_text = f" {keys[action]}", f" {description} "
            entry_length = cell_len(key_text + description_text)
            if line_length and line_length + entry_length - 1 > width:  # its trailing space may be cut
                text.append("\n")
                line_length = 0
            text.append(key_text, style="bold #ffa62b" if enabled else "dim")
            text.append(description_text, style="" if enabled else "dim")
            line_length += entry_length
        if text == self._shown:
            return  # the same keys: no repaint (this runs after every focus or bindings change)
        lines = text.plain.count("\n")
        self.update(text, layout=self._shown is None or lines != self._shown.plain.count("\n"))
        self._shown = text
