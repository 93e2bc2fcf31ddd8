"""``audit merge`` of 50 site databases of 2,000 cases each, against plain ATTACH + INSERT ... SELECT.

The inputs are 50 seeded site databases (``benchmarks.common.make_database``,
core-programme rubric, one site and case-ref prefix each, distinct seeds):
100,000 cases and about two million answers.

* The floor: a fresh database with the same schema (``Store.open``), then, per
  source, plain SQLite: ATTACH, INSERT ... SELECT of its rubric, cases, answers
  and history rows, COMMIT, DETACH. Nothing is checked or compared.
* Measured: ``merge_databases`` into a fresh target: every source checked
  (integrity_check, schema, rubric versions), read read-only in one snapshot,
  then one transaction that classifies every UUID, copies the new cases with
  their verdicts, adds a history row per case, looks for duplicate case_refs
  and records the merge. Goal: within 2x of the floor.
* Merging the same 50 files again: each source is recognised by its watermark
  (db_uuid and change token, in TARGET's merges table) and not read. Goal:
  <= 0.3x of the same floor. Also shown: the same with ``reread=True`` (every
  case compared with TARGET, as before watermarks), and again after one source
  changed one answer (that source is read and merged by case; TARGET gets its
  full check before the write).
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from audit.cases import CaseService
from audit.merge import merge_databases
from audit.store import CASE_COLUMNS, Store
from benchmarks.common import Result, best_of, core_rubric, make_database

SOURCES = 50
CASES_EACH = 2_000
ROUNDS = 3
HISTORY_COLUMNS = "case_id, question_id, field, old_value, new_value, changed_by, changed_at, reason, origin"
ANSWER_COLUMNS = "case_id, question_key, value, note, answered_by, answered_at, state, applies, counted"


def make_sources(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rubric = core_rubric()
    return [
        make_database(folder / f"site{i:02d}.db", rubric, CASES_EACH, seed=1000 + i, sites=[f"site{i:02d}"], prefix=f"S{i:02d}-")
        for i in range(SOURCES)
    ]


def fresh(path: Path) -> Path:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return path


def plain_attach_insert(target: Path, sources: list[Path]) -> None:
    """The floor: the same rows copied with ATTACH + INSERT ... SELECT, one source at a time."""
    Store.open(fresh(target)).close()  # the same schema and WAL mode as a merge's new target
    conn = sqlite3.connect(target, isolation_level=None)
    try:
        for source in sources:
            conn.execute("ATTACH DATABASE ? AS src", [f"{source.resolve().as_uri()}?mode=ro"])
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT OR IGNORE INTO rubrics SELECT * FROM src.rubrics")
            conn.execute("INSERT OR IGNORE INTO questions SELECT * FROM src.questions")
            conn.execute("INSERT OR IGNORE INTO options SELECT * FROM src.options")
            conn.execute(f"INSERT INTO cases ({', '.join(CASE_COLUMNS)}) SELECT {', '.join(CASE_COLUMNS)} FROM src.cases")
            # schema 5's tables: a case's id and a question's key are the file's own, so each is looked up here
            conn.execute("INSERT OR IGNORE INTO question_keys (question_id) SELECT question_id FROM src.question_keys")
            conn.execute(
                f"INSERT INTO answer_data ({ANSWER_COLUMNS}) SELECT t.id, mk.id, {', '.join('a.' + c for c in ANSWER_COLUMNS.split(', ')[2:])} "
                "FROM src.answer_data a JOIN src.cases s ON s.id = a.case_id JOIN main.cases t ON t.uuid = s.uuid "
                "JOIN src.question_keys sk ON sk.id = a.question_key JOIN main.question_keys mk ON mk.question_id = sk.question_id"
            )
            conn.execute(
                f"INSERT INTO history_data ({HISTORY_COLUMNS}) SELECT t.id, {', '.join('h.' + c for c in HISTORY_COLUMNS.split(', ')[1:])} "
                "FROM src.history_data h JOIN src.cases s ON s.id = h.case_id JOIN main.cases t ON t.uuid = s.uuid"
            )
            conn.execute("COMMIT")
            conn.execute("DETACH DATABASE src")
    finally:
        conn.close()


def counts(path: Path) -> tuple[int, int]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute("SELECT count(*) FROM cases").fetchone()[0], conn.execute("SELECT count(*) FROM answers").fetchone()[0]
    finally:
        conn.close()


def run(workdir: Path) -> list[Result]:
    started = time.perf_counter()
    sources = make_sources(workdir / "sites")
    print(f"  (generated {SOURCES} site databases of {CASES_EACH:,} cases in {time.perf_counter() - started:.1f}s)", flush=True)
    floor_db, merged_db = workdir / "floor.db", workdir / "merged.db"

    def merge_fresh() -> None:
        result = merge_databases(fresh(merged_db), sources, who="bench")
        assert result.total("added") == SOURCES * CASES_EACH, "every case must be added"

    # floor and merge take turns, so both meet the same load on a shared machine; best of each
    floor = measured = float("inf")
    for _ in range(ROUNDS):
        floor = min(floor, best_of(lambda: plain_attach_insert(floor_db, sources), repeat=1))
        measured = min(measured, best_of(merge_fresh, repeat=1))
    assert counts(merged_db) == counts(floor_db), "the merge and the floor must hold the same cases and answers"

    def merge_again(reread: bool = False) -> None:
        result = merge_databases(merged_db, sources, who="bench", reread=reread)
        assert not result.changed and result.total("unchanged") == SOURCES * CASES_EACH
        assert all(bool(s.merged_before) != reread for s in result.sources)

    again = best_of(merge_again, repeat=3)
    reread = best_of(lambda: merge_again(reread=True), repeat=1)

    def one_changed() -> None:
        with Store.open(sources[7], create=False) as store:
            uuid = store.list_cases(limit=1)[0].uuid
            CaseService(store, who="bench").note(uuid, "iom_status", f"changed {time.time()}")
        result = merge_databases(merged_db, sources, who="bench", backup=False)
        assert result.changed and result.total("updated") == 1 and sum(1 for s in result.sources if s.merged_before) == SOURCES - 1

    changed = best_of(one_changed, repeat=1)
    cases, answers = counts(merged_db)
    label = f"merge {SOURCES} x {CASES_EACH // 1000}k cases ({answers:,} answers)"
    return [
        Result(label, measured, floor, "<= 2x"),
        Result(f"merge the same {SOURCES} files again (no change)", again, floor, "<= 0.3x"),
        Result("  the same, every case compared (reread)", reread, floor, "(was <= 2x)"),
        Result(f"  the same, 1 of {SOURCES} sources changed", changed, floor, "(none)"),
    ]
