"""Encrypted hand-over to the lead: age bundles (``docs/data-protection.md``, "Handing files over").

* :func:`keygen` makes the lead's key pair: an age X25519 identity (the private
  key, mode 0600, never written over an existing file) and its recipient (the
  public key, ``age1...``), beside it as ``NAME.pub``. Both are age's own formats,
  so the ``age`` tool reads them too.
* :func:`write_bundle` writes a site's database as a bundle: a consistent snapshot
  (:func:`audit.encryption.plain_snapshot`: the online backup API, or
  ``sqlcipher_export`` for an encrypted database), checked like a backup
  (integrity, schema, every value), then encrypted to the lead's public key(s)
  and written whole or not at all (0600). Inside is a plain SQLite file: the
  age encryption protects it, and only the lead's key opens it.
* :func:`opened_bundles` decrypts bundles for a merge into 0600 files in a
  private 0700 folder (in memory, ``$XDG_RUNTIME_DIR`` or ``/dev/shm``, where
  there is one), which are overwritten and removed afterwards, whatever happens.
  age authenticates every 64 KiB chunk and the end of the stream: a tampered or
  truncated bundle fails to decrypt, and nothing is merged. What it holds is then
  checked by the merge like any site's file (issue #7).

The plain snapshot a bundle is made from lives in the same kind of private
folder for the seconds it takes, and is overwritten before removal.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator, Sequence

from audit import crypto, dbfile
from audit.errors import AuditError, StoreError

BUNDLE_SUFFIX = ".age"
PUBLIC_SUFFIX = ".pub"
#: where decrypted databases go, first that exists: RAM-backed folders, then the system's temporary folder
PRIVATE_ROOTS = ("XDG_RUNTIME_DIR", "/dev/shm")


# --- keys --------------------------------------------------------------------------------------


def public_path(key_path: Path) -> Path:
    """lead.key -> lead.pub; any other name gets .pub added."""
    return key_path.with_suffix(PUBLIC_SUFFIX) if key_path.suffix == ".key" else key_path.with_name(key_path.name + PUBLIC_SUFFIX)


def keygen(output: str | Path) -> tuple[Path, Path, str]:
    """Write a new identity to ``output`` and its recipient to :func:`public_path`; returns (key, pub, recipient)."""
    from pyrage import x25519

    key_path = Path(output)
    pub_path = public_path(key_path)
    for path in (key_path, pub_path):
        if path.exists() or path.is_symlink():
            raise AuditError(f"{path}: already exists; a key is never written over (the bundles made for it could "
                             "not be opened any more); choose another name")
        if not path.parent.is_dir():
            raise AuditError(f"{path}: folder {path.parent} does not exist; create it first")
    identity = x25519.Identity.generate()
    recipient = str(identity.to_public())
    created = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    _write_new(key_path, f"# created: {created}\n# public key: {recipient}\n{identity}\n")
    try:
        _write_new(pub_path, f"{recipient}\n")
    except BaseException:
        dbfile.overwrite_and_remove(key_path)
        raise
    return key_path, pub_path, recipient


def _write_new(path: Path, text: str) -> None:
    """A small file written whole (0600, synced) under a temporary name, then linked into place, never over a file."""
    temp = dbfile.temp_name(path)
    fd = os.open(temp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, dbfile.FILE_MODE)
    try:
        os.write(fd, text.encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        dbfile.publish(temp, path)
    except FileExistsError:
        raise AuditError(f"{path}: was created by another program meanwhile; nothing was written") from None
    finally:
        temp.unlink(missing_ok=True)


def read_recipients(values: Sequence[str]) -> list:
    """Recipients from ``--to``: a public-key file (``age1...`` lines; ``#`` comments) or an ``age1...`` key itself."""
    from pyrage import RecipientError, x25519

    recipients = []
    for value in values:
        path = Path(value)
        if value.startswith("age1") and not path.exists():
            lines = [(value, "--to")]
        else:
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                reason = getattr(exc, "strerror", None) or "not UTF-8 text"
                raise AuditError(f"{value}: the lead's public key cannot be read ({reason}); check the path") from None
            lines = [(line.strip(), f"{value}:{number}") for number, line in enumerate(text.splitlines()[:100], 1)]
        found = 0
        for line, where in lines:
            if not line or line.startswith("#"):
                continue
            try:
                recipients.append(x25519.Recipient.from_str(line))
            except RecipientError:
                hint = " (that is a private key: send bundles to the .pub file, and keep the key secret)" if line.startswith("AGE-SECRET-KEY") else ""
                raise AuditError(f"{where}: is not an age public key (age1...){hint}") from None
            found += 1
        if not found:
            raise AuditError(f"{value}: holds no age public key (age1...); give the lead's .pub file")
    return recipients


def read_identities(path: str | Path) -> list:
    """The lead's private key(s) from an identity file, refused unless only its owner can read it."""
    from pyrage import IdentityError, x25519

    text = crypto.read_secret_file(path, "key file")
    identities = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            identities.append(x25519.Identity.from_str(line))
        except IdentityError:
            raise AuditError(f"{path}:{number}: is not an age private key (AGE-SECRET-KEY-1...)") from None
    if not identities:
        raise AuditError(f"{path}: holds no age private key (AGE-SECRET-KEY-1...); give the key made by audit keygen")
    return identities


# --- private temporary folders ---------------------------------------------------------------------


@contextlib.contextmanager
def private_folder() -> Iterator[Path]:
    """A new 0700 folder, in memory where the system has one; every file in it is overwritten and removed at the end."""
    root = None
    for candidate in PRIVATE_ROOTS:
        folder = os.environ.get(candidate) if candidate.isupper() else candidate
        if folder and os.path.isdir(folder) and os.access(folder, os.W_OK | os.X_OK):
            root = folder
            break
    folder = Path(tempfile.mkdtemp(prefix="audit-", dir=root))
    try:
        yield folder
    finally:
        for entry in list(folder.iterdir()):
            dbfile.overwrite_and_remove(entry)
        shutil.rmtree(folder, ignore_errors=True)


# --- writing a bundle ------------------------------------------------------------------------------


def write_bundle(db: str | Path, recipients: Sequence, output: str | Path) -> int:
    """Write ``db`` to ``output`` as a bundle encrypted to ``recipients``; returns the number of cases."""
    from pyrage import EncryptError, encrypt_io

    from audit.dbcheck import check_content
    from audit.encryption import plain_snapshot
    from audit.outfile import replacing
    from audit.store import Store

    db, output = Path(db), Path(output)
    if not output.name.endswith(BUNDLE_SUFFIX):
        raise AuditError(f"{output}: a bundle's name ends in {BUNDLE_SUFFIX} (e.g. site-2019-06.audit.age), so a merge knows it")
    dbfile.refuse_as_output(output, [db])
    dbfile.look(db, integrity=False)  # refused (or unlocked) before anything is made
    with private_folder() as folder:
        snapshot = folder / "snapshot.db"
        fd = os.open(snapshot, os.O_CREAT | os.O_EXCL | os.O_WRONLY, dbfile.FILE_MODE)
        os.close(fd)  # SQLite has not opened it yet
        plain_snapshot(db, snapshot)
        copy = Store.open_read_only(snapshot, check=True)
        try:
            check_content(copy)
            cases = copy.conn.execute("SELECT count(*) FROM cases").fetchone()[0]
        except StoreError as exc:
            raise StoreError(f"{db}: {str(exc).split(': ', 1)[-1]} (found in the snapshot; no bundle was written)") from None
        finally:
            copy.close()
        dbfile.tidy_after_look(snapshot)
        with replacing(output) as temp:
            # the snapshot is ours alone and closed: reading it with open() drops no lock
            with open(snapshot, "rb") as plain, open(temp, "wb") as sealed:
                try:
                    encrypt_io(plain, sealed, list(recipients))
                except EncryptError as exc:
                    raise AuditError(f"{output}: the bundle could not be encrypted ({exc}); nothing was written") from None
                sealed.flush()
                os.fsync(sealed.fileno())
    return cases


# --- opening bundles for a merge -------------------------------------------------------------------


def is_bundle(path: str | Path) -> bool:
    return str(path).endswith(BUNDLE_SUFFIX)


@contextlib.contextmanager
def opened_bundles(sources: Sequence[str], identity: str | None) -> Iterator[list]:
    """The merge's sources, each bundle replaced by its decrypted database (a
    :class:`audit.merge.NamedSource` named after the bundle). Every bundle is
    decrypted before anything is merged; the decrypted files are removed at the end."""
    from pyrage import DecryptError, decrypt_io

    from audit.merge import NamedSource

    bundles = [source for source in sources if is_bundle(source)]
    if not bundles:
        if identity:
            raise AuditError("--identity: no source is a bundle (.age); leave it out, or give the bundles")
        yield list(sources)
        return
    if not identity:
        raise AuditError(f"{bundles[0]}: is an encrypted bundle; give the lead's key with --identity lead.key")
    identities = read_identities(identity)
    with private_folder() as folder:
        opened: list = []
        for number, source in enumerate(sources):
            if not is_bundle(source):
                opened.append(source)
                continue
            path = Path(source)
            if not path.is_file():
                raise AuditError(f"{source}: does not exist; check the path")
            plain = folder / f"bundle-{number}.db"
            try:
                sealed = path.open("rb")  # an age bundle, never a database
            except OSError as exc:
                raise AuditError(f"{source}: cannot be read ({exc.strerror}); nothing was merged") from None
            with sealed, open(os.open(plain, os.O_CREAT | os.O_EXCL | os.O_WRONLY, dbfile.FILE_MODE), "wb") as out:
                try:
                    decrypt_io(sealed, out, identities)
                except (DecryptError, OSError) as exc:
                    if isinstance(exc, OSError) and exc.errno is not None:  # the disk, not the bundle
                        raise AuditError(f"{source}: cannot be read ({exc.strerror}); nothing was merged") from None
                    raise AuditError(
                        f"{source}: cannot be opened with {identity}: it was altered or damaged (age checks every part "
                        "of a bundle, and this one does not check out), cut short, or made for another key; nothing was "
                        "merged; ask the site for a fresh bundle"
                    ) from None
            opened.append(NamedSource(plain, source))
        yield opened
