"""The Textual application: owns the UI thread's database connection and the screens.

Opening is split so the case list paints at once even on a very large file:
the store is opened without ``PRAGMA integrity_check`` (which reads the whole
file: seconds at 100k cases), the check starts in a worker on its own
connection as soon as the first frame is painted, and writes wait for it
(``when_writable``): screens and dialogs open at once, and a write asked for
meanwhile runs the moment the check passes. A corrupt file is refused with
the store's message, as ``Store.open`` would have refused it.

An encrypted file whose passphrase was not given on the command line opens
behind a passphrase dialog (:mod:`audit.tui.screens.passphrase`): nothing is
read from it, and no case list drawn, until a passphrase opens it.
"""

from __future__ import annotations

import time

from pathlib import Path
from typing import TYPE_CHECKING, Callable

from textual import events, work
from textual.app import App
from textual.binding import Binding
from textual.reactive import var
from textual.screen import Screen

from audit import dbfile
from audit.crypto import ATTEMPTS, WRONG
from audit.errors import AuditError, DatabaseBusy
from audit.store import Store

if TYPE_CHECKING:
    from audit.cases import CaseService

#: seconds between keys typed ahead when they are handed on: time for each to take effect
TYPE_AHEAD_GAP = 0.03
#: a write waits this long for another program's lock, then waits on a timer instead, so that keys
#: keep working while the file is busy
BUSY_WAIT_S = 0.5
#: seconds between tries of the writes that found the file busy
BUSY_RETRY_S = 1.0
#: a second ctrl+q within this many seconds quits even with writes still waiting
QUIT_AGAIN_S = 5.0

# integrity states
UNCHECKED, CHECKING, CHECKED, FAILED = "unchecked", "checking", "checked", "failed"


class AuditApp(App[None]):
    """``audit tui DB``: case list, walk-through, review, figures and history."""

    CSS_PATH = "audit.tcss"
    TITLE = "audit"
    ENABLE_COMMAND_PALETTE = False
    #: a screen under a dialog hides its key bar (audit.tcss): its keys do not work there
    SUSPENDED_SCREEN_CLASS = "-suspended"
    #: on a short terminal (80x24) screens get "-short", and dialogs drop their spacing (audit.tcss)
    VERTICAL_BREAKPOINTS = [(0, "-short"), (30, "-tall")]
    BINDINGS = [
        Binding("question_mark", "show_keys", "Keys", id="app.keys"),
        Binding("ctrl+q", "quit", "Quit", id="app.quit", priority=True, show=False),
    ]

    #: whether the file has passed ``PRAGMA integrity_check`` (screens watch this)
    integrity: var[str] = var(UNCHECKED)

    def __init__(self, db_path: str | Path, *, store: Store | None = None, check_integrity: bool = True):
        super().__init__()
        self.db_path = Path(db_path)
        created = not self.db_path.exists()
        #: an encrypted file this process has no key for yet: opened once its passphrase is typed
        self.locked = store is None and dbfile.locked(self.db_path)
        self.store = store or (None if self.locked else Store.open(self.db_path, check=False))
        self._passphrase_attempts = 0
        # a file made just now has nothing to check
        self.integrity = UNCHECKED if check_integrity and not created else CHECKED
        #: the one-line reason the app stopped (corrupt file, internal error), for the CLI to print
        self.failure: str | None = None
        self._rubrics_warmed = False
        self._cases: CaseService | None = None
        self._waiting_writes: list[Callable[[], object]] = []
        #: writes that found the file busy, oldest first, each tried again until it is saved
        self._busy_writes: list[Callable[[], object]] = []
        self._quit_asked_at: float | None = None
        if self.store is not None:
            self.store.set_busy_timeout(BUSY_WAIT_S)
        # keys that came before the screen they are meant for was ready, in the order typed
        self._held_keys: list[events.Key] = []
        self._replaying: set[int] = set()

    # -- keys typed ahead ----------------------------------------------------------------------
    async def on_event(self, event: events.Event) -> None:
        """Keys typed while a screen is still being built (at start-up, or just after the key that
        opened it) wait for it, in order, instead of going to a screen that drops them."""
        if isinstance(event, events.Key) and not event.is_forwarded:
            if id(event) in self._replaying:
                self._replaying.discard(id(event))
            elif self._held_keys or not self._screen_ready():
                self._held_keys.append(event)
                if len(self._held_keys) == 1:
                    self.set_timer(0.005, self._release_held_keys)
                return
        await super().on_event(event)

    def _screen_ready(self) -> bool:
        try:
            return self.screen.is_mounted
        except Exception:  # no screen yet: Textual is still starting
            return False

    def _release_held_keys(self) -> None:
        """One key at a time, as if typed: a key may open a screen or move the focus, and the keys
        after it are meant for where it leads (n then T001 types T001 into the new case's reference)."""
        if not self._held_keys:
            return
        if not self._screen_ready():
            self.set_timer(0.005, self._release_held_keys)
            return
        key = self._held_keys.pop(0)
        again = events.Key(key.key, key.character)  # a new event: the held one was already handled once
        self._replaying.add(id(again))
        self.post_message(again)
        if self._held_keys:
            self.set_timer(TYPE_AHEAD_GAP, self._release_held_keys)

    # -- lifecycle ---------------------------------------------------------------------------
    def get_default_screen(self) -> Screen:
        if self.locked:
            from audit.tui.screens.passphrase import LockedScreen

            return LockedScreen(str(self.db_path))
        from audit.tui.screens.case_list import CaseListScreen

        return CaseListScreen()

    def on_ready(self) -> None:
        # Textual's Ready: the first frame is painted (with the first page of cases, or the passphrase dialog)
        if self.locked:
            self.ask_passphrase()
            return
        self.first_paint_done()

    # -- an encrypted file ---------------------------------------------------------------------
    def ask_passphrase(self, problem: str | None = None) -> None:
        from audit.tui.screens.passphrase import PassphraseScreen

        self.push_screen(PassphraseScreen(str(self.db_path), problem), callback=self._passphrase_given)

    def _passphrase_given(self, passphrase: str | None) -> None:
        if not passphrase:
            self.failure = f"{self.db_path}: no passphrase given; nothing was opened"
            self.exit(return_code=1)
            return
        self._passphrase_attempts += 1
        self.screen.say("Checking the passphrase (this takes a moment, on purpose: it slows down anyone guessing)…")
        self.try_passphrase(passphrase)

    @work(thread=True, exclusive=True, group="passphrase", exit_on_error=False)
    def try_passphrase(self, passphrase: str) -> None:
        """The key derivation, off the UI thread."""
        try:
            opened = dbfile.try_passphrase(self.db_path, passphrase)
        except AuditError as exc:
            self.call_from_thread(self._cannot_open, str(exc))
            return
        self.call_from_thread(self._unlocked if opened else self._wrong_passphrase)

    def _wrong_passphrase(self) -> None:
        self.screen.say("")
        if self._passphrase_attempts >= ATTEMPTS:
            self._cannot_open(f"{self.db_path}: {WRONG}")
            return
        left = ATTEMPTS - self._passphrase_attempts
        self.ask_passphrase(f"{WRONG.capitalize()}: {left} more {'try' if left == 1 else 'tries'}.")

    def _unlocked(self) -> None:
        try:
            self.store = Store.open(self.db_path, check=False)
        except AuditError as exc:
            self._cannot_open(str(exc))
            return
        self.locked = False
        self.store.set_busy_timeout(BUSY_WAIT_S)
        from audit.tui.screens.case_list import CaseListScreen

        self.push_screen(CaseListScreen())  # over the locked screen, which stays at the bottom, never seen again
        self.set_timer(1.0, self.first_paint_done)

    def _cannot_open(self, message: str) -> None:
        self.failure = message
        self.exit(return_code=1)

    def first_paint_done(self) -> None:
        """Once the first frame is on screen: the integrity check, and rubric parsing."""
        if self.integrity == UNCHECKED:
            self.integrity = CHECKING
            self.check_integrity()
        if not self._rubrics_warmed:
            self._rubrics_warmed = True
            self.warm_rubrics()

    @work(thread=True, group="rubrics", exit_on_error=False)
    def warm_rubrics(self) -> None:
        """Parse the database's rubrics off the UI thread (about 0.15 s for 200 questions), so
        opening the first case does not wait for it. The UI thread's store only caches them."""
        try:
            reader = self.reader()
            try:
                rubrics = [reader.rubric(row["sha256"]) for row in reader.rubrics()]
            finally:
                reader.close()
        except AuditError:
            return  # opening a case will say what is wrong
        for rubric in rubrics:
            # the text is already stored under this sha, so add_rubric only caches it
            self.call_from_thread(self.store.add_rubric, rubric)

    def on_unmount(self) -> None:
        if self.store is not None:
            self.store.close()

    @work(thread=True, group="integrity", exit_on_error=False)
    def check_integrity(self) -> None:
        """The full check (integrity, schema, every value), read-only, on this worker's own connection."""
        from audit.dbcheck import check_content

        try:
            reader = Store.open_read_only(self.db_path, check=True)
            try:
                check_content(reader)
            finally:
                reader.close()
        except AuditError as exc:
            self.call_from_thread(self.integrity_failed, str(exc))
        else:
            self.call_from_thread(self.integrity_passed)

    def integrity_passed(self) -> None:
        self.integrity = CHECKED
        waiting, self._waiting_writes = self._waiting_writes, []
        for write in waiting:  # in the order they were asked for
            write()

    def integrity_failed(self, message: str) -> None:
        self.integrity = FAILED
        self._waiting_writes.clear()
        self.failure = message
        self.exit(return_code=1)

    def _handle_exception(self, error: Exception) -> None:
        # Textual's default prints a traceback with local variables, which could
        # show case data; users get one line instead. Tests still see the error.
        self.failure = (
            f"internal error ({type(error).__name__}: {error}); every answer shown as saved is in "
            f"{self.db_path}; please report this with what you pressed"
        )
        super()._handle_exception(error)
        if not self.is_headless:
            self._exit_renderables.clear()

    # -- services for screens ----------------------------------------------------------------
    @property
    def cases(self) -> CaseService:
        """The case service on the UI thread's store: every answer, note, status, deletion and restore
        goes through it (made on first use: the rubric engine loads after the first frame)."""
        if self._cases is None or self._cases.store is not self.store:
            from audit.cases import CaseService

            self._cases = CaseService(self.store)  # who is at the keyboard: read once, not per key
        return self._cases

    def reader(self) -> Store:
        """A new connection for a worker thread (sqlite3 connections never cross threads)."""
        return Store.open_read_only(self.db_path)

    @property
    def writable(self) -> bool:
        return self.integrity == CHECKED

    def when_writable(self, write: Callable[[], object]) -> bool:
        """Run ``write`` now if the file has passed its check (True), or as soon as it does (False).

        Writes asked for while the check runs wait in order; none runs if the check fails (the
        UI then closes with the store's message)."""
        if self.writable:
            write()
            return True
        if self.integrity != FAILED:
            self._waiting_writes.append(write)
            if self.integrity == UNCHECKED:
                self.first_paint_done()
        return False

    @property
    def writes_waiting(self) -> int:
        return len(self._waiting_writes) + len(self._busy_writes)

    def when_free(self, write: Callable[[], object]) -> None:
        """Try ``write`` again once another program has let go of the file.

        ``write`` raises :class:`DatabaseBusy` while the file is still busy; writes are tried in the
        order they were asked for, so a later answer to a question is never overwritten by an earlier one."""
        self._busy_writes.append(write)
        if len(self._busy_writes) == 1:
            self.set_timer(BUSY_RETRY_S, self._retry_busy_writes)

    def _retry_busy_writes(self) -> None:
        while self._busy_writes:
            try:
                self._busy_writes[0]()
            except DatabaseBusy:
                self.set_timer(BUSY_RETRY_S, self._retry_busy_writes)
                return
            self._busy_writes.pop(0)

    async def action_quit(self) -> None:
        """ctrl+q: a note or a number being typed in a case is saved first, as on leaving it; answers
        still waiting for the file are never dropped without a second ctrl+q."""
        from audit.tui.screens.walkthrough import WalkthroughScreen

        if isinstance(self.screen, WalkthroughScreen):
            self.screen.keep_what_was_typed()
        if self._busy_writes:
            self._retry_busy_writes()
        waiting = self.writes_waiting
        now = time.monotonic()
        if waiting and (self._quit_asked_at is None or now - self._quit_asked_at > QUIT_AGAIN_S):
            self._quit_asked_at = now
            why = "the file is being checked" if self._waiting_writes else "another program is writing the file"
            self.notify(f"{waiting} change(s) not saved yet: {why}. They are saved the moment it is free; "
                        "press ctrl+q again to quit without them.", severity="warning", timeout=QUIT_AGAIN_S)
            return
        await super().action_quit()

    def action_show_keys(self) -> None:
        from audit.tui.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))
