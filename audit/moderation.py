"""Moderation (double marking): drawing a sample, linked copies, and blindness.

A quality lead draws a reproducible, stratified sample of finished cases
(:func:`draw_sample`); each drawn case gets a *moderation copy*: a new, empty
case with the same site and reference, linked to it by ``cases.copy_of``,
made by the case service for a named second inspector. The copy is answered
in the same UI as any case. It never counts in a figure (the service decides
that) and a merge carries it like any other case, keeping its link.

**Blind.** Until the copy is finished, its inspector may not see the
original's answers: :func:`check_may_see` refuses, and every screen that shows
a case's answers asks it first; :func:`marked_pair` gives the two sets of
answers side by side only once the copy is finished. The rule lives here, in
the core, so no screen or command can forget it.

The agreement between the two markings is :mod:`audit.moderation_report`'s.
See ``docs/quality.md``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal

from audit.errors import AuditError
from audit.identity import IdentifierProblem, key, normalise, printable
from audit.store import CASE_ROW, STATUS_APPROVED, STATUS_COMPLETE, Case, Store

#: a case (or a copy) is finished, and can be sampled or compared, in these states
FINISHED = (STATUS_COMPLETE, STATUS_APPROVED)
STRATA = ("site", "inspector")

_SELECT = f"SELECT {', '.join(CASE_ROW)} FROM cases"


class BlindModeration(AuditError):
    """The original's answers asked for by the inspector of its unfinished moderation copy."""


def _finished(case: Case) -> bool:
    return case.status in FINISHED


# --- the sample ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Stratum:
    name: str  # the site (or inspector) as first spelt; "all cases" unstratified
    eligible: int
    drawn: int


@dataclass(frozen=True)
class Drawn:
    original: Case
    stratum: str
    copy: Case | None  # the moderation copy (made now, or already there)
    existed: bool  # the copy was made by an earlier run with the same second inspector


@dataclass
class Sample:
    fraction: float
    seed: int
    by: str | None
    inspector: str
    strata: list[Stratum] = field(default_factory=list)
    drawn: list[Drawn] = field(default_factory=list)
    own_cases: int = 0  # finished cases of the second inspector: never given to them to moderate
    dry_run: bool = False

    @property
    def created(self) -> int:
        return sum(1 for d in self.drawn if d.copy is not None and not d.existed)


def stratum_size(fraction: float, eligible: int) -> int:
    """Cases drawn from a stratum: the fraction of it rounded half up, at least one, at most all."""
    if eligible <= 0:
        return 0
    wanted = int((Decimal(str(fraction)) * eligible).to_integral_value(rounding=ROUND_HALF_UP))
    return min(eligible, max(1, wanted))


def _check_sample_args(fraction: float, by: str | None, inspector: str) -> str:
    if not 0 < fraction <= 1:
        raise AuditError(f"--fraction {fraction}: give a share of the cases above 0 and at most 1, e.g. 0.1 for 10%")
    if by is not None and by not in STRATA:
        raise AuditError(f"--by {printable(by)}: stratify by {' or '.join(STRATA)}")
    try:
        name = normalise(inspector or "", "inspector")
    except IdentifierProblem as exc:
        raise AuditError(f"--inspector: {exc}") from None
    if not name:
        raise AuditError("--inspector: name the second inspector who will mark the copies")
    return name


def draw_sample(store: Store, *, fraction: float, seed: int, inspector: str, by: str | None = None,
                who: str | None = None, dry_run: bool = False) -> Sample:
    """Draw a stratified random sample of finished cases and make a moderation copy of each for ``inspector``.

    Eligible: live original cases that are complete or approved, not marked by
    ``inspector`` (a second opinion is another person's). Each stratum (site or
    inspector, or all cases) gives :func:`stratum_size` cases, drawn with a
    generator seeded by ``seed`` and the stratum's name from the cases in
    reference order: the same file and seed draw the same cases. A drawn case
    that already has a live copy for ``inspector`` keeps it (a second run makes
    nothing new). All copies are made in one transaction.
    """
    name = _check_sample_args(fraction, by, inspector)
    sample = Sample(fraction, seed, by, name, dry_run=dry_run)
    marks = ", ".join("?" * len(FINISHED))
    rows = store.conn.execute(
        f"{_SELECT} WHERE deleted_at IS NULL AND copy_of IS NULL AND duplicate_of IS NULL AND status IN ({marks}) "
        "ORDER BY ref_key, site_key, uuid",
        list(FINISHED),
    ).fetchall()
    strata: dict[str, list[Case]] = {}
    spelling: dict[str, str] = {}
    for case in (Case(*row) for row in rows):
        if case.inspector and key(case.inspector) == key(name):
            sample.own_cases += 1
            continue
        label = {"site": case.site, "inspector": case.inspector or "(no inspector)"}.get(by or "", "all cases")
        stratum = key(label)
        spelling.setdefault(stratum, label)
        strata.setdefault(stratum, []).append(case)
    if not strata:
        own = f" ({sample.own_cases} are {printable(name)}'s own)" if sample.own_cases else ""
        raise AuditError(f"{store.path}: no complete case to sample{own}; cases are sampled once an inspector marks them complete")
    for stratum in sorted(strata):
        cases = strata[stratum]
        size = stratum_size(fraction, len(cases))
        rng = random.Random(f"audit-moderation|{seed}|{stratum}")
        chosen = sorted(rng.sample(range(len(cases)), size))
        sample.strata.append(Stratum(spelling[stratum], len(cases), size))
        sample.drawn += [Drawn(cases[i], spelling[stratum], None, False) for i in chosen]
    existing = {d.original.uuid: _copy_for(store, d.original.uuid, name) for d in sample.drawn}
    sample.drawn = [Drawn(d.original, d.stratum, existing[d.original.uuid], existing[d.original.uuid] is not None)
                    for d in sample.drawn]
    if dry_run:
        return sample
    service = store.service(who)
    made: list[Drawn] = []
    with store.transaction():  # every copy, or none
        for d in sample.drawn:
            if d.copy is not None:
                made.append(d)
                continue
            copy = service.create_case(d.original.case_ref, d.original.site, store.rubric_for(d.original), name,
                                       copy_of=d.original.uuid)
            made.append(Drawn(d.original, d.stratum, copy, False))
    sample.drawn = made
    return sample


def _copy_for(store: Store, original_uuid: str, inspector: str) -> Case | None:
    for case in copies_of(store, original_uuid):
        if case.inspector and key(case.inspector) == key(inspector):
            return case
    return None


# --- reading copies ------------------------------------------------------------------------


def copies_of(store: Store, original_uuid: str) -> list[Case]:
    """The live moderation copies of a case, oldest first."""
    return [Case(*row) for row in store.conn.execute(
        f"{_SELECT} WHERE copy_of = ? AND deleted_at IS NULL ORDER BY created_at, uuid", [original_uuid])]


def all_copies(store: Store) -> list[Case]:
    """Every live moderation copy in the file, by original then age."""
    return [Case(*row) for row in store.conn.execute(
        f"{_SELECT} WHERE copy_of IS NOT NULL AND deleted_at IS NULL ORDER BY copy_of, created_at, uuid")]


def original_of(store: Store, copy: Case) -> Case | None:
    """The case a moderation copy was made from, if this file holds it."""
    if copy.copy_of is None:
        return None
    row = store.conn.execute(f"{_SELECT} WHERE uuid = ?", [copy.copy_of]).fetchone()
    return Case(*row) if row else None


# --- blindness -----------------------------------------------------------------------------


def blinding_copy(store: Store, case_uuid: str, who: str) -> Case | None:
    """The unfinished moderation copy of this case that ``who`` is marking, if any: while it
    exists, ``who`` may not see this case's answers (or its history, which holds them)."""
    for copy in copies_of(store, case_uuid):
        if not _finished(copy) and copy.inspector and key(copy.inspector) == key(who):
            return copy
    return None


def check_may_see(store: Store, case_uuid: str, who: str) -> None:
    """Refuse (:class:`BlindModeration`) to show a case's answers to the inspector of its unfinished moderation copy."""
    copy = blinding_copy(store, case_uuid, who)
    if copy is not None:
        raise BlindModeration(
            f"case {printable(copy.case_ref)} at {printable(copy.site)} is being moderated by {printable(who)}: its "
            "answers stay hidden until the moderation copy is marked complete (open the copy instead)"
        )


@dataclass(frozen=True)
class MarkedPair:
    """A finished moderation copy and the case it was made from, with their answer rows."""

    original: Case
    copy: Case
    original_rows: dict[str, dict]
    copy_rows: dict[str, dict]


def marked_pair(store: Store, copy_uuid: str) -> MarkedPair:
    """Both markings of a moderated case, side by side; refused while the copy is unfinished."""
    copy = store.case(copy_uuid)
    if copy.copy_of is None:
        raise AuditError(f"case {printable(copy.case_ref)} is not a moderation copy")
    if not _finished(copy):
        raise BlindModeration(
            f"the moderation copy of {printable(copy.case_ref)} at {printable(copy.site)} is not complete: the original's "
            "answers are shown only once it is"
        )
    original = original_of(store, copy)
    if original is None:
        raise AuditError(f"the original of moderation copy {printable(copy.case_ref)} is not in {store.path}; merge its "
                         "site's database first")
    return MarkedPair(original, copy, store.answer_rows(original.uuid), store.answer_rows(copy.uuid))
