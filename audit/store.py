"""The case store: an open audit database and the queries that read it.

Roles are split by module:

* :mod:`audit.dbfile` decides how a file is looked at, checked, opened and created;
* :mod:`audit.schema` holds the migrations and the allow-list of schema objects;
* this module opens a :class:`Store` (writable, or truly read-only) and reads;
* :mod:`audit.cases` (the case service) is the only writer of cases, answers
  and history.

One :class:`Store` wraps one connection; use one per thread.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import getpass
import json
import os
import sqlite3
import uuid as uuidlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from audit import dbfile
from audit.counting import COUNTING_VERSION, percent
from audit.errors import DatabaseBusy, StoreError
from audit import schema
from audit.schema import APPLICATION_ID, SCHEMA_VERSION, migrate, unexpected_objects

if TYPE_CHECKING:
    import sqlite_utils

    from audit.cases import Outcome
    from audit.engine import Evaluation
    from audit.rubric import Rubric

# The rubric engine (pydantic models and all) and sqlite-utils are imported
# where first used, not here: the UI's case list needs only plain SQL reads,
# and its first page appears ~100 ms sooner.

__all__ = [
    "APPLICATION_ID", "SCHEMA_VERSION", "STATUS_IN_PROGRESS", "STATUS_COMPLETE", "STATUS_APPROVED", "STATUS_RETURNED",
    "STATUSES", "FILE_MODE", "Case", "NewCase", "SaveResult", "Store", "StoreError", "DatabaseBusy", "CASE_COLUMNS",
    "now", "current_user", "encode", "decode", "read_only_uri",
]

STATUS_IN_PROGRESS = "in_progress"
STATUS_COMPLETE = "complete"
STATUS_APPROVED = "approved"
STATUS_RETURNED = "returned"
STATUSES = (STATUS_IN_PROGRESS, STATUS_COMPLETE, STATUS_APPROVED, STATUS_RETURNED)
#: statuses in which a case's answers are read-only until it is reopened
LOCKED_STATUSES = (STATUS_COMPLETE, STATUS_APPROVED)
FILE_MODE = dbfile.FILE_MODE
read_only_uri = dbfile.read_only_uri


def now() -> str:
    """UTC time as sortable ISO text with microseconds."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def current_user() -> str:
    """Who is at the keyboard: ``$AUDIT_USER``, else the name set with ``audit user set``, else the login name."""
    named = os.environ.get("AUDIT_USER")
    if named:
        return named
    from audit.people import configured_user

    configured = configured_user()
    if configured:
        return configured
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


def encode(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


def decode(text: str | None) -> Any:
    return None if text is None else json.loads(text)


# --- records -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    uuid: str
    case_ref: str
    site: str
    inspector: str | None
    status: str
    created_at: str
    updated_at: str
    rubric_id: str
    rubric_version: str
    rubric_sha256: str
    applicable_count: int = 0
    answered_count: int = 0
    origin_db: str | None = None
    origin_file: str | None = None
    duplicate_of: str | None = None
    copy_of: str | None = None
    deleted_at: str | None = None
    deleted_reason: str | None = None
    review_comment: str | None = None
    review_question: str | None = None
    #: the case's key inside this file (schema 5), never outside it: the UUID is its identity
    id: int = 0

    @property
    def percent_answered(self) -> int:
        """Progress, rounded down: 100 only when every question that applies is answered."""
        if self.applicable_count <= 0:
            return 0
        return (100 * self.answered_count) // self.applicable_count

    @property
    def deleted(self) -> bool:
        return self.deleted_at is not None

    @property
    def locked(self) -> bool:
        """Complete or approved: its answers change only after it is reopened."""
        return self.status in LOCKED_STATUSES


#: a case's columns as merges, exports and sources see them (its file-local id aside)
CASE_COLUMNS = [f for f in Case.__dataclass_fields__ if f != "id"]
#: the columns a Case is built from, in order
CASE_ROW = [*CASE_COLUMNS, "id"]


@dataclass
class NewCase:
    """A case for bulk insertion (import, demo), with its answers already checked."""

    case_ref: str
    site: str
    rubric: Rubric
    answers: dict[str, Any]
    inspector: str | None = None
    uuid: str = field(default_factory=lambda: str(uuidlib.uuid4()))
    status: str = STATUS_IN_PROGRESS
    evaluation: Evaluation | None = None
    notes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SaveResult:
    """What one saved answer changed (the older interface; see :class:`audit.cases.Outcome`)."""

    question_id: str
    value: Any
    retired: list[str]
    status: str


#: rubrics parsed from stored text that hashed to its key, by (sha256, text): every connection
#: of this process (the UI's readers, say) shares them instead of parsing the YAML again
_PARSED: dict[tuple[str, str], Rubric] = {}


def parse_stored_rubric(sha256: str, text: Any, rubric_id: Any, where: str) -> Rubric:
    """A rubric as a database stores it, refused unless its text hashes to its key and parses
    (within the YAML reader's bounds)."""
    from audit.errors import Problems
    from audit.rubric import parse_rubric, text_sha256

    shown = str(rubric_id)[:60]
    if not isinstance(text, str) or text_sha256(text) != sha256:
        raise StoreError(
            f"{where}: the stored text of rubric '{shown}' does not match its sha256 {str(sha256)[:12]}; it was altered "
            "outside the tool; restore the file from a backup"
        )
    found = _PARSED.get((sha256, text))
    if found is not None:
        return found
    try:
        rubric = parse_rubric(text, f"{where}:rubric {shown}")
    except Problems as exc:
        raise StoreError(f"{where}: its stored rubric '{shown}' cannot be read ({exc.problems[0]})") from None
    if len(_PARSED) > 32:
        _PARSED.clear()
    _PARSED[(sha256, text)] = rubric
    return rubric


# --- opening -------------------------------------------------------------------------------


def _initialise(conn: sqlite3.Connection, site: str | None) -> None:
    """Schema and identity of a new, empty file (inside the caller's transaction or a fresh file)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        migrate(conn, 0)
        conn.executemany(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
            [
                ("db_uuid", str(uuidlib.uuid4())), ("site", site or ""), ("created_at", now()), ("app", "audit"),
                ("counting_version", str(COUNTING_VERSION)),
            ],
        )
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


class Store:
    """An open audit database. Use :meth:`open`, :meth:`open_read_only` or :meth:`memory`."""

    def __init__(self, conn: sqlite3.Connection, path: str | None, db: sqlite_utils.Database | None = None,
                 *, read_only: bool = False):
        conn.isolation_level = None  # autocommit: every write takes BEGIN IMMEDIATE itself
        self.conn = conn
        self._db = db
        self.path = path
        self.read_only = read_only
        self._rubrics: dict[str, Rubric] = {}
        self._meta: dict[str, str] = {}
        self._tidy_on_close: Path | None = None  # a read-only look that made SQLite create -wal/-shm
        #: whether the file had been closed cleanly when :meth:`open` opened it (docs/reliability.md)
        self.closed_cleanly = True

    @property
    def db(self) -> sqlite_utils.Database:
        """The sqlite-utils view of the connection, made on first use."""
        if self._db is None:
            import sqlite_utils

            # No sqlite-utils plugins: third-party code has no business with case
            # data, and scanning for them costs ~10 ms.
            self._db = sqlite_utils.Database(self.conn, execute_plugins=False)
        return self._db

    # -- lifecycle -----------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, *, create: bool = True, site: str | None = None, check: bool = True) -> "Store":
        """Open an audit database for writing, creating it (atomically) if absent and ``create``.

        The file is checked by reading only before anything is written: see
        :func:`audit.dbfile.inspect`; ``check`` adds ``PRAGMA integrity_check``. An
        older file is upgraded in one transaction, and recounted if the counting
        rules changed since it was written.
        """
        path = Path(path)
        shown = str(path)
        if not path.exists() and not path.is_symlink():
            if not create:
                raise dbfile.refuse(shown, "does not exist; check the path")
            dbfile.check_path(path, must_exist=False)
            try:
                dbfile.create_atomically(path, lambda conn: _initialise(conn, site))
            except FileExistsError:
                pass  # another process made it meanwhile: open theirs, checked like any file
        clean = dbfile.closed_cleanly(path)  # before this open makes a -wal of its own
        dbfile.recover(path)  # an interrupted bulk write's hot -journal, rolled back by SQLite
        info = dbfile.look(path, integrity=check)
        try:
            conn = dbfile.connect_writable(path)
        except sqlite3.Error as exc:
            raise dbfile.refuse(shown, f"cannot be opened for writing ({exc})") from None
        store = cls(conn, shown)
        store.closed_cleanly = clean
        try:
            try:
                # checked again on the connection that will write: the file may have changed since the look
                foreign = unexpected_objects(conn, info.schema_version)
                store._configure()
            except sqlite3.Error as exc:
                if dbfile.is_busy(exc):
                    raise dbfile.busy(shown) from None
                raise dbfile.refuse(
                    shown, f"cannot be opened for writing ({exc}); its folder must be writable too (SQLite keeps "
                    "-wal and -shm files beside it): check the folder's permissions, or copy the file to a writable folder",
                ) from None
            if foreign:
                raise dbfile.refuse(shown, f"holds a schema object the tool did not make: {foreign[0]}; it is not opened")
            if check:
                store.verify_rubrics()
            store._upgrade(info.schema_version)
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    def open_read_only(cls, path: str | Path, *, check: bool = False) -> "Store":
        """Open an existing audit database to read only: ``mode=ro``, no journal change, no migration.

        A file that needs upgrading (an older schema, or verdicts counted under older
        rules) is refused with what to do, since reading it would give stale numbers.
        """
        path = Path(path)
        shown = str(path)
        dbfile.check_path(path)
        made = dbfile.sidecars_absent(path)
        conn = dbfile.connect_read_only(path)
        try:
            info = dbfile.inspect(conn, shown, integrity=check)
            if not info.current or info.meta.get("counting_version") != str(COUNTING_VERSION):
                raise dbfile.refuse(
                    shown, f"was written by an older audit (schema {info.schema_version}); upgrade it first with "
                    f"`audit upgrade {shown}` (it is changed in place, in one transaction), then try again",
                )
        except BaseException:
            conn.close()
            if made:
                dbfile.tidy_after_look(path)
            raise
        store = cls(conn, shown, read_only=True)
        store._tidy_on_close = path if made else None
        store._meta.update(info.meta)
        try:
            store.verify_rubrics()
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    def on_connection(cls, conn: sqlite3.Connection, path: str | Path) -> "Store":
        """A store on a writable connection of the caller's (:func:`audit.dbfile.bulk_write`) to a file
        already opened and checked with :meth:`open`; its schema is checked again on this connection,
        and its journal mode is the caller's."""
        shown = str(path)
        try:
            foreign = unexpected_objects(conn, SCHEMA_VERSION)
            conn.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            if dbfile.is_busy(exc):
                raise dbfile.busy(shown) from None
            raise dbfile.refuse(shown, f"cannot be opened for writing ({exc})") from None
        if foreign:
            raise dbfile.refuse(shown, f"holds a schema object the tool did not make: {foreign[0]}; it is not opened")
        return cls(conn, shown)

    @classmethod
    def memory(cls, site: str | None = None) -> "Store":
        """An in-memory store, for tests."""
        import sqlite_utils

        db = sqlite_utils.Database(memory=True, execute_plugins=False)
        _initialise(db.conn, site)
        store = cls(db.conn, None, db)
        store._configure()
        return store

    @classmethod
    def initialise(cls, conn: sqlite3.Connection, path: str, site: str | None = None) -> "Store":
        """A store on a connection to a new, empty file (for :func:`audit.dbfile.create_atomically`)."""
        _initialise(conn, site)
        store = cls(conn, path)
        conn.execute("PRAGMA foreign_keys = ON")
        return store

    def set_busy_timeout(self, seconds: float) -> None:
        """How long a write waits for another program's lock before :class:`DatabaseBusy`."""
        self.conn.execute(f"PRAGMA busy_timeout = {int(seconds * 1000)}")

    def _configure(self) -> None:
        self.set_busy_timeout(dbfile.BUSY_TIMEOUT_S)
        self.conn.execute("PRAGMA foreign_keys = ON")
        if self.path is not None:
            mode = self.conn.execute("PRAGMA journal_mode").fetchone()[0]
            if mode != "wal":
                self.conn.execute("PRAGMA journal_mode = wal")

    def _upgrade(self, version: int) -> None:
        """Migrate an older schema, and recount verdicts written under older counting rules: one transaction."""
        counted_under = self.meta("counting_version")
        if version >= schema.SCHEMA_VERSION and counted_under == str(COUNTING_VERSION):
            return
        from audit.cases import CaseService

        try:
            with self.transaction():
                if version < schema.SCHEMA_VERSION:
                    migrate(self.conn, version)
                CaseService(self, who="audit upgrade").recount_all()
                self.conn.execute(
                    "INSERT OR REPLACE INTO meta (key, value) VALUES ('counting_version', ?)", [str(COUNTING_VERSION)]
                )
        except (sqlite3.Error, StoreError) as exc:
            if isinstance(exc, DatabaseBusy):
                raise
            raise dbfile.refuse(
                self.path, f"cannot be upgraded to schema {schema.SCHEMA_VERSION} ({exc}); nothing was changed; restore it "
                "from a backup or report this",
            ) from None
        self._meta.clear()

    def give_back_free_space(self, *, at_least: float = 0.1) -> int:
        """VACUUM when at least ``at_least`` of the file is free pages (after a migration that rebuilt its
        tables, most of the old file is); returns the bytes given back. One SQLite operation: a kill midway
        leaves the file as it was. It needs disk for a second copy of the data while it runs."""
        if self.read_only:
            return 0
        size = self.conn.execute("PRAGMA page_size").fetchone()[0]
        pages, free = (self.conn.execute(f"PRAGMA {name}").fetchone()[0] for name in ("page_count", "freelist_count"))
        if not pages or free < pages * at_least:
            return 0
        try:
            self.conn.execute("VACUUM")
        except sqlite3.OperationalError as exc:
            raise self._write_failure(exc) from None
        return (pages - self.conn.execute("PRAGMA page_count").fetchone()[0]) * size

    def close(self) -> None:
        self.conn.close()
        if self._tidy_on_close is not None:
            dbfile.tidy_after_look(self._tidy_on_close)  # SQLite removes them if nobody else has the file open

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction that takes the write lock first.

        ``BEGIN IMMEDIATE`` makes a second writer wait (busy_timeout) instead of
        failing when it upgrades a read snapshot that went stale. Nested uses
        become savepoints; any error rolls everything back. A lock held by another
        program past the timeout is :class:`DatabaseBusy`: nothing was written.
        """
        conn = self.conn
        if conn.in_transaction:
            name = f"sp_{uuidlib.uuid4().hex[:8]}"
            conn.execute(f"SAVEPOINT {name}")
            try:
                yield conn
            except BaseException:
                conn.execute(f"ROLLBACK TO {name}")
                conn.execute(f"RELEASE {name}")
                raise
            conn.execute(f"RELEASE {name}")
            return
        if self.read_only:
            raise StoreError(f"{self.path}: opened read-only; nothing can be written through this connection")
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise self._write_failure(exc) from None
        try:
            changes = conn.total_changes
            yield conn
            if conn.total_changes != changes:
                # the file's change token, in the same transaction as the change: a merge that
                # recorded the old token knows this file has changed since (docs/merge.md)
                self.renew_change_id()
            conn.execute("COMMIT")
        except BaseException as exc:
            # a failed COMMIT can leave the transaction open: end it, or later
            # writes would join it as savepoints and never be committed
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.OperationalError):
                raise self._write_failure(exc) from None
            raise

    def _write_failure(self, exc: sqlite3.OperationalError) -> Exception:
        if dbfile.is_busy(exc):
            return dbfile.busy(self.path)
        if (exc.sqlite_errorname or "").startswith("SQLITE_READONLY"):
            return StoreError(
                f"{self.path}: is read-only ({exc}); nothing was saved; make the file and its folder writable "
                "(check their owner and mode), or copy it to a writable folder"
            )
        return exc

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- meta ------------------------------------------------------------------------------
    def meta(self, key: str) -> str | None:
        if key not in self._meta:
            row = self.conn.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
            if row is None:
                return None
            self._meta[key] = row[0]
        return self._meta[key]

    def renew_change_id(self) -> None:
        """Replace ``meta.change_id`` (inside the caller's write transaction): the content has changed."""
        self.conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('change_id', ?)", [schema.new_change_id()])
        self._meta.pop("change_id", None)

    @property
    def db_uuid(self) -> str:
        return self.meta("db_uuid") or ""

    @property
    def site(self) -> str | None:
        return self.meta("site") or None

    # -- rubrics ---------------------------------------------------------------------------
    def add_rubric(self, rubric: Rubric) -> str:
        """Store a rubric's text (and its questions and options, for SQL readers); idempotent."""
        sha = rubric.sha256
        if self.conn.execute("SELECT 1 FROM rubrics WHERE sha256 = ?", [sha]).fetchone():
            self._rubrics.setdefault(sha, rubric)
            return sha
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO rubrics (sha256, rubric_id, version, title, text, added_at) VALUES (?, ?, ?, ?, ?, ?)",
                [sha, rubric.id, rubric.version, rubric.title, rubric.text, now()],
            )
            conn.executemany(
                "INSERT INTO questions (rubric_sha256, question_id, position, section_id, section_title, type, text, "
                "required, applies_if) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (sha, q.id, i, q.section_id, rubric.section_of(q.id).title, q.type, q.text, int(q.required), q.applies_if)
                    for i, q in enumerate(rubric.questions)
                ],
            )
            conn.executemany(
                "INSERT INTO options (rubric_sha256, question_id, code, label, counts, position) VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (sha, q.id, code, opt.label, int(opt.counts), i)
                    for q in rubric.questions
                    for i, (code, opt) in enumerate(q.options.items())
                ],
            )
        self._rubrics[sha] = rubric
        return sha

    def rubric(self, sha256: str) -> Rubric:
        """The rubric stored under ``sha256``, parsed from the database's own copy.

        The text must hash to its key, and the question and option rows SQL readers
        see must say what the text says: a tampered rubric is refused.
        """
        if sha256 not in self._rubrics:
            row = self.conn.execute("SELECT text, rubric_id FROM rubrics WHERE sha256 = ?", [sha256]).fetchone()
            if row is None:
                raise StoreError(f"{self.path}: no rubric with sha256 {str(sha256)[:12]} in this database")
            rubric = parse_stored_rubric(sha256, row[0], row[1], str(self.path))
            self._check_rubric_rows(rubric)
            self._rubrics[sha256] = rubric
        return self._rubrics[sha256]

    def verify_rubrics(self) -> None:
        """Check every stored rubric: its text against its sha256, its question and option rows against its text."""
        try:
            for row in self.rubrics():
                self.rubric(row["sha256"])
        except sqlite3.DatabaseError as exc:  # a damaged page: one line, never a traceback
            raise dbfile.refusal(str(self.path), exc) from None

    def check_values(self, found: Iterable[tuple[str, str | None]]) -> None:
        """Refuse stored answer texts, as (question id, value JSON) pairs a query found, that no rubric of this
        file's cases accepts for that question: a count never reads a value the tool could not have written."""
        from audit.dbcheck import ValueChecker

        checker = ValueChecker()
        rubrics = [self.rubric(sha) for _, _, sha in self.case_rubrics()]
        for question_id, text in found:
            problems = [checker.problem(rubric, question_id, text) for rubric in rubrics]
            if problems and all(problems):
                raise StoreError(
                    f"{self.path}: an answer to {question_id} {problems[0]}; the file was altered outside the tool; "
                    "restore it from a backup"
                )

    def _check_rubric_rows(self, rubric: Rubric) -> None:
        sha = rubric.sha256
        questions = {
            tuple(r) for r in self.conn.execute(
                "SELECT question_id, position, section_id, type, text, required, applies_if FROM questions WHERE rubric_sha256 = ?",
                [sha],
            )
        }
        expected_q = {
            (q.id, i, q.section_id, q.type, q.text, int(q.required), q.applies_if) for i, q in enumerate(rubric.questions)
        }
        options = {
            tuple(r) for r in self.conn.execute(
                "SELECT question_id, code, label, counts, position FROM options WHERE rubric_sha256 = ?", [sha]
            )
        }
        expected_o = {
            (q.id, code, opt.label, int(opt.counts), i) for q in rubric.questions for i, (code, opt) in enumerate(q.options.items())
        }
        if questions != expected_q or options != expected_o:
            raise StoreError(
                f"{self.path}: the question or option rows of rubric '{rubric.id}' differ from its stored text; they "
                "were altered outside the tool; restore the file from a backup"
            )

    def rubrics(self) -> list[dict]:
        return [
            dict(zip(("sha256", "rubric_id", "version", "title"), r))
            for r in self.conn.execute("SELECT sha256, rubric_id, version, title FROM rubrics ORDER BY added_at")
        ]

    def rubric_for(self, case: Case) -> Rubric:
        return self.rubric(case.rubric_sha256)

    def case_rubrics(self) -> list[tuple[str, str, str]]:
        """(rubric_id, version, sha256) of the rubrics that live cases use."""
        return [
            tuple(r) for r in self.conn.execute(
                "SELECT DISTINCT rubric_id, rubric_version, rubric_sha256 FROM cases WHERE deleted_at IS NULL "
                "ORDER BY rubric_id, rubric_version"
            )
        ]

    # -- cases -----------------------------------------------------------------------------
    _SELECT_CASE = f"SELECT {', '.join(CASE_ROW)} FROM cases"

    def case(self, case_uuid: str) -> Case:
        row = self.conn.execute(f"{self._SELECT_CASE} WHERE uuid = ?", [case_uuid]).fetchone()
        if row is None:
            raise StoreError(f"no case with id {case_uuid}")
        return Case(*row)

    def find_case(self, site: str, case_ref: str, *, include_deleted: bool = False) -> Case | None:
        """The live original case with this site and case_ref, compared by :func:`audit.identity.key`."""
        from audit.identity import key

        deleted = "" if include_deleted else " AND deleted_at IS NULL"
        row = self.conn.execute(
            f"{self._SELECT_CASE} WHERE site_key = ? AND ref_key = ? AND duplicate_of IS NULL AND copy_of IS NULL"
            f"{deleted} ORDER BY created_at LIMIT 1",
            [key(site), key(case_ref)],
        ).fetchone()
        return Case(*row) if row else None

    def site_spelling(self, site: str) -> str | None:
        """How the database already spells a site (the first spelling is kept), if it has it."""
        from audit.identity import key

        row = self.conn.execute("SELECT site FROM cases WHERE site_key = ? ORDER BY created_at LIMIT 1", [key(site)]).fetchone()
        return row[0] if row else None

    def case_count(self, *, search: str = "", site: str | None = None, status: str | None = None,
                   deleted: bool = False) -> int:
        where, params = self._case_filter(search, site, status, deleted)
        return self.conn.execute(f"SELECT count(*) FROM cases {where}", params).fetchone()[0]

    SORTABLE = ("case_ref", "site", "inspector", "status", "updated_at", "created_at", "progress")

    def list_cases(
        self, *, search: str = "", site: str | None = None, status: str | None = None,
        order_by: str = "updated_at", descending: bool = True, limit: int = 100, offset: int = 0,
        deleted: bool = False, returned_first: bool = False,
    ) -> list[Case]:
        """One page of cases; filtering and sorting happen in SQL, so 100k cases cost one page.

        Deleted cases are listed only with ``deleted=True`` (and then only they are).
        ``returned_first``: cases returned by a reviewer come before the rest (the inspector's list).
        """
        if order_by not in self.SORTABLE:
            raise StoreError(f"cannot sort by '{order_by}'; choose one of {', '.join(self.SORTABLE)}")
        where, params = self._case_filter(search, site, status, deleted)
        key = self.ORDER_KEYS[order_by][0]  # as its index reads it
        direction = "DESC" if descending else "ASC"
        first = f"status = '{STATUS_RETURNED}' DESC, " if returned_first else ""
        rows = self.conn.execute(
            # ties broken on the id, as the case list's pages and the order indexes break them (on the
            # UUID, every call sorted the whole table: 46 ms at 100k cases for the new-case screen's one row)
            f"{self._SELECT_CASE} {where} ORDER BY {first}{key} {direction}, id {direction} LIMIT ? OFFSET ?",
            [*params, limit, offset],
        ).fetchall()
        return [Case(*r) for r in rows]

    # -- the case list's pages: keyset pagination over an index per order ----------------------
    #: how each order reads (the same text as its index in schema 3, so the index serves it)
    ORDER_KEYS = {
        "updated_at": ("updated_at", "idx_cases_order_updated_at"),
        "created_at": ("created_at", "idx_cases_order_created_at"),
        "case_ref": ("case_ref", "idx_cases_order_case_ref"),
        "site": ("site", "idx_cases_order_site"),
        "inspector": ("coalesce(inspector, '')", "idx_cases_order_inspector"),
        "status": ("status", "idx_cases_order_status"),
        "progress": ("(answered_count * 1.0 / max(applicable_count, 1))", "idx_cases_order_progress"),
    }
    #: a filter matching at most this many cases is read through its own index and sorted; beyond,
    #: the order's index is walked and the filter checked on each row (a page then reads at most
    #: about PAGE * total / FEW rows): either way a page reads a bounded number of rows
    FEW_CASES = 5000

    def case_page(
        self, *, search: str = "", site: str | None = None, status: str | None = None, deleted: bool = False,
        order_by: str = "updated_at", descending: bool = True, returned_first: bool = False,
        after: tuple | None = None, before: tuple | None = None, last: bool = False, limit: int = 100,
    ) -> list[Case]:
        """One page of the case list, in list order, found by its neighbour's key, never by OFFSET.

        With no position: the first page; ``after=key``: the ``limit`` cases after the case with that
        key (:meth:`page_key`); ``before=key``: the ``limit`` cases before it; ``last``: the last page.
        ``search`` matches the start of a case's ref, site or inspector (case-insensitive). Deleted
        cases are listed only with ``deleted=True`` (and then only they are). ``returned_first``:
        cases returned by a reviewer come before the rest (the inspector's list).
        """
        if order_by not in self.ORDER_KEYS:
            raise StoreError(f"cannot sort by '{order_by}'; choose one of {', '.join(self.ORDER_KEYS)}")
        segments = [0, 1] if returned_first and not deleted and status in (None, STATUS_RETURNED) else [1]
        if status == STATUS_RETURNED:
            segments = [0]
        backwards = before is not None or last
        bound = before if before is not None else after
        rows: list[Case] = []
        walk = list(reversed(segments)) if backwards else segments
        for segment in walk:
            if bound is not None and (segment < bound[0] if not backwards else segment > bound[0]):
                continue  # a segment the position is already past
            within = bound if bound is not None and bound[0] == segment else None
            rows += self._segment_page(search, site, status, deleted, order_by, descending, returned_first,
                                       segment, within, backwards, limit - len(rows))
            if len(rows) >= limit:
                break
        return rows[::-1] if backwards else rows

    def page_key(self, case: Case, order_by: str, *, returned_first: bool = False) -> tuple:
        """Where a case stands in a list order: (segment, its sort value, its id: the tie-break)."""
        value: Any = {
            "inspector": case.inspector or "",
            "progress": case.answered_count * 1.0 / max(case.applicable_count, 1),
        }.get(order_by, getattr(case, order_by, None))
        segment = 0 if returned_first and case.status == STATUS_RETURNED and not case.deleted else 1
        return (segment, value, case.id)

    def _segment_page(self, search: str, site: str | None, status: str | None, deleted: bool, order_by: str,
                      descending: bool, returned_first: bool, segment: int, bound: tuple | None, backwards: bool,
                      limit: int) -> list[Case]:
        """Segment 0 is the cases a reviewer returned (listed first), segment 1 the rest.

        Two plans, chosen by a bounded, index-only count of the filter's matches: few (at most
        FEW_CASES) are found on the filter's own indexes and sorted; many are found by walking the
        order's index (for returned cases, their own partial one) and checking each row. Either
        way a page reads a bounded number of rows, and no OFFSET.
        """
        expression, index = self.ORDER_KEYS[order_by]
        terms, _ = self._case_terms(search, site, None if status == STATUS_RETURNED else status, deleted)
        selective = [t for t in terms if t[0] != "deleted_at IS NULL"]
        fixed: list[str] = []  # the segment's condition (a partial index is used only on its own condition, as written)
        if segment == 0:
            fixed.append("status = 'returned'")
            index = f"idx_cases_returned_{order_by}"
        elif returned_first and not deleted and status is None:
            fixed.append("status != 'returned'")
        # no filter: the order's index (for returned cases, their own) holds only matches, walked in order
        few = bool(selective) and self._at_most(selective, self.FEW_CASES + 1) <= self.FEW_CASES
        ascending = descending == backwards  # the direction the index is walked in
        direction = "ASC" if ascending else "DESC"
        params: list = []
        if few:
            # the matches through the same plan as their count (at most FEW_CASES rows), then sorted:
            # the + keeps the order's index from being walked instead
            inner = " AND ".join(sql for sql, _ in selective)
            where = [f"rowid IN (SELECT rowid FROM cases WHERE {inner})", "+deleted_at IS NOT NULL" if deleted
                     else "+deleted_at IS NULL"]
            params += [p for _, values in selective for p in values]
            key, tie, indexed = f"+{expression}", "+id", ""
        else:
            where = [sql if sql.startswith("(") else f"+{sql}" for sql, _ in terms]
            where += [f if f.startswith("status = ") else f"+{f}" for f in fixed]
            params += [p for _, values in terms for p in values]
            key, tie, indexed = expression, "id", f" INDEXED BY {index}"
        if bound is not None:
            where.append(f"({key}, {tie}) {'>' if ascending else '<'} (?, ?)")
            params += [bound[1], bound[2]]
        if few:
            where += [f"+{f}" for f in fixed]
        sql = (f"{self._SELECT_CASE}{indexed} WHERE {' AND '.join(where)} "
               f"ORDER BY {key} {direction}, {tie} {direction} LIMIT ?")
        return [Case(*r) for r in self.conn.execute(sql, [*params, limit])]

    def _at_most(self, terms: list[tuple[str, list]], cap: int) -> int:
        """How many cases match, counted up to ``cap`` (a bounded read, whatever the filter)."""
        where = " AND ".join(sql for sql, _ in terms) or "1"
        params = [p for _, values in terms for p in values]
        return self.conn.execute(f"SELECT count(*) FROM (SELECT 1 FROM cases WHERE {where} LIMIT ?)",
                                 [*params, cap]).fetchone()[0]

    def case_total(self, *, search: str = "", site: str | None = None, status: str | None = None,
                   deleted: bool = False) -> int:
        """How many cases :meth:`case_page` lists for this filter: counted on indexes, live cases as
        all matches less the deleted ones (there are few of those, and they have their own index)."""
        terms, _ = self._case_terms(search, site, status, deleted)
        if deleted:
            return self._count(terms)
        every = [t for t in terms if t[0] != "deleted_at IS NULL"]
        return self._count(every) - self._count([*every, ("deleted_at IS NOT NULL", [])])

    def _count(self, terms: list[tuple[str, list]]) -> int:
        where = " AND ".join(sql for sql, _ in terms) or "1"
        return self.conn.execute(f"SELECT count(*) FROM cases WHERE {where}",
                                 [p for _, values in terms for p in values]).fetchone()[0]

    @staticmethod
    def _case_terms(search: str, site: str | None, status: str | None, deleted: bool) -> tuple[list[tuple[str, list]], None]:
        """The case list's filter as (SQL, parameters) terms, each one an index can serve."""
        from audit.identity import key

        terms: list[tuple[str, list]] = [("deleted_at IS NOT NULL" if deleted else "deleted_at IS NULL", [])]
        search = (search or "").strip()
        if search:
            start = key(search)
            end = start + "\U0010ffff"  # above every text that starts with ``start`` (UTF-8 order)
            terms.append((
                "(ref_key >= ? AND ref_key < ? OR site_key >= ? AND site_key < ? "
                "OR inspector COLLATE NOCASE >= ? AND inspector COLLATE NOCASE < ?)",
                [start, end, start, end, search, search + "\U0010ffff"],
            ))
        if site:
            terms.append(("site_key = ?", [key(site)]))
        if status:
            terms.append(("status = ?", [status]))
        return terms, None

    @staticmethod
    def _case_filter(search: str, site: str | None, status: str | None, deleted: bool = False) -> tuple[str, list]:
        clauses = ["deleted_at IS NOT NULL" if deleted else "deleted_at IS NULL"]
        params: list = []
        if search:
            clauses.append("(case_ref LIKE ? OR site LIKE ? OR inspector LIKE ?)")
            params += [f"%{search}%"] * 3
        if site:
            from audit.identity import key

            clauses.append("site_key = ?")
            params.append(key(site))
        if status:
            clauses.append("status = ?")
            params.append(status)
        return "WHERE " + " AND ".join(clauses), params

    def completion(self, by: str) -> list[tuple]:
        """(group, cases, complete, answered, applicable) per site or per inspector, live original cases only."""
        if by not in ("site", "inspector"):
            raise StoreError(f"cannot group completion by '{by}'; choose site or inspector")
        return self.conn.execute(
            f"SELECT coalesce({by}, ''), count(*), sum(status IN (?, ?)), sum(answered_count), sum(applicable_count) "
            "FROM cases WHERE deleted_at IS NULL AND copy_of IS NULL GROUP BY 1 ORDER BY 1",
            [STATUS_COMPLETE, STATUS_APPROVED],
        ).fetchall()

    def status_counts(self) -> dict[str, int]:
        """How many live cases the file holds in each status (moderation copies aside)."""
        return dict(self.conn.execute(
            "SELECT status, count(*) FROM cases WHERE deleted_at IS NULL AND copy_of IS NULL GROUP BY status"
        ).fetchall())

    def change_token(self) -> tuple:
        """A value that changes whenever a case is added or edited (both columns are cheap to read)."""
        return tuple(self.conn.execute("SELECT count(*), max(updated_at) FROM cases").fetchone())

    def sites(self) -> list[str]:
        """Each site once, as first spelt (sites that differ only in case or spacing are one site)."""
        rows = self.conn.execute(
            "SELECT site FROM cases WHERE deleted_at IS NULL GROUP BY site_key HAVING created_at = min(created_at) ORDER BY site"
        ).fetchall()
        return [r[0] for r in rows]

    # -- answers ---------------------------------------------------------------------------
    def last_case_id(self) -> int:
        """The largest case id in the file (0 when empty): a writer holding the lock numbers new cases after it."""
        return self.conn.execute("SELECT coalesce(max(id), 0) FROM cases").fetchone()[0]

    def answers(self, case_uuid: str) -> dict[str, Any]:
        """Current (not retired) answers of a case."""
        rows = self.conn.execute(
            "SELECT question_id, value FROM answers WHERE case_uuid = ? AND state = 'current' AND value IS NOT NULL",
            [case_uuid],
        )
        return {qid: decode(value) for qid, value in rows}

    def answer_rows(self, case_uuid: str) -> dict[str, dict]:
        """Every answer row of a case, retired ones and notes included."""
        rows = self.conn.execute(
            "SELECT question_id, value, note, answered_by, answered_at, state, applies, counted FROM answers WHERE case_uuid = ?",
            [case_uuid],
        )
        return {
            r[0]: {
                "value": decode(r[1]), "note": r[2], "answered_by": r[3], "answered_at": r[4],
                "state": r[5], "applies": bool(r[6]), "counted": bool(r[7]),
            }
            for r in rows
        }

    def evaluation(self, case_uuid: str) -> Evaluation:
        from audit.engine import evaluate

        case = self.case(case_uuid)
        return evaluate(self.rubric_for(case), self.answers(case_uuid))

    def history(self, case_uuid: str) -> list[dict]:
        """A case's audit trail, oldest first."""
        cursor = self.conn.execute(
            "SELECT id, question_id, field, old_value, new_value, changed_by, changed_at, reason, origin FROM history "
            "WHERE case_uuid = ? ORDER BY id",
            [case_uuid],
        )
        keys = [d[0] for d in cursor.description]
        return [dict(zip(keys, row)) for row in cursor]

    # -- bulk reads for tabulation ---------------------------------------------------------
    def iter_answers(self, question_ids: Iterable[str], *, counted_only: bool = True) -> Iterator[tuple[str, str, Any]]:
        """(case_uuid, question_id, value) for the given questions.

        ``counted_only``: answers in a percentage's base (the counting module's
        verdict). Otherwise: answers a rule can see (current, applicable, given),
        of live original cases (a moderation copy is never in a figure).
        Every value is checked, as it is read, to be one the tool could have stored
        for its question (:class:`audit.dbcheck.ValueChecker`): a file altered
        outside the tool is refused, naming the case and question, never counted.
        """
        from audit.dbcheck import ValueChecker

        ids = sorted(set(question_ids))
        if not ids:
            return iter(())
        marks = ", ".join("?" * len(ids))
        # a deleted case or a moderation copy is in no figure: nothing of it counts, and no rule reads it
        extra = "AND a.counted = 1" if counted_only else (
            "AND a.applies = 1 AND a.state = 'current' AND a.value IS NOT NULL AND c.copy_of IS NULL "
            "AND c.deleted_at IS NULL")
        cursor = self.conn.execute(
            f"SELECT a.case_uuid, a.question_id, a.value, c.rubric_sha256 FROM answers a JOIN cases c ON c.uuid = a.case_uuid "
            f"WHERE a.question_id IN ({marks}) {extra}",
            ids,
        )
        checker = ValueChecker()

        def checked() -> Iterator[tuple[str, str, Any]]:
            for case_uuid, qid, text, sha in cursor:
                if checker.problem(self.rubric(sha), qid, text):
                    row = self.conn.execute("SELECT case_ref, site FROM cases WHERE uuid = ?", [case_uuid]).fetchone()
                    checker.check(self.rubric(sha), qid, text, f"{self.path}: case {row[0]} at {row[1]}, question {qid}")
                yield case_uuid, qid, decode(text)

        return checked()

    def decode_value(self, text: str | None, case_uuid: str, question_id: str) -> Any:
        """A stored value, or a refusal naming where the file is damaged."""
        try:
            return decode(text)
        except (ValueError, TypeError):
            row = self.conn.execute("SELECT case_ref, site FROM cases WHERE uuid = ?", [case_uuid]).fetchone()
            where = f"case {row[0]} at {row[1]}" if row else f"case {case_uuid}"
            raise StoreError(
                f"{self.path}: the stored answer to {question_id} of {where} is not valid JSON; the file was altered "
                "outside the tool; restore it from a backup"
            ) from None

    def check_before_writes(self) -> None:
        """The check a UI's first write waits for: cheap at any size (:func:`audit.dbfile.quick_look`,
        then every rubric against its hash and rows). The full check (``integrity_check`` and every
        value) runs beside it; it gates writes only when :attr:`closed_cleanly` is false."""
        dbfile.quick_look(self.conn, str(self.path))
        self.verify_rubrics()

    def integrity_ok(self) -> bool:
        return self.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"

    # -- writes, through the case service ----------------------------------------------------
    # These keep the older call sites working; each is one call of audit.cases.CaseService,
    # the only writer of cases, answers and history.
    def service(self, who: str | None = None):
        from audit.cases import CaseService

        return CaseService(self, who=who)

    def create_case(self, case_ref: str, site: str, rubric: Rubric, inspector: str | None = None, *,
                    who: str | None = None, allow_other_rubric: bool = False) -> Case:
        return self.service(who).create_case(case_ref, site, rubric, inspector, allow_other_rubric=allow_other_rubric)

    def insert_cases(self, cases: Iterable[NewCase], *, who: str, reason: str = "import", origin_file: str | None = None,
                     progress: Callable[[int], None] | None = None) -> int:
        return self.service(who).insert_cases(cases, reason=reason, origin_file=origin_file, progress=progress)

    def preview_answer(self, case_uuid: str, question_id: str, value: Any) -> list[str]:
        """Answered questions that would stop applying if this answer were given (nothing is written)."""
        return self.service().answer(case_uuid, question_id, value, confirm_retire=False, dry_run=True).would_retire

    def set_answer(self, case_uuid: str, question_id: str, value: Any, *, who: str | None = None) -> SaveResult:
        outcome: Outcome = self.service(who).answer(case_uuid, question_id, value, confirm_retire=True)
        return SaveResult(question_id, outcome.value, list(outcome.retired), outcome.case.status)

    def set_note(self, case_uuid: str, question_id: str, note: str | None, *, who: str | None = None) -> None:
        self.service(who).note(case_uuid, question_id, note)

    def set_status(self, case_uuid: str, status: str, *, who: str | None = None) -> Case:
        return self.service(who).set_status(case_uuid, status).case
