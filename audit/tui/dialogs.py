"""Layout help shared by the dialogs: their lists give way on a short terminal."""

from __future__ import annotations

from textual.screen import Screen
from textual.widget import Widget

#: a dialog's max-height, as a share of the screen (``.dialog`` in audit.tcss)
DIALOG_SHARE = 0.9


def fit_list(screen: Screen, dialog: Widget, flexible: Widget, most: int, least: int = 3) -> None:
    """Let ``flexible`` (a scrolling list) take at most ``most`` lines, and fewer when the terminal
    is too short for the whole dialog, so that what comes after it (buttons, messages) stays on screen."""
    docked = sum(child.outer_size.height for child in screen.children if child.display and child.styles.dock in ("top", "bottom"))
    others = dialog.virtual_size.height + dialog.gutter.height - flexible.outer_size.height
    room = int((screen.size.height - docked) * DIALOG_SHARE) - others
    flexible.styles.max_height = max(least, min(most, room))
