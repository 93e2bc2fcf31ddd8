"""The check before the first write (docs/reliability.md): cheap when the file was closed cleanly,
the full check first when it was not; dialogs never wait; a file found corrupt by the full check
later still stops the UI. On real files, with the real app driven by Pilot."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from audit import dbfile
from audit.errors import AuditError
from audit.store import Store
from audit.tui.app import CHECKED, FAILED, AuditApp
from tests.test_merge import integrity

PROJECT = Path(__file__).resolve().parent.parent
SIZE = (120, 40)

WRITE_THEN_DIE = """
import os, signal, sys
from audit.store import Store
from audit.rubric import load_rubric_by_id
store = Store.open(sys.argv[1])
case = store.create_case("K1", "sheffield", load_rubric_by_id("iom-thematic-2019"), "jb")
store.set_answer(case.uuid, "sentence_type", "community")
os.kill(os.getpid(), signal.SIGKILL)  # no close: the -wal keeps its frames
"""


def make(path: Path, rubric) -> Path:
    with Store.open(path) as store:
        store.create_case("T001", "sheffield", rubric, "jb")
    return path


def killed_writer(path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    result = subprocess.run([sys.executable, "-c", WRITE_THEN_DIE, str(path)], env=env)
    assert result.returncode == -signal.SIGKILL


def test_a_clean_close_and_a_killed_writer_are_told_apart_by_stat_alone(tmp_path, thematic_rubric):
    path = make(tmp_path / "site.db", thematic_rubric)
    assert dbfile.closed_cleanly(path)
    with Store.open(path, create=False) as store:
        assert store.closed_cleanly
        assert store.conn.execute("PRAGMA cell_size_check").fetchone()[0] == 1  # pages a write reads are checked
    killed_writer(path)
    assert not dbfile.closed_cleanly(path)  # the -wal still holds the killed writer's frames
    with Store.open(path, create=False) as store:
        assert not store.closed_cleanly
        assert sorted(c.case_ref for c in store.list_cases(limit=10)) == ["K1", "T001"]  # its commit kept
    assert dbfile.closed_cleanly(path)  # that open closed it cleanly
    assert integrity(path) == "ok"


class SlowFullCheck:
    """Holds the full check (``integrity_check``) until released, as on a large file under load."""

    def __init__(self, monkeypatch):
        self.release = threading.Event()
        self.started = threading.Event()
        inspect = dbfile.inspect

        def held(conn, shown, *, integrity):
            if integrity:
                self.started.set()
                self.release.wait(30)
            return inspect(conn, shown, integrity=integrity)

        monkeypatch.setattr(dbfile, "inspect", held)


async def wait_for(pilot, condition, tries: int = 200) -> bool:
    for _ in range(tries):
        if condition():
            return True
        await pilot.pause(0.02)
    return condition()


def test_after_a_clean_close_writes_wait_only_for_the_cheap_check(tmp_path, thematic_rubric, monkeypatch):
    path = make(tmp_path / "site.db", thematic_rubric)
    slow = SlowFullCheck(monkeypatch)
    app = AuditApp(path)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            app.first_paint_done()
            assert await wait_for(pilot, lambda: app.writable)
            assert await wait_for(pilot, slow.started.is_set)
            assert not slow.release.is_set() and app.writable  # writable while the full check still runs
            app.when_writable(lambda: app.store.create_case("T002", "sheffield", thematic_rubric, "jb"))
            slow.release.set()
            await pilot.app.workers.wait_for_complete()
            await pilot.pause()
            assert app.integrity == CHECKED and app.failure is None

    asyncio.run(scenario())
    with Store.open(path, create=False) as store:
        assert sorted(c.case_ref for c in store.list_cases(limit=10)) == ["T001", "T002"]


def test_after_an_unclean_close_writes_wait_for_the_full_check_and_dialogs_do_not(tmp_path, thematic_rubric, monkeypatch):
    path = make(tmp_path / "site.db", thematic_rubric)
    killed_writer(path)
    slow = SlowFullCheck(monkeypatch)
    app = AuditApp(path)
    written: list[str] = []

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            app.first_paint_done()
            assert await wait_for(pilot, slow.started.is_set)
            await pilot.press("question_mark")  # a dialog opens while the check runs
            await pilot.pause()
            assert type(app.screen).__name__ == "HelpScreen"
            assert not app.writable
            assert not app.when_writable(lambda: written.append("saved"))  # waits
            assert written == []
            slow.release.set()
            assert await wait_for(pilot, lambda: app.writable)
            assert written == ["saved"]  # ran the moment the check passed

    asyncio.run(scenario())


def test_a_file_the_full_check_refuses_stops_the_ui_even_after_writes_were_allowed(tmp_path, thematic_rubric, monkeypatch):
    path = make(tmp_path / "site.db", thematic_rubric)
    slow = SlowFullCheck(monkeypatch)
    app = AuditApp(path)

    async def scenario() -> None:
        async with app.run_test(size=SIZE) as pilot:
            app.first_paint_done()
            assert await wait_for(pilot, lambda: app.writable)
            # damage found by the full check: a value the tool could not have written
            conn = __import__("sqlite3").connect(path)
            conn.execute("INSERT OR IGNORE INTO question_keys (question_id) VALUES ('sentence_type')")
            conn.execute("INSERT INTO answer_data (case_id, question_key, value) "
                         "SELECT id, (SELECT id FROM question_keys WHERE question_id = 'sentence_type'), '\"bogus\"' FROM cases")
            conn.commit()
            conn.close()
            slow.release.set()
            assert await wait_for(pilot, lambda: app.failure is not None)

    asyncio.run(scenario())
    assert app.integrity == FAILED and str(path) in (app.failure or "")


@pytest.mark.parametrize("table", ["options", "meta"])
def test_the_cheap_check_refuses_a_damaged_small_table(tmp_path, thematic_rubric, table):
    path = make(tmp_path / "site.db", thematic_rubric)
    with Store.open_read_only(path) as store:
        store.check_before_writes()  # a sound file passes
        root, size = store.conn.execute(
            f"SELECT rootpage, (SELECT page_size FROM pragma_page_size) FROM sqlite_master WHERE name = '{table}'"
        ).fetchone()
    # no connection of this process has the file open now: damage one page of that table in place
    fd = os.open(path, os.O_WRONLY)
    try:
        os.pwrite(fd, b"\xff" * size, (root - 1) * size)
    finally:
        os.close(fd)
    with pytest.raises(AuditError, match="corrupt|not a database|malformed"):
        store = Store.open_read_only(path)
        try:
            store.check_before_writes()
        finally:
            store.close()
