"""The cheap no-op merge: a source TARGET merged before, unchanged since, is recognised by its
watermark (db_uuid and change token, recorded in TARGET's merges table) and not read again.

On real files. The source is untrusted: a forged source that keeps an old token is skipped whole
(nothing of it reaches TARGET), and one with a new token is read and checked in full.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from audit import merge as merge_module
from audit import schema
from audit.backup import backup_database
from audit.cases import CaseService
from audit.cli import main
from audit.errors import Problems
from audit.merge import merge_databases
from audit.store import Store
from tests.test_merge import BASE, answer_rows, dump, make_db, new_case, run_sql, sha256


def token(path: Path) -> str:
    conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT value FROM meta WHERE key = 'change_id'").fetchone()[0]
    finally:
        conn.close()


def watermarks(path: Path) -> list[tuple]:
    conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute("SELECT source_db_uuid, source_change FROM merges ORDER BY id").fetchall()
    finally:
        conn.close()


@pytest.fixture
def sites(tmp_path, thematic_rubric):
    a = make_db(tmp_path / "sheffield.db", [new_case(thematic_rubric, f"S{i}", "sheffield", BASE) for i in range(3)],
                site="sheffield")
    b = make_db(tmp_path / "surrey.db", [new_case(thematic_rubric, f"Y{i}", "surrey", BASE) for i in range(3)],
                site="surrey")
    return a, b


def first_uuid(path: Path) -> str:
    with Store.open(path, create=False) as store:
        return store.list_cases(limit=1)[0].uuid


def test_a_merge_records_each_sources_token_and_an_unchanged_source_is_not_read_again(tmp_path, sites, capsys):
    target = tmp_path / "national.db"
    merge_databases(target, list(sites))
    with Store.open(sites[0], create=False) as a, Store.open(sites[1], create=False) as b:
        assert watermarks(target) == [(a.db_uuid, token(sites[0])), (b.db_uuid, token(sites[1]))]
    before, file_before = dump(target), sha256(target)
    result = merge_databases(target, list(sites))
    assert not result.changed and result.backup is None
    assert [(s.cases, s.added, s.unchanged, s.updated) for s in result.sources] == [(3, 0, 3, 0)] * 2
    assert all(s.merged_before for s in result.sources)
    assert dump(target) == before and sha256(target) == file_before
    assert main(["merge", str(target), *map(str, sites)]) == 0
    out = capsys.readouterr().out
    assert f"{sites[0]}: unchanged since {target} merged it" in out and "not read again" in out


def test_a_forged_source_that_keeps_its_old_token_is_skipped_whole_and_nothing_of_it_is_written(tmp_path, sites):
    target = tmp_path / "national.db"
    merge_databases(target, list(sites))
    before = dump(target)
    # altered outside the tool: a value no rubric accepts, the token left as it was
    run_sql(sites[0], "UPDATE answer_data SET value = '\"bogus\"' WHERE question_key = (SELECT id FROM question_keys WHERE question_id = 'complied')")
    result = merge_databases(target, list(sites))
    assert not result.changed and result.sources[0].merged_before
    assert dump(target) == before  # the forged answers never reached TARGET
    with pytest.raises(Problems, match="bogus|complied"):  # read in full, it is refused
        merge_databases(target, list(sites), reread=True)
    assert dump(target) == before


def test_a_forged_source_with_a_new_token_is_checked_in_full_and_refused(tmp_path, sites):
    target = tmp_path / "national.db"
    merge_databases(target, list(sites))
    before = dump(target)
    run_sql(sites[0], "UPDATE answer_data SET value = '\"bogus\"' WHERE question_key = (SELECT id FROM question_keys WHERE question_id = 'complied')")
    run_sql(sites[0], f"UPDATE meta SET value = '{schema.new_change_id()}' WHERE key = 'change_id'")
    with pytest.raises(Problems, match="complied"):
        merge_databases(target, list(sites))
    assert dump(target) == before
    # a token of another form is no watermark: read in full too
    run_sql(sites[0], "UPDATE meta SET value = 'x' WHERE key = 'change_id'")
    with pytest.raises(Problems, match="complied"):
        merge_databases(target, list(sites))


def test_a_source_changed_through_the_tool_is_merged_by_case_and_its_new_token_recorded(tmp_path, sites):
    target = tmp_path / "national.db"
    merge_databases(target, list(sites))
    old = token(sites[0])
    uuid = first_uuid(sites[0])
    with Store.open(sites[0], create=False) as store:
        CaseService(store, who="kl").answer(uuid, "complied", "no")
    assert token(sites[0]) != old
    result = merge_databases(target, list(sites))
    assert result.changed
    assert [(s.added, s.unchanged, s.updated, bool(s.merged_before)) for s in result.sources] == [
        (0, 2, 1, False), (0, 3, 0, True)]
    assert ("complied" in {q for u, q, v, *_ in answer_rows(target) if u == uuid and v == '"no"'})
    assert watermarks(target)[-1][1] == token(sites[0])
    again = merge_databases(target, list(sites))
    assert not again.changed and all(s.merged_before for s in again.sources)


def test_two_copies_of_one_file_that_changed_apart_are_both_merged(tmp_path, sites):
    """A copy keeps the db_uuid and token; each copy's first change gives it a token of its own."""
    a = sites[0]
    copy = backup_database(a, tmp_path / "sheffield-laptop2.db")
    assert token(copy) == token(a)
    uuid = first_uuid(a)
    with Store.open(a, create=False) as store:
        CaseService(store, who="jb").answer(uuid, "complied", "no")
    with Store.open(copy, create=False) as store:
        CaseService(store, who="kl").note(uuid, "complied", "seen on file")
    assert len({token(a), token(copy)}) == 2
    target = tmp_path / "national.db"
    merge_databases(target, [a, copy])
    rows = {(u, q): (v, n) for u, q, v, n, *_ in answer_rows(target)}
    assert rows[(uuid, "complied")] == ('"no"', "seen on file")  # both copies' changes arrived
    again = merge_databases(target, [copy, a])
    assert not again.changed and all(s.merged_before for s in again.sources)


def test_every_write_renews_the_token_and_reads_do_not(tmp_path, thematic_rubric):
    path = make_db(tmp_path / "site.db", [new_case(thematic_rubric, "S1", "sheffield", BASE)], site="sheffield")
    seen = {token(path)}

    def renewed() -> bool:
        now = token(path)
        fresh = now not in seen
        seen.add(now)
        return fresh

    uuid = first_uuid(path)
    with Store.open(path, create=False) as store:
        service = CaseService(store, who="jb")
        service.answer(uuid, "complied", "no")
        assert renewed()
        service.note(uuid, "complied", "a note")
        assert renewed()
        service.delete_case(uuid, "entered twice")
        assert renewed()
        service.restore_case(uuid)
        assert renewed()
        case = service.create_case("S2", "sheffield", thematic_rubric, "jb")
        assert renewed() and case.uuid
        with store.transaction():  # a transaction that changes no row
            store.conn.execute("SELECT count(*) FROM answers").fetchone()
        assert not renewed()
        store.list_cases(limit=10)
    assert not renewed()
    assert main(["tabulate", str(path), "complied"]) == 0
    assert not renewed()


def test_the_token_recorded_is_the_one_of_the_snapshot_merged(tmp_path, sites, monkeypatch):
    """The site's UI writes between the merge's checks and its read: the later answer and its token
    are merged together, so the watermark never claims an answer TARGET lacks."""
    target = tmp_path / "national.db"
    uuid = first_uuid(sites[0])
    checked = merge_module.check_inputs

    def check_then_write(*args, **kwargs):
        found = checked(*args, **kwargs)
        with Store.open(sites[0], create=False) as store:  # another connection: the site's UI
            CaseService(store, who="kl").answer(uuid, "complied", "no")
        return found

    monkeypatch.setattr(merge_module, "check_inputs", check_then_write)
    merge_databases(target, list(sites))
    monkeypatch.undo()
    assert watermarks(target)[0][1] == token(sites[0])
    assert ('"no"',) == tuple(v for u, q, v, *_ in answer_rows(target) if u == uuid and q == "complied")


def test_a_schema_2_file_is_upgraded_with_a_token_and_merges_as_before(tmp_path, thematic_rubric):
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute(f"PRAGMA application_id = {schema.APPLICATION_ID}")
    conn.execute("BEGIN")
    for migration in schema.MIGRATIONS[:2]:
        migration(conn)
    conn.executemany("INSERT INTO meta VALUES (?, ?)", [("schema_version", "2"), ("db_uuid", "old-file"),
                                                          ("counting_version", "1"), ("app", "audit")])
    conn.execute("INSERT INTO merges (merged_at, source_path, source_db_uuid) VALUES ('2026-01-01', 'x.db', 'x')")
    conn.execute("PRAGMA user_version = 2")
    conn.execute("COMMIT")
    conn.close()
    with Store.open(path, create=False) as store:
        assert store.meta("schema_version") == str(schema.SCHEMA_VERSION)
        assert len(store.meta("change_id") or "") == 32
        assert store.conn.execute("SELECT source_path, source_change FROM merges").fetchall() == [("x.db", None)]


def test_audit_merge_reread_reads_a_source_changed_outside_the_tool(tmp_path, sites, capsys):
    """A note written with the sqlite3 shell keeps the file's old token: the plain merge says the file
    was not read again and how to read it, and ``--reread`` reads it, checks it and merges the note."""
    target = tmp_path / "national.db"
    assert main(["merge", str(target), *map(str, sites)]) == 0
    capsys.readouterr()
    uuid = first_uuid(sites[0])
    run_sql(sites[0], "UPDATE answer_data SET note = 'written in the shell' WHERE case_id = "
                      f"(SELECT id FROM cases WHERE uuid = '{uuid}') AND question_key = "
                      "(SELECT id FROM question_keys WHERE question_id = 'complied')")

    def note_in_target() -> str | None:
        with Store.open(target, create=False) as store:
            return store.answer_rows(uuid)["complied"]["note"]

    assert main(["merge", str(target), *map(str, sites)]) == 0
    out = capsys.readouterr().out
    assert "not read again (--reread reads it all the same)" in out and note_in_target() is None
    assert main(["merge", str(target), *map(str, sites), "--reread"]) == 0
    out = capsys.readouterr().out
    assert "not read again" not in out and note_in_target() == "written in the shell"
