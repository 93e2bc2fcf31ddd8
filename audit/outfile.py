"""Writing an output file whole or not at all.

The content goes to a temporary file beside the target, which then replaces
it in one rename: a failure or a kill leaves the old file (or none), never
half a file. Files are created with mode 0600, like every file the tool
writes.
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from audit.errors import AuditError

FILE_MODE = 0o600


def check_suffix(path: str | Path, suffixes: tuple[str, ...], what: str) -> None:
    if Path(path).suffix.lower() not in suffixes:
        raise AuditError(f"{path}: {what} is written to a file ending in {' or '.join(suffixes)}")


@contextmanager
def replacing(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; when the block succeeds it becomes ``path``."""
    target = Path(path)
    folder = target.parent
    if not folder.is_dir():
        raise AuditError(f"{path}: folder {folder} does not exist; create it first")
    if target.is_dir():
        raise AuditError(f"{path}: is a folder; give a file name")
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise AuditError(f"{path}: cannot write in {folder} ({exc.strerror})") from None
    os.close(fd)
    temp_path = Path(temp)
    try:
        os.chmod(temp_path, FILE_MODE)
        yield temp_path
        os.chmod(temp_path, FILE_MODE)
        os.replace(temp_path, target)
    except BaseException:
        temp_path.unlink(missing_ok=True)
        raise


def write_text(path: str | Path, text: str) -> None:
    with replacing(path) as temp:
        temp.write_text(text, encoding="utf-8")
