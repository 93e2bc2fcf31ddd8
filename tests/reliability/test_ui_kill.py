"""The issue's own reproduction, on the real UI in a pseudo-terminal (issue #7, item 1).

Answer a question in ``audit tui``; meanwhile other programs read the file (the
``sqlite3`` library in another process, ``audit tabulate``, ``audit backup``);
answer another question; ``kill -9`` the UI. Every answer the screen said was
saved must be in the file, which must pass integrity_check. Before the fix, the
reader's close removed the -wal the UI was still writing to, and the second
answer was lost.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from audit.store import Store
from benchmarks.terminal import Terminal

AUDIT = [sys.executable, "-m", "audit.cli"]
READER = "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); print(c.execute('select count(*) from cases').fetchone()[0]); c.close()"


def current_answers(db: Path) -> dict[str, str]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return dict(conn.execute("SELECT question_id, value FROM answers WHERE state = 'current' AND value IS NOT NULL"))


def test_answers_shown_as_saved_survive_readers_and_a_kill_of_the_ui(tmp_path, thematic_rubric):
    db = tmp_path / "t.db"
    with Store.open(db) as store:
        store.create_case("T001", "sheffield", thematic_rubric, "jb")
    env = {"AUDIT_USER": "jb"}
    with Terminal([*AUDIT, "tui", str(db)], 120, 40, env=env, cwd=str(tmp_path)) as terminal:
        terminal.wait_for("cases 1–1 of 1 ".encode(), timeout=60)
        terminal.quiet(0.5)
        terminal.send(b"\r")  # open T001
        terminal.wait_for(b"What type of sentence", timeout=30)
        mark = terminal.length
        terminal.send(b"1")  # Community sentence
        terminal.wait_for(b"Saved", since=mark, timeout=30)

        # other programs read the file while the UI holds it open, then close it
        for argv in ([sys.executable, "-c", READER, str(db)],
                     [*AUDIT, "tabulate", str(db), "sentence_type"],
                     [*AUDIT, "backup", str(db), str(tmp_path / "copy.db")]):
            done = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=tmp_path)
            assert done.returncode == 0, (argv, done.stderr)
        assert Path(f"{db}-wal").exists(), "a reader removed the -wal the UI is writing to"

        mark = terminal.length
        terminal.send(b"1")  # the next question's first option
        terminal.wait_for(b"Saved", since=mark, timeout=30)
        os.killpg(terminal.process.pid, signal.SIGKILL)
        terminal.process.wait(10)

    answers = current_answers(db)
    assert answers.get("sentence_type") == '"community"'
    assert len(answers) == 2, answers  # the second answer, shown as saved, is in the file too
