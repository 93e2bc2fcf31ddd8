"""Screenshots of the case list, walk-through and figures screens at a fixed size.

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




def test_case_list(snap_compare, snapshot_db):
    assert snap_compare(AuditApp(snapshot_db), terminal_size=(100, 20), run_before=settle)


def test_walkthrough(snap_compare, snapshot_db):
    async def open_case(pilot) -> None:
        await settle(pilot)
        await pilot.press("enter")  # T006, the last edited
        await settle(pilot)

    assert snap_compare(AuditApp(snapshot_db), terminal_size=(120, 36), run_before=open_case)


def test_figures(snap_compare, snapshot_db):
    async def open_figures(pilot) -> None:
        await settle(pilot)
        await pilot.press("f")
        await settle(pilot)

    assert snap_compare(AuditApp(snapshot_db), terminal_size=(110, 40), run_before=open_figures)
