"""Screenshots of every screen and dialog at 80x24 and 120x40.

The database is built with a fixed clock and fixed case ids, in a folder the
test moves into, so every run draws the same screen. After a deliberate UI
change: ``pytest tests/test_tui_snapshots.py --snapshot-update`` and review the SVGs.
"""

from __future__ import annotations

import time

import pytest

import audit.store
from audit.store import NewCase, Store
from audit.tui.app import AuditApp
from tests.tui_support import settle


def fixed_clock():
    minute = iter(range(10_000))
    def now() -> str:
        m = next(minute)
        return f"2019-06-03T{9 + m // 60:02d}:{m % 60:02d}:00.000000Z"

    return now


@pytest.fixture
def snapshot_db(tmp_path, monkeypatch, thematic_rubric):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.setenv("AUDIT_USER", "jb")
    time.tzset()
    monkeypatch.setattr(audit.store, "now", fixed_clock())
    store = Store.open("audit.db")
    sites = ["sheffield", "surrey", "cumbria"]
    store.insert_cases(
        [
            NewCase(f"T00{i}", sites[i % 3], thematic_rubric, {}, inspector=["jb", "ak"][i % 2],
                    uuid=f"00000000-0000-4000-8000-00000000000{i}")
            for i in range(1, 7)
        ],
        who="jb",
    )
    answers = {
        "sentence_type": "community", "lead_agency": "nps", "lead_professional": "yes", "domestic_abuse": "no",
        "index_offence": "burglary", "rosh": "medium", "previous_convictions": 31, "age": 29, "gender": "male",
        "ethnicity": "white", "ro_knew_reasons": "yes", "reasons_explained": "no", "assessment_completed": "yes",
        "assessment_engaging": "yes", "assessment_desistance": "no", "factors": ["drugs", "alcohol", "accommodation"],
    }
    for i in range(1, 7):  # cases 1-5 get the first 3*i answers; the last edited case is T006
        uuid = f"00000000-0000-4000-8000-00000000000{i}"
        for qid in list(answers)[: 3 * i - (1 if i == 6 else 0)]:
            store.set_answer(uuid, qid, answers[qid], who="jb")
    store.set_note("00000000-0000-4000-8000-000000000006", "factors", "OASys section 8, 12 March", who="jb")
    store.close()
    monkeypatch.setattr(audit.store, "now", fixed_clock())
    yield "audit.db"
    monkeypatch.undo()
    time.tzset()




SIZES = [(80, 24), (120, 40)]  # the smallest laptop terminal every screen must work in, and a usual one
LAST_EDITED = "00000000-0000-4000-8000-000000000006"  # T006: first in the list, opened by enter


async def still(pilot) -> None:
    """Settle, and stop the blinking of a text cursor so that every run draws the same frame."""
    from textual.widgets import Input

    await settle(pilot)
    for _ in range(200):  # the file check runs in a worker from the first frame: the screens say so until it passes
        if pilot.app.writable:
            break
        await pilot.pause(0.05)
    await settle(pilot)
    for box in pilot.app.screen.query(Input):
        box.cursor_blink = False
    await pilot.pause()


async def in_case(pilot, at: str | None = None):
    await settle(pilot)
    await pilot.press("enter")
    await settle(pilot)
    if at:
        pilot.app.screen.show_question(at)
    await still(pilot)
    return pilot.app.screen


async def case_list(pilot) -> None:
    await still(pilot)


async def walkthrough_choice(pilot) -> None:
    await in_case(pilot, at="sentence_type")


async def walkthrough_number(pilot) -> None:
    await in_case(pilot, at="age")


async def walkthrough_several(pilot) -> None:
    await in_case(pilot, at="factors")


async def new_case(pilot) -> None:
    await settle(pilot)
    await pilot.press("n")
    for _ in range(100):  # rubric files are read by a worker
        await settle(pilot)
        if pilot.app.screen.choices:
            break
    await still(pilot)


async def retire_dialog(pilot) -> None:
    await in_case(pilot, at="sentence_type")
    await pilot.press("3")  # non-statutory retires the profile's answers
    await still(pilot)


async def restore_dialog(pilot) -> None:
    """Retired by non-statutory, then community again: the retired answers are offered back."""
    await retire_dialog(pilot)
    await pilot.press("r")
    await still(pilot)
    pilot.app.screen.show_question("sentence_type")
    await pilot.press("1")
    await still(pilot)


async def offered_back(pilot) -> None:
    """One by one: the first retired answer, pre-selected on its question."""
    await restore_dialog(pilot)
    await pilot.press("escape")
    await still(pilot)


async def delete_dialog(pilot) -> None:
    await still(pilot)
    await pilot.press("d", *"created twice")
    await still(pilot)


async def clear_dialog(pilot) -> None:
    await in_case(pilot, at="lead_agency")
    await pilot.press("ctrl+x")
    await still(pilot)


async def review(pilot) -> None:
    await in_case(pilot)
    await pilot.press("r")
    await still(pilot)


async def history(pilot) -> None:
    await in_case(pilot)
    await pilot.press("h")
    await still(pilot)


async def change(pilot) -> None:
    await history(pilot)
    await pilot.press("enter")
    await still(pilot)


async def figures(pilot) -> None:
    await settle(pilot)
    await pilot.press("f")
    for _ in range(100):  # counted by a worker
        await settle(pilot)
        if pilot.app.screen.figures.tables:
            break
    await still(pilot)


async def completion(pilot) -> None:
    await figures(pilot)
    await pilot.press("t", "t")  # figures -> moderation -> completion
    await still(pilot)


async def keys_help(pilot) -> None:
    await in_case(pilot, at="sentence_type")
    await pilot.press("question_mark")
    await still(pilot)


async def site_picker(pilot) -> None:
    await settle(pilot)
    await pilot.press("s")
    await still(pilot)


SCREENS = [case_list, walkthrough_choice, walkthrough_number, walkthrough_several, new_case, retire_dialog,
           restore_dialog, offered_back, delete_dialog, clear_dialog, review, history, change, figures, completion,
           keys_help, site_picker]


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
@pytest.mark.parametrize("screen", SCREENS, ids=lambda screen: screen.__name__)
def test_every_screen(snap_compare, snapshot_db, screen, size):
    assert snap_compare(AuditApp(snapshot_db), terminal_size=size, run_before=screen)
