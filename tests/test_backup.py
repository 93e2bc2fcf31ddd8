"""audit backup: SQLite's online backup API, verified, 0600, never overwriting."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from audit.backup import backup_database
from audit.cli import main
from audit.errors import AuditError
from audit.store import Store
from tests.test_merge import BASE, dump, integrity, make_db, mode, new_case, run_sql, sha256
from tests.test_store import read_only


@pytest.fixture
def db(tmp_path, thematic_rubric) -> Path:
    return make_db(tmp_path / "site.db", [new_case(thematic_rubric, f"T{i}", "sheffield", BASE) for i in range(5)])


def test_a_backup_is_a_verified_0600_copy_beside_the_database(db, capsys):
    assert main(["backup", str(db)]) == 0
    out = capsys.readouterr().out
    copies = list(db.parent.glob("site.db.bak-*"))
    assert len(copies) == 1 and str(copies[0]) in out
    # nothing else left beside it: no partial copy, no -wal/-shm from the read-only look
    assert sorted(p.name for p in db.parent.iterdir()) == sorted(["site.db", copies[0].name])
    assert mode(copies[0]) == 0o600
    assert integrity(copies[0]) == "ok"
    assert dump(copies[0]) == dump(db)
    with Store.open(copies[0], create=False) as copy:  # an audit database in its own right
        assert copy.case_count() == 5


def test_two_backups_in_one_second_get_two_names(db):
    first, second = backup_database(db), backup_database(db)
    assert first != second and first.exists() and second.exists()


def test_dest_may_be_a_file_or_a_folder(db, tmp_path):
    named = backup_database(db, tmp_path / "named.db")
    assert named == tmp_path / "named.db" and dump(named) == dump(db)
    folder = tmp_path / "backups"
    folder.mkdir()
    inside = backup_database(db, folder)
    assert inside.parent == folder and inside.name.startswith("site.db.bak-")


def test_an_existing_destination_is_never_overwritten(db, tmp_path, capsys):
    dest = tmp_path / "precious.db"
    dest.write_bytes(b"someone else's file")
    assert main(["backup", str(db), str(dest)]) == 1
    assert "already exists" in capsys.readouterr().err
    assert dest.read_bytes() == b"someone else's file"
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]


def test_the_backup_is_safe_while_the_ui_writes(db, thematic_rubric):
    ui = Store.open(db)  # the UI: a committed change still in the WAL...
    try:
        ui.create_case("T9", "sheffield", thematic_rubric, "jb")
        writer = sqlite3.connect(db, timeout=10)  # ...and another writer in the middle of a transaction
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE cases SET inspector = 'uncommitted'")
        copy = backup_database(db)
        writer.rollback()
        writer.close()
    finally:
        ui.close()
    with Store.open(copy, create=False) as backed_up:
        assert backed_up.case_count() == 6  # the committed case is in
        assert backed_up.db.execute("SELECT count(*) FROM cases WHERE inspector = 'uncommitted'").fetchone()[0] == 0
    assert integrity(copy) == "ok"


def test_refusals_write_nothing(tmp_path, capsys):
    foreign = run_sql(tmp_path / "foreign.db", "CREATE TABLE t (x)")
    text = tmp_path / "notes.txt"
    text.write_text("not a database")
    before = {p: sha256(p) for p in (foreign, text)}
    for path, message in ((foreign, "another program"), (text, "not an audit database"), (tmp_path / "missing.db", "does not exist")):
        assert main(["backup", str(path)]) == 1
        assert message in capsys.readouterr().err
    assert {p: sha256(p) for p in before} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["foreign.db", "notes.txt"]


def test_a_corrupt_database_is_refused_and_no_copy_is_kept(db, tmp_path):
    data = bytearray(db.read_bytes())
    page = 4096
    data[3 * page: 3 * page + 200] = b"\xff" * 200  # damage a page past the header
    damaged = tmp_path / "damaged.db"
    damaged.write_bytes(bytes(data))
    with pytest.raises(AuditError, match="integrity_check|corrupt|malformed"):
        backup_database(damaged)
    assert not list(tmp_path.glob("damaged.db.bak-*"))
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]


def test_usage_errors_exit_2():
    assert main(["backup"]) == 2


def test_a_database_on_a_read_only_stick_is_backed_up_elsewhere(tmp_path, thematic_rubric):
    stick = tmp_path / "stick"
    stick.mkdir()
    db = make_db(stick / "site.db", [new_case(thematic_rubric, f"T{i}", "sheffield", BASE) for i in range(3)])
    backups = tmp_path / "backups"
    backups.mkdir()
    with read_only(stick):
        listing = sorted(p.name for p in stick.iterdir())
        copy = backup_database(db, backups)
        assert sorted(p.name for p in stick.iterdir()) == listing
    assert dump(copy) == dump(db) and integrity(copy) == "ok"


def test_a_backup_into_a_read_only_folder_is_refused_in_one_line(db, tmp_path, capsys):
    locked = tmp_path / "locked"
    locked.mkdir()
    with read_only(locked):
        assert main(["backup", str(db), str(locked)]) == 1
        assert list(locked.iterdir()) == []
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "internal error" not in err and str(locked) in err, err
