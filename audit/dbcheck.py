"""Checking what a database holds, value by value: a file from another laptop is untrusted input.

:func:`audit.dbfile.inspect` refuses a file whose *schema* is not the tool's.
This module refuses one whose *content* could not have been written by the
tool: a rubric whose text does not hash to its key (or whose question and
option rows say something else), an answer to a question its rubric does not
have, a value that is not JSON or not what the question accepts (an unknown
code, an age of 999, text for a number), an unknown state or status, an
identifier with control or invisible characters, a malformed UUID or time.

Merge runs it on every source before anything is written, backup on every
copy, and the UI in the background before its first write. Tabulation
checks, as it reads, every value it counts (:meth:`ValueChecker.check`).
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from audit.errors import StoreError
from audit.identity import IdentifierProblem, normalise
from audit.values import MAX_TEXT, ValueProblem, coerce

if TYPE_CHECKING:
    from audit.rubric import Rubric
    from audit.store import Store

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?Z$")
ANSWER_STATES = ("current", "retired")
HISTORY_FIELDS = ("value", "note", "state", "status", "case", "case_ref", "site", "inspector", "review")
#: problems listed in full; the rest are counted
SHOWN = 50


class ValueChecker:
    """Whether a stored answer text is one the tool could have written for a question (memoised)."""

    def __init__(self) -> None:
        self._memo: dict[tuple[int, str, str], str | None] = {}
        self._rubrics: list[Rubric] = []  # kept alive, so that their ids in the memo stay theirs

    def problem(self, rubric: Rubric, question_id: str, text: Any) -> str | None:
        """None when ``text`` is a valid stored value for the question, else why not."""
        memo_key = (id(rubric), question_id, text if isinstance(text, str) else repr(text))
        if memo_key in self._memo:
            return self._memo[memo_key]
        if not any(r is rubric for r in self._rubrics):
            self._rubrics.append(rubric)
        self._memo[memo_key] = found = self._problem(rubric, question_id, text)
        return found

    @staticmethod
    def _problem(rubric: Rubric, question_id: str, text: Any) -> str | None:
        import json

        if not rubric.has_question(question_id):
            return f"answers question '{question_id}', which rubric {rubric.id} does not have"
        if text is None:
            return None
        if not isinstance(text, str):
            return "holds a value that is not JSON text"
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            return "holds a value that is not valid JSON"
        question = rubric.question(question_id)
        try:
            canonical = coerce(question, value)
        except ValueProblem as exc:
            return f"holds {_short(text)}: {exc}"
        same = sorted(canonical) == sorted(value) and len(set(value)) == len(value) if isinstance(value, list) and \
            isinstance(canonical, list) else canonical == value and type(canonical) is type(value)
        if not same:
            return f"holds {_short(text)}, which is not how the tool stores an answer to it"
        return None

    def check(self, rubric: Rubric, question_id: str, text: Any, where: str) -> None:
        problem = self.problem(rubric, question_id, text)
        if problem:
            raise StoreError(f"{where}: {problem}; the file was altered outside the tool; restore it from a backup")


def _short(text: str) -> str:
    return repr(text if len(text) <= 40 else text[:40] + "...")


@dataclass
class ContentReport:
    problems: list[str] = field(default_factory=list)
    total: int = 0

    def add(self, message: str) -> None:
        self.total += 1
        if len(self.problems) < SHOWN:
            self.problems.append(message)

    def raise_if_any(self, shown: str) -> None:
        if not self.total:
            return
        more = f" (and {self.total - 1:,} more problem(s))" if self.total > 1 else ""
        raise StoreError(
            f"{shown}: {self.problems[0]}{more}; it holds data the tool could not have written, so it was altered "
            "outside the tool; nothing was changed; restore it from a backup or ask the site for a fresh copy"
        )


def content_report(store: Store) -> ContentReport:
    """Every problem with what ``store`` holds (the first :data:`SHOWN` in words)."""
    report = ContentReport()
    rubrics: dict[str, Rubric] = {}
    for row in store.rubrics():
        try:
            rubrics[row["sha256"]] = store.rubric(row["sha256"])
        except StoreError as exc:
            report.add(str(exc).split(": ", 1)[-1])
    # schema 5 keeps answers and history by a case's id and a question's key; a row whose key points
    # nowhere is not in the views (nothing reads it), and is named here
    for table, what in (("answer_data", "answer"), ("history_data", "history row")):
        dangling = store.conn.execute(f"SELECT count(*) FROM pragma_foreign_key_check('{table}')").fetchone()[0]
        if dangling:
            report.add(f"{dangling} {what}(s) point to a case or question the file does not hold")
    return check_rows(store.conn, rubrics, report)


def check_rows(conn: sqlite3.Connection, rubrics: dict[str, Rubric], report: ContentReport | None = None, *,
               tables: tuple[str, str, str] = ("cases", "answers", "history"), where: str = "1",
               params: tuple = ()) -> ContentReport:
    """Check the case, answer and history rows of ``tables`` (e.g. a merge's staging tables, filtered by
    ``where``) against ``rubrics`` (sha256 -> verified rubric)."""
    from audit.store import STATUSES

    report = report if report is not None else ContentReport()
    case_table, answer_table, history_table = tables
    cases: dict[str, tuple[str, str]] = {}
    columns = "uuid, case_ref, site, inspector, status, created_at, updated_at, rubric_sha256, deleted_at, copy_of, duplicate_of"
    for uuid, ref, site, inspector, status, created, updated, sha, deleted_at, copy_of, duplicate_of in conn.execute(
        f"SELECT {columns} FROM {case_table} WHERE {where}", params
    ):
        shown = _CaseName(ref, site)
        if not isinstance(uuid, str) or not UUID.match(uuid):
            report.add(f"{shown} has a malformed id {_text(uuid)}")
        for name, text, required in (("case_ref", ref, True), ("site", site, True), ("inspector", inspector, False)):
            if text is None and not required:
                continue
            try:
                if not isinstance(text, str) or not normalise(text, name):
                    report.add(f"{shown}: its {name} is empty or not text")
            except IdentifierProblem as exc:
                report.add(f"{shown}: {exc}")
        if status not in STATUSES:
            report.add(f"{shown} has an unknown status {_text(status)}")
        for name, stamp in (("created_at", created), ("updated_at", updated), ("deleted_at", deleted_at)):
            if (stamp is None and name != "deleted_at") or (stamp is not None and not (isinstance(stamp, str) and TIME.match(stamp))):
                report.add(f"{shown} has a malformed {name} {_text(stamp)}")
        for name, other in (("copy_of", copy_of), ("duplicate_of", duplicate_of)):
            if other is not None and (not isinstance(other, str) or not UUID.match(other)):
                report.add(f"{shown} has a malformed {name} {_text(other)}")
        if sha not in rubrics:
            report.add(f"{shown} names a rubric the file does not hold (or one that was refused)")
            continue
        cases[uuid] = (shown, sha)
    checker = ValueChecker()
    for case_uuid, qid, value, note, by, at, state, applies, counted in conn.execute(
        f"SELECT case_uuid, question_id, value, note, answered_by, answered_at, state, applies, counted FROM {answer_table} "
        f"WHERE {where}", params
    ):
        owner = cases.get(case_uuid)
        if owner is None:
            report.add(f"an answer to {_text(qid)} belongs to no case the file holds (or to a refused one)")
            continue
        shown, sha = owner
        problem = checker.problem(rubrics[sha], qid, value)
        if problem:
            report.add(f"{shown}, question {_text(qid)} {problem}")
        if state not in ANSWER_STATES or applies not in (0, 1) or counted not in (0, 1):
            report.add(f"{shown}, question {_text(qid)} has an unknown state or verdict")
        if note is not None and (not isinstance(note, str) or len(note) > MAX_TEXT):
            report.add(f"{shown}, question {_text(qid)} has a note that is not text, or too long")
        if at is not None and (not isinstance(at, str) or not TIME.match(at)):
            report.add(f"{shown}, question {_text(qid)} has a malformed answered_at {_text(at)}")
        if by is not None and not isinstance(by, str):
            report.add(f"{shown}, question {_text(qid)} has a malformed answered_by")
    for case_uuid, qid, field_name, old, new, by, at, reason, origin in conn.execute(
        f"SELECT case_uuid, question_id, field, old_value, new_value, changed_by, changed_at, reason, origin FROM {history_table} "
        f"WHERE {where}", params
    ):
        if case_uuid not in cases:
            report.add("a history row belongs to no case the file holds (or to a refused one)")
            continue
        if field_name not in HISTORY_FIELDS or not isinstance(reason, str) or not isinstance(at, str) or not TIME.match(at):
            report.add(f"{cases[case_uuid][0]} has a malformed history row")
        elif any(v is not None and not isinstance(v, str) for v in (qid, old, new, by, origin)):
            report.add(f"{cases[case_uuid][0]} has a history row holding something other than text")
    return report


def check_content(store: Store) -> None:
    """Refuse (``StoreError`` naming the file and the first problem) a database holding data the tool could not have written."""
    content_report(store).raise_if_any(str(store.path))


class _CaseName:
    """'case T001 at sheffield', worked out only if a problem needs it."""

    __slots__ = ("ref", "site")

    def __init__(self, ref: Any, site: Any):
        self.ref, self.site = ref, site

    def __str__(self) -> str:
        return f"case {_text(self.ref)} at {_text(self.site)}"

    __format__ = lambda self, spec: format(str(self), spec)  # noqa: E731


def _text(value: Any) -> str:
    from audit.identity import printable

    shown = printable(value) if isinstance(value, str) else repr(value)
    return shown if len(shown) <= 60 else shown[:60] + "..."
