"""The case store: one SQLite file per site, through sqlite-utils.

* The schema is created by numbered migrations; ``meta.schema_version`` and
  ``PRAGMA user_version`` record how far a file has come.
* Every answer is written in its own transaction, with a history row.
* A file that is not an audit database, is corrupt, or is newer than this
  code is refused before anything is written to it.
* New files are created with mode 0600: they hold data about real people.

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

from audit.counting import percent
from audit.errors import AuditError

if TYPE_CHECKING:
    import sqlite_utils

    from audit.counting import CaseCount
    from audit.engine import Evaluation
    from audit.rubric import Rubric

# The rubric engine (pydantic models and all) and sqlite-utils are imported
# where first used, not here: the UI's case list needs only plain SQL reads,
# and its first page appears ~100 ms sooner.

APPLICATION_ID = 0x41756474  # "Audt": marks a file as ours before any table is read
SCHEMA_VERSION = 1
SQLITE_HEADER = b"SQLite format 3\x00"
STATUS_IN_PROGRESS = "in_progress"
STATUS_COMPLETE = "complete"
STATUSES = (STATUS_IN_PROGRESS, STATUS_COMPLETE)
FILE_MODE = 0o600


class StoreError(AuditError):
    """A database that cannot be used, or a change the store refuses."""


def now() -> str:
    """UTC time as sortable ISO text with microseconds."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def current_user() -> str:
    try:
        return os.environ.get("AUDIT_USER") or getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


def encode(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


def decode(text: str | None) -> Any:
    return None if text is None else json.loads(text)


# --- schema --------------------------------------------------------------------------------


def _migration_1(db: sqlite_utils.Database) -> None:
    db["meta"].create({"key": str, "value": str}, pk="key")
    db["rubrics"].create(
        {"sha256": str, "rubric_id": str, "version": str, "title": str, "text": str, "added_at": str},
        pk="sha256",
        not_null={"rubric_id", "version", "text"},
    )
    db["questions"].create(
        {
            "rubric_sha256": str, "question_id": str, "position": int, "section_id": str,
            "section_title": str, "type": str, "text": str, "required": int, "applies_if": str,
        },
        pk=("rubric_sha256", "question_id"),
        foreign_keys=[("rubric_sha256", "rubrics", "sha256")],
    )
    db["options"].create(
        {"rubric_sha256": str, "question_id": str, "code": str, "label": str, "counts": int, "position": int},
        pk=("rubric_sha256", "question_id", "code"),
        foreign_keys=[("rubric_sha256", "rubrics", "sha256")],
    )
    db["cases"].create(
        {
            "uuid": str, "case_ref": str, "site": str, "inspector": str, "status": str,
            "created_at": str, "updated_at": str,
            "rubric_id": str, "rubric_version": str, "rubric_sha256": str,
            "applicable_count": int, "answered_count": int,
            "origin_db": str, "origin_file": str,
        },
        pk="uuid",
        not_null={"case_ref", "site", "status", "created_at", "updated_at", "rubric_id", "rubric_version", "rubric_sha256"},
        defaults={"status": STATUS_IN_PROGRESS, "applicable_count": 0, "answered_count": 0},
        foreign_keys=[("rubric_sha256", "rubrics", "sha256")],
    )
    # case_ref is unique per site for new cases; a merge may bring in a second
    # case with the same ref (a moderation double-audit), which is kept and flagged.
    db["cases"].create_index(["site", "case_ref"])
    db["cases"].create_index(["updated_at", "uuid"])  # the case list's default order, ties included
    db["answers"].create(
        {
            "case_uuid": str, "question_id": str, "value": str, "note": str,
            "answered_by": str, "answered_at": str, "state": str, "applies": int, "counted": int,
        },
        pk=("case_uuid", "question_id"),
        not_null={"state", "applies", "counted"},
        defaults={"state": "current", "applies": 0, "counted": 0},
        foreign_keys=[("case_uuid", "cases", "uuid")],
    )
    db["answers"].create_index(["question_id", "counted"])
    db["history"].create(
        {
            "id": int, "case_uuid": str, "question_id": str, "field": str, "old_value": str,
            "new_value": str, "changed_by": str, "changed_at": str, "reason": str, "origin": str,
        },
        pk="id",
        not_null={"case_uuid", "field", "changed_at", "reason"},
    )
    db["history"].create_index(["case_uuid", "id"])
    db["merges"].create(
        {
            "id": int, "merged_at": str, "source_path": str, "source_db_uuid": str, "source_site": str,
            "added": int, "unchanged": int, "updated": int, "conflicts": int, "duplicates": int,
        },
        pk="id",
    )
    # Readable without the tool: answers with question text and option labels.
    db.execute(
        """
        CREATE VIEW answers_readable AS
        SELECT c.site, c.case_ref, c.inspector, c.status, q.section_title AS section,
               a.question_id, q.text AS question,
               CASE WHEN a.value IS NULL THEN NULL
                    WHEN json_type(a.value) = 'array' THEN (
                        SELECT group_concat(coalesce(o.label, j.value), '; ')
                        FROM json_each(a.value) j
                        LEFT JOIN options o ON o.rubric_sha256 = c.rubric_sha256
                             AND o.question_id = a.question_id AND o.code = j.value)
                    ELSE coalesce(
                        (SELECT o.label FROM options o WHERE o.rubric_sha256 = c.rubric_sha256
                             AND o.question_id = a.question_id AND o.code = json_extract(a.value, '$')),
                        json_extract(a.value, '$'))
               END AS answer,
               a.value AS answer_code, a.note, a.state, a.applies, a.counted, a.answered_by, a.answered_at,
               c.uuid AS case_uuid
        FROM answers a
        JOIN cases c ON c.uuid = a.case_uuid
        LEFT JOIN questions q ON q.rubric_sha256 = c.rubric_sha256 AND q.question_id = a.question_id
        """
    )


#: MIGRATIONS[i] brings a database from schema version i to i + 1.
MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [_migration_1]
assert len(MIGRATIONS) == SCHEMA_VERSION


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

    @property
    def percent_answered(self) -> int:
        return percent(self.answered_count, self.applicable_count) or 0


CASE_COLUMNS = [f for f in Case.__dataclass_fields__]


@dataclass
class NewCase:
    """A case for :meth:`Store.insert_cases`, with its answers already checked."""

    case_ref: str
    site: str
    rubric: Rubric
    answers: dict[str, Any]
    inspector: str | None = None
    uuid: str = field(default_factory=lambda: str(uuidlib.uuid4()))
    status: str = STATUS_IN_PROGRESS
    evaluation: Evaluation | None = None


@dataclass(frozen=True)
class SaveResult:
    """What one saved answer changed."""

    question_id: str
    value: Any
    retired: list[str]
    status: str


# --- opening -------------------------------------------------------------------------------


def _refuse(path: str, reason: str) -> StoreError:
    return StoreError(f"{path}: {reason}")


def _precheck(path: Path) -> None:
    """Refuse, by reading only, a file that is plainly not an SQLite database."""
    shown = str(path)
    if path.is_dir():
        raise _refuse(shown, "is a folder; give the path of a database file")
    try:
        with open(path, "rb") as handle:
            head = handle.read(100)
    except PermissionError:
        raise _refuse(shown, "cannot be read (permission denied); check the file's owner and mode") from None
    except OSError as exc:
        raise _refuse(shown, f"cannot be read ({exc.strerror})") from None
    if len(head) == 0:
        raise _refuse(shown, "is an empty file, not an audit database; delete it or choose another path")
    if not head.startswith(SQLITE_HEADER):
        raise _refuse(shown, "is not an audit database (not an SQLite file); check the path")
    if len(head) < 100:
        raise _refuse(shown, "is truncated (shorter than an SQLite header); restore it from a backup")


def _remove_sidecars(created: list[Path]) -> None:
    """Remove the -wal/-shm files a read-only look at a WAL file created, if the WAL is empty."""
    paths = {p.name.rsplit("-", 1)[-1]: p for p in created}
    wal, shm = paths.get("wal"), paths.get("shm")
    try:
        if wal is not None and wal.exists() and wal.stat().st_size == 0:
            wal.unlink()
        if shm is not None and shm.exists() and (wal is None or not wal.exists()):
            shm.unlink()
    except OSError:
        pass  # best effort: they hold no data


def _cannot_write_beside(exc: sqlite3.Error) -> bool:
    """Whether SQLite failed because it could not create the -wal/-shm files beside a database."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith("SQLITE_READONLY") or name.startswith("SQLITE_CANTOPEN")


READ_ONLY_FOLDER = (
    "cannot be read where it is: its folder is read-only, and SQLite must create a -shm file beside a "
    "database whose -wal file holds changes; copy the database and its -wal file to a writable folder"
)


def read_only_uri(path: Path) -> str:
    """The URI for a read-only look at ``path`` (for ``sqlite3.connect(uri=True)`` or ATTACH).

    Reading a WAL database needs a -shm file beside it, which SQLite creates; in a
    folder nobody may write to (a read-only USB stick, a colleague's share) that
    fails. When no -wal file holds changes, the main file is the whole database
    and nothing can be writing it, so it is read as immutable instead.
    """
    uri = f"{path.resolve().as_uri()}?mode=ro"
    probe = sqlite3.connect(uri, uri=True, timeout=10)
    try:
        probe.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError as exc:
        wal = Path(f"{path}-wal")
        if _cannot_write_beside(exc) and not (wal.exists() and wal.stat().st_size > 0):
            return f"{uri}&immutable=1"
    except sqlite3.DatabaseError:
        pass  # the caller's own queries say what is wrong with the file
    finally:
        probe.close()
    return uri


def remove_database_files(path: str | Path) -> None:
    """Delete a database file this process created and must not leave behind, with its -wal/-shm/-journal."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def _connect(path: Path, *, read_only: bool) -> sqlite3.Connection:
    if read_only:
        return sqlite3.connect(read_only_uri(path), uri=True, timeout=10)
    return sqlite3.connect(str(path), timeout=10)


def _prepare(conn: sqlite3.Connection) -> sqlite3.Connection:
    # Autocommit: a write made through the raw connection (e.g. tabulation's TEMP
    # tables) must not open an implicit transaction that Store.transaction would
    # then take for an enclosing one, turning the next answers into savepoints
    # that are never committed.
    conn.isolation_level = None
    return conn


class Store:
    """An open audit database. Use :meth:`open` or :meth:`memory`."""

    def __init__(self, conn: sqlite3.Connection, path: str | None, db: sqlite_utils.Database | None = None):
        self.conn = conn
        self._db = db
        self.path = path
        self._rubrics: dict[str, Rubric] = {}
        self._meta: dict[str, str] = {}

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
        """Open (or create) an audit database, refusing anything that is not one.

        ``check`` runs ``PRAGMA integrity_check`` before anything is written.
        """
        path = Path(path)
        shown = str(path)
        if not path.exists():
            if not create:
                raise _refuse(shown, "does not exist; check the path")
            if not path.parent.exists():
                raise _refuse(shown, f"folder {path.parent} does not exist; create it first")
            return cls._create(path, site)
        _precheck(path)
        sidecars = [Path(f"{path}-wal"), Path(f"{path}-shm")]
        new_sidecars = [p for p in sidecars if not p.exists()]
        try:
            cls._inspect(path, check=check)
        except StoreError:
            _remove_sidecars(new_sidecars)  # a refused file is left as it was found
            raise
        conn = _connect(path, read_only=False)
        store = cls(_prepare(conn), shown)
        try:
            try:
                store._configure()
            except sqlite3.Error as exc:
                raise _refuse(
                    shown, f"cannot be opened for writing ({exc}); its folder must be writable too (SQLite keeps "
                    "-wal and -shm files beside it): check the folder's permissions, or copy the file to a writable folder",
                ) from None
            try:
                store._migrate()
            except sqlite3.Error as exc:  # the migration rolled back: nothing was changed
                raise _refuse(shown, f"cannot be upgraded to schema {SCHEMA_VERSION} ({exc}); nothing was changed; restore it from a backup or report this") from None
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    def _create(cls, path: Path, site: str | None) -> "Store":
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE)
        except FileExistsError:  # raced with another process: open what it made
            return cls.open(path, create=False)
        except OSError as exc:
            raise _refuse(str(path), f"cannot be created ({exc.strerror})") from None
        os.close(fd)
        store = cls(_prepare(_connect(path, read_only=False)), str(path))
        try:
            store._initialise(site)
        except BaseException:
            store.close()
            path.unlink(missing_ok=True)
            raise
        return store

    @classmethod
    def _inspect(cls, path: Path, *, check: bool) -> None:
        """Read-only checks: integrity, ownership and schema version."""
        shown = str(path)
        try:
            conn = _connect(path, read_only=True)
        except sqlite3.Error as exc:
            raise _refuse(shown, f"cannot be opened ({exc})") from None
        try:
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            if check:
                rows = conn.execute("PRAGMA integrity_check(5)").fetchall()
                if rows != [("ok",)]:
                    detail = "; ".join(r[0] for r in rows)[:200]
                    raise _refuse(shown, f"is corrupt (integrity_check: {detail}); restore it from a backup")
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if app_id != APPLICATION_ID or "meta" not in tables:
                raise _refuse(shown, "is an SQLite database from another program, not an audit database; check the path")
            row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
            version = int(row[0]) if row and str(row[0]).isdigit() else None
        except sqlite3.DatabaseError as exc:
            if _cannot_write_beside(exc):
                raise _refuse(shown, READ_ONLY_FOLDER) from None
            raise _refuse(shown, f"is corrupt or not a database ({exc}); restore it from a backup") from None
        finally:
            conn.close()
        if version is None:
            raise _refuse(shown, "has no schema version; it is damaged or not an audit database")
        if version > SCHEMA_VERSION:
            raise _refuse(
                shown,
                f"was written by a newer audit (schema {version}; this version reads up to {SCHEMA_VERSION}); upgrade audit to open it",
            )

    @classmethod
    def memory(cls, site: str | None = None) -> "Store":
        """An in-memory store, for tests."""
        import sqlite_utils

        db = sqlite_utils.Database(memory=True, execute_plugins=False)
        store = cls(_prepare(db.conn), None, db)
        store._initialise(site)
        return store

    def _configure(self) -> None:
        # Two processes may share a file: wait for a lock rather than fail.
        self.conn.execute("PRAGMA busy_timeout = 10000")
        self.conn.execute("PRAGMA foreign_keys = ON")
        if self.path is not None:
            mode = self.conn.execute("PRAGMA journal_mode").fetchone()[0]
            if mode != "wal":
                self.conn.execute("PRAGMA journal_mode = wal")

    def _initialise(self, site: str | None) -> None:
        self._configure()
        with self.transaction():
            self.db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            for migration in MIGRATIONS:
                migration(self.db)
            self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self.db["meta"].insert_all(
                [
                    {"key": "db_uuid", "value": str(uuidlib.uuid4())},
                    {"key": "schema_version", "value": str(SCHEMA_VERSION)},
                    {"key": "site", "value": site or ""},
                    {"key": "created_at", "value": now()},
                    {"key": "app", "value": "audit"},
                ]
            )

    def _migrate(self) -> None:
        version = int(self.meta("schema_version"))
        if version >= SCHEMA_VERSION:
            return
        with self.transaction():
            for migration in MIGRATIONS[version:]:
                migration(self.db)
            self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            self.db["meta"].upsert({"key": "schema_version", "value": str(SCHEMA_VERSION)}, pk="key")
        self._meta.clear()

    def close(self) -> None:
        self.conn.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite_utils.Database]:
        """A write transaction that takes the write lock first.

        ``BEGIN IMMEDIATE`` makes a second writer wait (busy_timeout) instead of
        failing with "database is locked" when it upgrades a read snapshot that
        went stale. The body runs inside ``db.atomic()``, so nested uses become
        savepoints and any error rolls everything back.
        """
        if self.db.conn.in_transaction:
            with self.db.atomic():
                yield self.db
            return
        try:
            self.db.execute("BEGIN IMMEDIATE")
            with self.db.atomic():
                yield self.db
            self.db.commit()
        except BaseException as exc:
            # a failed COMMIT can leave the transaction open: end it, or later
            # writes would join it as savepoints and never be committed
            self.db.rollback()
            if isinstance(exc, sqlite3.OperationalError) and (exc.sqlite_errorname or "").startswith("SQLITE_READONLY"):
                raise StoreError(
                    f"{self.path}: is read-only ({exc}); nothing was saved; make the file and its folder writable "
                    "(check their owner and mode), or copy it to a writable folder"
                ) from None
            raise

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

    @property
    def db_uuid(self) -> str:
        return self.meta("db_uuid") or ""

    @property
    def site(self) -> str | None:
        return self.meta("site") or None

    # -- rubrics ---------------------------------------------------------------------------
    def add_rubric(self, rubric: Rubric) -> str:
        """Store a rubric's text (and its questions, for SQL readers); idempotent."""
        sha = rubric.sha256
        if self.db.execute("SELECT 1 FROM rubrics WHERE sha256 = ?", [sha]).fetchone():
            self._rubrics.setdefault(sha, rubric)
            return sha
        with self.transaction():
            self.db["rubrics"].insert(
                {"sha256": sha, "rubric_id": rubric.id, "version": rubric.version, "title": rubric.title, "text": rubric.text, "added_at": now()}
            )
            self.db["questions"].insert_all(
                {
                    "rubric_sha256": sha, "question_id": q.id, "position": i, "section_id": q.section_id,
                    "section_title": rubric.section_of(q.id).title, "type": q.type, "text": q.text,
                    "required": int(q.required), "applies_if": q.applies_if,
                }
                for i, q in enumerate(rubric.questions)
            )
            self.db["options"].insert_all(
                {"rubric_sha256": sha, "question_id": q.id, "code": code, "label": opt.label, "counts": int(opt.counts), "position": i}
                for q in rubric.questions
                for i, (code, opt) in enumerate(q.options.items())
            )
        self._rubrics[sha] = rubric
        return sha

    def rubric(self, sha256: str) -> Rubric:
        """The rubric stored under ``sha256``, parsed from the database's own copy."""
        if sha256 not in self._rubrics:
            row = self.db.execute("SELECT text, rubric_id FROM rubrics WHERE sha256 = ?", [sha256]).fetchone()
            if row is None:
                raise StoreError(f"{self.path}: no rubric with sha256 {sha256[:12]} in this database")
            from audit.rubric import parse_rubric

            self._rubrics[sha256] = parse_rubric(row[0], f"{self.path}:rubric {row[1]}")
        return self._rubrics[sha256]

    def rubrics(self) -> list[dict]:
        return [
            dict(zip(("sha256", "rubric_id", "version", "title"), r))
            for r in self.db.execute("SELECT sha256, rubric_id, version, title FROM rubrics ORDER BY added_at")
        ]

    def rubric_for(self, case: Case) -> Rubric:
        return self.rubric(case.rubric_sha256)

    # -- cases -----------------------------------------------------------------------------
    def _case_from_row(self, row) -> Case:
        return Case(*row)

    def case(self, case_uuid: str) -> Case:
        row = self.db.execute(f"SELECT {', '.join(CASE_COLUMNS)} FROM cases WHERE uuid = ?", [case_uuid]).fetchone()
        if row is None:
            raise StoreError(f"no case with id {case_uuid}")
        return self._case_from_row(row)

    def find_case(self, site: str, case_ref: str) -> Case | None:
        row = self.db.execute(
            f"SELECT {', '.join(CASE_COLUMNS)} FROM cases WHERE site = ? AND case_ref = ? ORDER BY created_at LIMIT 1",
            [site, case_ref],
        ).fetchone()
        return self._case_from_row(row) if row else None

    def create_case(
        self, case_ref: str, site: str, rubric: Rubric, inspector: str | None = None, *, who: str | None = None
    ) -> Case:
        case_ref, site = (case_ref or "").strip(), (site or "").strip()
        if not case_ref:
            raise StoreError("case_ref is empty; give the case's reference")
        if not site:
            raise StoreError("site is empty; give the site the case belongs to")
        if self.find_case(site, case_ref):
            raise StoreError(f"case_ref '{case_ref}' already exists at site '{site}'; open that case or use another ref")
        new = NewCase(case_ref=case_ref, site=site, rubric=rubric, answers={}, inspector=(inspector or "").strip() or None)
        self.insert_cases([new], who=who or current_user(), reason="created")
        return self.case(new.uuid)

    def insert_cases(
        self, cases: Iterable[NewCase], *, who: str, reason: str = "import", origin_file: str | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Insert checked cases and their answers in one transaction; returns how many."""
        from audit.counting import count_case
        from audit.engine import is_answered

        stamp = now()
        inserted = 0
        known_rubrics: dict[int, str] = {}  # id(rubric) -> sha256, so each rubric is stored once per call
        encoded: dict[str, str] = {}  # most answers repeat a few codes: encode each once
        with self.transaction():
            case_rows: list[tuple] = []
            answer_rows: list[tuple] = []
            history_rows: list[tuple] = []
            for new in cases:
                sha = known_rubrics.get(id(new.rubric))
                if sha is None:
                    sha = known_rubrics[id(new.rubric)] = self.add_rubric(new.rubric)
                tally = count_case(new.rubric, new.answers, new.evaluation)
                case_rows.append(
                    (
                        new.uuid, new.case_ref, new.site, new.inspector, new.status, stamp, stamp,
                        new.rubric.id, new.rubric.version, sha, tally.applicable_count, tally.answered_count,
                        None, origin_file,
                    )
                )
                applicable = tally.evaluation.applicable
                for qid, value in new.answers.items():
                    if not is_answered(value):
                        continue
                    if isinstance(value, str):
                        text = encoded.get(value)
                        if text is None:
                            text = encoded[value] = encode(value)
                    else:
                        text = encode(value)
                    answer_rows.append((new.uuid, qid, text, who, stamp, int(qid in applicable), int(qid in tally.counted)))
                history_rows.append((new.uuid, "case", None, origin_file or new.case_ref, who, stamp, reason))
                inserted += 1
                if len(answer_rows) >= 20000:
                    self._flush(case_rows, answer_rows, history_rows)
                    if progress:
                        progress(inserted)
            self._flush(case_rows, answer_rows, history_rows)
            if progress:
                progress(inserted)
        return inserted

    def _flush(self, case_rows: list, answer_rows: list, history_rows: list) -> None:
        conn = self.db.conn
        conn.executemany(f"INSERT INTO cases ({', '.join(CASE_COLUMNS)}) VALUES ({', '.join('?' * len(CASE_COLUMNS))})", case_rows)
        conn.executemany(
            "INSERT INTO answers (case_uuid, question_id, value, answered_by, answered_at, applies, counted, state) VALUES (?, ?, ?, ?, ?, ?, ?, 'current')",
            answer_rows,
        )
        conn.executemany(
            "INSERT INTO history (case_uuid, field, old_value, new_value, changed_by, changed_at, reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
            history_rows,
        )
        case_rows.clear()
        answer_rows.clear()
        history_rows.clear()

    def case_count(self, *, search: str = "", site: str | None = None, status: str | None = None) -> int:
        where, params = self._case_filter(search, site, status)
        return self.conn.execute(f"SELECT count(*) FROM cases {where}", params).fetchone()[0]

    SORTABLE = ("case_ref", "site", "inspector", "status", "updated_at", "created_at", "progress")

    def list_cases(
        self, *, search: str = "", site: str | None = None, status: str | None = None,
        order_by: str = "updated_at", descending: bool = True, limit: int = 100, offset: int = 0,
    ) -> list[Case]:
        """One page of cases; filtering and sorting happen in SQL, so 100k cases cost one page."""
        if order_by not in self.SORTABLE:
            raise StoreError(f"cannot sort by '{order_by}'; choose one of {', '.join(self.SORTABLE)}")
        where, params = self._case_filter(search, site, status)
        key = "(answered_count * 1.0 / max(applicable_count, 1))" if order_by == "progress" else order_by
        direction = "DESC" if descending else "ASC"
        rows = self.conn.execute(
            f"SELECT {', '.join(CASE_COLUMNS)} FROM cases {where} ORDER BY {key} {direction}, uuid {direction} LIMIT ? OFFSET ?",
            [*params, limit, offset],
        ).fetchall()
        return [self._case_from_row(r) for r in rows]

    @staticmethod
    def _case_filter(search: str, site: str | None, status: str | None) -> tuple[str, list]:
        clauses, params = [], []
        if search:
            clauses.append("(case_ref LIKE ? OR site LIKE ? OR inspector LIKE ?)")
            params += [f"%{search}%"] * 3
        if site:
            clauses.append("site = ?")
            params.append(site)
        if status:
            clauses.append("status = ?")
            params.append(status)
        return ("WHERE " + " AND ".join(clauses) if clauses else ""), params

    def completion(self, by: str) -> list[tuple]:
        """(group, cases, complete, answered, applicable) per site or per inspector."""
        if by not in ("site", "inspector"):
            raise StoreError(f"cannot group completion by '{by}'; choose site or inspector")
        return self.conn.execute(
            f"SELECT coalesce({by}, ''), count(*), sum(status = ?), sum(answered_count), sum(applicable_count) "
            "FROM cases GROUP BY 1 ORDER BY 1",
            [STATUS_COMPLETE],
        ).fetchall()

    def change_token(self) -> tuple:
        """A value that changes whenever a case is added or edited (both columns are cheap to read)."""
        return tuple(self.conn.execute("SELECT count(*), max(updated_at) FROM cases").fetchone())

    def sites(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT site FROM cases ORDER BY site")]

    # -- answers ---------------------------------------------------------------------------
    def answers(self, case_uuid: str) -> dict[str, Any]:
        """Current (not retired) answers of a case."""
        rows = self.db.execute(
            "SELECT question_id, value FROM answers WHERE case_uuid = ? AND state = 'current' AND value IS NOT NULL",
            [case_uuid],
        )
        return {qid: decode(value) for qid, value in rows}

    def answer_rows(self, case_uuid: str) -> dict[str, dict]:
        """Every answer row of a case, retired ones and notes included."""
        rows = self.db.execute(
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

    def preview_answer(self, case_uuid: str, question_id: str, value: Any) -> list[str]:
        """Answered questions that would stop applying if this answer were given."""
        from audit.engine import evaluate

        case = self.case(case_uuid)
        rubric = self.rubric_for(case)
        value = self._coerce(rubric, question_id, value)
        before = self.answers(case_uuid)
        after = dict(before)
        after[question_id] = value
        now_stale = set(evaluate(rubric, after).stale)
        was_stale = set(evaluate(rubric, before).stale)
        return [qid for qid in rubric.question_ids if qid in now_stale - was_stale and qid != question_id]

    @staticmethod
    def _coerce(rubric: Rubric, question_id: str, value: Any) -> Any:
        from audit.values import ValueProblem, coerce

        if not rubric.has_question(question_id):
            raise StoreError(f"question '{question_id}' is not in rubric {rubric.id}")
        try:
            return coerce(rubric.question(question_id), value)
        except ValueProblem as exc:
            raise StoreError(f"question '{question_id}': {exc}") from None

    def set_answer(self, case_uuid: str, question_id: str, value: Any, *, who: str | None = None) -> SaveResult:
        """Save one answer in its own transaction.

        Answers to questions that stop applying because of it are retired: kept
        (and in history) but never counted. Callers that must ask first use
        :meth:`preview_answer`. ``None`` clears the answer.
        """
        from audit.engine import evaluate

        who = who or current_user()
        case = self.case(case_uuid)
        rubric = self.rubric_for(case)
        value = self._coerce(rubric, question_id, value)
        stamp = now()
        with self.transaction():  # read under the write lock, so no other writer slips in between
            after = self.answers(case_uuid)
            after.pop(question_id, None)
            if value is not None:
                after[question_id] = value
            # One evaluation serves the whole save: a question's rule never reads the
            # question itself, and stale answers are invisible to rules, so retiring
            # them changes nothing about what applies.
            evaluation = evaluate(rubric, after)
            if value is not None and not evaluation.applies(question_id):
                rule = evaluation.excluded_by(question_id)
                because = f" (rule `{rule.source}` is not true)" if rule else ""
                raise StoreError(f"question '{question_id}' does not apply to case {case.case_ref}{because}; answer the questions it depends on first")
            old = self.db.execute(
                "SELECT value, state FROM answers WHERE case_uuid = ? AND question_id = ?", [case_uuid, question_id]
            ).fetchone()
            old_value = old[0] if old and old[1] == "current" else None
            new_value = encode(value)
            if old is None:
                self.db.execute(
                    "INSERT INTO answers (case_uuid, question_id, value, answered_by, answered_at, state, counted) VALUES (?, ?, ?, ?, ?, 'current', 0)",
                    [case_uuid, question_id, new_value, who, stamp],
                )
            else:
                self.db.execute(
                    "UPDATE answers SET value = ?, answered_by = ?, answered_at = ?, state = 'current' WHERE case_uuid = ? AND question_id = ?",
                    [new_value, who, stamp, case_uuid, question_id],
                )
            if old_value != new_value:
                self._history(case_uuid, question_id, "value", old_value, new_value, who, stamp, "answer")
            retired = self._retire(case_uuid, evaluation.stale, who, stamp)
            status = self._recount(case, rubric, who, stamp, evaluation)
        return SaveResult(question_id, value, retired, status)

    def set_note(self, case_uuid: str, question_id: str, note: str | None, *, who: str | None = None) -> None:
        """Save an evidence note for one question, in its own transaction."""
        who = who or current_user()
        case = self.case(case_uuid)
        if not self.rubric_for(case).has_question(question_id):
            raise StoreError(f"question '{question_id}' is not in rubric {case.rubric_id}")
        note = (note or "").strip() or None
        stamp = now()
        with self.transaction():
            old = self.db.execute(
                "SELECT note FROM answers WHERE case_uuid = ? AND question_id = ?", [case_uuid, question_id]
            ).fetchone()
            if old is None:
                if note is None:
                    return
                self.db.execute(
                    "INSERT INTO answers (case_uuid, question_id, value, note, answered_by, answered_at, state, counted) VALUES (?, ?, NULL, ?, ?, ?, 'current', 0)",
                    [case_uuid, question_id, note, who, stamp],
                )
            elif old[0] == note:
                return
            else:
                self.db.execute("UPDATE answers SET note = ? WHERE case_uuid = ? AND question_id = ?", [note, case_uuid, question_id])
            self._history(case_uuid, question_id, "note", old[0] if old else None, note, who, stamp, "note")
            self.db.execute("UPDATE cases SET updated_at = ? WHERE uuid = ?", [stamp, case_uuid])

    def _retire(self, case_uuid: str, stale: list[str], who: str, stamp: str) -> list[str]:
        """Mark answers that stopped applying as retired: kept, in history, never counted."""
        for qid in stale:
            self.db.execute(
                "UPDATE answers SET state = 'retired', counted = 0 WHERE case_uuid = ? AND question_id = ?", [case_uuid, qid]
            )
            self._history(case_uuid, qid, "state", "current", "retired", who, stamp, "stopped applying")
        return stale

    def _recount(self, case: Case, rubric: Rubric, who: str, stamp: str, evaluation: Evaluation | None = None) -> str:
        """Persist the counting module's verdict for every answer of a case.

        ``evaluation``, when the caller has one for the case's current answers, saves
        evaluating again.
        """
        from audit.counting import count_case

        answers = evaluation.answers if evaluation is not None else self.answers(case.uuid)
        tally: CaseCount = count_case(rubric, answers, evaluation)
        applicable = tally.evaluation.applicable
        rows = self.db.execute("SELECT question_id, applies, counted FROM answers WHERE case_uuid = ?", [case.uuid]).fetchall()
        changes = [
            (int(qid in applicable), int(qid in tally.counted), case.uuid, qid)
            for qid, applies, counted in rows
            if (applies, counted) != (int(qid in applicable), int(qid in tally.counted))
        ]
        self.db.conn.executemany("UPDATE answers SET applies = ?, counted = ? WHERE case_uuid = ? AND question_id = ?", changes)
        status = self.case(case.uuid).status
        if status == STATUS_COMPLETE and tally.evaluation.missing_required:
            # a completed case that now has required gaps is back in progress
            status = STATUS_IN_PROGRESS
            self._history(case.uuid, None, "status", STATUS_COMPLETE, STATUS_IN_PROGRESS, who, stamp, "required answer missing")
        self.db.execute(
            "UPDATE cases SET applicable_count = ?, answered_count = ?, updated_at = ?, status = ? WHERE uuid = ?",
            [tally.applicable_count, tally.answered_count, stamp, status, case.uuid],
        )
        return status

    def recount(self, case_uuid: str, *, who: str | None = None) -> None:
        """Recompute stored counts for a case (after a merge changed its answers)."""
        case = self.case(case_uuid)
        with self.transaction():
            self._recount(case, self.rubric_for(case), who or current_user(), case.updated_at)

    def set_status(self, case_uuid: str, status: str, *, who: str | None = None) -> Case:
        """Mark a case complete (only with no required gaps) or reopen it."""
        if status not in STATUSES:
            raise StoreError(f"status '{status}' is not one of {', '.join(STATUSES)}")
        who = who or current_user()
        case = self.case(case_uuid)
        if status == STATUS_COMPLETE:
            missing = self.evaluation(case_uuid).missing_required
            if missing:
                shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
                raise StoreError(f"case {case.case_ref} cannot be marked complete: {len(missing)} required question(s) unanswered: {shown}")
        if case.status == status:
            return case
        stamp = now()
        with self.transaction():
            self.db.execute("UPDATE cases SET status = ?, updated_at = ? WHERE uuid = ?", [status, stamp, case_uuid])
            self._history(case_uuid, None, "status", case.status, status, who, stamp, "status")
        return self.case(case_uuid)

    # -- history ---------------------------------------------------------------------------
    def _history(self, case_uuid, question_id, field_name, old, new, who, stamp, reason, origin=None) -> None:
        self.db.execute(
            "INSERT INTO history (case_uuid, question_id, field, old_value, new_value, changed_by, changed_at, reason, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [case_uuid, question_id, field_name, old, new, who, stamp, reason, origin],
        )

    def history(self, case_uuid: str) -> list[dict]:
        """A case's audit trail, oldest first."""
        cursor = self.db.execute(
            "SELECT id, question_id, field, old_value, new_value, changed_by, changed_at, reason, origin FROM history WHERE case_uuid = ? ORDER BY id",
            [case_uuid],
        )
        keys = [d[0] for d in cursor.description]
        return [dict(zip(keys, row)) for row in cursor]

    # -- bulk reads for tabulation ---------------------------------------------------------
    def iter_answers(self, question_ids: Iterable[str], *, counted_only: bool = True) -> Iterator[tuple[str, str, Any]]:
        """(case_uuid, question_id, value) for the given questions.

        ``counted_only``: answers in a percentage's base (the counting module's
        verdict). Otherwise: answers a rule can see (current, applicable, given).
        """
        ids = sorted(set(question_ids))
        if not ids:
            return iter(())
        marks = ", ".join("?" * len(ids))
        extra = "AND counted = 1" if counted_only else "AND applies = 1 AND state = 'current' AND value IS NOT NULL"
        cursor = self.db.execute(f"SELECT case_uuid, question_id, value FROM answers WHERE question_id IN ({marks}) {extra}", ids)
        return ((case_uuid, qid, decode(value)) for case_uuid, qid, value in cursor)

    def integrity_ok(self) -> bool:
        return self.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
