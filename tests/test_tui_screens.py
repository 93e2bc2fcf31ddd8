"""The screens around the walk-through (issue #12, items 4, 6, 7, 9, 11): the new-case dialog's rubric,
figures of a database holding another rubric's case, review, history, and keys typed ahead.
Driven through the real app with Pilot and checked against the SQLite file."""

from __future__ import annotations

import asyncio
from pathlib import Path

from textual import events

from audit.store import Store
from audit.tui.app import CHECKED, CHECKING, UNCHECKED, AuditApp
from audit.tui.screens.case_list import CaseListScreen
from audit.tui.screens.confirm import ConfirmScreen
from audit.tui.screens.figures import FiguresScreen
from audit.tui.screens.history import ChangeScreen, HistoryScreen
from audit.tui.screens.new_case import NewCaseScreen
from audit.tui.screens.review import ReviewScreen
from audit.tui.screens.walkthrough import WalkthroughScreen
from tests.tui_support import settle

SIZE = (120, 40)


def run(coro):
    return asyncio.run(coro)


def make_case(path: Path, rubric, answers: dict, ref: str = "T001", site: str = "sheffield", notes: dict | None = None,
              allow_other_rubric: bool = False) -> str:
    with Store.open(path) as store:
        case = store.create_case(ref, site, rubric, "jb", allow_other_rubric=allow_other_rubric)
        for qid, value in answers.items():
            store.set_answer(case.uuid, qid, value)
        for qid, note in (notes or {}).items():
            store.set_note(case.uuid, qid, note)
        return case.uuid


def cases(path: Path) -> list:
    with Store.open(path, create=False) as store:
        return store.list_cases(order_by="case_ref", descending=False)


async def wait_until(pilot, condition, tries: int = 100) -> None:
    for _ in range(tries):
        if condition():
            return
        await pilot.pause(0.05)
    assert condition()


# --- item 4: the new-case dialog's rubric, and figures of a mixed database ----------------------------


def test_new_case_uses_the_databases_rubric_and_another_needs_a_yes(tmp_db_path, thematic_rubric):
    make_case(tmp_db_path, thematic_rubric, {})

    async def scenario() -> None:
        async with AuditApp(tmp_db_path).run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("n")
            await settle(pilot)
            dialog = pilot.app.screen
            assert isinstance(dialog, NewCaseScreen)
            await wait_until(pilot, lambda: dialog.choices)
            assert dialog.choices[dialog.query_one("#rubric").highlighted].rubric.id == "iom-thematic-2019"
            await pilot.press(*"T002", "tab", "tab", "tab", "down", "enter")  # one arrow key too many
            await settle(pilot)
            confirm = pilot.app.screen
            assert isinstance(confirm, ConfirmScreen)
            assert "hmip-core-2018 is another rubric" in confirm.message.plain
            await pilot.press("enter")  # the default button keeps the database's rubric
            await settle(pilot)
            assert pilot.app.screen is dialog
            assert dialog.choices[dialog.query_one("#rubric").highlighted].rubric.id == "iom-thematic-2019"
            assert "Not created" in str(dialog.query_one("#new-case-error").render())
            await pilot.press("enter")  # as the message says
            await settle(pilot)
            assert isinstance(pilot.app.screen, WalkthroughScreen)
            await pilot.press("escape", "n")
            await settle(pilot)
            dialog = pilot.app.screen
            await wait_until(pilot, lambda: dialog.choices)
            await pilot.press(*"T003", "tab", "tab", "tab", "down", "enter", "y")  # on purpose: an explicit yes
            await settle(pilot)
            assert isinstance(pilot.app.screen, WalkthroughScreen)

    run(scenario())
    assert [(c.case_ref, c.rubric_id) for c in cases(tmp_db_path)] == [
        ("T001", "iom-thematic-2019"), ("T002", "iom-thematic-2019"), ("T003", "hmip-core-2018")]


def test_figures_of_a_database_with_another_rubrics_case_show_the_datasets_and_say_what_was_left_out(
        tmp_db_path, thematic_rubric, core_rubric):
    make_case(tmp_db_path, thematic_rubric, {"sentence_type": "community", "lead_agency": "crc"}, ref="T001")
    make_case(tmp_db_path, thematic_rubric, {"sentence_type": "community", "lead_agency": "nps"}, ref="T002")
    make_case(tmp_db_path, core_rubric, {}, ref="C001", allow_other_rubric=True)  # a wrong arrow key once made it

    async def scenario() -> None:
        async with AuditApp(tmp_db_path).run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("f")
            await settle(pilot)
            screen = pilot.app.screen
            assert isinstance(screen, FiguresScreen)
            await wait_until(pilot, lambda: screen.figures.tables)
            (table,) = [t for t in screen.figures.tables if t.figure == "4.1"]
            assert {row.label: (row.cells[0].count, row.cells[0].base) for row in table.rows} == {
                "CRC": (1, 2), "NPS": (1, 2), "Police": (0, 2)}
            assert ("Left out of these figures: 1 case(s) of rubric hmip-core-2018 (the figures count "
                    "iom-thematic-2019 cases only).") in screen.figures.notes
            assert "t switches" in FiguresScreen.HELP and "Tab switches" not in FiguresScreen.HELP

    run(scenario())
    with Store.open(tmp_db_path, create=False) as store:  # the temporary views never reached the file
        names = [r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type = 'view'")]
        assert sorted(names) == ["answers", "answers_readable", "history"]  # the file's own (schema 5), no other
        assert store.case_count() == 3


# --- item 6: review ------------------------------------------------------------------------------------


def test_review_lists_every_question_that_applies_with_answer_and_note_gaps_first(tmp_db_path, thematic_rubric):
    make_case(tmp_db_path, thematic_rubric, {"sentence_type": "non_statutory", "lead_agency": "police", "complied": "yes"},
              notes={"lead_agency": "OASys p2"})

    async def scenario() -> None:
        async with AuditApp(tmp_db_path).run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("enter")
            await settle(pilot)
            walk = pilot.app.screen
            await pilot.press("r")
            await settle(pilot)
            review = pilot.app.screen
            assert isinstance(review, ReviewScreen)
            applicable = walk.evaluation.applicable_questions
            assert sorted(review.rows) == sorted(applicable)  # every question that applies, once
            assert review.rows[: len(review.missing)] == review.missing  # required gaps first
            assert review.missing == ["lead_professional", "domestic_abuse", "assessment_completed", "deselected"]
            options = review.query_one("#questions")
            prompts = {options.get_option_at_index(i).id: options.get_option_at_index(i).prompt.plain
                       for i in range(options.option_count)}
            assert "→ Police" in prompts["lead_agency"] and "evidence: OASys p2" in prompts["lead_agency"]
            assert "→ no answer" in prompts["deselected"]
            headings = [options.get_option_at_index(i).prompt.plain for i in range(options.option_count)
                        if options.get_option_at_index(i).disabled]
            assert headings == ["Required, no answer yet (4)", "Answered (3)"]
            # any row goes to its question: an answered one here
            index = next(i for i in range(options.option_count) if options.get_option_at_index(i).id == "complied")
            options.highlighted = index
            await pilot.press("enter")
            await settle(pilot)
            assert pilot.app.screen is walk and walk.current == "complied"

    run(scenario())


# --- item 11: history ------------------------------------------------------------------------------------


def test_history_enter_shows_a_change_in_full_and_home_goes_to_the_top(tmp_db_path, thematic_rubric):
    long_note = "OASys section 8, reviewed with the case manager on 12 March: " + "details " * 12
    make_case(tmp_db_path, thematic_rubric, {"sentence_type": "community"}, notes={"sentence_type": long_note})

    async def scenario() -> None:
        async with AuditApp(tmp_db_path).run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("enter")
            await settle(pilot)
            await pilot.press("h")
            await settle(pilot)
            history = pilot.app.screen
            assert isinstance(history, HistoryScreen)
            table = history.query_one("#history")
            assert table.cursor_row == table.row_count - 1  # the newest change
            assert str(table.get_row_at(table.cursor_row)[4]).endswith("…")  # cut off in the table
            await pilot.press("enter")
            await settle(pilot)
            change = pilot.app.screen
            assert isinstance(change, ChangeScreen)
            shown = " ".join(str(row.render()) for row in change.query(".change-row"))
            assert long_note.strip() in " ".join(shown.split())
            await pilot.press("escape")
            await settle(pilot)
            await pilot.press("home")
            await pilot.pause()
            assert pilot.app.screen is history and table.cursor_row == 0
            await pilot.press("end")
            await pilot.pause()
            assert table.cursor_row == table.row_count - 1

    run(scenario())


# --- item 7: start-up and keys typed ahead ---------------------------------------------------------


def test_keys_typed_before_a_screen_is_ready_reach_it_in_order(tmp_db_path, thematic_rubric):
    make_case(tmp_db_path, thematic_rubric, {})

    async def scenario() -> None:
        async with AuditApp(tmp_db_path).run_test(size=SIZE) as pilot:
            app = pilot.app
            await settle(pilot)
            app.screen.action_new_case()  # the dialog is on its way, not built yet
            for key in "T9":
                app.post_message(events.Key(key, key))
            await settle(pilot)
            dialog = app.screen
            assert isinstance(dialog, NewCaseScreen)
            await wait_until(pilot, lambda: dialog.query_one("#case_ref").value == "T9")

    run(scenario())


def test_the_file_check_starts_at_first_paint_and_dialogs_open_while_it_runs(tmp_db_path, thematic_rubric):
    make_case(tmp_db_path, thematic_rubric, {})
    states: list[str] = []

    def hook(message) -> None:
        if isinstance(message, CaseListScreen.PageShown):
            states.append(app.integrity)

    app = AuditApp(tmp_db_path)

    async def scenario() -> None:
        async with app.run_test(size=SIZE, message_hook=hook) as pilot:
            await settle(pilot)
            assert states and states[0] != UNCHECKED  # started by the first paint, not after a timer
            app.integrity = CHECKING  # as if the check of a large file were still running
            await pilot.press("n")
            await settle(pilot)
            dialog = app.screen
            assert isinstance(dialog, NewCaseScreen)  # opens at once
            await wait_until(pilot, lambda: dialog.choices)
            await pilot.press(*"T002", "enter")
            await settle(pilot)
            assert app.screen is dialog and "created the moment the check passes" in str(dialog.query_one("#new-case-error").render())
            assert [c.case_ref for c in cases(tmp_db_path)] == ["T001"]
            app.integrity_passed()
            await settle(pilot)
            assert app.integrity == CHECKED and isinstance(app.screen, WalkthroughScreen)

    run(scenario())
    assert [c.case_ref for c in cases(tmp_db_path)] == ["T001", "T002"]


# --- item 9: the list's title and status line agree --------------------------------------------------------


def test_the_case_lists_site_is_said_once_and_follows_the_filter(tmp_db_path, thematic_rubric):
    make_case(tmp_db_path, thematic_rubric, {}, ref="T001", site="sheffield")
    make_case(tmp_db_path, thematic_rubric, {}, ref="T002", site="waltham_forest")

    async def scenario() -> None:
        async with AuditApp(tmp_db_path).run_test(size=SIZE) as pilot:
            await settle(pilot)
            screen = pilot.app.screen
            title = str(screen.query_one("#list-title").render())
            assert "all sites" not in title
            assert "site: all sites" in str(screen.query_one("#list-status").render())
            await pilot.press("s")
            await settle(pilot)
            await pilot.press("end", "enter")  # the last site listed
            await settle(pilot)
            assert "site: waltham_forest" in str(screen.query_one("#list-status").render())
            assert str(screen.query_one("#list-title").render()) == title

    run(scenario())


def test_names_and_answers_from_a_file_cannot_write_to_the_terminal(tmp_db_path, thematic_rubric):
    import sqlite3

    uuid = make_case(tmp_db_path, thematic_rubric, {"sentence_type": "community"}, notes={"sentence_type": "seen"})
    escape = "\x1b]0;owned\x07\x1b[2J"
    with sqlite3.connect(tmp_db_path) as conn:  # as an imported or merged file might carry them
        conn.execute("UPDATE answer_data SET note = ? WHERE case_id = (SELECT id FROM cases WHERE uuid = ?)", [f"n{escape}", uuid])

    async def scenario() -> None:
        async with AuditApp(tmp_db_path).run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("enter")
            await settle(pilot)
            walk = pilot.app.screen
            walk.show_question("sentence_type")
            await pilot.pause()
            drawn = [walk.header.text.plain, walk.note.value]
            await pilot.press("r")
            await settle(pilot)
            review = pilot.app.screen
            options = review.query_one("#questions")
            drawn += [str(review.query_one("#review-summary").render())]
            drawn += [options.get_option_at_index(i).prompt.plain for i in range(options.option_count)]
            for text in drawn:
                assert "\x1b" not in text and "\x07" not in text
            assert walk.note.value == "n\\x1b]0;owned\\x07\\x1b[2J"

    run(scenario())

    # an identifier holding control characters is data the tool could not have written: the file is
    # refused before any write, with a message that is itself escaped
    with sqlite3.connect(tmp_db_path) as conn:
        conn.execute("UPDATE cases SET site = ?, inspector = ? WHERE uuid = ?", [f"x{escape}", f"i{escape}", uuid])

    async def refused() -> None:
        async with AuditApp(tmp_db_path).run_test(size=SIZE) as pilot:
            await settle(pilot)
            for _ in range(50):
                if pilot.app.failure:
                    break
                await pilot.pause(0.1)
            assert pilot.app.failure and "contains a control character" in pilot.app.failure
            assert "\x1b" not in pilot.app.failure and "x\\x1b]0;owned" in pilot.app.failure

    run(refused())
    with sqlite3.connect(tmp_db_path) as conn:
        conn.execute("UPDATE cases SET site = 'sheffield', inspector = 'jb' WHERE uuid = ?", [uuid])
    with Store.open(tmp_db_path, create=False) as store:  # shown escaped, never saved escaped
        assert store.answer_rows(uuid)["sentence_type"]["note"] == f"n{escape}"
