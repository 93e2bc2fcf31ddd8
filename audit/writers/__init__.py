"""Writers for figure tables: xlsx, csv, md and json, chosen by the output's suffix.

Every writer goes through :func:`atomic_output`, so a failure leaves no half
file and the result is created with mode 0600 (it holds data about people).
"""

from __future__ import annotations

import os
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from audit.errors import AuditError

FILE_MODE = 0o600
FORMATS = {".xlsx": "Excel workbook", ".csv": "tidy CSV", ".md": "Markdown tables", ".json": "JSON"}


def format_for(path: str | Path) -> str:
    """The format of an output path (its suffix), or a one-line error naming the choices."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        shown = f"'{suffix}'" if suffix else "no suffix"
        raise AuditError(f"{path}: {shown} is not an export format; end the file name with one of {', '.join(FORMATS)}")
    return suffix


@contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` (mode 0600)."""
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
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
