"""The case service: the only writer of cases, answers and history.

Every change to a case goes through one method here, in one transaction,
with one evaluation of the rubric: the UI's keypress, an import, a merge, a
review. Each returns an :class:`Outcome` that says what was saved, what
would be retired (so the UI can ask first), what was retired or restored,
and the case as it now is (:class:`CaseState`: its answers, verdicts and
evaluation), so no caller reads the case back or evaluates it again.

The verdicts (``answers.applies`` / ``answers.counted``) always come from
:mod:`audit.counting` on the case's own rubric (:meth:`CaseService.settle`);
no path copies them from elsewhere. An answer whose question stops applying
is retired, with a history row, whichever path made it stop.
"""

from __future__ import annotations

import functools
import sqlite3
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Iterable

from audit.counting import count_case, progress
from audit.engine import Evaluation, evaluate, is_answered
from audit.errors import StoreError
from audit.identity import IdentifierProblem, key, normalise
from audit.schema import stored_stamp
from audit import store as storage  # storage.now(), looked up at each call: one clock for every writer (tests fix it)
from audit.store import (
    CASE_COLUMNS, LOCKED_STATUSES, STATUS_APPROVED, STATUS_COMPLETE, STATUS_IN_PROGRESS, STATUS_RETURNED, STATUSES,
    Case, NewCase, Store, current_user, decode, encode,
)
from audit.values import ValueProblem, coerce, display

if TYPE_CHECKING:
    from audit.rubric import Rubric

ANSWER_FIELDS = ("value", "note", "answered_by", "answered_at", "state", "applies", "counted")
#: a history row as the history view shows it and the service logs it (case by UUID)
HISTORY_COLUMNS = ("case_uuid", "question_id", "field", "old_value", "new_value", "changed_by", "changed_at", "reason", "origin")
# the tables behind the answers and history views (schema 5): a case by its integer id, a question by its key
ANSWER_INSERT = (f"INSERT INTO answer_data (case_id, question_key, {', '.join(ANSWER_FIELDS)}) "
                 "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
HISTORY_INSERT = ("INSERT INTO history_data (case_id, question_id, field, old_value, new_value, changed_by, changed_at, "
                  "reason, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
QUESTION_KEY = "(SELECT id FROM question_keys WHERE question_id = ?)"


def stored_state(state: str) -> str | None:
    """An answer's state as answer_data holds it: NULL while current (most rows), else its name."""
    return None if state == "current" else state

# history reasons
CREATED, IMPORTED, ANSWERED, NOTED, RETIRED, RESTORED = "created", "import", "answer", "note", "stopped applying", "restored"
STATUS, GAP, DELETED, UNDELETED, REVIEW = "status", "required answer missing", "deleted", "restored case", "review"


class CaseLocked(StoreError):
    """A change to a case that is complete, approved or deleted: it must be reopened (or restored) first."""


@dataclass(frozen=True)
class CaseState:
    """One case as it is: its record, every answer row (retired ones and notes too), and one evaluation."""

    case: Case
    rubric: Rubric
    rows: dict[str, dict]
    evaluation: Evaluation

    def value(self, question_id: str) -> Any:
        """The current answer (None when unanswered or retired)."""
        return self.evaluation.answers.get(question_id)

    def note(self, question_id: str) -> str:
        return (self.rows.get(question_id) or {}).get("note") or ""

    def retired_value(self, question_id: str) -> Any:
        row = self.rows.get(question_id)
        return row["value"] if row and row["state"] == "retired" else None

    @property
    def restorable(self) -> list[str]:
        """Retired answers whose question applies again (offered back to the inspector), in rubric order."""
        return [
            qid for qid in self.rubric.question_ids
            if qid in self.evaluation.applicable and qid not in self.evaluation.visible
            and is_answered(self.retired_value(qid))
        ]


@dataclass(frozen=True)
class Outcome:
    """What one change did."""

    case: Case
    state: CaseState | None  # the case after the change (None for a dry run or a change waiting to be confirmed)
    saved: bool = False  # something was written
    value: Any = None  # the answer as stored (after coercion)
    would_retire: list[str] = field(default_factory=list)  # answers that would stop applying: nothing written yet
    retired: list[str] = field(default_factory=list)
    restored: list[str] = field(default_factory=list)
    reopened: bool = False  # a complete case went back in progress: a required question needs an answer
    history: list[tuple] = field(default_factory=list)

    @property
    def needs_confirmation(self) -> bool:
        return bool(self.would_retire) and not self.saved


def _answer_row(question_id: str, row: tuple | None = None) -> dict:
    if row is None:
        return {"value": None, "note": None, "answered_by": None, "answered_at": None, "state": "current", "applies": False,
                "counted": False}
    value, note, by, at, state, applies, counted = row
    return {"value": decode(value), "note": note, "answered_by": by, "answered_at": at, "state": state,
            "applies": bool(applies), "counted": bool(counted)}


@dataclass(frozen=True)
class Verdict:
    """The counting module's verdict on one case's answer rows (see :func:`verdicts`)."""

    evaluation: Evaluation
    retired: list[str]
    status: str
    applicable_count: int
    answered_count: int


def verdicts(rubric: Rubric, rows: dict[str, dict], *, deleted: bool, status: str,
             evaluation: Evaluation | None = None) -> Verdict:
    """Decide, in memory, what a case's stored rows must say: one evaluation.

    Current answers to questions that do not apply are retired; every row gets
    ``applies`` and ``counted`` from :mod:`audit.counting` (nothing counts in a
    case that is ``deleted``, or that is a moderation copy: callers pass both as
    ``deleted``); a complete or approved case with a required gap is back in
    progress. ``rows`` is updated in place.
    """
    if evaluation is None:
        evaluation = evaluate(rubric, CaseService.current(rows))
    retired = [qid for qid in rubric.question_ids if qid in rows and rows[qid]["state"] == "current"
               and is_answered(rows[qid]["value"]) and qid not in evaluation.applicable]
    if retired:
        for qid in retired:
            rows[qid]["state"] = "retired"
        # stale answers are invisible to rules: retiring them changes nothing about what
        # applies, so the evaluation stands without them
        kept = {qid: v for qid, v in evaluation.answers.items() if qid not in retired}
        evaluation = Evaluation(rubric, kept, evaluation.applicable, evaluation.visible)
    tally = count_case(rubric, evaluation.answers, evaluation)
    counted = frozenset() if deleted else tally.counted
    for qid, row in rows.items():
        row["applies"], row["counted"] = qid in evaluation.applicable, qid in counted
    if status in LOCKED_STATUSES and evaluation.missing_required:
        status = STATUS_IN_PROGRESS
    return Verdict(evaluation, retired, status, tally.applicable_count, tally.answered_count)


@dataclass(frozen=True)
class _RubricPlan:
    """What :meth:`CaseService.insert_cases` works out once per rubric: its stored sha256, each question's
    integer key, the questions in key order, and the set of its question ids."""

    rubric: Rubric
    sha: str
    keys: dict[str, int]
    by_key: tuple[tuple[str, int], ...]
    question_set: frozenset[str]


class _Encoder:
    """``store.encode`` once per distinct code or selection: most answers repeat a few of them."""

    def __init__(self) -> None:
        self.texts: dict[str, str] = {}
        self.selections: dict[tuple, str] = {}

    def text(self, value: str) -> str:
        found = self.texts.get(value)
        if found is None:
            found = self.texts[value] = encode(value)
        return found

    def value(self, value: Any) -> str:
        if value.__class__ is list and all(item.__class__ is str for item in value):
            memo = tuple(value)
            found = self.selections.get(memo)
            if found is None:
                found = self.selections[memo] = encode(value)
            return found
        return encode(value)


# insert_cases' (and insert_merged's) statements. A Python None bound to a parameter costs the sqlite3 module an adapter
# lookup (a failed protocol search), dearer than SQLite's own insert of the row, so the columns
# that bulk rows leave empty are not named: they take their NULL default.
_CASE_INSERT = ("INSERT INTO cases (uuid, case_ref, site, inspector, status, created_at, updated_at, rubric_id, "
                "rubric_version, rubric_sha256, applicable_count, answered_count, origin_file, site_key, ref_key, id{}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?{})")
#: a current answer that applies, without a note (most rows)
_CURRENT_ANSWER_INSERT = ("INSERT INTO answer_data (case_id, question_key, value, answered_by, answered_at, applies, "
                          "counted) VALUES (?, ?, ?, ?, ?, 1, ?)")
#: a current answer without a note, whatever its verdicts (insert_merged's rows)
_PLAIN_ANSWER_INSERT = ("INSERT INTO answer_data (case_id, question_key, value, answered_by, answered_at, applies, "
                        "counted) VALUES (?, ?, ?, ?, ?, ?, ?)")
#: history ids are given by insert_cases, so that a case's rows keep their order across the two statements
_CASE_HISTORY_INSERT = ("INSERT INTO history_data (id, case_id, field, new_value, changed_by, changed_at, reason, origin) "
                        "VALUES (?, ?, 'case', ?, ?, ?, ?, ?)")
_HISTORY_INSERT_WITH_ID = HISTORY_INSERT.replace("(case_id,", "(id, case_id,", 1).replace("VALUES (", "VALUES (?, ", 1)


class _InsertRows:
    """The rows insert_cases has made and not yet written, by statement."""

    def __init__(self, copy_of: str | None, last_history_id: int):
        self.copy_of = copy_of
        self.case_sql = _CASE_INSERT.format(", copy_of", ", ?") if copy_of is not None else _CASE_INSERT.format("", "")
        self.cases: list[tuple] = []
        self.current: list[tuple] = []  # _CURRENT_ANSWER_INSERT
        self.other: list[tuple] = []  # ANSWER_INSERT: retired answers, notes
        self.case_history: list[tuple] = []
        self.other_history: list[tuple] = []
        self.history_id = last_history_id

    def history(self, case_id: int, question_id: str | None, field_name: str, old: Any, new: Any, who: str,
                stamp: str, reason: str, origin: str | None) -> None:
        """A history row (in :data:`HISTORY_INSERT` order after the case id), numbered in the order given."""
        self.history_id += 1
        if field_name == "case" and question_id is None and old is None and origin is not None:
            self.case_history.append((self.history_id, case_id, new, who, stamp, reason, origin))
        else:
            self.other_history.append((self.history_id, case_id, question_id, field_name, old, new, who, stamp, reason, origin))

    def clear(self) -> None:
        for rows in (self.cases, self.current, self.other, self.case_history, self.other_history):
            rows.clear()


class _Abandon(Exception):
    """Leave a transaction without writing, returning an outcome (a dry run, or nothing to change)."""

    def __init__(self, outcome: Outcome):
        super().__init__("abandoned")
        self.outcome = outcome


def _abandonable(method):
    """For methods that may decide, inside their transaction, that there is nothing to write:
    the transaction rolls back and the method returns the outcome it decided on."""

    @functools.wraps(method)
    def wrapper(*args, **kwargs):
        try:
            return method(*args, **kwargs)
        except _Abandon as abandoned:
            return abandoned.outcome

    return wrapper


@dataclass(frozen=True)
class _Known:
    """The last case this service read or saved, and the file's state when it did (see ``_known_case``)."""

    file_state: tuple[int, int]
    case: Case
    rows: dict[str, dict]


def _copy_rows(rows: dict[str, dict]) -> dict[str, dict]:
    return {qid: row.copy() for qid, row in rows.items()}


class CaseService:
    """Changes to the cases of one open :class:`Store`, made by ``who``."""

    def __init__(self, store: Store, who: str | None = None):
        self.store = store
        self.conn: sqlite3.Connection = store.conn
        self.who = who or current_user()
        self._known: _Known | None = None

    # -- reading a case --------------------------------------------------------------------
    def _file_state(self) -> tuple[int, int]:
        """What says whether the file changed: ``data_version`` moves when another connection (another
        program, another thread) commits; ``total_changes`` when this one writes, by any path."""
        return self.conn.execute("PRAGMA data_version").fetchone()[0], self.conn.total_changes

    def _known_case(self, case_uuid: str, file_state: tuple[int, int]) -> Case | None:
        """The case as this service last read or saved it, if the file cannot have changed since (a
        keypress then skips reading and decoding every row again); None: read it."""
        known = self._known
        if known is None or known.case.uuid != case_uuid:
            return None
        if file_state != known.file_state:
            self._known = None
            return None
        return known.case

    def _unchecked_known(self, case_uuid: str) -> Case | None:
        """The known case, not checked against the file, for what is checked again under the write lock
        (its rubric never changes); None where it would refuse the change (a stale refusal would be wrong)."""
        known = self._known
        if known is None or known.case.uuid != case_uuid or known.case.deleted or known.case.locked:
            return None
        return known.case

    def _take_known(self, case_uuid: str, file_state: tuple[int, int]) -> tuple[Case, dict[str, dict]] | None:
        """The known case and its rows, handed over: they are the caller's to change, and kept again only
        by ``_remember`` after a commit (so a change that fails half-way leaves nothing behind to trust)."""
        case = self._known_case(case_uuid, file_state)
        if case is None:
            return None
        rows, self._known = self._known.rows, None
        return case, rows

    def _remember(self, data_version: int, case: Case, rows: dict[str, dict], nested: bool) -> None:
        """Keep what was just committed, with ``data_version`` as read under the write lock. Not inside a
        caller's transaction: that may still roll back, and a rollback leaves both counters as they are."""
        self._known = None if nested else _Known((data_version, self.conn.total_changes), case, _copy_rows(rows))

    def _rows(self, case_uuid: str) -> dict[str, dict]:
        cursor = self.conn.execute(
            f"SELECT question_id, {', '.join(ANSWER_FIELDS)} FROM answers WHERE case_uuid = ?", [case_uuid]
        )
        return {r[0]: _answer_row(r[0], r[1:]) for r in cursor}

    @staticmethod
    def current(rows: dict[str, dict]) -> dict[str, Any]:
        """The current answers among a case's rows (what rules see, before applicability)."""
        return {qid: r["value"] for qid, r in rows.items() if r["state"] == "current" and is_answered(r["value"])}

    def load(self, case_uuid: str) -> CaseState:
        """A case with its rows and one evaluation of its current answers."""
        nested = self.conn.in_transaction
        version = self._file_state()[0]  # first: a commit after it makes what is read below stale, never missed
        case = self.store.case(case_uuid)
        rubric = self.store.rubric_for(case)
        rows = self._rows(case_uuid)
        self._remember(version, case, rows, nested)
        return CaseState(case, rubric, rows, evaluate(rubric, self.current(rows)))

    # -- writing helpers -------------------------------------------------------------------
    def question_keys(self, question_ids: Iterable[str]) -> dict[str, int]:
        """Each question id's integer key in answer_data, adding the ones the file lacks (inside a write
        transaction: a key is the file's own, like a case id, and means nothing in another file)."""
        wanted = list(dict.fromkeys(question_ids))
        self.conn.executemany("INSERT OR IGNORE INTO question_keys (question_id) VALUES (?)", [(q,) for q in wanted])
        keys: dict[str, int] = {}
        for start in range(0, len(wanted), 500):
            part = wanted[start:start + 500]
            keys.update(self.conn.execute(
                f"SELECT question_id, id FROM question_keys WHERE question_id IN ({', '.join('?' * len(part))})", part
            ).fetchall())
        return keys

    def _history(self, log: list[tuple], case: Case, question_id: str | None, field_name: str, old: Any, new: Any,
                 stamp: str, reason: str, origin: str | None = None) -> None:
        row = (case.uuid, question_id, field_name, old, new, self.who, stamp, reason, origin)
        self.conn.execute(HISTORY_INSERT, (case.id, *row[1:]))
        log.append(row)

    def _write_row(self, case: Case, qid: str, row: dict, exists: bool) -> None:
        values = [encode(row["value"]), row["note"], row["answered_by"], stored_stamp(row["answered_at"]),
                  stored_state(row["state"]), int(row["applies"]), int(row["counted"])]
        if exists:
            self.conn.execute(
                "UPDATE answer_data SET value = ?, note = ?, answered_by = ?, answered_at = ?, state = ?, applies = ?, "
                f"counted = ? WHERE case_id = ? AND question_key = {QUESTION_KEY}",
                [*values, case.id, qid],
            )
        else:
            self.conn.execute(ANSWER_INSERT, [case.id, self.question_keys([qid])[qid], *values])

    def settle(self, case: Case, rubric: Rubric, rows: dict[str, dict], stamp: str, log: list[tuple],
               origin: str | None = None, evaluation: Evaluation | None = None) -> tuple[Evaluation, list[str], str]:
        """Make a case's stored verdicts the counting module's, after its answers changed.

        Answers whose question no longer applies are retired (history rows). Every
        row's ``applies``/``counted`` is rewritten where it differs from ``rows``
        (which must say what is stored); a deleted case counts nothing. A complete
        or approved case with a required gap goes back in progress. ``rows`` is
        updated in place. ``evaluation``, if the caller has one of exactly these
        current answers, saves evaluating again.
        Returns (the evaluation of the settled answers, the retired ids, the status).
        """
        before = {qid: (row["applies"], row["counted"]) for qid, row in rows.items()}
        verdict = verdicts(rubric, rows, deleted=case.deleted or case.copy_of is not None, status=case.status,
                           evaluation=evaluation)
        for qid in verdict.retired:
            self._history(log, case, qid, "state", "current", "retired", stamp, RETIRED, origin)
        self.conn.executemany(
            f"UPDATE answer_data SET applies = ?, counted = ?, state = ? WHERE case_id = ? AND question_key = {QUESTION_KEY}",
            [
                (int(row["applies"]), int(row["counted"]), stored_state(row["state"]), case.id, qid)
                for qid, row in rows.items()
                if before[qid] != (row["applies"], row["counted"]) or qid in verdict.retired
            ],
        )
        if verdict.status != case.status:
            self._history(log, case, None, "status", case.status, verdict.status, stamp, GAP, origin)
        self.conn.execute(
            "UPDATE cases SET applicable_count = ?, answered_count = ?, updated_at = max(updated_at, ?), status = ? "
            "WHERE uuid = ?",
            [verdict.applicable_count, verdict.answered_count, stamp, verdict.status, case.uuid],
        )
        return verdict.evaluation, verdict.retired, verdict.status

    def _editable(self, case: Case) -> None:
        if case.deleted:
            raise CaseLocked(f"case {case.case_ref} at {case.site} is deleted; restore it before changing it")
        if case.locked:
            shown = "complete" if case.status == STATUS_COMPLETE else case.status
            raise CaseLocked(f"case {case.case_ref} is {shown}: its answers are read-only; reopen it to change them")

    def _coerce(self, rubric: Rubric, question_id: str, value: Any) -> Any:
        if not rubric.has_question(question_id):
            raise StoreError(f"question '{question_id}' is not in rubric {rubric.id}")
        try:
            return coerce(rubric.question(question_id), value)
        except ValueProblem as exc:
            raise StoreError(f"question '{question_id}': {exc}") from None

    def _finish(self, state_case: Case, rubric: Rubric, rows: dict[str, dict], evaluation: Evaluation, status: str,
                stamp: str) -> CaseState:
        applicable, answered = progress(evaluation)  # not count_case: what counts was decided by settle
        case = replace(state_case, status=status, updated_at=max(state_case.updated_at, stamp),
                        applicable_count=applicable, answered_count=answered)
        return CaseState(case, rubric, rows, evaluation)

    # -- one answer ------------------------------------------------------------------------
    @_abandonable
    def answer(self, case_uuid: str, question_id: str, value: Any, *, confirm_retire: bool = False,
               dry_run: bool = False) -> Outcome:
        """Give (or, with ``None``, clear) one answer, in one transaction and one evaluation.

        If the answer would make other answers stop applying and ``confirm_retire``
        is false, nothing is written and ``Outcome.would_retire`` lists them: ask,
        then call again with ``confirm_retire=True``. ``dry_run`` only reports.
        """
        nested = self.conn.in_transaction
        case = self._unchecked_known(case_uuid) or self.store.case(case_uuid)
        rubric = self.store.rubric_for(case)
        value = self._coerce(rubric, question_id, value)
        self._editable(case)
        stamp = storage.now()
        with self.store.transaction():
            # under the write lock: nobody changes the case now
            file_state = self._file_state()
            case, rows = self._take_known(case_uuid, file_state) or (self.store.case(case_uuid), self._rows(case_uuid))
            self._editable(case)
            after = self.current(rows)
            after.pop(question_id, None)
            if is_answered(value):
                after[question_id] = value
            evaluation = evaluate(rubric, after)
            if is_answered(value) and not evaluation.applies(question_id):
                rule = evaluation.excluded_by(question_id)
                because = f" (rule `{rule.source}` is not true)" if rule else ""
                raise StoreError(
                    f"question '{question_id}' does not apply to case {case.case_ref}{because}; answer the questions it depends on first"
                )
            stale = [q for q in evaluation.stale if q != question_id]
            if dry_run or (stale and not confirm_retire):
                raise _Abandon(Outcome(case, None, value=value, would_retire=stale))
            row = rows.get(question_id)
            old_value = row["value"] if row and row["state"] == "current" else None
            if encode(old_value) == encode(value):
                if value is None:  # clearing nothing
                    raise _Abandon(Outcome(case, self._finish(case, rubric, rows, evaluation, case.status, case.updated_at)))
                # the same answer given again: who confirmed it, and when, is kept (a merge's "later wins" reads it)
                row.update(answered_by=self.who, answered_at=stamp)
                self.conn.execute(
                    f"UPDATE answer_data SET answered_by = ?, answered_at = ? WHERE case_id = ? AND question_key = {QUESTION_KEY}",
                    [self.who, stored_stamp(stamp), case.id, question_id],
                )
                self.conn.execute("UPDATE cases SET updated_at = max(updated_at, ?) WHERE uuid = ?", [stamp, case_uuid])
                state = self._finish(case, rubric, rows, evaluation, case.status, stamp)
                outcome = Outcome(state.case, state, saved=True, value=value)
            else:
                log: list[tuple] = []
                new_row = dict(row or _answer_row(question_id))
                new_row.update(value=value, answered_by=self.who, answered_at=stamp, state="current")
                self._write_row(case, question_id, new_row, row is not None)
                rows[question_id] = new_row
                self._history(log, case, question_id, "value", encode(old_value), encode(value), stamp, ANSWERED)
                evaluation, retired, status = self.settle(case, rubric, rows, stamp, log, evaluation=evaluation)
                state = self._finish(case, rubric, rows, evaluation, status, stamp)
                outcome = Outcome(state.case, state, saved=True, value=value, retired=retired, history=log,
                                  reopened=case.status in LOCKED_STATUSES and status == STATUS_IN_PROGRESS)
        self._remember(file_state[0], state.case, rows, nested)
        return outcome

    @_abandonable
    def note(self, case_uuid: str, question_id: str, text: str | None) -> Outcome:
        """Save an evidence note for one question (blank text removes it), with history."""
        case = self.store.case(case_uuid)
        rubric = self.store.rubric_for(case)
        if not rubric.has_question(question_id):
            raise StoreError(f"question '{question_id}' is not in rubric {case.rubric_id}")
        self._editable(case)
        text = (text or "").strip() or None
        stamp = storage.now()
        with self.store.transaction():
            case = self.store.case(case_uuid)
            self._editable(case)
            rows = self._rows(case_uuid)
            row = rows.get(question_id)
            old = row["note"] if row else None
            if old == text:
                raise _Abandon(Outcome(case, None))
            evaluation = evaluate(rubric, self.current(rows))  # a note changes no answer: only its row's verdict is new
            new_row = dict(row or _answer_row(question_id))
            if row is None:  # a note alone: the row holds no answer, and its time is the note's
                new_row.update(answered_by=self.who, answered_at=stamp, applies=question_id in evaluation.applicable)
            new_row["note"] = text
            self._write_row(case, question_id, new_row, row is not None)
            rows[question_id] = new_row
            log: list[tuple] = []
            self._history(log, case, question_id, "note", old, text, stamp, NOTED)
            self.conn.execute("UPDATE cases SET updated_at = ? WHERE uuid = ?", [stamp, case_uuid])
            case = replace(case, updated_at=stamp)
            state = CaseState(case, rubric, rows, evaluation)
        return Outcome(case, state, saved=True, history=log)

    @_abandonable
    def restore_answers(self, case_uuid: str, question_ids: Iterable[str] | None = None) -> Outcome:
        """Bring back retired answers whose question applies again (all of them when ``question_ids`` is None).

        Restoring one may make another apply (or stop applying): the case is settled
        once after all are restored, so an answer that still does not apply stays retired.
        """
        case = self.store.case(case_uuid)
        rubric = self.store.rubric_for(case)
        self._editable(case)
        stamp = storage.now()
        with self.store.transaction():
            case = self.store.case(case_uuid)
            self._editable(case)
            rows = self._rows(case_uuid)
            wanted = None if question_ids is None else set(question_ids)
            evaluation = evaluate(rubric, self.current(rows))
            restored: list[str] = []
            # in rubric order, re-evaluating as each comes back: a restored answer can open later questions
            for qid in rubric.question_ids:
                row = rows.get(qid)
                if row is None or row["state"] != "retired" or not is_answered(row["value"]):
                    continue
                if (wanted is not None and qid not in wanted) or qid not in evaluation.applicable:
                    continue
                row["state"] = "current"
                restored.append(qid)
                evaluation = evaluate(rubric, self.current(rows))
            if not restored:
                raise _Abandon(Outcome(case, CaseState(case, rubric, rows, evaluation)))
            log: list[tuple] = []
            for qid in restored:
                self.conn.execute(
                    f"UPDATE answer_data SET state = NULL WHERE case_id = ? AND question_key = {QUESTION_KEY}", [case.id, qid]
                )
                self._history(log, case, qid, "state", "retired", "current", stamp, RESTORED)
            evaluation, retired, status = self.settle(case, rubric, rows, stamp, log)
            state = self._finish(case, rubric, rows, evaluation, status, stamp)
        return Outcome(state.case, state, saved=True, restored=[q for q in restored if q not in retired], retired=retired,
                       history=log)

    # -- the case itself -------------------------------------------------------------------
    @_abandonable
    def set_status(self, case_uuid: str, status: str, *, comment: str | None = None,
                   question_id: str | None = None) -> Outcome:
        """Complete, reopen, approve or return a case.

        * ``complete``: from in progress or returned, only with no required gaps;
          completing a returned case clears the return (its comment stays in history).
        * ``in_progress``: reopens a complete or approved case.
        * ``approved``: a complete case, by a quality lead.
        * ``returned``: a complete or approved case sent back with a ``comment``,
          optionally naming the question it is about.
        """
        if status not in STATUSES:
            raise StoreError(f"status '{status}' is not one of {', '.join(STATUSES)}")
        stamp = storage.now()
        with self.store.transaction():
            case = self.store.case(case_uuid)
            rubric = self.store.rubric_for(case)
            if case.deleted:
                raise CaseLocked(f"case {case.case_ref} at {case.site} is deleted; restore it first")
            if case.status == status:
                raise _Abandon(Outcome(case, None))
            allowed = {
                STATUS_COMPLETE: (STATUS_IN_PROGRESS, STATUS_RETURNED),
                STATUS_IN_PROGRESS: (STATUS_COMPLETE, STATUS_APPROVED, STATUS_RETURNED),
                STATUS_APPROVED: (STATUS_COMPLETE,),
                STATUS_RETURNED: (STATUS_COMPLETE, STATUS_APPROVED),
            }[status]
            if case.status not in allowed:
                raise StoreError(
                    f"case {case.case_ref} is {case.status.replace('_', ' ')}; it can be marked {status.replace('_', ' ')} "
                    f"only from {' or '.join(s.replace('_', ' ') for s in allowed)}"
                )
            rows = self._rows(case_uuid)
            evaluation = evaluate(rubric, self.current(rows))
            if status == STATUS_COMPLETE and evaluation.missing_required:
                missing = evaluation.missing_required
                shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
                raise StoreError(
                    f"case {case.case_ref} cannot be marked complete: {len(missing)} required question(s) unanswered: {shown}"
                )
            log: list[tuple] = []
            review_comment, review_question = case.review_comment, case.review_question
            if status == STATUS_RETURNED:
                comment = (comment or "").strip()
                if not comment:
                    raise StoreError(f"case {case.case_ref}: a returned case needs a comment saying what to change")
                if question_id is not None and not rubric.has_question(question_id):
                    raise StoreError(f"question '{question_id}' is not in rubric {rubric.id}")
                review_comment, review_question = comment, question_id
                self._history(log, case, question_id, "review", None, comment, stamp, REVIEW)
            elif status == STATUS_APPROVED and comment:
                self._history(log, case, None, "review", None, comment.strip(), stamp, REVIEW)
            if status in (STATUS_COMPLETE, STATUS_APPROVED, STATUS_IN_PROGRESS) and case.status == STATUS_RETURNED:
                review_comment = review_question = None  # the comment stays in history
            self._history(log, case, None, "status", case.status, status, stamp, STATUS)
            self.conn.execute(
                "UPDATE cases SET status = ?, updated_at = ?, review_comment = ?, review_question = ? WHERE uuid = ?",
                [status, stamp, review_comment, review_question, case_uuid],
            )
            case = replace(case, status=status, updated_at=stamp, review_comment=review_comment,
                            review_question=review_question)
            state = CaseState(case, rubric, rows, evaluation)
        return Outcome(case, state, saved=True, history=log)

    @_abandonable
    def delete_case(self, case_uuid: str, reason: str) -> Outcome:
        """Soft-delete a case: kept with its history, never counted, listed only when asked for."""
        reason = " ".join((reason or "").split())
        if not reason:
            raise StoreError("say why the case is deleted (for example: created on the wrong rubric)")
        stamp = storage.now()
        with self.store.transaction():
            case = self.store.case(case_uuid)
            if case.deleted:
                raise _Abandon(Outcome(case, None))
            log: list[tuple] = []
            self._history(log, case, None, "case", None, reason, stamp, DELETED)
            self.conn.execute(
                "UPDATE cases SET deleted_at = ?, deleted_reason = ?, updated_at = ? WHERE uuid = ?",
                [stamp, reason, stamp, case_uuid],
            )
            case = replace(case, deleted_at=stamp, deleted_reason=reason, updated_at=stamp)
            rubric = self.store.rubric_for(case)
            rows = self._rows(case_uuid)
            evaluation, _, status = self.settle(case, rubric, rows, stamp, log)
            state = self._finish(case, rubric, rows, evaluation, status, stamp)
        return Outcome(state.case, state, saved=True, history=log)

    @_abandonable
    def restore_case(self, case_uuid: str) -> Outcome:
        """Undo a deletion; refused if another live case has taken its reference meanwhile."""
        stamp = storage.now()
        with self.store.transaction():
            case = self.store.case(case_uuid)
            if not case.deleted:
                raise _Abandon(Outcome(case, None))
            if case.duplicate_of is None and case.copy_of is None:
                other = self.store.find_case(case.site, case.case_ref)
                if other is not None:
                    raise StoreError(
                        f"case {case.case_ref} at {case.site} cannot be restored: another case now has that reference "
                        f"({other.case_ref}, created {other.created_at[:10]}); delete or rename that one first"
                    )
            log: list[tuple] = []
            self._history(log, case, None, "case", case.deleted_reason, None, stamp, UNDELETED)
            self.conn.execute(
                "UPDATE cases SET deleted_at = NULL, deleted_reason = NULL, updated_at = ? WHERE uuid = ?", [stamp, case_uuid]
            )
            case = replace(case, deleted_at=None, deleted_reason=None, updated_at=stamp)
            rubric = self.store.rubric_for(case)
            rows = self._rows(case_uuid)
            evaluation, _, status = self.settle(case, rubric, rows, stamp, log)
            state = self._finish(case, rubric, rows, evaluation, status, stamp)
        return Outcome(state.case, state, saved=True, history=log)

    # -- creating cases --------------------------------------------------------------------
    def rubric_problem(self, rubric: Rubric, *, allow_other_rubric: bool = False) -> str | None:
        """Why cases on ``rubric`` may not join this database, or None.

        A database keeps one rubric, on one version: another rubric id, or other text
        for the same id, needs ``allow_other_rubric`` (``--allow-rubric-change``).
        """
        if allow_other_rubric:
            return None
        for rubric_id, version, sha in self.store.case_rubrics():
            if sha == rubric.sha256:
                continue
            if rubric_id != rubric.id:
                return (f"this database holds cases on rubric '{rubric_id}', not '{rubric.id}'; a database keeps one "
                        "rubric (pass --allow-rubric-change to mix them)")
            change = "a different version" if version != rubric.version else "different text under the same version"
            return (f"this database holds cases on rubric '{rubric_id}' version {version} (sha256 {sha[:12]}), and this is "
                    f"version {rubric.version} (sha256 {rubric.sha256[:12]}): {change}; pass --allow-rubric-change to add them")
        return None

    def create_case(self, case_ref: str, site: str, rubric: Rubric, inspector: str | None = None, *,
                    allow_other_rubric: bool = False, copy_of: str | None = None) -> Case:
        """A new, empty case. The site keeps the spelling the database already has for it."""
        try:
            case_ref = normalise(case_ref or "", "case_ref")
            site = normalise(site or "", "site")
            inspector = normalise(inspector or "", "inspector") or None
        except IdentifierProblem as exc:
            raise StoreError(str(exc)) from None
        if not case_ref:
            raise StoreError("case_ref is empty; give the case's reference")
        if not site:
            raise StoreError("site is empty; give the site the case belongs to")
        problem = self.rubric_problem(rubric, allow_other_rubric=allow_other_rubric)
        if problem:
            raise StoreError(problem)
        new = NewCase(case_ref=case_ref, site=site, rubric=rubric, answers={}, inspector=inspector)
        self.insert_cases([new], reason=CREATED, copy_of=copy_of)
        return self.store.case(new.uuid)

    def insert_cases(self, cases: Iterable[NewCase], *, reason: str = IMPORTED, origin_file: str | None = None,
                     progress: Callable[[int], None] | None = None, copy_of: str | None = None) -> int:
        """Insert checked cases, their answers and notes in one transaction; returns how many.

        Identifiers are normalised (the site keeps the database's spelling) and a
        case_ref already used at the site is refused. Verdicts come from the
        counting module; the status is taken as given (the importer refuses
        ``complete`` for a case with a required gap, naming its line).

        The bulk write path (import, demo): what is not SQLite's own work is done once
        per distinct value, not per row: a site's or inspector's normal form and key,
        the JSON text of a code or of a multi-choice selection; once per rubric: its
        question keys and which of its questions may not count; once per call: the
        time as stored. A case's evaluation, if the caller has one (the importer
        does), is counted, not made again. Case ids (and history ids) are given here,
        so the primary keys are appended to in any order; answers go in question-key
        order. No None is bound to a statement (see ``_CASE_INSERT``).
        """
        stamp = storage.now()
        inserted = 0
        plans: dict[int, _RubricPlan] = {}  # id(rubric) -> what is worked out once per rubric per call
        encoded = _Encoder()
        sites: dict[str, tuple[str, str]] = {}  # site as given -> (as stored, key)
        spellings: dict[str, str] = {}  # site key -> as stored
        inspectors: dict[str, str | None] = {}
        who = self.who
        stored_now = stored_stamp(stamp)  # every answer of the call has this time: converted once
        counts_nothing = copy_of is not None  # a moderation copy never counts
        copy_column = () if copy_of is None else (copy_of,)
        with self.store.transaction():
            next_id = self.store.last_case_id() + 1  # ids given here, under the write lock: no read back per case
            rows = _InsertRows(copy_of, self.conn.execute("SELECT coalesce(max(id), 0) FROM history_data").fetchone()[0])
            case_rows, current_rows, other_rows = rows.cases, rows.current, rows.other
            add_history = rows.history
            texts = encoded.texts
            for new in cases:
                rubric = new.rubric
                plan = plans.get(id(rubric))
                if plan is None:
                    plan = plans[id(rubric)] = self._rubric_plan(rubric, plans)
                try:
                    case_ref = normalise(new.case_ref, "case_ref")
                    if new.site not in sites:
                        site = normalise(new.site, "site")
                        site_key = key(site)
                        if site_key not in spellings:  # one spelling per site: the database's, else the first given
                            spellings[site_key] = self.store.site_spelling(site) or site
                        sites[new.site] = (spellings[site_key], site_key)
                    site, site_key = sites[new.site]
                    given_inspector = new.inspector or ""
                    if given_inspector not in inspectors:
                        inspectors[given_inspector] = normalise(given_inspector, "inspector") or None
                    inspector = inspectors[given_inspector]
                except IdentifierProblem as exc:
                    raise StoreError(str(exc)) from None
                if new.status not in STATUSES:
                    raise StoreError(f"case {case_ref}: status '{new.status}' is not one of {', '.join(STATUSES)}")
                answers = new.answers
                if not plan.question_set.issuperset(answers):
                    unknown = sorted(set(answers) - plan.question_set)
                    raise StoreError(f"case {case_ref}: question '{unknown[0]}' is not in rubric {rubric.id}")
                # the status is the caller's: an import refuses "complete" with a required gap, with its line
                tally = count_case(rubric, answers, new.evaluation)
                case_id = next_id
                next_id += 1
                case_rows.append((
                    new.uuid, case_ref, site, inspector, new.status, stamp, stamp, rubric.id, rubric.version, plan.sha,
                    tally.applicable_count, tally.answered_count, origin_file, site_key, key(case_ref), case_id,
                    *copy_column,
                ))
                applicable = tally.evaluation.applicable
                counted = frozenset() if counts_nothing else tally.counted
                notes = new.notes
                for qid, question_key in plan.by_key:  # key order: primary-key appends
                    value = answers.get(qid)
                    if value is None:
                        continue
                    if value.__class__ is str:
                        text = texts.get(value)  # only answered text is remembered
                        if text is None:
                            if not value.strip():  # blank text is unanswered (engine.is_answered)
                                continue
                            text = encoded.text(value)
                    else:
                        text = encoded.value(value)
                    note = notes.get(qid) if notes else None
                    if qid in applicable and note is None:  # most rows
                        current_rows.append((case_id, question_key, text, who, stored_now, 1 if qid in counted else 0))
                    elif qid in applicable:
                        other_rows.append((case_id, question_key, text, note, who, stored_now, None, 1,
                                           1 if qid in counted else 0))
                    else:  # an answer to a question that does not apply is kept retired, as any other path keeps it
                        add_history(case_id, qid, "state", "current", "retired", who, stamp, RETIRED, origin_file)
                        other_rows.append((case_id, question_key, text, note, who, stored_now, "retired", 0, 0))
                if notes:
                    for qid, note in notes.items():
                        if note and not is_answered(answers.get(qid)):
                            other_rows.append((case_id, plan.keys[qid], None, note, who, stored_now, None,
                                               int(qid in applicable), 0))
                add_history(case_id, None, "case", None, origin_file or case_ref, who, stamp, reason, origin_file)
                inserted += 1
                if len(current_rows) + len(other_rows) >= 20000:
                    self._flush(rows)
                    if progress:
                        progress(inserted)
            self._flush(rows)
            if progress:
                progress(inserted)
        return inserted

    def _rubric_plan(self, rubric: Rubric, plans: dict[int, _RubricPlan]) -> _RubricPlan:
        """A rubric stored once per call, with its question keys in key order (inside the transaction)."""
        for plan in plans.values():
            if plan.rubric is not rubric and plan.sha == rubric.sha256:  # the same text, parsed twice
                return _RubricPlan(rubric, plan.sha, plan.keys, plan.by_key, plan.question_set)
        sha = self.store.add_rubric(rubric)
        keys = self.question_keys(rubric.question_ids)
        by_key = tuple(sorted(keys.items(), key=lambda item: item[1]))
        return _RubricPlan(rubric, sha, keys, by_key, frozenset(keys))

    def _flush(self, rows: _InsertRows) -> None:
        conn = self.conn
        try:
            conn.executemany(rows.case_sql, rows.cases)
        except sqlite3.IntegrityError as exc:
            if "idx_cases_identity" in str(exc) or "site_key" in str(exc):
                clash = self._first_clash(rows)
                raise StoreError(
                    f"case_ref '{clash[1]}' already exists at site '{clash[2]}'; open that case or use another ref"
                ) from None
            raise
        conn.executemany(_CURRENT_ANSWER_INSERT, rows.current)
        conn.executemany(ANSWER_INSERT, rows.other)
        conn.executemany(_CASE_HISTORY_INSERT, rows.case_history)
        conn.executemany(_HISTORY_INSERT_WITH_ID, rows.other_history)
        rows.clear()

    def _first_clash(self, rows: _InsertRows) -> tuple:
        """The first case row of a failed batch whose (site, case_ref) is taken."""
        seen: set[tuple[str, str]] = set()
        for row in rows.cases:
            pair = (row[13], row[14])
            taken = self.conn.execute(
                "SELECT 1 FROM cases WHERE site_key = ? AND ref_key = ? AND duplicate_of IS NULL AND copy_of IS NULL "
                "AND deleted_at IS NULL", pair,
            ).fetchone()
            if (taken or pair in seen) and rows.copy_of is None:
                return row
            seen.add(pair)
        return rows.cases[0]

    # -- merged changes ----------------------------------------------------------------------
    def insert_merged(self, items: Iterable[tuple[dict, dict[str, dict], list[tuple], str | None]], origin_of) -> int:
        """Add cases another database holds, as validated by the merge; returns how many.

        Each item is ``(case, rows, history, duplicate_of)``: the case's
        :data:`audit.store.CASE_COLUMNS` values as the source has them, its answer
        rows (decoded values; verdicts are decided here by :func:`verdicts`, never
        copied), its own history trail (tuples in :data:`HISTORY_COLUMNS` order),
        and the UUID of the live case it duplicates here, if any. ``origin_of(case)``
        names the source for history. Written in batches, inside the caller's
        transaction.
        """
        stamp = storage.now()
        columns = [*CASE_COLUMNS, "site_key", "ref_key", "id"]
        case_sql = f"INSERT INTO cases ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        answer_sql, history_sql = ANSWER_INSERT, HISTORY_INSERT
        next_id = self.store.last_case_id() + 1
        question_keys: dict[str, int] = {}
        case_rows: list[list] = []
        plain_rows: list[tuple] = []  # _PLAIN_ANSWER_INSERT: most answers (current, no note)
        encoder = _Encoder()
        answer_rows: list[tuple] = []
        history_rows: list[tuple] = []
        count = 0

        def flush() -> None:
            self.conn.executemany(case_sql, case_rows)
            self.conn.executemany(_PLAIN_ANSWER_INSERT, plain_rows)
            self.conn.executemany(answer_sql, answer_rows)
            self.conn.executemany(history_sql, history_rows)
            case_rows.clear()
            plain_rows.clear()
            answer_rows.clear()
            history_rows.clear()

        for case, rows, history, duplicate_of in items:
            origin = origin_of(case)
            rubric = self.store.rubric(case["rubric_sha256"])
            verdict = verdicts(rubric, rows, deleted=case.get("deleted_at") is not None or case.get("copy_of") is not None,
                               status=case["status"])
            values = {**case, "duplicate_of": duplicate_of, "site_key": key(case["site"]), "ref_key": key(case["case_ref"]),
                      "status": verdict.status, "applicable_count": verdict.applicable_count,
                      "answered_count": verdict.answered_count, "id": next_id}
            case_id, uuid, updated = next_id, case["uuid"], case["updated_at"]
            next_id += 1
            case_rows.append([values.get(c) for c in columns])
            missing = [qid for qid in rows if qid not in question_keys]
            if missing:
                question_keys.update(self.question_keys(missing))
            for qid in sorted(rows, key=question_keys.__getitem__):  # key order: primary-key appends
                row = rows[qid]
                value = row["value"]
                value = encoder.text(value) if value.__class__ is str else encoder.value(value)
                by, at, state = row["answered_by"], stored_stamp(row["answered_at"]), stored_state(row["state"])
                if row["note"] is None and state is None and None not in (value, by, at):
                    plain_rows.append((case_id, question_keys[qid], value, by, at, int(row["applies"]), int(row["counted"])))
                else:
                    answer_rows.append((case_id, question_keys[qid], value, row["note"], by, at, state,
                                        int(row["applies"]), int(row["counted"])))
            history_rows.extend((case_id, *entry[1:]) for entry in history)  # the source's trail of this case
            history_rows.append((case_id, None, "case", None, case.get("origin_file"), self.who, stamp, "merge", origin))
            for qid in verdict.retired:
                history_rows.append((case_id, qid, "state", "current", "retired", self.who, updated, RETIRED, origin))
            if verdict.status != case["status"]:
                history_rows.append((case_id, None, "status", case["status"], verdict.status, self.who, updated, GAP, origin))
            count += 1
            if len(plain_rows) + len(answer_rows) >= 20000:
                flush()
        flush()
        return count

    def update_merged(self, case_uuid: str, case_fields: dict[str, Any], rows: dict[str, dict], changed: set[str],
                      history: list[tuple], origin: str) -> CaseState:
        """Write a merge's resolution of one case: case fields, the answer rows in ``changed``, and history rows;
        then settle the case (retiring what stopped applying, recounting everything)."""
        if case_fields:
            if "site" in case_fields or "case_ref" in case_fields:
                current = self.store.case(case_uuid)
                case_fields = {**case_fields,
                               "site_key": key(case_fields.get("site", current.site)),
                               "ref_key": key(case_fields.get("case_ref", current.case_ref))}
            assignments = ", ".join(f"{name} = ?" for name in case_fields)
            self.conn.execute(f"UPDATE cases SET {assignments} WHERE uuid = ?", [*case_fields.values(), case_uuid])
        record = self.store.case(case_uuid)
        existing = {r[0] for r in self.conn.execute("SELECT question_id FROM answers WHERE case_uuid = ?", [case_uuid])}
        for qid in sorted(changed):
            rows[qid].update(applies=False, counted=False)  # settled below, never copied from a source
            self._write_row(record, qid, rows[qid], qid in existing)
        self.conn.executemany(HISTORY_INSERT, [(record.id, *entry[1:]) for entry in history])
        rubric = self.store.rubric_for(record)
        log: list[tuple] = []
        evaluation, _, status = self.settle(record, rubric, rows, record.updated_at, log, origin)
        return self._finish(record, rubric, rows, evaluation, status, record.updated_at)

    # -- whole database ----------------------------------------------------------------------
    def recount_all(self) -> int:
        """Settle every case (after the counting rules changed); returns how many cases changed."""
        changed = 0
        uuids = [r[0] for r in self.conn.execute("SELECT uuid FROM cases ORDER BY uuid").fetchall()]
        for uuid in uuids:
            case = self.store.case(uuid)
            rubric = self.store.rubric_for(case)
            rows = self._rows(uuid)
            before = {qid: (r["applies"], r["counted"], r["state"]) for qid, r in rows.items()}
            log: list[tuple] = []
            self.settle(case, rubric, rows, case.updated_at, log, "audit upgrade")
            if log or before != {qid: (r["applies"], r["counted"], r["state"]) for qid, r in rows.items()}:
                changed += 1
        return changed


def describe_value(rubric: Rubric, question_id: str, value: Any) -> str:
    """An answer as people read it ('' when unanswered)."""
    if value is None or not rubric.has_question(question_id):
        return "" if value is None else str(value)
    return display(rubric.question(question_id), value)


# --- organisational judgements (rating schemes' judged standards) ------------------------------


def set_judgement(store: Store, scheme_id: str, standard_id: str, rating_id: str, *, scope: str = "",
                  note: str | None = None, who: str | None = None) -> str:
    """Record the rating inspectors gave a judged standard of a rating scheme (replacing an earlier one) in
    the ``judgements`` table, in one transaction; returns the time it was set.

    Not a case's data: no answer or history row changes. ``scope`` is '' for the whole database, or a site.
    The caller checks the standard and rating against the scheme (``audit.ratings.check_judgements``).
    """
    stamp = storage.now()
    note = " ".join(note.split()) if note else None
    with store.transaction():
        store.conn.execute(
            "INSERT INTO judgements (scheme_id, standard_id, scope, rating, note, set_by, set_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (scheme_id, standard_id, scope) DO UPDATE SET rating = excluded.rating, note = excluded.note, "
            "set_by = excluded.set_by, set_at = excluded.set_at",
            [scheme_id, standard_id, scope, rating_id, note, who or current_user(), stamp],
        )
    return stamp


def clear_judgement(store: Store, scheme_id: str, standard_id: str, *, scope: str = "") -> bool:
    """Remove a judgement; True if there was one."""
    with store.transaction():
        cursor = store.conn.execute("DELETE FROM judgements WHERE scheme_id = ? AND standard_id = ? AND scope = ?",
                                    [scheme_id, standard_id, scope])
    return cursor.rowcount > 0
