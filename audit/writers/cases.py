"""Cases as the documented import files (``audit export-cases``), so that they import back unchanged.

JSON Lines, one case a line (shared/spec/interfaces.md, "Import files")::

    {"case_ref": "T001", "site": "sheffield", "inspector": "jb", "status": "complete",
     "answers": {"sentence_type": "post_release", "factors": ["thinking", "drugs"], "age": 23},
     "notes": {"age": "from the PNC record"}}

Wide CSV (UTF-8 with a byte-order mark): ``case_ref,site,inspector,status``,
one column per question, then ``note:<question id>`` columns; multi-choice
codes joined with ``;``, ``(none)`` for an explicit empty selection, an empty
cell for unanswered. Text a spreadsheet could run as a formula gets a leading
apostrophe.

Only what an import accepts is written: current answers to questions that
apply (never a retired answer or one whose question stopped applying), live
cases (never a deleted one), the status selection, and notes only when asked.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from audit.engine import evaluate
from audit.errors import AuditError
from audit.rubric import Rubric
from audit.store import Store, decode
from audit.tabulate import CaseSelection, has_deleted_column
from audit.values import MULTI_SEPARATOR, NONE_TOKEN
from audit.writers import atomic_output
from audit.writers.safety import csv_safe

NOTE_PREFIX = "note:"
CASE_FIELDS = ("case_ref", "site", "inspector", "status")
BATCH = 500


class Applicability:
    """Which questions apply to a case, decided once per distinct combination of the answers rules read."""

    def __init__(self, rubrics: dict[str, Rubric]):
        self.rubrics = rubrics
        self.inputs = {sha: sorted({name for q in r.questions for rule in (r.section_of(q.id).rule, q.rule) if rule
                                    for name in rule.names}) for sha, r in rubrics.items()}
        self.found: dict[tuple, frozenset[str]] = {}

    def __call__(self, sha: str, answers: dict[str, Any]) -> frozenset[str]:
        inputs = self.inputs[sha]
        key = (sha, *(repr(answers.get(name)) for name in inputs))
        applicable = self.found.get(key)
        if applicable is None:
            values = {name: answers[name] for name in inputs if name in answers}
            applicable = self.found[key] = evaluate(self.rubrics[sha], values).applicable
        return applicable


@dataclass
class ExportedCases:
    rubric_id: str
    cases: int = 0
    by_status: Counter = field(default_factory=Counter)
    answers: int = 0
    notes: int = 0


@dataclass(frozen=True)
class _Case:
    case_ref: str
    site: str
    inspector: str | None
    status: str
    answers: dict[str, Any]
    notes: dict[str, str]


def _rubric_of(store: Store) -> tuple[str, dict[str, Rubric]]:
    rows = store.db.execute("SELECT DISTINCT rubric_id, rubric_sha256 FROM cases").fetchall()
    ids = sorted({r[0] for r in rows})
    if len(ids) > 1:
        raise AuditError(f"{store.path}: holds cases of several rubrics ({', '.join(ids)}); an import file holds one rubric's cases")
    return (ids[0] if ids else ""), {sha: store.rubric(sha) for _, sha in rows}


def _cases(store: Store, statuses: tuple[str, ...] | None, include_notes: bool) -> Iterator[_Case]:
    _, rubrics = _rubric_of(store)
    applies = Applicability(rubrics)
    clauses, params = [], []
    if has_deleted_column(store):
        clauses.append("deleted_at IS NULL AND copy_of IS NULL")  # a moderation copy is not a case to re-import
    if statuses is not None:
        clauses.append(f"status IN ({', '.join('?' * len(statuses))})")
        params += list(statuses)
    where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
    cursor = store.db.conn.execute(
        f"SELECT uuid, case_ref, site, inspector, status, rubric_sha256 FROM cases {where} ORDER BY site, case_ref, created_at, uuid",
        params,
    )
    while batch := cursor.fetchmany(BATCH):
        rows: dict[str, list[tuple]] = {case[0]: [] for case in batch}
        marks = ", ".join("?" * len(batch))
        for row in store.db.execute(
            f"SELECT case_uuid, question_id, value, note, applies FROM answers WHERE case_uuid IN ({marks}) AND state = 'current'",
            list(rows),
        ):
            rows[row[0]].append(row[1:])
        for uuid, case_ref, site, inspector, status, sha in batch:
            rubric = rubrics[sha]
            answers = {qid: decode(value) for qid, value, _, applies_now in rows[uuid]
                       if value is not None and applies_now and rubric.has_question(qid)}
            notes = {}
            if include_notes:
                applicable = applies(sha, answers)
                notes = {qid: note for qid, _, note, _ in rows[uuid] if note is not None and qid in applicable}
            ordered = {qid: answers[qid] for qid in rubric.question_ids if qid in answers}
            yield _Case(case_ref, site, inspector, status, ordered, {q: notes[q] for q in rubric.question_ids if q in notes})


def _jsonl(handle, cases: Iterator[_Case], include_notes: bool, tally: ExportedCases) -> None:
    for case in cases:
        record: dict[str, Any] = {"case_ref": case.case_ref, "site": case.site}
        if case.inspector is not None:
            record["inspector"] = case.inspector
        record["status"] = case.status
        record["answers"] = case.answers
        if include_notes:
            record["notes"] = case.notes
        handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        _count(tally, case)


def _cell(value: Any) -> Any:
    if isinstance(value, list):
        return MULTI_SEPARATOR.join(value) if value else NONE_TOKEN
    return csv_safe(value)


def _csv(handle, cases: Iterator[_Case], questions: list[str], noted: list[str], tally: ExportedCases) -> None:
    writer = csv.writer(handle)
    writer.writerow([*CASE_FIELDS, *questions, *(f"{NOTE_PREFIX}{qid}" for qid in noted)])
    for case in cases:
        fixed = [csv_safe(case.case_ref), csv_safe(case.site), csv_safe(case.inspector or ""), case.status]
        answers = ["" if qid not in case.answers else _cell(case.answers[qid]) for qid in questions]
        notes = [csv_safe(case.notes.get(qid, "")) for qid in noted]
        writer.writerow([*fixed, *answers, *notes])
        _count(tally, case)


def _count(tally: ExportedCases, case: _Case) -> None:
    tally.cases += 1
    tally.by_status[case.status] += 1
    tally.answers += len(case.answers)
    tally.notes += len(case.notes)


def write_cases(path: str | Path, store: Store, selection: CaseSelection | None = None, *, include_notes: bool = False) -> ExportedCases:
    """Write the store's cases as JSON Lines or wide CSV (by ``path``'s suffix), atomically, mode 0600."""
    suffix = Path(path).suffix.lower()
    if suffix not in (".jsonl", ".csv"):
        shown = f"'{suffix}'" if suffix else "no suffix"
        raise AuditError(f"{path}: {shown} is not a case file format; end the file name with .jsonl or .csv")
    rubric_id, rubrics = _rubric_of(store)
    statuses = selection.statuses if selection is not None else None
    tally = ExportedCases(rubric_id)
    cases = _cases(store, statuses, include_notes)
    with atomic_output(path) as temp:
        if suffix == ".jsonl":
            with open(temp, "w", encoding="utf-8", newline="\n") as handle:
                _jsonl(handle, cases, include_notes, tally)
        else:
            questions = list(dict.fromkeys(qid for r in rubrics.values() for qid in r.question_ids))
            with_notes = {r[0] for r in store.db.execute(
                "SELECT DISTINCT question_id FROM answers WHERE note IS NOT NULL AND state = 'current'")} if include_notes else set()
            noted = [qid for qid in questions if qid in with_notes]
            with open(temp, "w", encoding="utf-8-sig", newline="") as handle:
                _csv(handle, cases, questions, noted, tally)
    return tally
