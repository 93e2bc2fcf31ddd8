"""Schema 5's compact storage (issue #15): nothing lost by the migration, every index used, times kept exactly.

The migration is tried on ``tests/fixtures/schema4.db``, a file written by the release before it
(``tests/fixtures/make_schema4.py``), through the real ``audit upgrade`` command.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from audit import schema
from audit.cases import CaseService
from audit.moderation import copies_of
from audit.schema import stored_stamp
from audit.store import CASE_COLUMNS, Store

FIXTURE = Path(__file__).parent / "fixtures" / "schema4.db"
EPOCH = dt.datetime(1970, 1, 1)


def stamp_text(stored):
    """The reference for the view's decoding: integer microseconds since 1970 as the tool writes a time."""
    return (EPOCH + dt.timedelta(microseconds=stored)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@pytest.fixture
def site_db(tmp_path) -> Path:
    """A copy of the schema-4 fixture, private as the tool makes its files."""
    path = tmp_path / "site.db"
    shutil.copy(FIXTURE, path)
    os.chmod(path, 0o600)
    return path
CASE_FIELDS = ", ".join(CASE_COLUMNS)
ANSWERS = ("SELECT case_uuid, question_id, value, note, answered_by, answered_at, state, applies, counted "
           "FROM answers ORDER BY case_uuid, question_id")
HISTORY = ("SELECT id, case_uuid, question_id, field, old_value, new_value, changed_by, changed_at, reason, origin "
           "FROM history ORDER BY id")


def logical_content(path: Path) -> dict[str, list[tuple]]:
    """What a file holds, table by table, as any reader sees it (through the views at schema 5 and after)."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {
            "cases": conn.execute(f"SELECT {CASE_FIELDS} FROM cases ORDER BY uuid").fetchall(),
            "answers": conn.execute(ANSWERS).fetchall(),
            "history": conn.execute(HISTORY).fetchall(),
            "judgements": conn.execute("SELECT * FROM judgements ORDER BY 1, 2, 3").fetchall(),
            "merges": conn.execute("SELECT id, merged_at, source_path, source_db_uuid, source_site, added, unchanged, "
                                   "updated, conflicts, duplicates, source_change FROM merges ORDER BY id").fetchall(),
            "rubrics": conn.execute("SELECT * FROM rubrics ORDER BY sha256").fetchall(),
            "readable": conn.execute("SELECT * FROM answers_readable ORDER BY case_uuid, question_id").fetchall(),
            "meta": conn.execute("SELECT key, value FROM meta WHERE key NOT IN ('schema_version', 'change_id') "
                                 "ORDER BY key").fetchall(),
        }
    finally:
        conn.close()


def run_audit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "audit.cli", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "AUDIT_USER": "tester"})


def test_upgrading_a_schema4_file_keeps_every_answer_note_history_row_and_judgement(site_db):
    path = site_db
    before = logical_content(path)
    # the fixture holds what the migration must carry: retired answers, notes, None of these, a deleted case,
    # moderation copies, a duplicate, review comments, judgements and a merge
    answers = before["answers"]
    assert {row[6] for row in answers} == {"current", "retired"} and any(row[3] for row in answers)
    assert any(row[2] == "[]" for row in answers) and before["judgements"] and before["merges"]
    assert len(before["history"]) > 300 and len(answers) > 2000

    result = run_audit("upgrade", str(path))
    assert result.returncode == 0, result.stderr
    # the old tables' pages are given back: the file is smaller than the one it was made from
    assert "free space given back" in result.stdout and path.stat().st_size < FIXTURE.stat().st_size

    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == schema.SCHEMA_VERSION == 6
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        kinds = dict(conn.execute("SELECT name, type FROM sqlite_master WHERE name IN ('answers', 'history')"))
        assert kinds == {"answers": "view", "history": "view"}
        # the times the tool wrote are integers now; every one reads back as the text it was
        stored = conn.execute("SELECT typeof(answered_at), count(*) FROM answer_data GROUP BY 1").fetchall()
        assert dict(stored).keys() == {"integer"}
    finally:
        conn.close()
    after = logical_content(path)
    for table in before:
        assert after[table] == before[table], table
    assert run_audit("verify", str(path)).returncode == 0


def test_the_upgraded_file_keeps_working(site_db):
    path = site_db
    with Store.open(path) as store:
        service = CaseService(store, "tester")
        case = next(c for c in store.list_cases(limit=100, status="in_progress") if c.copy_of is None)
        state = service.load(case.uuid)
        question = next(q for q in state.rubric.questions if q.type == "integer" and state.evaluation.applies(q.id))
        outcome = service.answer(case.uuid, question.id, 30)
        assert outcome.saved and service.load(case.uuid).value(question.id) == 30
        new = service.create_case("NEW-1", "Sheffield", state.rubric)
        assert new.id > max(c.id for c in store.list_cases(limit=1000) if c.uuid != new.uuid)
        history = store.history(case.uuid)
        assert history[-1]["new_value"] == "30" and history[-1]["changed_by"] == "tester"


def test_a_file_with_answers_that_belong_to_no_case_is_refused_whole_and_left_as_it_was(site_db):
    path = site_db
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA foreign_keys = OFF")
    conn.execute("INSERT INTO answers (case_uuid, question_id, value) VALUES ('00000000-0000-4000-8000-000000000000', 'age', '3')")  # schema 4: a table
    conn.commit()
    conn.close()
    before = logical_content(path)
    result = run_audit("upgrade", str(path))
    assert result.returncode == 1
    assert "belong to no case" in result.stderr and "Traceback" not in result.stderr
    assert logical_content(path) == before


STAMPS = st.datetimes(min_value=dt.datetime(1970, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59, 59, 999999))


@settings(max_examples=300, deadline=None)
@given(STAMPS)
def test_a_time_the_tool_writes_is_stored_as_an_integer_and_read_back_exactly(moment):
    text = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    stored = stored_stamp(text)
    assert isinstance(stored, int) and stamp_text(stored) == text
    conn = sqlite3.connect(":memory:")
    assert conn.execute(f"SELECT {schema.STAMP_TEXT_SQL.format(':t')}", {'t': stored}).fetchone()[0] == text


@pytest.mark.parametrize("text", [
    "2026-11-30T10:43:20Z", "2026-11-30T10:43:20.7Z", "2026-11-30 10:43:20.706678Z", "1969-12-31T23:59:59.999999Z",
    "2026-02-30T10:43:20.706678Z", "not a time", "", None, "２０２６-11-30T10:43:20.706678Z", "2026-11-30T10:43:20.706678Z\n",
])
def test_any_other_time_is_kept_as_it_was_given(text):
    assert stored_stamp(text) == text
    conn = sqlite3.connect(":memory:")
    assert conn.execute(f"SELECT {schema.STAMP_TEXT_SQL.format(':t')}", {'t': text}).fetchone()[0] == text


def reference_stored_stamp(text):
    """stored_stamp as first written, with datetime: the fast one must give the same for any text."""
    import re

    if not isinstance(text, str):
        return text
    match = re.fullmatch(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\.(\d{6})Z", text, re.ASCII)
    if match is None:
        return text
    try:
        moment = dt.datetime(*(int(part) for part in match.groups()))
    except ValueError:
        return text
    epoch = dt.datetime(1970, 1, 1)
    return text if moment < epoch else (moment - epoch) // dt.timedelta(microseconds=1)


@settings(max_examples=2000, deadline=None)
@example(("1969", "12", "31", "23", "59", "59", "999999"), "Z")
@example(("1970", "01", "01", "00", "00", "00", "000000"), "Z")
@example(("2024", "02", "29", "23", "59", "59", "999999"), "Z")
@example(("2023", "02", "29", "12", "00", "00", "000000"), "Z")
@example(("9999", "12", "31", "23", "59", "59", "999999"), "Z")
@example(("0000", "01", "01", "00", "00", "00", "000000"), "Z")
@example(("2026", "11", "30", "24", "00", "00", "000000"), "Z")
@example(("2026", "11", "30", "23", "60", "00", "000000"), "Z")
@example(("2026", "11", "30", "23", "59", "60", "000000"), "Z")
@given(st.tuples(*[st.text("0123456789", min_size=n, max_size=n) for n in (4, 2, 2, 2, 2, 2, 6)]),
       st.sampled_from(["", "Z", "z", "Z\n"]))
def test_a_stored_time_is_what_datetime_makes_of_any_text_of_its_shape(parts, end):
    """Any digits in the shape of a time (month 13, 30 February, hour 24, second 60, year 0000, before 1970)."""
    year, month, day, hour, minute, second, micro = parts
    text = f"{year}-{month}-{day}T{hour}:{minute}:{second}.{micro}{end}"
    assert stored_stamp(text) == reference_stored_stamp(text)


@settings(max_examples=500, deadline=None)
@given(STAMPS)
def test_a_stored_time_of_a_real_moment_is_what_datetime_makes_of_it(moment):
    text = moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    assert stored_stamp(text) == reference_stored_stamp(text)


# -- every index serves a query the tool makes ---------------------------------------------------


def _plans(conn: sqlite3.Connection, statements: list[str]) -> str:
    plans = []
    for sql in statements:
        head = sql.lstrip().split(None, 1)[0].upper()
        if head not in ("SELECT", "WITH", "UPDATE", "DELETE", "INSERT"):
            continue
        try:
            plans += [row[-1] for row in conn.execute(f"EXPLAIN QUERY PLAN {sql}")]
        except sqlite3.Error:
            continue  # a statement of a temp table gone since, or one with parameters left unbound
    return "\n".join(plans)


def test_every_index_is_used_by_a_query_plan_of_the_tool(site_db):
    from audit.tabulate import tabulate_question

    path = site_db
    seen: list[str] = []
    with Store.open(path) as store:
        store.conn.set_trace_callback(seen.append)
        service = CaseService(store, "tester")
        cases = store.list_cases(limit=1000)
        some = cases[3]
        store.case(some.uuid)
        service.load(some.uuid)
        store.history(some.uuid)
        store.find_case(some.site, some.case_ref)
        copies_of(store, some.uuid)
        for order_by in Store.ORDER_KEYS:
            for returned_first in (False, True):
                page = store.case_page(order_by=order_by, returned_first=returned_first, limit=5)
                store.case_page(order_by=order_by, returned_first=returned_first, limit=5,
                                after=store.page_key(page[-1], order_by, returned_first=returned_first))
        for filters in ({"search": "sh"}, {"site": some.site}, {"status": "complete"}, {"deleted": True},
                        {"search": some.inspector or "x"}):
            store.case_page(**filters, limit=5)
            store.case_total(**filters)
        list(store.iter_answers(["age"], counted_only=True))
        tabulate_question(store, "age")  # a number question: its values are read from the question's index
        store.conn.set_trace_callback(None)
        plans = _plans(store.conn, seen)
        indexes = [name for name, kind in store.conn.execute(
            "SELECT name, type FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_autoindex_%'")]
    unused = [name for name in indexes if name not in plans]
    assert not unused, unused


def test_verify_names_answers_and_history_that_point_nowhere(site_db):
    path = site_db
    assert run_audit("upgrade", str(path)).returncode == 0
    assert run_audit("verify", str(path)).returncode == 0
    conn = sqlite3.connect(path)  # foreign keys off, as another program may leave them
    conn.execute("UPDATE answer_data SET question_key = 999999 WHERE (case_id, question_key) = "
                 "(SELECT case_id, question_key FROM answer_data LIMIT 1)")
    conn.execute("INSERT INTO history_data (case_id, field, changed_at, reason) VALUES (999999, 'case', "
                 "'2019-06-30T10:15:02.123456Z', 'import')")
    conn.commit()
    conn.close()
    result = run_audit("verify", str(path))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "answer(s) point to a case or question the file does not hold" in result.stderr
    assert "1 history row(s) point to a case or question the file does not hold" in result.stderr


@pytest.mark.parametrize("change", [
    "UPDATE cases SET uuid = uuid || char(10) WHERE id = (SELECT min(id) FROM cases)",  # a line break after a UUID
    "UPDATE cases SET updated_at = updated_at || char(10) WHERE id = (SELECT min(id) FROM cases)",
    "UPDATE answer_data SET answered_at = '２０１９-06-30T10:15:02.123456Z' "
    "WHERE (case_id, question_key) = (SELECT case_id, question_key FROM answer_data LIMIT 1)",
])
def test_verify_takes_a_uuid_or_time_only_whole_and_in_ascii(site_db, change):
    path = site_db
    assert run_audit("upgrade", str(path)).returncode == 0
    conn = sqlite3.connect(path)
    conn.execute(change)
    conn.commit()
    conn.close()
    result = run_audit("verify", str(path))
    assert result.returncode == 1 and "malformed" in result.stderr and "Traceback" not in result.stderr


def test_a_list_of_cases_is_read_through_its_order_s_index_and_breaks_ties_as_the_pages_do(site_db):
    """``list_cases`` broke ties on the UUID, which no index holds: every call sorted the whole table
    (the new-case screen's one most recent case, 46 ms at 100k cases), and tied cases came in
    another order than the case list's pages."""
    with Store.open(site_db) as store:
        for order_by in Store.ORDER_KEYS:
            for descending in (True, False):
                seen: list[str] = []
                store.conn.set_trace_callback(seen.append)
                store.list_cases(order_by=order_by, descending=descending, limit=1)
                store.conn.set_trace_callback(None)
                plan = _plans(store.conn, seen)
                assert "idx_cases_order_" in plan and "TEMP B-TREE" not in plan, (order_by, descending, plan)
        with store.transaction():
            store.conn.execute("UPDATE cases SET created_at = '2019-06-03T09:00:00.000000Z'")  # one tie for all
        total = store.case_count()
        for descending in (True, False):
            listed = [c.uuid for c in store.list_cases(order_by="created_at", descending=descending, limit=total)]
            paged = [c.uuid for c in store.case_page(order_by="created_at", descending=descending, limit=total)]
            assert listed == paged and len(listed) > 1
