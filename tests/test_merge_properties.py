"""Properties of audit merge (hypothesis), on real SQLite files.

* Merging is idempotent: merging the same sources again changes nothing, conflicts included.
* Without conflicts, the order of the sources does not matter.
* Splitting a database by site and merging the parts back gives the same cases,
  answers, verdicts and figure tables.
"""

from __future__ import annotations

import random
import tempfile
import uuid as uuidlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from audit.merge import merge_databases
from audit.rubric import load_rubric_by_id
from audit.store import NewCase
from benchmarks.common import random_answers
from tests.test_merge import answer_rows, case_rows, counted_per_question, dump, figure_tables, make_db

RUBRIC = load_rubric_by_id("iom-thematic-2019")
SITES = ["sheffield", "surrey", "cumbria"]
PROPERTY_SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass(frozen=True)
class Drawn:
    """A generated case, small enough for hypothesis to print."""

    uuid: str
    case_ref: str
    site: str
    inspector: str | None
    answers: tuple[tuple[str, Any], ...]

    def new_case(self) -> NewCase:
        case = NewCase(case_ref=self.case_ref, site=self.site, rubric=RUBRIC, answers=dict(self.answers),
                       inspector=self.inspector)
        case.uuid = self.uuid
        return case

    def copy(self, answers: dict | None = None) -> "Drawn":
        """The same case (same UUID) in another database, with these answers."""
        return Drawn(self.uuid, self.case_ref, self.site, self.inspector,
                     self.answers if answers is None else tuple(sorted(answers.items())))


def database(path: Path, drawn: list[Drawn], site: str | None = None) -> Path:
    return make_db(path, [d.new_case() for d in drawn], site=site)


@st.composite
def cases(draw, min_size: int = 0, max_size: int = 6, first_number: int = 1) -> list[Drawn]:
    """Cases with answers that follow the rubric's rules (a few left blank), at a few sites.

    UUIDs are numbered from ``first_number``, so two lists drawn with distinct ranges never collide."""
    rng = draw(st.randoms(use_true_random=False))
    count = draw(st.integers(min_size, max_size))
    drawn = [
        Drawn(
            uuid=str(uuidlib.UUID(int=first_number + index, version=4)),
            case_ref=f"T{rng.randrange(8):03d}",  # a small pool: the same ref at one site happens across files
            site=rng.choice(SITES), inspector=rng.choice(["jb", "kl", None]),
            answers=tuple(sorted(random_answers(RUBRIC, rng, blank_rate=0.15).items())),
        )
        for index in range(count)
    ]
    return unique_refs(drawn)


def unique_refs(drawn: list[Drawn]) -> list[Drawn]:
    """One database holds each (site, case_ref) once (the store refuses a second): a repeat within one
    list is renumbered. The same ref at one site under two UUIDs still happens across databases."""
    seen: set[tuple[str, str]] = set()
    out = []
    for number, case in enumerate(drawn):
        if (case.site, case.case_ref) in seen:
            case = Drawn(case.uuid, f"R{number:03d}-{case.uuid[-4:]}", case.site, case.inspector, case.answers)
        seen.add((case.site, case.case_ref))
        out.append(case)
    return out


@st.composite
def overlapping(draw, conflicts: bool) -> tuple[list[Drawn], list[Drawn]]:
    """Two databases' cases: some only in one, some in both (identical, extended, or, if allowed, conflicting)."""
    rng = draw(st.randoms(use_true_random=False))
    first = draw(cases(min_size=1, first_number=1))
    second = draw(cases(first_number=1000))
    for case in first:
        choice = rng.random()
        if choice < 0.25:
            second.append(case.copy())  # the same content
        elif choice < 0.5:
            # the other copy went further: more answers, the shared ones the same
            fuller = random_answers(RUBRIC, rng, blank_rate=0.0)
            fuller.update(dict(case.answers))
            second.append(case.copy(fuller))
        elif choice < 0.75 and conflicts:
            second.append(case.copy(random_answers(RUBRIC, rng, blank_rate=0.15)))  # audited again, differently
    rng.shuffle(second)
    # copies keep their ref; a case of the second file's own that collides with one is renumbered
    copies = [case for case in second if case.uuid in {c.uuid for c in first}]
    own = [case for case in second if case not in copies]
    return first, unique_refs(copies + own)


@PROPERTY_SETTINGS
@given(pair=overlapping(conflicts=True))
def test_merging_again_changes_nothing(pair):
    first, second = pair
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        a, b = database(root / "a.db", first), database(root / "b.db", second)
        target = root / "t.db"
        first_merge = merge_databases(target, [a, b])
        event(f"conflicts: {bool(first_merge.conflicts)}, duplicates: {bool(first_merge.duplicates)}")
        before = dump(target)
        for sources in ([a, b], [b], [a], [b, a]):
            for reread in (False, True):  # recognised by its watermark, and compared case by case
                result = merge_databases(target, sources, reread=reread)
                assert not result.changed and result.conflicts == []
                assert all(bool(s.merged_before) != reread for s in result.sources)
                assert dump(target) == before


@PROPERTY_SETTINGS
@given(pair=overlapping(conflicts=False))
def test_without_conflicts_the_order_of_sources_does_not_matter(pair):
    first, second = pair
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        a, b = database(root / "a.db", first), database(root / "b.db", second)
        one, other = root / "ab.db", root / "ba.db"
        merge_databases(one, [a])
        later = merge_databases(one, [b])
        event(f"b extends cases of a: {later.sources[0].updated > 0}")
        result = merge_databases(other, [b, a])
        assert result.conflicts == [] and later.conflicts == []
        assert case_rows(one) == case_rows(other)
        assert answer_rows(one) == answer_rows(other)
        # and every verdict is the counting module's for the merged answers: the fuller copy's
        assert answer_rows(other) >= answer_rows(b)


@st.composite
def whole_inspection(draw) -> list[Drawn]:
    made = draw(cases(min_size=1, max_size=12))
    seen, unique = set(), []
    for case in made:  # one database refuses a repeated ref at a site, so the whole one has none
        if (case.site, case.case_ref) not in seen:
            seen.add((case.site, case.case_ref))
            unique.append(case)
    return unique


@PROPERTY_SETTINGS
@given(everything=whole_inspection())
def test_splitting_by_site_and_merging_back_gives_the_same_figures(everything):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        whole = database(root / "whole.db", everything)
        parts = []
        for site in SITES:
            site_cases = [c for c in everything if c.site == site]
            if site_cases:
                parts.append(database(root / f"{site}.db", site_cases, site=site))
        merged = root / "merged.db"
        result = merge_databases(merged, parts)
        assert result.total("added") == len(everything) and result.conflicts == [] and result.duplicates == []
        assert case_rows(merged) == case_rows(whole)
        assert answer_rows(merged) == answer_rows(whole)
        assert counted_per_question(merged) == counted_per_question(whole)
        assert figure_tables(merged) == figure_tables(whole)


def test_the_generated_cases_do_overlap_and_conflict():
    """The strategies above produce what the properties are about (not only disjoint databases)."""
    rng = random.Random(5)
    first = [NewCase(case_ref="T1", site="surrey", rubric=RUBRIC, answers=random_answers(RUBRIC, rng)) for _ in range(20)]
    assert len({repr(sorted(c.answers.items())) for c in first}) > 10  # varied answers
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        a = make_db(root / "a.db", [first[0]])
        other = NewCase(case_ref="T1", site="surrey", rubric=RUBRIC, answers=first[1].answers)
        other.uuid = first[0].uuid
        b = make_db(root / "b.db", [other])
        result = merge_databases(root / "t.db", [a, b])
        assert result.conflicts, "two different answer sets on one UUID must conflict"
