"""Encrypting, re-keying and decrypting a database file, whole or not at all (``docs/data-protection.md``).

``audit encrypt DB`` and ``audit rekey DB`` replace DB in place:

1. DB is checked like any file (:func:`audit.dbfile.look`, with ``integrity_check``),
   and unlocked if it is encrypted.
2. One SQLCipher connection makes a new 0600 file under a temporary name beside DB,
   keyed with the new key, and ATTACHes DB. It takes DB for itself: exclusive
   locking mode and ``BEGIN EXCLUSIVE``, which SQLite grants only when no other
   connection has DB open (the UI, say: then nothing is done), and which keeps
   everybody else out while DB is copied.
3. Every table, index and view is made again in the source's order, and every
   row copied with its rowid, so the copy's ``.dump`` is the source's
   (``sqlcipher_export`` reorders indexes and leaves out ``application_id`` and
   ``user_version``). The copy is
   checked: ``integrity_check``, the schema allow-list (:func:`audit.dbfile.inspect`)
   and the same number of rows in every table. It is switched to WAL, checkpointed
   and synced.
4. DB is released by SQLite, then held with an ``fcntl`` lock on SQLite's own lock
   bytes, so no program can start reading it in the instant before the rename (if
   one already has, nothing is done). The old file keeps a second name (a hard
   link), and the copy is renamed over DB: at every moment DB is the old file or
   the new one, whole.
5. The old file is overwritten with zeros, synced, and removed.

A kill at any moment leaves DB as it was or encrypted, never neither and never
half of one; a temporary file it leaves (the copy, or the old file under its
second name) is overwritten and removed by the next command that creates a file
beside DB (:func:`audit.dbfile.clear_stale_temps`).

``audit decrypt DB -o PLAIN`` only reads DB, and writes PLAIN like any new
database: under a temporary name, checked, then linked into place, never over an
existing file.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Callable

from audit import crypto, dbfile
from audit.crypto import FileKey
from audit.errors import AuditError, StoreError

IN_USE = (
    "is open in another program (the UI, or another command); close it and run this again; nothing was changed"
)
#: SQLite's lock bytes (os_unix.c): PENDING, RESERVED and the SHARED range
PENDING_BYTE = 0x40000000
LOCK_BYTES = 2 + 510


def encrypt_in_place(path: str | Path, new_key: Callable[[], FileKey]) -> None:
    """Encrypt the plain database ``path`` in place (see the module docstring).

    ``new_key()`` gives the key; it is asked for only once the file has been checked.
    """
    path = Path(path)
    dbfile.look(path, integrity=True)
    if dbfile.key_of(path) is not None:
        raise StoreError(f"{path}: is already encrypted; change its passphrase with `audit rekey {path}`")
    _replace(path, None, new_key())


def rekey_in_place(path: str | Path, new_key: Callable[[], FileKey]) -> None:
    """Re-encrypt the encrypted database ``path`` under a new passphrase (and a new salt), in place.

    ``new_key()`` gives the new key; it is asked for only once the current passphrase has opened the file.
    """
    path = Path(path)
    dbfile.look(path, integrity=True)
    old = dbfile.key_of(path)
    if old is None:
        raise StoreError(f"{path}: is not encrypted; encrypt it with `audit encrypt {path}`")
    _replace(path, old, new_key())


def decrypt_to(path: str | Path, output: str | Path) -> None:
    """Write a plain copy of the encrypted database ``path`` to the new file ``output``."""
    path, output = Path(path), Path(output)
    dbfile.look(path, integrity=True)
    key = dbfile.key_of(path)
    if key is None:
        raise StoreError(f"{path}: is not encrypted; there is nothing to decrypt (copy it with `audit backup`)")
    dbfile.check_path(output, must_exist=False)
    if output.exists() or output.is_symlink():
        raise AuditError(f"{output}: already exists; decrypt never replaces a file, so choose another name")
    dbfile.clear_stale_temps(output)
    temp = _new_temp(output)
    try:
        plain_snapshot(path, temp)
        _sync(temp)
        try:
            dbfile.publish(temp, output)
        except FileExistsError:
            raise AuditError(f"{output}: was created by another program meanwhile; nothing was written") from None
    finally:
        dbfile.remove_temp(temp)


def plain_snapshot(path: Path, dest: Path) -> None:
    """Fill the new, empty file ``dest`` with a plain copy of the database ``path`` as it is now (one
    read snapshot, while its UI may write), checked like the original: integrity, schema, row counts.

    A plain database is copied with SQLite's online backup API; an encrypted one by
    :func:`_export` in one read transaction (the backup API cannot decrypt).
    """
    key = dbfile.key_of(path)
    if key is None:
        source = dbfile.connect_read_only(path)
        try:
            copy = dbfile.connect_new(dest, None)
            try:
                source.backup(copy, pages=-1)  # one step: one read snapshot
                _check_copy(copy, path, "the copy", against_source=False)  # the source may have moved on since
                _finish(copy)
            finally:
                copy.close()
        finally:
            source.close()
        return
    conn = crypto.connect(str(dest), None)  # SQLCipher's library, no key: a plain SQLite file
    try:
        conn.execute("ATTACH DATABASE ? AS src KEY ?", [dbfile.read_only_uri(path), key.existing()])
        conn.execute("BEGIN")  # one read snapshot of the source, even while its UI writes
        _in_transaction(conn, lambda: (_export(conn), _check_copy(conn, path, "the decrypted copy")))
        conn.execute("DETACH DATABASE src")
        _finish(conn)
    finally:
        conn.close()
    crypto.KEYRING.forget(dest)  # a plain file, whatever inode it reuses


def case_level_warning(output: str | Path, databases: list[str | Path]) -> str | None:
    """The warning for case-level output (notes, one row per case) written from an encrypted
    database: the output is a plain file. None when every database is plain."""
    encrypted = [str(path) for path in databases if dbfile.key_of(path) is not None]
    if not encrypted:
        return None
    return (
        f"{output} is not encrypted, but holds case-level data from the encrypted {encrypted[0]}: anyone who gets it "
        "can read it; keep it on an encrypted disk and delete it when done, or hand cases over as a bundle "
        "(audit bundle DB --to LEAD.pub -o SITE.audit.age)"
    )


# --- in place -------------------------------------------------------------------------------------


def _replace(path: Path, old: FileKey | None, new: FileKey) -> None:
    path = Path(os.path.realpath(path))  # a symbolic link's file, not the link
    if path.stat().st_nlink > 1:
        raise StoreError(
            f"{path}: has other names (hard links), which would keep the old contents readable; copy it "
            "(audit backup), encrypt the copy, and remove the other names; nothing was changed"
        )
    dbfile.clear_stale_temps(path)
    temp = _new_temp(path)
    kept: Path | None = None
    guard: int | None = None
    try:
        conn = crypto.connect(str(temp), new.new_file(), timeout=1)
        try:
            conn.execute("ATTACH DATABASE ? AS src KEY ?", [str(path), old.existing() if old else ""])
            conn.execute("PRAGMA src.locking_mode = EXCLUSIVE")
            try:
                conn.execute("BEGIN EXCLUSIVE")
            except sqlite3.OperationalError as exc:
                if dbfile.is_busy(exc):
                    raise StoreError(f"{path}: {IN_USE}") from None
                raise
            _in_transaction(conn, lambda: (_export(conn), _check_copy(conn, path, "the encrypted copy")))
            conn.execute("DETACH DATABASE src")  # SQLite closes DB: its -wal is checkpointed and removed by name
            _finish(conn)
        finally:
            conn.close()
        _sync(temp)
        guard = _hold(path)
        kept = dbfile.temp_name(path)
        os.link(path, kept)
        os.replace(temp, path)  # DB is the old file or the new one, never neither
        dbfile.sync_folder(path.parent)
        crypto.KEYRING.remember(path, new)
    except sqlite3.Error as exc:
        raise StoreError(f"{path}: could not be copied ({exc}); nothing was changed") from None
    finally:
        dbfile.remove_temp(temp)
        if kept is not None:
            dbfile.overwrite_and_remove(kept)  # while still held: a program that waited reads zeros, and refuses
        if guard is not None:
            os.close(guard)  # the old file only: no SQLite connection of ours has it open


def _hold(path: Path) -> int:
    """Keep every program from starting to read ``path`` until the returned descriptor is closed.

    A write lock on SQLite's PENDING, RESERVED and SHARED bytes: SQLite cannot take
    a SHARED lock (needed to read anything) while it is held, and it cannot be
    taken while anyone holds one, so a program that opened DB meanwhile is found.
    Only called when no SQLite connection of this process has the file open:
    closing this descriptor then drops nobody's locks.
    """
    import fcntl

    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, LOCK_BYTES, PENDING_BYTE, os.SEEK_SET)
    except OSError:
        os.close(fd)
        raise StoreError(f"{path}: {IN_USE}") from None
    return fd


# --- shared steps -------------------------------------------------------------------------------


def _new_temp(path: Path) -> Path:
    temp = dbfile.temp_name(path)
    try:
        fd = os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, dbfile.FILE_MODE)
    except OSError as exc:
        raise StoreError(f"{path}: cannot write in folder {path.parent} ({exc.strerror}); nothing was changed") from None
    os.close(fd)  # no SQLite connection has it open yet: closing drops no lock
    return temp


def _in_transaction(conn: sqlite3.Connection, work) -> None:
    """Run ``work`` in the transaction just begun: committed if it succeeds, rolled back if not."""
    try:
        work()
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _export(conn: sqlite3.Connection) -> None:
    """Copy the attached ``src`` into the empty ``main``: every object in ``src``'s own order (so the
    copy's ``.dump`` is the source's, which ``sqlcipher_export`` does not keep), every row with its
    rowid, SQLite's own tables, and the two header fields."""
    objects = conn.execute("SELECT type, name, sql FROM src.sqlite_master WHERE sql IS NOT NULL ORDER BY rowid").fetchall()
    tables, internal, triggers = [], [], []
    for kind, name, sql in objects:
        if name.startswith("sqlite_"):
            internal.append(name)  # made by SQLite itself (ANALYZE statistics, AUTOINCREMENT counters)
        elif kind == "trigger":
            triggers.append(sql)  # after the rows, so that copying them fires nothing (audit files have none)
        else:
            conn.execute(sql)  # unqualified: created in main
            if kind == "table":
                tables.append(name)
    without_rowid = {r[0] for r in conn.execute("SELECT name FROM pragma_table_list WHERE schema = 'src' AND wr = 1")}
    for name in tables:
        quoted = _quoted(name)
        columns = [_quoted(r[1]) for r in conn.execute(f"PRAGMA src.table_xinfo({quoted})") if r[6] == 0]
        listed = ", ".join((["rowid"] if name not in without_rowid else []) + columns)
        conn.execute(f"INSERT INTO main.{quoted} ({listed}) SELECT {listed} FROM src.{quoted}")
    for name in internal:
        if name.startswith("sqlite_stat"):
            conn.execute("ANALYZE main.sqlite_master")  # makes SQLite's statistics tables, empty
        if conn.execute("SELECT 1 FROM main.sqlite_master WHERE name = ?", [name]).fetchone():
            conn.execute(f"DELETE FROM main.{name}")
            conn.execute(f"INSERT INTO main.{name} SELECT * FROM src.{name}")
    for sql in triggers:
        conn.execute(sql)
    for pragma in ("application_id", "user_version"):
        value = int(conn.execute(f"PRAGMA src.{pragma}").fetchone()[0])
        conn.execute(f"PRAGMA main.{pragma} = {value}")


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _check_copy(conn: sqlite3.Connection, path: Path, what: str, *, against_source: bool = True) -> None:
    """The copy (``main``): integrity and schema, and (``against_source``, in the snapshot it was
    copied from) the same tables and row counts as the attached ``src``."""
    rows = conn.execute("PRAGMA main.integrity_check(5)").fetchall()
    if rows != [("ok",)]:
        raise StoreError(f"{path}: {what} failed integrity_check ({rows[0][0]}); nothing was changed")
    dbfile.inspect(conn, f"{path} ({what})", integrity=False)
    if not against_source:
        return
    tables = [r[0] for r in conn.execute("SELECT name FROM src.sqlite_master WHERE type = 'table' ORDER BY name")]
    copied = [r[0] for r in conn.execute("SELECT name FROM main.sqlite_master WHERE type = 'table' ORDER BY name")]
    if tables != copied:
        raise StoreError(f"{path}: {what} does not hold the same tables; nothing was changed")
    for table in tables:
        quoted = _quoted(table)
        theirs = conn.execute(f"SELECT count(*) FROM src.{quoted}").fetchone()[0]
        ours = conn.execute(f"SELECT count(*) FROM main.{quoted}").fetchone()[0]
        if theirs != ours:
            raise StoreError(f"{path}: {what} holds {ours} rows of {table}, not {theirs}; nothing was changed")


def _finish(conn: sqlite3.Connection) -> None:
    """WAL, like every audit database, with everything in the main file and a full sync."""
    conn.execute("PRAGMA main.journal_mode = WAL")
    conn.execute("PRAGMA main.synchronous = FULL")
    conn.execute("PRAGMA main.wal_checkpoint(TRUNCATE)")


def _sync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)  # our own temporary file, which no connection has open
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
