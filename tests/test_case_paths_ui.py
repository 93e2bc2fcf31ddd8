"""Model-based, the UI path: random keys in the real app leave the verdicts the case service leaves.

The sequences of tests/test_case_paths.py go through the case service, two merged
site files and import. Here random answer keys are pressed in the real walk-through
(Pilot, on the same small rubric), confirming the retire dialog when it opens. The
answers the UI saved, in the order it saved them (its history), are then given
through the case service to a fresh file: both files must hold the same value,
state, applies and counted for every answer, equal to a fresh evaluation.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.cases import CaseService
from audit.store import Store
from audit.tui.app import AuditApp
from audit.tui.screens.confirm import ConfirmRetireScreen
from audit.tui.screens.walkthrough import WalkthroughScreen
from tests.test_case_paths import RUBRIC, rows
from tests.tui_support import settle

#: the keys an inspector may press on each question of the rubric
KEYS = {
    "kind": [["1"], ["2"], ["3"]],
    "seen": [["y"], ["n"]],
    "count": [["0", "enter"], ["3", "enter"], ["9", "enter"]],
    "needs": [["1"], ["2"], ["3"], ["4"], ["n"]],
    "met_x": [["y"], ["n"], ["a"]],
    "met_y": [["y"], ["n"]],
    "done": [["y"], ["n"]],
}

press = st.tuples(st.sampled_from(sorted(KEYS)), st.integers(0, 4))


def saved_in_order(path: Path) -> list[tuple[str, str | None]]:
    """Each answer the UI saved, as the history records it, oldest first."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return list(conn.execute("SELECT question_id, new_value FROM history WHERE field = 'value' ORDER BY id"))


async def drive(path: Path, presses: list[tuple[str, int]]) -> None:
    async with AuditApp(path).run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("enter")  # the one case
        await settle(pilot)
        walk = pilot.app.screen
        assert isinstance(walk, WalkthroughScreen)
        for qid, pick in presses:
            if pilot.app.screen is not walk:
                break
            walk.show_question(qid)
            await pilot.pause()
            options = KEYS[qid]
            await pilot.press(*options[pick % len(options)])
            await settle(pilot)
            if isinstance(pilot.app.screen, ConfirmRetireScreen):
                await pilot.press("r")  # retire them and save the change
                await settle(pilot)


@settings(max_examples=int(os.environ.get("AUDIT_UI_EXAMPLES", "6")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(presses=st.lists(press, min_size=1, max_size=15))
def test_keys_in_the_ui_leave_the_verdicts_the_case_service_leaves(presses):
    import json

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        through_ui, through_service = root / "ui.db", root / "service.db"
        for path in (through_ui, through_service):
            with Store.open(path) as store:
                CaseService(store, who="jb").create_case("T1", "sheffield", RUBRIC)
        asyncio.run(drive(through_ui, presses))
        saved = saved_in_order(through_ui)
        with Store.open(through_service) as store:
            service = CaseService(store, who="jb")
            uuid = store.list_cases()[0].uuid
            for qid, value in saved:
                service.answer(uuid, qid, None if value is None else json.loads(value), confirm_retire=True)
        assert rows(through_ui) == rows(through_service)  # rows() also checks each against a fresh evaluation
