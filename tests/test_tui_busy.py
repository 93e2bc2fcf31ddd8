"""Another program holds the write lock while an inspector answers (issue #7, "busy files").

The real app is driven with Pilot on a real file; a second SQLite connection, as
another program would, takes the write lock with BEGIN IMMEDIATE. The answer must
stay on screen, be said to be waiting, reach the file once the lock is let go,
and never be dropped by quitting.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from audit.store import Store
from audit.tui.app import AuditApp
from audit.tui.screens.walkthrough import WalkthroughScreen
from tests.tui_support import settle

SIZE = (120, 40)


def make_case(path: Path, rubric) -> str:
    with Store.open(path) as store:
        return store.create_case("T001", "sheffield", rubric, "jb").uuid


def saved_value(path: Path, case_uuid: str, qid: str):
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:  # a reader: never blocked in WAL mode
        row = conn.execute("SELECT value FROM answers WHERE case_uuid = ? AND question_id = ? AND state = 'current'",
                           [case_uuid, qid]).fetchone()
    return None if row is None else row[0]


def hold_the_lock(path: Path) -> sqlite3.Connection:
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    return holder


async def wait_until(pilot, condition, seconds: float = 10.0) -> bool:
    for _ in range(int(seconds / 0.05)):
        if condition():
            return True
        await pilot.pause(0.05)
    return condition()


def test_an_answer_given_while_another_program_writes_is_kept_and_saved_when_the_file_is_free(tmp_db_path,
                                                                                             thematic_rubric):
    case_uuid = make_case(tmp_db_path, thematic_rubric)

    async def scenario() -> None:
        async with AuditApp(tmp_db_path).run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("enter")
            await settle(pilot)
            walk = pilot.app.screen
            assert isinstance(walk, WalkthroughScreen) and walk.current == "sentence_type"
            holder = hold_the_lock(tmp_db_path)
            try:
                await pilot.press("1")  # Community sentence
                assert await wait_until(pilot, lambda: "Not saved yet" in walk.said)
                assert "another program is writing the file" in walk.said
                assert walk.current == "sentence_type"  # not moved on: the answer is still in front of them
                assert saved_value(tmp_db_path, case_uuid, "sentence_type") is None
                assert pilot.app.writes_waiting == 1
                await pilot.pause(2.5)  # tried again meanwhile, still busy: still waiting, nothing lost
                assert pilot.app.writes_waiting == 1
            finally:
                holder.execute("ROLLBACK")
                holder.close()
            assert await wait_until(pilot, lambda: saved_value(tmp_db_path, case_uuid, "sentence_type") is not None)
            assert saved_value(tmp_db_path, case_uuid, "sentence_type") == '"community"'
            assert await wait_until(pilot, lambda: "Saved" in walk.said)
            assert pilot.app.writes_waiting == 0

    asyncio.run(scenario())


def test_quitting_with_an_answer_still_waiting_for_the_file_needs_a_second_ctrl_q(tmp_db_path, thematic_rubric):
    case_uuid = make_case(tmp_db_path, thematic_rubric)

    async def scenario() -> None:
        app = AuditApp(tmp_db_path)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("enter")
            await settle(pilot)
            holder = hold_the_lock(tmp_db_path)
            try:
                await pilot.press("2")  # Post-release supervision
                assert await wait_until(pilot, lambda: app.writes_waiting == 1)
                await pilot.press("ctrl+q")
                await pilot.pause(0.2)
                assert app.is_running and app.return_code is None  # not quit: one answer is waiting
            finally:
                holder.execute("ROLLBACK")
                holder.close()
            await pilot.press("ctrl+q")  # the file is free now: the answer is saved, then the app quits
            await pilot.pause(0.2)
        assert saved_value(tmp_db_path, case_uuid, "sentence_type") == '"post_release"'

    asyncio.run(scenario())
