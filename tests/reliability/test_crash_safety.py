"""Kill a process that is saving answers, at random moments, many times.

Every answer the child reported as saved must be in the database afterwards
(its history row and, for the last one, the current value), and the file must
pass integrity_check. AUDIT_KILLS sets the number of kills (default 100).
"""

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path


from audit.store import Store

ROOT = Path(__file__).resolve().parents[2]
KILLS = int(os.environ.get("AUDIT_KILLS", "100"))


def start_child(db: Path, start: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.answer_loop", str(db), "R1", "site", "100000", str(start)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_sigkill_never_loses_a_reported_answer(tmp_path):
    db = tmp_path / "crash.db"
    rng = random.Random(20191126)
    reported: list[int] = []
    next_start = 0
    for _ in range(KILLS):
        child = start_child(db, next_start)
        assert child.stdout.readline().strip() == "ready", child.stderr.read()
        deadline = time.monotonic() + rng.uniform(0.0, 0.08)
        while time.monotonic() < deadline:
            line = child.stdout.readline()
            if line.startswith("saved "):
                reported.append(int(line.split()[1]))
        child.send_signal(signal.SIGKILL)
        # lines already written before the kill were also reported as saved
        rest, _ = child.communicate()
        reported += [int(line.split()[1]) for line in rest.splitlines() if line.startswith("saved ")]
        next_start = (reported[-1] + 1) if reported else next_start + 1000
        next_start += 1000  # numbers from a killed run never repeat

    assert reported, "the child never saved anything; the test proved nothing"
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        saved = {
            row[0]
            for row in conn.execute("SELECT new_value FROM history WHERE question_id = 'note' AND field = 'value'")
        }
    finally:
        conn.close()
    missing = [n for n in reported if f'"save-{n}"' not in saved]
    assert not missing, f"{len(missing)} answers reported saved are missing, e.g. {missing[:5]}"
    store = Store.open(db)
    try:
        case = store.find_case("site", "R1")
        current = store.answers(case.uuid)["note"]
        assert int(current.split("-")[1]) >= reported[-1]
    finally:
        store.close()
