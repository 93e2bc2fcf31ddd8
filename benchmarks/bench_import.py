"""``audit import`` against raw SQLite inserting the same rows.

Two files written from seeded generated cases (``benchmarks.common.make_cases``):

* 100,000 core-programme cases as JSON Lines;
* 3,308 core-programme cases (the report's core sample) as wide CSV, with labels.

Each is imported through the importer API (read, decode, coerce, evaluate,
check for duplicates, insert in one transaction) into a fresh database. The
floor is plain ``sqlite3`` ``executemany`` of the same case and answer rows,
prebuilt in memory, into a fresh database with the same schema, in one
transaction. Goal: within 3x of the floor.
"""

from __future__ import annotations

import csv
import json
import sqlite3
import time
from pathlib import Path

from audit.importer import import_file
from audit.rubric import Rubric
from audit.store import CASE_COLUMNS, Store, encode
from audit.values import display
from benchmarks.common import Result, best_of, core_rubric, make_cases

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


def raw_insert(path: Path, rubric: Rubric, cases, repeat: int = 2) -> float:
    """Seconds for executemany of the same case and answer rows into the same schema, committed."""
    stamp = "2019-01-01T00:00:00.000000Z"
    sha = rubric.sha256
    case_rows = [
        (c.uuid, c.case_ref, c.site, c.inspector, "in_progress", stamp, stamp, rubric.id, rubric.version, sha,
         len(c.answers), len(c.answers), None, "cases.jsonl")
        for c in cases
    ]
    answer_rows = [(c.uuid, qid, encode(v), "bench", stamp, 1, 1) for c in cases for qid, v in c.answers.items()]
    best = float("inf")
    for _ in range(repeat):
        store = Store.open(_fresh(path))  # the same schema, rubric row and WAL mode as an import gets
        store.add_rubric(rubric)
        store.close()
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            start = time.perf_counter()
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(f"INSERT INTO cases ({', '.join(CASE_COLUMNS)}) VALUES ({', '.join('?' * len(CASE_COLUMNS))})", case_rows)
            conn.executemany(
                "INSERT INTO answers (case_uuid, question_id, value, answered_by, answered_at, applies, counted, state) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 'current')",
                answer_rows,
            )
            conn.execute("COMMIT")
            best = min(best, time.perf_counter() - start)
        finally:
            conn.close()
    return best


def timed_import(db: Path, path: Path, rubric: Rubric, repeat: int) -> float:
    def once() -> None:
        import_file(_fresh(db), path, rubric, who="bench")

    return best_of(once, repeat=repeat)


def run(workdir: Path) -> list[Result]:
    rubric = core_rubric()
    results = []

    big = make_cases(rubric, BIG, seed=11)
    jsonl = workdir / "core-100k.jsonl"
    write_jsonl(jsonl, big)
    floor = raw_insert(workdir / "floor.db", rubric, big)
    measured = timed_import(workdir / "import.db", jsonl, rubric, repeat=2)
    answers = sum(len(c.answers) for c in big)
    results.append(Result(f"import {BIG:,} cases JSONL ({answers:,} answers)", measured, floor, "<= 3x"))
    del big

    sample = make_cases(rubric, CORE_SAMPLE, seed=12)
    csv_path = workdir / "core-3308.csv"
    write_csv(csv_path, rubric, sample)
    floor = raw_insert(workdir / "floor-3308.db", rubric, sample)
    measured = timed_import(workdir / "import-3308.db", csv_path, rubric, repeat=3)
    results.append(Result(f"import {CORE_SAMPLE:,} cases CSV, labels", measured, floor, "<= 3x; a few seconds"))
    return results
