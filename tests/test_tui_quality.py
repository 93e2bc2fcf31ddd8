"""Quality review and moderation in the real app: Pilot flows checked against the file, and snapshots at
80x24 and 120x40 of the review queue, the decision dialog, a returned case and the Moderation tab."""

from __future__ import annotations

import asyncio
import time

import pytest

import audit.store
from audit.demo import thematic_cases
from audit.moderation import all_copies, draw_sample
from audit.moderation_report import moderation_report, table_lines
from audit.store import Store
from audit.tui.app import AuditApp
from audit.tui.screens.case_list import CaseListScreen
from audit.tui.screens.figures import FiguresScreen
from audit.tui.screens.review import ReviewScreen
from audit.tui.screens.review_decision import ReviewDecisionScreen
from audit.tui.screens.review_queue import ReviewQueueScreen
from audit.tui.screens.walkthrough import WalkthroughScreen
from audit.tui.widgets.case_table import CaseTable
from audit.tui.widgets.review_note import ReviewNote
from tests.qa_support import mark
from tests.tui_support import count_layout_passes, settle

SIZES = [(80, 24), (120, 40)]
COMMENT = "Three-way review meeting on 12 September: was he involved?"


def fixed_clock():
    minute = iter(range(100_000))

    def now() -> str:
        m = next(minute)
        return f"2019-09-{2 + m // 1440:02d}T{(m // 60) % 24:02d}:{m % 60:02d}:00.000000Z"

    return now


@pytest.fixture
def qa_db(tmp_path, monkeypatch, thematic_rubric):
    """Twelve demo cases (WF and SH); two drawn for moderation by sh (one finished with a disagreement, one
    still being marked); one approved and one returned by the quality lead ql. Fixed clock, UTC."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.setenv("AUDIT_USER", "ql")
    time.tzset()
    monkeypatch.setattr(audit.store, "now", fixed_clock())
    path = tmp_path / "qa.db"
    with Store.open(path) as store:
        store.insert_cases(thematic_cases(thematic_rubric)[:12], who="demo", reason="test data")
        sample = draw_sample(store, fraction=0.2, seed=1, inspector="sh", who="ql")
        finished, unfinished = sample.drawn
        answers = dict(store.answers(finished.original.uuid))
        answers["planning_roles"] = "no" if answers["planning_roles"] == "yes" else "yes"
        mark(store, finished.copy.uuid, answers, who="sh", notes={"planning_roles": "The police role is not stated."})
        first = dict(list(store.answers(unfinished.original.uuid).items())[:10])
        mark(store, unfinished.copy.uuid, first, who="sh", complete=False)
        lead = store.service("ql")
        queue = [c for c in store.list_cases(status="complete", order_by="case_ref", descending=False)
                 if c.copy_of is None and c.uuid not in (finished.original.uuid, unfinished.original.uuid)]
        lead.set_status(queue[0].uuid, "approved")
        lead.set_status(queue[1].uuid, "returned", comment=COMMENT, question_id="review_involved")
    yield path
    monkeypatch.undo()
    time.tzset()


def run(coro):
    return asyncio.run(coro)


def case_of(path, uuid):
    with Store.open_read_only(path) as store:
        return store.case(uuid)


async def open_queue(pilot) -> ReviewQueueScreen:
    await settle(pilot)
    await pilot.press("v")
    await settle(pilot)
    assert isinstance(pilot.app.screen, ReviewQueueScreen)
    return pilot.app.screen


# --- the lead -----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_lead_returns_a_case_with_a_comment_on_one_question(qa_db, thematic_rubric, size):
    async def go():
        async with AuditApp(qa_db).run_test(size=size) as pilot:
            queue = await open_queue(pilot)
            table = queue.query_one(CaseTable)
            refs = [table.row_text(i)[0] for i in range(table.row_count)]
            with Store.open_read_only(qa_db) as store:
                from audit.review import review_queue

                assert refs == [c.case_ref for c in review_queue(store)]
            target = table.highlighted_key
            await pilot.press("x")
            await settle(pilot)
            dialog = pilot.app.screen
            assert isinstance(dialog, ReviewDecisionScreen) and dialog.chosen == "returned"
            await pilot.press("ctrl+s")  # no comment yet: refused, nothing written
            await pilot.pause()
            assert isinstance(pilot.app.screen, ReviewDecisionScreen)
            assert "needs a comment" in str(dialog.query_one("#decision-error").render())
            await pilot.press(*"Recall decision not evidenced")
            await pilot.press("tab")  # to the question list
            number = thematic_rubric.position("recalled") + 1
            await pilot.press("enter", *f"{number}.", "enter")
            await pilot.pause()
            await pilot.press("ctrl+s")
            await settle(pilot)
            assert isinstance(pilot.app.screen, ReviewQueueScreen)
            target_ref = case_of(qa_db, target).case_ref
            table = queue.query_one(CaseTable)
            assert target_ref not in [table.row_text(i)[0] for i in range(table.row_count)]  # left the queue
        with Store.open_read_only(qa_db) as store:
            case = store.case(target)
            assert (case.status, case.review_comment, case.review_question) == (
                "returned", "Recall decision not evidenced", "recalled")
            assert [(h["field"], h["changed_by"]) for h in store.history(target)[-2:]] == [("review", "ql"), ("status", "ql")]

    run(go())


def test_the_lead_approves_and_escape_writes_nothing(qa_db):
    async def go():
        async with AuditApp(qa_db).run_test(size=(120, 40)) as pilot:
            queue = await open_queue(pilot)
            first = queue.query_one(CaseTable).highlighted_key
            await pilot.press("a")
            await settle(pilot)
            await pilot.press("escape")
            await settle(pilot)
            with Store.open_read_only(qa_db) as store:
                assert store.case(first).status == "complete"
            await pilot.press("a")
            await settle(pilot)
            assert pilot.app.screen.chosen == "approved"
            await pilot.press("ctrl+s")
            await settle(pilot)
            with Store.open_read_only(qa_db) as store:
                assert store.case(first).status == "approved"
            await pilot.press("t")  # the returned cases, with their comments
            await settle(pilot)
            table = queue.query_one(CaseTable)
            assert [table.row_text(i)[4] for i in range(table.row_count)] == [COMMENT]
            assert queue.check_action("decide", ("approved",)) is False  # a returned case waits for its inspector

    run(go())


def test_the_queue_shows_how_far_the_two_markings_differ(qa_db):
    async def go():
        async with AuditApp(qa_db).run_test(size=(120, 40)) as pilot:
            queue = await open_queue(pilot)
            table = queue.query_one(CaseTable)
            moderation = {table.row_text(i)[0]: table.row_text(i)[4] for i in range(table.row_count)}
        with Store.open_read_only(qa_db) as store:
            copies = all_copies(store)
            states = sorted(moderation[store.case(c.copy_of).case_ref] for c in copies)
        assert states == ["1 difference", "being marked"]

    run(go())


# --- the inspector ------------------------------------------------------------------------------


@pytest.fixture
def returned(qa_db, monkeypatch):
    """The returned case, with its inspector at the keyboard (the case list shows it first)."""
    with Store.open_read_only(qa_db) as store:
        (case,) = store.list_cases(status="returned")
    monkeypatch.setenv("AUDIT_USER", case.inspector)
    return case


def test_the_inspector_sees_returned_cases_first_and_the_comment_on_the_case_and_question(qa_db, returned):
    async def go():
        async with AuditApp(qa_db).run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            table = pilot.app.screen.query_one(CaseTable)
            assert table.row_text(0)[0] == returned.case_ref and table.row_text(0)[3] == "returned"
            await pilot.press("enter")
            await settle(pilot)
            walk = pilot.app.screen
            assert isinstance(walk, WalkthroughScreen)
            note = walk.query_one(ReviewNote)
            number = walk.number["review_involved"]
            # at 80x24 cut to two lines (the question stays in view), the question it names first
            assert note.display and not note.has_class("-on-question") and note.size.height == 2
            assert note.text.plain.startswith(f"Returned for changes, about question {number}: {COMMENT}")
            assert note.render_line(1).text.rstrip().endswith("…")
            question = walk.rubric.question(walk.current).text
            shown = " ".join(walk.question.render_line(y).text.strip() for y in range(walk.question.size.height))
            assert question[:30] in shown
            walk.show_question("review_involved")
            await pilot.pause()
            assert note.has_class("-on-question") and "about this question" in note.text.plain
            assert note.size.height > 2 and COMMENT.split()[-1] in " ".join(
                note.render_line(y).text for y in range(note.size.height))  # in full
            await pilot.press("1")  # a returned case can be changed: the inspector answers again
            await settle(pilot)
            await pilot.press("r")
            await settle(pilot)
            assert isinstance(pilot.app.screen, ReviewScreen)
            await pilot.press("c")
            await settle(pilot)
        with Store.open_read_only(qa_db) as store:
            case = store.case(returned.uuid)
            assert (case.status, case.review_comment, store.answers(case.uuid)["review_involved"]) == ("complete", None, "yes")
            assert COMMENT in [h["new_value"] for h in store.history(case.uuid)]

    run(go())


def test_the_moderator_is_blind_until_the_copy_is_complete(qa_db, monkeypatch):
    monkeypatch.setenv("AUDIT_USER", "sh")
    with Store.open_read_only(qa_db) as store:
        (copy,) = [c for c in all_copies(store) if c.status == "in_progress"]
        original = store.case(copy.copy_of)

    async def open_ref(pilot, ref: str, is_copy: bool):
        screen = pilot.app.screen
        assert isinstance(screen, CaseListScreen)
        table = screen.query_one(CaseTable)
        rows = [table.row_text(i) for i in range(table.row_count)]
        index = next(i for i, row in enumerate(rows) if row[0] == ref and row[3].endswith("· moderation") == is_copy)
        table.move_cursor(index)
        await pilot.press("enter")
        await settle(pilot)

    async def go():
        app = AuditApp(qa_db)
        said: list[str] = []
        app.notify = lambda message, **_: said.append(message)  # what the moderator is told
        async with app.run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await open_ref(pilot, original.case_ref, False)
            assert isinstance(pilot.app.screen, CaseListScreen)  # refused: the first marking stays hidden
            assert any("answers stay hidden until the moderation copy is marked complete" in m for m in said)
            await open_ref(pilot, copy.case_ref, True)
            walk = pilot.app.screen
            assert isinstance(walk, WalkthroughScreen) and walk.case.uuid == copy.uuid
            note = walk.query_one(ReviewNote)
            assert note.display and "Moderation copy" in note.text.plain
        with Store.open(qa_db) as store:  # the copy finished (as the walk-through would), the original opens
            mark(store, copy.uuid, store.answers(original.uuid), who="sh")
        async with AuditApp(qa_db).run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await open_ref(pilot, original.case_ref, False)
            assert isinstance(pilot.app.screen, WalkthroughScreen) and pilot.app.screen.case.uuid == original.uuid

    run(go())


def test_the_moderation_tab_shows_the_reports_table(qa_db):
    async def go():
        async with AuditApp(qa_db).run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await pilot.press("f")
            await settle(pilot)
            await pilot.press("t")
            await settle(pilot)
            screen = pilot.app.screen
            assert isinstance(screen, FiguresScreen)
            table = screen.query_one("#agreement-table")
            shown = "\n".join(str(line) for line in table.content.renderables)
            # and on screen: the first rows are drawn as they are written
            drawn = "\n".join(table.render_line(y).text for y in range(4))
            title = str(screen.query_one("#figures-title").render())
        with Store.open_read_only(qa_db) as store:
            report = moderation_report(store)
            live = sum(store.status_counts().values())
        for line in table_lines(report):
            assert line in shown
        assert table_lines(report)[1][:60] in drawn
        assert f"{live:,} case(s)" in title and live == 12  # the copies are in no figure

    run(go())


# --- snapshots ----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("where", ["queue", "dialog", "returned_case", "moderation_tab"])
def test_quality_screens(snap_compare, qa_db, monkeypatch, where, size):
    if where == "returned_case":
        monkeypatch.setenv("AUDIT_USER", "jb")

    async def arrive(pilot) -> None:
        await settle(pilot)
        keys = {"queue": ["v"], "dialog": ["v", "x"], "returned_case": ["enter"], "moderation_tab": ["f", "t"]}[where]
        for key in keys:
            await pilot.press(key)
            await settle(pilot)

    assert snap_compare(AuditApp("qa.db"), terminal_size=size, run_before=arrive)  # relative: the same title every run


def test_answering_a_returned_case_is_never_a_layout_pass(qa_db, returned, monkeypatch):
    """The reviewer's note was a Static, updated on every answer: a layout pass of the whole screen per
    answer on every returned case and moderation copy. Now it is drawn again only when its text changes."""

    async def go():
        async with AuditApp(qa_db).run_test(size=(120, 40)) as pilot:
            await settle(pilot)
            await pilot.press("enter")
            await settle(pilot)
            walk = pilot.app.screen
            assert isinstance(walk, WalkthroughScreen) and walk.case.uuid == returned.uuid
            walk.show_question("sentence_type")
            await settle(pilot)
            passes = count_layout_passes(monkeypatch)
            for _ in range(3):
                before = walk.current
                await pilot.press("enter")  # on to the next question: the note stays as it is
                await pilot.pause()
                assert walk.current != before
            await pilot.press("1")  # an answer (the case is being changed, as the reviewer asked)
            await pilot.pause()
            assert walk.query_one(ReviewNote).display and passes == []

    run(go())
