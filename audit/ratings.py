"""Ratings: a standard's rating from its key questions, and an overall rating from the standards'.

A rating scheme is data (``ratings/*.yaml``; docs/ratings.md): its ratings from
worst to best with their scores, the percentage bands, the standards (each a set
of key questions of one rubric, or rated by judgement) and the bands for the
overall total. This module reads and checks a scheme with located errors
(``file:line: what to do``), and computes ratings from the counting module's
verdict (``answers.counted = 1``):

* a key question's percentage is its "yes" answers over its base, as a whole
  number rounded half up (:func:`audit.counting.percent`), with a Wilson interval;
* a standard is rated from its **lowest** key question's percentage, by the band
  whose ``from`` is the highest not above it;
* the overall rating bands the total of every standard's score; it exists only
  when every standard is rated (judged standards need a judgement).

Raising any key question's percentage never lowers a rating: the scheme check
refuses bands whose ratings do not rise with their ``from``.
"""

from __future__ import annotations

import math
import os
from collections import defaultdict
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterable, Mapping

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from audit.counting import percent
from audit.errors import AuditError, Problem, Problems, did_you_mean
from audit.stats import wilson
from audit.yamlsource import YamlDocument, parse_yaml, read_yaml, validation_message

MAX_SCHEME_BYTES = 1_000_000  # a scheme is a page of YAML; anything bigger is not one
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
YES_NO_TYPES = ("yes_no", "yes_no_na")


class Rating(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=ID_PATTERN)
    label: str = Field(min_length=1)
    score: int


class Band(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    from_: int = Field(alias="from", ge=0)
    rating: str


class Standard(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=ID_PATTERN)
    title: str = Field(min_length=1)
    domain: str | None = None
    key_questions: tuple[str, ...] = ()
    judged: bool = False


class Scheme(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(pattern=ID_PATTERN)
    title: str = Field(min_length=1)
    description: str | None = None
    rubric: str = Field(min_length=1)
    ratings: tuple[Rating, ...] = Field(min_length=2)
    percent_bands: tuple[Band, ...] = Field(min_length=1)
    caution_below: int = Field(default=20, ge=0)
    standards: tuple[Standard, ...] = Field(min_length=1)
    overall_bands: tuple[Band, ...] = Field(min_length=1)

    _path: str = PrivateAttr(default="")

    @property
    def path(self) -> str:
        """The file it was read from."""
        return self._path

    def rating(self, rating_id: str) -> Rating:
        return next(r for r in self.ratings if r.id == rating_id)

    def find_rating(self, text: str) -> Rating | None:
        """A rating by id or label, in any case."""
        folded = text.strip().casefold().replace(" ", "_")
        return next((r for r in self.ratings if folded in (r.id.casefold(), r.label.casefold().replace(" ", "_"))), None)

    def standard(self, standard_id: str) -> Standard | None:
        return next((s for s in self.standards if s.id == standard_id), None)

    @property
    def max_total(self) -> int:
        return max(r.score for r in self.ratings) * len(self.standards)

    @property
    def key_questions(self) -> list[str]:
        return list(dict.fromkeys(q for s in self.standards for q in s.key_questions))

    def for_percent(self, value: int) -> Rating:
        """The rating of a whole-number percentage (already rounded half up)."""
        return self.rating(_banded(self.percent_bands, value))

    def for_total(self, total: int) -> Rating:
        return self.rating(_banded(self.overall_bands, total))

    def describe_bands(self) -> str:
        """e.g. 'under 50% Inadequate; 50-64% Requires improvement; ...; 80% and over Outstanding'."""
        parts = []
        bands = sorted(self.percent_bands, key=lambda b: b.from_)
        for band, following in zip(bands, [*bands[1:], None]):
            label = self.rating(band.rating).label
            if band.from_ == 0 and following is not None:
                parts.append(f"under {following.from_}% {label}")
            elif following is None:
                parts.append(f"{band.from_}% and over {label}")
            else:
                parts.append(f"{band.from_}-{following.from_ - 1}% {label}")
        return "; ".join(parts)


def whole_percent(fraction: float) -> int:
    """A fraction as a whole-number percentage, rounded half up (as published)."""
    return math.floor(fraction * 100 + 0.5)


def _banded(bands: Iterable[Band], value: int) -> str:
    chosen = None
    for band in sorted(bands, key=lambda b: b.from_):
        if value >= band.from_:
            chosen = band.rating
    if chosen is None:
        raise ValueError(f"{value} is below every band")
    return chosen


# --- reading and checking a scheme ---------------------------------------------------------


def _pydantic_problems(doc: YamlDocument, error: ValidationError) -> list[Problem]:
    problems = []
    for err in error.errors(include_url=False):
        loc = tuple(err["loc"])
        prefix = loc[:-1]
        model = Scheme
        if prefix[:1] == ("ratings",):
            model = Rating
        elif prefix[:1] in (("percent_bands",), ("overall_bands",)):
            model = Band
        elif prefix[:1] == ("standards",):
            model = Standard
        allowed = [f.alias or name for name, f in model.model_fields.items()]
        what = f"standard '{_raw_id(doc, prefix)}': " if prefix[:1] == ("standards",) and _raw_id(doc, prefix) else ""
        if err["type"] in ("model_type", "dict_type") and len(loc) == 2:
            message = f"each of {loc[0]} must be a mapping with keys {', '.join(allowed)}"
        else:
            message = validation_message({**err, "loc": tuple("from" if p == "from_" else p for p in loc)}, allowed)
        problems.append(Problem(doc.where(loc), what + message))
    return problems


def _raw_id(doc: YamlDocument, loc: tuple) -> str | None:
    node: Any = doc.data
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node.get("id") if isinstance(node, dict) and isinstance(node.get("id"), str) else None


def _check_bands(doc, scheme: Scheme, key: str, bands: tuple[Band, ...], top: int, unit: str) -> list[Problem]:
    problems = []
    known = [r.id for r in scheme.ratings]
    order = {r.id: i for i, r in enumerate(scheme.ratings)}
    previous: Band | None = None
    for i, band in enumerate(bands):
        if band.rating not in order:
            problems.append(Problem(doc.where((key, i, "rating")), f"{key}: unknown rating '{band.rating}'{did_you_mean(band.rating, known)}; ratings are {', '.join(known)}"))
            continue
        if band.from_ > top:
            problems.append(Problem(doc.where((key, i, "from")), f"{key}: from {band.from_} is above the highest possible {unit} ({top})"))
        if previous is not None:
            if band.from_ <= previous.from_:
                problems.append(Problem(doc.where((key, i, "from")), f"{key}: bands must be listed by rising 'from' ({band.from_} follows {previous.from_})"))
            elif previous.rating in order and order[band.rating] < order[previous.rating]:
                problems.append(Problem(doc.where((key, i, "rating")), f"{key}: '{band.rating}' from {band.from_} is worse than '{previous.rating}' below it; a higher {unit} must never give a lower rating"))
        previous = band
    if bands and bands[0].from_ != 0:
        problems.append(Problem(doc.where((key, 0, "from")), f"{key}: the first band must start from 0, so that every {unit} has a rating"))
    return problems


def _check(doc: YamlDocument, scheme: Scheme, rubric) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for i, rating in enumerate(scheme.ratings):
        if rating.id in seen:
            problems.append(Problem(doc.where(("ratings", i, "id")), f"rating '{rating.id}' is listed twice; list each once"))
        seen[rating.id] = i
        if i and rating.score <= scheme.ratings[i - 1].score:
            problems.append(Problem(doc.where(("ratings", i, "score")), f"rating '{rating.id}': scores must rise from the worst rating to the best ({rating.score} follows {scheme.ratings[i - 1].score})"))
    if problems:
        return problems
    problems += _check_bands(doc, scheme, "percent_bands", scheme.percent_bands, 100, "percentage")
    problems += _check_bands(doc, scheme, "overall_bands", scheme.overall_bands, scheme.max_total, "total")
    standard_ids: dict[str, int] = {}
    for i, standard in enumerate(scheme.standards):
        where = doc.where(("standards", i))
        if standard.id in standard_ids:
            problems.append(Problem(doc.where(("standards", i, "id")), f"standard '{standard.id}' is listed twice (first at line {doc.line_of(('standards', standard_ids[standard.id]))})"))
        standard_ids.setdefault(standard.id, i)
        if standard.judged == bool(standard.key_questions):
            problems.append(Problem(where, f"standard '{standard.id}': give either key_questions (rated from the cases) or judged: true (rated by inspectors); it has {'both' if standard.judged else 'neither'}"))
        if len(set(standard.key_questions)) != len(standard.key_questions):
            problems.append(Problem(doc.where(("standards", i, "key_questions")), f"standard '{standard.id}': a key question is listed twice"))
        if rubric is None:
            continue
        for j, question_id in enumerate(standard.key_questions):
            loc = doc.where(("standards", i, "key_questions", j))
            if not rubric.has_question(question_id):
                problems.append(Problem(loc, f"standard '{standard.id}': no question '{question_id}' in rubric {rubric.id}{did_you_mean(question_id, rubric.question_ids)}"))
            elif rubric.question(question_id).type not in YES_NO_TYPES:
                problems.append(Problem(loc, f"standard '{standard.id}': key question '{question_id}' is a {rubric.question(question_id).type} question; key questions are yes/no questions"))
    return problems


def parse_scheme(text: str, path: str = "<scheme>") -> Scheme:
    """Parse and check a rating scheme; raise :class:`Problems` listing every error with its line."""
    from audit.rubric import load_rubric_by_id

    doc = parse_yaml(text, path)
    if not isinstance(doc.data, dict):
        raise Problems([Problem(doc.where(), "a rating scheme is a mapping with id, title, rubric, ratings, percent_bands, standards and overall_bands")])
    try:
        scheme = Scheme.model_validate(doc.data)
    except ValidationError as exc:
        raise Problems(_pydantic_problems(doc, exc), summary=f"{path}: not a valid rating scheme; nothing was loaded") from None
    try:
        rubric = load_rubric_by_id(scheme.rubric)
    except Problems as exc:
        rubric = None
        reason = exc.problems[0].message if exc.problems else str(exc)
        problems = [Problem(doc.where(("rubric",)), f"rubric '{scheme.rubric}': {reason}")]
    else:
        problems = []
    problems += _check(doc, scheme, rubric)
    scheme._path = path
    if problems:
        noun = "problem" if len(problems) == 1 else "problems"
        raise Problems(problems, summary=f"{path}: {len(problems)} {noun}; nothing was loaded")
    return scheme


def load_scheme(path: str | Path) -> Scheme:
    """Read and check a scheme file (at most 1 MB)."""
    try:
        size = os.stat(path).st_size
    except OSError:
        size = 0  # read_yaml says what is wrong with the path
    if size > MAX_SCHEME_BYTES:
        raise Problems([Problem(str(path), f"is {size:,} bytes; a rating scheme is at most {MAX_SCHEME_BYTES:,}; check the path")])
    doc = read_yaml(path)
    return parse_scheme(doc.text, str(path))


def shipped_schemes() -> list[Path]:
    """Scheme files on the search path ($AUDIT_RATINGS, ./ratings, the project's, the wheel's)."""
    from audit.rubric import search_path

    return [path for folder in search_path("ratings") for path in sorted(folder.glob("*.y*ml"))]


def find_scheme(rubric_id: str, scheme_path: str | None = None) -> Scheme | None:
    """The given scheme (which must rate ``rubric_id``), or the first shipped scheme for ``rubric_id``; None if none."""
    if scheme_path is not None:
        scheme = load_scheme(scheme_path)
        if scheme.rubric != rubric_id:
            raise AuditError(f"--scheme: {scheme_path} rates rubric {scheme.rubric}, but the database holds {rubric_id} cases")
        return scheme
    for path in shipped_schemes():
        try:
            scheme = load_scheme(path)
        except AuditError:
            continue  # a broken file elsewhere on the path is not this command's concern
        if scheme.rubric == rubric_id:
            return scheme
    return None


def key_questions_for(rubric_id: str, scheme_path: str | None = None) -> list[str] | None:
    """The key questions of the given scheme, or of the first shipped scheme for ``rubric_id``; None if none."""
    scheme = find_scheme(rubric_id, scheme_path)
    return scheme.key_questions if scheme is not None else None


# --- computing ratings ---------------------------------------------------------------------


@dataclass(frozen=True)
class KeyQuestion:
    question_id: str
    count: int  # "yes" answers
    base: int  # counted answers
    percent: int | None  # whole number, half up; None for a zero base
    ci: tuple[float, float] | None  # Wilson interval, fractions
    lowest: bool = False

    @property
    def fraction(self) -> float | None:
        return self.count / self.base if self.base else None


@dataclass(frozen=True)
class StandardResult:
    standard: Standard
    questions: tuple[KeyQuestion, ...]
    rating: Rating | None
    percent: int | None  # the deciding (lowest) key question's whole-number percentage
    judged: bool = False
    caution: str = ""
    band_range: tuple[Rating, Rating] | None = None  # the ratings the deciding interval spans
    note: str = ""

    @property
    def lowest(self) -> KeyQuestion | None:
        return next((q for q in self.questions if q.lowest), None)


@dataclass(frozen=True)
class ScopeRatings:
    scheme: Scheme
    scope: str  # "all cases" or a site
    cases: int
    standards: tuple[StandardResult, ...]
    total: int | None
    overall: Rating | None
    unrated: tuple[str, ...]  # standards without a rating, so no overall rating


def rate_standard(scheme: Scheme, standard: Standard, counts: Mapping[str, tuple[int, int]],
                  *, judgement: str | None = None, confidence: float = 0.95) -> StandardResult:
    """One standard's rating: from a judgement (judged standards) or its lowest key question."""
    if standard.judged:
        rating = scheme.find_rating(judgement) if judgement else None
        note = "" if rating else "rated by inspectors' judgement; none given"
        return StandardResult(standard, (), rating, None, judged=True, note=note)
    questions = []
    for question_id in standard.key_questions:
        count, base = counts.get(question_id, (0, 0))
        questions.append(KeyQuestion(question_id, count, base, percent(count, base), wilson(count, base, confidence)))
    answered = [q for q in questions if q.base > 0]
    unanswered = [q.question_id for q in questions if q.base == 0]
    note = f"no counted answers to {', '.join(unanswered)}" if unanswered else ""
    if not answered:
        return StandardResult(standard, tuple(questions), None, None, note=note)
    low = min(Fraction(q.count, q.base) for q in answered)  # exact: 1/2 and 2/4 tie
    questions = [KeyQuestion(q.question_id, q.count, q.base, q.percent, q.ci, lowest=q.base > 0 and Fraction(q.count, q.base) == low)
                 for q in questions]
    deciding = next(q for q in questions if q.lowest)
    rating = scheme.for_percent(deciding.percent)
    # the deciding percentage's plausible range: the lowest lower bound to the lowest upper bound
    ci_low = min(q.ci[0] for q in answered)
    ci_high = min(q.ci[1] for q in answered)
    band_range = (scheme.for_percent(whole_percent(ci_low)), scheme.for_percent(whole_percent(ci_high)))
    caution = ""
    small = [q for q in answered if q.base < scheme.caution_below]
    if small:
        spans = band_range[0].label if band_range[0] == band_range[1] else f"{band_range[0].label} to {band_range[1].label}"
        smallest = min(small, key=lambda q: q.base)
        caution = (f"small base: {smallest.base} cases answered {smallest.question_id} (under {scheme.caution_below}); "
                   f"the {confidence:.0%} interval spans {spans}")
    return StandardResult(standard, tuple(questions), rating, deciding.percent, caution=caution, band_range=band_range, note=note)


def overall_rating(scheme: Scheme, results: Iterable[StandardResult]) -> tuple[int | None, Rating | None, tuple[str, ...]]:
    """(total score, overall rating, unrated standard ids); no total unless every standard is rated."""
    results = list(results)
    unrated = tuple(r.standard.id for r in results if r.rating is None)
    if unrated:
        return None, None, unrated
    total = sum(r.rating.score for r in results)
    return total, scheme.for_total(total), ()


def check_judgements(scheme: Scheme, judgements: Mapping[str, str]) -> dict[str, str]:
    """Judgements as {standard id: rating id}; an unknown or non-judged standard, or rating, is refused."""
    out = {}
    judged = [s.id for s in scheme.standards if s.judged]
    for standard_id, rating_text in judgements.items():
        standard = scheme.standard(standard_id)
        if standard is None:
            raise AuditError(f"judgement for '{standard_id}': no such standard in {scheme.id}{did_you_mean(standard_id, [s.id for s in scheme.standards])}; judged standards are {', '.join(judged) or 'none'}")
        if not standard.judged:
            raise AuditError(f"judgement for '{standard_id}': {standard.title} is rated from its key questions, not by judgement; judged standards are {', '.join(judged) or 'none'}")
        rating = scheme.find_rating(rating_text)
        if rating is None:
            labels = [r.label for r in scheme.ratings]
            raise AuditError(f"judgement for '{standard_id}': '{rating_text}' is not a rating{did_you_mean(rating_text, labels)}; use one of {', '.join(labels)}")
        out[standard_id] = rating.id
    return out


def rate_counts(scheme: Scheme, counts: Mapping[str, tuple[int, int]], *, scope: str = "all cases", cases: int = 0,
                judgements: Mapping[str, str] | None = None, confidence: float = 0.95) -> ScopeRatings:
    """Every standard's rating and the overall rating, from (yes, base) per key question."""
    judgements = check_judgements(scheme, judgements or {})
    results = tuple(rate_standard(scheme, s, counts, judgement=judgements.get(s.id), confidence=confidence) for s in scheme.standards)
    total, overall, unrated = overall_rating(scheme, results)
    return ScopeRatings(scheme, scope, cases, results, total, overall, unrated)


def key_question_counts(store, scheme: Scheme, *, by_site: bool = False,
                        statuses: Iterable[str] | None = None) -> dict[str, tuple[int, dict[str, tuple[int, int]]]]:
    """{scope: (cases, {question: (yes, base)})} from the counted answers; scopes are sites with ``by_site``.
    ``statuses``: only cases of these statuses count, as ``--status`` chooses them for the figures
    (None: every status). Deleted cases and moderation copies never count."""
    wanted = None if statuses is None else set(statuses)
    sites = {case.uuid: case.site for case in store.list_cases(limit=max(1, store.case_count()), order_by="created_at", descending=False)
             if case.copy_of is None  # a moderation copy is a second marking, never a case of its own
             and (wanted is None or case.status in wanted)}
    cases: dict[str, int] = defaultdict(int)
    for site in sites.values():
        cases[site if by_site else "all cases"] += 1
    tally: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for case_uuid, question_id, value in store.iter_answers(scheme.key_questions, counted_only=True):
        site = sites.get(case_uuid)
        if site is None:  # a case of another status
            continue
        scope = site if by_site else "all cases"
        cell = tally[scope][question_id]
        cell[0] += value == "yes"
        cell[1] += 1
    scopes = sorted(cases) if by_site else ["all cases"]
    return {scope: (cases.get(scope, 0), {q: tuple(v) for q, v in tally[scope].items()}) for scope in scopes}


@dataclass(frozen=True)
class Judgement:
    """A judged standard's rating as recorded in a database (``audit ratings set``)."""

    standard_id: str
    scope: str  # '' for the whole database, else a site
    rating: str  # the rating's id
    note: str
    set_by: str
    set_at: str


def has_judgements_table(store) -> bool:
    return store.conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'judgements'").fetchone() is not None


def judgements_token(store) -> tuple:
    """A value that changes whenever a judgement is set, replaced or cleared (for live views)."""
    if not has_judgements_table(store):
        return (0, None)
    return tuple(store.conn.execute("SELECT count(*), max(set_at) FROM judgements").fetchone())


def stored_judgements(store, scheme: Scheme) -> list[Judgement]:
    """The judgements a database holds for this scheme's judged standards (written by
    :func:`audit.cases.set_judgement`), every scope, in the scheme's order."""
    if not has_judgements_table(store):
        return []
    rows = store.conn.execute(
        "SELECT standard_id, scope, rating, coalesce(note, ''), coalesce(set_by, ''), set_at FROM judgements WHERE scheme_id = ?",
        [scheme.id]).fetchall()
    order = {s.id: i for i, s in enumerate(scheme.standards)}
    found = [Judgement(*row) for row in rows]
    # a row this scheme cannot read (a standard since removed, a rating renamed) is not applied
    kept = [j for j in found if (s := scheme.standard(j.standard_id)) is not None and s.judged and scheme.find_rating(j.rating)]
    return sorted(kept, key=lambda j: (j.scope, order[j.standard_id]))


def rate_store(store, scheme: Scheme, *, by_site: bool = False, judgements: Mapping[str, str] | None = None,
               confidence: float = 0.95, statuses: Iterable[str] | None = None) -> list[ScopeRatings]:
    """Ratings of a store's cases (all together, or one set per site), of ``statuses`` only if given.

    Judged standards take the judgements recorded in the database (``audit ratings set``): those of
    scope '' for all cases, a site's own for that site. ``judgements`` given here replace them.
    """
    from audit.tabulate import store_rubric

    rubric = store_rubric(store)
    if rubric.id != scheme.rubric:
        raise AuditError(f"{scheme.path or scheme.id}: rates rubric {scheme.rubric}, but {store.path or 'the database'} holds {rubric.id} cases")
    recorded: dict[str, dict[str, str]] = defaultdict(dict)
    for judgement in stored_judgements(store, scheme):
        recorded[judgement.scope][judgement.standard_id] = judgement.rating
    results = []
    for scope, (n, counts) in key_question_counts(store, scheme, by_site=by_site, statuses=statuses).items():
        given = {**recorded.get("" if scope == "all cases" else scope, {}), **(judgements or {})}
        results.append(rate_counts(scheme, counts, scope=scope, cases=n, judgements=given, confidence=confidence))
    return results
