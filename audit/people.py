"""Who is at the keyboard: one name per laptop account, set with ``audit user set NAME``.

The name is recorded as ``answered_by`` and ``history.changed_by`` for every
change made there. It lives in the user's configuration folder
(``$XDG_CONFIG_HOME/audit/user``, else ``~/.config/audit/user``), mode 0600.
``$AUDIT_USER`` overrides it for one command (scripts, tests). A case's
inspector is a separate field of the case.
"""

from __future__ import annotations

import os
from pathlib import Path

from audit.errors import AuditError
from audit.identity import IdentifierProblem, normalise


def config_file() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "audit" / "user"


def configured_user() -> str | None:
    """The name set with ``audit user set``, or None."""
    try:
        text = config_file().read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    try:
        return normalise(text.strip(), "user name") or None
    except IdentifierProblem:
        return None


def set_user(name: str) -> str:
    """Record ``name`` as this account's user; returns it as stored."""
    try:
        cleaned = normalise(name, "user name")
    except IdentifierProblem as exc:
        raise AuditError(str(exc)) from None
    if not cleaned:
        raise AuditError("the user name is empty; give your name, e.g. audit user set 'Jo Bloggs'")
    path = config_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        temp = path.with_name(f".user.{os.getpid()}")
        fd = os.open(temp, os.O_CREAT | os.O_TRUNC | os.O_WRONLY, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(cleaned + "\n")
        os.replace(temp, path)
    except OSError as exc:
        raise AuditError(f"{path}: cannot be written ({exc.strerror}); check your home folder's permissions") from None
    return cleaned
