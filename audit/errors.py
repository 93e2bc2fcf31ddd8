"""Errors that reach users. Each is one line that says where and what to do.

The CLI prints ``str(error)`` for an :class:`AuditError` and exits 1; any
:class:`Problems` prints one line per problem. Nothing else is shown, never a
traceback.
"""

from __future__ import annotations

from dataclasses import dataclass

from audit.identity import printable


class AuditError(Exception):
    """Input was refused. ``str()`` is the whole message for the user."""


class StoreError(AuditError):
    """A database that cannot be used, or a change the store refuses."""


class DatabaseBusy(StoreError):
    """Another program held the database's write lock for longer than the busy timeout.

    Nothing was written. The UI keeps the answer on screen and tries again; the
    CLI says so and exits 1.
    """


@dataclass(frozen=True)
class Problem:
    """One located problem: ``where`` is e.g. ``rubrics/x.yaml:12`` or ``cases.csv row 4``."""

    where: str
    message: str

    def __post_init__(self) -> None:
        # one line that no terminal obeys, whatever a file's quoted value held (a line break, an escape)
        for name in ("where", "message"):
            text = getattr(self, name)
            if isinstance(text, str) and not text.isprintable():
                object.__setattr__(self, name, printable(text))

    def __str__(self) -> str:
        return f"{self.where}: {self.message}" if self.where else self.message


class Problems(AuditError):
    """Several located problems found in one pass, so the user can fix them all at once."""

    def __init__(self, problems: list[Problem], summary: str | None = None):
        self.problems = list(problems)
        self.summary = summary
        super().__init__(self.text())

    def lines(self) -> list[str]:
        out = [str(p) for p in self.problems]
        if self.summary:
            out.append(self.summary)
        return out

    def text(self) -> str:
        return "\n".join(self.lines())


def did_you_mean(word: str, choices) -> str:
    """A ' (did you mean ...?)' suffix when a close match exists, else ''."""
    import difflib

    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""
