"""Quality review of completed cases: the queue, the decisions, and what was reviewed.

A quality lead approves a ``complete`` case, or returns it to its inspector
with a comment (optionally naming the question it is about). The states and
their history are the case service's (:meth:`audit.cases.CaseService.set_status`);
this module finds the cases to review, resolves a reference typed by a lead,
and says in one line how many cases were reviewed. Moderation copies
(:mod:`audit.moderation`) are second opinions, never reviewed themselves.
See ``docs/quality.md``.
"""

from __future__ import annotations

from dataclasses import dataclass

from audit.errors import AuditError
from audit.identity import key, printable
from audit.store import (
    CASE_ROW, STATUS_APPROVED, STATUS_COMPLETE, STATUS_IN_PROGRESS, STATUS_RETURNED, Case, Store,
)

_SELECT = f"SELECT {', '.join(CASE_ROW)} FROM cases"
#: live original cases: not deleted, not a moderation copy
_ORIGINALS = "deleted_at IS NULL AND copy_of IS NULL"


def review_queue(store: Store, *, site: str | None = None) -> list[Case]:
    """Complete cases not yet reviewed, the longest waiting first."""
    return _cases(store, STATUS_COMPLETE, site, "updated_at, case_ref, uuid")


def returned_cases(store: Store, *, site: str | None = None) -> list[Case]:
    """Cases sent back to their inspector, the oldest return first."""
    return _cases(store, STATUS_RETURNED, site, "updated_at, case_ref, uuid")


def _cases(store: Store, status: str, site: str | None, order: str) -> list[Case]:
    where, params = f"WHERE {_ORIGINALS} AND status = ?", [status]
    if site:
        where += " AND site_key = ?"
        params.append(key(site))
    return [Case(*row) for row in store.conn.execute(f"{_SELECT} {where} ORDER BY {order}", params)]


@dataclass(frozen=True)
class ReviewCounts:
    """Live original cases by review state."""

    in_progress: int
    awaiting: int  # complete, not reviewed
    approved: int
    returned: int

    @property
    def reviewed(self) -> int:
        return self.approved + self.returned

    @property
    def finished(self) -> int:
        """Cases an inspector has finished at least once (complete, approved or returned)."""
        return self.awaiting + self.reviewed

    def statement(self) -> str:
        """One line for a terminal or a workbook: how many cases were reviewed."""
        if not self.finished:
            return "no case is complete yet, so none has been reviewed"
        return (f"{self.reviewed:,} of {self.finished:,} finished case{'s' if self.finished != 1 else ''} reviewed "
                f"({self.approved:,} approved, {self.returned:,} returned to the inspector); "
                f"{self.awaiting:,} awaiting review")


def review_counts(store: Store) -> ReviewCounts:
    counts = store.status_counts()  # live originals: moderation copies aside
    return ReviewCounts(counts.get(STATUS_IN_PROGRESS, 0), counts.get(STATUS_COMPLETE, 0),
                        counts.get(STATUS_APPROVED, 0), counts.get(STATUS_RETURNED, 0))


def find_case(store: Store, ref: str, *, site: str | None = None) -> Case:
    """The live original case a lead names by its reference (and site, where two sites share it)."""
    where, params = f"WHERE {_ORIGINALS} AND ref_key = ?", [key(ref)]
    if site:
        where += " AND site_key = ?"
        params.append(key(site))
    found = [Case(*row) for row in store.conn.execute(f"{_SELECT} {where} ORDER BY site_key", params)]
    shown = printable(ref)
    if not found:
        at = f" at site {printable(site)}" if site else ""
        raise AuditError(f"no case {shown}{at} in {store.path}; check the reference (`audit review {store.path}` lists "
                         "the cases awaiting review)")
    if len(found) > 1:
        sites = ", ".join(printable(case.site) for case in found)
        raise AuditError(f"case {shown} exists at {len(found)} sites ({sites}); add --site to say which")
    return found[0]


def self_review(case: Case, who: str) -> bool:
    """Whether ``who`` is reviewing their own case (allowed, but no independent check: say so)."""
    return bool(case.inspector) and key(case.inspector) == key(who)
