"""Backups of audit databases through SQLite's online backup API.

``backup_database`` copies a consistent snapshot of a database while other
connections (the UI, a merge holding the write lock) keep it open: in WAL mode
a reader sees only committed transactions, so the copy is the database as it
was at the last commit. The copy is written under a temporary name naming
this process, checked (``PRAGMA integrity_check``, the schema allow-list and
every value, :mod:`audit.dbcheck`), and only then given its final name, so a
backup that exists is a whole, verified one. Backups never overwrite a file
and are created with mode 0600: they hold the same data about real people.
A temporary copy left by a backup that was killed is removed by the next
backup beside it (:func:`audit.dbfile.clear_stale_temps`). The copy of an
encrypted database is encrypted too, opens with the same passphrase, and is
checked through that key.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from pathlib import Path

from audit import dbfile
from audit.errors import AuditError, StoreError
from audit.store import FILE_MODE, Store

BACKUP_SUFFIX = ".bak-"


def default_backup_path(db: str | Path, folder: str | Path | None = None) -> Path:
    """``DB.bak-YYYYmmdd-HHMMSS`` (local time) beside DB or in ``folder``, with -2, -3... if taken."""
    db = Path(db)
    folder = Path(folder) if folder is not None else db.parent
    stem = f"{db.name}{BACKUP_SUFFIX}{dt.datetime.now().strftime('%Y%m%d-%H%M%S')}"
    candidate = folder / stem
    number = 2
    while candidate.exists():
        candidate = folder / f"{stem}-{number}"
        number += 1
    return candidate


def _check_destination(dest: Path) -> None:
    if dest.exists():
        raise AuditError(f"{dest}: already exists; backups never overwrite a file, so choose another name")
    if not dest.parent.is_dir():
        raise AuditError(f"{dest}: folder {dest.parent} does not exist; create it first")


def backup_database(db: str | Path, dest: str | Path | None = None) -> Path:
    """Copy the audit database ``db`` to ``dest`` (default: a timestamped file beside it).

    ``dest`` may be a folder, which receives the default name. Refuses a file
    that is not an audit database (or holds anything the tool did not write)
    and an existing destination; returns the path written. Nothing is left
    behind on failure.
    """
    db = Path(db)
    if not db.exists():
        raise AuditError(f"{db}: does not exist; check the path")
    made = dbfile.sidecars_absent(db)
    try:
        return _backup(db, dest)
    finally:
        if made:
            dbfile.tidy_after_look(db)


def _backup(db: Path, dest: str | Path | None) -> Path:
    dbfile.look(db, integrity=False)  # foreign, newer or altered files; the copy's own checks find the rest
    if dest is None:
        dest = default_backup_path(db)
    else:
        dest = Path(dest)
        if dest.is_dir():
            dest = default_backup_path(db, dest)
    _check_destination(dest)
    try:
        if dest.resolve() == db.resolve():
            raise AuditError(f"{dest}: is the database itself; choose another name for the backup")
    except OSError:
        pass
    dbfile.clear_stale_temps(dest)
    partial = dbfile.temp_name(dest)
    try:
        fd = os.open(partial, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE)
    except OSError as exc:
        raise AuditError(f"{dest}: cannot write in folder {dest.parent} ({exc.strerror}); choose a folder you can write to") from None
    os.close(fd)  # SQLite has not opened it yet: closing drops no lock
    try:
        _copy(db, partial)
        os.chmod(partial, FILE_MODE)
        _publish(partial, dest)
    finally:
        dbfile.remove_temp(partial)  # the published copy is a second link to it
    return dest


def _copy(db: Path, partial: Path) -> None:
    from audit.dbcheck import check_content

    try:
        source = dbfile.connect_read_only(db)
    except StoreError as exc:
        raise StoreError(f"{db}: cannot be opened for backup ({str(exc).split(': ', 1)[-1]})") from None
    try:
        target = dbfile.connect_new(partial, dbfile.key_of(db))  # an encrypted database's copy: the same key and salt
        try:
            # pages=-1: one step, one read snapshot, so the copy is consistent
            source.backup(target, pages=-1)
            rows = target.execute("PRAGMA integrity_check(5)").fetchall()
            if rows != [("ok",)]:
                detail = "; ".join(str(r[0]) for r in rows)[:200]
                raise StoreError(f"{db}: the backup copy failed integrity_check ({detail}); the database may be corrupt, nothing was kept")
            # a self-contained file: no -wal beside it once closed
            target.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            target.close()
    except sqlite3.Error as exc:
        if dbfile.is_busy(exc):
            raise dbfile.busy(db) from None
        raise StoreError(f"{db}: backup failed ({exc}); nothing was kept") from None
    finally:
        source.close()
    try:
        copy = Store.open_read_only(partial)
    except StoreError as exc:
        raise StoreError(f"{db}: {str(exc).split(': ', 1)[-1]} (found in the backup copy; nothing was kept)") from None
    try:
        check_content(copy)
    except StoreError as exc:
        raise StoreError(f"{db}: {str(exc).split(': ', 1)[-1]} (found in the backup copy; nothing was kept)") from None
    finally:
        copy.close()


def _publish(partial: Path, dest: Path) -> None:
    """Give the verified copy its final name without ever replacing an existing file."""
    try:
        os.link(partial, dest)  # fails if dest exists: no overwrite, even in a race
    except FileExistsError:
        raise AuditError(f"{dest}: already exists; backups never overwrite a file, so choose another name") from None
    except OSError:
        # file systems without hard links (FAT on a USB stick): check, then rename
        if dest.exists():
            raise AuditError(f"{dest}: already exists; backups never overwrite a file, so choose another name") from None
        try:
            os.rename(partial, dest)
        except OSError as exc:
            raise AuditError(f"{dest}: the verified copy could not be given this name ({exc.strerror}); nothing was kept") from None
