"""Tabulation: the one place that turns stored answers into figure cells.

Counts and bases are read from the answers the counting module marked as in
the base (``answers.counted = 1``); nothing here re-decides who counts. A
percentage is :func:`audit.counting.percent` of unrounded counts.

Which cases a dataset contributes is decided once, by :class:`CaseSelection`:
the case statuses asked for (all by default) and never a deleted case. The
cases left out are put in a temporary table that every query excludes.

Columns are datasets with an optional filter, a rule that sees answers as
rules do (current, applicable, answered). Rather than evaluate the filter
case by case, each dataset is aggregated once in SQL, grouped by the answers
its filters read; each distinct combination of those answers is then judged
once with :mod:`audit.rules`, and its counts go to every column it passes.
"""

from __future__ import annotations

import dataclasses
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from audit.counting import percent
from audit.stats import CHI_SQUARE, FISHER, MIN_EXPECTED, Comparison, compare, wilson
from audit.errors import AuditError, did_you_mean
from audit.figures import (
    CASE_STATUSES, DEFAULT_ALPHA, DEFAULT_CONFIDENCE, DEFAULT_HEADERS, QUOTED_ID, QUOTED_TITLE, Column, Dataset, Figure, FigureSection, Quote, Report, Row,
)
from audit.rubric import Question, Rubric
from audit.rules import RuleError
from audit.store import Store, decode
from audit.wording import applies_in_words, quoted, rule_in_words

BASE_NOTE = (
    "The base of a percentage is the cases where the question applies and is answered. It excludes cases "
    "where the question does not apply by rule, \"Not applicable\" answers, unanswered questions, and answers "
    "to questions that stopped applying."
)
STATUS_WORDS = {"in_progress": "in progress", "complete": "complete", "approved": "approved", "returned": "returned"}
#: each test as a figure's notes name it, and as its "Test" column shows it
TEST_WORDS = {CHI_SQUARE: "Pearson's chi-square without continuity correction", FISHER: "Fisher's exact test (two-sided)"}
TEST_SHORT = {CHI_SQUARE: "chi-square", FISHER: "Fisher"}


def confidence_words(level: float) -> str:
    """0.95 -> '95%', 0.975 -> '97.5%'."""
    return f"{level * 100:.10g}%"


@dataclass(frozen=True)
class Cell:
    """One column's numbers for one row. ``base``/``percent`` are None where there is none."""

    count: int
    base: int | None
    percent: int | None
    ci: tuple[float, float] | None = None  # the Wilson interval, as fractions (figures with statistics)

    def part(self, name: str) -> int | None:
        return getattr(self, name)

    @property
    def fraction(self) -> float | None:
        """The unrounded count / base, or None where there is no percentage."""
        return self.count / self.base if self.percent is not None and self.base else None

    def percent_text(self, decimals: int = 0) -> str | None:
        """The percentage as a report prints it, rounded half up from the counts: '29%', '8.3%'."""
        if self.percent is None or not self.base:
            return None
        if decimals == 0:
            return f"{self.percent}%"
        scale = 10 ** (decimals + 2)
        tenths = (2 * scale * self.count + self.base) // (2 * self.base)
        return f"{tenths // 10 ** decimals}.{tenths % 10 ** decimals:0{decimals}d}%"


@dataclass(frozen=True)
class TableRow:
    section: str
    label: str
    cells: tuple[Cell, ...]
    kind: str = "code"  # code, range or total
    in_base: bool = True
    question: str = ""
    codes: tuple[str, ...] = ()
    highlight: bool = False
    chart_label: str | None = None
    dataset: str | None = None  # the row's own dataset (quoted numbers); else each column's
    source: str = ""  # the cases counted, in words (quoted numbers)
    decimals: int = 0  # places of the percentage as the report prints it
    comparison: Comparison | None = None  # the figure's column B against column A (figures with compare)

    @property
    def is_total(self) -> bool:
        return self.kind == "total"

    @property
    def has_percent(self) -> bool:
        """Whether the row carries percentages (not a total, not an option outside the base)."""
        return self.in_base and not self.is_total


@dataclass(frozen=True)
class FigureTable:
    figure: str
    title: str
    heading: str
    columns: tuple[str, ...]
    rows: tuple[TableRow, ...]
    chart: str | None = None
    column_notes: tuple[str, ...] = ()  # which cases each column holds, in words
    show: tuple[str, ...] = ("count", "percent")
    headers: dict[str, str] = field(default_factory=dict)
    note: str | None = None
    sheet_name: str = ""
    column_datasets: tuple[str, ...] = ()
    chart_title: tuple[str, ...] = ()
    highlight_note: str | None = None
    prefixes: dict[str, str] = field(default_factory=dict)  # section title -> "a)"
    applies_notes: tuple[str, ...] = ()  # when each question applies, in words
    column_units: tuple[str, ...] = ()  # what one case of each column is ("case", "respondent")
    ci: bool = False  # each percentage has its Wilson interval (Cell.ci)
    confidence: float = DEFAULT_CONFIDENCE
    compare: tuple[int, int] | None = None  # each row tests column B against column A (TableRow.comparison)
    alpha: float = DEFAULT_ALPHA
    statistics_note: str | None = None

    @property
    def is_chart(self) -> bool:
        return self.chart is not None

    @property
    def compared(self) -> tuple[str, str] | None:
        """The labels of the columns compared (A, B)."""
        return None if self.compare is None else (self.columns[self.compare[0]], self.columns[self.compare[1]])

    @property
    def ci_header(self) -> str:
        return f"{confidence_words(self.confidence)} CI"

    @property
    def significance_header(self) -> str:
        return f"Significant at {confidence_words(self.alpha)}"

    def statistics_notes(self) -> list[str]:
        """What the intervals and tests are, in words, for a figure's notes (none without statistics)."""
        notes = []
        if self.ci:
            notes.append(f"{self.ci_header}: the {confidence_words(self.confidence)} Wilson score interval of each "
                         "percentage, from its unrounded count and base.")
        if self.compared is not None:
            a, b = self.compared
            used = Counter(row.comparison.test for row in self.rows if row.comparison and row.comparison.test)
            tests = "; ".join(f"{TEST_WORDS[test]} in {n} row{'s' if n != 1 else ''}" for test, n in used.items())
            notes.append(
                f"{b} compared with {a}, row by row: the difference in percentage points ({b} minus {a}) and a two-sided "
                f"test of the row's 2×2 table (its count and the rest of the base in each column): {TEST_WORDS[CHI_SQUARE]}, "
                f"or {TEST_WORDS[FISHER]} where an expected count is below {MIN_EXPECTED}. "
                f"Tests used: {tests or 'none (a base is zero)'}. Significant: p below {self.alpha:g}. "
                "Each row is tested on its own, with no adjustment for the number of rows tested.")
        if notes and self.statistics_note:
            notes.append(self.statistics_note)
        return notes

    @property
    def sections(self) -> list[str]:
        return list(dict.fromkeys(row.section for row in self.rows))

    def section_heading(self, section: str) -> str:
        prefix = self.prefixes.get(section)
        return f"{prefix} {section}" if prefix else section

    def header(self, part: str) -> str:
        return self.headers.get(part) or DEFAULT_HEADERS[part]

    @property
    def parts(self) -> tuple[str, ...]:
        """The sub-columns under each column: those the report shows, then the base if it does not."""
        return self.show if "base" in self.show else (*self.show, "base")

    def bases(self, column: int) -> list[int]:
        """The distinct bases of the rows in one column that have a percentage, in row order."""
        found = [row.cells[column].base for row in self.rows if row.in_base and not row.is_total]
        return list(dict.fromkeys(b for b in found if b is not None))

    def base_words(self, column: int) -> str:
        """'59 cases', or '51 to 59 cases' where the rows' bases differ."""
        unit = self.column_units[column] if column < len(self.column_units) else "case"
        bases = self.bases(column)
        if not bases:
            return f"no {unit}s"
        low, high = min(bases), max(bases)
        plural = "" if high == 1 else "s"
        return f"{high:,} {unit}{plural}" if low == high else f"{low:,} to {high:,} {unit}{plural}"


@dataclass(frozen=True)
class CaseSelection:
    """Which cases of one dataset count: the file's live cases per status, the statuses asked for, and
    how many deleted cases were left out."""

    name: str
    label: str
    path: str
    rubric_id: str
    by_status: dict[str, int]
    statuses: tuple[str, ...] | None = None  # None: every status
    deleted: int = 0
    copies: int = 0  # moderation copies (second markings): never in a figure

    @property
    def held(self) -> int:
        return sum(self.by_status.values())

    def counts_status(self, status: str) -> bool:
        return self.statuses is None or status in self.statuses

    @property
    def counted(self) -> int:
        return sum(n for status, n in self.by_status.items() if self.counts_status(status))

    @property
    def in_progress_counted(self) -> int:
        return self.by_status.get("in_progress", 0) if self.counts_status("in_progress") else 0

    @property
    def excludes_any(self) -> bool:
        return self.counted != self.held or self.deleted > 0 or self.copies > 0

    @property
    def reviewed(self) -> str:
        """How many cases a quality lead has reviewed, in words ('' when none)."""
        approved, returned = self.by_status.get("approved", 0), self.by_status.get("returned", 0)
        if not approved + returned:
            return ""
        return f"{approved + returned:,} reviewed ({approved:,} approved, {returned:,} returned)"

    def status_counts(self) -> str:
        known = [s for s in CASE_STATUSES if s in self.by_status] + sorted(set(self.by_status) - set(CASE_STATUSES))
        return ", ".join(f"{self.by_status[s]:,} {STATUS_WORDS.get(s, s)}" for s in known) or "no cases"

    def summary(self, verb: str = "counted") -> str:
        """'60 cases (57 complete, 3 in progress); counted: all 60'."""
        held = f"{self.held:,} case{'s' if self.held != 1 else ''} ({self.status_counts()})"
        if self.statuses is None:
            counted = f"{verb}: all {self.counted:,}"
        else:
            which = " or ".join(STATUS_WORDS.get(s, s) for s in self.statuses)
            counted = f"{verb}: the {self.counted:,} {which}"
        deleted = f"; {self.deleted:,} deleted case{'s' if self.deleted != 1 else ''} left out" if self.deleted else ""
        reviewed = f"; {self.reviewed}" if self.reviewed else ""
        copies = (f"; {self.copies:,} moderation cop{'ies' if self.copies != 1 else 'y'} left out" if self.copies
                  else "")
        return f"{held}; {counted}{reviewed}{deleted}{copies}"

    def warning(self) -> str | None:
        """A line for people when unfinished assessments are counted."""
        n = self.in_progress_counted
        if not n:
            return None
        verb = "is" if n == 1 else "are"
        # an approved case is a finished one too: the advice must not leave reviewed cases out
        finished = "complete,approved" if self.by_status.get("approved") else "complete"
        return (f"{self.name}: {n:,} of the {self.counted:,} cases counted {verb} in progress (not finished); "
                f"use --status {finished} to count finished assessments only")

    def as_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.name, "label": self.label, "file": self.path, "rubric": self.rubric_id,
            "cases_by_status": dict(self.by_status), "deleted_left_out": self.deleted,
            "moderation_copies_left_out": self.copies,
            "reviewed": self.by_status.get("approved", 0) + self.by_status.get("returned", 0),
            "statuses_counted": list(self.statuses) if self.statuses is not None else "all",
            "cases_counted": self.counted, "in_progress_counted": self.in_progress_counted,
        }


@dataclass(frozen=True)
class DatasetRatings:
    """A rating scheme applied to one dataset's counted cases (a figure file's ``ratings:``)."""

    dataset: str
    label: str
    ratings: Any  # audit.ratings.ScopeRatings
    judgements: list = field(default_factory=list)  # audit.ratings.Judgement, as recorded in the database


@dataclass
class ReportTables:
    tables: list[FigureTable]
    warnings: list[str]  # one line per figure skipped, for people
    report: Report | None = None
    skipped: list[str] = field(default_factory=list)  # the ids of those figures
    selections: dict[str, CaseSelection] = field(default_factory=dict)
    quoted: FigureTable | None = None
    ratings: list[DatasetRatings] = field(default_factory=list)

    @property
    def status_warnings(self) -> list[str]:
        return [w for w in (s.warning() for s in self.selections.values()) if w]


# --- which cases count ---------------------------------------------------------------------

_VISIBLE = "a.applies = 1 AND a.state = 'current' AND a.value IS NOT NULL"
_KEYS_TABLE = "audit_filter_keys"
_EXCLUDED_TABLE = "audit_excluded_cases"


def has_deleted_column(store: Store) -> bool:
    """Whether the database records deleted cases (``cases.deleted_at``, schema 2 onwards)."""
    return any(row[1] == "deleted_at" for row in store.db.execute("PRAGMA table_info(cases)"))


def check_statuses(statuses: Iterable[str] | None, what: str = "--status") -> tuple[str, ...] | None:
    """Statuses as given by a user, checked; None (every status) for none given."""
    if statuses is None:
        return None
    picked = tuple(dict.fromkeys(s.strip() for item in statuses for s in item.split(",") if s.strip()))
    if not picked:
        return None
    for status in picked:
        if status not in CASE_STATUSES:
            raise AuditError(f"{what}: '{status}' is not a case status{did_you_mean(status, CASE_STATUSES)}; "
                             f"use {', '.join(CASE_STATUSES)}")
    return picked


def case_selection(store: Store, name: str, label: str, rubric_id: str, statuses: tuple[str, ...] | None) -> CaseSelection:
    schema_2 = has_deleted_column(store)
    deleted_clause = "deleted_at IS NOT NULL" if schema_2 else "0"
    copy_clause = "deleted_at IS NULL AND copy_of IS NOT NULL" if schema_2 else "0"
    by_status: dict[str, int] = {}
    deleted = copies = 0
    for status, is_deleted, is_copy, n in store.db.execute(
            f"SELECT status, {deleted_clause}, {copy_clause}, count(*) FROM cases GROUP BY 1, 2, 3"):
        if is_deleted:
            deleted += n
        elif is_copy:
            copies += n
        else:
            by_status[status] = by_status.get(status, 0) + n
    path = Path(store.path).name if store.path else "memory"
    return CaseSelection(name, label, path, rubric_id, by_status, statuses, deleted, copies)


class _Excluded:
    """The cases a selection leaves out, as a temporary table every query excludes (none: no table)."""

    def __init__(self, store: Store, selection: CaseSelection | None):
        self.conn = store.db.conn
        self.active = selection is not None and selection.excludes_any
        if not self.active:
            return
        clauses, params = [], []
        if selection.statuses is not None:
            clauses.append(f"status NOT IN ({', '.join('?' * len(selection.statuses))})")
            params += list(selection.statuses)
        if has_deleted_column(store):
            clauses.append("deleted_at IS NOT NULL")
            clauses.append("copy_of IS NOT NULL")  # a moderation copy is a second marking, never in a figure
        self.conn.execute(f"DROP TABLE IF EXISTS temp.{_EXCLUDED_TABLE}")
        self.conn.execute(f"CREATE TEMP TABLE {_EXCLUDED_TABLE} (uuid TEXT PRIMARY KEY) WITHOUT ROWID")
        self.conn.execute(f"INSERT INTO temp.{_EXCLUDED_TABLE} SELECT uuid FROM cases WHERE {' OR '.join(clauses)}", params)

    def clause(self, column: str) -> str:
        return f" AND {column} NOT IN (SELECT uuid FROM temp.{_EXCLUDED_TABLE})" if self.active else ""

    def close(self) -> None:
        if self.active:
            self.conn.execute(f"DROP TABLE IF EXISTS temp.{_EXCLUDED_TABLE}")


# --- reading the store ---------------------------------------------------------------------


class _DatasetCounts:
    """One dataset's counted (and, where asked, visible) answers and its cases, summed per column filter."""

    def __init__(self, store: Store, columns: list[Column], counted: set[str], visible: set[str],
                 selection: CaseSelection | None, with_cases: bool):
        self.filter_names = sorted({name for c in columns if c.rule is not None for name in c.rule.names})
        excluded = _Excluded(store, selection)
        conn = store.db.conn
        try:
            keys = self._make_keys(conn, excluded)
            self.counted_rows = self._answers(conn, sorted(counted), keys, "a.counted = 1" + excluded.clause("a.case_uuid"))
            self.visible_rows = self._answers(conn, sorted(visible), keys, _VISIBLE + excluded.clause("a.case_uuid"))
            self.case_rows = self._cases(conn, keys, excluded) if with_cases else []
            # a count never reads a value the tool could not have written (a file altered outside it is refused)
            store.check_values(
                {(qid, value) for rows in (self.counted_rows, self.visible_rows) for _, qid, value, _ in rows}
                | {(name, v) for rows in (self.counted_rows, self.visible_rows) for key, _, _, _ in rows
                   for name, v in zip(self.filter_names, key) if v is not None}
            )
        finally:
            if self.filter_names:
                conn.execute(f"DROP TABLE IF EXISTS temp.{_KEYS_TABLE}")
            excluded.close()
        self._passes: dict[tuple[str | None, tuple], bool] = {}
        self._columns: dict[str | None, tuple[dict, dict, Counter]] = {}

    def _make_keys(self, conn, excluded: _Excluded) -> str:
        """A temporary table of each case's visible answers to the filters' questions; '' with no filters."""
        if not self.filter_names:
            return ""
        key_columns = [f"k{i}" for i in range(len(self.filter_names))]
        picks = ", ".join("max(CASE WHEN a.question_id = ? THEN a.value END)" for _ in self.filter_names)
        name_marks = ", ".join("?" * len(self.filter_names))
        conn.execute(f"DROP TABLE IF EXISTS temp.{_KEYS_TABLE}")
        conn.execute(f"CREATE TEMP TABLE {_KEYS_TABLE} (case_uuid TEXT PRIMARY KEY, {', '.join(key_columns)}) WITHOUT ROWID")
        conn.execute(
            f"INSERT INTO temp.{_KEYS_TABLE} SELECT a.case_uuid, {picks} FROM answers a "
            f"WHERE a.question_id IN ({name_marks}) AND {_VISIBLE}{excluded.clause('a.case_uuid')} GROUP BY a.case_uuid",
            [*self.filter_names, *self.filter_names],
        )
        return ", ".join(f"k.{c}" for c in key_columns)

    def _answers(self, conn, questions: list[str], keys: str, condition: str) -> list[tuple]:
        """(filter key, question id, value JSON, cases) for answers meeting ``condition``."""
        if not questions:
            return []
        marks = ", ".join("?" * len(questions))
        if not keys:
            sql = (f"SELECT a.question_id, a.value, count(*) FROM answers a "
                   f"WHERE a.question_id IN ({marks}) AND {condition} GROUP BY a.question_id, a.value")
            return [((), qid, value, n) for qid, value, n in conn.execute(sql, questions)]
        width = len(self.filter_names)
        sql = (f"SELECT {keys}, a.question_id, a.value, count(*) FROM answers a "
               f"LEFT JOIN temp.{_KEYS_TABLE} k ON k.case_uuid = a.case_uuid "
               f"WHERE a.question_id IN ({marks}) AND {condition} GROUP BY {keys}, a.question_id, a.value")
        return [(tuple(r[:width]), r[width], r[width + 1], r[width + 2]) for r in conn.execute(sql, questions)]

    def _cases(self, conn, keys: str, excluded: _Excluded) -> list[tuple]:
        """(filter key, site, cases) for the selected cases."""
        if not keys:
            sql = f"SELECT c.site, count(*) FROM cases c WHERE 1{excluded.clause('c.uuid')} GROUP BY c.site"
            return [((), site, n) for site, n in conn.execute(sql)]
        width = len(self.filter_names)
        sql = (f"SELECT {keys}, c.site, count(*) FROM cases c LEFT JOIN temp.{_KEYS_TABLE} k ON k.case_uuid = c.uuid "
               f"WHERE 1{excluded.clause('c.uuid')} GROUP BY {keys}, c.site")
        return [(tuple(r[:width]), r[width], r[width + 1]) for r in conn.execute(sql)]

    def _passes_filter(self, column: Column, key: tuple) -> bool:
        if column.rule is None:
            return True
        cache_key = (column.where, key)
        if cache_key not in self._passes:
            values = {name: decode(v) for name, v in zip(self.filter_names, key) if v is not None}
            self._passes[cache_key] = column.rule.evaluate(values) is True  # unknown excludes the case
        return self._passes[cache_key]

    def for_column(self, column: Column) -> tuple[dict[str, Counter], dict[str, Counter], Counter]:
        """(counted, visible, sites): question id -> Counter of value JSON -> cases, and cases per site,
        for this column's cases."""
        if column.where not in self._columns:
            sums = []
            for rows in (self.counted_rows, self.visible_rows):
                by_question: dict[str, Counter] = defaultdict(Counter)
                for key, qid, value, n in rows:
                    if self._passes_filter(column, key):
                        by_question[qid][value] += n
                sums.append(by_question)
            sites: Counter = Counter()
            for key, site, n in self.case_rows:
                if self._passes_filter(column, key):
                    sites[site] += n
            self._columns[column.where] = (sums[0], sums[1], sites)
        return self._columns[column.where]


_decoded: dict[str, Any] = {}


def _value(text: str) -> Any:
    if text not in _decoded:
        if len(_decoded) > 100_000:
            _decoded.clear()
        _decoded[text] = decode(text)
    return _decoded[text]


def _matches(row: Row, value: Any) -> bool:
    if row.kind == "range":
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return False
        return (row.low is None or value >= row.low) and (row.high is None or value <= row.high)
    if isinstance(value, list):
        return any(code in value for code in row.codes)
    return value in row.codes


def _cell(row: Row, counted: Counter, visible: Counter) -> Cell:
    base = sum(counted.values())
    if row.kind == "total":
        return Cell(base, base, None)
    if not row.in_base:  # e.g. "Not applicable": a count, outside every base
        return Cell(sum(n for v, n in visible.items() if _matches(row, _value(v))), None, None)
    count = sum(n for v, n in counted.items() if _matches(row, _value(v)))
    return Cell(count, base, percent(count, base))


def _quote_cell(quote: Quote, counted: dict[str, Counter], visible: dict[str, Counter], sites: Counter) -> Cell:
    cases = sum(sites.values())
    if quote.kind == "cases":
        return Cell(cases, None, None)
    if quote.kind == "sites":
        found = sum(1 for n in sites.values() if n)
        return Cell(found, quote.out_of, percent(found, quote.out_of) if quote.out_of else None)
    answers = counted.get(quote.row.question, Counter())
    if quote.kind == "answered":
        answered = sum(answers.values())
        return Cell(answered, cases, percent(answered, cases))
    return _cell(quote.row, answers, visible.get(quote.row.question, Counter()))


# --- words ---------------------------------------------------------------------------------


def column_in_words(column: Column, dataset: Dataset) -> str:
    """'cases in <dataset label> whose answer to “…” is Yes'."""
    cases = f"cases in {dataset.label}"
    return f"{cases} where {rule_in_words(column.where, dataset.rubric)}" if column.where else cases


def applicability_notes(figure: Figure, datasets: dict[str, Dataset]) -> tuple[str, ...]:
    """One line per question of the figure that does not always apply: when it does, in words."""
    notes = []
    for name in figure.datasets:
        rubric = datasets[name].rubric
        for qid in dict.fromkeys(row.question for section in figure.sections for row in section.rows):
            words = applies_in_words(rubric, qid)
            if words:
                note = f"{quoted(rubric.question(qid).text)} is asked only where {words}."
                if note not in notes:
                    notes.append(note)
    return tuple(notes)


# --- figures -------------------------------------------------------------------------------


def check_dataset(store: Store, dataset: Dataset) -> None:
    """Refuse a database whose cases are of another rubric than the dataset expects."""
    found = [r[0] for r in store.db.execute("SELECT DISTINCT rubric_id FROM cases ORDER BY rubric_id")]
    wrong = [rubric_id for rubric_id in found if rubric_id != dataset.rubric_id]
    if wrong:
        raise AuditError(
            f"{store.path or 'database'}: holds cases of rubric '{', '.join(wrong)}', but dataset '{dataset.name}' "
            f"is rubric '{dataset.rubric_id}'; give a database of {dataset.rubric_id} cases for '{dataset.name}'"
        )


def _counts(figures: list[Figure], quotes: list[Quote], stores: dict[str, Store],
            selections: dict[str, CaseSelection]) -> dict[str, _DatasetCounts]:
    counted: dict[str, set[str]] = defaultdict(set)
    visible: dict[str, set[str]] = defaultdict(set)
    columns: dict[str, list[Column]] = defaultdict(list)
    with_cases: set[str] = set()
    for figure in figures:
        for column in figure.columns:
            columns[column.dataset].append(column)
            for section in figure.sections:
                for row in section.rows:
                    (counted if row.in_base else visible)[column.dataset].add(row.question)
    for quote in quotes:
        name = quote.column.dataset
        columns[name].append(quote.column)
        with_cases.add(name)
        if quote.row is not None:
            (counted if quote.row.in_base else visible)[name].add(quote.row.question)
    return {
        name: _DatasetCounts(stores[name], columns[name], counted[name], visible[name], selections.get(name), name in with_cases)
        for name in columns
    }


def with_statistics(table: FigureTable, *, ci: bool, confidence: float = DEFAULT_CONFIDENCE,
                    compare_columns: tuple[int, int] | None = None, alpha: float = DEFAULT_ALPHA) -> FigureTable:
    """The table with a Wilson interval on every percentage (``ci``) and, with ``compare_columns`` (A, B),
    each row's test of column B against column A (:func:`audit.stats.compare`), from the unrounded counts."""
    if not ci and compare_columns is None:
        return table
    rows = []
    for row in table.rows:
        if not row.has_percent:
            rows.append(row)
            continue
        cells = row.cells
        if ci:
            cells = tuple(dataclasses.replace(c, ci=wilson(c.count, c.base, confidence)) if c.base else c for c in cells)
        comparison = None
        if compare_columns is not None:
            a, b = (cells[i] for i in compare_columns)
            comparison = compare(a.count, a.base or 0, b.count, b.base or 0, alpha)
        rows.append(dataclasses.replace(row, cells=cells, comparison=comparison))
    return dataclasses.replace(table, rows=tuple(rows), ci=ci, confidence=confidence, compare=compare_columns, alpha=alpha)


def _figure_table(figure: Figure, counts: dict[str, _DatasetCounts], datasets: dict[str, Dataset],
                  ci: bool = False) -> FigureTable:
    per_column = [counts[c.dataset].for_column(c) for c in figure.columns]
    rows = []
    for section in figure.sections:
        for row in section.rows:
            cells = tuple(_cell(row, c.get(row.question, Counter()), v.get(row.question, Counter())) for c, v, _ in per_column)
            rows.append(TableRow(section.title, row.label, cells, row.kind, row.in_base, row.question, row.codes,
                                 row.highlight, row.chart_label))
    table = FigureTable(
        figure=figure.id, title=figure.title, heading=figure.heading,
        columns=tuple(c.label for c in figure.columns), rows=tuple(rows), chart=figure.chart,
        column_notes=tuple(column_in_words(c, datasets[c.dataset]) for c in figure.columns), show=tuple(figure.show),
        headers=dict(figure.headers), note=figure.note, sheet_name=figure.sheet_name,
        column_datasets=tuple(c.dataset for c in figure.columns), chart_title=tuple(figure.chart_title),
        highlight_note=figure.highlight_note, prefixes={s.title: s.prefix for s in figure.sections if s.prefix},
        applies_notes=applicability_notes(figure, datasets), column_units=tuple(datasets[c.dataset].unit for c in figure.columns),
    )
    table = dataclasses.replace(table, statistics_note=figure.statistics_note)
    return with_statistics(table, ci=ci or figure.ci, confidence=figure.confidence, compare_columns=figure.compare,
                           alpha=figure.alpha)


def _quoted_table(quotes: list[Quote], counts: dict[str, _DatasetCounts], datasets: dict[str, Dataset],
                  note: str | None) -> FigureTable:
    rows = []
    for quote in quotes:
        counted, visible, sites = counts[quote.column.dataset].for_column(quote.column)
        cell = _quote_cell(quote, counted, visible, sites)
        row = quote.row
        source = column_in_words(quote.column, datasets[quote.column.dataset])
        if quote.kind == "sites":
            source = f"sites of the {source}" + (f", out of {quote.out_of:,}" if quote.out_of else "")
        elif quote.kind == "answered":
            source = f"{source}: those who answered {quoted(datasets[quote.column.dataset].rubric.question(row.question).text)}"
        rows.append(TableRow(
            section=quote.chapter, label=quote.text, cells=(cell,), kind="code" if quote.kind == "row" else quote.kind,
            in_base=cell.percent is not None or (row is not None and row.in_base), question=row.question if row else "",
            codes=row.codes if row else (), dataset=quote.column.dataset, source=source, decimals=quote.decimals,
        ))
    return FigureTable(
        figure=QUOTED_ID, title=QUOTED_TITLE, heading=QUOTED_TITLE, columns=("",), rows=tuple(rows),
        note=" ".join(filter(None, ["Each number the report quotes in its text, counted from the data as the figures are.", note])),
        sheet_name=QUOTED_TITLE, column_datasets=("",),
    )


def tabulate_report(report: Report, stores: dict[str, Store], statuses: Iterable[str] | None = None, *,
                    ci: bool = False) -> ReportTables:
    """Every figure whose datasets are given; the others are skipped with one warning each.

    ``stores`` maps dataset names (as the report names them) to open stores.
    ``statuses`` (e.g. ``["complete"]``) counts only cases of those statuses in
    every dataset, in place of each dataset's own ``status``; by default a
    dataset counts every status its figure file allows. Deleted cases never count.
    ``ci`` puts a Wilson interval beside every percentage, as ``ci: true`` does for one
    figure; a figure's ``compare`` always gives its tests.
    Raises :class:`AuditError` for a store of the wrong rubric or an unknown name.
    """
    unknown = [name for name in stores if name not in report.datasets]
    if unknown:
        raise AuditError(
            f"dataset '{unknown[0]}' is not in figure tables '{report.id}'{did_you_mean(unknown[0], report.datasets)}; "
            f"its datasets are {', '.join(report.datasets)}"
        )
    chosen = check_statuses(statuses)
    selections = {}
    for name, store in stores.items():
        dataset = report.datasets[name]
        check_dataset(store, dataset)
        wanted = chosen if chosen is not None else dataset.statuses
        selections[name] = case_selection(store, name, dataset.label, dataset.rubric_id, wanted)
    figures, warnings, skipped = [], [], []
    for figure in report.figures:
        missing = [name for name in figure.datasets if name not in stores]
        if missing:
            warnings.append(
                f"figure {figure.id} skipped: dataset '{missing[0]}' was not given (add --data {missing[0]}=DB)"
            )
            skipped.append(figure.id)
        else:
            figures.append(figure)
    quotes = [q for q in report.quoted if q.column.dataset in stores]
    left_out = Counter(q.column.dataset for q in report.quoted if q.column.dataset not in stores)
    for name, n in left_out.items():
        warnings.append(f"{n} number{'s' if n != 1 else ''} quoted in the text skipped: dataset '{name}' was not given "
                        f"(add --data {name}=DB)")
    scheme = None
    if report.ratings:
        from audit.ratings import load_scheme

        scheme = load_scheme(report.ratings_path())
    rated = {name: _yes_figure(name, scheme.key_questions) for name in stores
             if scheme is not None and report.datasets[name].rubric_id == scheme.rubric}
    counts = _counts([*figures, *rated.values()], quotes, stores, selections)  # one pass reads the key questions too
    tables = [_figure_table(figure, counts, report.datasets, ci) for figure in figures]
    quoted_table = _quoted_table(quotes, counts, report.datasets, report.quoted_note) if quotes else None
    ratings = [_dataset_ratings(scheme, report.datasets[name], stores[name], selections[name],
                                _figure_table(figure, counts, report.datasets)) for name, figure in rated.items()]
    return ReportTables(tables=tables, warnings=warnings, report=report, skipped=skipped, selections=selections,
                        quoted=quoted_table, ratings=ratings)


def _yes_figure(dataset: str, question_ids: Iterable[str]) -> Figure:
    """A one-column figure counting "yes" to each question: a rating scheme's key questions, counted as figures are."""
    rows = [Row(kind="code", question=q, label=q, codes=("yes",)) for q in question_ids]
    return Figure(id="counts", title="", columns=[Column(label="", dataset=dataset)], show=["count"], headers={},
                  sections=[FigureSection(title="", rows=rows)])


def _dataset_ratings(scheme, dataset: Dataset, store: Store, selection: CaseSelection, table: FigureTable) -> DatasetRatings:
    """The figure file's rating scheme applied to one dataset: the same cases as the figures count (statuses,
    no deleted cases, no moderation copies), and the judgements its database records for all cases."""
    from audit.ratings import rate_counts, stored_judgements

    counts = {row.question: (row.cells[0].count, row.cells[0].base or 0) for row in table.rows}
    recorded = [j for j in stored_judgements(store, scheme) if j.scope == ""]
    rated = rate_counts(scheme, counts, scope="all cases", cases=selection.counted,
                        judgements={j.standard_id: j.rating for j in recorded})
    return DatasetRatings(dataset.name, dataset.label, rated, recorded)


TIDY_FIELDS = ("figure", "title", "section", "row", "column", "count", "base", "percent",
               "dataset", "question_id", "option_code", "fraction", "ci_low", "ci_high", "p_value", "significant")


def yes_no(flag: bool | None) -> str | None:
    return None if flag is None else ("yes" if flag else "no")


def cell_statistics(table: FigureTable, row: TableRow, column: int) -> dict[str, Any]:
    """A cell's ``ci_low``, ``ci_high``, ``p_value`` and ``significant`` (None where they do not apply):
    the interval on every percentage of a figure with intervals; the test on column B of a compared row."""
    cell = row.cells[column]
    tested = row.comparison if table.compare is not None and column == table.compare[1] else None
    return {
        "ci_low": cell.ci[0] if cell.ci else None, "ci_high": cell.ci[1] if cell.ci else None,
        "p_value": tested.p_value if tested else None, "significant": yes_no(tested.significant) if tested else None,
    }


def tidy_rows(tables: Iterable[FigureTable]) -> list[dict[str, Any]]:
    """One dict per cell, keys :data:`TIDY_FIELDS` (the CSV contract)."""
    out = []
    for table in tables:
        datasets = table.column_datasets or ("",) * len(table.columns)
        for row in table.rows:
            for index, (column, dataset, cell) in enumerate(zip(table.columns, datasets, row.cells)):
                out.append({
                    "figure": table.figure, "title": table.title, "section": row.section, "row": row.label,
                    "column": column, "count": cell.count, "base": cell.base, "percent": cell.percent,
                    "dataset": row.dataset or dataset, "question_id": row.question,
                    "option_code": ";".join(row.codes), "fraction": cell.fraction,
                    **cell_statistics(table, row, index),
                })
    return out


def all_tables(result: ReportTables) -> list[FigureTable]:
    """The figure tables, then the numbers quoted in the text (if any)."""
    return [*result.tables, *([result.quoted] if result.quoted else [])]


# --- one question, ad hoc ------------------------------------------------------------------


def store_rubric(store: Store) -> Rubric:
    """The rubric of a store's cases (its newest version); refuses an empty or mixed store."""
    rows = store.db.execute(
        "SELECT c.rubric_id, c.rubric_sha256, max(r.added_at) FROM cases c JOIN rubrics r ON r.sha256 = c.rubric_sha256 "
        "GROUP BY c.rubric_id, c.rubric_sha256 ORDER BY max(r.added_at) DESC"
    ).fetchall()
    if not rows:
        raise AuditError(f"{store.path or 'database'}: has no cases yet; nothing to tabulate")
    ids = sorted({r[0] for r in rows})
    if len(ids) > 1:
        raise AuditError(f"{store.path or 'database'}: holds cases of several rubrics ({', '.join(ids)}); tabulate one rubric's database")
    return store.rubric(rows[0][1])


def _question(rubric: Rubric, question_id: str, what: str) -> Question:
    if not rubric.has_question(question_id):
        raise AuditError(
            f"{what}: no question '{question_id}' in rubric {rubric.id}{did_you_mean(question_id, rubric.question_ids)}; "
            f"see `audit rubric show {rubric.id}`"
        )
    return rubric.question(question_id)


def _column(label: str, source: str | None, rubric: Rubric, what: str) -> Column:
    try:
        return Column.filtered(label, "data", source, rubric)
    except (RuleError, ValueError) as exc:
        raise AuditError(f"{what}: {exc}") from None


def tabulate_question(store: Store, question_id: str, by: str | None = None, where: str | None = None,
                      statuses: Iterable[str] | None = None, *, ci: bool = False,
                      confidence: float = DEFAULT_CONFIDENCE) -> FigureTable:
    """Counts, bases and percentages of one question; with ``by``, one column per option of ``by``.

    The first column is every case (passing ``where``); rows are the question's
    options (those that never count show a count only), or its distinct
    numbers for an integer question. ``statuses`` counts only cases of those statuses.
    ``ci`` adds each percentage's Wilson interval at ``confidence``.
    """
    chosen = check_statuses(statuses)
    rubric = store_rubric(store)
    question = _question(rubric, question_id, "QUESTION")
    if question.type in ("text", "date"):
        raise AuditError(f"QUESTION: '{question_id}' is a {question.type} question; only choice and integer answers are tabulated")
    columns = [_column("All cases", where, rubric, "--where")]
    if by is not None:
        by_question = _question(rubric, by, "--by")
        if not by_question.is_choice:
            raise AuditError(f"--by: '{by}' is {by_question.type}; --by needs a choice question")
        if by == question_id:
            raise AuditError("--by: choose a question other than the one tabulated")
        for code in by_question.option_codes:
            test = f'"{code}" in {by}' if by_question.type == "multi" else f'{by} == "{code}"'
            label = f"{by}: {by_question.label_for(code)}"
            columns.append(_column(label, f"({where}) and {test}" if where else test, rubric, "--by"))
    selection = case_selection(store, "data", store.path or "database", rubric.id, chosen)
    if question.is_choice:
        rows = [Row(kind="code", question=question_id, label=question.label_for(code), codes=(code,), in_base=question.counts(code))
                for code in question.option_codes]
    else:
        excluded = _Excluded(store, selection)
        try:
            values = sorted(r[0] for r in store.db.execute(
                "SELECT DISTINCT json_extract(a.value, '$') FROM answers a WHERE a.question_id = ? AND a.counted = 1"
                + excluded.clause("a.case_uuid"), [question_id]))
        finally:
            excluded.close()
        rows = [Row(kind="range", question=question_id, label=str(v), low=v, high=v) for v in values if isinstance(v, int)]
    rows.append(Row(kind="total", question=question_id, label="Total"))
    figure = Figure(id=question_id, title=question.text, columns=columns, show=["count", "percent"], headers={},
                    sections=[FigureSection(title="", rows=rows)], ci=ci, confidence=confidence)
    dataset = Dataset(name="data", rubric_id=rubric.id, label=store.path or "database", rubric=rubric)
    counts = _counts([figure], [], {"data": store}, {"data": selection})
    table = _figure_table(figure, counts, {"data": dataset})
    if not question.is_choice:  # numbers no case in these columns gave are left out
        rows = tuple(r for r in table.rows if r.is_total or any(c.count for c in r.cells))
        table = dataclasses.replace(table, rows=rows)
    return table
