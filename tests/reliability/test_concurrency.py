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
