"""Merging site databases into one: the lead's job. See ``docs/merge.md``.

How a merge runs:

1. Every input is checked by reading only: each source must be an audit
   database (not missing, corrupt, foreign or newer), must not be the target
   (same path, same file or same database id), and its rubrics must match
   the target's (unless ``allow_rubric_change``). All problems are listed at
   once and nothing is written.
2. Each source is ATTACHed read-only and its rows copied, in one read
   snapshot, into TEMP staging tables. A source is never written to.
3. One write transaction on TARGET (``Store.transaction``, which takes the
   write lock first) does the rest; an error or a kill leaves TARGET as it was.
   - Cases whose UUID is new and in one source only are copied with
     set-based ``INSERT ... SELECT`` in key order, verdicts included (same
     rubric text, so the counting module's verdict is the same).
   - Cases already in TARGET with identical content are left alone.
   - Every other case is merged answer by answer in Python: the later
     ``answered_at`` wins (ties: see :func:`_value_rank`); both values go to
     history; then :meth:`Store.recount` re-applies the counting module.
   - Cases sharing (site, case_ref) under different UUIDs are flagged.
   - Before committing, a backup of the previous TARGET is taken (a reader
     sees only committed data, so the backup is TARGET as it was), and a row
     per source is added to ``merges``.
   A merge that changes nothing, and a dry run, roll back: TARGET is untouched.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from audit.errors import AuditError, Problem, Problems
from audit.rubric import Rubric
from audit.store import (
    CASE_COLUMNS, SCHEMA_VERSION, Store, StoreError, _connect, _precheck, _remove_sidecars, current_user, decode, now,
    read_only_uri, remove_database_files,
)
from audit.values import display

Progress = Callable[[str, int, int], None]

MERGE_REASON = "merge"
CONFLICT_REASON = "merge conflict"
ANSWER_COLUMNS = ["case_uuid", "question_id", "value", "note", "answered_by", "answered_at", "state", "applies", "counted"]
HISTORY_COLUMNS = ["case_uuid", "question_id", "field", "old_value", "new_value", "changed_by", "changed_at", "reason", "origin"]
#: case fields a merge reconciles; a difference in the first three is reported as a conflict
CASE_FIELDS = ("case_ref", "site", "inspector", "status")
REPORTED_CASE_FIELDS = ("case_ref", "site", "inspector")

NEW, SAME, PRECISE = 0, 1, 2  # staged_cases.kind


# --- results -------------------------------------------------------------------------------


@dataclass
class SourceSummary:
    """What one source brought: counts of its cases by outcome."""

    path: str  # as given
    db_uuid: str
    site: str | None
    cases: int = 0
    added: int = 0
    unchanged: int = 0
    updated: int = 0
    conflicts: int = 0  # answers (and case fields) that differed
    duplicates: int = 0  # its cases sharing (site, case_ref) with another UUID


@dataclass(frozen=True)
class Conflict:
    """One answer (or case field) held differently by TARGET and a source."""

    case_uuid: str
    case_ref: str
    site: str
    question_id: str  # empty for a case field
    question: str  # question text, or the case field's name
    field: str  # 'value', 'note', or a case field: 'case_ref', 'site', 'inspector'
    target_code: str | None  # stored text (JSON for values)
    source_code: str | None
    target_label: str
    source_label: str
    target_time: str | None
    source_time: str | None
    target_by: str | None
    source_by: str | None
    kept: str  # 'target' or 'source'
    source_path: str
    source_db_uuid: str

    @property
    def kept_label(self) -> str:
        return self.target_label if self.kept == "target" else self.source_label


@dataclass(frozen=True)
class DuplicateCase:
    uuid: str
    inspector: str | None
    status: str
    origin_file: str | None
    site: str = ""  # as this case spells them
    case_ref: str = ""


@dataclass(frozen=True)
class Duplicate:
    """Cases with the same case_ref at the same site under different UUIDs: possibly one case audited twice."""

    site: str
    case_ref: str
    cases: tuple[DuplicateCase, ...]


@dataclass
class MergeResult:
    target: str
    sources: list[SourceSummary]
    conflicts: list[Conflict] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    created: bool = False  # TARGET did not exist (and, unless a dry run, was created)
    dry_run: bool = False
    changed: bool = False  # something was (or, in a dry run, would be) written
    backup: Path | None = None

    def total(self, name: str) -> int:
        return sum(getattr(s, name) for s in self.sources)


class _RollBack(Exception):
    """Raised inside the transaction to undo it: a dry run, or nothing to change."""


# --- checking the inputs (reading only) ----------------------------------------------------


@dataclass
class _Source:
    index: int
    shown: str  # as given
    path: Path  # absolute
    db_uuid: str
    site: str | None
    cases: int
    rubrics: list[tuple[str, str, str]]  # (rubric_id, version, sha256) of its cases

    @property
    def origin(self) -> str:
        """How history rows name this source."""
        return f"{self.path} ({self.db_uuid})"


@contextmanager
def _looking_at(path: Path) -> Iterator[None]:
    """A read-only look at a WAL file creates empty -wal/-shm files beside it: remove those we
    caused, as soon as the look is over (as Store.open does for a refused file)."""
    created = [p for p in (Path(f"{path}-wal"), Path(f"{path}-shm")) if not p.exists()]
    try:
        yield
    finally:
        _remove_sidecars(created)


def _describe(path: Path, *, check: bool) -> tuple[str, str | None, int, list[tuple[str, str, str]]]:
    """(db_uuid, site, case count, rubrics of its cases) of an audit database, read-only; refuses anything else."""
    with _looking_at(path):
        return _read_description(path, check=check)


def _read_description(path: Path, *, check: bool) -> tuple[str, str | None, int, list[tuple[str, str, str]]]:
    _precheck(path)
    Store._inspect(path, check=check)
    try:
        conn = _connect(path, read_only=True)
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: cannot be opened ({exc})") from None
    try:
        meta = dict(conn.execute("SELECT key, value FROM meta"))
        version = int(meta.get("schema_version") or 0)
        if version < SCHEMA_VERSION:
            raise StoreError(
                f"{path}: has schema version {version}, older than this audit's {SCHEMA_VERSION}; "
                f"open it once with this version of audit (e.g. audit tui {path}) to upgrade it, then merge"
            )
        cases = conn.execute("SELECT count(*) FROM cases").fetchone()[0]
        rubrics = conn.execute(
            "SELECT DISTINCT rubric_id, rubric_version, rubric_sha256 FROM cases ORDER BY rubric_id, rubric_version"
        ).fetchall()
    except sqlite3.DatabaseError as exc:
        raise StoreError(f"{path}: is corrupt or not an audit database ({exc}); restore it from a backup") from None
    finally:
        conn.close()
    return meta.get("db_uuid") or "", meta.get("site") or None, cases, [tuple(r) for r in rubrics]


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def check_inputs(
    target: Path, sources: Sequence[str | Path], *, allow_rubric_change: bool
) -> tuple[list[_Source], tuple[str, list[tuple[str, str, str]]] | None]:
    """Check TARGET and every source by reading only; raise :class:`Problems` listing every refusal."""
    if not sources:
        raise AuditError("give at least one SOURCE database to merge into TARGET")
    target_info: tuple[str, list[tuple[str, str, str]]] | None = None
    if target.exists():
        if target.is_dir():
            raise AuditError(f"{target}: is a folder; give the path of the TARGET database file")
        db_uuid, _, _, rubrics = _describe(target, check=True)
        target_info = (db_uuid, rubrics)
    elif not target.parent.is_dir():
        raise AuditError(f"{target}: folder {target.parent} does not exist; create it first")

    problems: list[Problem] = []
    found: list[_Source] = []
    for index, given in enumerate(sources):
        path = Path(given)
        where = str(given)
        if not path.exists():
            problems.append(Problem(where, "does not exist; check the path"))
            continue
        if target.exists() and _same_file(path, target):
            problems.append(Problem(where, f"is the target {target} itself; a database cannot be merged into itself"))
            continue
        earlier = next((s for s in found if _same_file(s.path, path)), None)
        if earlier is not None:
            problems.append(Problem(where, f"is given twice (also as {earlier.shown}); give each source once"))
            continue
        try:
            db_uuid, site, cases, rubrics = _describe(path, check=True)
        except StoreError as exc:
            problems.append(Problem("", str(exc)))
            continue
        if target_info is not None and db_uuid == target_info[0]:
            problems.append(Problem(
                where, f"is a copy of the target {target} (same database id {db_uuid[:8]}); merging it would change nothing"
            ))
            continue
        found.append(_Source(index, where, path.resolve(), db_uuid, site, cases, rubrics))

    # rubric identity: every case of one rubric id on one version, unless the lead allows a change
    seen: dict[str, dict[str, tuple[str, str]]] = {}  # rubric_id -> sha256 -> (version, where)
    for rubric_id, version, sha in target_info[1] if target_info else []:
        seen.setdefault(rubric_id, {})[sha] = (version, str(target))
    for source in found:
        for rubric_id, version, sha in source.rubrics:
            known = seen.setdefault(rubric_id, {})
            if known and sha not in known and not allow_rubric_change:
                other_sha, (other_version, where) = next(iter(known.items()))
                change = "a different version" if other_version != version else "different text under the same version"
                problems.append(Problem(
                    source.shown,
                    f"its cases use rubric '{rubric_id}' version {version} (sha256 {sha[:12]}), but {where} has "
                    f"version {other_version} (sha256 {other_sha[:12]}): {change}; pass --allow-rubric-change to merge "
                    "anyway (each case keeps its own rubric)",
                ))
            known.setdefault(sha, (version, source.shown))
    if problems:
        raise Problems(problems, summary=f"nothing was merged; {target} is unchanged")
    return found, target_info


# --- the merge -----------------------------------------------------------------------------


def merge_databases(
    target: str | Path,
    sources: Sequence[str | Path],
    *,
    dry_run: bool = False,
    allow_rubric_change: bool = False,
    backup: bool = True,
    who: str | None = None,
    progress: Progress | None = None,
) -> MergeResult:
    """Merge every source into ``target`` in one transaction; see the module docstring."""
    target_path = Path(target)
    found, target_info = check_inputs(target_path, sources, allow_rubric_change=allow_rubric_change)
    existed = target_info is not None
    if existed:
        store = Store.open(target_path, create=False, check=False)  # checked just now, read-only
    elif dry_run:
        store = Store.memory()  # a dry run creates nothing
    else:
        store = Store.open(target_path)  # created with mode 0600
    result = MergeResult(
        target=str(target_path), sources=[SourceSummary(s.shown, s.db_uuid, s.site, s.cases) for s in found],
        created=not existed, dry_run=dry_run,
    )
    try:
        _Merger(store, found, result, who or current_user(), progress).run(
            backup_of=target_path if existed and backup and not dry_run else None
        )
    except BaseException:
        store.close()
        if not existed and not dry_run:
            remove_database_files(target_path)
        raise
    store.close()
    return result


class _Merger:
    def __init__(self, store: Store, sources: list[_Source], result: MergeResult, who: str, progress: Progress | None):
        self.store = store
        self.db = store.db
        self.sources = sources
        self.result = result
        self.who = who
        self.progress = progress
        self.stamp = now()
        self.by_index = {s.index: s for s in sources}
        self.summaries = {s.index: summary for s, summary in zip(sources, result.sources)}
        self.staged_total = 0
        self.total_cases = sum(s.cases for s in sources)
        self.phase = ""
        self.done = 0

    def _advance(self, label: str, amount: int = 0) -> None:
        """Report progress: cases read (phase 'reading ...'), then cases written ('writing ...')."""
        phase = label.split()[0]
        if phase != self.phase:
            self.phase, self.done = phase, 0
        self.done += amount
        if self.progress:
            self.progress(label, min(self.done, self.total_cases), self.total_cases)

    # -- staging --------------------------------------------------------------------------
    def _stage_all(self) -> None:
        db = self.db
        case_columns = ", ".join(CASE_COLUMNS)
        answer_columns = ", ".join(ANSWER_COLUMNS)
        for statement in (
            f"CREATE TEMP TABLE staged_cases AS SELECT {case_columns}, 0 AS src, 0 AS kind FROM main.cases WHERE 0",
            f"CREATE TEMP TABLE staged_answers AS SELECT {answer_columns}, 0 AS src FROM main.answers WHERE 0",
            f"CREATE TEMP TABLE staged_history AS SELECT id, {', '.join(HISTORY_COLUMNS)}, 0 AS src FROM main.history WHERE 0",
            "CREATE TEMP TABLE staged_rubrics AS SELECT * FROM main.rubrics WHERE 0",
            "CREATE TEMP TABLE staged_questions AS SELECT * FROM main.questions WHERE 0",
            "CREATE TEMP TABLE staged_options AS SELECT * FROM main.options WHERE 0",
            "CREATE TEMP TABLE staged_sources (src INTEGER PRIMARY KEY, db_uuid TEXT, path TEXT, origin TEXT)",
        ):
            db.execute(statement)
        with db.atomic():
            db.conn.executemany(
                "INSERT INTO staged_sources VALUES (?, ?, ?, ?)",
                [(s.index, s.db_uuid, str(s.path), s.origin) for s in self.sources],
            )
        for source in self.sources:
            self._advance(f"reading {source.shown}")
            self._stage(source, case_columns, answer_columns)
            self._advance(f"reading {source.shown}", source.cases)
        self.staged_total = db.execute("SELECT count(*) FROM staged_cases").fetchone()[0]

    def _stage(self, source: _Source, case_columns: str, answer_columns: str) -> None:
        db = self.db
        src = source.index
        known = [row[0] for row in db.execute("SELECT sha256 FROM staged_rubrics")]

        def unknown(column: str) -> str:  # rubrics not staged from an earlier source
            return f"WHERE {column} NOT IN ({', '.join('?' * len(known))})" if known else ""

        queries = [  # (staging table, SELECT from the source's schema S, parameters)
            ("staged_cases", f"SELECT {case_columns}, {src}, 0 FROM S.cases", []),
            ("staged_answers", f"SELECT {answer_columns}, {src} FROM S.answers", []),
            ("staged_history", f"SELECT id, {', '.join(HISTORY_COLUMNS)}, {src} FROM S.history", []),
            ("staged_rubrics", f"SELECT * FROM S.rubrics {unknown('sha256')}", known),
            ("staged_questions", f"SELECT * FROM S.questions {unknown('rubric_sha256')}", known),
            ("staged_options", f"SELECT * FROM S.options {unknown('rubric_sha256')}", known),
        ]
        try:
            with _looking_at(source.path):
                self._stage_from(read_only_uri(source.path), queries)
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{source.shown}: cannot be read ({exc}); it may be damaged, restore it from a backup") from None

    def _stage_from(self, uri: str, queries: list[tuple[str, str, list]]) -> None:
        if _attach_reads_uris(self.db.conn):
            self._stage_attached(uri, queries)
        else:
            self._stage_streamed(uri, queries)

    def _stage_attached(self, uri: str, queries: list[tuple[str, str, list]]) -> None:
        """Set-based: ATTACH the source read-only and INSERT ... SELECT from it."""
        db = self.db
        db.execute("ATTACH DATABASE ? AS merge_source", [uri])
        try:
            with db.atomic():  # one read snapshot of the source, even if its UI is writing
                for table, select, params in queries:
                    db.execute(f"INSERT INTO {table} {select.replace('S.', 'merge_source.')}", params)
        finally:
            db.execute("DETACH DATABASE merge_source")

    def _stage_streamed(self, uri: str, queries: list[tuple[str, str, list]]) -> None:
        """For an SQLite built without URI support in ATTACH (which would otherwise create a file
        named after the URI): read through a read-only connection of our own instead."""
        source = sqlite3.connect(uri, uri=True, timeout=10, isolation_level=None)
        try:
            source.execute("BEGIN")  # one read snapshot
            with self.db.atomic():
                for table, select, params in queries:
                    cursor = source.execute(select.replace("S.", ""), params)
                    marks = ", ".join("?" * len(cursor.description))
                    self.db.conn.executemany(f"INSERT INTO {table} VALUES ({marks})", cursor)
        finally:
            source.close()

    # -- the transaction ------------------------------------------------------------------
    def run(self, *, backup_of: Path | None) -> None:
        try:
            self._stage_all()
            with self.store.transaction():
                self._advance(f"writing {self.result.target}")
                self._copy_rubrics()
                self._classify()
                self._add_new_cases()
                self._merge_overlapping()
                self._find_duplicates()
                self.result.changed = any(s.added or s.updated for s in self.result.sources)
                if self.result.dry_run or not self.result.changed:
                    raise _RollBack()
                self._record_merges()
                if backup_of is not None:
                    from audit.backup import backup_database

                    # our writes are uncommitted: a reader sees TARGET as it was before the merge
                    self.result.backup = backup_database(backup_of)
        except _RollBack:
            pass
        finally:
            for table in ("staged_cases", "staged_answers", "staged_history", "staged_rubrics", "staged_questions",
                          "staged_options", "staged_sources", "staged_case_keys", "staged_duplicates"):
                try:
                    self.db.execute(f"DROP TABLE IF EXISTS temp.{table}")
                except sqlite3.Error:
                    pass

    def _copy_rubrics(self) -> None:
        """Bring in each source rubric TARGET lacks, with its questions and options: cases keep their rubric."""
        db = self.db
        new = [r[0] for r in db.execute(
            "SELECT sha256 FROM staged_rubrics WHERE sha256 NOT IN (SELECT sha256 FROM main.rubrics)"
        )]
        if not new:
            return
        marks = ", ".join("?" * len(new))
        db.execute(f"INSERT INTO main.rubrics SELECT * FROM staged_rubrics WHERE sha256 IN ({marks})", new)
        db.execute(f"INSERT INTO main.questions SELECT * FROM staged_questions WHERE rubric_sha256 IN ({marks})", new)
        db.execute(f"INSERT INTO main.options SELECT * FROM staged_options WHERE rubric_sha256 IN ({marks})", new)

    def _classify(self) -> None:
        """NEW: a UUID in one source only and not in TARGET; SAME: in TARGET with identical content; PRECISE: the rest."""
        db = self.db
        db.execute("CREATE INDEX temp.staged_cases_uuid ON staged_cases(uuid)")
        db.execute(
            f"""UPDATE staged_cases SET kind = CASE
                  WHEN uuid IN (SELECT uuid FROM staged_cases GROUP BY uuid HAVING count(*) > 1) THEN {PRECISE}
                  WHEN uuid IN (SELECT uuid FROM main.cases) THEN {SAME}
                  ELSE {NEW} END"""
        )
        if not db.execute(f"SELECT 1 FROM staged_cases WHERE kind != {NEW} LIMIT 1").fetchone():
            return
        # answers and history of cases that need a closer look are read case by case
        db.execute("CREATE INDEX temp.staged_answers_case ON staged_answers(case_uuid, src)")
        db.execute("CREATE INDEX temp.staged_history_case ON staged_history(case_uuid, src)")
        case_differs = " OR ".join(f"c.{name} IS NOT s.{name}" for name in (*CASE_FIELDS, "rubric_sha256"))
        db.execute(
            f"""UPDATE staged_cases SET kind = {PRECISE} WHERE kind = {SAME} AND uuid IN (
                  SELECT s.uuid FROM staged_cases s JOIN main.cases c ON c.uuid = s.uuid
                  WHERE s.kind = {SAME} AND ({case_differs})
                  UNION
                  SELECT s.uuid FROM staged_cases s JOIN staged_answers a ON a.case_uuid = s.uuid
                  LEFT JOIN main.answers t ON t.case_uuid = a.case_uuid AND t.question_id = a.question_id
                  WHERE s.kind = {SAME} AND (t.case_uuid IS NULL OR t.value IS NOT a.value
                        OR t.note IS NOT a.note OR t.state IS NOT a.state))"""
        )

    def _summary(self, src: int) -> SourceSummary:
        return self.summaries[src]

    def _add_new_cases(self) -> None:
        """Set-based copy of every NEW case, with its answers (and their verdicts) and history."""
        db = self.db
        counts = dict(db.execute(f"SELECT src, count(*) FROM staged_cases WHERE kind = {NEW} GROUP BY src").fetchall())
        for src, count in db.execute(f"SELECT src, count(*) FROM staged_cases WHERE kind = {SAME} GROUP BY src"):
            self._summary(src).unchanged += count
        if not counts:
            return
        everything_new = sum(counts.values()) == self.staged_total

        def only_new(column: str) -> str:
            return "" if everything_new else f"WHERE {column} IN (SELECT uuid FROM staged_cases WHERE kind = {NEW})"

        copied = [c for c in CASE_COLUMNS if c not in ("origin_db", "origin_file")]
        db.execute(
            f"""INSERT INTO main.cases ({', '.join(copied)}, origin_db, origin_file)
                SELECT {', '.join('c.' + name for name in copied)}, s.db_uuid, s.path
                FROM staged_cases c JOIN staged_sources s ON s.src = c.src
                WHERE c.kind = {NEW} ORDER BY c.uuid"""
        )
        # key order keeps the primary-key index appends cheap
        db.execute(
            f"""INSERT INTO main.answers ({', '.join(ANSWER_COLUMNS)})
                SELECT {', '.join(ANSWER_COLUMNS)} FROM staged_answers {only_new('case_uuid')} ORDER BY case_uuid, question_id"""
        )
        history = ", ".join(HISTORY_COLUMNS[:-1])
        db.execute(
            f"""INSERT INTO main.history ({history}, origin)
                SELECT {', '.join('h.' + name for name in HISTORY_COLUMNS[:-1])}, coalesce(h.origin, s.origin)
                FROM staged_history h JOIN staged_sources s ON s.src = h.src
                {only_new('h.case_uuid')} ORDER BY h.case_uuid, h.id"""
        )
        db.execute(
            f"""INSERT INTO main.history ({history}, origin)
                SELECT c.uuid, NULL, 'case', NULL, s.path, ?, ?, '{MERGE_REASON}', s.origin
                FROM staged_cases c JOIN staged_sources s ON s.src = c.src
                WHERE c.kind = {NEW} ORDER BY c.uuid""",
            [self.who, self.stamp],
        )
        for src, count in counts.items():
            self._summary(src).added += count
        self._advance(f"writing {self.result.target}", sum(counts.values()))

    # -- case by case ---------------------------------------------------------------------
    def _merge_overlapping(self) -> None:
        db = self.db
        rows = db.execute(
            f"SELECT {', '.join(CASE_COLUMNS)}, src FROM staged_cases WHERE kind = {PRECISE} ORDER BY uuid, src"
        ).fetchall()
        label = f"writing {self.result.target}"
        for number, row in enumerate(rows, 1):
            src = row[-1]
            outcome = self._merge_copy(dict(zip(CASE_COLUMNS, row)), self.by_index[src])
            summary = self._summary(src)
            setattr(summary, outcome, getattr(summary, outcome) + 1)
            if number % 200 == 0:
                self._advance(label, 200)
        self._advance(label, len(rows) % 200)
        same = db.execute(f"SELECT count(*) FROM staged_cases WHERE kind = {SAME}").fetchone()[0]
        self._advance(label, same)

    def _target_case(self, uuid: str) -> dict | None:
        row = self.db.execute(f"SELECT {', '.join(CASE_COLUMNS)} FROM main.cases WHERE uuid = ?", [uuid]).fetchone()
        return dict(zip(CASE_COLUMNS, row)) if row else None

    def _answers(self, table: str, uuid: str, src: int | None = None) -> dict[str, dict]:
        where = "case_uuid = ?" + (" AND src = ?" if src is not None else "")
        params = [uuid] if src is None else [uuid, src]
        cursor = self.db.execute(f"SELECT {', '.join(ANSWER_COLUMNS)} FROM {table} WHERE {where}", params)
        return {row[1]: dict(zip(ANSWER_COLUMNS, row)) for row in cursor}

    def _history_rows(self, table: str, uuid: str, src: int | None = None) -> list[tuple]:
        where = "case_uuid = ?" + (" AND src = ?" if src is not None else "")
        params = [uuid] if src is None else [uuid, src]
        return self.db.execute(f"SELECT {', '.join(HISTORY_COLUMNS)} FROM {table} WHERE {where} ORDER BY id", params).fetchall()

    def _history(self, uuid: str, question_id: str | None, field_name: str, old: Any, new: Any, reason: str, source: _Source) -> None:
        self.db.execute(
            f"INSERT INTO main.history ({', '.join(HISTORY_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [uuid, question_id, field_name, old, new, self.who, self.stamp, reason, source.origin],
        )

    def _merge_copy(self, staged: dict, source: _Source) -> str:
        """Merge one source's copy of a case into TARGET; returns 'added', 'unchanged' or 'updated'."""
        uuid = staged["uuid"]
        target_case = self._target_case(uuid)
        copy_answers = self._answers("staged_answers", uuid, source.index)
        copy_history = self._history_rows("staged_history", uuid, source.index)
        if target_case is None:
            self._insert_case(staged, copy_answers, copy_history, source)
            return "added"
        if target_case["rubric_sha256"] != staged["rubric_sha256"]:
            raise AuditError(
                f"{source.shown}: case {staged['case_ref']} at {staged['site']} ({uuid}) is on rubric "
                f"'{staged['rubric_id']}' version {staged['rubric_version']} there but version "
                f"{target_case['rubric_version']} in {self.result.target}; one case cannot hold answers under two "
                "rubric versions, so nothing was merged; re-audit that case under one version"
            )
        rubric = self.store.rubric(target_case["rubric_sha256"])
        target_answers = self._answers("main.answers", uuid)
        target_history = self._history_rows("main.history", uuid)
        recorded = {row[:8] for row in target_history}
        wrote = self._merge_case_fields(target_case, staged, source)
        answers_changed = wrote
        for qid in sorted(copy_answers):
            mine, theirs = target_answers.get(qid), copy_answers[qid]
            if mine is None:
                self._insert_answer(theirs, source)
                answers_changed = True
                continue
            changed, logged = self._merge_answer(target_case, rubric, mine, theirs, target_history, copy_history, source)
            answers_changed |= changed
            wrote |= changed or logged
        # the source's own trail of what it changed, where TARGET lacks it (a copy that
        # changed nothing brings nothing, so the same content always merges as 'unchanged')
        for row in copy_history if wrote or answers_changed else ():
            if row[:8] not in recorded:
                self.db.execute(
                    f"INSERT INTO main.history ({', '.join(HISTORY_COLUMNS)}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [*row[:8], row[8] or source.origin],
                )
                recorded.add(row[:8])
                wrote = True
        if answers_changed:
            self.db.execute(
                "UPDATE main.cases SET updated_at = max(updated_at, ?) WHERE uuid = ?", [staged["updated_at"], uuid]
            )
            self.store.recount(uuid, who=self.who)  # the counting module decides, never the merge
        return "updated" if wrote or answers_changed else "unchanged"

    def _insert_case(self, staged: dict, answers: dict[str, dict], history: list[tuple], source: _Source) -> None:
        row = {**staged, "origin_db": source.db_uuid, "origin_file": str(source.path)}
        self.db.execute(
            f"INSERT INTO main.cases ({', '.join(CASE_COLUMNS)}) VALUES ({', '.join('?' * len(CASE_COLUMNS))})",
            [row[c] for c in CASE_COLUMNS],
        )
        self.db.conn.executemany(
            f"INSERT INTO main.answers ({', '.join(ANSWER_COLUMNS)}) VALUES ({', '.join('?' * len(ANSWER_COLUMNS))})",
            [[a[c] for c in ANSWER_COLUMNS] for a in answers.values()],
        )
        self.db.conn.executemany(
            f"INSERT INTO main.history ({', '.join(HISTORY_COLUMNS)}) VALUES ({', '.join('?' * len(HISTORY_COLUMNS))})",
            [[*h[:8], h[8] or source.origin] for h in history],
        )
        self._history(staged["uuid"], None, "case", None, str(source.path), MERGE_REASON, source)

    def _insert_answer(self, theirs: dict, source: _Source) -> None:
        values = {**theirs, "applies": 0, "counted": 0}  # recount decides these
        self.db.execute(
            f"INSERT INTO main.answers ({', '.join(ANSWER_COLUMNS)}) VALUES ({', '.join('?' * len(ANSWER_COLUMNS))})",
            [values[c] for c in ANSWER_COLUMNS],
        )
        if theirs["value"] is not None:
            self._history(theirs["case_uuid"], theirs["question_id"], "value", None, theirs["value"], MERGE_REASON, source)
        if theirs["note"]:
            self._history(theirs["case_uuid"], theirs["question_id"], "note", None, theirs["note"], MERGE_REASON, source)

    def _merge_case_fields(self, target_case: dict, staged: dict, source: _Source) -> bool:
        """case_ref, site, inspector and status: the copy updated later wins. Returns whether TARGET changed."""
        differing = [name for name in CASE_FIELDS if target_case[name] != staged[name]]
        if not differing:
            return False
        mine = (target_case["updated_at"] or "", *[target_case[n] or "" for n in CASE_FIELDS])
        theirs = (staged["updated_at"] or "", *[staged[n] or "" for n in CASE_FIELDS])
        source_wins = theirs > mine
        uuid = target_case["uuid"]
        wrote = False
        for name in differing:
            winner, loser = (staged[name], target_case[name]) if source_wins else (target_case[name], staged[name])
            if name in REPORTED_CASE_FIELDS and not self._already_resolved(uuid, None, name, loser, winner):
                self._conflict(target_case, "", name, name, target_case[name], staged[name], target_case[name] or "",
                               staged[name] or "", target_case["updated_at"], staged["updated_at"], None, None,
                               source_wins, source)
                self._history(uuid, None, name, loser, winner, CONFLICT_REASON, source)
                wrote = True
            elif name not in REPORTED_CASE_FIELDS and source_wins:
                self._history(uuid, None, name, target_case[name], staged[name], MERGE_REASON, source)
                wrote = True
            if source_wins:
                self.db.execute(f"UPDATE main.cases SET {name} = ? WHERE uuid = ?", [staged[name], uuid])
        return wrote or source_wins

    def _already_resolved(self, uuid: str, question_id: str | None, field_name: str, loser: Any, winner: Any) -> bool:
        """A conflict an earlier merge already recorded (so merging the same file again changes nothing)."""
        return self.db.execute(
            "SELECT 1 FROM main.history WHERE case_uuid = ? AND question_id IS ? AND field = ? AND reason = ? "
            "AND old_value IS ? AND new_value IS ? LIMIT 1",
            [uuid, question_id, field_name, CONFLICT_REASON, loser, winner],
        ).fetchone() is not None

    def _merge_answer(
        self, case: dict, rubric: Rubric, mine: dict, theirs: dict, mine_history: list[tuple], their_history: list[tuple],
        source: _Source,
    ) -> tuple[bool, bool]:
        """Resolve one answer held by both. Returns (answer row changed, history written)."""
        uuid, qid = mine["case_uuid"], mine["question_id"]
        changed = logged = False
        if (mine["value"], mine["state"]) != (theirs["value"], theirs["state"]):
            # a row that only holds an evidence note is no answer: it never outranks one
            mine_unanswered, theirs_unanswered = _never_answered(mine, mine_history), _never_answered(theirs, their_history)
            source_wins = (
                not theirs_unanswered and (mine_unanswered or _value_rank(theirs) > _value_rank(mine))
            )
            winner, loser = (theirs, mine) if source_wins else (mine, theirs)
            if mine_unanswered or theirs_unanswered:
                if source_wins:
                    self._history(uuid, qid, "value", None, theirs["value"], MERGE_REASON, source)
            elif mine["value"] != theirs["value"]:
                if not self._already_resolved(uuid, qid, "value", loser["value"], winner["value"]):
                    self._conflict(
                        case, qid, _question_text(rubric, qid), "value", mine["value"], theirs["value"],
                        _label(rubric, qid, mine["value"]), _label(rubric, qid, theirs["value"]),
                        mine["answered_at"], theirs["answered_at"], mine["answered_by"], theirs["answered_by"],
                        source_wins, source,
                    )
                    self._history(uuid, qid, "value", loser["value"], winner["value"], CONFLICT_REASON, source)
                    logged = True
            elif source_wins:
                self._history(uuid, qid, "state", mine["state"], theirs["state"], MERGE_REASON, source)
            if source_wins:
                self.db.execute(
                    "UPDATE main.answers SET value = ?, answered_by = ?, answered_at = ?, state = ? "
                    "WHERE case_uuid = ? AND question_id = ?",
                    [theirs["value"], theirs["answered_by"], theirs["answered_at"], theirs["state"], uuid, qid],
                )
                changed = True
        if (mine["note"] or None) != (theirs["note"] or None):
            note_changed, note_logged = self._merge_note(case, rubric, mine, theirs, mine_history, their_history, source)
            changed |= note_changed
            logged |= note_logged
        return changed, logged

    def _merge_note(
        self, case: dict, rubric: Rubric, mine: dict, theirs: dict, mine_history: list[tuple], their_history: list[tuple],
        source: _Source,
    ) -> tuple[bool, bool]:
        """An evidence note held by one side is kept; two different notes are a conflict, the later one wins."""
        uuid, qid = mine["case_uuid"], mine["question_id"]
        if not theirs["note"]:
            return False, False
        if not mine["note"]:
            self._set_note(uuid, qid, theirs["note"])
            self._history(uuid, qid, "note", None, theirs["note"], MERGE_REASON, source)
            return True, True
        mine_time, their_time = _note_time(mine, mine_history), _note_time(theirs, their_history)
        source_wins = (their_time, theirs["note"]) > (mine_time, mine["note"])
        winner, loser = (theirs["note"], mine["note"]) if source_wins else (mine["note"], theirs["note"])
        if self._already_resolved(uuid, qid, "note", loser, winner):
            return False, False
        self._conflict(
            case, qid, _question_text(rubric, qid), "note", mine["note"], theirs["note"], mine["note"], theirs["note"],
            mine_time, their_time, mine["answered_by"], theirs["answered_by"], source_wins, source,
        )
        self._history(uuid, qid, "note", loser, winner, CONFLICT_REASON, source)
        if source_wins:
            self._set_note(uuid, qid, theirs["note"])
        return source_wins, True

    def _set_note(self, uuid: str, qid: str, note: str) -> None:
        self.db.execute("UPDATE main.answers SET note = ? WHERE case_uuid = ? AND question_id = ?", [note, uuid, qid])

    def _conflict(
        self, case: dict, qid: str, question: str, field_name: str, target_code, source_code, target_label, source_label,
        target_time, source_time, target_by, source_by, source_wins: bool, source: _Source,
    ) -> None:
        self.result.conflicts.append(Conflict(
            case_uuid=case["uuid"], case_ref=case["case_ref"], site=case["site"], question_id=qid, question=question,
            field=field_name, target_code=target_code, source_code=source_code, target_label=target_label,
            source_label=source_label, target_time=target_time, source_time=source_time, target_by=target_by,
            source_by=source_by, kept="source" if source_wins else "target", source_path=source.shown,
            source_db_uuid=source.db_uuid,
        ))
        self._summary(source.index).conflicts += 1

    # -- after the cases ------------------------------------------------------------------
    def _find_duplicates(self) -> None:
        """(site, case_ref) pairs held by more than one UUID, among the cases this merge touched.

        Two spellings are one case when import would take them for one
        (:func:`audit.importer.case_key`: case and stray spaces ignored).
        """
        from audit.importer import key_text

        db = self.db
        db.conn.create_function("audit_key_part", 1, key_text, deterministic=True)
        db.execute(
            """CREATE TEMP TABLE staged_case_keys AS
               SELECT uuid, audit_key_part(site) AS site_key, audit_key_part(case_ref) AS ref_key FROM main.cases"""
        )
        db.execute(
            """CREATE TEMP TABLE staged_duplicates AS
               SELECT site_key, ref_key FROM staged_case_keys
               WHERE (site_key, ref_key) IN (SELECT k.site_key, k.ref_key FROM staged_cases s JOIN staged_case_keys k ON k.uuid = s.uuid)
               GROUP BY site_key, ref_key HAVING count(*) > 1"""
        )
        rows = db.execute(
            """SELECT d.site_key, d.ref_key, c.site, c.case_ref, c.uuid, c.inspector, c.status, c.origin_file
               FROM staged_duplicates d JOIN staged_case_keys k ON k.site_key = d.site_key AND k.ref_key = d.ref_key
               JOIN main.cases c ON c.uuid = k.uuid
               ORDER BY d.site_key, d.ref_key, c.created_at, c.uuid"""
        ).fetchall()
        groups: dict[tuple[str, str], list[DuplicateCase]] = {}
        for site_key, ref_key, site, case_ref, uuid, inspector, status, origin_file in rows:
            groups.setdefault((site_key, ref_key), []).append(DuplicateCase(uuid, inspector, status, origin_file, site, case_ref))
        # each group is named as its first case spells it
        self.result.duplicates = [Duplicate(cases[0].site, cases[0].case_ref, tuple(cases)) for cases in groups.values()]
        if groups:
            for src, count in db.execute(
                """SELECT s.src, count(*) FROM staged_cases s JOIN staged_case_keys k ON k.uuid = s.uuid
                   JOIN staged_duplicates d ON d.site_key = k.site_key AND d.ref_key = k.ref_key GROUP BY s.src"""
            ):
                self._summary(src).duplicates += count

    def _record_merges(self) -> None:
        self.db.conn.executemany(
            "INSERT INTO main.merges (merged_at, source_path, source_db_uuid, source_site, added, unchanged, updated, "
            "conflicts, duplicates) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (self.stamp, str(source.path), s.db_uuid, s.site, s.added, s.unchanged, s.updated, s.conflicts, s.duplicates)
                for source, s in zip(self.sources, self.result.sources)
            ],
        )


# --- helpers -------------------------------------------------------------------------------


def _attach_reads_uris(conn: sqlite3.Connection) -> bool:
    """Whether ATTACH on this connection reads 'file:...?mode=ro' as a URI (SQLITE_USE_URI)."""
    return any(row[0] == "USE_URI=1" for row in conn.execute("PRAGMA compile_options"))




def _value_rank(answer: dict) -> tuple[str, str, str, str]:
    """The order in which two versions of one answer win: the later ``answered_at``; on a tie the
    greater stored value (its JSON text), then 'retired' over 'current' (a retirement always comes
    after the answer it retires), then the greater ``answered_by``. A total order on the content,
    so the result never depends on which file is merged first."""
    return (answer["answered_at"] or "", answer["value"] or "", answer["state"] or "", answer["answered_by"] or "")


def _never_answered(answer: dict, history: list[tuple]) -> bool:
    """A row with no value whose side never gave one (its history has no value change): it holds only a note."""
    return answer["value"] is None and not any(row[1] == answer["question_id"] and row[2] == "value" for row in history)


def _note_time(answer: dict, history: list[tuple]) -> str:
    """When a note was last written: its latest 'note' history row, else the answer's time."""
    times = [row[6] for row in history if row[1] == answer["question_id"] and row[2] == "note" and row[6]]
    return max(times) if times else (answer["answered_at"] or "")


def _question_text(rubric: Rubric, qid: str) -> str:
    return rubric.question(qid).text if rubric.has_question(qid) else qid


def _label(rubric: Rubric, qid: str, stored: str | None) -> str:
    """An answer as people read it (option labels); '(blank)' for a cleared answer."""
    if stored is None:
        return "(blank)"
    value = decode(stored)
    if not rubric.has_question(qid):
        return str(value)
    try:
        return display(rubric.question(qid), value)
    except Exception:  # a code the rubric does not know: show it as stored
        return str(value)
