"""The figures screen's Ratings tab: the real app driven with Pilot on a real core database, and
screenshots at 80x24 and 120x40. A judgement recorded by another connection (as ``audit ratings set``
in another terminal) shows up without a keypress, as the other tabs' counts do."""

from __future__ import annotations

import asyncio
import io
import time

import pytest

import audit.store
from audit.cases import clear_judgement, set_judgement
from audit.store import NewCase, Store
from audit.tui.app import AuditApp
from audit.tui.screens.figures import FiguresScreen
from audit.tui.widgets.ratings_view import RatingsView
from tests.test_tui_snapshots import SIZES, fixed_clock, still
from tests.tui_support import settle

KEY_QUESTIONS = {
    "assessment": ("assessment_engaging", "assessment_desistance", "assessment_safety"),
    "planning": ("planning_engaging", "planning_reoffending", "planning_safety"),
    "delivery": ("delivery_engaging", "delivery_desistance", "delivery_safety"),
    "review": ("review_compliance", "review_desistance", "review_safety"),
}
JUDGED = ("1.1", "1.2", "1.3", "1.4", "3.1", "3.2")


@pytest.fixture
def core_db(tmp_path, monkeypatch, core_rubric):
    """Twelve core cases, fixed ids and clock: 10 of 12 yes to every key question but 7 of 12 to review_safety;
    five of the six judged standards judged Good."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.setenv("AUDIT_USER", "jb")
    time.tzset()
    monkeypatch.setattr(audit.store, "now", fixed_clock())
    cases = []
    for i in range(12):
        answers = {"iom_status": "yes" if i % 3 else "no"}
        for group in KEY_QUESTIONS.values():
            for question in group:
                limit = 7 if question == "review_safety" else 10
                answers[question] = "yes" if i < limit else "no"
        cases.append(NewCase(f"C{i:03d}", ["crc_london", "nps_wales"][i % 2], core_rubric, answers, inspector="jb",
                             uuid=f"00000000-0000-4000-8000-0000000000{i:02d}"))
    with Store.open("audit.db") as store:
        store.insert_cases(cases, who="jb")
        for standard in JUDGED[:-1]:
            set_judgement(store, "hmip-2018", standard, "good", note="fieldwork interviews", who="jb")
    monkeypatch.setattr(audit.store, "now", fixed_clock())
    yield "audit.db"
    monkeypatch.undo()


async def ratings_tab(pilot) -> None:
    await settle(pilot)
    await pilot.press("f")
    for _ in range(100):  # counted by a worker
        await settle(pilot)
        if isinstance(pilot.app.screen, FiguresScreen) and pilot.app.screen.figures.tables:
            break
    for _ in range(3):  # Figures -> Moderation -> Completion -> Ratings
        await pilot.press("t")
    await still(pilot)


def body_text(pilot) -> str:
    from rich.console import Console

    console = Console(width=120, record=True, file=io.StringIO())
    console.print(pilot.app.screen.query_one(RatingsView).shown)
    return console.export_text()


def test_ratings_tab_shows_the_scheme_and_follows_judgements_live(core_db):
    async def scenario() -> None:
        async with AuditApp(core_db).run_test(size=(120, 40)) as pilot:
            await ratings_tab(pilot)
            screen = pilot.app.screen
            assert screen.query_one("#figure-tabs").active == "tab-ratings"
            assert screen.focused is screen.query_one(RatingsView)
            text = body_text(pilot)
            assert "HMI Probation adult core inspections, 2018-2021  ·  12 cases" in text
            # 10 of 12 = 83%: Outstanding; review_safety 7 of 12 = 58% decides 2.4: Requires improvement
            assert "2.1 Assessment" in text and "> review_safety" in text
            lines = {line.split("  ")[0].strip(): line for line in text.splitlines()}
            assert lines["2.1 Assessment"].rstrip().endswith("Outstanding")
            assert lines["2.4 Reviewing"].rstrip().endswith("Requires improvement")
            assert "58%" in lines["> review_safety"] and "lowest" in lines["> review_safety"]
            assert "caution: small base: 12 cases" in text
            assert "Overall: not rated yet: judgements needed for 3.2" in text
            # another connection records the last judgement: the tab follows, with no keypress
            with Store.open(core_db, create=False) as store:
                set_judgement(store, "hmip-2018", "3.2", "outstanding", who="ak")
            for _ in range(200):
                await pilot.pause(0.05)
                if "Overall: Good" in body_text(pilot):
                    break
            # 2.1-2.3 Outstanding (9), 2.4 Requires improvement (1), five Good (10), one Outstanding (3): 23, Good
            assert "Overall: Good (total 23 of 30)" in body_text(pilot)
            with Store.open(core_db, create=False) as store:
                assert clear_judgement(store, "hmip-2018", "3.2")
            for _ in range(200):
                await pilot.pause(0.05)
                if "not rated yet" in body_text(pilot):
                    break
            assert "Overall: not rated yet: judgements needed for 3.2" in body_text(pilot)

    asyncio.run(scenario())


def test_a_database_without_a_scheme_says_so(tmp_db_path, thematic_rubric):
    with Store.open(tmp_db_path) as store:
        case = store.create_case("T001", "sheffield", thematic_rubric, "jb")
        store.set_answer(case.uuid, "sentence_type", "community")

    async def scenario() -> None:
        async with AuditApp(tmp_db_path).run_test(size=(80, 24)) as pilot:
            await ratings_tab(pilot)
            assert "No rating scheme for rubric iom-thematic-2019" in body_text(pilot)

    asyncio.run(scenario())


@pytest.mark.parametrize("size", SIZES, ids=lambda size: f"{size[0]}x{size[1]}")
def test_ratings_tab_snapshot(snap_compare, core_db, size):
    assert snap_compare(AuditApp(core_db), terminal_size=size, run_before=ratings_tab)
