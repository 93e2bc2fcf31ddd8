"""The case list on a database larger than one page: paging, filtering, sorting, sites;
and its table widget on its own: keys, page requests, clicks, drawing."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.app import App, ComposeResult

import audit.tui

from audit.store import NewCase, Store
from audit.tui.app import AuditApp
from audit.tui.screens.case_list import PAGE_SIZE, CaseListScreen
from audit.tui.screens.site_picker import SitePickerScreen
from audit.tui.screens.walkthrough import WalkthroughScreen
from audit.tui.widgets.case_table import CaseTable, Column, Row
from tests.tui_support import settle

SITES = ["cumbria", "sheffield", "surrey"]
CASES = 250




async def filter_settle(pilot) -> None:
    await pilot.pause(0.3)  # the filter waits for a pause in typing
    await settle(pilot)


def refs(app) -> list[str]:
    table = app.screen.query_one(CaseTable)
    return [table.row_text(i)[0] for i in range(table.row_count)]


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
            table = app.screen.query_one(CaseTable)
            assert refs(app)[:3] == ["C0249", "C0248", "C0247"]  # newest edit first
            assert len(refs(app)) == PAGE_SIZE
            assert "cases 1–100 of 250" in status_line(app)
            table.move_cursor(PAGE_SIZE - 1)
            await pilot.press("down")  # past the last row: the next page
            await settle(pilot)
            assert refs(app)[0] == "C0149" and len(refs(app)) == PAGE_SIZE and table.cursor_row == 0
            assert "cases 101–200 of 250" in status_line(app)
            await pilot.press("up")  # above the first row: the previous page, cursor on its last row
            await settle(pilot)
            assert "cases 1–100" in status_line(app) and table.cursor_row == PAGE_SIZE - 1
            await pilot.press("end")  # the true end of the list, not of the page
            await settle(pilot)
            assert refs(app)[-1] == "C0000" and table.highlighted_key == app.screen.page.cases[-1].uuid
            assert "cases 151–250 of 250" in status_line(app)
            await pilot.press("down", "pagedown")  # nothing after the last case
            await settle(pilot)
            assert refs(app)[-1] == "C0000" and table.cursor_row == len(refs(app)) - 1
            await pilot.press("home")  # the true start
            await settle(pilot)
            assert refs(app)[0] == "C0249" and table.cursor_row == 0 and "cases 1–100 of 250" in status_line(app)

    asyncio.run(scenario())


def test_a_held_pagedown_moves_as_far_as_its_presses_say(big_db):
    async def scenario() -> None:
        app = AuditApp(big_db)
        async with app.run_test(size=(110, 30)) as pilot:
            await settle(pilot)
            table = app.screen.query_one(CaseTable)
            screenful = table.scrollable_content_region.height - 1
            # a held key: the presses come faster than the pages are read, and every one counts
            await pilot.press(*["pagedown"] * 8)
            await settle(pilot)
            position = app.screen.page.start + table.cursor_row
            assert position == 8 * screenful
            assert refs(app)[table.cursor_row] == f"C{249 - position:04d}"
            await pilot.press(*["pageup"] * 5)
            await settle(pilot)
            position = app.screen.page.start + table.cursor_row
            assert position == 3 * screenful and refs(app)[table.cursor_row] == f"C{249 - position:04d}"
            await pilot.press(*["pagedown"] * 40)  # more than the list holds: its last case
            await settle(pilot)
            assert refs(app)[table.cursor_row] == "C0000"

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
            assert {table.row_text(i)[1] for i in range(table.row_count)} == {"sheffield"}
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


def test_clicking_a_header_sorts_and_clicking_a_row_twice_opens_it(big_db):
    async def scenario() -> None:
        app = AuditApp(big_db)
        async with app.run_test(size=(110, 30)) as pilot:
            await settle(pilot)
            table = app.screen.query_one(CaseTable)
            header = table.render_line(0).text
            assert "Last edited ▼" in header
            await pilot.click(CaseTable, offset=(header.index("Ref"), 0))
            await settle(pilot)
            assert refs(app)[:2] == ["C0000", "C0001"] and "order: ref, ascending" in status_line(app)
            assert "Ref ▲" in table.render_line(0).text and "▼" not in table.render_line(0).text
            await pilot.click(CaseTable, offset=(header.index("Ref"), 0))  # the same column again: reversed
            await settle(pilot)
            assert refs(app)[0] == "C0249" and "order: ref, descending" in status_line(app)
            await pilot.click(CaseTable, offset=(2, 3))  # the third row: highlighted, not opened
            await pilot.pause()
            assert isinstance(app.screen, CaseListScreen) and table.cursor_row == 2
            await pilot.click(CaseTable, offset=(2, 3))  # clicked again: opened
            await settle(pilot)
            assert isinstance(app.screen, WalkthroughScreen) and app.screen.case.case_ref == "C0247"

    asyncio.run(scenario())


# -- the table on its own ------------------------------------------------------------------
TABLE_ROWS = 30
VISIBLE = 11  # a 12-line table, under its header


class TableApp(App[None]):
    CSS_PATH = Path(audit.tui.__file__).parent / "audit.tcss"

    def compose(self) -> ComposeResult:
        yield CaseTable(id="cases")

    def on_mount(self) -> None:
        table = self.query_one(CaseTable)
        table.set_columns([Column("ref", "Ref"), Column("site", "Site"), Column("done", "Done", "right")])
        table.show_rows([Row(f"k{i:02d}", (f"R{i:02d}", f"site{i % 3}", (f"{i}%", "green" if i % 2 else "")))
                         for i in range(TABLE_ROWS)])
        table.focus()

    def on_case_table_end_request(self, event: CaseTable.EndRequest) -> None:
        # a one-page list: its ends are the page's (the case list reads the list's true ends)
        table = self.query_one(CaseTable)
        table.move_cursor(table.row_count - 1 if event.last else 0)

    def on_case_table_page_request(self, event: CaseTable.PageRequest) -> None:
        table = self.query_one(CaseTable)  # nothing past either end of a one-page list
        table.move_cursor(table.row_count - 1 if event.rows > 0 else 0)


def run_table(scenario, size=(40, 12)) -> list[tuple]:
    """Run ``scenario(pilot, table)`` on a 30-row table; the messages it posted, in order."""
    posted: list[tuple] = []
    seen: list = []  # a message bubbling up is seen once per node it reaches

    def hook(message) -> None:
        if any(message is other for other in seen):
            return
        seen.append(message)
        if isinstance(message, CaseTable.PageRequest):
            posted.append(("page", message.rows))
        elif isinstance(message, CaseTable.RowSelected):
            posted.append(("open", message.key))
        elif isinstance(message, CaseTable.HeaderSelected):
            posted.append(("header", message.column_key))

    async def main() -> None:
        app = TableApp()
        async with app.run_test(size=size, message_hook=hook) as pilot:
            await pilot.pause()
            await scenario(pilot, app.query_one(CaseTable))

    asyncio.run(main())
    return posted


def test_table_keys_move_the_cursor_and_keep_it_in_view():
    async def scenario(pilot, table: CaseTable) -> None:
        def place() -> tuple[int, int]:
            assert table.scroll_y <= table.cursor_row < table.scroll_y + VISIBLE  # always on screen
            return table.cursor_row, round(table.scroll_y)

        assert place() == (0, 0) and table.highlighted_key == "k00" and table.row_count == TABLE_ROWS
        await pilot.press(*["down"] * VISIBLE)
        assert place() == (VISIBLE, 1)  # the view followed the cursor by one row
        await pilot.press("up")
        assert place() == (VISIBLE - 1, 1)
        await pilot.press("end")
        assert place() == (29, TABLE_ROWS - VISIBLE) and table.highlighted_key == "k29"
        await pilot.press("home")
        assert place() == (0, 0)
        await pilot.press("pagedown")  # a screenful, the view moving with the cursor
        assert place() == (VISIBLE, VISIBLE)
        await pilot.press("pagedown", "pagedown")
        assert place() == (29, TABLE_ROWS - VISIBLE)
        await pilot.press("pageup")
        assert place() == (29 - VISIBLE, TABLE_ROWS - 2 * VISIBLE)
        await pilot.press("ctrl+home")
        assert place() == (0, 0)
        await pilot.press("ctrl+end")
        assert place() == (29, TABLE_ROWS - VISIBLE)
        await pilot.press("enter")
        await pilot.pause()

    # moving inside the page asks for nothing; a screenful past its end asks for the rest of the way
    assert run_table(scenario) == [("page", 4), ("open", "k29")]


def test_table_asks_for_the_next_or_previous_page_past_either_end():
    async def scenario(pilot, table: CaseTable) -> None:
        await pilot.press("up", "pageup")  # on the first row
        await pilot.press("end", "down", "pagedown")  # on the last row
        await pilot.pause()
        assert table.cursor_row == 29  # the screen moves it when the page arrives
        table.show_rows([Row("only", ("X1", "leeds", "5%"))], cursor=5)  # a cursor past the end is clamped
        assert (table.cursor_row, table.highlighted_key, table.row_count) == (0, "only", 1)
        await pilot.press("down", "up")
        table.show_rows([])
        assert table.highlighted_key is None
        await pilot.press("down", "up", "pagedown", "pageup", "enter")  # an empty page: nothing to ask for
        await pilot.pause()

    # how far past either end each key meant to go: a row, or a screenful from the cursor
    assert run_table(scenario) == [("page", -1), ("page", -VISIBLE), ("page", 1), ("page", VISIBLE), ("page", 1),
                                   ("page", -1)]


def test_table_click_highlights_then_opens_and_header_click_selects_the_column():
    async def scenario(pilot, table: CaseTable) -> None:
        await pilot.click(CaseTable, offset=(1, 4))  # row 3: highlighted only
        await pilot.pause()
        assert table.cursor_row == 3
        await pilot.click(CaseTable, offset=(1, 4))  # the highlighted row: opened
        header = table.render_line(0).text
        await pilot.click(CaseTable, offset=(header.index("Site"), 0))
        await pilot.click(CaseTable, offset=(header.index("Done"), 0))
        await pilot.click(CaseTable, offset=(35, 0))  # the header past the last column: nothing
        await pilot.press("end", "up")
        await pilot.click(CaseTable, offset=(1, VISIBLE))  # the bottom row, scrolled: row 29
        await pilot.pause()
        assert table.cursor_row == 29
        await pilot.click(CaseTable, offset=(1, VISIBLE))
        await pilot.pause()

    assert run_table(scenario) == [("open", "k03"), ("header", "site"), ("header", "done"), ("open", "k29")]


def test_table_draws_each_row_in_its_style_and_follows_a_resize():
    async def scenario(pilot, table: CaseTable) -> None:
        lines = [table.render_line(y) for y in range(4)]
        assert lines[0].text.startswith(" Ref  Site   Done ")
        assert lines[1].text.startswith(" R00  site0    0% ") and lines[2].text.startswith(" R01  site1    1% ")
        width = table.scrollable_content_region.width
        assert all(line.cell_length == width for line in lines)

        def background(line) -> str:
            return {segment.style.bgcolor for segment in line if segment.text.strip()}.pop()

        # header, cursor and zebra stripes come from the component classes in audit.tcss
        assert background(lines[0]) == table.get_component_rich_style("case-table--header").bgcolor
        assert background(lines[1]) == table.get_component_rich_style("case-table--cursor").bgcolor
        assert background(lines[2]) == table.get_component_rich_style("case-table--odd-row").bgcolor
        assert background(lines[3]) == table.get_component_rich_style("case-table--even-row").bgcolor
        assert len({background(line) for line in lines}) == 4
        def green(line) -> bool:
            return any(segment.style.color and segment.style.color.name == "green" for segment in line)

        assert green(lines[2])  # a cell's own colour on a stripe; the cursor's colours on the cursor
        table.move_cursor(1)
        assert not green(table.render_line(2)) and green(table.render_line(4))
        # a newline or escape in imported text is drawn as a space, never sent to the terminal
        table.show_rows([Row("odd", ("A\nB", "x\x1b[2Jy", "1%"))])
        assert table.render_line(1).text.startswith(" A B  x [2Jy    1% ")
        table.show_rows([Row(f"k{i}", (f"R{i}", "s", "1%")) for i in range(TABLE_ROWS)], cursor=20)
        assert table.scroll_y <= 20 < table.scroll_y + VISIBLE
        await pilot.resize_terminal(40, 6)  # 5 rows under the header
        await pilot.pause()
        assert table.scroll_y <= 20 < table.scroll_y + 5
        assert table.render_line(1 + 20 - round(table.scroll_y)).text.startswith(" R20 ")

    assert run_table(scenario) == []


def test_d_deletes_a_case_with_a_reason_and_the_deleted_filter_restores_it(big_db):
    from audit.tui.screens.delete_case import DeleteCaseScreen

    async def scenario() -> None:
        app = AuditApp(big_db)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            while not app.writable:
                await pilot.pause(0.05)
            assert refs(app)[0] == "C0249"
            await pilot.press("d")
            await settle(pilot)
            dialog = app.screen
            assert isinstance(dialog, DeleteCaseScreen)
            await pilot.press("enter")  # no reason: refused
            await pilot.pause()
            assert app.screen is dialog and "Say why" in str(dialog.query_one("#delete-error").render())
            await pilot.press(*"wrong rubric", "enter")
            await settle(pilot)
            assert isinstance(app.screen, CaseListScreen)
            assert refs(app)[0] == "C0248" and "of 249" in status_line(app)  # hidden from the list
            for _ in range(5):  # the status filter's last step: deleted cases only
                await pilot.press("c")
            await settle(pilot)
            assert refs(app) == ["C0249"] and "deleted cases only" in status_line(app)
            assert app.screen.query_one(CaseTable).row_text(0)[3] == "deleted: wrong rubric"
            await pilot.press("enter")  # not opened: it says how to restore it
            await settle(pilot)
            assert isinstance(app.screen, CaseListScreen)
            await pilot.press("d")  # restores
            await settle(pilot)
            assert refs(app) == []
            await pilot.press("c")
            await settle(pilot)
            assert refs(app)[0] == "C0249" and "of 250" in status_line(app)

    asyncio.run(scenario())
    with Store.open(big_db) as store:
        case = store.find_case("cumbria", "C0249") or store.find_case("sheffield", "C0249") or store.find_case("surrey", "C0249")
        assert case is not None and not case.deleted
        reasons = [(h["reason"], h["new_value"]) for h in store.history(case.uuid) if h["field"] == "case"][-2:]
        assert reasons == [("deleted", "wrong rubric"), ("restored case", None)]
