"""The case list on a database larger than one page: paging, filtering, sorting, sites."""

from __future__ import annotations

import asyncio

import pytest
from textual.worker import WorkerCancelled

from audit.store import NewCase, Store
from audit.tui.app import AuditApp
from audit.tui.screens.case_list import PAGE_SIZE, CaseListScreen
from audit.tui.screens.site_picker import SitePickerScreen
from audit.tui.screens.walkthrough import WalkthroughScreen
from audit.tui.widgets.case_table import CaseTable

SITES = ["cumbria", "sheffield", "surrey"]
CASES = 250


async def settle(pilot) -> None:
    for _ in range(3):
        try:
            await pilot.app.workers.wait_for_complete()
        except WorkerCancelled:  # an exclusive worker replaced by a newer one: wait for that
            continue
        await pilot.pause()


async def filter_settle(pilot) -> None:
    await pilot.pause(0.3)  # the filter waits for a pause in typing
    await settle(pilot)


def refs(app) -> list[str]:
    table = app.screen.query_one(CaseTable)
    return [str(table.get_row_at(i)[0]) for i in range(table.row_count)]


def status_line(app) -> str:
    return str(app.screen.query_one("#list-status").render())


@pytest.fixture
def big_db(tmp_db_path, thematic_rubric):
    store = Store.open(tmp_db_path)
    cases = [
        NewCase(f"C{index:04d}", SITES[index % 3], thematic_rubric,
                {"sentence_type": "community"} if index % 5 else {}, inspector=f"insp{index % 4}")
        for index in range(CASES)
    ]
    store.insert_cases(cases, who="test")
    # the last edit of each case decides the default order: C0000 oldest, C0249 newest
    with store.db.atomic():
        store.db.conn.executemany("UPDATE cases SET updated_at = ? WHERE case_ref = ?",
                                  [(f"2019-06-01T09:{i // 60:02d}:{i % 60:02d}.000000Z", f"C{i:04d}") for i in range(CASES)])
    store.close()
    return tmp_db_path


def test_pages_through_the_cases_never_holding_more_than_one_page(big_db):
    async def scenario() -> None:
        app = AuditApp(big_db)
        async with app.run_test(size=(110, 30)) as pilot:
            await settle(pilot)
            assert refs(app)[:3] == ["C0249", "C0248", "C0247"]  # newest edit first
            assert len(refs(app)) == PAGE_SIZE
            assert "cases 1–100 of 250" in status_line(app)
            await pilot.press("ctrl+end", "down")  # past the last row: the next page
            await settle(pilot)
            assert refs(app)[0] == "C0149" and len(refs(app)) == PAGE_SIZE
            assert app.screen.query_one(CaseTable).cursor_row == 0
            assert "cases 101–200 of 250" in status_line(app)
            await pilot.press("ctrl+end", "pagedown")
            await settle(pilot)
            assert refs(app) == [f"C{i:04d}" for i in range(49, -1, -1)]
            assert "cases 201–250 of 250" in status_line(app)
            await pilot.press("up")  # above the first row: the previous page, cursor on its last row
            await settle(pilot)
            table = app.screen.query_one(CaseTable)
            assert "cases 101–200" in status_line(app) and table.cursor_row == PAGE_SIZE - 1

    asyncio.run(scenario())


def test_filter_by_typing_sort_and_site(big_db):
    async def scenario() -> None:
        app = AuditApp(big_db)
        async with app.run_test(size=(110, 30)) as pilot:
            await settle(pilot)
            await pilot.press("slash", *"C001")
            await filter_settle(pilot)
            assert refs(app) == [f"C{i:04d}" for i in range(19, 9, -1)]
            assert "of 10" in status_line(app)
            await pilot.press("enter")  # back to the list
            assert isinstance(app.focused, CaseTable)
            await pilot.press("o")  # order: by ref, ascending
            await settle(pilot)
            assert refs(app) == [f"C{i:04d}" for i in range(10, 20)]
            await pilot.press("r")  # reversed
            await settle(pilot)
            assert refs(app)[0] == "C0019"
            await pilot.press("escape")  # clears the filter, keeps the order
            await settle(pilot)
            assert refs(app)[0] == "C0249" and "of 250" in status_line(app)
            await pilot.press("s")
            await settle(pilot)
            picker = app.screen
            assert isinstance(picker, SitePickerScreen)
            await pilot.press("down", "down", "enter")  # All sites, cumbria, sheffield
            await settle(pilot)
            assert isinstance(app.screen, CaseListScreen)
            assert "site: sheffield" in status_line(app) and "of 83" in status_line(app)
            table = app.screen.query_one(CaseTable)
            assert {str(table.get_row_at(i)[1]) for i in range(table.row_count)} == {"sheffield"}
            await pilot.press("c")  # in-progress only: all of them; c again: complete only, none
            await pilot.press("c")
            await settle(pilot)
            assert refs(app) == [] and "No cases match" in str(app.screen.query_one("#list-empty").render())

    asyncio.run(scenario())


def test_opening_a_case_and_coming_back_keeps_the_list_current(big_db):
    async def scenario() -> None:
        app = AuditApp(big_db)
        async with app.run_test(size=(110, 30)) as pilot:
            await settle(pilot)
            await pilot.press("down", "down", "enter")  # C0247
            await settle(pilot)
            screen = app.screen
            assert isinstance(screen, WalkthroughScreen) and screen.case.case_ref == "C0247"
            await pilot.press("2")  # lead agency: NPS
            await pilot.press("escape")
            await settle(pilot)
            # just edited: now the newest, at the top, with the cursor on it
            assert refs(app)[0] == "C0247"
            table = app.screen.query_one(CaseTable)
            assert table.cursor_row == 0

    asyncio.run(scenario())


def test_site_picker_with_many_sites_fits_80_by_24(tmp_db_path, thematic_rubric):
    from textual.widgets import OptionList

    store = Store.open(tmp_db_path)
    store.insert_cases([NewCase(f"C{i:02d}", f"site_{i:02d}", thematic_rubric, {}) for i in range(28)], who="test")
    store.close()

    async def scenario() -> None:
        app = AuditApp(tmp_db_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("s")
            await settle(pilot)
            picker = app.screen
            assert isinstance(picker, SitePickerScreen)
            sites = picker.query_one("#sites", OptionList)
            await pilot.press("end")
            await pilot.pause()
            assert sites.highlighted == 28  # All sites, then the 28
            assert picker.find_widget(sites).visible_region == sites.region  # not cut off by the screen's edge

    asyncio.run(scenario())
