"""Disk used by a large import into an existing database (docs/database.md, "Disk used by a large
import"), on real files: the peak of the file and its sidecars against the final file, an
interrupted import, and the fallback when another program has the file open."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from audit import dbfile
from audit.cli import main
from audit.importer import import_file
from audit.store import Store
from benchmarks.common import core_rubric, make_cases, make_database
from tests.test_merge import dump, integrity

PROJECT = Path(__file__).resolve().parent.parent
SIDECARS = ("-journal", "-wal")


def write_jsonl(path: Path, count: int, *, seed: int = 5) -> Path:
    with open(path, "w", encoding="utf-8") as out:
        for case in make_cases(core_rubric(), count, seed=seed, prefix="N"):
            out.write(json.dumps({"case_ref": case.case_ref, "site": case.site, "inspector": case.inspector,
                                  "answers": case.answers}) + "\n")
    return path


def size(path: Path) -> int:
    try:
        return os.stat(path).st_size  # stat only: the database file is never opened by hand
    except FileNotFoundError:
        return 0


class DiskWatch:
    """Samples, by stat alone, the file and its sidecars every millisecond from another thread."""

    def __init__(self, db: Path):
        self.db = db
        self.peak_total = self.peak_sidecar = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            sidecar = sum(size(Path(f"{self.db}{s}")) for s in SIDECARS)
            self.peak_sidecar = max(self.peak_sidecar, sidecar)
            self.peak_total = max(self.peak_total, size(self.db) + sidecar)
            time.sleep(0.001)

    def __enter__(self) -> "DiskWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture
def small_cache(monkeypatch):
    """A 1 MiB page cache: the import spills pages to the file (and its journal) early and often."""
    monkeypatch.setattr(dbfile, "BULK_CACHE_KIB", 1024)


@pytest.fixture
def existing(tmp_path) -> Path:
    return make_database(tmp_path / "site.db", core_rubric(), 300, seed=3)


def test_a_large_import_into_an_existing_database_needs_at_most_1_3x_its_final_size(tmp_path, existing, small_cache):
    source = write_jsonl(tmp_path / "big.jsonl", 4000)
    with DiskWatch(existing) as watch:
        result = import_file(existing, source, core_rubric(), who="tester")
    final = size(existing)
    assert result.cases == 4000
    assert watch.peak_sidecar > 0  # the watch saw the journal at work
    assert watch.peak_total <= 1.3 * final, (watch.peak_total, watch.peak_sidecar, final)
    assert not any(Path(f"{existing}{s}").exists() for s in ("-journal",))
    with Store.open(existing, create=False) as store:
        assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # back in WAL mode
        assert store.conn.execute("SELECT count(*) FROM cases").fetchone()[0] == 4300
        assert store.integrity_ok()


def test_with_another_program_holding_the_file_the_import_runs_in_wal_mode_and_its_wal_is_not_bounded(
        tmp_path, existing, small_cache):
    """The control: the watch does see an unbounded sidecar, when the switch cannot be made."""
    source = write_jsonl(tmp_path / "big.jsonl", 4000)
    ui = Store.open(existing, create=False)  # the UI has the file open
    try:
        with DiskWatch(existing) as watch:
            import_file(existing, source, core_rubric(), who="tester")
        assert ui.conn.execute("SELECT count(*) FROM cases").fetchone()[0] == 4300
    finally:
        ui.close()
    assert watch.peak_sidecar > 0.5 * size(existing)  # every new page went through the WAL


IMPORT = """
import sys
from audit.importer import import_file
from audit.rubric import load_rubric_by_id
import_file(sys.argv[1], sys.argv[2], load_rubric_by_id("hmip-core-2018"), who="killed")
"""


def test_an_import_killed_midway_leaves_the_database_as_it_was(tmp_path, existing, capsys):
    source = write_jsonl(tmp_path / "big.jsonl", 6000)
    before = dump(existing)
    env = {**os.environ, "AUDIT_BULK_CACHE_KIB": "512", "PYTHONPATH": str(PROJECT)}
    child = subprocess.Popen([sys.executable, "-c", IMPORT, str(existing), str(source)], env=env)
    journal, initial = Path(f"{existing}-journal"), size(existing)
    deadline = time.monotonic() + 120
    # killed once pages have been written to the file itself: only the journal can undo them
    while time.monotonic() < deadline and child.poll() is None and (size(journal) < 64 * 1024 or size(existing) < initial + 2**20):
        time.sleep(0.002)
    assert child.poll() is None, "the import finished before it could be killed midway"
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert journal.exists()  # a hot journal: the file holds half a write
    # a read-only command cannot undo it, and says so rather than read half a write
    assert main(["tabulate", str(existing), "iom_status"]) == 1
    assert "unfinished write" in capsys.readouterr().err
    with Store.open(existing, create=False) as store:  # SQLite rolls the journal back
        assert store.conn.execute("SELECT count(*) FROM cases").fetchone()[0] == 300
    assert not journal.exists()
    assert integrity(existing) == "ok"
    assert dump(existing, skip=("meta",)) == [line for line in before if 'INSERT INTO "meta"' not in line]
