"""Answering in the walk-through (issue #12, items 1, 2, 3, 9, 10; the empty selection of #7): what is
typed is what is saved or refused with its reason, a complete case is read-only, clearing takes its own
key, numbers and progress agree everywhere, and the same navigation works on every question type.
Driven through the real app with Pilot and checked against the SQLite file."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual import events

from audit.store import STATUS_COMPLETE, STATUS_IN_PROGRESS, Store
from audit import engine
from audit.tui.answering import NONE_OF_THESE, TypedProblem, answer_label, progress, question_states, typed_value
from audit.tui.app import AuditApp
from audit.tui.format import stored_label
from audit.tui.screens.case_list import CaseListScreen
from audit.tui.screens.confirm import ConfirmRetireScreen, ConfirmScreen, RestoreRetiredScreen
from audit.tui.screens.history import HistoryScreen
from audit.tui.screens.review import ReviewScreen
from audit.tui.screens.walkthrough import WalkthroughScreen
from audit.tui.widgets.question import QuestionView
from audit.tui.widgets.case_table import CaseTable
from audit.tui.widgets.key_bar import KeyBar
from audit.tui.widgets.outline import Outline
from tests.tui_support import count_layout_passes, settle

SIZE = (120, 40)
#: the answers that make a non-statutory case complete
NON_STATUTORY_DONE = {
    "sentence_type": "non_statutory", "lead_agency": "police", "lead_professional": "yes", "domestic_abuse": "no",
    "assessment_completed": "no", "complied": "yes", "deselected": "no",
}


def run(coro):
    return asyncio.run(coro)


def make_case(path: Path, rubric, answers: dict, *, status: str | None = None) -> str:
    with Store.open(path) as store:
        case = store.create_case("T001", "sheffield", rubric, "jb")
        for qid, value in answers.items():
            store.set_answer(case.uuid, qid, value)
        if status:
            store.set_status(case.uuid, status)
        return case.uuid


def read(path: Path) -> Store:
    return Store.open(path, create=False)


def history_of(path: Path, uuid: str, qid: str) -> list[tuple]:
    with read(path) as store:
        return [(h["field"], h["old_value"], h["new_value"]) for h in store.history(uuid) if h["question_id"] == qid]


async def open_case(pilot, at: str | None = None) -> WalkthroughScreen:
    await settle(pilot)
    await pilot.press("enter")
    await settle(pilot)
    screen = pilot.app.screen
    assert isinstance(screen, WalkthroughScreen)
    if at:
        screen.show_question(at)
        await pilot.pause()
    return screen


def key_bar(app) -> str:
    return app.screen.query_one(KeyBar).content.plain


# --- what is typed, in plain Python ------------------------------------------------------------


def test_a_typed_number_is_a_whole_number_as_typed_or_refused_with_its_reason(thematic_rubric):
    age = thematic_rubric.question("age")  # 10-120
    assert typed_value(age, " 29 ") == 29
    assert typed_value(age, "") is None
    refused = {
        "12.5": "“12.5” is not a whole number: type a whole number, 10–120",
        "twelve": "“twelve” is not a whole number: type a whole number, 10–120",
        "1,000": "“1,000” is not a whole number: type a whole number, 10–120",
        "29.0": "“29.0” is not a whole number: type a whole number, 10–120",
        "5": "5 is out of range: type a whole number, 10–120",
        "9" * 40: "“9999999999999999999…” is not a whole number: type a whole number, 10–120",
    }
    for text, reason in refused.items():
        with pytest.raises(TypedProblem) as caught:
            typed_value(age, text)
        assert str(caught.value) == reason


def test_progress_is_rounded_down_and_100_only_when_complete():
    assert progress(38, 39) == 97
    assert progress(35, 37) == 94  # 94.6: the report's half-up rule would say 95
    assert progress(1999, 2000) == 99
    assert progress(39, 39) == 100
    assert progress(0, 0) == 0


def test_an_empty_selection_reads_none_of_these_everywhere(thematic_rubric):
    factors = thematic_rubric.question("factors")
    assert answer_label(factors, []) == NONE_OF_THESE
    assert stored_label(factors, "[]") == NONE_OF_THESE  # history
    assert answer_label(factors, ["drugs"]) == "Drug misuse"


# --- issue #8: a keypress goes UI -> case service -> store and back, with one evaluation --------------


def test_each_answer_keypress_costs_one_evaluation_of_the_rubric(tmp_db_path, thematic_rubric):
    uuid = make_case(tmp_db_path, thematic_rubric, {})

    async def scenario() -> None:
        async with AuditApp(tmp_db_path, check_integrity=False).run_test(size=SIZE) as pilot:
            screen = await open_case(pilot)
            assert screen.current == "sentence_type"
            counted = []
            for key, then in [("1", "lead_agency"), ("1", "lead_professional"), ("y", "domestic_abuse"), ("n", None)]:
                before = engine.EVALUATIONS
                await pilot.press(key)
                await pilot.pause()
                counted.append(engine.EVALUATIONS - before)
                if then:
                    assert screen.current == then, screen.said
            assert counted == [1, 1, 1, 1]  # saved, retired nothing, drawn: one evaluation each, none by the screen
            # what is drawn is what the service returned: the same as a fresh read of the file
            with read(tmp_db_path) as store:
                assert screen.evaluation.answers == store.answers(uuid)
                assert screen.case == store.case(uuid)
            # an answer that would retire others: one evaluation to find out, nothing written until confirmed
            screen.show_question("sentence_type")
            await pilot.pause()
            before = engine.EVALUATIONS
            await pilot.press("2")  # community -> ... (retires nothing) or the dialog
            await pilot.pause()
            assert engine.EVALUATIONS - before == 1

    run(scenario())


# --- item 1: numbers -----------------------------------------------------------------------------


def test_a_number_shows_what_was_typed_says_why_it_is_refused_and_saves_nothing_else(tmp_db_path, thematic_rubric):
    uuid = make_case(tmp_db_path, thematic_rubric, {"sentence_type": "community"})

    async def scenario() -> None:
        async with AuditApp(tmp_db_path).run_test(size=SIZE) as pilot:
            screen = await open_case(pilot, at="age")
            await pilot.press(*"12.5")
            await pilot.pause()
            assert screen.question.field_value == "12.5"  # nothing dropped: '.' once vanished and 125 was saved
            hint = screen.status_text.plain
            assert "Not a valid answer yet: “12.5” is not a whole number: type a whole number, 10–120." in hint
            await pilot.press("enter")
            await pilot.pause()
            assert screen.current == "age" and screen.said.startswith("Not saved: “12.5” is not a whole number")
            await pilot.press(*["backspace"] * 4, *"twelve", "enter")
            await pilot.pause()
            assert screen.current == "age" and "“twelve” is not a whole number" in screen.said
            await pilot.press(*["backspace"] * 6, *"23", "enter")
            await pilot.pause()
            assert screen.current == "gender" and screen.said == "Saved: 23 (question 8)"

    run(scenario())
    assert history_of(tmp_db_path, uuid, "age") == [("value", None, "23")]  # 23 and nothing before it


# --- item 2: a complete case is read-only ------------------------------------------------------


def test_a_complete_case_is_read_only_until_reopened_and_says_how(tmp_db_path, thematic_rubric):
    uuid = make_case(tmp_db_path, thematic_rubric, NON_STATUTORY_DONE, status=STATUS_COMPLETE)

    async def scenario() -> None:
        async with AuditApp(tmp_db_path).run_test(size=SIZE) as pilot:
            screen = await open_case(pilot, at="lead_agency")
            assert "read-only" in screen.header.text.plain
            await pilot.press("2")  # an answer key
            await pilot.pause()
            assert screen.current == "lead_agency"
            assert screen.said == ("T001 is complete, so its answers are read-only. "
                                   "To change one, reopen the case: ctrl+e.")
            assert "reopen the case: ctrl+e" in screen.status_text.plain  # on every question of the case
            await pilot.press("ctrl+x", "e")  # clearing and the note are refused too
            await pilot.pause()
            assert isinstance(app_screen(pilot), WalkthroughScreen) and "read-only" in screen.said
            await pilot.press("r")
            await settle(pilot)
            assert isinstance(app_screen(pilot), ReviewScreen)
            await pilot.press("o", "escape")  # reopen, back to the question
            await settle(pilot)
            assert screen.current == "lead_agency" and not screen.read_only
            await pilot.press("2")
            await pilot.pause()
            assert screen.said == "Saved: NPS (question 2)"

    run(scenario())
    with read(tmp_db_path) as store:
        assert store.answers(uuid)["lead_agency"] == "nps"
        statuses = [(h["old_value"], h["new_value"]) for h in store.history(uuid) if h["field"] == "status"]
        assert statuses == [(STATUS_IN_PROGRESS, STATUS_COMPLETE), (STATUS_COMPLETE, STATUS_IN_PROGRESS)]
    assert history_of(tmp_db_path, uuid, "lead_agency") == [("value", None, '"police"'), ("value", '"police"', '"nps"')]


def app_screen(pilot):
    return pilot.app.screen


def test_a_typed_answer_of_a_complete_case_cannot_be_edited_and_ctrl_e_reopens_it(tmp_db_path, thematic_rubric):
    answers = {**NON_STATUTORY_DONE, "sentence_type": "community", "previous_convictions": 4}
    with Store.open(tmp_db_path) as store:  # a community case: answer every required question that applies
        case = store.create_case("T001", "sheffield", thematic_rubric, "jb")
        for qid, value in answers.items():
            store.set_answer(case.uuid, qid, value)
        while store.evaluation(case.uuid).missing_required:  # an answer can bring more questions in
            for qid in store.evaluation(case.uuid).missing_required:
                question = thematic_rubric.question(qid)
                store.set_answer(case.uuid, qid, question.option_codes[:1] if question.type == "multi" else
                                 question.option_codes[0] if question.is_choice else question.range[0] if question.range else "x")
        store.set_status(case.uuid, STATUS_COMPLETE)

    async def scenario() -> None:
        async with AuditApp(tmp_db_path).run_test(size=SIZE) as pilot:
            screen = await open_case(pilot, at="previous_convictions")
            await pilot.press("backspace", "9")
            await pilot.pause()
            assert screen.question.field_value == "4"
            assert "reopen the case: ctrl+e" in screen.said
            await pilot.press("enter")  # enter still moves on
            await pilot.pause()
            assert screen.current == "age"
            await pilot.press("ctrl+e")  # reopens, from a typed answer too
            await settle(pilot)
            assert not screen.read_only and screen.case.status == STATUS_IN_PROGRESS
            assert screen.said.startswith("Reopened: T001 is in progress again")
            await pilot.press(*["backspace"] * 3, "4", "2", "enter")
            await pilot.pause()
            assert "Saved: 42" in screen.said

    run(scenario())
    with read(tmp_db_path) as store:
        assert store.answers(case.uuid)["previous_convictions"] == 4 and store.answers(case.uuid)["age"] == 42
        statuses = [(h["old_value"], h["new_value"]) for h in store.history(case.uuid) if h["field"] == "status"]
        assert statuses[-1] == (STATUS_COMPLETE, STATUS_IN_PROGRESS)


# --- item 3: clearing ------------------------------------------------------------------------------


def test_clearing_takes_ctrl_x_and_a_yes_and_is_in_the_history(tmp_db_path, thematic_rubric):
    uuid = make_case(tmp_db_path, thematic_rubric, {"sentence_type": "community", "lead_agency": "crc", "age": 29})

    async def scenario() -> None:
        async with AuditApp(tmp_db_path).run_test(size=SIZE) as pilot:
            screen = await open_case(pilot, at="lead_agency")
            await pilot.press("backspace")  # a careless key clears nothing, and says what would
            await pilot.pause()
            assert screen.said == "To clear this answer, press ctrl+x (it is kept in the history)."
            await pilot.press("ctrl+x")
            await settle(pilot)
            assert isinstance(pilot.app.screen, ConfirmScreen)
            await pilot.press("escape")  # kept
            await settle(pilot)
            assert screen.said == "Not cleared: the answer is kept."
            await pilot.press("ctrl+x", "y")
            await settle(pilot)
            assert screen.said == "Question 2 cleared"
            screen.show_question("age")
            await pilot.pause()
            await pilot.press("backspace", "backspace", "enter")  # an emptied number field keeps the answer
            await pilot.pause()
            assert screen.question.field_value == "29"
            assert screen.said == "Not cleared: the saved answer (29) is kept. To clear an answer, press ctrl+x."
            await pilot.press("ctrl+x", "y")  # ctrl+x works in a typed answer as well
            await settle(pilot)
            assert screen.question.field_value == ""

    run(scenario())
    assert history_of(tmp_db_path, uuid, "lead_agency") == [("value", None, '"crc"'), ("value", '"crc"', None)]
    assert history_of(tmp_db_path, uuid, "age")[-1] == ("value", "29", None)
    with read(tmp_db_path) as store:
        assert set(store.answers(uuid)) == {"sentence_type"}


# --- item 10: the same navigation everywhere ---------------------------------------------------------


def test_the_same_navigation_on_a_typed_question_with_ctrl_shown_in_the_key_bar(tmp_db_path, thematic_rubric):
    make_case(tmp_db_path, thematic_rubric, {"sentence_type": "community"})

    async def scenario() -> None:
        async with AuditApp(tmp_db_path).run_test(size=SIZE) as pilot:
            screen = await open_case(pilot, at="lead_agency")
            bar = key_bar(pilot.app)
            for entry in ("⏎ Next", "← Back", "u To do", "o Outline", "r Review", "h History", "esc Cases"):
                assert entry in bar, bar
            screen.show_question("age")
            await settle(pilot)
            bar = key_bar(pilot.app)
            for entry in ("⏎ Save", "⇧tab Back", "^n To do", "^o Outline", "^r Review", "^t History", "esc Cases"):
                assert entry in bar, bar
            await pilot.press("o")  # a letter types here, and is refused as a number at once
            await pilot.pause()
            assert screen.question.field_value == "o" and "not a whole number" in screen.status_text.plain
            await pilot.press("enter")  # and enter does not skip past it
            await pilot.pause()
            assert screen.current == "age"
            await pilot.press("backspace", "ctrl+o")
            await pilot.pause()
            assert isinstance(pilot.app.focused, Outline)
            screen.show_question("age")
            await pilot.pause()
            await pilot.press("ctrl+r")
            await settle(pilot)
            assert isinstance(pilot.app.screen, ReviewScreen)
            await pilot.press("escape")
            await settle(pilot)
            await pilot.press("ctrl+t")
            await settle(pilot)
            assert isinstance(pilot.app.screen, HistoryScreen)
            await pilot.press("escape")
            await settle(pilot)
            screen.show_question("age")
            await pilot.pause()
            await pilot.press("ctrl+n")
            await pilot.pause()
            assert screen.current == "gender"  # the next question still to do

    run(scenario())


# --- item 9: one number per question, progress rounded down --------------------------------------------


def test_one_number_per_question_in_panel_outline_review_and_history(tmp_db_path, thematic_rubric):
    make_case(tmp_db_path, thematic_rubric, {"sentence_type": "community", "assessment_completed": "yes",
                                             "factors": ["drugs"]})

    async def scenario() -> None:
        async with AuditApp(tmp_db_path).run_test(size=SIZE) as pilot:
            screen = await open_case(pilot)
            number = thematic_rubric.question_ids.index("services_drugs") + 1  # 28 in the outline
            screen.show_question("services_drugs")
            await pilot.pause()
            assert screen.question.head.plain.startswith(f"Question {number}  ·  ")
            assert screen.outline.line_text("services_drugs").split()[2] == str(number)
            await pilot.press("1")
            await pilot.press("r")
            await settle(pilot)
            review = pilot.app.screen
            options = review.query_one("#questions")
            row = next(options.get_option_at_index(i) for i in range(options.option_count)
                       if options.get_option_at_index(i).id == "services_drugs")
            assert row.prompt.plain.split()[0] == str(number)
            await pilot.press("escape", "h")
            await settle(pilot)
            history = pilot.app.screen
            assert any(change.number == number for change in history.changes)

    run(scenario())


def test_progress_rounds_down_in_the_list_the_header_and_review(tmp_db_path, thematic_rubric):
    from audit.counting import percent

    with Store.open(tmp_db_path) as store:  # every question answered, then unanswered ones until
        case = store.create_case("T001", "sheffield", thematic_rubric, "jb")  # rounding half up would say more
        store.set_answer(case.uuid, "sentence_type", "post_release")
        for qid in store.evaluation(case.uuid).applicable_questions[1:]:
            question = thematic_rubric.question(qid)
            if question.type == "multi":
                value = question.option_codes[:1]
            elif question.is_choice:
                value = "yes" if "yes" in question.options else question.option_codes[0]
            else:
                value = question.range[0] if question.range else "x"
            store.set_answer(case.uuid, qid, value)
        for qid in reversed(store.evaluation(case.uuid).applicable_questions):
            case = store.case(case.uuid)
            if case.answered_count * 100 // case.applicable_count != percent(case.answered_count, case.applicable_count):
                break
            store.set_answer(case.uuid, qid, None)
    expected = case.answered_count * 100 // case.applicable_count
    assert expected < percent(case.answered_count, case.applicable_count) < 100

    async def scenario() -> None:
        async with AuditApp(tmp_db_path).run_test(size=SIZE) as pilot:
            await settle(pilot)
            table = pilot.app.screen.query_one(CaseTable)
            assert table.row_text(0)[4] == f"{expected}%"
            screen = await open_case(pilot)
            assert f"({expected}%)" in screen.header.text.plain
            await pilot.press("r")
            await settle(pilot)
            assert f"({expected}%)" in str(pilot.app.screen.query_one("#review-summary").render())

    run(scenario())


# --- the explicit empty selection (issue #7, item 8) -----------------------------------------------------


def test_unticking_the_last_option_saves_nothing_and_names_the_keys(tmp_db_path, thematic_rubric):
    uuid = make_case(tmp_db_path, thematic_rubric, {"sentence_type": "community", "assessment_completed": "yes",
                                                    "factors": ["drugs"]})

    async def scenario() -> None:
        async with AuditApp(tmp_db_path).run_test(size=SIZE) as pilot:
            screen = await open_case(pilot, at="factors")
            await pilot.press("5")  # Drug misuse, the only one ticked
            await settle(pilot)
            assert not isinstance(pilot.app.screen, ConfirmRetireScreen)
            assert screen.said == "That is the last ticked option: press n for “None of these”, or ctrl+x to clear the answer."

    run(scenario())
    with read(tmp_db_path) as store:
        assert store.answers(uuid)["factors"] == ["drugs"]


def store_keeps_empty_selections() -> bool:
    from audit.rubric import load_rubric_by_id
    from audit.values import coerce

    return coerce(load_rubric_by_id("iom-thematic-2019").question("factors"), []) == []


@pytest.mark.skipif(not store_keeps_empty_selections(), reason="the store keeps [] once issue #7 item 8 lands on main")
def test_n_records_none_of_these_shown_in_the_panel_review_and_history(tmp_db_path, thematic_rubric):
    uuid = make_case(tmp_db_path, thematic_rubric, {"sentence_type": "community", "assessment_completed": "yes"})

    async def scenario() -> None:
        async with AuditApp(tmp_db_path).run_test(size=SIZE) as pilot:
            screen = await open_case(pilot, at="factors")
            await pilot.press("n")
            await settle(pilot)
            assert screen.said == f"Saved: {NONE_OF_THESE}"
            choice = screen.query_one(QuestionView)
            assert choice.chosen_value == [] and f"(•) {NONE_OF_THESE}" in choice.text.plain
            assert screen.outline.state_of("factors") == "answered"
            await pilot.press("r")
            await settle(pilot)
            review = pilot.app.screen
            options = review.query_one("#questions")
            row = next(options.get_option_at_index(i) for i in range(options.option_count)
                       if options.get_option_at_index(i).id == "factors")
            assert f"→ {NONE_OF_THESE}" in row.prompt.plain
            await pilot.press("escape", "h")
            await settle(pilot)
            assert [c.new for c in pilot.app.screen.changes if c.question.startswith("Which factors")] == [NONE_OF_THESE]

    run(scenario())
    with read(tmp_db_path) as store:
        assert store.answers(uuid)["factors"] == []


# --- the keys the hint names exist -------------------------------------------------------------------------


def test_every_key_bar_fits_one_line_at_80_columns(tmp_db_path, thematic_rubric):
    make_case(tmp_db_path, thematic_rubric, {"sentence_type": "community"})

    async def lines(app) -> list[str]:
        bar = app.screen.query_one(KeyBar)
        return bar.content.plain.split("\n")

    async def scenario() -> None:
        async with AuditApp(tmp_db_path).run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert len(await lines(pilot.app)) == 1, await lines(pilot.app)
            screen = await open_case(pilot, at="lead_agency")
            assert len(await lines(pilot.app)) == 1, await lines(pilot.app)
            screen.show_question("age")
            await settle(pilot)
            assert pilot.app.focused is screen.question and screen.question.field is not None  # its field
            assert len(await lines(pilot.app)) == 1, await lines(pilot.app)
            screen.show_question("factors" if "factors" in screen.evaluation.applicable else "gender")
            await settle(pilot)
            assert len(await lines(pilot.app)) == 1, await lines(pilot.app)

    run(scenario())


# --- issue #12 item 5: retired answers are offered back -------------------------------------------


RETIRING = {"sentence_type": "community", "index_offence": "burglary", "rosh": "high", "age": 29}


async def retire_then_bring_back(pilot) -> WalkthroughScreen:
    """Community -> non-statutory (retires three answers) -> community again: the dialog offers them back."""
    screen = await open_case(pilot, at="sentence_type")
    await pilot.press("3")  # non-statutory
    await settle(pilot)
    assert isinstance(pilot.app.screen, ConfirmRetireScreen)
    await pilot.press("r")
    await settle(pilot)
    assert sorted(q for q, row in screen.rows.items() if row["state"] == "retired") == ["age", "index_offence", "rosh"]
    screen.show_question("sentence_type")
    await pilot.pause()
    await pilot.press("1")  # community again: the three apply again
    await settle(pilot)
    return screen


def test_retired_answers_that_apply_again_come_back_all_at_once_from_the_dialog(tmp_db_path, thematic_rubric):
    uuid = make_case(tmp_db_path, thematic_rubric, RETIRING)

    async def scenario() -> None:
        async with AuditApp(tmp_db_path).run_test(size=SIZE) as pilot:
            screen = await retire_then_bring_back(pilot)
            dialog = pilot.app.screen
            assert isinstance(dialog, RestoreRetiredScreen)
            assert [(qid, answer) for qid, _, _, answer in dialog.retired] == [
                ("index_offence", "Burglary"), ("rosh", "High"), ("age", "29")]
            await pilot.press("a")
            await settle(pilot)
            assert pilot.app.screen is screen and screen.said == "Brought back 3 earlier answers (the history says so)."
            assert {q: screen.evaluation.answers.get(q) for q in ("index_offence", "rosh", "age")} == {
                "index_offence": "burglary", "rosh": "high", "age": 29}

    run(scenario())
    with read(tmp_db_path) as store:
        assert {q: store.answers(uuid).get(q) for q in ("index_offence", "rosh", "age")} == {
            "index_offence": "burglary", "rosh": "high", "age": 29}
        assert store.case(uuid).answered_count == 4
    assert history_of(tmp_db_path, uuid, "rosh")[-2:] == [("state", "current", "retired"), ("state", "retired", "current")]


def test_each_retired_answer_is_offered_on_its_question_and_enter_brings_it_back(tmp_db_path, thematic_rubric):
    uuid = make_case(tmp_db_path, thematic_rubric, RETIRING)

    async def scenario() -> None:
        async with AuditApp(tmp_db_path).run_test(size=SIZE) as pilot:
            screen = await retire_then_bring_back(pilot)
            await pilot.press("escape")  # one by one
            await settle(pilot)
            assert pilot.app.screen is screen and screen.current == "index_offence"
            assert "Enter brings back the earlier answer, Burglary (retired; it applies again)" in screen.status_text.plain
            choice = screen.query_one(QuestionView)
            assert choice.choices[choice.cursor_index][0] == "burglary"  # pre-selected
            assert "Burglary  ← earlier answer" in choice.text.plain
            assert question_states(screen.rubric, screen.evaluation, screen.rows)["index_offence"] == "offered"  # ↺
            await pilot.press("enter")  # one key: brought back, next question
            await pilot.pause()
            assert screen.said == "Brought back: Burglary (question 5; the history says so)"
            assert screen.current == "rosh" and screen.evaluation.answers["index_offence"] == "burglary"
            await pilot.press("2")  # another answer instead of the earlier one
            await pilot.pause()
            assert screen.said.startswith("Saved: Medium")
            screen.show_question("age")
            await pilot.pause()
            assert screen.question.field_value == "29"  # a typed answer is offered as text, enter takes it back
            await pilot.press("enter")
            await pilot.pause()
            assert screen.said.startswith("Brought back: 29")

    run(scenario())
    with read(tmp_db_path) as store:
        assert {q: store.answers(uuid).get(q) for q in ("index_offence", "rosh", "age")} == {
            "index_offence": "burglary", "rosh": "medium", "age": 29}
    assert history_of(tmp_db_path, uuid, "index_offence")[-1] == ("state", "retired", "current")
    assert history_of(tmp_db_path, uuid, "rosh")[-1] == ("value", None, '"medium"')


# --- the question view (issue #16): one widget, answer keys run as they arrive -------------------------


def test_a_click_on_an_option_saves_it_and_arrows_still_move_between_questions(tmp_db_path, thematic_rubric):
    uuid = make_case(tmp_db_path, thematic_rubric, {})

    async def scenario() -> None:
        async with AuditApp(tmp_db_path).run_test(size=SIZE) as pilot:
            screen = await open_case(pilot)
            assert screen.current == "sentence_type" and pilot.app.focused is screen.question
            view = screen.question
            line = view.text.plain.splitlines().index(next(
                text for text in view.text.plain.splitlines() if "Non-statutory supervision" in text))
            await pilot.click(QuestionView, offset=(12, line - view.scroll_offset.y + 1))  # + the top padding
            await settle(pilot)
            assert screen.current == "lead_agency"  # saved, and on to the next question
            await pilot.press("left")  # back a question, as on every question
            await settle(pilot)
            assert screen.current == "sentence_type"
            assert "(•) Non-statutory supervision" in view.text.plain

    run(scenario())
    with read(tmp_db_path) as store:
        assert store.answers(uuid)["sentence_type"] == "non_statutory"


def test_an_answer_key_in_the_note_field_types_there(tmp_db_path, thematic_rubric):
    uuid = make_case(tmp_db_path, thematic_rubric, {"sentence_type": "community", "lead_agency": "police"})

    async def scenario() -> None:
        async with AuditApp(tmp_db_path).run_test(size=SIZE) as pilot:
            screen = await open_case(pilot, at="lead_professional")
            await pilot.press("e", *"yes 1 n a", "enter")  # the answer keys of a yes/no question, in the note
            await settle(pilot)
            assert screen.current == "lead_professional"

    run(scenario())
    with read(tmp_db_path) as store:
        row = store.answer_rows(uuid)["lead_professional"]
    assert row["note"] == "yes 1 n a" and row["value"] is None


# --- a typed answer's field is drawn and edited by the question view (#15: no layout pass) ---------


def test_a_typed_answer_is_edited_in_the_question_view_and_saved(tmp_db_path, thematic_rubric):
    uuid = make_case(tmp_db_path, thematic_rubric, {"sentence_type": "community"})

    async def scenario() -> None:
        async with AuditApp(tmp_db_path).run_test(size=SIZE) as pilot:
            screen = await open_case(pilot, at="age")
            view = screen.question
            assert pilot.app.focused is view and view.field == "" and view.editable
            await pilot.press("3", "4", "left", "left", "1")
            assert view.field_value == "134" and view.field_cursor == 1
            await pilot.press("home", "delete", "end", "backspace")
            assert view.field_value == "3"
            await pilot.press("u")  # a letter key types here (the screen's u is ^n in a typed answer)
            assert view.field_value == "3u" and screen.current == "age"
            assert "not a whole number" in screen.status_text.plain  # said while typing
            await pilot.press("left", "ctrl+k")
            assert view.field_value == "3"
            await pilot.press("ctrl+u")
            assert view.field_value == ""
            view.post_message(events.Paste("4\x1b[2J1"))  # a control character is drawn as one cell, never sent
            await pilot.pause()
            assert view.field_value == "4\x1b[2J1" and "4\ufffd[2J1" in view.text.plain
            assert "\x1b" not in view.text.plain  # the lines drawn
            await pilot.press("enter")
            assert "not a whole number" in screen.said and screen.current == "age"  # nothing saved
            await pilot.press("ctrl+u")
            view.post_message(events.Paste("41\nrm -rf /"))  # a paste keeps its first line
            await pilot.pause()
            assert view.field_value == "41" and "41" in view.text.plain
            await pilot.press("enter")
            await pilot.pause()
            assert screen.current == "gender" and screen.said.startswith("Saved: 41")
            screen.show_question("age")
            await pilot.pause()
            assert view.field_value == "41" and view.field_selected  # shown anew, selected: typing replaces it
            await pilot.press("5", "2", "enter")
            await pilot.pause()
        with read(tmp_db_path) as store:
            assert store.answers(uuid)["age"] == 52

    run(scenario())


def test_moving_between_choice_and_typed_questions_and_typing_is_never_a_layout_pass(tmp_db_path, thematic_rubric,
                                                                                    monkeypatch):
    """An Input beside the question view was shown, hidden and focused at each change of the kind of
    question: a layout pass and a repaint of the whole screen, the slowest answers of all."""
    make_case(tmp_db_path, thematic_rubric, {"sentence_type": "community"})
    async def scenario() -> None:
        async with AuditApp(tmp_db_path).run_test(size=SIZE) as pilot:
            screen = await open_case(pilot, at="rosh")
            await settle(pilot)
            passes = count_layout_passes(monkeypatch)
            await pilot.press("3")  # rosh (a choice) -> previous_convictions (typed)
            await pilot.pause()
            assert screen.current == "previous_convictions"
            await pilot.press("2", "backspace", "7", "enter")  # -> age (typed)
            await pilot.pause()
            await pilot.press("4", "0", "enter")  # -> gender (a choice)
            await pilot.pause()
            assert screen.current == "gender" and screen.evaluation.answers["age"] == 40
            assert passes == []

    run(scenario())


def test_a_typed_answer_of_a_question_that_does_not_apply_takes_no_keys(tmp_db_path, thematic_rubric):
    make_case(tmp_db_path, thematic_rubric, {"sentence_type": "non_statutory"})

    async def scenario() -> None:
        async with AuditApp(tmp_db_path).run_test(size=SIZE) as pilot:
            screen = await open_case(pilot, at="age")
            view = screen.question
            assert view.field == "" and not view.editable and pilot.app.focused is not view
            view.focus()
            await pilot.pause()
            await pilot.press("4", "backspace")
            assert view.field_value == ""
            await pilot.press("u")  # the screen's keys work there: u goes to the next question to do
            await pilot.pause()
            assert screen.current != "age"

    run(scenario())


def test_an_open_case_keeps_what_was_alive_out_of_the_garbage_collector_s_view_until_it_is_left(tmp_db_path,
                                                                                               thematic_rubric):
    """A full collection walked every object of the app and the rubric, the slowest answers of all."""
    import gc

    make_case(tmp_db_path, thematic_rubric, {})

    async def scenario() -> None:
        async with AuditApp(tmp_db_path).run_test(size=SIZE) as pilot:
            await settle(pilot)
            assert gc.get_freeze_count() == 0
            screen = await open_case(pilot)
            assert gc.get_freeze_count() > 1000
            await pilot.press("1")  # answers still save and show as usual
            await pilot.pause()
            assert screen.said.startswith("Saved")
            await pilot.press("escape")
            await settle(pilot)
            assert not isinstance(pilot.app.screen, WalkthroughScreen)
            assert gc.get_freeze_count() == 0  # given back: the screen left can be collected

    run(scenario())


def test_the_header_has_room_from_the_start_for_what_answering_adds_to_it(tmp_db_path, thematic_rubric, monkeypatch):
    """At a width where the header fits on one line until an answer adds "saved 10:03:04" (or a count
    gains a digit), it wrapped half-way through: the whole screen moved down a line, in a layout pass."""
    make_case(tmp_db_path, thematic_rubric, {})
    async def scenario() -> None:
        async with AuditApp(tmp_db_path).run_test(size=SIZE) as pilot:
            screen = await open_case(pilot)
            unsaved = screen.header.text.plain
            assert "saved" not in unsaved
            await pilot.resize_terminal(len(unsaved) + 2, SIZE[1])  # it just fits, inside its padding
            await settle(pilot)
            height = screen.header.size.height
            passes = count_layout_passes(monkeypatch)
            await pilot.press("1")
            await pilot.pause()
            assert "saved" in screen.header.text.plain and len(screen.header.text.plain) > len(unsaved)
            assert screen.header.size.height == height and passes == []

    run(scenario())
