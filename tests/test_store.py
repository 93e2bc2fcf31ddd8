"""The case store (audit/store.py) on real SQLite files."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import stat
import subprocess
from pathlib import Path

import pytest

import audit.schema as schema_module
from audit.store import (
    APPLICATION_ID,
    SCHEMA_VERSION,
    STATUS_COMPLETE,
    STATUS_IN_PROGRESS,
    Store,
    StoreError,
    decode,
    encode,
)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@pytest.fixture
def store(tmp_db_path):
    with Store.open(tmp_db_path, site="sheffield") as opened:
        yield opened


@pytest.fixture
def case(store, thematic_rubric):
    return store.create_case("T001", "sheffield", thematic_rubric, "jb")


def make_audit_db(path: Path, rubric, cases: int = 3) -> Path:
    with Store.open(path) as made:
        for index in range(cases):
            new = made.create_case(f"C{index:03d}", "sheffield", rubric, "jb")
            made.set_answer(new.uuid, "sentence_type", "community")
            made.set_answer(new.uuid, "rosh", "high")
    return path


# --- creating and opening -------------------------------------------------------------------


def test_a_new_file_is_mode_0600_even_with_a_permissive_umask(tmp_db_path, thematic_rubric):
    old = os.umask(0)
    try:
        opened = Store.open(tmp_db_path)
    finally:
        os.umask(old)
    try:
        new = opened.create_case("T1", "sheffield", thematic_rubric)
        opened.set_answer(new.uuid, "sentence_type", "community")
        assert mode(tmp_db_path) == 0o600
        sidecars = [Path(f"{tmp_db_path}{suffix}") for suffix in ("-wal", "-shm")]
        assert any(p.exists() for p in sidecars)  # WAL mode with an open connection
        for path in sidecars:
            if path.exists():
                assert mode(path) == 0o600, path
    finally:
        opened.close()


def test_wal_mode_busy_timeout_and_identity(store, tmp_db_path):
    assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.db.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    assert store.db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    assert store.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert store.meta("schema_version") == str(SCHEMA_VERSION)
    assert store.site == "sheffield"
    assert len(store.db_uuid) == 36
    with open(tmp_db_path, "rb") as handle:
        header = handle.read(20)
    assert header[18:20] == b"\x02\x02"  # the file itself says WAL, for every later reader


def test_reopening_keeps_everything(tmp_db_path, thematic_rubric):
    make_audit_db(tmp_db_path, thematic_rubric)
    with Store.open(tmp_db_path, create=False) as reopened:
        assert reopened.case_count() == 3
        first = reopened.list_cases(order_by="case_ref", descending=False)[0]
        assert reopened.answers(first.uuid) == {"sentence_type": "community", "rosh": "high"}
        assert reopened.integrity_ok()


def test_integrity_check_runs_on_open(tmp_db_path, thematic_rubric):
    """Two indexes whose pages are swapped read fine but fail integrity_check: refused. (Their SQL is
    untouched, so the schema allow-list has nothing to say; only the check finds it.)"""
    make_audit_db(tmp_db_path, thematic_rubric, cases=20)
    con = sqlite3.connect(tmp_db_path)
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    pages = dict(con.execute(
        "SELECT name, rootpage FROM sqlite_master WHERE name IN ('idx_cases_order_case_ref', 'idx_cases_order_updated_at')"
    ).fetchall())
    con.execute("PRAGMA writable_schema = ON")
    con.execute("UPDATE sqlite_master SET rootpage = ? WHERE name = 'idx_cases_order_case_ref'", [pages["idx_cases_order_updated_at"]])
    con.execute("UPDATE sqlite_master SET rootpage = ? WHERE name = 'idx_cases_order_updated_at'", [pages["idx_cases_order_case_ref"]])
    con.commit()
    con.close()
    before = sha256(tmp_db_path)
    with pytest.raises(StoreError, match=r"is corrupt \(integrity_check: .*\); restore it from a backup"):
        Store.open(tmp_db_path)
    assert sha256(tmp_db_path) == before
    with Store.open_read_only(tmp_db_path) as unchecked:  # only the check refused it
        assert unchecked.case_count() == 20


# --- refusals: the file is left exactly as it was --------------------------------------------


def _refused(path: Path, *fragments: str) -> None:
    folder = path.parent
    files_before = sorted(os.listdir(folder))
    digest = sha256(path)
    with pytest.raises(StoreError) as caught:
        Store.open(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, message
    assert sha256(path) == digest
    assert sorted(os.listdir(folder)) == files_before  # no -wal/-shm left beside it either


@contextlib.contextmanager
def read_only(path: Path):
    """Make a folder (or file) unwritable, as a read-only USB stick or share is; skip where we cannot.

    chmod does not stop root, so as root the immutable attribute is used instead.
    """
    if os.geteuid() == 0:
        if not shutil.which("chattr") or subprocess.run(["chattr", "+i", str(path)], capture_output=True).returncode:
            pytest.skip("cannot make a file read-only for root here (no chattr +i)")
        undo = lambda: subprocess.run(["chattr", "-i", str(path)], check=True)  # noqa: E731
    else:
        before = stat.S_IMODE(os.stat(path).st_mode)
        os.chmod(path, before & ~0o222)
        undo = lambda: os.chmod(path, before)  # noqa: E731
    try:
        probe = (path if path.is_dir() else path.parent) / ".probe"
        try:
            if path.is_dir():
                probe.touch()
            else:
                open(path, "ab").close()
        except OSError:
            pass
        else:
            probe.unlink(missing_ok=True)
            pytest.skip("the file system ignores read-only permissions here")
        yield path
    finally:
        undo()


def test_an_audit_db_in_a_read_only_folder_is_not_called_corrupt(tmp_path, thematic_rubric):
    folder = tmp_path / "stick"
    folder.mkdir()
    db = make_audit_db(folder / "site.db", thematic_rubric)
    with read_only(folder):
        listing, digest = sorted(os.listdir(folder)), sha256(db)
        with pytest.raises(StoreError) as caught:
            Store.open(db, create=False)
        message = str(caught.value)
        assert "corrupt" not in message and "restore" not in message, message
        assert "folder" in message and "\n" not in message, message
        assert sorted(os.listdir(folder)) == listing and sha256(db) == digest


def test_an_answer_to_a_read_only_file_is_refused_in_one_line(tmp_path, thematic_rubric):
    db = make_audit_db(tmp_path / "site.db", thematic_rubric, cases=1)
    with read_only(db):
        digest = sha256(db)
        with Store.open(db, create=False) as reader:  # reading a read-only file is fine
            case = reader.list_cases()[0]
            with pytest.raises(StoreError) as caught:
                reader.set_answer(case.uuid, "lead_agency", "crc")
            assert not reader.db.conn.in_transaction
        message = str(caught.value)
        assert message.startswith(f"{db}: ") and "read-only" in message and "\n" not in message, message
        assert sha256(db) == digest


def test_random_bytes_are_refused(tmp_path):
    path = tmp_path / "random.db"
    path.write_bytes(os.urandom(8192).replace(b"SQLite", b"sqlite"))
    _refused(path, "is not an audit database (not an SQLite file, or damaged beyond reading); check the path")


def test_random_bytes_behind_an_sqlite_header_are_refused(tmp_path):
    path = tmp_path / "fake.db"
    path.write_bytes(b"SQLite format 3\x00" + os.urandom(8192))
    _refused(path, "restore it from a backup")


def test_an_empty_file_is_refused(tmp_path):
    path = tmp_path / "empty.db"
    path.write_bytes(b"")
    _refused(path, "is an empty file, not an audit database; delete it or choose another path")


@pytest.mark.parametrize("keep", [50, 200, 4096, 0.5, -4096], ids=["50B", "200B", "one-page", "half", "last-page-missing"])
def test_a_truncated_audit_db_is_refused(tmp_path, thematic_rubric, keep):
    whole = make_audit_db(tmp_path / "whole.db", thematic_rubric, cases=40).read_bytes()
    size = int(len(whole) * keep) if isinstance(keep, float) else keep if keep > 0 else len(whole) + keep
    path = tmp_path / "truncated.db"
    path.write_bytes(whole[:size])
    _refused(path, "restore it from a backup")


def test_an_sqlite_db_from_another_program_is_refused(tmp_path):
    for journal in ("delete", "wal"):
        path = tmp_path / f"other-{journal}.db"
        con = sqlite3.connect(path)
        con.execute(f"PRAGMA journal_mode = {journal}")
        con.execute("CREATE TABLE meta (key TEXT, value TEXT)")  # even one with a table called meta
        con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
        con.commit()
        con.close()
        _refused(path, "is an SQLite database from another program, not an audit database; check the path")


def test_a_db_from_a_newer_audit_is_refused(tmp_path, thematic_rubric):
    path = make_audit_db(tmp_path / "newer.db", thematic_rubric)
    con = sqlite3.connect(path)
    con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION + 1)])
    con.commit()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    _refused(path, f"was written by a newer audit (schema {SCHEMA_VERSION + 1}; this version reads up to {SCHEMA_VERSION}); upgrade audit to open it")


def test_a_db_without_a_schema_version_is_refused(tmp_path, thematic_rubric):
    path = make_audit_db(tmp_path / "noversion.db", thematic_rubric)
    con = sqlite3.connect(path)
    con.execute("DELETE FROM meta WHERE key = 'schema_version'")
    con.commit()
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    _refused(path, "has no schema version")


def test_a_corrupted_page_is_refused(tmp_path, thematic_rubric):
    path = make_audit_db(tmp_path / "corrupt.db", thematic_rubric, cases=40)
    con = sqlite3.connect(path)
    root = con.execute("SELECT rootpage FROM sqlite_master WHERE name = 'answers'").fetchone()[0]
    page_size = con.execute("PRAGMA page_size").fetchone()[0]
    con.close()
    data = bytearray(path.read_bytes())
    offset = (root - 1) * page_size
    data[offset : offset + 12] = b"\xff" * 12  # the b-tree page header of the answers table
    path.write_bytes(bytes(data))
    _refused(path, "is corrupt", "restore it from a backup")


def test_a_folder_is_refused(tmp_path):
    before = sorted(os.listdir(tmp_path))
    with pytest.raises(StoreError, match="is a folder; give the path of a database file"):
        Store.open(tmp_path)
    assert sorted(os.listdir(tmp_path)) == before


def test_a_missing_parent_folder_is_refused_and_not_created(tmp_path):
    path = tmp_path / "no" / "such" / "audit.db"
    with pytest.raises(StoreError, match="folder .* does not exist; create it first"):
        Store.open(path)
    assert not (tmp_path / "no").exists()


def test_a_missing_file_is_refused_when_creating_is_not_allowed(tmp_db_path):
    with pytest.raises(StoreError, match="does not exist; check the path"):
        Store.open(tmp_db_path, create=False)
    assert not tmp_db_path.exists()


# --- migrations -------------------------------------------------------------------------------


def test_an_older_schema_is_migrated_on_open(tmp_db_path, thematic_rubric, monkeypatch):
    """Fake a next schema version: a file at the current version must be brought up to it, once."""
    make_audit_db(tmp_db_path, thematic_rubric)
    applied = []

    def migration_next(conn):
        applied.append(1)
        conn.execute("CREATE TABLE site_notes (id INTEGER PRIMARY KEY, text TEXT)")

    monkeypatch.setattr(schema_module, "MIGRATIONS", [*schema_module.MIGRATIONS, migration_next])
    monkeypatch.setattr(schema_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    schema_module.expected_objects.cache_clear()
    with Store.open(tmp_db_path) as migrated:
        assert migrated.meta("schema_version") == str(SCHEMA_VERSION + 1)
        assert migrated.db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
        assert "site_notes" in migrated.db.table_names()
        assert migrated.case_count() == 3
    with Store.open(tmp_db_path):
        pass
    assert applied == [1, 1]  # once to upgrade, once to learn the allow-list of the new version; not again
    schema_module.expected_objects.cache_clear()


def test_a_failed_migration_changes_nothing_and_is_refused(tmp_db_path, thematic_rubric, monkeypatch):
    make_audit_db(tmp_db_path, thematic_rubric)

    def migration_broken(conn):
        conn.execute("CREATE TABLE half_done (id INTEGER PRIMARY KEY)")
        conn.execute("ALTER TABLE no_such_table ADD COLUMN x TEXT")

    monkeypatch.setattr(schema_module, "MIGRATIONS", [*schema_module.MIGRATIONS, migration_broken])
    monkeypatch.setattr(schema_module, "SCHEMA_VERSION", SCHEMA_VERSION + 1)
    with pytest.raises(StoreError, match=f"cannot be upgraded to schema {SCHEMA_VERSION + 1} .*nothing was changed"):
        Store.open(tmp_db_path)
    monkeypatch.undo()
    with Store.open(tmp_db_path) as unchanged:
        assert unchanged.meta("schema_version") == str(SCHEMA_VERSION)
        assert "half_done" not in unchanged.db.table_names()
        assert unchanged.case_count() == 3


def test_schema_version_zero_does_not_exist(tmp_db_path):
    """Migration 1 creates the meta table itself, so no real file is at version 0.

    A file that claims version 0 (ours, with a meta table) is refused with a
    message, and not left half-migrated.
    """
    con = sqlite3.connect(tmp_db_path)
    con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    con.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
    con.execute("INSERT INTO meta VALUES ('schema_version', '0')")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="has no schema version"):
        Store.open(tmp_db_path)
    con = sqlite3.connect(tmp_db_path)
    assert [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")] == ["meta"]
    con.close()


# --- answers ----------------------------------------------------------------------------------


def test_each_answer_is_committed_when_given(store, case, tmp_db_path):
    store.set_answer(case.uuid, "sentence_type", "Community sentence")  # a label is accepted
    store.set_answer(case.uuid, "assessment_completed", "yes")
    store.set_answer(case.uuid, "factors", "drugs; Thinking and behaviour")
    other = sqlite3.connect(tmp_db_path)  # a second connection: sees committed data only
    try:
        rows = dict(other.execute("SELECT question_id, value FROM answers WHERE case_uuid = ?", [case.uuid]).fetchall())
    finally:
        other.close()
    assert json.loads(rows["sentence_type"]) == "community"
    assert json.loads(rows["factors"]) == ["thinking", "drugs"]  # in rubric order
    assert not store.db.conn.in_transaction


def _committed_answers(path: Path, case_uuid: str) -> set[str]:
    other = sqlite3.connect(path)  # a second connection: sees committed data only
    try:
        return {r[0] for r in other.execute("SELECT question_id FROM answers WHERE case_uuid = ?", [case_uuid])}
    finally:
        other.close()


def test_an_answer_is_committed_after_reads_that_wrote_temp_tables(store, case, tmp_db_path):
    # Tabulation fills a TEMP table through the store's raw connection, outside
    # any store transaction; the implicit transaction that opens must not
    # silently swallow the next answers as savepoints of it.
    conn = store.db.conn
    conn.execute("CREATE TEMP TABLE scratch (case_uuid TEXT)")
    conn.execute("INSERT INTO temp.scratch SELECT uuid FROM cases")
    conn.execute("DROP TABLE temp.scratch")
    store.set_answer(case.uuid, "sentence_type", "community")
    assert "sentence_type" in _committed_answers(tmp_db_path, case.uuid)
    assert not store.db.conn.in_transaction


def test_a_failed_commit_leaves_no_transaction_open(store, case, tmp_db_path):
    # COMMIT can fail (a lock, a full disk, here a deferred constraint); the
    # store must not stay inside that transaction, or every later answer
    # would become a savepoint of it and never be committed.
    store.db.execute("PRAGMA defer_foreign_keys = ON")
    with pytest.raises(sqlite3.IntegrityError):
        with store.transaction():
            store.db.execute(
                "INSERT INTO history_data (case_id, field, changed_at, reason) VALUES (-1, 'case', 'now', 'no such case')"
            )
    assert not store.db.conn.in_transaction
    store.db.execute("PRAGMA defer_foreign_keys = OFF")
    store.set_answer(case.uuid, "sentence_type", "community")
    assert "sentence_type" in _committed_answers(tmp_db_path, case.uuid)


@pytest.mark.parametrize(
    ("qid", "typed", "stored", "shown"),
    [
        ("rosh", " Very High ", "very_high", "Very high"),
        ("rosh", "MEDIUM", "medium", "Medium"),
        ("planning_safety", "Not applicable", "na", "Not applicable"),
        ("factors", "Drug misuse;attitudes; ;", ["attitudes", "drugs"], "Attitudes to offending; Drug misuse"),
        ("factors", ["ete", "ETE", "Accommodation"], ["ete", "accommodation"], "Education, training and employment; Accommodation"),
        ("age", " 23 ", 23, "23"),
        ("age", "23.0", 23, "23"),
        ("previous_convictions", "0", 0, "0"),
        ("sentence_type", "post_release", "post_release", "Post-release supervision"),
    ],
)
def test_set_answer_accepts_what_people_type(store, case, qid, typed, stored, shown):
    from audit.values import display

    store.set_answer(case.uuid, "sentence_type", "community")
    store.set_answer(case.uuid, "assessment_completed", "yes")
    store.set_answer(case.uuid, qid, typed)
    assert store.answers(case.uuid)[qid] == stored
    assert display(store.rubric_for(case).question(qid), stored) == shown


@pytest.mark.parametrize(
    ("qid", "typed", "reason"),
    [
        ("age", "twenty", "'twenty' is not a whole number"),
        ("age", 23.5, "is not a whole number"),
        ("age", True, "expected a whole number, got True"),
        ("previous_convictions", "-1", "-1 is out of range 0-500"),
        ("factors", "drugs, ete", "'drugs, ete' is not an option code or label"),
        ("rosh", 3, "3 is not an option; use one of low, medium, high, very_high"),
        ("planning_safety", "N/A", "'N/A' is not an option code or label; use one of yes, no, na"),
    ],
)
def test_set_answer_refuses_what_does_not_fit(store, case, qid, typed, reason):
    with pytest.raises(StoreError) as caught:
        store.set_answer(case.uuid, qid, typed)
    assert str(caught.value).startswith(f"question '{qid}': ")
    assert reason in str(caught.value)
    assert store.answer_rows(case.uuid) == {}


def test_bad_values_are_refused_and_nothing_is_written(store, case):
    with pytest.raises(StoreError, match="question 'age': 500 is out of range 10-120"):
        store.set_answer(case.uuid, "age", 500)
    with pytest.raises(StoreError, match="question 'nope' is not in rubric iom-thematic-2019"):
        store.set_answer(case.uuid, "nope", "yes")
    with pytest.raises(StoreError, match="question 'rosh': 'severe' is not an option code or label"):
        store.set_answer(case.uuid, "rosh", "severe")
    assert store.answer_rows(case.uuid) == {}
    assert [h["field"] for h in store.history(case.uuid)] == ["case"]


def test_history_records_old_and_new_values(store, case):
    store.set_answer(case.uuid, "lead_agency", "crc", who="jb")
    store.set_answer(case.uuid, "lead_agency", "crc", who="jb")  # unchanged: no history row
    store.set_answer(case.uuid, "lead_agency", "nps", who="ak")
    store.set_answer(case.uuid, "lead_agency", None, who="ak")  # cleared
    values = [(h["old_value"], h["new_value"], h["changed_by"]) for h in store.history(case.uuid) if h["field"] == "value"]
    assert values == [(None, '"crc"', "jb"), ('"crc"', '"nps"', "ak"), ('"nps"', None, "ak")]
    assert store.answers(case.uuid) == {}


def test_answers_that_stop_applying_are_retired_kept_and_never_counted(store, case):
    store.set_answer(case.uuid, "sentence_type", "community")
    store.set_answer(case.uuid, "rosh", "high")
    store.set_answer(case.uuid, "planning_safety", "yes")
    store.set_answer(case.uuid, "lead_agency", "police")
    assert store.preview_answer(case.uuid, "sentence_type", "non_statutory") == ["rosh", "planning_safety"]
    result = store.set_answer(case.uuid, "sentence_type", "non_statutory")
    assert result.retired == ["rosh", "planning_safety"]
    rows = store.answer_rows(case.uuid)
    for qid in ("rosh", "planning_safety"):
        assert rows[qid]["state"] == "retired" and rows[qid]["counted"] is False and rows[qid]["applies"] is False
    assert rows["rosh"]["value"] == "high"  # kept
    assert rows["lead_agency"] == {**rows["lead_agency"], "state": "current", "counted": True, "applies": True}
    assert store.answers(case.uuid) == {"sentence_type": "non_statutory", "lead_agency": "police"}
    retirements = [(h["question_id"], h["old_value"], h["new_value"], h["reason"]) for h in store.history(case.uuid) if h["field"] == "state"]
    assert retirements == [("rosh", "current", "retired", "stopped applying"), ("planning_safety", "current", "retired", "stopped applying")]
    assert {qid for _, qid, _ in store.iter_answers(["rosh", "planning_safety", "lead_agency"])} == {"lead_agency"}
    # applying again does not bring a retired answer back by itself: the inspector answers again
    store.set_answer(case.uuid, "sentence_type", "community")
    assert "rosh" not in store.answers(case.uuid)
    store.set_answer(case.uuid, "rosh", "medium")
    assert store.answer_rows(case.uuid)["rosh"]["state"] == "current"
    assert store.answer_rows(case.uuid)["rosh"]["counted"] is True


def test_counted_is_the_counting_modules_verdict(store, case):
    store.set_answer(case.uuid, "sentence_type", "community")
    store.set_answer(case.uuid, "planning_safety", "na")
    store.set_answer(case.uuid, "delivery_safety", "no")
    rows = store.answer_rows(case.uuid)
    assert rows["planning_safety"]["counted"] is False and rows["planning_safety"]["applies"] is True
    assert rows["delivery_safety"]["counted"] is True
    counted = {(qid, value) for _, qid, value in store.iter_answers(["planning_safety", "delivery_safety"])}
    assert counted == {("delivery_safety", "no")}
    seen = {(qid, value) for _, qid, value in store.iter_answers(["planning_safety", "delivery_safety"], counted_only=False)}
    assert seen == {("planning_safety", "na"), ("delivery_safety", "no")}
    fresh = store.case(case.uuid)
    assert fresh.answered_count == 3
    assert fresh.applicable_count == len(store.evaluation(case.uuid).applicable)


NON_STATUTORY_COMPLETE = {
    "sentence_type": "non_statutory",
    "lead_agency": "police",
    "lead_professional": "yes",
    "domestic_abuse": "no",
    "assessment_completed": "no",
    "complied": "yes",
    "deselected": "no",
}


def test_complete_is_refused_with_required_gaps_and_allowed_without(store, case):
    for qid, value in list(NON_STATUTORY_COMPLETE.items())[:-1]:
        store.set_answer(case.uuid, qid, value)
    with pytest.raises(StoreError, match=r"case T001 cannot be marked complete: 1 required question\(s\) unanswered: deselected"):
        store.set_status(case.uuid, STATUS_COMPLETE)
    assert store.case(case.uuid).status == STATUS_IN_PROGRESS
    store.set_answer(case.uuid, "deselected", "no")
    assert store.set_status(case.uuid, STATUS_COMPLETE).status == STATUS_COMPLETE
    # a complete case is read-only until it is reopened
    with pytest.raises(StoreError, match="case T001 is complete: its answers are read-only; reopen it"):
        store.set_answer(case.uuid, "deselected", "yes")
    assert store.set_status(case.uuid, STATUS_IN_PROGRESS).status == STATUS_IN_PROGRESS  # reopen
    store.set_answer(case.uuid, "deselected", "yes")
    with pytest.raises(StoreError, match="1 required question"):
        store.set_status(case.uuid, STATUS_COMPLETE)
    store.set_answer(case.uuid, "exit_strategy", "yes")
    store.set_status(case.uuid, STATUS_COMPLETE)
    statuses = [(h["old_value"], h["new_value"], h["reason"]) for h in store.history(case.uuid) if h["field"] == "status"]
    assert statuses == [
        ("in_progress", "complete", "status"),
        ("complete", "in_progress", "status"),
        ("in_progress", "complete", "status"),
    ]
    with pytest.raises(StoreError, match="status 'done' is not one of in_progress, complete"):
        store.set_status(case.uuid, "done")


def test_missing_required_are_listed_at_most_five(store, case):
    with pytest.raises(StoreError, match=r"\d+ required question\(s\) unanswered: sentence_type, lead_agency, lead_professional, domestic_abuse, assessment_completed and \d+ more"):
        store.set_status(case.uuid, STATUS_COMPLETE)


def test_notes_are_saved_with_history(store, case):
    store.set_note(case.uuid, "rosh", "  see OASys 12/03  ", who="jb")
    assert store.answer_rows(case.uuid)["rosh"]["note"] == "see OASys 12/03"
    assert store.answers(case.uuid) == {}  # a note is not an answer
    store.set_note(case.uuid, "rosh", "see OASys 12/03", who="jb")  # unchanged: no history
    store.set_note(case.uuid, "rosh", "", who="ak")  # cleared
    store.set_note(case.uuid, "age", None)  # nothing to clear: nothing written
    notes = [(h["question_id"], h["old_value"], h["new_value"]) for h in store.history(case.uuid) if h["field"] == "note"]
    assert notes == [("rosh", None, "see OASys 12/03"), ("rosh", "see OASys 12/03", None)]
    assert "age" not in store.answer_rows(case.uuid)
    with pytest.raises(StoreError, match="question 'nope' is not in rubric"):
        store.set_note(case.uuid, "nope", "x")
    store.set_answer(case.uuid, "sentence_type", "community")
    store.set_note(case.uuid, "sentence_type", "from the PSR")
    assert store.answer_rows(case.uuid)["sentence_type"]["value"] == "community"


# --- cases ------------------------------------------------------------------------------------


def test_a_duplicate_case_ref_at_a_site_is_refused(store, case, thematic_rubric):
    with pytest.raises(StoreError, match="case_ref 'T001' already exists at site 'sheffield'"):
        store.create_case(" T001 ", "sheffield", thematic_rubric)
    other_site = store.create_case("T001", "surrey", thematic_rubric)
    assert other_site.site == "surrey"
    with pytest.raises(StoreError, match="case_ref is empty"):
        store.create_case("  ", "sheffield", thematic_rubric)
    with pytest.raises(StoreError, match="site is empty"):
        store.create_case("T9", "", thematic_rubric)
    assert store.case_count() == 2


def test_list_cases_pages_filters_and_sorts_in_sql(store, thematic_rubric):
    made = []
    for index in range(25):
        site = "sheffield" if index % 2 == 0 else "surrey"
        made.append(store.create_case(f"R{index:02d}", site, thematic_rubric, inspector="jb" if index < 5 else "ak"))
    store.set_answer(made[3].uuid, "lead_agency", "crc")  # most recently updated
    pages = [store.list_cases(limit=10, offset=offset) for offset in (0, 10, 20)]
    assert [len(page) for page in pages] == [10, 10, 5]
    assert len({c.uuid for page in pages for c in page}) == 25
    assert pages[0][0].case_ref == "R03"  # newest first by default
    by_ref = store.list_cases(order_by="case_ref", descending=False, limit=100)
    assert [c.case_ref for c in by_ref] == [f"R{i:02d}" for i in range(25)]
    assert [c.case_ref for c in store.list_cases(order_by="case_ref", limit=3)] == ["R24", "R23", "R22"]
    assert {c.site for c in store.list_cases(site="surrey", limit=100)} == {"surrey"}
    assert store.case_count(site="surrey") == 12
    assert store.case_count(search="R1") == 10
    assert store.case_count(search="jb") == 5  # inspector
    assert store.case_count(search="R1", site="sheffield") == 5
    assert store.case_count(status=STATUS_COMPLETE) == 0
    assert store.list_cases(order_by="progress", limit=1)[0].case_ref == "R03"
    assert store.sites() == ["sheffield", "surrey"]
    with pytest.raises(StoreError, match="cannot sort by 'uuid; DROP TABLE cases'"):
        store.list_cases(order_by="uuid; DROP TABLE cases")
    assert store.case_count() == 25


def test_answers_readable_view_shows_labels(tmp_db_path, thematic_rubric):
    with Store.open(tmp_db_path) as opened:
        new = opened.create_case("V1", "sheffield", thematic_rubric, "jb")
        for qid, value in [("sentence_type", "post_release"), ("assessment_completed", "yes"), ("factors", ["drugs", "thinking"]),
                           ("age", 23), ("planning_safety", "na")]:
            opened.set_answer(new.uuid, qid, value)
        opened.set_note(new.uuid, "age", "from PNC")
        opened.set_answer(new.uuid, "assessment_completed", "no")  # retires factors
    con = sqlite3.connect(tmp_db_path)  # the standard library, as a Datasette or sqlite3 user would
    con.row_factory = sqlite3.Row
    try:
        rows = {r["question_id"]: dict(r) for r in con.execute("SELECT * FROM answers_readable WHERE case_ref = 'V1'")}
    finally:
        con.close()
    assert rows["sentence_type"]["answer"] == "Post-release supervision"
    assert rows["sentence_type"]["answer_code"] == '"post_release"'
    assert rows["sentence_type"]["question"] == "What type of sentence or supervision is the service user subject to?"
    assert rows["sentence_type"]["section"] == "The case"
    assert rows["factors"]["answer"] == "Thinking and behaviour; Drug misuse"
    assert (rows["factors"]["state"], rows["factors"]["counted"], rows["factors"]["applies"]) == ("retired", 0, 0)
    assert rows["age"]["answer"] == 23 and rows["age"]["note"] == "from PNC"
    assert rows["planning_safety"]["answer"] == "Not applicable"
    assert (rows["planning_safety"]["applies"], rows["planning_safety"]["counted"]) == (1, 0)
    assert rows["assessment_completed"]["answer"] == "No"
    assert {r["site"] for r in rows.values()} == {"sheffield"}


def test_encode_and_decode_round_trip():
    for value in [None, "yes", ["a", "b"], 23, "caf\u00e9", "=cmd()"]:
        assert decode(encode(value)) == value
    assert encode("caf\u00e9") == '"caf\u00e9"'  # readable in the file, not \\u-escaped


def test_the_rubric_travels_with_the_database(tmp_db_path, thematic_rubric):
    make_audit_db(tmp_db_path, thematic_rubric, cases=1)
    with Store.open(tmp_db_path) as reopened:
        (stored,) = reopened.rubrics()
        assert stored["sha256"] == thematic_rubric.sha256
        assert reopened.rubric(stored["sha256"]).question_ids == thematic_rubric.question_ids
        questions = reopened.db.execute("SELECT count(*) FROM questions").fetchone()[0]
        assert questions == len(thematic_rubric.question_ids)


# --- in memory --------------------------------------------------------------------------------


def test_store_memory_is_a_full_store_without_a_file(thematic_rubric, tmp_path):
    with Store.memory(site="surrey") as memory:
        assert memory.path is None
        assert memory.site == "surrey"
        new = memory.create_case("M1", "surrey", thematic_rubric)
        memory.set_answer(new.uuid, "sentence_type", "non_statutory")
        assert memory.evaluation(new.uuid).applies("lead_agency")
        assert not memory.evaluation(new.uuid).applies("rosh")
        assert memory.case(new.uuid).answered_count == 1
    assert os.listdir(tmp_path) == []


def test_docs_database_md_names_every_table_and_view_column(tmp_db_path):
    """docs/database.md is how people read the file without the tool: it must not drift from the schema."""
    doc = (Path(__file__).resolve().parent.parent / "docs" / "database.md").read_text(encoding="utf-8")
    with Store.open(tmp_db_path) as opened:
        tables = opened.db.table_names()
        columns = {table: [c.name for c in opened.db[table].columns] for table in tables}
        view = [c.name for c in opened.db["answers_readable"].columns]
    for table in tables:
        assert f"`{table}`" in doc, table
        for column in columns[table]:
            assert f"`{column}`" in doc, f"{table}.{column}"
    for column in view:
        assert f"`{column}`" in doc, f"answers_readable.{column}"


def test_an_answer_to_a_question_that_does_not_apply_is_refused(store, case):
    store.set_answer(case.uuid, "sentence_type", "non_statutory")
    with pytest.raises(StoreError, match=r"question 'age' does not apply to case T001 \(rule `sentence_type != \"non_statutory\"` is not true\)"):
        store.set_answer(case.uuid, "age", 30)
    assert "age" not in store.answer_rows(case.uuid)
    store.set_answer(case.uuid, "age", None)  # clearing is always allowed
