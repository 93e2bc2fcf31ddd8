"""Kill a process that is saving answers, at random moments, while other programs read the file.

Every answer the child reported as saved must be in the database afterwards
(its history row and, for the last one, the current value), and the file must
pass integrity_check. Meanwhile:

* a thread of the saving process itself looks at the file as the UI's
  background check does (the process that writes also reads);
* two other processes open, read and close the file in a loop, as the
  ``sqlite3`` shell or a report script would;
* every tenth round, a real ``audit tabulate``, ``audit backup`` or the
  ``sqlite3`` shell runs against it as well.

AUDIT_KILLS sets the number of kills (100 in ``make test``, 1,000 in ``make soak``).
A control run shows the harness catches the loss it guards against: with the
old header peek (Python's ``open()`` on the database file in the saving
process), answers reported as saved go missing.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from audit.store import Store

ROOT = Path(__file__).resolve().parents[2]
KILLS = int(os.environ.get("AUDIT_KILLS", "100"))
AUDIT = [sys.executable, "-m", "audit.cli"]


def start_child(db: Path, start: int, reader: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.reliability.answer_loop", str(db), "R1", "site", "100000", str(start)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "AUDIT_TEST_READER": reader},
    )


def outside_reader(db: Path, round_number: int, folder: Path) -> subprocess.Popen:
    """A real program reading the file: the tool's own read-only commands, or the sqlite3 shell."""
    choice = round_number // 10 % 3
    if choice == 2 and shutil.which("sqlite3"):
        # with a busy timeout, as the tool's own connections have: without one the shell gives up at once
        # ("database is locked") while the next connection recovers the WAL of the process just killed
        command = ["sqlite3", "-cmd", ".timeout 10000", str(db), "SELECT count(*) FROM answers"]
    elif choice == 1:
        command = [*AUDIT, "backup", str(db), str(folder / f"copy-{round_number}.db")]
    else:
        command = [*AUDIT, "tabulate", str(db), "done"]
    return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def run_rounds(db: Path, kills: int, reader: str, seed: int) -> tuple[list[int], list[str]]:
    """Start, let save for a random moment, SIGKILL; repeat. Returns (answers reported saved, problems seen)."""
    rng = random.Random(seed)
    folder = db.parent / "copies"
    folder.mkdir(exist_ok=True)
    Store.open(db).close()
    readers = [
        subprocess.Popen([sys.executable, "-m", "tests.reliability.reader_loop", str(db)], cwd=ROOT,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(2)
    ]
    reported: list[int] = []
    problems: list[str] = []
    next_start = 0
    try:
        for round_number in range(kills):
            child = start_child(db, next_start, reader)
            first = child.stdout.readline().strip()
            assert first == "ready", child.stderr.read()
            outside = outside_reader(db, round_number, folder) if round_number % 10 == 0 else None
            deadline = time.monotonic() + rng.uniform(0.0, 0.08)
            while time.monotonic() < deadline:
                line = child.stdout.readline()
                if line.startswith("saved "):
                    reported.append(int(line.split()[1]))
            child.send_signal(signal.SIGKILL)
            rest, err = child.communicate()  # lines written before the kill were reported too
            reported += [int(line.split()[1]) for line in rest.splitlines() if line.startswith("saved ")]
            problems += [line for line in err.splitlines() if line.startswith("reader:") and "busy" not in line]
            if outside is not None:
                _, outside_err = outside.communicate(timeout=120)
                if outside.returncode not in (0, None) and "busy" not in outside_err:
                    problems.append(f"{outside.args[:3]}: {outside_err.strip()}")
            next_start = (reported[-1] + 1 if reported else next_start) + 1000  # numbers never repeat
    finally:
        for process in readers:
            process.kill()
            process.wait()
    return reported, problems


def lost_answers(db: Path, reported: list[int]) -> tuple[str, list[int]]:
    conn = sqlite3.connect(db)
    try:
        check = conn.execute("PRAGMA integrity_check").fetchone()[0]
        saved = {row[0] for row in conn.execute("SELECT new_value FROM history WHERE question_id = 'note' AND field = 'value'")}
    finally:
        conn.close()
    return check, [n for n in reported if f'"save-{n}"' not in saved]


def test_sigkill_with_readers_everywhere_never_loses_a_reported_answer(tmp_path):
    db = tmp_path / "crash.db"
    reported, problems = run_rounds(db, KILLS, "ui", seed=20191126)
    assert reported, "the child never saved anything; the test proved nothing"
    check, missing = lost_answers(db, reported)
    assert check == "ok"
    assert not missing, f"{len(missing)} answers reported saved are missing, e.g. {missing[:5]}"
    assert problems == []  # no reader, inside or outside, was refused or failed
    with Store.open(db) as store:
        case = store.find_case("site", "R1")
        current = store.answers(case.uuid)["note"]
        assert int(current.split("-")[1]) >= reported[-1]


def test_the_harness_catches_the_loss_an_open_and_close_of_the_file_causes(tmp_path):
    """Control: the same rounds with the old header peek in the saving process lose answers
    (measured: about 50 of 51 reported answers in 10 rounds), so the test above can fail."""
    db = tmp_path / "peek.db"
    reported, _ = run_rounds(db, 5, "peek", seed=1)
    check, missing = lost_answers(db, reported)
    assert reported and (missing or check != "ok"), "the old header peek lost nothing: the harness would not catch it"
