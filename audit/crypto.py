"""Encryption at rest: SQLCipher connections, file keys and passphrases (``docs/data-protection.md``).

* **SQLCipher 4, its defaults.** An encrypted database is an SQLCipher 4 file:
  every page AES-256 encrypted and HMAC-SHA512 authenticated, the key derived
  from the passphrase with PBKDF2-HMAC-SHA512 (256,000 iterations) and the
  16-byte salt the file begins with. Nothing else in it is readable, not even
  "SQLite format 3".
* **One slow derivation per file and process.** The derivation is deliberately
  slow (about 0.5 s): it is what makes guessing passphrases for a stolen file
  expensive. It is done once, here, with :mod:`hashlib` (the same PBKDF2 as
  SQLCipher's), and every connection then gives SQLCipher the derived key
  itself (``x'...'``), so the UI's worker connections open in a millisecond.
* **The key ring** (:data:`KEYRING`) holds, for this process only, the key of
  each encrypted file it has unlocked, by the file's identity (device and
  inode: hard links and the temporary name a new file is built under share
  it). :mod:`audit.dbfile` asks it, so every command opens an encrypted file
  through the same few functions as a plain one.
* **Where passphrases come from:** a file named by ``--passphrase-file`` or
  ``$AUDIT_PASSPHRASE_FILE``, readable by its owner only (0600, or a pipe such as
  ``<(pass show audit)``); the person at the terminal, with no echo (twice
  when it is set); the UI's dialog. Never a command-line argument (others see
  it in ``ps``) nor an environment variable holding it (``/proc/PID/environ``).
* **SQLCipher connections raise the standard library's exceptions.** The
  binding (``sqlcipher3``) has its own ``Error`` classes; a connection made
  here translates them (same class name, message, ``sqlite_errorcode`` and
  ``sqlite_errorname``), so the code that handles ``sqlite3.Error`` (and
  sqlite-utils) handles an encrypted file's errors unchanged.
* **One SQLite library per file.** SQLCipher is a second copy of SQLite in
  the process, with its own POSIX locks: a file is only ever opened by one of
  the two at a time (plain: the standard library; encrypted: SQLCipher), so
  neither can drop the other's locks.
"""

from __future__ import annotations

import getpass
import hashlib
import os
import secrets
import sqlite3
import stat
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

from audit.errors import StoreError

KDF_ITERATIONS = 256_000
KDF_HASH = "sha512"
KEY_BYTES = 32
SALT_BYTES = 16
#: the smallest SQLCipher page: an encrypted file is always a whole number of them
MIN_PAGE = 512
#: a new passphrase is at least this long (characters): see docs/data-protection.md
MIN_PASSPHRASE = 12
MAX_SECRET_FILE = 4096
PASSPHRASE_FILE_ENV = "AUDIT_PASSPHRASE_FILE"
#: environment variables that would hold a passphrase itself: refused, never read
REFUSED_ENV = ("AUDIT_PASSPHRASE", "AUDIT_KEY")
ATTEMPTS = 3

WRONG = "wrong passphrase, or not an audit database"
HOW_TO_GIVE = (
    "give its passphrase with --passphrase-file FILE or $AUDIT_PASSPHRASE_FILE (a file only you can read, mode "
    "0600), or run the command in a terminal"
)


# --- keys ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileKey:
    """The key of one encrypted file: derived from its passphrase and its salt."""

    key: bytes = field(repr=False)
    salt: bytes

    def existing(self) -> str:
        """The value for ``PRAGMA key`` / ``ATTACH ... KEY`` on a file that exists (its salt is in it)."""
        return f"x'{self.key.hex()}'"

    def new_file(self) -> str:
        """The value that makes a new file with this salt: it then opens with the same passphrase."""
        return f"x'{self.key.hex()}{self.salt.hex()}'"


_DERIVED: dict[tuple[str, bytes], FileKey] = {}


def derive(passphrase: str, salt: bytes) -> FileKey:
    """SQLCipher 4's key derivation (slow on purpose), remembered for this process."""
    found = _DERIVED.get((passphrase, salt))
    if found is None:
        key = hashlib.pbkdf2_hmac(KDF_HASH, passphrase.encode("utf-8"), salt, KDF_ITERATIONS, KEY_BYTES)
        found = _DERIVED[(passphrase, salt)] = FileKey(key, salt)
    return found


def new_key(passphrase: str) -> FileKey:
    """The key of a new file: a fresh random salt."""
    return derive(passphrase, secrets.token_bytes(SALT_BYTES))


def check_new_passphrase(passphrase: str, where: str) -> str:
    """A passphrase fit to protect a file, or one line saying why not."""
    if not passphrase:
        raise StoreError(f"{where}: the passphrase is empty")
    if len(passphrase) < MIN_PASSPHRASE:
        raise StoreError(
            f"{where}: a passphrase needs at least {MIN_PASSPHRASE} characters (this one has {len(passphrase)}); "
            "four or more unrelated words are easy to type and hard to guess (docs/data-protection.md)"
        )
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in passphrase):
        raise StoreError(f"{where}: a passphrase cannot hold control characters (tabs, line breaks)")
    return passphrase


# --- connections ------------------------------------------------------------------------------


def _binding():
    from sqlcipher3 import dbapi2

    return dbapi2


def translated(exc: BaseException) -> sqlite3.Error:
    """The standard library's exception for a SQLCipher one: same class name, message and error code."""
    kind = getattr(sqlite3, type(exc).__name__, None)
    if not (isinstance(kind, type) and issubclass(kind, sqlite3.Error)):
        kind = sqlite3.DatabaseError
    error = kind(*exc.args)
    error.sqlite_errorcode = getattr(exc, "sqlite_errorcode", None)
    error.sqlite_errorname = getattr(exc, "sqlite_errorname", None)
    return error


_CLASSES: tuple[type, type] | None = None
_CLASSES_LOCK = threading.Lock()


def _classes() -> tuple[type, type]:
    """The connection and cursor classes (made once: importing SQLCipher is deferred until needed)."""
    global _CLASSES
    with _CLASSES_LOCK:
        if _CLASSES is not None:
            return _CLASSES
        dbapi2 = _binding()
        Error = dbapi2.Error

        def translating(method):
            def call(self, *args, **kwargs):
                try:
                    return method(self, *args, **kwargs)
                except Error as exc:
                    raise translated(exc) from None

            call.__name__ = method.__name__
            return call

        class CipherCursor(dbapi2.Cursor):
            """A SQLCipher cursor that raises ``sqlite3`` exceptions, also while rows are read."""

        for name in ("execute", "executemany", "executescript", "fetchone", "fetchmany", "fetchall", "__next__"):
            setattr(CipherCursor, name, translating(getattr(dbapi2.Cursor, name)))

        class CipherConnection(dbapi2.Connection):
            """A SQLCipher connection that raises ``sqlite3`` exceptions (see the module docstring)."""

            def cursor(self, factory=CipherCursor):
                try:
                    return super().cursor(factory)
                except Error as exc:
                    raise translated(exc) from None

            def execute(self, sql, parameters=()):
                return self.cursor().execute(sql, parameters)

            def executemany(self, sql, seq_of_parameters):
                return self.cursor().executemany(sql, seq_of_parameters)

            def executescript(self, script):
                return self.cursor().executescript(script)

        for name in ("commit", "rollback", "backup", "close"):
            setattr(CipherConnection, name, translating(getattr(dbapi2.Connection, name)))

        _CLASSES = (CipherConnection, CipherCursor)
        return _CLASSES


_QUIET = False


def connect(target: str, spec: str | None, *, uri: bool = False, timeout: float = 10.0) -> sqlite3.Connection:
    """A SQLCipher connection in autocommit mode, keyed with ``spec`` (:meth:`FileKey.existing` or
    :meth:`FileKey.new_file`), or unkeyed (a plain file, for ``sqlcipher_export``).

    The key is set before anything is read: a wrong one fails at the first query with
    "file is not a database" (``SQLITE_NOTADB``), which :func:`not_a_database` tells.
    """
    global _QUIET
    connection_class, _ = _classes()
    dbapi2 = _binding()
    try:
        conn = dbapi2.connect(target, uri=uri, timeout=timeout, isolation_level=None, factory=connection_class)
    except dbapi2.Error as exc:
        raise translated(exc) from None
    if not _QUIET:
        # SQLCipher logs a failed page check to stderr: a wrong passphrase is said in one line of ours instead
        conn.execute("PRAGMA cipher_log_level = NONE")
        _QUIET = True
    if spec is not None:
        conn.execute(f'PRAGMA key = "{spec}"')  # hex digits only: nothing to quote
    return conn


def is_cipher(conn: object) -> bool:
    """Whether ``conn`` is a SQLCipher connection (made by :func:`connect`)."""
    return _CLASSES is not None and isinstance(conn, _CLASSES[0])


def file_salt(path: Path) -> bytes:
    """The 16-byte salt an SQLCipher file begins with, read through SQLCipher itself (no key derivation)."""
    conn = connect(f"{path.resolve().as_uri()}?mode=ro", f"x'{'00' * KEY_BYTES}'", uri=True, timeout=1)
    try:
        text = conn.execute("PRAGMA cipher_salt").fetchone()[0]
    finally:
        conn.close()
    return bytes.fromhex(text)


def not_a_database(exc: BaseException) -> bool:
    name = getattr(exc, "sqlite_errorname", "") or ""
    return name == "SQLITE_NOTADB" or "file is not a database" in str(exc)


def may_be_encrypted(path: Path) -> bool:
    """Whether a file SQLite cannot read could be an encrypted database: whole pages, two at least.

    An SQLCipher file is indistinguishable from random bytes without its key, so
    this is all that can be known; a text file or a workbook is almost never a
    whole number of 512-byte pages. A truncated encrypted file is not either,
    and is refused as damaged without asking for a passphrase.
    """
    try:
        size = path.stat().st_size
    except OSError:
        return False
    return size >= 2 * MIN_PAGE and size % MIN_PAGE == 0


def identity(path: Path) -> tuple[int, int] | None:
    try:
        found = path.stat()
    except OSError:
        return None
    return found.st_dev, found.st_ino


# --- passphrases --------------------------------------------------------------------------------


def read_secret_file(path: str | Path, what: str = "passphrase file") -> str:
    """The text of a passphrase (or key) file, refused unless only its owner can read it.

    A regular file or a pipe (``--passphrase-file <(pass show audit)``), owned by
    you, with no permission for group or others (0600 or 0400), at most 4 KiB,
    UTF-8. One trailing line break is dropped.
    """
    path = Path(path)
    try:
        info = path.stat()
    except OSError as exc:
        raise StoreError(f"{path}: the {what} cannot be read ({exc.strerror}); check the path") from None
    if not (stat.S_ISREG(info.st_mode) or stat.S_ISFIFO(info.st_mode)):
        raise StoreError(f"{path}: the {what} is not a file")
    if info.st_mode & 0o077:
        raise StoreError(
            f"{path}: the {what} can be read by others (mode {stat.S_IMODE(info.st_mode):04o}); it is refused; make it "
            f"yours only with: chmod 600 {path}"
        )
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise StoreError(f"{path}: the {what} belongs to another user; it is refused; use a file of your own (mode 0600)")
    try:
        with path.open("rb") as handle:  # a secret file, never a database
            data = handle.read(MAX_SECRET_FILE + 1)
    except OSError as exc:
        raise StoreError(f"{path}: the {what} cannot be read ({exc.strerror})") from None
    if len(data) > MAX_SECRET_FILE:
        raise StoreError(f"{path}: the {what} is longer than {MAX_SECRET_FILE} bytes; it should hold one line")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise StoreError(f"{path}: the {what} is not UTF-8 text") from None
    if text.endswith("\r\n"):
        text = text[:-2]
    elif text.endswith("\n"):
        text = text[:-1]
    if not text:
        raise StoreError(f"{path}: the {what} is empty")
    return text


class Prompt(Protocol):
    """Someone to ask for a passphrase (the terminal); ``None`` answers mean they gave up."""

    def ask(self, question: str) -> str | None: ...

    def tell(self, message: str) -> None: ...


class TerminalPrompt:
    """Asks on the controlling terminal with no echo (``getpass``)."""

    def ask(self, question: str) -> str | None:
        try:
            return getpass.getpass(question)
        except EOFError:
            return None

    def tell(self, message: str) -> None:
        print(message, file=sys.stderr, flush=True)


def terminal_prompt() -> TerminalPrompt | None:
    """A prompt when a person is at the terminal (stdin is one), else None: scripts need a passphrase file."""
    try:
        return TerminalPrompt() if sys.stdin is not None and sys.stdin.isatty() else None
    except (ValueError, OSError):
        return None


def refuse_passphrase_in_environment() -> None:
    for name in REFUSED_ENV:
        if os.environ.get(name):
            raise StoreError(
                f"${name} is set: audit never takes a passphrase from the environment (other programs of yours can "
                f"read it); unset it, put the passphrase in a file only you can read (chmod 600) and name that file "
                f"with --passphrase-file or ${PASSPHRASE_FILE_ENV}"
            )


# --- the key ring -------------------------------------------------------------------------------


class Keyring:
    """This process's keys and ways of getting passphrases (one per process: :data:`KEYRING`)."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget every key and passphrase (the CLI starts each command with this)."""
        self._lock = threading.RLock()
        self._keys: dict[tuple[int, int], FileKey] = {}
        self._passphrases: list[str] = []  # given in this process, tried before asking again
        self._read_files: dict[Path, str] = {}
        #: files named by --passphrase-file, in order (the first one sets a new database's passphrase)
        self.passphrase_files: list[Path] = []
        #: someone to ask (the terminal), or None
        self.prompt: Prompt | None = None
        #: --encrypt: databases this command creates are encrypted
        self.encrypt_new = False
        self._new_keys: dict[Path, FileKey] = {}
        _DERIVED.clear()

    # -- what is known ---------------------------------------------------------------------
    def known(self, path: Path) -> FileKey | None:
        """The key of ``path`` if this process has unlocked (or made) it."""
        found = identity(Path(path))
        return self._keys.get(found) if found is not None else None

    def remember(self, path: Path, key: FileKey) -> None:
        found = identity(Path(path))
        if found is not None:
            with self._lock:
                self._keys[found] = key

    def forget(self, path: Path) -> None:
        found = identity(Path(path))
        if found is not None:
            with self._lock:
                self._keys.pop(found, None)

    # -- unlocking an existing file --------------------------------------------------------
    def candidates(self) -> list[str]:
        """Passphrases to try before asking: those given in this process, then the passphrase files."""
        found = list(self._passphrases)
        for path in self._files():
            text = self._read(path)
            if text not in found:
                found.append(text)
        return found

    def _files(self) -> list[Path]:
        files = list(self.passphrase_files)
        named = os.environ.get(PASSPHRASE_FILE_ENV)
        if named and Path(named) not in files:
            files.append(Path(named))
        return files

    def _read(self, path: Path) -> str:
        if path not in self._read_files:  # a pipe can be read once only
            self._read_files[path] = read_secret_file(path)
        return self._read_files[path]

    def unlock(self, path: Path, opens: Callable[[FileKey], bool]) -> FileKey:
        """The key of the encrypted (or unreadable) file ``path``: from a passphrase already given, a
        passphrase file, or the person at the terminal; ``opens(key)`` says whether a key reads it.

        Refuses with "PATH: wrong passphrase, or not an audit database" when nothing
        given opens it, and says how to give one when there was nothing to try.
        """
        path = Path(path)
        with self._lock:
            known = self.known(path)
            if known is not None:
                return known
            refuse_passphrase_in_environment()
            salt = file_salt(path)
            tried = False
            for passphrase in self.candidates():
                tried = True
                key = self.attempt(path, passphrase, opens, salt)
                if key is not None:
                    return key
            if self.prompt is not None:
                for attempt in range(ATTEMPTS):
                    passphrase = self.prompt.ask(f"Passphrase for {path}: ")
                    if not passphrase:
                        break
                    tried = True
                    key = self.attempt(path, passphrase, opens, salt)
                    if key is not None:
                        return key
                    if attempt < ATTEMPTS - 1:
                        self.prompt.tell(f"{path}: {WRONG}; try again")
            if tried:
                raise StoreError(f"{path}: {WRONG}")
            raise StoreError(
                f"{path}: is not an audit database (not an SQLite file, or damaged beyond reading); check the path, "
                f"or, if it is an encrypted audit database, {HOW_TO_GIVE}"
            )

    def unlock_quietly(self, path: Path, opens: Callable[[FileKey], bool]) -> FileKey | None:
        """The key of ``path`` from what was given already (passphrase files), without asking anyone."""
        path = Path(path)
        with self._lock:
            known = self.known(path)
            if known is not None:
                return known
            refuse_passphrase_in_environment()
            salt = file_salt(path)
            for passphrase in self.candidates():
                key = self.attempt(path, passphrase, opens, salt)
                if key is not None:
                    return key
        return None

    def attempt(self, path: Path, passphrase: str, opens: Callable[[FileKey], bool], salt: bytes | None = None) -> FileKey | None:
        """The key if ``passphrase`` opens ``path`` (remembered, with the passphrase), else None."""
        key = derive(passphrase, file_salt(path) if salt is None else salt)
        if not opens(key):
            return None
        with self._lock:
            self.remember(path, key)
            if passphrase not in self._passphrases:
                self._passphrases.append(passphrase)
        return key

    # -- a new file --------------------------------------------------------------------------
    def new_passphrase(self, shown: str, from_file: Path | None = None, *, use_files: bool = True,
                       how_to_give: str = HOW_TO_GIVE) -> str:
        """A passphrase for a new encrypted file: from ``from_file`` (else, with ``use_files``, the
        first passphrase file), else asked twice at the terminal."""
        refuse_passphrase_in_environment()
        files = [Path(from_file)] if from_file is not None else self._files() if use_files else []
        if files:
            return check_new_passphrase(self._read(files[0]), str(files[0]))
        if self.prompt is None:
            raise StoreError(f"{shown}: the new passphrase: {how_to_give}")
        first = self.prompt.ask(f"New passphrase for {shown} (at least {MIN_PASSPHRASE} characters): ")
        if not first:
            raise StoreError(f"{shown}: no passphrase given; nothing was written")
        check_new_passphrase(first, shown)
        second = self.prompt.ask("The same passphrase again: ")
        if second != first:
            raise StoreError(f"{shown}: the two passphrases differ; nothing was written")
        return first

    def key_for_new(self, path: Path) -> FileKey | None:
        """The key a database created at ``path`` now gets, or None for a plain one (no ``--encrypt``)."""
        if not self.encrypt_new:
            return None
        where = Path(os.path.abspath(path))
        with self._lock:
            if where not in self._new_keys:
                passphrase = self.new_passphrase(str(path))
                self._new_keys[where] = new_key(passphrase)
                if passphrase not in self._passphrases:
                    self._passphrases.append(passphrase)
            return self._new_keys[where]


#: the process's key ring
KEYRING = Keyring()
