"""``audit tui`` outside a terminal, and the commands the demo tells people to run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from audit.commands.demo import audit_command

AUDIT = [sys.executable, "-c", "from audit.cli import run; run()"]


@pytest.mark.parametrize("args", [["tui", "new.db"], []], ids=["audit tui new.db", "audit"])
@pytest.mark.parametrize("piped", ["stdin", "stdout"])
def test_the_ui_refuses_a_pipe_with_exit_code_2_and_creates_nothing(tmp_path, args, piped):
    master, slave = os.openpty()
    try:
        streams = {"stdin": slave, "stdout": slave}
        streams[piped] = subprocess.PIPE if piped == "stdout" else subprocess.DEVNULL
        result = subprocess.run([*AUDIT, *args], cwd=tmp_path, stdin=streams["stdin"], stdout=streams["stdout"],
                                stderr=subprocess.PIPE, timeout=60)
    finally:
        os.close(master)
        os.close(slave)
    assert result.returncode == 2
    err = result.stderr.decode()
    assert err.startswith("error: the terminal UI needs a terminal") and "Traceback" not in err
    assert ("standard input" if piped == "stdin" else "standard output") in err
    assert list(tmp_path.iterdir()) == []  # neither new.db nor ./audit.db, nor their -wal/-shm


def test_the_demo_names_the_audit_that_works_from_this_shell(tmp_path, monkeypatch):
    script = Path(sys.executable).parent / "audit"
    if not script.is_file():
        pytest.skip("audit is not installed as a script in this environment")
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))  # audit is not on PATH, as after `make demo`
    monkeypatch.chdir(script.parent.parent.parent)  # the folder holding .venv
    assert audit_command() == str(Path(script.parent.parent.name) / "bin" / "audit")
    monkeypatch.chdir(tmp_path)
    assert audit_command() == str(script)
    monkeypatch.setenv("PATH", f"{script.parent}{os.pathsep}{empty}")  # an activated environment
    assert audit_command() == "audit"


def test_keys_typed_while_the_ui_starts_are_kept_in_a_real_terminal(tmp_path, thematic_rubric):
    from audit.store import Store
    from benchmarks.terminal import Terminal

    db = tmp_path / "audit.db"
    with Store.open(db) as store:
        for ref in ("T001", "T002", "SU01"):
            store.create_case(ref, "sheffield", thematic_rubric, "jb")
    with Terminal([*AUDIT, "tui", str(db)], 100, 30) as terminal:
        terminal.send(b"/SU0")  # at once, before the first frame
        terminal.wait_for("cases 1–1 of 1 ".encode(), timeout=60)  # the list, filtered by what was typed
