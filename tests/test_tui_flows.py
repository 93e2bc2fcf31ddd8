"""Whole flows through the real Textual app, driven by key presses (App.run_test + Pilot),
checked against the SQLite file the app writes."""

from __future__ import annotations

import asyncio
import sqlite3
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from audit.cli import main as cli_main
from audit.store import STATUS_COMPLETE, STATUS_IN_PROGRESS, Store
from audit.tui.app import AuditApp
from audit.tui.screens.case_list import CaseListScreen
from audit.tui.screens.confirm import ConfirmRetireScreen
from audit.tui.screens.help import HelpScreen
from audit.tui.screens.history import HistoryScreen
from audit.tui.screens.new_case import NewCaseScreen
from audit.tui.screens.review import ReviewScreen
from audit.tui.screens.walkthrough import WalkthroughScreen
from audit.tui.widgets.question import QuestionView
from audit.tui.widgets.case_table import CaseTable
from audit.tui.widgets.outline import ANSWERED, NOT_APPLICABLE, RETIRED
from tests.tui_support import settle, terminal_streams

SIZE = (120, 40)
PLANNING = ["planning_engaging", "planning_reoffending", "planning_iom_requirements", "planning_roles", "planning_safety"]
FACTORS = ["attitudes", "family", "thinking", "lifestyle", "drugs", "alcohol", "ete", "accommodation"]
SERVICES = [f"services_{code}" for code in FACTORS]


def run(coro):
    return asyncio.run(coro)




def make_case(path: Path, rubric, answers: dict, ref: str = "T001", site: str = "sheffield") -> str:
    store = Store.open(path)
    try:
        case = store.create_case(ref, site, rubric, "jb")
        for qid, value in answers.items():
            store.set_answer(case.uuid, qid, value)
        return case.uuid
    finally:
        store.close()


def read(path: Path):
    return Store.open(path, create=False)


async def open_first_case(pilot) -> WalkthroughScreen:
    await settle(pilot)
    assert isinstance(pilot.app.screen, CaseListScreen)
    await pilot.press("enter")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, WalkthroughScreen)
    return screen


@asynccontextmanager
async def walkthrough(path: Path, at: str | None = None, **run_options):
    """The app on ``path``, its first case open (at question ``at``): yields (app, pilot, screen)."""
    app = AuditApp(path)
    async with app.run_test(size=SIZE, **run_options) as pilot:
        screen = await open_first_case(pilot)
        if at is not None:
            screen.show_question(at)
            await pilot.pause()
        yield app, pilot, screen


async def create_case_by_keys(pilot, ref: str, site: str, inspector: str, rubric_id: str) -> None:
    await pilot.press("n")
    await settle(pilot)
    dialog = pilot.app.screen
    assert isinstance(dialog, NewCaseScreen)
    await pilot.press(*ref, "tab", *site, "tab", *inspector, "tab")
    index = [choice.rubric.id for choice in dialog.choices].index(rubric_id)
    await pilot.press(*["down"] * (index + 1))
    await pilot.press("enter")
    await settle(pilot)


async def answer_to_the_end(pilot, screen: WalkthroughScreen) -> dict:
    """Answer every question asked with its first option (two ticks for a multi), by keys."""
    given: dict = {}
    while True:
        qid = screen.current
        question = screen.rubric.question(qid)
        if question.type == "multi":
            await pilot.press("1", "2", "enter")
            given[qid] = question.option_codes[:2]
        elif question.is_choice:
            await pilot.press("1")
            given[qid] = question.option_codes[0]
        elif question.type == "integer":
            number = question.range[0] + 7
            await pilot.press(*str(number), "enter")
            given[qid] = number
        else:
            await pilot.press(*"seen", "enter")
            given[qid] = "seen"
        await pilot.pause()
        if screen.current == qid:  # the last question stays on screen
            return given


def test_create_answer_complete_then_find_every_answer_after_a_restart(tmp_db_path):
    async def first_session() -> dict:
        app = AuditApp(tmp_db_path)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await create_case_by_keys(pilot, "T001", "sheffield", "jb", "iom-thematic-2019")
            screen = pilot.app.screen
            assert isinstance(screen, WalkthroughScreen)
            assert screen.current == "sentence_type"
            given = await answer_to_the_end(pilot, screen)
            await pilot.press("r")
            await settle(pilot)
            assert isinstance(app.screen, ReviewScreen)
            assert app.screen.missing == []
            await pilot.press("c")
            await settle(pilot)
            await pilot.press("escape", "escape")
            await settle(pilot)
            assert isinstance(app.screen, CaseListScreen)
        return given

    given = run(first_session())
    assert len(given) > 30

    # the file alone, read by a new connection: every answer, counted, and the case complete
    with read(tmp_db_path) as store:
        (case,) = store.list_cases()
        assert (case.case_ref, case.site, case.inspector, case.status) == ("T001", "sheffield", "jb", STATUS_COMPLETE)
        assert store.answers(case.uuid) == given
        assert case.answered_count == case.applicable_count == len(given)

    async def second_session() -> None:
        app = AuditApp(tmp_db_path)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            table = app.screen.query_one(CaseTable)
            assert table.row_count == 1
            assert list(table.row_text(0))[:5] == ["T001", "sheffield", "jb", "complete", "100%"]
            screen = await open_first_case(pilot)
            assert screen.current == "sentence_type"  # nothing left to do: starts at the top
            seen = {}
            while True:
                qid = screen.current
                question = screen.rubric.question(qid)
                if question.is_choice:
                    seen[qid] = screen.query_one(QuestionView).chosen_value
                else:
                    seen[qid] = int(screen.question.field_value)
                await pilot.press("enter")
                if screen.current == qid:
                    break
            assert seen == given

    run(second_session())


def test_non_statutory_skips_planning_and_the_profile(tmp_db_path, thematic_rubric):
    make_case(tmp_db_path, thematic_rubric, {})
    shown: list[str] = []
    saved: list[tuple[str, object]] = []

    def hook(message) -> None:
        if isinstance(message, WalkthroughScreen.QuestionShown):
            shown.append(message.question_id)
        elif isinstance(message, WalkthroughScreen.AnswerSaved):
            saved.append((message.question_id, message.value))

    async def scenario() -> None:
        async with walkthrough(tmp_db_path, message_hook=hook) as (app, pilot, screen):
            await pilot.press("3")  # Non-statutory supervision
            await settle(pilot)
            assert saved == [("sentence_type", "non_statutory")]
            for _ in range(40):  # walk to the end with enter
                before = screen.current
                await pilot.press("enter")
                if screen.current == before:
                    break
            outline = screen.query_one("#outline")
            for qid in PLANNING + ["index_offence", "age", "ro_knew_reasons", "reoffended"]:
                assert qid not in screen.evaluation.applicable
                assert outline.state_of(qid) == NOT_APPLICABLE

    run(scenario())
    asked = set(shown)
    assert asked.isdisjoint(PLANNING + ["index_offence", "rosh", "age", "gender", "reoffended", "on_licence"])
    # the questions every case is asked, in rubric order, each shown once the walk reaches it
    expected = ["sentence_type", "lead_agency", "lead_professional", "domestic_abuse", "assessment_completed", "complied", "deselected"]
    assert [qid for qid in dict.fromkeys(shown) if qid in expected] == expected


def test_factors_drive_the_eight_services_questions(tmp_db_path, thematic_rubric):
    make_case(tmp_db_path, thematic_rubric, {"sentence_type": "community", "assessment_completed": "yes"})

    async def scenario() -> None:
        async with walkthrough(tmp_db_path, at="factors") as (app, pilot, screen):
            assert not set(SERVICES) & screen.evaluation.applicable
            await pilot.press("5", "6")  # Drug misuse, Alcohol misuse: each tick saved
            await settle(pilot)
            with read(tmp_db_path) as store:
                assert store.answers(screen.case_uuid)["factors"] == ["drugs", "alcohol"]
            assert sorted(set(SERVICES) & screen.evaluation.applicable) == ["services_alcohol", "services_drugs"]
            await pilot.press("space")  # the highlighted option (alcohol) again: unticked
            await settle(pilot)
            assert screen.evaluation.answers["factors"] == ["drugs"]
            assert sorted(set(SERVICES) & screen.evaluation.applicable) == ["services_drugs"]
            # enter walks on: the only services question asked is the ticked factor's
            asked = []
            for _ in range(15):
                await pilot.press("enter")
                asked.append(screen.current)
            assert [q for q in asked if q.startswith("services_")] == ["services_drugs"]

    run(scenario())


@pytest.fixture
def factors_case(tmp_db_path, thematic_rubric) -> Path:
    answers = {
        "sentence_type": "community", "lead_agency": "crc", "assessment_completed": "yes",
        "factors": ["drugs", "alcohol"], "services_drugs": "yes", "services_alcohol": "no",
        "planning_engaging": "yes", "planning_roles": "no",
    }
    make_case(tmp_db_path, thematic_rubric, answers)
    return tmp_db_path


def history_count(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT count(*) FROM history").fetchone()[0]


def answer_row(path: Path, qid: str) -> tuple:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT value, state, applies, counted FROM answers WHERE question_id = ?", [qid]).fetchone()


def test_unticking_a_factor_asks_first_and_cancel_saves_nothing(factors_case):
    before = history_count(factors_case)

    async def scenario() -> None:
        async with walkthrough(factors_case, at="factors") as (app, pilot, screen):
            await pilot.press("5")  # untick Drug misuse: services_drugs would stop applying
            await settle(pilot)
            dialog = app.screen
            assert isinstance(dialog, ConfirmRetireScreen)
            assert [qid for qid, _, _ in dialog.affected] == ["services_drugs"]
            assert "Drug misuse" in dialog.change.plain
            await pilot.press("escape")
            await settle(pilot)
            assert app.screen is screen
            assert screen.query_one(QuestionView).chosen_value == ["drugs", "alcohol"]  # the old value again
            assert "Not changed" in screen.said

    run(scenario())
    assert history_count(factors_case) == before
    assert answer_row(factors_case, "factors")[0] == '["drugs", "alcohol"]'
    assert answer_row(factors_case, "services_drugs") == ('"yes"', "current", 1, 1)


def test_unticking_a_factor_confirmed_retires_the_answer(factors_case):
    async def scenario() -> None:
        async with walkthrough(factors_case, at="factors") as (app, pilot, screen):
            await pilot.press("5")
            await settle(pilot)
            assert isinstance(app.screen, ConfirmRetireScreen)
            await pilot.press("r")
            await settle(pilot)
            assert app.screen is screen
            assert screen.query_one(QuestionView).chosen_value == ["alcohol"]
            assert screen.query_one("#outline").state_of("services_drugs") == RETIRED
            assert screen.query_one("#outline").state_of("services_alcohol") == ANSWERED

    run(scenario())
    assert answer_row(factors_case, "factors")[0] == '["alcohol"]'
    assert answer_row(factors_case, "services_drugs") == ('"yes"', "retired", 0, 0)  # kept, never counted
    with read(factors_case) as store:
        assert [qid for _, qid, _ in store.iter_answers(["services_drugs", "services_alcohol"])] == ["services_alcohol"]
        (case,) = store.list_cases()
        trail = [(h["question_id"], h["field"], h["old_value"], h["new_value"], h["reason"]) for h in store.history(case.uuid)]
        assert ("services_drugs", "state", "current", "retired", "stopped applying") in trail


def test_changing_sentence_type_lists_every_answer_it_would_retire_and_cancel_keeps_them(factors_case):
    async def scenario() -> None:
        async with walkthrough(factors_case, at="sentence_type") as (app, pilot, screen):
            await pilot.press("3")  # non-statutory: planning no longer applies
            await settle(pilot)
            dialog = app.screen
            assert isinstance(dialog, ConfirmRetireScreen)
            assert [qid for qid, _, _ in dialog.affected] == ["planning_engaging", "planning_roles"]
            await pilot.press("k")
            await settle(pilot)
            assert screen.current == "sentence_type"
            assert screen.query_one(QuestionView).chosen_value == "community"

    run(scenario())
    assert answer_row(factors_case, "sentence_type")[0] == '"community"'
    assert answer_row(factors_case, "planning_roles") == ('"no"', "current", 1, 1)


def test_review_refuses_completion_with_gaps_jumps_to_one_and_reopens(tmp_db_path, thematic_rubric):
    uuid = make_case(tmp_db_path, thematic_rubric, {"sentence_type": "non_statutory", "lead_agency": "police"})

    async def scenario() -> None:
        async with walkthrough(tmp_db_path) as (app, pilot, screen):
            await pilot.press("r")
            await settle(pilot)
            review = app.screen
            assert isinstance(review, ReviewScreen)
            assert review.missing == ["lead_professional", "domestic_abuse", "assessment_completed", "complied", "deselected"]
            await pilot.press("c")
            await settle(pilot)
            assert "Not yet" in str(review.query_one("#review-feedback").render())
            await pilot.press("down", "enter")  # jump to the second gap
            await settle(pilot)
            assert app.screen is screen and screen.current == "domestic_abuse"
            for _ in range(5):
                await pilot.press("u", "n")  # next to do, answer No
            await pilot.press("r", "c")
            await settle(pilot)
            assert app.screen.case.status == STATUS_COMPLETE
            await pilot.press("o")
            await settle(pilot)
            assert app.screen.case.status == STATUS_IN_PROGRESS

    run(scenario())
    with read(tmp_db_path) as store:
        assert store.case(uuid).status == STATUS_IN_PROGRESS
        statuses = [(h["old_value"], h["new_value"]) for h in store.history(uuid) if h["field"] == "status"]
        assert statuses == [(STATUS_IN_PROGRESS, STATUS_COMPLETE), (STATUS_COMPLETE, STATUS_IN_PROGRESS)]


def test_typed_answers_are_checked_and_notes_are_saved(tmp_db_path, thematic_rubric):
    uuid = make_case(tmp_db_path, thematic_rubric, {"sentence_type": "community"})

    async def scenario() -> None:
        async with walkthrough(tmp_db_path, at="age") as (app, pilot, screen):
            await pilot.press("4", "0", "0", "enter")
            await pilot.pause()
            assert screen.current == "age"  # refused, still here
            assert screen.said == "Not saved: 400 is out of range: type a whole number, 10–120."
            await pilot.press("backspace", "backspace", "backspace", "2", "3", "enter")
            await pilot.pause()
            assert screen.current == "gender"
            await pilot.press("e", *"OASys p4", "enter")  # evidence note for gender
            await pilot.pause()
            assert isinstance(app.focused, QuestionView)
            await pilot.press("2")
            await pilot.pause()

    run(scenario())
    with read(tmp_db_path) as store:
        rows = store.answer_rows(uuid)
        assert rows["age"]["value"] == 23
        assert (rows["gender"]["value"], rows["gender"]["note"]) == ("female", "OASys p4")


def test_history_shows_labels_and_question_text(tmp_db_path, thematic_rubric):
    make_case(tmp_db_path, thematic_rubric, {"sentence_type": "community"})

    async def scenario() -> None:
        async with walkthrough(tmp_db_path) as (app, pilot, screen):
            screen.show_question("sentence_type")
            await pilot.press("2")  # Post-release supervision
            await pilot.press("h")
            await settle(pilot)
            assert isinstance(app.screen, HistoryScreen)
            rows = [[str(cell) for cell in app.screen.query_one("#history").get_row_at(i)]
                    for i in range(app.screen.query_one("#history").row_count)]
            changed = [r for r in rows if r[3] == "Community sentence"]
            assert changed and changed[0][4] == "Post-release supervision"
            assert changed[0][1].startswith("1 What type of sentence")  # the question's number, as in the outline

    run(scenario())


def test_question_mark_lists_the_screens_keys(tmp_db_path):
    async def scenario() -> None:
        app = AuditApp(tmp_db_path)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("?")
            await pilot.pause()
            assert isinstance(app.screen, HelpScreen)
            rows = app.screen.key_rows()
            assert ("n", "New") in rows and ("/", "Filter") in rows and ("?", "Keys") in rows
            assert ("r", "Reverse the order") in rows  # not in the key bar at 80 columns, but here
            await pilot.press("escape")
            await pilot.pause()
            assert isinstance(app.screen, CaseListScreen)

    run(scenario())


def test_new_case_refuses_a_duplicate_ref_at_the_same_site(tmp_db_path, thematic_rubric):
    make_case(tmp_db_path, thematic_rubric, {}, ref="T001", site="sheffield")

    async def scenario() -> None:
        app = AuditApp(tmp_db_path)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("n")
            await settle(pilot)
            dialog = app.screen
            assert dialog.query_one("#site").value == "sheffield"  # from the last case
            await pilot.press(*"T001")
            assert "already exists" in str(dialog.query_one("#new-case-error").render())
            await pilot.press("enter")
            await settle(pilot)
            assert app.screen is dialog
            assert "already exists at site 'sheffield'" in str(dialog.query_one("#new-case-error").render())
            await pilot.press("backspace", "2")  # T002 is new
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, WalkthroughScreen)

    run(scenario())
    with read(tmp_db_path) as store:
        assert sorted(c.case_ref for c in store.list_cases()) == ["T001", "T002"]


def test_a_corrupt_file_is_refused_after_the_background_check(tmp_db_path, thematic_rubric):
    make_case(tmp_db_path, thematic_rubric, {"sentence_type": "community"})
    with read(tmp_db_path) as store:  # more pages, so damage can miss the schema pages
        from audit.store import NewCase

        store.insert_cases([NewCase(f"X{i:04d}", "leeds", thematic_rubric, {"sentence_type": "community"}) for i in range(400)],
                           who="test")
    with sqlite3.connect(tmp_db_path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = conn.execute("PRAGMA page_count").fetchone()[0]
    with open(tmp_db_path, "r+b") as handle:  # scribble over a page near the end
        handle.seek(page_size * (pages - 3) + 16)
        handle.write(b"\xff" * 200)

    async def scenario() -> AuditApp:
        app = AuditApp(tmp_db_path)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
        return app

    app = run(scenario())
    assert app.return_code == 1
    assert "is corrupt" in app.failure and "restore it from a backup" in app.failure


def test_audit_tui_refuses_a_file_that_is_not_an_audit_database(tmp_path, capsys, monkeypatch):
    other = tmp_path / "notes.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE t (x)")
    with terminal_streams(monkeypatch):
        assert cli_main(["tui", str(other)]) == 1
        err = capsys.readouterr().err
        assert "not an audit database" in err and "Traceback" not in err
        assert cli_main(["tui", str(tmp_path / "missing" / "audit.db")]) == 1
        assert "does not exist" in capsys.readouterr().err


def test_every_binding_has_an_id():
    import importlib
    import inspect
    import pkgutil

    import audit.tui
    from textual.binding import Binding

    modules = [importlib.import_module(info.name)  # every module of the UI, so a new one is checked too
               for info in pkgutil.walk_packages(audit.tui.__path__, "audit.tui.") if not info.ispkg]
    checked = 0
    for module in modules:
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__:
                continue
            for binding in cls.__dict__.get("BINDINGS", []):
                assert isinstance(binding, Binding) and binding.id, f"{cls.__name__}: {binding}"
                checked += 1
    assert checked > 40


def test_figures_are_the_tabulation_and_follow_new_answers(tmp_db_path, thematic_rubric, monkeypatch):
    import audit.tui.screens.figures as figures_module
    from audit.tabulate import tabulate_report
    from audit.figures import load_report
    from audit.rubric import search_path

    monkeypatch.setattr(figures_module, "POLL_SECONDS", 0.1)
    make_case(tmp_db_path, thematic_rubric, {"sentence_type": "community", "lead_agency": "crc"}, ref="T001")
    second = make_case(tmp_db_path, thematic_rubric, {"sentence_type": "community", "lead_agency": "nps"}, ref="T002")

    def lead_agency_cells(screen) -> dict:
        tables = [t for t in screen.figures.tables if t.figure == "4.1"]
        assert len(tables) <= 1
        return {row.label: (row.cells[0].count, row.cells[0].base, row.cells[0].percent) for row in tables[0].rows} if tables else {}

    async def scenario() -> None:
        app = AuditApp(tmp_db_path)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("f")
            await settle(pilot)
            screen = app.screen
            for _ in range(100):  # the first count runs in a worker started when the screen mounts
                if lead_agency_cells(screen):
                    break
                await pilot.pause(0.05)
            assert lead_agency_cells(screen) == {"CRC": (1, 2, 50), "NPS": (1, 2, 50), "Police": (0, 2, 0)}
            # the same numbers as the export's tabulation of this file
            with read(tmp_db_path) as store:
                (report_path,) = [p for folder in search_path("exports") for p in folder.glob("iom-thematic-2019.yaml")][:1]
                exported = tabulate_report(load_report(report_path), {"thematic": store})
            assert [t.rows for t in exported.tables] == [t.rows for t in screen.figures.tables]
            # another connection (a colleague, an import) changes an answer: the screen follows
            with read(tmp_db_path) as store:
                store.set_answer(second, "lead_agency", "crc")
            for _ in range(100):  # polled every 0.1 s here; give a loaded machine time
                await pilot.pause(0.1)
                await settle(pilot)
                if lead_agency_cells(screen).get("CRC", (0,))[0] == 2:
                    break
            assert lead_agency_cells(screen) == {"CRC": (2, 2, 100), "NPS": (0, 2, 0), "Police": (0, 2, 0)}, screen.figures.notes
            completion = screen.query_one("#by-site")
            assert [str(c) for c in completion.get_row_at(0)][:4] == ["sheffield", "2", "0", "2"]

    run(scenario())


def test_a_number_typed_without_enter_is_saved_on_leaving_and_one_that_cannot_be_is_not(tmp_db_path, thematic_rubric):
    uuid = make_case(tmp_db_path, thematic_rubric, {"sentence_type": "community", "age": 29})

    async def scenario() -> None:
        async with walkthrough(tmp_db_path, at="previous_convictions") as (app, pilot, screen):
            await pilot.press("4", "2", "shift+tab")  # typed, not entered, then back a question
            await pilot.pause()
            assert screen.current == "rosh"
            assert screen.said == "Saved: 42 (question 7)"
            screen.show_question("age")
            await pilot.pause()
            assert screen.question.field_value == "29"
            await pilot.press("backspace", "5", "shift+tab")  # 25 -> 5 is out of range: not saved, and you may leave
            await pilot.pause()
            assert screen.current == "previous_convictions"
            assert screen.said == "Question 8 not saved: 5 is out of range: type a whole number, 10–120; its saved answer (29) is kept."
            screen.show_question("age")
            await pilot.pause()
            assert screen.question.field_value == "29"  # the saved answer, not what was typed
            await pilot.press("backspace", "backspace", "escape")  # cleared, then leave: the answer stays
            await settle(pilot)
            assert isinstance(app.screen, CaseListScreen)

    run(scenario())
    with read(tmp_db_path) as store:
        answers = store.answers(uuid)
        assert answers["previous_convictions"] == 42 and answers["age"] == 29
        assert [h["new_value"] for h in store.history(uuid) if h["question_id"] == "age"] == ["29"]


@pytest.mark.parametrize("key, opens", [("r", ReviewScreen), ("h", HistoryScreen)])
def test_a_number_typed_without_enter_is_saved_before_review_or_history(tmp_db_path, thematic_rubric, key, opens):
    from audit.tui.widgets.outline import Outline

    uuid = make_case(tmp_db_path, thematic_rubric, {"sentence_type": "community"})

    async def scenario() -> None:
        async with walkthrough(tmp_db_path, at="previous_convictions") as (app, pilot, screen):
            await pilot.press("4", "2", "tab", "tab")  # typed, not entered; tab past the note to the outline
            await pilot.pause()
            assert isinstance(app.focused, Outline)
            await pilot.press(key)
            await settle(pilot)
            assert isinstance(app.screen, opens)
            await pilot.press("escape")
            await settle(pilot)
            assert app.screen is screen

    run(scenario())
    with read(tmp_db_path) as store:
        assert store.answers(uuid).get("previous_convictions") == 42


def test_answering_the_last_question_says_what_to_do_next_once(tmp_db_path, thematic_rubric):
    make_case(tmp_db_path, thematic_rubric, {
        "sentence_type": "non_statutory", "lead_agency": "police", "lead_professional": "yes", "domestic_abuse": "no",
        "assessment_completed": "no", "complied": "yes",
    })

    async def scenario() -> None:
        async with walkthrough(tmp_db_path, at="deselected") as (app, pilot, screen):
            await pilot.press("n")  # the last question that applies, and the last required one
            await pilot.pause()
            said = screen.said
            assert said.startswith("Saved: No") and "last question" in said
            assert said.count("press r to review") == 1, said

    run(scenario())


def test_the_key_bar_shows_every_key_at_80_by_24(tmp_db_path, thematic_rubric):
    from audit.tui.widgets.key_bar import KeyBar

    make_case(tmp_db_path, thematic_rubric, {"sentence_type": "community"})

    def shown_lines(app) -> list[str]:
        bar = app.screen.query_one(KeyBar)
        lines = bar.content.plain.split("\n")
        assert bar.size.height == len(lines) and all(len(line) <= bar.size.width for line in lines), lines
        return lines

    async def scenario() -> None:
        app = AuditApp(tmp_db_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert "? Keys" in " ".join(shown_lines(app)) and "q Quit" in " ".join(shown_lines(app))
            await pilot.press("enter")
            await settle(pilot)
            assert isinstance(app.screen, WalkthroughScreen)
            shown = " ".join(shown_lines(app))
            for entry in ("⏎ Next", "r Review", "h History", "esc Cases", "? Keys"):
                assert entry in shown, shown

    run(scenario())


def test_new_case_dialog_shows_its_error_and_buttons_at_80_by_24(tmp_db_path, thematic_rubric):
    make_case(tmp_db_path, thematic_rubric, {}, ref="T001", site="sheffield")

    async def scenario() -> None:
        app = AuditApp(tmp_db_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            await pilot.press("n")
            await settle(pilot)
            dialog = app.screen
            await pilot.press(*"T001", "enter")
            await settle(pilot)
            assert app.screen is dialog and "already exists" in str(dialog.query_one("#new-case-error").render())
            assert on_screen(dialog, dialog.query_one("#new-case-error")) and on_screen(dialog, dialog.query_one("#case_ref"))
            dialog.query_one("#create").focus()  # the dialog scrolls to it
            await pilot.wait_for_scheduled_animations()
            await pilot.pause()
            assert on_screen(dialog, dialog.query_one("#create"))

    run(scenario())


def on_screen(screen, widget) -> bool:
    """Whether any of ``widget`` is drawn (not hidden, nor clipped away by a dialog too tall for the terminal)."""
    from textual.errors import NoWidget

    try:
        return screen.find_widget(widget).visible_region.area > 0
    except NoWidget:  # not in the layout: display none
        return False


def test_retire_dialog_shows_its_buttons_and_no_keys_of_the_screen_below_at_80_by_24(tmp_db_path, thematic_rubric):
    from audit.tui.widgets.key_bar import KeyBar

    answers = {"sentence_type": "post_release", "lead_agency": "crc", "index_offence": "burglary", "rosh": "high",
               "previous_convictions": 3, "age": 30, "gender": "male", "ethnicity": "white", "ro_knew_reasons": "yes",
               "reasons_explained": "no", **{qid: "yes" for qid in PLANNING}}
    make_case(tmp_db_path, thematic_rubric, answers)

    async def scenario() -> None:
        app = AuditApp(tmp_db_path)
        async with app.run_test(size=(80, 24)) as pilot:
            screen = await open_first_case(pilot)
            screen.show_question("sentence_type")
            await pilot.press("3")  # non-statutory retires 13 answers
            await settle(pilot)
            dialog = app.screen
            assert isinstance(dialog, ConfirmRetireScreen) and len(dialog.affected) == 13
            assert on_screen(dialog, dialog.query_one("#confirm")) and on_screen(dialog, dialog.query_one("#cancel"))
            # the walk-through's key bar ("r Review") is not shown under the dialog, where r retires
            assert not on_screen(screen, screen.query_one(KeyBar))
            await pilot.press("escape")
            await settle(pilot)
            assert app.screen is screen and on_screen(screen, screen.query_one(KeyBar))

    run(scenario())


def test_review_feedback_and_every_question_can_be_reached_at_80_by_24(tmp_db_path, thematic_rubric):
    from textual.widgets import OptionList

    make_case(tmp_db_path, thematic_rubric, {"sentence_type": "post_release"})

    async def scenario() -> None:
        app = AuditApp(tmp_db_path)
        async with app.run_test(size=(80, 24)) as pilot:
            await open_first_case(pilot)
            await pilot.press("r")
            await settle(pilot)
            review = app.screen
            assert isinstance(review, ReviewScreen) and len(review.missing) > 20
            await pilot.press("c")
            await pilot.pause()
            feedback = review.query_one("#review-feedback")
            assert "Not yet" in str(feedback.render()) and on_screen(review, feedback)
            questions = review.query_one("#questions", OptionList)
            assert review.find_widget(questions).visible_region == questions.region  # the list is not cut off
            await pilot.press("end")
            await pilot.pause()
            assert questions.highlighted_option.id == review.rows[-1]

    run(scenario())


def test_new_case_without_a_rubric_says_how_to_pick_one_from_where_the_focus_is(tmp_path):
    db = tmp_path / "new.db"

    async def scenario() -> None:
        app = AuditApp(db)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("n")
            await settle(pilot)
            dialog = app.screen
            await pilot.press(*"T1", "tab", *"sheffield", "tab", *"me", "enter")  # no rubric chosen yet
            await settle(pilot)
            said = str(dialog.query_one("#new-case-error").render())
            assert app.screen is dialog and said.startswith("Choose a rubric")
            assert app.focused is dialog.query_one("#rubric")
            assert "tab" not in said  # the list has the focus already: tab would leave it
            await pilot.press("down", "enter")  # as the message says
            await settle(pilot)
            assert isinstance(app.screen, WalkthroughScreen)

    run(scenario())


def test_history_shows_what_changed_from_and_to_without_scrolling_at_120_columns(tmp_db_path, thematic_rubric):
    make_case(tmp_db_path, thematic_rubric, {"sentence_type": "non_statutory"})

    async def scenario() -> None:
        app = AuditApp(tmp_db_path)
        async with app.run_test(size=(120, 36)) as pilot:
            screen = await open_first_case(pilot)
            screen.show_question("sentence_type")
            await pilot.press("2")  # Post-release supervision
            await pilot.press("h")
            await settle(pilot)
            table = app.screen.query_one("#history")
            labels = [str(column.label) for column in table.ordered_columns]
            right_edges, edge = {}, 0
            for label, column in zip(labels, table.ordered_columns):
                edge += column.get_render_width(table)
                right_edges[label] = edge
            for label in ("When", "Question", "Changed", "From", "To"):
                assert right_edges[label] <= table.scrollable_content_region.width, (label, right_edges)

    run(scenario())


def test_quitting_with_ctrl_q_keeps_a_note_and_a_number_being_typed(tmp_db_path, thematic_rubric):
    uuid = make_case(tmp_db_path, thematic_rubric, {"sentence_type": "community"})

    async def scenario() -> None:
        async with walkthrough(tmp_db_path, at="age") as (app, pilot, screen):
            await pilot.press("3", "4", "tab", *"OASys p2", "ctrl+q")  # typed, never entered
            await pilot.pause()

    run(scenario())
    with read(tmp_db_path) as store:
        rows = store.answer_rows(uuid)
        assert (rows["age"]["value"], rows["age"]["note"]) == (34, "OASys p2")


def test_writes_asked_for_while_the_file_is_checked_wait_for_the_check_and_nothing_else_does(tmp_db_path, thematic_rubric):
    from audit.tui.app import CHECKING, CHECKED

    uuid = make_case(tmp_db_path, thematic_rubric, {"sentence_type": "community"})

    async def scenario() -> None:
        async with walkthrough(tmp_db_path, at="lead_agency") as (app, pilot, screen):
            app.integrity = CHECKING  # the file is still being checked: writes wait
            await pilot.press("e", *"OASys p2", "shift+tab")  # a note, then back a question: you may move on
            await pilot.pause()
            assert screen.current == "sentence_type"
            await pilot.press("2")  # an answer: shown as waiting, not saved yet
            await pilot.pause()
            assert "saved the moment the check passes" in screen.said
            with read(tmp_db_path) as store:
                rows = store.answer_rows(uuid)
                assert rows["sentence_type"]["value"] == "community" and "lead_agency" not in rows
            assert app.writes_waiting == 2
            app.integrity_passed()  # what the check's worker calls when it passes
            await settle(pilot)
            assert app.integrity == CHECKED and app.writes_waiting == 0

    run(scenario())
    with read(tmp_db_path) as store:
        rows = store.answer_rows(uuid)
        assert rows["lead_agency"]["note"] == "OASys p2"
        assert rows["sentence_type"]["value"] == "post_release"


def test_new_case_completes_a_known_site_and_warns_of_a_near_miss(tmp_db_path, thematic_rubric):
    make_case(tmp_db_path, thematic_rubric, {}, ref="T001", site="sheffield")

    async def scenario() -> None:
        app = AuditApp(tmp_db_path)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            await pilot.press("n")
            await settle(pilot)
            dialog = app.screen
            await pilot.press(*"T002", "tab")
            site = dialog.query_one("#site")
            site.value = ""
            await pilot.press(*"shef")
            await pilot.press("right")  # takes the suggestion: the known site
            assert site.value == "sheffield"
            site.value = ""
            await pilot.press(*"shefield")
            await pilot.pause()
            error = str(dialog.query_one("#new-case-error").render())
            assert "Did you mean sheffield?" in error and "counted as a new site" in error
            await pilot.press("enter")  # a warning, not a refusal: the inspector may mean a new site
            await settle(pilot)
            assert isinstance(app.screen, WalkthroughScreen)

    run(scenario())
    with read(tmp_db_path) as store:
        assert sorted(c.site for c in store.list_cases()) == ["sheffield", "shefield"]


def test_the_case_list_names_who_changes_are_recorded_as(tmp_db_path, thematic_rubric, monkeypatch):
    monkeypatch.setenv("AUDIT_USER", "Priya Shah")
    make_case(tmp_db_path, thematic_rubric, {}, ref="T001", site="sheffield")

    async def scenario() -> None:
        app = AuditApp(tmp_db_path)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert "changes recorded as Priya Shah" in str(app.screen.query_one("#list-title").render())
            await pilot.press("enter")
            await settle(pilot)
            await pilot.press("1")
            await settle(pilot)

    run(scenario())
    with read(tmp_db_path) as store:
        case = store.list_cases()[0]
        assert store.answer_rows(case.uuid)["sentence_type"]["answered_by"] == "Priya Shah"
