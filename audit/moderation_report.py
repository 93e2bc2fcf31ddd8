"""Agreement between first and second markings: the moderation report.

For each moderated case (an original and its finished moderation copies,
:mod:`audit.moderation`), every question is read for each marker as one of:

* an answer that counts (the code, the number, the date);
* *out*: the question does not apply by rule, or was answered with an option
  that never counts ("Not applicable");
* *missing*: it applies, but was left unanswered.

Two markers who both gave an answer make a **pair**; a pair whose answers
differ is a **disagreement**, listed with both answers and both notes. A
question that applied to one marker and not the other is an **applicability
disagreement**, listed apart and never silently dropped. A several-choice
question is compared option by option (ticked or not), and listed as whole
answers. Free-text questions are not compared.

Per question and overall (the choice questions pooled), from
:mod:`audit.agreement`: percent agreement with its Wilson interval and
Cohen's kappa with its standard error and interval over the pairs (the
original against each copy); Gwet's AC1 over the cases, every marker's answer
(missing ones allowed); Krippendorff's alpha (nominal) where more than two
inspectors marked a case or an answer is missing. See ``docs/quality.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Hashable

from audit import agreement
from audit.agreement import Estimate
from audit.counting import counts_in_base, percent
from audit.engine import evaluate, is_answered
from audit.moderation import FINISHED, all_copies, original_of
from audit.rubric import Question, Rubric
from audit.store import Case, Store
from audit.values import display

OUT, MISSING = "out", "missing"  # a marker's reading of a question, besides an answer
TICKED, NOT_TICKED = "ticked", "not ticked"
COMPARED_TYPES = ("single", "yes_no", "yes_no_na", "multi", "integer", "date")
POOLED_TYPES = ("single", "yes_no", "yes_no_na", "multi")  # the overall row: judgements with fixed options
FEW_PAIRS = 10  # below this many pairs, an interval is wide and a kappa unstable: the report says so
PARADOX_AGREEMENT = 0.85  # high agreement with a low kappa: the "kappa paradox" note


@dataclass(frozen=True)
class Marking:
    """One marker's reading of one case: the case, and its answer or OUT / MISSING per question."""

    case: Case
    readings: dict[str, Any]
    notes: dict[str, str]
    excluded: dict[str, str]  # question id -> why it is out ("does not apply (rule ...)", "answered Not applicable")


@dataclass(frozen=True)
class ModeratedCase:
    original: Marking
    copies: tuple[Marking, ...]
    rubric: Rubric

    @property
    def markers(self) -> tuple[Marking, ...]:
        return (self.original, *self.copies)


@dataclass(frozen=True)
class ItemAgreement:
    """One row of the agreement table: a question (or an option of a several-choice one), or the overall row."""

    item: str  # question id, "question_id:option" for an option, or "overall"
    label: str
    pairs: int
    agreed: int
    percent: Estimate | None
    kappa: Estimate | None
    ac1: Estimate | None
    alpha: float | None  # None where not asked for (two markers, nothing missing) or undefined
    alpha_reason: str  # why alpha is shown ('' when it is not)
    applicability: int  # applicability disagreements on this question
    missing: int  # markings that left it unanswered where it applied
    cases: int  # cases where at least one marker answered it

    @property
    def short_label(self) -> str:
        """The question id (and option), as the rubric names it: short enough for a terminal."""
        if self.item == "overall":
            return "overall (choice questions)"
        question, _, option = self.item.partition(":")
        return f"{question}: {option}" if option else question

    @property
    def caution(self) -> str:
        """A short warning a reader needs before trusting the row, or ''."""
        notes = []
        if 0 < self.pairs < FEW_PAIRS:
            notes.append(f"{self.pairs} pair{'s' if self.pairs != 1 else ''} only")
        if self.pairs and self.kappa is None:
            notes.append("kappa undefined: one answer only")
        elif self.kappa is not None and self.kappa.se == 0:
            notes.append("kappa's SE is 0 at full agreement: read the % CI")
        elif (self.kappa is not None and self.percent is not None and self.percent.value >= PARADOX_AGREEMENT
              and self.kappa.value < 0.4):
            notes.append("high agreement, low kappa: one answer dominates (read AC1)")
        return "; ".join(notes)


@dataclass(frozen=True)
class Disagreement:
    site: str
    case_ref: str
    question_id: str
    question: str
    first_inspector: str
    first_answer: str
    first_note: str
    second_inspector: str
    second_answer: str
    second_note: str
    copy_uuid: str


@dataclass
class ModerationReport:
    path: str
    cases: list[ModeratedCase] = field(default_factory=list)
    items: list[ItemAgreement] = field(default_factory=list)
    overall: ItemAgreement | None = None
    disagreements: list[Disagreement] = field(default_factory=list)
    applicability: list[Disagreement] = field(default_factory=list)
    unfinished: list[Case] = field(default_factory=list)  # copies still being marked: not compared yet
    left_out: list[str] = field(default_factory=list)  # why some copies could not be compared
    not_compared: list[str] = field(default_factory=list)  # free-text question ids

    @property
    def pairs(self) -> int:
        return sum(len(c.copies) for c in self.cases)

    @property
    def inspectors(self) -> list[str]:
        names = {m.case.inspector or "(none)" for c in self.cases for m in c.markers}
        return sorted(names, key=str.casefold)


# --- reading -------------------------------------------------------------------------------


def marking(store: Store, case: Case, rubric: Rubric) -> Marking:
    rows = store.answer_rows(case.uuid)
    current = {qid: r["value"] for qid, r in rows.items() if r["state"] == "current" and is_answered(r["value"])}
    evaluation = evaluate(rubric, current)
    readings: dict[str, Any] = {}
    excluded: dict[str, str] = {}
    for question in rubric.questions:
        qid = question.id
        if qid not in evaluation.applicable:
            rule = evaluation.excluded_by(qid)
            readings[qid] = OUT
            excluded[qid] = f"does not apply (rule: {rule.source})" if rule is not None else "does not apply"
        elif qid not in evaluation.visible:
            readings[qid] = MISSING
        elif not counts_in_base(question, evaluation.visible[qid]):
            readings[qid] = OUT
            excluded[qid] = f"answered {display(question, evaluation.visible[qid])}"
        else:
            readings[qid] = evaluation.visible[qid]
    notes = {qid: r["note"] for qid, r in rows.items() if r.get("note")}
    return Marking(case, readings, notes, excluded)


def moderated_cases(store: Store) -> tuple[list[ModeratedCase], list[Case], list[str]]:
    """(cases with at least one finished copy, copies still being marked, why any were left out)."""
    groups: dict[str, list[Case]] = {}
    unfinished: list[Case] = []
    left_out: list[str] = []
    for copy in all_copies(store):
        if copy.status in FINISHED:
            groups.setdefault(copy.copy_of, []).append(copy)
        else:
            unfinished.append(copy)
    out = []
    for original_uuid, copies in groups.items():
        original = original_of(store, copies[0])
        where = f"{copies[0].case_ref} at {copies[0].site}"
        if original is None:
            left_out.append(f"{where}: its original is not in this file (merge the site's database)")
            continue
        if original.deleted:
            left_out.append(f"{where}: its original was deleted")
            continue
        if original.status not in (*FINISHED, "returned"):
            left_out.append(f"{where}: its original was reopened and is in progress again")
            continue
        rubric = store.rubric_for(original)
        kept = [c for c in copies if c.rubric_sha256 == original.rubric_sha256]
        if len(kept) < len(copies):
            left_out.append(f"{where}: {len(copies) - len(kept)} copy(ies) on another rubric version")
        if kept:
            out.append(ModeratedCase(marking(store, original, rubric), tuple(marking(store, c, rubric) for c in kept), rubric))
    out.sort(key=lambda m: (m.original.case.site.casefold(), m.original.case.case_ref.casefold()))
    return out, unfinished, left_out


# --- comparing -----------------------------------------------------------------------------


def _code(value: Any) -> Hashable:
    return tuple(value) if isinstance(value, list) else value


def _items(question: Question) -> list[tuple[str, str, Any]]:
    """(item id, label, option code or None) for the rows a question gives."""
    if question.type == "multi":
        return [(f"{question.id}:{code}", f"{question.text} — {question.label_for(code)}", code)
                for code in question.option_codes if question.counts(code)]
    return [(question.id, question.text, None)]


def _item_value(reading: Any, option: Any) -> Any:
    """A marker's value for one item: the answer, an option ticked or not, or None (out or missing)."""
    if reading in (OUT, MISSING):
        return None
    if option is not None:
        return TICKED if option in reading else NOT_TICKED
    return _code(reading)


def _categories(question: Question) -> list[Hashable] | None:
    if question.type == "multi":
        return [TICKED, NOT_TICKED]
    if question.is_choice:
        return [code for code in question.option_codes if question.counts(code)]
    return None  # numbers and dates: the values seen


def _statistics(item: str, label: str, pairs: list[tuple], units: list[list], categories, *, applicability: int,
                missing: int) -> ItemAgreement:
    many = any(sum(v is not None for v in unit) > 2 for unit in units)
    gaps = any(any(v is None for v in unit) and any(v is not None for v in unit) for unit in units)
    reason = "more than two markers" if many else ("answers missing" if gaps else "")
    answered = [u for u in units if any(v is not None for v in u)]
    return ItemAgreement(
        item=item, label=label, pairs=len(pairs), agreed=sum(a == b for a, b in pairs),
        percent=agreement.percent_agreement(pairs), kappa=agreement.cohen_kappa(pairs),
        ac1=agreement.gwet_ac1(answered, categories) if answered else None,
        alpha=agreement.krippendorff_alpha(answered) if reason else None, alpha_reason=reason,
        applicability=applicability, missing=missing, cases=len(answered),
    )


def _answer_text(question: Question, marking_: Marking) -> str:
    reading = marking_.readings[question.id]
    if reading == OUT:
        return marking_.excluded.get(question.id, "does not apply")
    if reading == MISSING:
        return "(unanswered)"
    return display(question, reading)


def _listed(moderated: ModeratedCase, question: Question, copy: Marking) -> Disagreement:
    first = moderated.original
    return Disagreement(
        site=first.case.site, case_ref=first.case.case_ref, question_id=question.id, question=question.text,
        first_inspector=first.case.inspector or "", first_answer=_answer_text(question, first),
        first_note=first.notes.get(question.id, ""), second_inspector=copy.case.inspector or "",
        second_answer=_answer_text(question, copy), second_note=copy.notes.get(question.id, ""),
        copy_uuid=copy.case.uuid,
    )


def moderation_report(store: Store) -> ModerationReport:
    """Agreement per question and overall, every disagreement, every applicability disagreement."""
    cases, unfinished, left_out = moderated_cases(store)
    report = ModerationReport(str(store.path), cases, unfinished=unfinished, left_out=left_out)
    if not cases:
        return report
    rubric = cases[0].rubric
    pooled_pairs: list[tuple] = []
    pooled_units: list[list] = []
    pooled_categories: set[Hashable] = set()
    pooled_applicability = pooled_missing = 0
    for question in rubric.questions:
        if question.type not in COMPARED_TYPES:
            report.not_compared.append(question.id)
            continue
        qid = question.id
        applicability = missing = 0
        for moderated in cases:
            first = moderated.original.readings.get(qid, OUT)
            for copy in moderated.copies:
                second = copy.readings.get(qid, OUT)
                if (first == OUT) != (second == OUT):
                    applicability += 1
                    report.applicability.append(_listed(moderated, question, copy))
                elif first not in (OUT, MISSING) and second not in (OUT, MISSING) and _code(first) != _code(second):
                    report.disagreements.append(_listed(moderated, question, copy))
            missing += sum(m.readings.get(qid) == MISSING for m in moderated.markers)
        for item, label, option in _items(question):
            pairs: list[tuple] = []
            units: list[list] = []
            for moderated in cases:
                values = [_item_value(m.readings.get(qid, OUT), option) for m in moderated.markers]
                units.append(values)
                pairs += [(values[0], v) for v in values[1:] if values[0] is not None and v is not None]
            categories = _categories(question)
            report.items.append(_statistics(item, label, pairs, units, categories, applicability=applicability,
                                            missing=missing))
            if question.type in POOLED_TYPES:
                pooled_pairs += pairs
                pooled_units += units
                pooled_categories.update(categories or ())
        if question.type in POOLED_TYPES:
            pooled_applicability += applicability
            pooled_missing += missing
    report.overall = _statistics("overall", "All choice questions pooled", pooled_pairs, pooled_units,
                                 sorted(pooled_categories, key=str), applicability=pooled_applicability,
                                 missing=pooled_missing)
    return report


# --- shown the same everywhere -------------------------------------------------------------

#: the agreement table's columns, as the terminal, the workbook and the UI show them
COLUMNS = ("Question", "Pairs", "Agree", "% agree", "95% CI", "Kappa", "SE", "Kappa 95% CI", "AC1", "Alpha", "Note")


def _fixed(value: float | None, places: int = 2) -> str:
    return "—" if value is None else f"{value:.{places}f}"


def _whole(share: float) -> str:
    """A share as a whole percentage, rounded half up (as :func:`audit.counting.percent` rounds)."""
    return f"{int(Decimal(repr(share * 100)).quantize(Decimal(1), rounding=ROUND_HALF_UP))}%"


def row_text(row: ItemAgreement) -> tuple[str, ...]:
    """One agreement row as text, in :data:`COLUMNS` order (the numbers rounded as every view shows them)."""
    pct, kappa = row.percent, row.kappa
    return (
        row.short_label,
        f"{row.pairs:,}",
        f"{row.agreed:,}",
        "—" if pct is None else f"{percent(row.agreed, row.pairs)}%",
        "—" if pct is None or pct.ci is None else f"{_whole(pct.ci[0])}–{_whole(pct.ci[1])}",
        _fixed(kappa.value if kappa else None),
        _fixed(kappa.se if kappa else None),
        "—" if kappa is None or kappa.ci is None else f"{kappa.ci[0]:.2f} to {kappa.ci[1]:.2f}",
        _fixed(row.ac1.value if row.ac1 else None),
        _fixed(row.alpha) if row.alpha_reason else "",
        row.caution,
    )


def summary_lines(report: ModerationReport) -> list[str]:
    """What the report covers, in a few sentences."""
    lines = []
    if report.cases:
        lines.append(f"{len(report.cases):,} moderated case(s), {report.pairs:,} pair(s) of markings, by "
                     f"{len(report.inspectors)} inspector(s); moderation copies never count in figures.")
    else:
        lines.append("No moderation copy is complete yet: nothing to compare (`audit moderate sample` draws a sample).")
    if report.unfinished:
        lines.append(f"{len(report.unfinished):,} moderation copy(ies) still being marked: not compared yet.")
    lines += report.left_out
    if report.cases:
        lines.append(f"{len(report.disagreements):,} disagreement(s); {len(report.applicability):,} applicability "
                     "disagreement(s) (a question that applied to one marker only), listed apart.")
    return lines


def table_lines(report: ModerationReport) -> list[str]:
    """The agreement table as aligned lines (the terminal's and the UI's), with each row's note after it."""
    if report.overall is None:
        return []
    rows = [row_text(item) for item in [*report.items, report.overall]]
    label_width = max(len(r[0]) for r in rows)
    numeric = COLUMNS[1:-1]
    widths = [max(len(c), *(len(r[i + 1]) for r in rows)) for i, c in enumerate(numeric)]
    lines = [f"{COLUMNS[0]:<{label_width}}" + "".join(f" {c:>{w}}" for c, w in zip(numeric, widths))]
    for row in rows:
        line = f"{row[0]:<{label_width}}" + "".join(f" {v:>{w}}" for v, w in zip(row[1:-1], widths))
        lines.append(line + (f"  ({row[-1]})" if row[-1] else ""))
    return lines
