"""Backups of audit databases through SQLite's online backup API.

``backup_database`` copies a consistent snapshot of a database while other
connections (the UI, a merge holding the write lock) keep it open: in WAL mode
a reader sees only committed transactions, so the copy is the database as it
was at the last commit. The copy is written under a temporary name, checked
with ``PRAGMA integrity_check``, and only then given its final name, so a
backup that exists is a whole, verified one. Backups never overwrite a file
and are created with mode 0600: they hold the same data about real people.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
import tempfile
from pathlib import Path

from audit.errors import AuditError
from audit.store import FILE_MODE, Store, StoreError, _connect, _precheck, _remove_sidecars, remove_database_files

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
    that is not an audit database and an existing destination; returns the
    path written. Nothing is left behind on failure.
    """
    db = Path(db)
    if not db.exists():
        raise AuditError(f"{db}: does not exist; check the path")
    # a read-only look at a WAL file creates -wal/-shm beside it; remove those we caused
    created = [p for p in (Path(f"{db}-wal"), Path(f"{db}-shm")) if not p.exists()]
    try:
        return _backup(db, dest)
    finally:
        _remove_sidecars(created)


def _backup(db: Path, dest: str | Path | None) -> Path:
    _precheck(db)
    Store._inspect(db, check=False)  # foreign or newer files; the copy's integrity_check finds corruption
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

    # mkstemp creates the file with mode 0600
    try:
        handle, partial_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent)
    except OSError as exc:
        raise AuditError(f"{dest}: cannot write in folder {dest.parent} ({exc.strerror}); choose a folder you can write to") from None
    os.close(handle)
    partial = Path(partial_name)
    try:
        _copy(db, partial)
        os.chmod(partial, FILE_MODE)
        _publish(partial, dest)
    finally:
        remove_database_files(partial)  # the published copy is a second link to it
    return dest


def _copy(db: Path, partial: Path) -> None:
    try:
        source = _connect(db, read_only=True)
    except sqlite3.Error as exc:
        raise StoreError(f"{db}: cannot be opened for backup ({exc})") from None
    try:
        target = sqlite3.connect(str(partial))
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
        raise StoreError(f"{db}: backup failed ({exc}); nothing was kept") from None
    finally:
        source.close()


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
