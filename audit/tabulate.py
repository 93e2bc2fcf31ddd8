"""Tabulation: the one place that turns stored answers into figure cells.

Counts and bases are read from the answers the counting module marked as in
the base (``answers.counted = 1``); nothing here re-decides who counts. A
percentage is :func:`audit.counting.percent` of unrounded counts.

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
from typing import Any, Iterable

from audit.counting import percent
from audit.errors import AuditError, did_you_mean
from audit.figures import DEFAULT_HEADERS, Column, Dataset, Figure, FigureSection, Report, Row
from audit.rubric import Question, Rubric
from audit.rules import RuleError, parse_rule
from audit.store import Store, decode

BASE_NOTE = (
    "The base of a percentage is the cases where the question applies and is answered. It excludes cases "
    "where the question does not apply by rule, \"Not applicable\" answers, unanswered questions, and answers "
    "to questions that stopped applying."
)


@dataclass(frozen=True)
class Cell:
    """One column's numbers for one row. ``base``/``percent`` are None where there is none."""

    count: int
    base: int | None
    percent: int | None

    def part(self, name: str) -> int | None:
        return getattr(self, name)


@dataclass(frozen=True)
class TableRow:
    section: str
    label: str
    cells: tuple[Cell, ...]
    kind: str = "code"  # code, range or total
    in_base: bool = True

    @property
    def is_total(self) -> bool:
        return self.kind == "total"


@dataclass(frozen=True)
class FigureTable:
    figure: str
    title: str
    heading: str
    columns: tuple[str, ...]
    rows: tuple[TableRow, ...]
    chart: str | None = None
    column_notes: tuple[str, ...] = ()  # which cases each column holds
    show: tuple[str, ...] = ("count", "percent")
    headers: dict[str, str] = field(default_factory=dict)
    note: str | None = None
    sheet_name: str = ""

    @property
    def is_chart(self) -> bool:
        return self.chart is not None

    @property
    def sections(self) -> list[str]:
        return list(dict.fromkeys(row.section for row in self.rows))

    def header(self, part: str) -> str:
        return self.headers.get(part) or DEFAULT_HEADERS[part]

    @property
    def parts(self) -> tuple[str, ...]:
        """The sub-columns under each column: those the report shows, then the base if it does not."""
        return self.show if "base" in self.show else (*self.show, "base")


@dataclass
class ReportTables:
    tables: list[FigureTable]
    warnings: list[str]  # one line per figure skipped, for people
    report: Report | None = None
    skipped: list[str] = field(default_factory=list)  # the ids of those figures


# --- reading the store ---------------------------------------------------------------------

_VISIBLE = "a.applies = 1 AND a.state = 'current' AND a.value IS NOT NULL"
_KEYS_TABLE = "audit_filter_keys"


def _aggregate(store: Store, questions: list[str], filter_names: list[str], condition: str) -> list[tuple]:
    """(filter key, question id, value JSON, cases) for answers meeting ``condition``.

    The filter key is the tuple of the case's visible answers (JSON or None) to
    ``filter_names``; with no filter names it is ``()``.
    """
    if not questions:
        return []
    conn = store.db.conn
    marks = ", ".join("?" * len(questions))
    if not filter_names:
        sql = (f"SELECT a.question_id, a.value, count(*) FROM answers a "
               f"WHERE a.question_id IN ({marks}) AND {condition} GROUP BY a.question_id, a.value")
        return [((), qid, value, n) for qid, value, n in conn.execute(sql, questions)]
    key_columns = [f"k{i}" for i in range(len(filter_names))]
    picks = ", ".join("max(CASE WHEN a.question_id = ? THEN a.value END)" for _ in filter_names)
    name_marks = ", ".join("?" * len(filter_names))
    conn.execute(f"DROP TABLE IF EXISTS temp.{_KEYS_TABLE}")
    conn.execute(f"CREATE TEMP TABLE {_KEYS_TABLE} (case_uuid TEXT PRIMARY KEY, {', '.join(key_columns)}) WITHOUT ROWID")
    try:
        conn.execute(
            f"INSERT INTO temp.{_KEYS_TABLE} SELECT a.case_uuid, {picks} FROM answers a "
            f"WHERE a.question_id IN ({name_marks}) AND {_VISIBLE} GROUP BY a.case_uuid",
            [*filter_names, *filter_names],
        )
        keys = ", ".join(f"k.{c}" for c in key_columns)
        sql = (f"SELECT {keys}, a.question_id, a.value, count(*) FROM answers a "
               f"LEFT JOIN temp.{_KEYS_TABLE} k ON k.case_uuid = a.case_uuid "
               f"WHERE a.question_id IN ({marks}) AND {condition} GROUP BY {keys}, a.question_id, a.value")
        width = len(key_columns)
        return [(tuple(r[:width]), r[width], r[width + 1], r[width + 2]) for r in conn.execute(sql, questions)]
    finally:
        conn.execute(f"DROP TABLE IF EXISTS temp.{_KEYS_TABLE}")


class _DatasetCounts:
    """One dataset's counted (and, where asked, visible) answers, summed per column filter."""

    def __init__(self, store: Store, columns: list[Column], counted: set[str], visible: set[str]):
        self.filter_names = sorted({name for c in columns if c.rule is not None for name in c.rule.names})
        self.counted_rows = _aggregate(store, sorted(counted), self.filter_names, "a.counted = 1")
        self.visible_rows = _aggregate(store, sorted(visible), self.filter_names, _VISIBLE)
        store.check_values(
            {(qid, value) for rows in (self.counted_rows, self.visible_rows) for _, qid, value, _ in rows}
            | {(name, v) for rows in (self.counted_rows, self.visible_rows) for key, _, _, _ in rows
               for name, v in zip(self.filter_names, key) if v is not None}
        )
        self._passes: dict[tuple[str | None, tuple], bool] = {}
        self._columns: dict[str | None, tuple[dict, dict]] = {}

    def _passes_filter(self, column: Column, key: tuple) -> bool:
        if column.rule is None:
            return True
        cache_key = (column.where, key)
        if cache_key not in self._passes:
            values = {name: decode(v) for name, v in zip(self.filter_names, key) if v is not None}
            self._passes[cache_key] = column.rule.evaluate(values) is True  # unknown excludes the case
        return self._passes[cache_key]

    def for_column(self, column: Column) -> tuple[dict[str, Counter], dict[str, Counter]]:
        """(counted, visible): question id -> Counter of value JSON -> cases, for this column's cases."""
        if column.where not in self._columns:
            sums = []
            for rows in (self.counted_rows, self.visible_rows):
                by_question: dict[str, Counter] = defaultdict(Counter)
                for key, qid, value, n in rows:
                    if self._passes_filter(column, key):
                        by_question[qid][value] += n
                sums.append(by_question)
            self._columns[column.where] = (sums[0], sums[1])
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


def _tabulate(figures: list[Figure], datasets: dict[str, Dataset], stores: dict[str, Store],
              describe) -> list[FigureTable]:
    counted: dict[str, set[str]] = defaultdict(set)
    visible: dict[str, set[str]] = defaultdict(set)
    columns: dict[str, list[Column]] = defaultdict(list)
    for figure in figures:
        for column in figure.columns:
            columns[column.dataset].append(column)
            for section in figure.sections:
                for row in section.rows:
                    (counted if row.in_base else visible)[column.dataset].add(row.question)
    counts = {
        name: _DatasetCounts(stores[name], columns[name], counted[name], visible[name]) for name in columns
    }
    tables = []
    for figure in figures:
        per_column = [counts[c.dataset].for_column(c) for c in figure.columns]
        rows = []
        for section in figure.sections:
            for row in section.rows:
                cells = tuple(_cell(row, c.get(row.question, Counter()), v.get(row.question, Counter())) for c, v in per_column)
                rows.append(TableRow(section.title, row.label, cells, row.kind, row.in_base))
        tables.append(
            FigureTable(
                figure=figure.id, title=figure.title, heading=figure.heading,
                columns=tuple(c.label for c in figure.columns), rows=tuple(rows), chart=figure.chart,
                column_notes=tuple(describe(c) for c in figure.columns), show=tuple(figure.show),
                headers=dict(figure.headers), note=figure.note, sheet_name=figure.sheet_name,
            )
        )
    return tables


def tabulate_report(report: Report, stores: dict[str, Store]) -> ReportTables:
    """Every figure whose datasets are given; the others are skipped with one warning each.

    ``stores`` maps dataset names (as the report names them) to open stores.
    Raises :class:`AuditError` for a store of the wrong rubric or an unknown name.
    """
    unknown = [name for name in stores if name not in report.datasets]
    if unknown:
        raise AuditError(
            f"dataset '{unknown[0]}' is not in figure tables '{report.id}'{did_you_mean(unknown[0], report.datasets)}; "
            f"its datasets are {', '.join(report.datasets)}"
        )
    for name, store in stores.items():
        check_dataset(store, report.datasets[name])
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
    tables = _tabulate(figures, report.datasets, stores, lambda column: column.describe(report))
    return ReportTables(tables=tables, warnings=warnings, report=report, skipped=skipped)


def tidy_rows(tables: Iterable[FigureTable]) -> list[dict[str, Any]]:
    """One dict per cell: figure, title, section, row, column, count, base, percent (the CSV contract)."""
    out = []
    for table in tables:
        for row in table.rows:
            for column, cell in zip(table.columns, row.cells):
                out.append({
                    "figure": table.figure, "title": table.title, "section": row.section, "row": row.label,
                    "column": column, "count": cell.count, "base": cell.base, "percent": cell.percent,
                })
    return out


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
    column = Column(label=label, dataset="data", where=source)
    if source is not None:
        try:
            rule = parse_rule(source)
        except RuleError as exc:
            raise AuditError(f"{what}: {exc}") from None
        messages = rubric.check_rule(rule)
        if messages:
            raise AuditError(f"{what}: {messages[0]}")
        column._rule = rule
    return column


def tabulate_question(store: Store, question_id: str, by: str | None = None, where: str | None = None) -> FigureTable:
    """Counts, bases and percentages of one question; with ``by``, one column per option of ``by``.

    The first column is every case (passing ``where``); rows are the question's
    options (those that never count show a count only), or its distinct
    numbers for an integer question.
    """
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
    if question.is_choice:
        rows = [Row(kind="code", question=question_id, label=question.label_for(code), codes=(code,), in_base=question.counts(code))
                for code in question.option_codes]
    else:
        values = sorted(r[0] for r in store.db.execute(
            "SELECT DISTINCT json_extract(value, '$') FROM answers WHERE question_id = ? AND counted = 1", [question_id]))
        rows = [Row(kind="range", question=question_id, label=str(v), low=v, high=v) for v in values if isinstance(v, int)]
    rows.append(Row(kind="total", question=question_id, label="Total"))
    figure = Figure(id=question_id, title=question.text, columns=columns, show=["count", "percent"], headers={},
                    sections=[FigureSection(title="", rows=rows)])
    dataset = Dataset(name="data", rubric_id=rubric.id, label=store.path or "database")
    dataset._rubric = rubric
    describe = lambda column: f"cases where {column.where}" if column.where else "all cases"  # noqa: E731
    table = _tabulate([figure], {"data": dataset}, {"data": store}, describe)[0]
    if not question.is_choice:  # numbers no case in these columns gave are left out
        rows = tuple(r for r in table.rows if r.is_total or any(c.count for c in r.cells))
        table = dataclasses.replace(table, rows=rows)
    return table
