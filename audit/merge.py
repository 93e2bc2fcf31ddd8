"""Merging site databases into one: the lead's job. See ``docs/merge.md``.

How a merge runs:

1. Every input is checked by reading only: each source must be an audit
   database (not missing, corrupt, foreign, newer or altered outside the
   tool: :func:`audit.dbfile.inspect`), must not be the target's file, and
   its rubrics must match the target's (unless ``allow_rubric_change``).
   Then everything a source holds is checked value by value
   (:mod:`audit.dbcheck`): each rubric text against its hash, every answer
   against its rubric (codes, ranges, types, question ids, JSON), every
   identifier, status and time. All problems are listed at once, naming the
   file, case and question, and nothing is written.
2. Each source is ATTACHed read-only and its rows copied, in one read
   snapshot, into TEMP staging tables. A source is never written to.
3. One write transaction on TARGET does the rest; an error or a kill leaves
   TARGET as it was. Every write goes through the case service
   (:mod:`audit.cases`), which recounts each case it touches with TARGET's
   own counting and retires answers that stop applying, with history: a
   source's ``applies``/``counted`` are never copied.
   - Cases whose UUID is new are added (flagged as a possible duplicate of a
     case with the same site and case_ref, compared as the import compares).
   - Cases already in TARGET with identical content are left alone.
   - Every other case is merged answer by answer: the later ``answered_at``
     wins (ties: see :func:`_value_rank`); both values go to history. Case
     fields (reference, site, inspector, status, review, deletion) follow
     the copy updated later.
   - Before committing, a backup of the previous TARGET is taken, and a row
     per source is added to ``merges``.
   A merge that changes nothing, and a dry run, roll back: TARGET is
   untouched. A new TARGET is built under a temporary name and appears only
   when the merge is complete.
"""

from __future__ import annotations

import functools
import os
import sqlite3
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from audit import dbfile, schema
from audit.dbfile import FileInfo
from audit.cases import HISTORY_COLUMNS, CaseService
from audit.errors import AuditError, Problem, Problems
from audit.identity import key
from audit.rubric import Rubric
from audit.store import CASE_COLUMNS, Store, StoreError, current_user, decode, now
from audit.values import display

Progress = Callable[[str, int, int], None]

MERGE_REASON = "merge"
CONFLICT_REASON = "merge conflict"
#: how a note removed on purpose reads in the conflict report
REMOVED_NOTE = "(note removed)"
ANSWER_COLUMNS = ["case_uuid", "question_id", "value", "note", "answered_by", "answered_at", "state", "applies", "counted"]
#: case fields a merge reconciles (the copy updated later wins); a difference in the first three is reported as a conflict
CASE_FIELDS = ("case_ref", "site", "inspector", "status", "deleted_at", "deleted_reason", "review_comment", "review_question")
REPORTED_CASE_FIELDS = ("case_ref", "site", "inspector")
#: two quality-review decisions that differ are reported too (the later still wins)
REVIEW_STATUSES = ("approved", "returned")

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
    merged_before: str | None = None  # unchanged since TARGET merged it at this time: not read again


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


@dataclass(frozen=True)
class NamedSource:
    """A source read from ``path`` but named ``shown`` in messages, history and ``merges``: a
    bundle decrypted into a temporary file (:func:`audit.bundle.opened_bundles`)."""

    path: Path
    shown: str


@dataclass
class _Source:
    index: int
    shown: str  # as given
    path: Path  # absolute: the file read
    db_uuid: str
    site: str | None
    cases: int
    rubrics: list[tuple[str, str, str]]  # (rubric_id, version, sha256) of its cases
    named: Path | None = None  # absolute: the file as the lead gave it, when another is read (a bundle)
    merged_before: str | None = None  # TARGET merged it, unchanged since, at this time: it is skipped

    @property
    def recorded(self) -> Path:
        """How history, ``origin_file`` and ``merges`` name this source."""
        return self.named or self.path

    @property
    def origin(self) -> str:
        """How history rows name this source."""
        return f"{self.recorded} ({self.db_uuid})"


def _describe(path: Path) -> tuple[str, str | None, int, list[tuple[str, str, str]]]:
    """(db_uuid, site, case count, rubrics of its cases) of an audit database, read-only; refuses anything else.

    The file's schema is checked (:func:`audit.dbfile.inspect`, with ``integrity_check``);
    what it holds is checked value by value once staged (:meth:`_Merger._check_staged`).
    """
    made = dbfile.sidecars_absent(path)
    try:
        info = dbfile.look(path, integrity=True)
        if not info.current:
            raise StoreError(
                f"{path}: was written by an older audit (schema {info.schema_version}); upgrade it first with "
                f"`audit upgrade {path}` (on a copy, if it is not yours to change), then merge"
            )
        store = Store.open_read_only(path)
        try:
            for row in store.rubrics():  # each text against its hash, and its question and option rows against it
                store.rubric(row["sha256"])
            cases = store.conn.execute("SELECT count(*) FROM cases").fetchone()[0]
            rubrics = store.conn.execute(
                "SELECT DISTINCT rubric_id, rubric_version, rubric_sha256 FROM cases ORDER BY rubric_id, rubric_version"
            ).fetchall()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{path}: is corrupt or not an audit database ({exc}); restore it from a backup") from None
        finally:
            store.close()
        return info.db_uuid, info.site, cases, [tuple(r) for r in rubrics]
    finally:
        if made:
            dbfile.tidy_after_look(path)


def _change_token(meta: dict[str, str]) -> str | None:
    """A file's change token (``meta.change_id``), if it has the form the tool writes; untrusted text."""
    token = meta.get("change_id") or ""
    return token if len(token) == 32 and all(c in "0123456789abcdef" for c in token) else None


def _watermarks(target: Path) -> dict[tuple[str, str], tuple[str, int]]:
    """(source db_uuid, change token) -> (merged_at, cases) of every source TARGET merged, by reading only.

    TARGET is looked at without ``integrity_check``: this only decides which sources need not be
    read at all; before anything is written the full check runs (:func:`check_inputs`).
    """
    info = dbfile.look(target, integrity=False)
    if info.schema_version < 4:  # merges had no source_change column yet
        return {}
    conn = dbfile.connect_read_only(target)
    try:
        rows = conn.execute(
            "SELECT source_db_uuid, source_change, merged_at, added + unchanged + updated FROM merges "
            "WHERE source_change IS NOT NULL ORDER BY id"
        ).fetchall()
    except sqlite3.DatabaseError:
        return {}  # the full check below names what is wrong with it
    finally:
        conn.close()
        dbfile.tidy_after_look(target)
    return {(str(uuid), str(change)): (str(at), int(cases or 0)) for uuid, change, at, cases in rows}


def _already_merged(path: Path, watermarks: dict[tuple[str, str], tuple[str, int]]) -> tuple[FileInfo, str, int] | None:
    """(what a look found, when TARGET merged it, its cases then) when ``path`` holds the db_uuid and
    change token of a source TARGET merged: unchanged since, so nothing of it is read. A forged
    source that copies them is skipped whole: nothing of it reaches TARGET, so nothing goes unchecked."""
    try:
        info = dbfile.look(path, integrity=False)
    except StoreError:
        return None  # the full check says what is wrong
    token = _change_token(info.meta)
    if not info.current or token is None or (info.db_uuid, token) not in watermarks:
        return None
    merged_at, cases = watermarks[(info.db_uuid, token)]
    return info, merged_at, cases


def _same_file(a: Path, b: Path) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def check_inputs(
    target: Path, sources: Sequence[str | Path | NamedSource], *, allow_rubric_change: bool, reread: bool = False
) -> tuple[list[_Source], tuple[str, list[tuple[str, str, str]]] | None]:
    """Check TARGET and every source by reading only; raise :class:`Problems` listing every refusal.

    A source TARGET has merged before, unchanged since (the same db_uuid and change token as a row
    of ``merges``), is returned with ``merged_before`` set and is not read further; if every source
    is such, TARGET is not checked beyond its schema either, since nothing will be written.
    ``reread`` reads and compares every source all the same.
    """
    if not sources:
        raise AuditError("give at least one SOURCE database to merge into TARGET")
    target_info: tuple[str, list[tuple[str, str, str]]] | None = None
    watermarks: dict[tuple[str, str], tuple[str, int]] = {}
    if target.exists():
        if target.is_dir():
            raise AuditError(f"{target}: is a folder; give the path of the TARGET database file")
        watermarks = {} if reread else _watermarks(target)
    elif not target.parent.is_dir():
        raise AuditError(f"{target}: folder {target.parent} does not exist; create it first")

    problems: list[Problem] = []
    given_paths: list[tuple[str, Path]] = []
    pending: list[tuple[int, str, Path, Path | None, Any]] = []  # (index, where, path, named, merged-before look)
    for index, given in enumerate(sources):
        named = Path(given.shown).resolve() if isinstance(given, NamedSource) else None
        path = Path(given.path if isinstance(given, NamedSource) else given)
        where = given.shown if isinstance(given, NamedSource) else str(given)
        if not path.exists():
            problems.append(Problem(where, "does not exist; check the path"))
            continue
        if target.exists() and _same_file(path, target):
            problems.append(Problem(where, f"is the target {target} itself; a database cannot be merged into itself"))
            continue
        earlier = next((shown for shown, p in given_paths if _same_file(p, path)), None)
        if earlier is not None:
            problems.append(Problem(where, f"is given twice (also as {earlier}); give each source once"))
            continue
        given_paths.append((where, path))
        pending.append((index, where, path, named, _already_merged(path, watermarks) if watermarks else None))

    if target.exists() and any(before is None for *_, before in pending):
        info = dbfile.look(target, integrity=True)  # something may be written: the full check first
        conn = dbfile.connect_read_only(target)
        try:
            rubrics = [tuple(r) for r in conn.execute(
                "SELECT DISTINCT rubric_id, rubric_version, rubric_sha256 FROM cases ORDER BY rubric_id, rubric_version"
            )]
        finally:
            conn.close()
            dbfile.tidy_after_look(target)
        target_info = (info.db_uuid, rubrics)

    found: list[_Source] = []
    for index, where, path, named, before in pending:
        if before is not None:
            info, merged_at, cases = before
            found.append(_Source(index, where, path.resolve(), info.db_uuid, info.site, cases, [], named, merged_at))
            continue
        try:
            db_uuid, site, cases, rubrics = _describe(path)
        except StoreError as exc:  # a decrypted bundle is named as the lead gave it, not by its temporary file
            problems.append(Problem("", str(exc).replace(str(path), where) if named else str(exc)))
            continue
        # a copy of the target (same database id) that has since diverged is merged case by case like any source
        found.append(_Source(index, where, path.resolve(), db_uuid, site, cases, rubrics, named))

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
    sources: Sequence[str | Path | NamedSource],
    *,
    dry_run: bool = False,
    allow_rubric_change: bool = False,
    backup: bool = True,
    who: str | None = None,
    progress: Progress | None = None,
    reread: bool = False,
) -> MergeResult:
    """Merge every source into ``target`` in one transaction; see the module docstring.

    A source ``target`` merged before and unchanged since is not read again (its summary says
    ``merged_before``) unless ``reread``."""
    target_path = Path(target)
    found, target_info = check_inputs(target_path, sources, allow_rubric_change=allow_rubric_change, reread=reread)
    existed = target_path.exists()
    who = who or current_user()
    summaries = {
        s.index: SourceSummary(s.shown, s.db_uuid, s.site, s.cases, unchanged=s.cases if s.merged_before else 0,
                               merged_before=s.merged_before)
        for s in found
    }
    result = MergeResult(target=str(target_path), sources=list(summaries.values()), created=not existed, dry_run=dry_run)
    found = [s for s in found if s.merged_before is None]
    if not found:
        return result  # every source is unchanged since TARGET merged it: nothing read, nothing written
    if existed or dry_run:
        # an existing target was checked just now; a dry run into a new one creates nothing
        store = Store.open(target_path, create=False, check=False) if existed else Store.memory()
        try:
            store.verify_rubrics()  # the target's schema was checked just now; its rubrics are read here
            _Merger(store, found, result, who, progress, summaries).run(
                backup_of=target_path if existed and backup and not dry_run else None
            )
        finally:
            store.close()
        return result

    def build(conn: sqlite3.Connection) -> None:
        _Merger(Store.initialise(conn, str(target_path)), found, result, who, progress, summaries).run(backup_of=None)

    try:
        dbfile.create_atomically(target_path, build)  # appears whole, or not at all
    except FileExistsError:
        raise AuditError(
            f"{target_path}: was created by another program during the merge; nothing was merged; run the merge "
            "again to merge into it"
        ) from None
    return result


class _Merger:
    def __init__(self, store: Store, sources: list[_Source], result: MergeResult, who: str, progress: Progress | None,
                 summaries: dict[int, SourceSummary]):
        self.store = store
        self.db = store.db
        self.service = CaseService(store, who=who)
        self.sources = sources
        self.result = result
        self.who = who
        self.progress = progress
        self.stamp = now()
        self.by_index = {s.index: s for s in sources}
        self.summaries = summaries
        self.change_ids: dict[int, str | None] = {}  # source index -> its change token, read in the staged snapshot
        self.staged_total = 0
        self.total_cases = sum(s.cases for s in sources)
        self.phase = ""
        self.done = 0
        self.rubrics: dict[str, Rubric] = {}  # sha256 -> rubric, verified from its text
        self.touched: set[str] = set()  # uuids of cases this merge added or changed
        self._originals: dict[tuple[str, str], str | None] = {}  # identity key -> live original case, as known
        self._origins: dict[str, str] = {}  # uuid -> how history names its source

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
            "CREATE TEMP TABLE staged_rubrics AS SELECT sha256, rubric_id, text, 0 AS src FROM main.rubrics WHERE 0",
        ):
            db.execute(statement)
        for source in self.sources:
            self._advance(f"reading {source.shown}")
            self._stage(source, case_columns, answer_columns)
            self._advance(f"reading {source.shown}", source.cases)
        self.staged_total = db.execute("SELECT count(*) FROM staged_cases").fetchone()[0]

    def _stage(self, source: _Source, case_columns: str, answer_columns: str) -> None:
        src = source.index
        queries = [  # (staging table, SELECT from the source's schema S)
            ("staged_cases", f"SELECT {case_columns}, {src}, 0 FROM S.cases"),
            ("staged_answers", f"SELECT {answer_columns}, {src} FROM S.answers"),
            ("staged_history", f"SELECT id, {', '.join(HISTORY_COLUMNS)}, {src} FROM S.history"),
            ("staged_rubrics", f"SELECT sha256, rubric_id, text, {src} FROM S.rubrics"),
        ]
        made = dbfile.sidecars_absent(source.path)
        try:
            # the change token is read in the same snapshot as the rows: the watermark recorded
            # never claims more than was staged, even while the source's UI writes
            meta = dict(self._stage_from(source.path, queries + [("", "SELECT key, value FROM S.meta WHERE key = 'change_id'")]))
            self.change_ids[src] = _change_token({str(k): str(v) for k, v in meta.items()})
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"{source.shown}: cannot be read ({exc}); it may be damaged, restore it from a backup") from None
        finally:
            if made:
                dbfile.tidy_after_look(source.path)

    def _stage_from(self, path: Path, queries: list[tuple[str, str]]) -> list[tuple]:
        """Run ``queries`` on the source in one read snapshot: (staging table, SELECT) rows go into the
        table; the rows of a query with no table are returned."""
        if _attach_reads_uris(self.db.conn) and dbfile.attach_read_only(self.store.conn, path, "merge_source"):
            return self._stage_attached(queries)
        return self._stage_streamed(path, queries)

    def _stage_attached(self, queries: list[tuple[str, str]]) -> list[tuple]:
        """Set-based: the source is ATTACHed read-only (with its own key, if encrypted): INSERT ... SELECT
        from it (triggers never fire on reads)."""
        conn = self.store.conn
        read: list[tuple] = []
        try:
            conn.execute("BEGIN")  # one read snapshot of the source, even if its UI is writing
            try:
                for table, select in queries:
                    select = select.replace("S.", "merge_source.")
                    if table:
                        conn.execute(f"INSERT INTO {table} {select}")
                    else:
                        read += conn.execute(select).fetchall()
            finally:
                conn.execute("COMMIT")  # only TEMP tables were written
        finally:
            conn.execute("DETACH DATABASE merge_source")
        return read

    def _stage_streamed(self, path: Path, queries: list[tuple[str, str]]) -> list[tuple]:
        """For an SQLite built without URI support in ATTACH (which would otherwise create a file
        named after the URI), or a source and target of which one is encrypted and the other not
        (two SQLite libraries): read through a read-only connection of our own instead."""
        source = dbfile.connect_read_only(path)
        read: list[tuple] = []
        try:
            source.execute("BEGIN")  # one read snapshot
            for table, select in queries:
                cursor = source.execute(select.replace("S.", ""))
                if not table:
                    read += cursor.fetchall()
                    continue
                marks = ", ".join("?" * len(cursor.description))
                self.db.conn.executemany(f"INSERT INTO {table} VALUES ({marks})", cursor)
        finally:
            source.close()
        return read

    def _check_staged(self) -> None:
        """Everything staged, value by value, against its own verified rubric: a bad source is refused
        whole, naming the file, case and question; nothing is written from any source."""
        from audit.dbcheck import ContentReport, check_rows
        from audit.store import parse_stored_rubric

        problems: list[Problem] = []
        for source in self.sources:
            report = ContentReport()
            rubrics: dict[str, Rubric] = {}
            for sha, rubric_id, text in self.db.execute(
                "SELECT sha256, rubric_id, text FROM staged_rubrics WHERE src = ?", [source.index]
            ).fetchall():
                try:
                    rubrics[sha] = self.rubrics.get(sha) or parse_stored_rubric(sha, text, rubric_id, source.shown)
                except StoreError as exc:
                    report.add(str(exc).split(": ", 1)[-1])
            check_rows(self.store.conn, rubrics, report, tables=("staged_cases", "staged_answers", "staged_history"),
                       where="src = ?", params=(source.index,))
            self.rubrics.update(rubrics)
            problems += [Problem(source.shown, message) for message in report.problems]
            if report.total > len(report.problems):
                problems.append(Problem(source.shown, f"... and {report.total - len(report.problems):,} more problems"))
        if problems:
            raise Problems(problems, summary=(
                f"nothing was merged; {self.result.target} is unchanged; these files hold data the tool could not have "
                "written (they were altered outside it): ask the site for a fresh copy"
            ))

    # -- the transaction ------------------------------------------------------------------
    def run(self, *, backup_of: Path | None) -> None:
        try:
            self._stage_all()
            self._check_staged()
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
            for table in ("staged_cases", "staged_answers", "staged_history", "staged_rubrics"):
                try:
                    self.db.execute(f"DROP TABLE IF EXISTS temp.{table}")
                except sqlite3.Error:
                    pass

    def _copy_rubrics(self) -> None:
        """Bring in each source rubric TARGET lacks, from its verified text (questions and options are
        derived from it here, never copied): cases keep their rubric."""
        have = {r[0] for r in self.db.execute("SELECT sha256 FROM main.rubrics")}
        for sha, rubric in sorted(self.rubrics.items()):
            if sha not in have:
                self.store.add_rubric(rubric)

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
        db.execute("CREATE INDEX temp.staged_answers_case ON staged_answers(case_uuid, src)")
        db.execute("CREATE INDEX temp.staged_history_case ON staged_history(case_uuid, src)")
        if not db.execute(f"SELECT 1 FROM staged_cases WHERE kind != {NEW} LIMIT 1").fetchone():
            return
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
        """Every NEW case, through the case service, in batches: its verdicts decided by TARGET's counting."""
        db = self.db
        for src, count in db.execute(f"SELECT src, count(*) FROM staged_cases WHERE kind = {SAME} GROUP BY src"):
            self._summary(src).unchanged += count
        rows = db.execute(
            f"SELECT {', '.join(CASE_COLUMNS)}, src FROM staged_cases WHERE kind = {NEW} ORDER BY uuid"
        ).fetchall()
        label = f"writing {self.result.target}"
        for start in range(0, len(rows), 500):
            chunk = rows[start:start + 500]
            uuids = [row[0] for row in chunk]
            marks = ", ".join("?" * len(uuids))
            answers: dict[str, dict[str, dict]] = {}  # as the case service takes them (_service_rows), built once
            for uuid, qid, value, note, by, at, state in db.execute(
                    f"SELECT case_uuid, question_id, value, note, answered_by, answered_at, state FROM staged_answers "
                    f"WHERE case_uuid IN ({marks})", uuids):
                answers.setdefault(uuid, {})[qid] = {"value": _decoded(value), "note": note, "answered_by": by,
                                                     "answered_at": at, "state": state, "applies": False, "counted": False}
            history: dict[str, list[tuple]] = {}
            for row in db.execute(
                f"SELECT {', '.join(HISTORY_COLUMNS)}, src FROM staged_history WHERE case_uuid IN ({marks}) ORDER BY case_uuid, id",
                uuids,
            ):
                history.setdefault(row[0], []).append(row)
            items = []
            for row in chunk:
                staged, source = dict(zip(CASE_COLUMNS, row)), self.by_index[row[-1]]
                items.append(self._new_case(staged, answers.get(staged["uuid"], {}), history.get(staged["uuid"], []), source))
                self._summary(source.index).added += 1
            self.service.insert_merged(items, self._origin_of)
            self._advance(label, len(chunk))

    def _origin_of(self, case: dict) -> str:
        return self._origins[case["uuid"]]

    def _new_case(self, staged: dict, answers: dict[str, dict], history: list[tuple], source: _Source) -> tuple:
        """One item for :meth:`CaseService.insert_merged`, flagged as a duplicate of a live case with its site and ref
        (``answers`` as the service takes them: :func:`_service_rows`)."""
        case = {**staged, "origin_db": source.db_uuid, "origin_file": str(source.recorded), "duplicate_of": None}
        duplicate_of = None
        if staged.get("copy_of") is None and staged.get("deleted_at") is None:
            pair = (key(staged["site"]), key(staged["case_ref"]))
            if pair not in self._originals:
                found = self.db.execute(
                    "SELECT uuid FROM main.cases WHERE site_key = ? AND ref_key = ? AND duplicate_of IS NULL "
                    "AND copy_of IS NULL AND deleted_at IS NULL", list(pair),
                ).fetchone()
                self._originals[pair] = found[0] if found else None
            duplicate_of = self._originals[pair]
            if duplicate_of is None:
                self._originals[pair] = staged["uuid"]  # the first to arrive stays the original
        self._origins[staged["uuid"]] = source.origin
        self.touched.add(staged["uuid"])
        trail = [(*h[:8], h[8] or source.origin) for h in history]
        return case, answers, trail, duplicate_of

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
        plan = _Plan(uuid, {qid: dict(row) for qid, row in target_answers.items()})
        self._merge_case_fields(target_case, staged, source, plan)
        for qid in sorted(copy_answers):
            mine, theirs = target_answers.get(qid), copy_answers[qid]
            if mine is None:
                self._add_answer(theirs, source, plan)
                continue
            self._merge_answer(target_case, rubric, mine, theirs, target_history, copy_history, source, plan)
        # the source's own trail of what it changed, where TARGET lacks it (a copy that
        # changed nothing brings nothing, so the same content always merges as 'unchanged')
        if plan.changed or plan.history or plan.case_fields:
            for row in copy_history:
                if row[:8] not in recorded:
                    plan.history.append((*row[:8], row[8] or source.origin))
                    recorded.add(row[:8])
        if not (plan.changed or plan.history or plan.case_fields):
            return "unchanged"
        if plan.changed:
            plan.case_fields["updated_at"] = max(target_case["updated_at"], staged["updated_at"])
        self.service.update_merged(uuid, plan.case_fields, _service_rows(plan.rows), plan.changed, plan.history, source.origin)
        self.touched.add(uuid)
        return "updated"

    def _insert_case(self, staged: dict, answers: dict[str, dict], history: list[tuple], source: _Source) -> None:
        self.service.insert_merged([self._new_case(staged, _service_rows(answers), history, source)], self._origin_of)

    def _add_answer(self, theirs: dict, source: _Source, plan: _Plan) -> None:
        qid = theirs["question_id"]
        plan.rows[qid] = dict(theirs)
        plan.changed.add(qid)
        if theirs["value"] is not None:
            plan.log(qid, "value", None, theirs["value"], MERGE_REASON, self, source)
        if theirs["note"]:
            plan.log(qid, "note", None, theirs["note"], MERGE_REASON, self, source)

    def _merge_case_fields(self, target_case: dict, staged: dict, source: _Source, plan: _Plan) -> None:
        """Case fields: the copy updated later wins. Reference, site and inspector held differently are conflicts."""
        differing = [name for name in CASE_FIELDS if target_case[name] != staged[name]]
        if not differing:
            return
        mine = (target_case["updated_at"] or "", *[target_case[n] or "" for n in CASE_FIELDS])
        theirs = (staged["updated_at"] or "", *[staged[n] or "" for n in CASE_FIELDS])
        source_wins = theirs > mine
        uuid = target_case["uuid"]
        for name in differing:
            winner, loser = (staged[name], target_case[name]) if source_wins else (target_case[name], staged[name])
            reported = name in REPORTED_CASE_FIELDS or _review_conflict(name, target_case[name], staged[name])
            if reported and not self._already_resolved(uuid, None, name, loser, winner):
                self._conflict(target_case, "", name, name, target_case[name], staged[name], target_case[name] or "",
                               staged[name] or "", target_case["updated_at"], staged["updated_at"], None, None,
                               source_wins, source)
                plan.log(None, name, loser, winner, CONFLICT_REASON, self, source)
            if source_wins:
                plan.case_fields[name] = staged[name]
        if source_wins:
            plan.case_fields["updated_at"] = staged["updated_at"]

    def _already_resolved(self, uuid: str, question_id: str | None, field_name: str, loser: Any, winner: Any) -> bool:
        """A conflict an earlier merge already recorded (so merging the same file again changes nothing)."""
        return self.db.execute(
            "SELECT 1 FROM main.history WHERE case_uuid = ? AND question_id IS ? AND field = ? AND reason = ? "
            "AND old_value IS ? AND new_value IS ? LIMIT 1",
            [uuid, question_id, field_name, CONFLICT_REASON, loser, winner],
        ).fetchone() is not None

    def _merge_answer(
        self, case: dict, rubric: Rubric, mine: dict, theirs: dict, mine_history: list[tuple], their_history: list[tuple],
        source: _Source, plan: _Plan,
    ) -> None:
        """Resolve one answer held by both, into ``plan``."""
        uuid, qid = mine["case_uuid"], mine["question_id"]
        if (mine["value"], mine["state"]) != (theirs["value"], theirs["state"]):
            # a row that only holds an evidence note is no answer: it never outranks one
            mine_unanswered, theirs_unanswered = _never_answered(mine, mine_history), _never_answered(theirs, their_history)
            source_wins = (
                not theirs_unanswered and (mine_unanswered or _value_rank(theirs) > _value_rank(mine))
            )
            winner, loser = (theirs, mine) if source_wins else (mine, theirs)
            if mine_unanswered or theirs_unanswered:
                if source_wins:
                    plan.log(qid, "value", None, theirs["value"], MERGE_REASON, self, source)
            elif mine["value"] != theirs["value"]:
                if not self._already_resolved(uuid, qid, "value", loser["value"], winner["value"]):
                    self._conflict(
                        case, qid, _question_text(rubric, qid), "value", mine["value"], theirs["value"],
                        _label(rubric, qid, mine["value"]), _label(rubric, qid, theirs["value"]),
                        mine["answered_at"], theirs["answered_at"], mine["answered_by"], theirs["answered_by"],
                        source_wins, source,
                    )
                    plan.log(qid, "value", loser["value"], winner["value"], CONFLICT_REASON, self, source)
            elif source_wins:
                plan.log(qid, "state", mine["state"], theirs["state"], MERGE_REASON, self, source)
            if source_wins:
                plan.rows[qid].update(
                    value=theirs["value"], answered_by=theirs["answered_by"], answered_at=theirs["answered_at"],
                    state=theirs["state"],
                )
                plan.changed.add(qid)
        if (mine["note"] or None) != (theirs["note"] or None):
            self._merge_note(case, rubric, mine, theirs, mine_history, their_history, source, plan)

    def _merge_note(
        self, case: dict, rubric: Rubric, mine: dict, theirs: dict, mine_history: list[tuple], their_history: list[tuple],
        source: _Source, plan: _Plan,
    ) -> None:
        """An evidence note held by one side is kept, unless the other side removed it on purpose (as a
        cleared answer competes); two different notes, or a note and its removal, are a conflict: the one
        written later wins."""
        uuid, qid = mine["case_uuid"], mine["question_id"]
        mine_note, their_note = mine["note"] or None, theirs["note"] or None
        if their_note is None and not _note_removed(theirs, their_history):
            return
        if mine_note is None and not _note_removed(mine, mine_history):
            plan.rows[qid]["note"] = their_note
            plan.changed.add(qid)
            plan.log(qid, "note", None, their_note, MERGE_REASON, self, source)
            return
        mine_time, their_time = _note_time(mine, mine_history), _note_time(theirs, their_history)
        source_wins = (their_time, their_note or "") > (mine_time, mine_note or "")
        winner, loser = (their_note, mine_note) if source_wins else (mine_note, their_note)
        if self._already_resolved(uuid, qid, "note", loser, winner):
            return
        self._conflict(
            case, qid, _question_text(rubric, qid), "note", mine_note, their_note, mine_note or REMOVED_NOTE,
            their_note or REMOVED_NOTE, mine_time, their_time, mine["answered_by"], theirs["answered_by"], source_wins,
            source,
        )
        plan.log(qid, "note", loser, winner, CONFLICT_REASON, self, source)
        if source_wins:
            plan.rows[qid]["note"] = their_note
            plan.changed.add(qid)

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
        """(site, case_ref) pairs held by more than one live case, among the cases this merge touched.

        A moderation copy shares its case's reference by design (``copy_of`` links them): never a duplicate.

        Two spellings are one case when import would take them for one (:func:`audit.identity.key`).
        """
        db = self.db
        db.execute("CREATE TEMP TABLE staged_touched (uuid TEXT PRIMARY KEY)")
        try:
            db.conn.executemany("INSERT INTO staged_touched VALUES (?)", [(u,) for u in sorted(self.touched)])
            rows = db.execute(
                """SELECT c.site_key, c.ref_key, c.site, c.case_ref, c.uuid, c.inspector, c.status, c.origin_file
                   FROM main.cases c
                   JOIN (SELECT DISTINCT k.site_key, k.ref_key FROM main.cases k JOIN staged_touched t ON t.uuid = k.uuid
                         WHERE k.deleted_at IS NULL AND k.copy_of IS NULL) d
                        ON d.site_key = c.site_key AND d.ref_key = c.ref_key
                   WHERE c.deleted_at IS NULL AND c.copy_of IS NULL
                   ORDER BY c.site_key, c.ref_key, c.created_at, c.uuid"""
            ).fetchall()
        finally:
            db.execute("DROP TABLE temp.staged_touched")
        groups: dict[tuple[str, str], list[DuplicateCase]] = {}
        for site_key, ref_key, site, case_ref, uuid, inspector, status, origin_file in rows:
            groups.setdefault((site_key, ref_key), []).append(DuplicateCase(uuid, inspector, status, origin_file, site, case_ref))
        groups = {pair: cases for pair, cases in groups.items() if len(cases) > 1}
        # each group is named as its first case spells it
        self.result.duplicates = [Duplicate(cases[0].site, cases[0].case_ref, tuple(cases)) for cases in groups.values()]
        in_groups = {case.uuid for cases in groups.values() for case in cases}
        for src, uuid in db.execute("SELECT src, uuid FROM staged_cases"):
            if uuid in in_groups:
                self._summary(src).duplicates += 1

    def _record_merges(self) -> None:
        self.db.conn.executemany(
            "INSERT INTO main.merges (merged_at, source_path, source_db_uuid, source_site, added, unchanged, updated, "
            "conflicts, duplicates, source_change) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (self.stamp, str(source.recorded), s.db_uuid, s.site, s.added, s.unchanged, s.updated, s.conflicts,
                 s.duplicates, self.change_ids.get(source.index))
                for source, s in ((source, self._summary(source.index)) for source in self.sources)
            ],
        )


@dataclass
class _Plan:
    """What merging one source's copy of a case will change: answer rows (stored form), case fields, history."""

    uuid: str
    rows: dict[str, dict]
    changed: set[str] = field(default_factory=set)
    case_fields: dict[str, Any] = field(default_factory=dict)
    history: list[tuple] = field(default_factory=list)

    def log(self, question_id: str | None, field_name: str, old: Any, new: Any, reason: str, merger: _Merger,
            source: _Source) -> None:
        self.history.append((self.uuid, question_id, field_name, old, new, merger.who, merger.stamp, reason, source.origin))


def _service_rows(rows: dict[str, dict]) -> dict[str, dict]:
    """Answer rows as the case service takes them: decoded values; verdicts are the service's to decide."""
    return {
        qid: {"value": _decoded(row["value"]), "note": row["note"], "answered_by": row["answered_by"],
              "answered_at": row["answered_at"], "state": row["state"], "applies": False, "counted": False}
        for qid, row in rows.items()
    }


@functools.lru_cache(maxsize=4096)
def _decoded_text(text: str) -> Any:
    return decode(text)


def _decoded(text: str | None) -> Any:
    """Stored JSON decoded, remembering the few codes that make up most answers (lists are copied:
    nobody may share a mutable answer)."""
    if text is None or len(text) > 64:
        return decode(text)
    value = _decoded_text(text)
    return list(value) if isinstance(value, list) else value


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


def _review_conflict(name: str, mine: Any, theirs: Any) -> bool:
    """Two review decisions on one case that differ: approved on one side and returned on the other,
    or two different return comments (a decision on one side only is an update, not a conflict)."""
    if name == "status":
        return mine in REVIEW_STATUSES and theirs in REVIEW_STATUSES
    return name == "review_comment" and bool(mine) and bool(theirs)


def _never_answered(answer: dict, history: list[tuple]) -> bool:
    """A row with no value whose side never gave one (its history has no value change): it holds only a note."""
    return answer["value"] is None and not any(row[1] == answer["question_id"] and row[2] == "value" for row in history)


def _note_removed(answer: dict, history: list[tuple]) -> bool:
    """Whether a side holding no note removed one on purpose: its latest 'note' history row empties it."""
    rows = [row for row in history if row[1] == answer["question_id"] and row[2] == "note" and row[6]]
    return bool(rows) and not max(rows, key=lambda row: row[6])[4]


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
