"""Shared pieces of the encryption and bundle tests: a site database full of recognisable text,
passphrase files, and ways to read a file's content back (plain or encrypted)."""

from __future__ import annotations

import hashlib
import os

import pytest
import sqlite3
import subprocess
import sys
from pathlib import Path

from audit import crypto
from audit.store import NewCase, Store

ROOT = Path(__file__).resolve().parent.parent
AUDIT = [sys.executable, "-m", "audit.cli"]
PASSPHRASE = "correct horse battery staple"
OTHER_PASSPHRASE = "violet kettle orbit meadow"
NOTE = "NOTE-KESTREL-7 seen at home visit"
INSPECTOR = "inspector-wren"
ANSWERS = {"sentence_type": "community", "lead_agency": "crc", "age": 30, "assessment_completed": "yes",
           "factors": ["drugs"], "services_drugs": "yes", "complied": "yes"}
#: what must never be found in an encrypted file's bytes
MARKERS = [b"SQLite format 3", b"REF-ZQX", NOTE.encode(), b"NOTE-KESTREL", INSPECTOR.encode(), b"sheffield",
           b"Community sentence", b"Community Rehabilitation Company", b"iom-thematic-2019", b"lead_agency"]


@pytest.fixture(autouse=True)
def fresh_keyring(monkeypatch):
    """Each test starts knowing no passphrase, and no passphrase file from the environment."""
    monkeypatch.delenv(crypto.PASSPHRASE_FILE_ENV, raising=False)
    crypto.KEYRING.reset()
    yield
    crypto.KEYRING.reset()


def refused(args: list[str], capsys, *fragments: str) -> str:
    """The command, in this process, refuses with rc 1, one message and no traceback, saying each fragment."""
    from audit.cli import main

    assert main(args) == 1, args
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err, err
    for fragment in fragments:
        assert fragment in err, (args, err)
    return err


def make_site(path: Path, rubric, *, cases: int = 6, site: str = "sheffield", prefix: str = "REF-ZQX") -> Path:
    """A plain site database whose case refs, notes and inspector are easy to find in its bytes."""
    with Store.open(path, site=site) as store:
        store.insert_cases(
            [NewCase(f"{prefix}-{i:03d}", site, rubric, dict(ANSWERS), inspector=INSPECTOR,
                     notes={"lead_agency": f"{NOTE} {i}"}) for i in range(cases)],
            who=INSPECTOR,
        )
    checkpoint(path)
    return path


def checkpoint(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def passphrase_file(folder: Path, text: str = PASSPHRASE, *, name: str = "passphrase", mode: int = 0o600) -> Path:
    path = folder / name
    path.write_text(text + "\n", encoding="utf-8")
    os.chmod(path, mode)
    return path


def run(*args: str, env: dict | None = None, timeout: float = 180) -> subprocess.CompletedProcess:
    """The real command, in its own process, with no terminal: never asked for anything."""
    return subprocess.run([*AUDIT, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, stdin=subprocess.DEVNULL)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def files_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def plaintext_found(path: Path) -> list[bytes]:
    data = path.read_bytes()
    return [marker for marker in MARKERS if marker in data]


def cipher_connection(path: Path, passphrase: str = PASSPHRASE) -> sqlite3.Connection:
    """A SQLCipher connection opened the plain way: the passphrase, SQLCipher's own key derivation."""
    conn = crypto.connect(str(path), None)
    conn.execute("PRAGMA key = '" + passphrase.replace("'", "''") + "'")
    return conn


def content(conn: sqlite3.Connection) -> dict:
    """Everything a database holds: schema, every table's and view's rows (ordered), application_id and user_version."""
    out = {
        "application_id": conn.execute("PRAGMA application_id").fetchone()[0],
        "user_version": conn.execute("PRAGMA user_version").fetchone()[0],
        "schema": sorted(tuple(r) for r in conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master")),
    }
    for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name").fetchall():
        out[table] = sorted(tuple(map(repr, row)) for row in conn.execute(f'SELECT * FROM "{table}"'))
    return out


def plain_content(path: Path) -> dict:
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return content(conn)
    finally:
        conn.close()


def encrypted_content(path: Path, passphrase: str = PASSPHRASE) -> dict:
    conn = cipher_connection(path, passphrase)
    try:
        return content(conn)
    finally:
        conn.close()


def dump(path: Path) -> list[str]:
    """The ``.dump`` of a plain file, with the two header fields it leaves out."""
    conn = sqlite3.connect(path)
    try:
        head = [f"PRAGMA application_id={conn.execute('PRAGMA application_id').fetchone()[0]};",
                f"PRAGMA user_version={conn.execute('PRAGMA user_version').fetchone()[0]};"]
        return head + list(conn.iterdump())
    finally:
        conn.close()
