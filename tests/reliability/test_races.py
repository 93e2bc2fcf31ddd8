"""Commands racing for one file: no committed case may ever go missing, and no traceback reaches anyone.

* two imports racing to create one new database;
* an import while the UI holds the write lock: briefly (it waits), and past the busy timeout (it says so);
* a merge into a target that an import is creating at the same moment;
* an import that fails its checks while someone else creates and writes the database.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

from audit.store import Store

ROOT = Path(__file__).resolve().parents[2]
AUDIT = [sys.executable, "-m", "audit.cli"]
ROUNDS = int(os.environ.get("AUDIT_RACES", "3"))  # `make soak` runs 30


def write_csv(path: Path, refs: list[str], *, bad_last: bool = False) -> Path:
    lines = ["case_ref,site,sentence_type,lead_agency"]
    lines += [f"{ref},sheffield,community,crc" for ref in refs]
    if bad_last:
        lines.append("ZZ9,sheffield,community,martians")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def cases_in(db: Path) -> set[str]:
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return {row[0] for row in conn.execute("SELECT case_ref FROM cases")}
    finally:
        conn.close()


def run_together(commands: list[list[str]], env: dict | None = None) -> list[subprocess.CompletedProcess]:
    """Start every command at the same moment (a barrier of threads), wait for all."""
    barrier = threading.Barrier(len(commands))
    results: list[subprocess.CompletedProcess | None] = [None] * len(commands)

    def run(index: int) -> None:
        barrier.wait()
        results[index] = subprocess.run(commands[index], cwd=ROOT, capture_output=True, text=True, timeout=300,
                                        env={**os.environ, **(env or {})})

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(commands))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results  # type: ignore[return-value]


def assert_clean(result: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    assert result.returncode in (0, 1), result.stderr


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".") and ".tmp" in p.name)


def test_two_imports_racing_to_create_one_database_lose_nothing(tmp_path):
    a = write_csv(tmp_path / "a.csv", [f"A{i}" for i in range(300)])
    b = write_csv(tmp_path / "b.csv", [f"B{i}" for i in range(300)])
    for round_number in range(ROUNDS):
        db = tmp_path / f"race-{round_number}.db"
        first, second = run_together([
            [*AUDIT, "import", str(db), str(a), "--rubric", "iom-thematic-2019"],
            [*AUDIT, "import", str(db), str(b), "--rubric", "iom-thematic-2019"],
        ])
        for result in (first, second):
            assert_clean(result)
        assert first.returncode == 0 or second.returncode == 0
        held = cases_in(db)
        for result, prefix in ((first, "A"), (second, "B")):
            mine = {f"{prefix}{i}" for i in range(300)}
            if result.returncode == 0:
                assert mine <= held, result.stdout
            else:  # told the truth: the other one made the file; nothing of this import is in it
                assert "created by another program" in result.stderr or "busy" in result.stderr, result.stderr
                assert not mine & held
    assert leftovers(tmp_path) == []


def holder(db: Path, ref: str, wait: float | str) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-m", "tests.reliability.lock_holder", str(db), ref, str(wait)],
                               cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "holding", process.stderr.read()
    return process


def test_an_import_waits_for_a_brief_lock_and_both_are_kept(tmp_path):
    db = tmp_path / "site.db"
    Store.open(db).close()
    slow = holder(db, "UI1", 1.0)
    result = subprocess.run([*AUDIT, "import", str(db), str(write_csv(tmp_path / "c.csv", ["C1", "C2"])),
                             "--rubric", "iom-thematic-2019"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert slow.stdout.readline().strip() == "committed"
    slow.wait()
    assert result.returncode == 0, result.stderr
    assert cases_in(db) == {"UI1", "C1", "C2"}


def test_a_lock_held_past_the_busy_timeout_is_one_line_and_loses_nothing(tmp_path):
    db = tmp_path / "site.db"
    Store.open(db).close()
    slow = holder(db, "UI1", "stdin")  # holds the lock until the import has given up
    result = subprocess.run([*AUDIT, "import", str(db), str(write_csv(tmp_path / "c.csv", ["C1"])),
                             "--rubric", "iom-thematic-2019"], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={**os.environ, "AUDIT_BUSY_TIMEOUT": "1"})
    slow.stdin.write("commit\n")
    slow.stdin.flush()
    assert slow.stdout.readline().strip() == "committed"
    slow.wait()
    assert result.returncode == 1
    assert result.stderr.strip().endswith("the database is busy (another program is writing it); try again"), result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert cases_in(db) == {"UI1"}  # the holder's case is there, the import's is not


def test_a_merge_into_a_target_an_import_is_creating_loses_nothing(tmp_path):
    site = tmp_path / "site.db"
    assert subprocess.run([*AUDIT, "import", str(site), str(write_csv(tmp_path / "s.csv", [f"S{i}" for i in range(200)])),
                           "--rubric", "iom-thematic-2019"], cwd=ROOT, capture_output=True, timeout=120).returncode == 0
    other = write_csv(tmp_path / "o.csv", [f"O{i}" for i in range(200)])
    for round_number in range(ROUNDS):
        target = tmp_path / f"national-{round_number}.db"
        imported, merged = run_together([
            [*AUDIT, "import", str(target), str(other), "--rubric", "iom-thematic-2019"],
            [*AUDIT, "merge", str(target), str(site)],
        ])
        for result in (imported, merged):
            assert_clean(result)
        held = cases_in(target)
        if imported.returncode == 0:
            assert {f"O{i}" for i in range(200)} <= held
        if merged.returncode == 0:
            assert {f"S{i}" for i in range(200)} <= held
        assert imported.returncode == 0 or merged.returncode == 0
    assert leftovers(tmp_path) == []


def test_a_failed_import_never_removes_a_database_someone_else_made(tmp_path):
    """The import's checks fail while another process creates the file and commits a case to it."""
    big = write_csv(tmp_path / "big.csv", [f"B{i}" for i in range(5000)], bad_last=True)
    for round_number in range(ROUNDS):
        db = tmp_path / f"shared-{round_number}.db"
        failing, creating = run_together([
            [*AUDIT, "import", str(db), str(big), "--rubric", "iom-thematic-2019"],
            [*AUDIT, "import", str(db), str(write_csv(tmp_path / "one.csv", ["KEEP1"])), "--rubric", "iom-thematic-2019"],
        ])
        assert_clean(failing)
        assert creating.returncode == 0, creating.stderr
        assert failing.returncode == 1 and "martians" in failing.stderr
        assert cases_in(db) == {"KEEP1"}
