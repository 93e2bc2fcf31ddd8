"""The passphrase of an encrypted database: asked before the case list, never echoed.

:class:`LockedScreen` is all that is drawn until the file is open: it names the
file and nothing from it (nothing can be read from it yet). The app checks a
passphrase in a worker (the key derivation takes about half a second, on
purpose) and asks again, saying so, when it does not open the file.
"""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Input, Label, Static

from audit.identity import printable


class LockedScreen(Screen):
    """Behind the passphrase dialog: which file, and what is happening."""

    def __init__(self, shown: str) -> None:
        super().__init__()
        self.shown = shown

    def compose(self) -> ComposeResult:
        yield Static(Text(f"{printable(self.shown)} is encrypted.", style="bold"), id="locked-title")
        yield Static("", id="locked-status")

    def say(self, text: str) -> None:
        self.query_one("#locked-status", Static).update(text)


class PassphraseScreen(ModalScreen[str]):
    """Dismisses with the passphrase typed, or "" to give up (escape)."""

    HELP = (
        "This database is encrypted: type its passphrase and press enter. Nothing is shown as you type. "
        "Without the passphrase nobody can read the file, and there is no way to recover it. Escape quits."
    )
    BINDINGS = [Binding("escape", "give_up", "Quit", id="passphrase.quit")]

    def __init__(self, shown: str, problem: str | None = None) -> None:
        """``shown``: the file, as given; ``problem``: why it is asked again (a wrong passphrase)."""
        super().__init__()
        self.shown = shown
        self.problem = problem

    def compose(self) -> ComposeResult:
        with Vertical(id="passphrase-dialog", classes="dialog"):
            yield Label("Passphrase", classes="dialog-title")
            yield Static(Text.assemble((printable(self.shown), "bold"), " is encrypted. Type its passphrase:"))
            yield Input(password=True, id="passphrase", placeholder="passphrase")
            yield Static(self.problem or "", id="passphrase-problem", classes="error")
            with Horizontal(classes="buttons"):
                yield Button("Open  (enter)", variant="primary", id="open")
                yield Button("Quit  (esc)", id="quit")

    def on_mount(self) -> None:
        self.query_one("#passphrase-problem", Static).display = bool(self.problem)
        self.query_one("#passphrase", Input).focus()

    @on(Input.Submitted, "#passphrase")
    @on(Button.Pressed, "#open")
    def _submit(self) -> None:
        field = self.query_one("#passphrase", Input)
        passphrase = field.value
        field.value = ""  # not kept in the widget once given
        if not passphrase:
            problem = self.query_one("#passphrase-problem", Static)
            problem.update("Type the passphrase, or press escape to quit.")
            problem.display = True
            return
        self.dismiss(passphrase)

    @on(Button.Pressed, "#quit")
    def action_give_up(self) -> None:
        self.query_one("#passphrase", Input).value = ""
        self.dismiss("")
