"""Two processes write the same database at once: both finish, nothing is lost,
and no "database is locked" reaches the user."""

import sqlite3
import subprocess
import sys
from pathlib import Path

from audit.store import Store

ROOT = Path(__file__).resolve().parents[2]
SAVES = 150


def test_two_writers_share_one_file(tmp_path):
    db = tmp_path / "shared.db"
    Store.open(db).close()  # both children open an existing database
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.answer_loop", str(db), ref, "site", str(SAVES)],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for ref in ("A1", "B1")
    ]
    outputs = [child.communicate(timeout=120) for child in children]
    for child, (out, err) in zip(children, outputs):
        assert child.returncode == 0, err
        assert "locked" not in err.lower() and "Traceback" not in err
        assert out.count("saved ") == SAVES
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        per_case = dict(
            conn.execute(
                "SELECT c.case_ref, count(*) FROM history h JOIN cases c ON c.uuid = h.case_uuid "
                "WHERE h.question_id = 'note' AND h.field = 'value' GROUP BY c.case_ref"
            ).fetchall()
        )
    finally:
        conn.close()
    assert per_case == {"A1": SAVES, "B1": SAVES}


def test_two_writers_answering_the_same_case_each_see_the_other(tmp_path):
    """Each process's case service keeps the case between its answers (docs/database.md, "A keypress
    reads nothing twice"): if it missed the other's commits, its history would say it changed a value
    it never saw, and the chain of old and new values would break."""
    from audit.rubric import parse_rubric
    from tests.reliability.answer_loop import RUBRIC

    db = tmp_path / "shared.db"
    with Store.open(db) as store:  # made first: two children racing to create it is another test
        store.create_case("S1", "site", parse_rubric(RUBRIC, "<reliability>"), "tester")
    children = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.answer_loop", str(db), "S1", "site", str(SAVES), start],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for start in ("0", "100000")
    ]
    outputs = [child.communicate(timeout=120) for child in children]
    for child, (out, err) in zip(children, outputs):
        assert child.returncode == 0, err
        assert "Traceback" not in err and out.count("saved ") == SAVES
    with Store.open_read_only(db) as store:
        case = store.find_case("site", "S1")
        changes = [(h["old_value"], h["new_value"]) for h in store.history(case.uuid)
                   if h["question_id"] == "note" and h["field"] == "value"]
        assert len(changes) == 2 * SAVES
        for (_, before), (old, _) in zip(changes, changes[1:]):  # in commit order
            assert old == before
        assert store.answers(case.uuid)["note"] == changes[-1][1].strip('"')
