"""``audit import`` against raw SQLite inserting the same rows.

Two files written from seeded generated cases (``benchmarks.common.make_cases``):

* 100,000 core-programme cases as JSON Lines;
* 3,308 core-programme cases (the report's core sample) as wide CSV, with labels.

Each is imported through the importer API (read, decode, coerce, evaluate,
check for duplicates, insert in one transaction) into a fresh database. The
floor is plain ``sqlite3`` ``executemany`` of the same case and answer rows,
prebuilt in memory, into a fresh database with the same schema, in one
transaction. Goal: within 2x of the floor.

Also: the 100k import into a database that already holds 2,000 cases (the
bounded-journal path), against executemany into a copy of it, and the peak
disk used (file + -journal + -wal, sampled by stat every millisecond)
against the final file: goal <= 1.3.
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import threading
import time
from pathlib import Path

from audit.backup import backup_database
from audit.identity import key
from audit.importer import check_file, import_file
from audit.rubric import Rubric
from audit.schema import stored_stamp
from audit.store import CASE_COLUMNS, Store, encode
from audit.values import display
from benchmarks.common import Result, core_rubric, make_cases, make_database

BIG = 100_000
CORE_SAMPLE = 3_308


def write_jsonl(path: Path, cases) -> None:
    with open(path, "w", encoding="utf-8") as out:
        for case in cases:
            out.write(json.dumps({"case_ref": case.case_ref, "site": case.site, "inspector": case.inspector, "answers": case.answers}))
            out.write("\n")


def write_csv(path: Path, rubric: Rubric, cases) -> None:
    """As Excel saves "CSV UTF-8": BOM, CRLF, labels rather than codes."""
    with open(path, "w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["case_ref", "site", "inspector", *rubric.question_ids])
        for case in cases:
            cells = [display(rubric.question(qid), case.answers.get(qid)) for qid in rubric.question_ids]
            writer.writerow([case.case_ref, case.site, case.inspector, *cells])


def _fresh(path: Path) -> Path:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return path


class RawInsert:
    """The floor: executemany of the same case and answer rows into the same schema, committed."""

    def __init__(self, path: Path, rubric: Rubric, cases):
        self.path, self.rubric = path, rubric
        stamp = "2019-01-01T00:00:00.000000Z"
        self.case_rows = [
            (c.uuid, c.case_ref, c.site, c.inspector, "in_progress", stamp, stamp, rubric.id, rubric.version, rubric.sha256,
             len(c.answers), len(c.answers), None, "cases.jsonl", key(c.site), key(c.case_ref), number)
            for number, c in enumerate(cases, 1)
        ]
        # schema 5's compact rows: the case's id, the question's key, the time as integer microseconds
        # (ids and keys are numbered from the target's own, in seconds(), before the clock starts)
        at = stored_stamp(stamp)
        self.answer_rows = [(number, qid, encode(v), "bench", at, 1, 1)
                            for number, c in enumerate(cases, 1) for qid, v in sorted(c.answers.items())]

    def seconds(self, start: Path | None = None) -> float:
        """Into a new database, or into a copy of ``start``."""
        if start is not None:
            backup_database(start, _fresh(self.path))
        store = Store.open(self.path if start is not None else _fresh(self.path))  # the same schema, rubric row and WAL mode
        store.add_rubric(self.rubric)
        store.close()
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            base = conn.execute("SELECT coalesce(max(id), 0) FROM cases").fetchone()[0]
            keys = dict(conn.execute("SELECT question_id, id FROM question_keys"))
            top = max(keys.values(), default=0)
            new_keys = [(top + n, qid) for n, qid in enumerate((q for q in self.rubric.question_ids if q not in keys), 1)]
            keys.update((qid, number) for number, qid in new_keys)
            case_rows = [(*row[:-1], row[-1] + base) for row in self.case_rows]
            answer_rows = [(number + base, keys[qid], *rest) for number, qid, *rest in self.answer_rows]
            start = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            columns = [*CASE_COLUMNS[:14], "site_key", "ref_key", "id"]
            conn.executemany(f"INSERT INTO cases ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", case_rows)
            conn.executemany("INSERT INTO question_keys (id, question_id) VALUES (?, ?)", new_keys)
            conn.executemany(
                "INSERT INTO answer_data (case_id, question_key, value, answered_by, answered_at, applies, counted) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                answer_rows,
            )
            conn.execute("COMMIT")
            return time.perf_counter() - start
        finally:
            conn.close()


def compare(workdir: Path, name: str, source: Path, rubric: Rubric, cases, repeat: int) -> list[Result]:
    """Best of ``repeat`` for import, check alone and floor, run in turns so that all see the same load."""
    floor = RawInsert(workdir / f"floor-{name}.db", rubric, cases)
    db = workdir / f"import-{name}.db"
    imported, checked, raw = [], [], []
    for _ in range(repeat):
        raw.append(floor.seconds())
        start = time.perf_counter()
        import_file(_fresh(db), source, rubric, who="bench")
        imported.append(time.perf_counter() - start)
        start = time.perf_counter()
        result = check_file(source, rubric)
        checked.append(time.perf_counter() - start)
        assert not result.errors, result.errors.entries[:3]
        del result
    answers = len(floor.answer_rows)
    on_disk = sum(os.stat(f"{db}{suffix}").st_size for suffix in ("", "-wal", "-journal") if os.path.exists(f"{db}{suffix}"))
    return [
        Result(f"import {len(cases):,} cases {source.suffix[1:].upper()} ({answers:,} answers)", min(imported), min(raw), "<= 2x"),
        Result("  of which reading and checking", min(checked), min(raw), "(share of the above)"),
        # the whole file (cases, answers, history, every index) over the answers it holds
        Result("  file size per answer, everything kept", on_disk / answers, None, "<= 100 bytes", unit="B"),
    ]


class PeakDisk:
    """The largest size, by stat alone, of a database file plus its -journal and -wal, sampled every ms."""

    def __init__(self, db: Path):
        self.db, self.peak = db, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            total = 0
            for suffix in ("", "-journal", "-wal"):
                try:
                    total += os.stat(f"{self.db}{suffix}").st_size
                except FileNotFoundError:
                    pass
            self.peak = max(self.peak, total)
            time.sleep(0.001)

    def __enter__(self) -> "PeakDisk":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def into_existing(workdir: Path, source: Path, rubric: Rubric, cases, repeat: int) -> list[Result]:
    """The same import into a database that already holds 2,000 cases (journal switched to DELETE for
    the write, docs/database.md), against executemany into a copy of that database; and the peak
    disk the import used (file + sidecars) against the final file."""
    floor = RawInsert(workdir / "floor-existing.db", rubric, cases)
    start_db = make_database(workdir / "start.db", rubric, 2_000, seed=99, prefix="E")
    db = workdir / "import-existing.db"
    imported, raw, peaks = [], [], []
    for _ in range(repeat):
        raw.append(floor.seconds(start=start_db))
        backup_database(start_db, _fresh(db))
        with PeakDisk(db) as watch:
            started = time.perf_counter()
            import_file(db, source, rubric, who="bench")
            imported.append(time.perf_counter() - started)
        peaks.append(watch.peak / os.stat(db).st_size)
    return [
        Result(f"import {len(cases):,} cases into a 2k-case database", min(imported), min(raw), "<= 2x"),
        Result("  peak disk (file + journal) / final file", max(peaks), None, "<= 1.3", unit="x"),
    ]


def run(workdir: Path) -> list[Result]:
    rubric = core_rubric()
    big = make_cases(rubric, BIG, seed=11)
    jsonl = workdir / "core-100k.jsonl"
    write_jsonl(jsonl, big)
    results = compare(workdir, "100k", jsonl, rubric, big, repeat=3)
    results += into_existing(workdir, jsonl, rubric, big, repeat=2)
    del big

    sample = make_cases(rubric, CORE_SAMPLE, seed=12)
    csv_path = workdir / "core-3308.csv"
    write_csv(csv_path, rubric, sample)
    small = compare(workdir, "3308", csv_path, rubric, sample, repeat=5)
    small[0].goal = "<= 3x; a few seconds"  # the import row (the report's sample, CSV with labels)
    return results + small
