"""The UI on an encrypted database: the passphrase dialog, driven with Pilot, and its screenshots.

Nothing from the file is read or drawn before a passphrase opens it; a wrong one
is said in the dialog and asked again (three tries); escape quits with one line
for the CLI; a passphrase given with --passphrase-file opens it with no dialog.
"""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from audit import crypto
from audit.cli import main as cli_main
from audit.tui.app import AuditApp
from audit.tui.screens.case_list import CaseListScreen
from audit.tui.screens.passphrase import PassphraseScreen
from tests.crypto_support import PASSPHRASE, fresh_keyring, make_site, passphrase_file  # noqa: F401 (a fixture)
from tests.tui_support import settle


@pytest.fixture(scope="module")
def encrypted_template(tmp_path_factory, thematic_rubric) -> Path:
    folder = tmp_path_factory.mktemp("encrypted")
    db = make_site(folder / "site.db", thematic_rubric)
    secret = passphrase_file(folder)
    assert cli_main(["encrypt", str(db), "--passphrase-file", str(secret)]) == 0
    return db


@pytest.fixture
def encrypted(encrypted_template, tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    shutil.copy(encrypted_template, tmp_path / "site.db")
    crypto.KEYRING.reset()
    return Path("site.db")


async def wait_for(pilot, condition, seconds: float = 30) -> None:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return
        await pilot.pause(0.05)
    raise AssertionError("the UI never got there")


def test_the_dialog_comes_before_anything_is_read_and_a_right_passphrase_opens_the_list(encrypted):
    app = AuditApp(encrypted)
    assert app.locked and app.store is None

    async def scenario() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert isinstance(app.screen, PassphraseScreen)
            assert not any(isinstance(screen, CaseListScreen) for screen in app.screen_stack)
            await pilot.press(*"not the passphrase", "enter")
            await wait_for(pilot, lambda: isinstance(app.screen, PassphraseScreen) and app.screen.problem)
            assert "Wrong passphrase, or not an audit database: 2 more tries." == app.screen.problem
            assert app.screen.query_one("#passphrase").value == ""  # nothing typed is kept
            await pilot.press(*PASSPHRASE, "enter")
            await wait_for(pilot, lambda: isinstance(app.screen, CaseListScreen))
            await settle(pilot)
            assert app.store is not None and not app.locked
            assert app.screen.query_one("#list-status").render()  # drawn
            assert sorted(c.case_ref for c in app.store.list_cases())[0] == "REF-ZQX-000"
            await wait_for(pilot, lambda: app.writable)  # the background integrity check ran through the key

    asyncio.run(scenario())
    assert app.failure is None


def test_escape_quits_with_one_line_and_three_wrong_tries_refuse(encrypted):
    app = AuditApp(encrypted)

    async def give_up() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("escape")
            await pilot.pause()

    asyncio.run(give_up())
    assert app.return_code == 1 and app.failure == f"{encrypted}: no passphrase given; nothing was opened"

    crypto.KEYRING.reset()
    app = AuditApp(encrypted)

    async def three_wrong() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            for attempt in range(3):
                await wait_for(pilot, lambda: isinstance(app.screen, PassphraseScreen))
                dialog = app.screen
                await pilot.press(*f"wrong guess {attempt}", "enter")
                await wait_for(pilot, lambda: app.screen is not dialog and isinstance(app.screen, PassphraseScreen)
                               or app.failure is not None)
                if attempt < 2:
                    left = "2 more tries" if attempt == 0 else "1 more try"
                    assert app.screen.problem == f"Wrong passphrase, or not an audit database: {left}."
            await wait_for(pilot, lambda: app.failure is not None)

    asyncio.run(three_wrong())
    assert app.return_code == 1 and app.failure == f"{encrypted}: wrong passphrase, or not an audit database"


def test_an_empty_passphrase_is_asked_again_in_the_dialog(encrypted):
    app = AuditApp(encrypted)

    async def scenario() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, PassphraseScreen)
            assert "Type the passphrase" in str(app.screen.query_one("#passphrase-problem").render())

    asyncio.run(scenario())


def test_a_passphrase_file_opens_it_without_a_dialog(encrypted, tmp_path):
    crypto.KEYRING.passphrase_files = [passphrase_file(tmp_path, name="given")]
    app = AuditApp(encrypted)
    assert not app.locked and app.store is not None

    async def scenario() -> None:
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert isinstance(app.screen, CaseListScreen)

    asyncio.run(scenario())


def test_a_plain_file_never_shows_the_dialog(tmp_path, thematic_rubric):
    db = make_site(tmp_path / "plain.db", thematic_rubric, cases=1)
    app = AuditApp(db)
    assert not app.locked


def test_the_cli_creates_an_encrypted_file_for_the_ui(tmp_path, monkeypatch):
    """`audit tui new.db --encrypt`: made encrypted before the UI starts (passphrase from a file here)."""
    secret = passphrase_file(tmp_path)
    ran = []
    monkeypatch.setattr(AuditApp, "run", lambda self: ran.append(self.store is not None))
    monkeypatch.setattr("audit.commands.tui.check_terminal", lambda: None)  # pytest's streams are not a terminal
    assert cli_main(["tui", str(tmp_path / "new.db"), "--encrypt", "--passphrase-file", str(secret)]) == 0
    assert ran == [True]
    assert b"SQLite format 3" not in (tmp_path / "new.db").read_bytes()
    # an existing plain file is not silently left plain
    plain = tmp_path / "plain.db"
    assert cli_main(["tui", str(tmp_path / "plain.db")]) == 0
    assert cli_main(["tui", str(plain), "--encrypt", "--passphrase-file", str(secret)]) == 1


# --- screenshots ------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [(80, 24), (120, 40)], ids=["80x24", "120x40"])
def test_passphrase_dialog_snapshot(snap_compare, encrypted, size):
    assert snap_compare(AuditApp(encrypted), terminal_size=size, run_before=settle)


def test_passphrase_dialog_after_a_wrong_passphrase_snapshot(snap_compare, encrypted):
    async def wrong(pilot) -> None:
        await settle(pilot)
        await pilot.press(*"not it", "enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, PassphraseScreen) and pilot.app.screen.problem)
        await settle(pilot)

    assert snap_compare(AuditApp(encrypted), terminal_size=(80, 24), run_before=wrong)
