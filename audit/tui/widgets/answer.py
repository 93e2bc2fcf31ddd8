"""The typed answer's field (a choice question's options are drawn by
:class:`audit.tui.widgets.question.QuestionView`). It shows the value the
screen gives it and posts what was submitted; the screen decides what that
means, saves it, and shows the result.
"""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import Input

#: keys that change an Input's text (besides printable characters and paste)
EDITING_KEYS = {"backspace", "delete", "ctrl+d", "ctrl+k", "ctrl+u", "ctrl+w", "ctrl+x", "ctrl+v",
                "ctrl+backspace", "alt+backspace", "super+backspace"}


class AnswerInput(Input):
    """A typed answer (number, text, date); enter submits it to the screen.

    Any text may be typed, so that what is shown is what was typed: the screen
    checks it and says why it cannot be saved (a number field that silently
    dropped a '.' once saved 125 for 12.5). When ``read_only`` (a complete case)
    the text cannot be changed and a key that would change it is reported.
    """

    BINDINGS = [
        Binding("enter", "submit", "Save", id="answer.submit"),
        # ctrl+x clears the saved answer here, as on every question (an Input would cut text);
        # ctrl+e reopens a complete case (an Input would go to the end: the end key still does)
        Binding("ctrl+x", "screen.clear_answer", "Clear the answer", show=False, id="answer.clear"),
        Binding("ctrl+e", "screen.reopen", "Reopen", show=False, id="answer.reopen"),
    ]

    class EditRefused(Message):
        """A key that would have changed a read-only answer."""

    read_only = False

    def show(self, text: str, *, placeholder: str, read_only: bool) -> None:
        self.read_only = read_only
        if self.placeholder != placeholder:
            self.placeholder = placeholder
        if self.value != text:
            self.value = text
            self.cursor_position = len(text)

    def on_key(self, event: events.Key) -> None:
        if self.read_only and (event.is_printable or event.key in EDITING_KEYS):
            event.stop()
            event.prevent_default()
            self.post_message(self.EditRefused())

    def on_paste(self, event: events.Paste) -> None:
        if self.read_only:
            event.stop()
            event.prevent_default()
            self.post_message(self.EditRefused())
