"""Database files: how they are looked at, opened, checked and created.

The rules (``docs/database.md``, "Handling the file"):

* **Only SQLite opens or closes a database file.** POSIX advisory locks belong
  to the process: closing *any* descriptor of the file (a Python ``open()`` to
  peek at its header, say) silently drops the locks that the process's own
  SQLite connections hold, and another process may then checkpoint and delete
  the ``-wal`` under them. So the header is never read by hand: ``os.stat``
  tells an empty or short file, SQLite tells the rest.
* **Nothing deletes ``-wal``, ``-shm`` or ``-journal`` files** of a database
  someone may be using. SQLite removes them itself when the last connection
  closes. A read-only look may leave an empty pair behind; they hold nothing.
* **A database is "made by this command" only if it was built under a
  temporary name and linked into place** (:func:`create_atomically`). Only
  such a temporary file, which nobody else can know of, is ever removed.
* **Every file is checked before anything is written:** it must be an audit
  database, not corrupt, not newer than this code, and hold exactly the schema
  objects the tool creates (:mod:`audit.schema`); see :func:`inspect`.
* **An encrypted file is opened here too**, by the same functions: :func:`_open`
  is the one place a connection is made, with the standard library for a plain
  file and SQLCipher (:mod:`audit.crypto`) for an encrypted one. A file SQLite
  cannot read that could be encrypted is unlocked (its passphrase asked for)
  the first time it is opened; every check below then runs on it unchanged.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator

from audit.errors import DatabaseBusy, StoreError
from audit import crypto, schema
from audit.schema import APPLICATION_ID, unexpected_objects

FILE_MODE = 0o600
#: how long a write waits for another program's lock before giving up (seconds; $AUDIT_BUSY_TIMEOUT for tests)
BUSY_TIMEOUT_S = float(os.environ.get("AUDIT_BUSY_TIMEOUT") or 10)
SQLITE_HEADER_SIZE = 100
TEMP_SUFFIX = ".tmp"

READ_ONLY_FOLDER = (
    "cannot be read where it is: its folder is read-only, and SQLite must create a -shm file beside a "
    "database whose -wal file holds changes; copy the database and its -wal file to a writable folder"
)
BUSY = "the database is busy (another program is writing it); try again"


def refuse(path: str | Path, reason: str) -> StoreError:
    return StoreError(f"{path}: {reason}")


def is_busy(exc: BaseException) -> bool:
    """Whether SQLite gave up waiting for a lock another connection holds."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "database is locked" in str(exc)


def busy(path: str | Path | None) -> DatabaseBusy:
    return DatabaseBusy(f"{path}: {BUSY}" if path else BUSY)


def cannot_write_beside(exc: sqlite3.Error) -> bool:
    """Whether SQLite failed because it could not create the -wal/-shm files beside a database."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name.startswith("SQLITE_READONLY") or name.startswith("SQLITE_CANTOPEN")


# --- looking at a path, without opening it -----------------------------------------------------


def check_path(path: Path, *, must_exist: bool = True) -> None:
    """Refuse, from ``stat`` alone, a path that cannot be a database."""
    shown = str(path)
    if path.is_dir():
        raise refuse(shown, "is a folder; give the path of a database file")
    if not path.exists():
        if must_exist:
            raise refuse(shown, "does not exist; check the path")
        if not path.parent.is_dir():
            raise refuse(shown, f"folder {path.parent} does not exist; create it first")
        return
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise refuse(shown, f"cannot be read ({exc.strerror})") from None
    if size == 0:
        raise refuse(shown, "is an empty file, not an audit database; delete it or choose another path")
    if size < SQLITE_HEADER_SIZE:
        raise refuse(
            shown, f"is not an audit database (only {size} bytes: too short for an SQLite file, or truncated); check the "
            "path, or restore it from a backup",
        )


# --- connections --------------------------------------------------------------------------------


def _open(target: str, key: crypto.FileKey | None, *, uri: bool = False, timeout: float = BUSY_TIMEOUT_S,
          new: bool = False) -> sqlite3.Connection:
    """The one place a connection is made, in autocommit mode: the standard library's sqlite3 for a
    plain file, SQLCipher keyed with ``key`` for an encrypted one (``new``: a file being created)."""
    if key is None:
        return sqlite3.connect(target, uri=uri, timeout=timeout, isolation_level=None)
    return crypto.connect(target, key.new_file() if new else key.existing(), uri=uri, timeout=timeout)


def key_of(path: str | Path) -> crypto.FileKey | None:
    """The key of an encrypted file this process has unlocked (or made); None for a plain one."""
    return crypto.KEYRING.known(Path(path))


def _probe(path: Path, key: crypto.FileKey | None) -> tuple[str, bool]:
    """(read-only URI, whether SQLite found no database there) for ``path`` read with ``key``."""
    uri = f"{path.resolve().as_uri()}?mode=ro"
    probe = _open(uri, key, uri=True)
    try:
        probe.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError as exc:
        wal = Path(f"{path}-wal")
        # never immutable beside a -journal: the file may hold half a write that only the journal undoes
        hot = (getattr(exc, "sqlite_errorname", "") or "") == "SQLITE_READONLY_ROLLBACK" or Path(f"{path}-journal").exists()
        if cannot_write_beside(exc) and not hot and not (wal.exists() and wal.stat().st_size > 0):
            return f"{uri}&immutable=1", False
    except sqlite3.DatabaseError as exc:
        return uri, crypto.not_a_database(exc)  # the caller's own queries say what is wrong with the file
    finally:
        probe.close()
    return uri, False


def read_only_uri(path: Path) -> str:
    """The URI for a read-only look at ``path`` (for ``sqlite3.connect(uri=True)`` or ATTACH).

    Reading a WAL database needs a -shm file beside it, which SQLite creates; in a
    folder nobody may write to (a read-only USB stick, a colleague's share) that
    fails. When no -wal file holds changes, the main file is the whole database
    and nothing can be writing it, so it is read as immutable instead.

    A file SQLite cannot read that could be an encrypted database is unlocked here
    (:meth:`audit.crypto.Keyring.unlock`: its passphrase is asked for, or read from
    a passphrase file), or refused in one line; then :func:`key_of` gives its key.
    """
    key = key_of(path)
    uri, unreadable = _probe(path, key)
    if unreadable and key is not None:  # a key remembered for a file that has since been replaced
        crypto.KEYRING.forget(path)
        key = None
        uri, unreadable = _probe(path, key)
    if unreadable and crypto.may_be_encrypted(path):
        key = crypto.KEYRING.unlock(path, _opens(path))
        uri, _ = _probe(path, key)
    return uri


def _opens(path: Path) -> Callable[[crypto.FileKey], bool]:
    return lambda key: not _probe(path, key)[1]


def locked(path: str | Path) -> bool:
    """Whether ``path`` is (as far as can be told) an encrypted database this process cannot open
    yet: not a plain SQLite file, whole pages long, and no passphrase given so far opens it. The UI
    then asks for the passphrase (:func:`try_passphrase`) before opening anything."""
    path = Path(path)
    if not path.is_file() or key_of(path) is not None or not crypto.may_be_encrypted(path):
        return False
    if not _probe(path, None)[1]:
        return False
    return crypto.KEYRING.unlock_quietly(path, _opens(path)) is None


def try_passphrase(path: str | Path, passphrase: str) -> bool:
    """Whether ``passphrase`` opens the encrypted ``path`` (its key is then remembered); slow on purpose."""
    path = Path(path)
    return crypto.KEYRING.attempt(path, passphrase, _opens(path)) is not None


def connect_read_only(path: Path) -> sqlite3.Connection:
    """A connection that cannot write the file (``mode=ro``: TEMP tables only); no journal-mode change, no migration."""
    try:
        uri = read_only_uri(path)
        conn = _open(uri, key_of(path), uri=True)
    except sqlite3.Error as exc:
        raise _refusal(str(path), exc) from None
    return conn


def connect_writable(path: Path) -> sqlite3.Connection:
    """A read-write connection in autocommit mode (writes take ``BEGIN IMMEDIATE`` themselves)."""
    key = key_of(path)
    if key is None and crypto.KEYRING.encrypt_new:
        raise refuse(
            path, f"is not encrypted, and --encrypt only makes new databases encrypted; encrypt this one in place "
            f"with `audit encrypt {path}` (close the UI first), then run this again; nothing was changed",
        )
    conn = _open(str(path), key)
    conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
    # every b-tree page a write reads is checked before it is changed: a damaged page fails the
    # write (SQLITE_CORRUPT, rolled back) instead of being built on
    conn.execute("PRAGMA cell_size_check = ON")
    return conn


def connect_new(path: Path, key: crypto.FileKey | None) -> sqlite3.Connection:
    """A connection that fills a new, empty file of our own making (a backup copy, say): encrypted
    with ``key`` (keeping its salt, so the copy opens with the same passphrase), or plain."""
    conn = _open(str(path), key, new=True)
    if key is not None:
        crypto.KEYRING.remember(path, key)
    return conn


def attach_read_only(conn: sqlite3.Connection, path: Path, name: str) -> bool:
    """ATTACH ``path`` read-only to ``conn`` as ``name``, with its own key; False when ``conn``'s
    SQLite cannot (an encrypted file and a plain connection, or the other way round: the caller
    then reads it through :func:`connect_read_only`)."""
    uri = read_only_uri(path)
    key = key_of(path)
    if (key is not None) != crypto.is_cipher(conn):
        return False
    if key is None:
        conn.execute(f"ATTACH DATABASE ? AS {name}", [uri])
    else:
        conn.execute(f"ATTACH DATABASE ? AS {name} KEY ?", [uri, key.existing()])
    return True


def refusal(shown: str, exc: sqlite3.Error) -> StoreError:
    """One line for an SQLite error met while reading ``shown``: busy, damaged, not a database..."""
    return _refusal(shown, exc)


def _refusal(shown: str, exc: sqlite3.Error) -> StoreError:
    if is_busy(exc):
        return busy(shown)
    if (getattr(exc, "sqlite_errorname", "") or "") == "SQLITE_READONLY_ROLLBACK":
        return refuse(
            shown, "holds an unfinished write (an import was interrupted; its -journal file is beside it): open it once "
            "for writing (`audit upgrade` or the UI) so that SQLite undoes it, then try again; never delete the -journal file",
        )
    if cannot_write_beside(exc):
        return refuse(shown, READ_ONLY_FOLDER)
    text = str(exc)
    if crypto.not_a_database(exc) and key_of(shown) is not None:
        return refuse(shown, crypto.WRONG)
    if "file is not a database" in text or "not a database" in text:
        return refuse(
            shown, "is not an audit database (not an SQLite file, or damaged beyond reading); check the path, "
            "or restore it from a backup",
        )
    return refuse(shown, f"is corrupt or not a database ({text}); restore it from a backup")


# --- inspecting -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileInfo:
    """What :func:`inspect` found in an acceptable audit database."""

    schema_version: int
    meta: dict[str, str]

    @property
    def db_uuid(self) -> str:
        return self.meta.get("db_uuid") or ""

    @property
    def site(self) -> str | None:
        return self.meta.get("site") or None

    @property
    def current(self) -> bool:
        return self.schema_version == schema.SCHEMA_VERSION


def inspect(conn: sqlite3.Connection, shown: str, *, integrity: bool) -> FileInfo:
    """Check, by reading only, that ``conn``'s file is an audit database this code may use.

    Refuses (``StoreError`` naming the file): a file that is not SQLite, is corrupt
    (``integrity_check`` when ``integrity``), belongs to another program, has no or a
    newer schema version, disagrees about its version between ``user_version`` and
    ``meta``, or holds any schema object the tool does not create (a trigger, say).
    """
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        if integrity:
            rows = conn.execute("PRAGMA integrity_check(5)").fetchall()
            if rows != [("ok",)]:
                detail = "; ".join(str(r[0]) for r in rows)[:200]
                raise refuse(shown, f"is corrupt (integrity_check: {detail}); restore it from a backup")
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if app_id != APPLICATION_ID or "meta" not in tables:
            raise refuse(shown, "is an SQLite database from another program, not an audit database; check the path")
        meta = {str(k): str(v) for k, v in conn.execute("SELECT key, value FROM meta") if k is not None and v is not None}
        user_version = conn.execute("PRAGMA user_version").fetchone()[0]
    except sqlite3.DatabaseError as exc:
        raise _refusal(shown, exc) from None
    text = meta.get("schema_version", "")
    version = int(text) if text.isdigit() and len(text) < 6 else None
    if version is None or version < 1:
        raise refuse(shown, "has no schema version; it is damaged or not an audit database")
    if version > schema.SCHEMA_VERSION:
        raise refuse(
            shown,
            f"was written by a newer audit (schema {version}; this version reads up to {schema.SCHEMA_VERSION}); upgrade audit to open it",
        )
    if user_version != version:
        raise refuse(
            shown,
            f"says schema {version} in its meta table but {user_version} in PRAGMA user_version; it was altered "
            "outside the tool, so it is not opened; restore it from a backup",
        )
    try:
        foreign = unexpected_objects(conn, version)
    except sqlite3.DatabaseError as exc:
        raise _refusal(shown, exc) from None
    if foreign:
        more = f" (and {len(foreign) - 1} more)" if len(foreign) > 1 else ""
        raise refuse(
            shown,
            f"holds a schema object the tool did not make: {foreign[0]}{more}; it was altered outside the tool "
            "and is not opened (nothing in it ran); restore it from a backup",
        )
    return FileInfo(version, meta)


def look(path: str | Path, *, integrity: bool) -> FileInfo:
    """Inspect an existing file through a read-only connection of its own.

    A read-only look at a WAL file makes SQLite create empty -wal/-shm files beside
    it; if this look made them, :func:`tidy_after_look` lets SQLite remove them.
    """
    path = Path(path)
    check_path(path)
    made = sidecars_absent(path)
    try:
        conn = connect_read_only(path)
        try:
            return inspect(conn, str(path), integrity=integrity)
        finally:
            conn.close()
    finally:
        if made:
            tidy_after_look(path)


def closed_cleanly(path: str | Path) -> bool:
    """Whether the last program that wrote ``path`` closed it cleanly, by stat alone: SQLite
    checkpoints the -wal into the file and removes it when the last connection closes, so a
    -wal holding frames (more than its 32-byte header), or a -journal, means a crash, a kill,
    a power cut or a stick pulled out midway (or another program has it open right now)."""
    wal, journal = Path(f"{path}-wal"), Path(f"{path}-journal")
    try:
        return not journal.exists() and (not wal.exists() or wal.stat().st_size <= 32)
    except OSError:
        return False


def quick_look(conn: sqlite3.Connection, shown: str) -> None:
    """The check every write waits for (docs/reliability.md, "The check before the first write"):
    ``PRAGMA quick_check`` of the small tables a write relies on (meta, rubrics, questions,
    options; milliseconds at any size). The pages of the large tables are verified by SQLite
    as each write reads them (``cell_size_check``, :func:`connect_writable`)."""
    try:
        for table in ("meta", "rubrics", "questions", "options"):
            rows = conn.execute(f"PRAGMA quick_check({table})").fetchall()
            if rows != [("ok",)]:
                detail = "; ".join(str(r[0]) for r in rows)[:200]
                raise refuse(shown, f"is corrupt (quick_check: {detail}); restore it from a backup")
    except sqlite3.DatabaseError as exc:
        raise _refusal(shown, exc) from None


def sidecars_absent(path: Path) -> bool:
    return not Path(f"{path}-wal").exists() and not Path(f"{path}-shm").exists()


def tidy_after_look(path: Path) -> None:
    """Remove the empty -wal/-shm a read-only look created, the only safe way: SQLite's own.

    A read-write connection that reads and closes deletes them when, and only when,
    it is the last connection to the file (SQLite takes an exclusive lock to know).
    Nothing is deleted by hand, so another program's live -wal is never touched.
    Best effort: if the file cannot be opened for writing, the pair stays.
    """
    if not (Path(f"{path}-wal").exists() or Path(f"{path}-shm").exists()):
        return
    try:
        conn = _open(str(path), key_of(path), timeout=1)
        try:
            conn.execute("PRAGMA query_only = ON")
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        pass


# --- large writes into an existing file ---------------------------------------------------------

#: page cache of a bulk write (KiB; SQLite's default is 2 MiB): fewer spills of dirty pages mid-transaction
BULK_CACHE_KIB = int(os.environ.get("AUDIT_BULK_CACHE_KIB") or 65536)  # tests make it small, to spill early


@contextlib.contextmanager
def bulk_write(path: Path) -> Iterator[tuple[sqlite3.Connection, bool]]:
    """A fresh connection for one large, all-or-nothing write transaction into the existing file
    ``path`` (an import), and whether the disk it needs beside the file is bounded.

    In WAL mode every page the transaction writes, new pages included, goes to the -wal file
    first and stays there until the commit: a 1M-case import needed a WAL of 3.3 GB beside its
    file. In rollback-journal mode (``DELETE``) only the *old* content of pages that existed
    before the transaction is copied to the -journal; pages appended to the file are not
    journalled at all. So the file is switched to ``DELETE`` for the transaction and back to WAL
    after it (docs/database.md, "Disk used by a large import").

    SQLite allows that switch only to the one connection that has the file open; if another
    program has it open (the UI, say), the write runs in WAL mode as before: the same
    all-or-nothing, with the WAL unbounded. The switch is the connection's first statement:
    a connection that had cached pages before another program's last commit would keep
    them after the switch (a WAL commit does not bump the header's change counter that a
    rollback-mode cache is checked against) and write over that commit; a fresh one has no
    cache. A ``kill -9`` midway leaves a hot -journal, which SQLite rolls back the next time
    the file is opened for writing (:func:`recover`).
    """
    conn = _open(str(path), key_of(path), timeout=0)  # another connection holds it: do not wait, stay in WAL
    try:
        try:
            switched = conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0] == "delete"
        except sqlite3.OperationalError:
            switched = False
        conn.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        conn.execute(f"PRAGMA cache_size = -{BULK_CACHE_KIB}")
        try:
            yield conn, switched
        finally:
            if switched:
                try:
                    conn.execute("PRAGMA journal_mode = WAL")
                except sqlite3.OperationalError:
                    pass  # another program opened it meanwhile and holds it: the next Store.open sets WAL again
    finally:
        conn.close()


def recover(path: Path) -> None:
    """Let SQLite roll back a hot -journal an interrupted bulk write left beside ``path``, before a
    read-only look (which cannot: SQLITE_READONLY_ROLLBACK). SQLite itself decides whether the
    journal is hot (no other process is writing); nothing is deleted by hand."""
    if not Path(f"{path}-journal").exists():
        return
    try:
        conn = _open(str(path), key_of(path))
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        pass  # the look that follows says what is wrong


# --- creating -------------------------------------------------------------------------------------


def temp_name(path: Path) -> Path:
    """A hidden temporary name beside ``path``, naming this process (see :func:`clear_stale_temps`)."""
    return path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}{TEMP_SUFFIX}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clear_stale_temps(path: Path) -> None:
    """Remove temporary files left beside ``path`` by a process that was killed.

    Only files named by :func:`temp_name` whose process is gone: a temp file of a
    process still running is its own business.
    """
    prefix = f".{path.name}."
    try:
        entries = list(path.parent.iterdir())
    except OSError:
        return
    for entry in entries:
        name = entry.name
        if not name.startswith(prefix):
            continue
        base = name.removeprefix(prefix)
        for suffix in ("", "-wal", "-shm", "-journal"):
            if suffix and base.endswith(TEMP_SUFFIX + suffix):
                base = base[: -len(suffix)]
        parts = base.split(".")
        if len(parts) != 3 or not parts[0].isdigit() or "." + parts[2] != TEMP_SUFFIX:
            continue
        if not _alive(int(parts[0])):
            overwrite_and_remove(entry)


def overwrite_and_remove(path: Path) -> None:
    """Remove a file of our own making that nobody has open, overwriting it first where it is its
    inode's last name (it may hold case data in plain text): see docs/data-protection.md for where an
    overwrite cannot reach (SSD wear levelling, copy-on-write file systems, snapshots, backups)."""
    try:
        info = path.lstat()
        if stat.S_ISREG(info.st_mode) and info.st_nlink == 1 and info.st_size > 0:
            fd = os.open(path, os.O_WRONLY)
            try:
                zeros = bytes(1 << 20)
                left = info.st_size
                while left > 0:
                    left -= os.write(fd, zeros[: min(left, len(zeros))])
                os.fsync(fd)
            finally:
                os.close(fd)
    except OSError:
        pass  # removed all the same
    path.unlink(missing_ok=True)


def remove_temp(temp: Path) -> None:
    """Delete a temporary database of our own making (nobody else knows its name)."""
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{temp}{suffix}").unlink(missing_ok=True)


def create_atomically(path: Path, build: Callable[[sqlite3.Connection], None]) -> None:
    """Make the database ``path`` appear whole or not at all.

    ``build`` fills a new 0600 file under a temporary name (journal in memory and
    no syncs: nothing else can see it, and a failure throws it away). The file is then synced and
    hard-linked to ``path``, which fails, rather than replace anything, if ``path``
    appeared meanwhile: ``FileExistsError`` then reaches the caller, and the
    temporary file is gone either way. With ``--encrypt``
    (:attr:`audit.crypto.Keyring.encrypt_new`) the file is encrypted from its first page.
    """
    clear_stale_temps(path)
    key = crypto.KEYRING.key_for_new(path)  # --encrypt: asked for before anything is made
    temp = temp_name(path)
    try:
        fd = os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE)
    except OSError as exc:
        raise refuse(str(path), f"cannot be created ({exc.strerror}); check the folder's permissions") from None
    os.close(fd)  # no SQLite connection has it open yet: closing drops no lock
    try:
        conn = connect_new(temp, key)
        try:
            conn.execute("PRAGMA journal_mode = MEMORY")
            conn.execute("PRAGMA synchronous = OFF")
            build(conn)
            # durable before it gets its real name: a last commit with a full sync (WAL, as
            # every audit database is; closing checkpoints it and removes the -wal)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("PRAGMA user_version = " + str(conn.execute("PRAGMA user_version").fetchone()[0]))
            conn.execute("COMMIT")
        finally:
            conn.close()
        _link(temp, path)
    finally:
        remove_temp(temp)
    _sync_folder(path.parent)


def publish(temp: Path, path: Path) -> None:
    """Give a finished, synced temporary file its name, never replacing a file (``FileExistsError``)."""
    _link(temp, path)
    _sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    """Make a rename or link in ``folder`` durable (best effort: some file systems cannot)."""
    _sync_folder(folder)


def _link(temp: Path, path: Path) -> None:
    try:
        os.link(temp, path)  # fails if path exists: never replaces a file
    except FileExistsError:
        raise
    except OSError:
        # file systems without hard links (FAT on a USB stick): check, then rename
        if path.exists():
            raise FileExistsError(str(path)) from None
        os.rename(temp, path)


def _sync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def refuse_as_output(output: str | Path, inputs: list[str | Path]) -> None:
    """Refuse an output path that is one of a command's input databases, or any audit database:
    writing there would destroy answers (a report is never written over a database)."""
    output = Path(output)
    for given in inputs:
        try:
            same = output.exists() and os.path.samefile(output, given)
        except OSError:
            same = output.resolve() == Path(given).resolve()
        if same or output.resolve() == Path(given).resolve():
            raise refuse(output, f"is one of the databases being read ({given}); choose another name for the output")
    if not output.exists() or output.is_dir():
        return
    try:
        size = output.stat().st_size
    except OSError:
        return
    if size < SQLITE_HEADER_SIZE:
        return
    try:
        _, unreadable = _probe(output, key_of(output))
    except sqlite3.Error:
        return
    if unreadable and crypto.may_be_encrypted(output):
        raise refuse(
            output, "may be an encrypted audit database (it is not a plain SQLite file, and it is whole pages "
            "long); an export never replaces one, so choose another name for the output",
        )
    try:
        conn = connect_read_only(output)
    except StoreError:
        return
    try:
        ours = conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    except sqlite3.DatabaseError:
        ours = False
    finally:
        conn.close()
    if ours:
        raise refuse(output, "is an audit database; an export never replaces one, so choose another name for the output")
