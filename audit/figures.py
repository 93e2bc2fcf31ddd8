"""Figure-table definitions: which tables a report prints, loaded from YAML.

See ``docs/figure-format.md`` for the format. A definition names datasets
(each a rubric id, optionally the case statuses that count and labels for
site codes), figures whose columns are datasets with an optional filter (a
rule) and whose rows count options, groups of codes, bands of an integer
question or a total, and the numbers the report quotes in its text. Loading
checks every question, code and filter against the datasets' rubrics and
reports every problem at once, each as ``file:line: figure 'id': message``.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from audit.errors import Problem, Problems, did_you_mean
from audit.rubric import RUBRIC_ID_PATTERN, Question, Rubric, find_rubric, load_rubric, search_path
from audit.rules import Rule, RuleError, parse_rule
from audit.yamlsource import Loc, YamlDocument, parse_yaml, read_yaml, validation_message

CellPart = Literal["count", "percent", "base"]
CELL_PARTS: tuple[str, ...] = CellPart.__args__  # type: ignore[attr-defined]
DEFAULT_HEADERS = {"count": "Number", "percent": "Percentage", "base": "Base"}
DATASET_NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
FIGURE_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9.\-]*$"
#: the case statuses a dataset may count (PROTOCOL.md); approved and returned come with quality review
CASE_STATUSES = ("in_progress", "complete", "approved", "returned")
#: a chart's title is the figure number and a short title, on at most this many lines of this width
CHART_TITLE_WIDTH = 56
CHART_TITLE_LINES = 2
#: the id and title of the table of numbers the report quotes in its text
QUOTED_ID = "Q"
QUOTED_TITLE = "Quoted in the text"
#: statistics beside the percentages (docs/statistics.md): the Wilson interval's confidence, a comparison's alpha
DEFAULT_CONFIDENCE = 0.95
DEFAULT_ALPHA = 0.05


# --- the YAML as written: validated key by key ---------------------------------------------


def _code(value: Any) -> Any:
    """An option code as written: YAML reads unquoted yes/no as true/false, which mean the codes."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return str(value)
    return value


def _codes(value: Any) -> Any:
    return [_code(v) for v in value] if isinstance(value, list) else _code(value)


def _text(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("put this text in quotes; YAML reads an unquoted Yes, No, On or Off as true/false")
    if isinstance(value, (int, float)):
        return str(value)
    return value


def _labels(value: Any) -> Any:
    return {_code(k): _text(t) for k, t in value.items()} if isinstance(value, dict) else value


def _statuses(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _ReportHeader(_Strict):
    id: str = Field(pattern=RUBRIC_ID_PATTERN)
    title: str = Field(min_length=1)
    description: str | None = None
    datasets: dict[str, Any] = Field(min_length=1)
    figures: list[Any] = Field(min_length=1)
    quoted: list[Any] = Field(default_factory=list)
    quoted_note: str | None = None
    ratings: str | None = Field(default=None, min_length=1)  # a rating scheme file: a "Ratings" sheet in the workbook


class _DatasetSpec(_Strict):
    rubric: str = Field(pattern=RUBRIC_ID_PATTERN)
    label: str = Field(min_length=1)
    status: list[Literal[CASE_STATUSES]] | None = Field(default=None, min_length=1)  # type: ignore[valid-type]
    sites: dict[str, str] = Field(default_factory=dict)
    unit: str = Field(default="case", pattern=r"^[a-z][a-z -]*$")

    _status = field_validator("status", mode="before")(lambda cls, v: _statuses(v))
    _sites = field_validator("sites", mode="before")(lambda cls, v: _labels(v))


class _ColumnSpec(_Strict):
    dataset: str
    label: str = ""
    where: str | None = None

    _label = field_validator("label", mode="before")(lambda cls, v: _text(v))


class _FigureHeader(_Strict):
    id: str = Field(pattern=FIGURE_ID_PATTERN)
    title: str = Field(min_length=1)
    short_title: str | None = Field(default=None, min_length=1)
    chart: Literal["bar"] | None = None
    note: str | None = None
    highlight_note: str | None = None
    columns: list[Any] = Field(min_length=1)
    show: list[CellPart] = Field(default_factory=lambda: ["count", "percent"], min_length=1)
    headers: dict[CellPart, str] = Field(default_factory=dict)
    rows: list[Any] | None = None
    sections: list[Any] | None = None
    ci: bool = False
    confidence: float = Field(default=DEFAULT_CONFIDENCE, gt=0, lt=1)
    compare: list[str] | None = Field(default=None, min_length=2, max_length=2)
    alpha: float = Field(default=DEFAULT_ALPHA, gt=0, lt=1)
    statistics_note: str | None = Field(default=None, min_length=1)

    _compare = field_validator("compare", mode="before")(lambda cls, v: [_text(x) for x in v] if isinstance(v, list) else v)

    @field_validator("id", mode="before")
    @classmethod
    def _quoted(cls, value: Any) -> Any:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            raise ValueError(f'figure id {value!r} must be quoted, e.g. id: "{value}" (YAML reads 4.10 as the number 4.1)')
        return value

    @field_validator("show")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError(f"'show' lists a part twice: {', '.join(value)}")
        return value


class _SectionSpec(_Strict):
    title: str = Field(min_length=1)
    prefix: str | None = Field(default=None, min_length=1)
    rows: list[Any] = Field(min_length=1)

    _title = field_validator("title", "prefix", mode="before")(lambda cls, v: _text(v))


class _OptionsRow(_Strict):
    """One row per option of a choice question (``codes`` picks and orders them)."""

    options: str
    codes: list[str] | None = Field(default=None, min_length=1)
    labels: dict[str, str] = Field(default_factory=dict)
    chart_labels: dict[str, str] = Field(default_factory=dict)
    highlight: list[str] = Field(default_factory=list)

    _codes_as_text = field_validator("codes", "highlight", mode="before")(lambda cls, v: _codes(v))
    _labels_as_text = field_validator("labels", "chart_labels", mode="before")(lambda cls, v: _labels(v))


class _QuestionRow(_Strict):
    """One row: the cases whose answer is one of ``count`` or lies in ``min``..``max``."""

    question: str
    label: str = Field(min_length=1)
    chart_label: str | None = Field(default=None, min_length=1)
    highlight: bool = False
    count: str | list[str] | None = None
    min: int | None = None
    max: int | None = None

    _count_as_text = field_validator("count", mode="before")(lambda cls, v: _codes(v))
    _label = field_validator("label", "chart_label", mode="before")(lambda cls, v: _text(v))


class _TotalRow(_Strict):
    """The cases in the base of the question of the rows above, with no percentage."""

    total: str = Field(min_length=1)

    _total = field_validator("total", mode="before")(lambda cls, v: _text(v))


class _QuoteSpec(_Strict):
    """A number quoted in the report's text: where, the words, and what to count."""

    chapter: str = Field(min_length=1)
    text: str = Field(min_length=1)
    dataset: str
    where: str | None = None
    label: str = ""
    question: str | None = None
    count: str | list[str] | None = None
    min: int | None = None
    max: int | None = None
    answered: str | None = None
    cases: bool = False
    sites: bool = False
    out_of: int | None = Field(default=None, ge=1)
    decimals: int = Field(default=0, ge=0, le=3)

    _chapter = field_validator("chapter", "text", "label", mode="before")(lambda cls, v: _text(v))
    _count_as_text = field_validator("count", mode="before")(lambda cls, v: _codes(v))


ROW_KINDS: dict[str, type[_Strict]] = {"options": _OptionsRow, "question": _QuestionRow, "total": _TotalRow}


# --- the resolved definition ---------------------------------------------------------------


class Dataset(BaseModel):
    """A dataset: the rubric its database holds, which case statuses count, and site labels."""

    model_config = ConfigDict(frozen=True)

    name: str
    rubric_id: str
    label: str
    rubric: Rubric = Field(repr=False, exclude=True)
    statuses: tuple[str, ...] | None = None  # None: every status counts
    sites: dict[str, str] = Field(default_factory=dict)
    unit: str = "case"  # what one case is: a respondent in a survey

    def site_label(self, code: str) -> str:
        return self.sites.get(code, code)

    def units(self, count: int) -> str:
        """'59 cases', '1 respondent'."""
        return f"{count:,} {self.unit}{'' if count == 1 else 's'}"


class Column(BaseModel):
    """One column of a figure: the cases of a dataset that pass ``where`` (parsed as ``rule``)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    label: str
    dataset: str
    where: str | None = None
    rule: Rule | None = Field(default=None, repr=False, exclude=True)

    def describe(self, report: "Report") -> str:
        """The column's cases with its filter as written (``audit.tabulate.column_in_words`` says it in words)."""
        cases = f"cases in {report.datasets[self.dataset].label}"
        return f"{cases} where {self.where}" if self.where else cases

    @classmethod
    def filtered(cls, label: str, dataset: str, where: str | None, rubric: Rubric) -> "Column":
        """A column whose filter is parsed and checked against ``rubric``; raises RuleError or ValueError."""
        if where is None:
            return cls(label=label, dataset=dataset)
        rule = parse_rule(where)
        messages = rubric.check_rule(rule)
        if messages:
            raise ValueError(messages[0])
        return cls(label=label, dataset=dataset, where=where, rule=rule)


class Row(BaseModel):
    """A resolved row.

    ``kind`` is ``code`` (answers among ``codes``), ``range`` (an integer in
    ``low``..``high``) or ``total`` (the question's base). A code row of
    options that never count (``in_base`` false) shows a count, no percentage.
    """

    model_config = ConfigDict(frozen=True)

    kind: Literal["code", "range", "total"]
    question: str
    label: str
    codes: tuple[str, ...] = ()
    low: int | None = None
    high: int | None = None
    in_base: bool = True
    highlight: bool = False
    chart_label: str | None = None


class FigureSection(BaseModel):
    title: str  # "" when the figure has no sub-tables
    prefix: str | None = None  # as the report prints it before the title, e.g. "a)"
    rows: list[Row]

    @property
    def heading(self) -> str:
        return f"{self.prefix} {self.title}" if self.prefix else self.title


class Figure(BaseModel):
    id: str
    title: str
    short_title: str | None = None
    chart: Literal["bar"] | None = None
    note: str | None = None
    highlight_note: str | None = None
    columns: list[Column]
    show: list[CellPart]
    headers: dict[str, str]
    sections: list[FigureSection]
    ci: bool = False  # a Wilson interval beside every percentage
    confidence: float = DEFAULT_CONFIDENCE
    compare: tuple[int, int] | None = None  # column indexes: each row tests column B against column A
    alpha: float = DEFAULT_ALPHA
    statistics_note: str | None = None  # printed after the statistics' method, e.g. where the report words it otherwise

    @property
    def heading(self) -> str:
        """The title as the report prints it above the table."""
        return f"Figure {self.id}: {self.title}" if self.id[:1].isdigit() else self.title

    @property
    def chart_title(self) -> list[str]:
        """The chart's title lines: the figure number and the short title (or the title), wrapped."""
        return chart_title_lines(self.id, self.short_title or self.title)

    @property
    def sheet_name(self) -> str:
        name = f"Fig {self.id}" if self.id[:1].isdigit() else self.id
        return "".join("_" if ch in "[]:*?/\\" else ch for ch in name)[:31]

    @property
    def questions(self) -> set[str]:
        return {row.question for section in self.sections for row in section.rows}

    @property
    def datasets(self) -> list[str]:
        return list(dict.fromkeys(column.dataset for column in self.columns))

    def header(self, part: str) -> str:
        return self.headers.get(part) or DEFAULT_HEADERS[part]


class Quote(BaseModel):
    """A number the report quotes in its text, and how it is counted.

    ``kind``: ``row`` counts like a figure row (``row``); ``answered`` counts
    the cases that answered ``row.question`` (its base) out of the column's
    cases; ``cases`` counts the column's cases; ``sites`` counts their
    distinct sites, out of ``out_of`` when the report gives a total.
    """

    chapter: str
    text: str
    column: Column
    kind: Literal["row", "answered", "cases", "sites"]
    row: Row | None = None
    out_of: int | None = None
    decimals: int = 0  # places the report prints its percentage to (8.3 per cent)

    @property
    def question(self) -> str | None:
        return self.row.question if self.row else None


class Report(BaseModel):
    id: str
    title: str
    description: str | None = None
    datasets: dict[str, Dataset]
    figures: list[Figure]
    quoted: list[Quote] = Field(default_factory=list)
    quoted_note: str | None = None
    path: str = ""
    ratings: str | None = None  # the rating scheme's path as written in the file (see :meth:`ratings_path`)

    def ratings_path(self) -> Path | None:
        """The rating scheme file the figure file names (:func:`find_ratings_file`), or None."""
        return None if self.ratings is None else find_ratings_file(self.ratings, self.path)

    def figure(self, figure_id: str) -> Figure:
        for figure in self.figures:
            if figure.id == figure_id:
                return figure
        raise KeyError(figure_id)


def find_ratings_file(given: str, figure_file: str) -> Path:
    """A figure file's ``ratings:``: relative to the figure file's folder, else as given (the current
    folder), else a shipped scheme of that name (``ratings/``); the first candidate if none exists."""
    path = Path(given)
    candidates = [path] if path.is_absolute() else [Path(figure_file).parent / path, path]
    candidates += [folder / path.name for folder in search_path("ratings")]
    return next((c for c in candidates if c.is_file()), candidates[0])


def chart_title_lines(figure_id: str, title: str) -> list[str]:
    head = f"Figure {figure_id}: " if figure_id[:1].isdigit() else ""
    return textwrap.wrap(head + title, CHART_TITLE_WIDTH, break_long_words=False) or [head.strip()]


# --- loading -------------------------------------------------------------------------------


def _problems(doc: YamlDocument, error: ValidationError, prefix: Loc, context: str, model: type[BaseModel]) -> list[Problem]:
    allowed = list(model.model_fields)
    return [
        Problem(doc.where(prefix + tuple(err["loc"])), f"{context}{validation_message(err, allowed)}")
        for err in error.errors(include_url=False)
    ]


def _line(problem: Problem) -> int:
    tail = problem.where.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else 0


class _Loader:
    """Validates one definition, collecting every problem with its line."""

    def __init__(self, doc: YamlDocument):
        self.doc = doc
        self.problems: list[Problem] = []
        self.datasets: dict[str, Dataset] = {}

    def add(self, loc: Loc, message: str) -> None:
        self.problems.append(Problem(self.doc.where(loc), message))

    def validate(self, model: type[BaseModel], raw: Any, loc: Loc, context: str):
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            self.problems.extend(_problems(self.doc, exc, loc, context, model))
            return None

    # -- datasets --------------------------------------------------------------------------
    def load_datasets(self, raw: Any) -> None:
        if not isinstance(raw, dict):
            return
        for name, spec_raw in raw.items():
            loc: Loc = ("datasets", name)
            if not isinstance(name, str) or not re.match(DATASET_NAME_PATTERN, name):
                self.add(loc, f"dataset name '{name}' must be lowercase letters, digits and _, starting with a letter")
                continue
            if isinstance(spec_raw, str):  # "name: rubric-id" is the short form
                spec_raw = {"rubric": spec_raw, "label": name}
            spec = self.validate(_DatasetSpec, spec_raw, loc, f"dataset '{name}': ")
            if spec is None:
                continue
            try:
                rubric = load_rubric(find_rubric(spec.rubric))
            except Problems as exc:
                detail = "; ".join(p.message for p in exc.problems[:1])
                self.add(loc + ("rubric",), f"dataset '{name}': {detail or 'rubric could not be loaded'}")
                continue
            if rubric.id != spec.rubric:
                self.add(loc + ("rubric",), f"dataset '{name}': file for '{spec.rubric}' holds rubric '{rubric.id}'")
                continue
            statuses = tuple(dict.fromkeys(spec.status)) if spec.status else None
            self.datasets[name] = Dataset(name=name, rubric_id=spec.rubric, label=spec.label, rubric=rubric,
                                          statuses=statuses, sites=dict(spec.sites), unit=spec.unit)

    # -- figures ---------------------------------------------------------------------------
    def load_figure(self, raw: Any, loc: Loc, seen: dict[str, int]) -> Figure | None:
        context = f"figure '{raw['id']}': " if isinstance(raw, dict) and isinstance(raw.get("id"), str) else ""
        header = self.validate(_FigureHeader, raw, loc, context)
        if header is None:
            return None
        if header.id in seen:
            self.add(loc + ("id",), f"{context}duplicate figure id (first used at line {seen[header.id]}); ids must be unique")
            return None
        seen[header.id] = self.doc.line_of(loc + ("id",))
        before = len(self.problems)
        loaded = [self.load_column(raw_c, loc + ("columns", i), context) for i, raw_c in enumerate(header.columns)]
        columns = [c for c in loaded if c is not None]  # rows are still checked against the good ones
        labels = [c.label for c in columns]
        if len(columns) > 1 and (any(not label for label in labels) or len(set(labels)) != len(labels)):
            self.add(loc + ("columns",), f"{context}a figure with several columns needs a different label on each")
        if header.chart:
            title = chart_title_lines(header.id, header.short_title or header.title)
            if len(title) > CHART_TITLE_LINES:
                key = "short_title" if header.short_title else "title"
                self.add(loc + (key,), f"{context}the chart title needs {len(title)} lines of {CHART_TITLE_WIDTH} characters; "
                         f"a chart title has at most {CHART_TITLE_LINES}: give a shorter 'short_title'")
        if (header.rows is None) == (header.sections is None):
            self.add(loc, f"{context}give either 'rows' or 'sections' (sub-tables, each with a title and rows)")
            return None
        sections: list[FigureSection] = []
        if header.rows is not None:
            sections.append(FigureSection(title="", rows=self.load_rows(header.rows, loc + ("rows",), context, columns)))
        else:
            for s_index, raw_s in enumerate(header.sections):
                s_loc = loc + ("sections", s_index)
                spec = self.validate(_SectionSpec, raw_s, s_loc, context)
                if spec is not None:
                    rows = self.load_rows(spec.rows, s_loc + ("rows",), context, columns)
                    sections.append(FigureSection(title=spec.title, prefix=spec.prefix, rows=rows))
        compare = self.compared_columns(header, labels, loc, context)
        highlighted = any(row.highlight for section in sections for row in section.rows)
        if highlighted and not header.highlight_note:
            self.add(loc, f"{context}rows are highlighted: add 'highlight_note' saying what the shading means")
        if len(self.problems) > before:
            return None
        return Figure(
            id=header.id, title=header.title, short_title=header.short_title, chart=header.chart, note=header.note,
            highlight_note=header.highlight_note, columns=columns, show=list(header.show), headers=dict(header.headers),
            sections=sections, ci=header.ci, confidence=header.confidence, compare=compare, alpha=header.alpha,
            statistics_note=header.statistics_note,
        )

    def compared_columns(self, header: _FigureHeader, labels: list[str], loc: Loc, context: str) -> tuple[int, int] | None:
        """``compare: [A, B]`` as column indexes; each must be the label of one of the figure's columns."""
        if header.compare is None:
            return None
        if len(labels) < 2:
            self.add(loc + ("compare",), f"{context}'compare' needs a figure with two or more columns; this one has {len(labels)}")
            return None
        found = []
        for index, label in enumerate(header.compare):
            if label not in labels:
                self.add(loc + ("compare", index), f"{context}'compare' names '{label}', which is not a column label"
                         f"{did_you_mean(label, labels)}; the columns are {', '.join(repr(x) for x in labels)}")
                return None
            found.append(labels.index(label))
        if found[0] == found[1]:
            self.add(loc + ("compare",), f"{context}'compare' names column '{header.compare[0]}' twice; name two different columns")
            return None
        return found[0], found[1]

    def load_column(self, raw: Any, loc: Loc, context: str) -> Column | None:
        if isinstance(raw, str):  # "- thematic" is the short form of "- dataset: thematic"
            raw = {"dataset": raw}
        spec = self.validate(_ColumnSpec, raw, loc, context)
        if spec is None:
            return None
        return self.column(spec.label, spec.dataset, spec.where, loc, context)

    def column(self, label: str, dataset_name: str, where: str | None, loc: Loc, context: str) -> Column | None:
        dataset = self.datasets.get(dataset_name)
        if dataset is None:
            self.add(loc + ("dataset",), f"{context}unknown dataset '{dataset_name}'{did_you_mean(dataset_name, self.datasets)}; "
                     f"datasets: {', '.join(self.datasets) or 'none'}")
            return None
        try:
            return Column.filtered(label, dataset_name, where, dataset.rubric)
        except RuleError as exc:
            self.add(loc + ("where",), f"{context}{exc}")
        except ValueError as exc:
            self.add(loc + ("where",), f"{context}{exc} (dataset '{dataset.name}', rubric {dataset.rubric_id})")
        return Column(label=label, dataset=dataset_name, where=where)  # rows are still checked; the figure is refused

    def load_rows(self, raw_rows: list[Any], loc: Loc, context: str, columns: list[Column]) -> list[Row]:
        rows: list[Row] = []
        for index, raw in enumerate(raw_rows):
            r_loc = loc + (index,)
            kinds = [k for k in ROW_KINDS if isinstance(raw, dict) and k in raw]
            if len(kinds) != 1:
                found = f"it has {', '.join(kinds)}" if kinds else "it has none"
                self.add(r_loc, f"{context}a row needs exactly one of 'options', 'question' or 'total'; {found}")
                continue
            spec = self.validate(ROW_KINDS[kinds[0]], raw, r_loc, context)
            if spec is None:
                continue
            if isinstance(spec, _TotalRow):
                if not rows:
                    if index == 0:  # otherwise the rows above failed and were reported
                        self.add(r_loc, f"{context}a total row counts the base of the rows above it; put it after them")
                    continue
                rows.append(Row(kind="total", question=rows[-1].question, label=spec.total))
                continue
            qid = spec.options if isinstance(spec, _OptionsRow) else spec.question
            questions = self.questions_in(qid, r_loc + (kinds[0],), context, columns)
            if questions is None:
                continue
            if isinstance(spec, _OptionsRow):
                rows += self.option_rows(spec, questions, r_loc, context)
            else:
                row = self.question_row(spec, questions, r_loc, context)
                if row is not None:
                    rows.append(row)
        return rows

    def questions_in(self, qid: str, loc: Loc, context: str, columns: list[Column]) -> list[Question] | None:
        """The question in each column's rubric, or None (with a problem) where it is missing."""
        found = []
        if not columns:  # every column failed and was reported
            return None
        for dataset_name in dict.fromkeys(c.dataset for c in columns):
            rubric = self.datasets[dataset_name].rubric
            if not rubric.has_question(qid):
                self.add(loc, f"{context}no question '{qid}' in rubric {rubric.id} (dataset '{dataset_name}')"
                         f"{did_you_mean(qid, rubric.question_ids)}")
                return None
            found.append(rubric.question(qid))
        if len({q.type for q in found}) > 1:
            self.add(loc, f"{context}question '{qid}' has different types in the figure's datasets; a row compares like with like")
            return None
        return found

    def check_codes(self, codes: list[str], questions: list[Question], loc: Loc, context: str) -> bool:
        ok = True
        for question in questions:
            for code in codes:
                if code not in question.options:
                    hint = question.option_code_for(code)
                    advice = f"; use its code '{hint}'" if hint else did_you_mean(code, question.option_codes)
                    self.add(loc, f"{context}'{code}' is not an option code of '{question.id}' (codes: {', '.join(question.option_codes)}){advice}")
                    ok = False
            if not ok:
                break
        return ok

    def option_rows(self, spec: _OptionsRow, questions: list[Question], loc: Loc, context: str) -> list[Row]:
        first = questions[0]
        if not first.is_choice:
            self.add(loc + ("options",), f"{context}'{first.id}' is {first.type}; 'options' rows need a choice question "
                     "(use 'question' rows with min/max for numbers)")
            return []
        codes = spec.codes if spec.codes is not None else [c for c in first.option_codes if first.counts(c)]
        if not self.check_codes(codes, questions, loc + ("codes",), context):
            return []
        if len(set(codes)) != len(codes):
            self.add(loc + ("codes",), f"{context}'codes' lists a code twice")
            return []
        for key in ("labels", "chart_labels", "highlight"):
            stray = [code for code in getattr(spec, key) if code not in codes]
            if stray:
                self.add(loc + (key,), f"{context}'{key}' names '{stray[0]}', which is not among the row codes ({', '.join(codes)})")
                return []
        return [
            Row(kind="code", question=first.id, label=spec.labels.get(code) or first.label_for(code), codes=(code,),
                in_base=first.counts(code), highlight=code in spec.highlight, chart_label=spec.chart_labels.get(code))
            for code in codes
        ]

    def question_row(self, spec: _QuestionRow | _QuoteSpec, questions: list[Question], loc: Loc, context: str) -> Row | None:
        first = questions[0]
        if isinstance(spec, _QuestionRow):
            label, extra = spec.label, {"highlight": spec.highlight, "chart_label": spec.chart_label}
        else:  # a quoted number: its row is labelled with the report's words
            label, extra = spec.text, {}
        banded = spec.min is not None or spec.max is not None
        if (spec.count is not None) == banded:
            self.add(loc, f"{context}a question row needs either 'count' (option codes) or 'min'/'max' (a band of numbers)")
            return None
        if banded:
            if first.type != "integer":
                self.add(loc + ("question",), f"{context}'min'/'max' need an integer question; '{first.id}' is {first.type}")
                return None
            if spec.min is not None and spec.max is not None and spec.min > spec.max:
                self.add(loc + ("min",), f"{context}min {spec.min} is above max {spec.max}")
                return None
            return Row(kind="range", question=first.id, label=label, low=spec.min, high=spec.max, **extra)
        if not first.is_choice:
            self.add(loc + ("question",), f"{context}'count' needs a choice question; '{first.id}' is {first.type}")
            return None
        codes = [spec.count] if isinstance(spec.count, str) else list(spec.count)
        if not codes:
            self.add(loc + ("count",), f"{context}'count' needs at least one option code")
            return None
        if not self.check_codes(codes, questions, loc + ("count",), context):
            return None
        counting = {first.counts(code) for code in codes}
        if len(counting) > 1:
            self.add(loc + ("count",), f"{context}'count' mixes options that count with options that never count (such as Not applicable)")
            return None
        return Row(kind="code", question=first.id, label=label, codes=tuple(codes), in_base=counting.pop(), **extra)

    # -- the rating scheme ------------------------------------------------------------------
    def check_ratings(self, given: str, path: str) -> None:
        """The scheme named by ``ratings:`` must load, and rate the rubric of one of the datasets."""
        from audit.ratings import load_scheme

        found = find_ratings_file(given, path)
        if not found.is_file():
            self.add(("ratings",), f"ratings: no rating scheme file '{given}' (looked beside this file, in the current "
                     "folder and in the shipped ratings/); give its path, e.g. ratings/hmip-2018.yaml")
            return
        try:
            scheme = load_scheme(found)
        except Problems as exc:
            first = exc.problems[0] if exc.problems else Problem(str(found), str(exc))
            self.add(("ratings",), f"ratings: {found} is not a valid rating scheme ({first.where}: {first.message}); "
                     f"check it with `audit ratings check {found}`")
            return
        rubrics = {d.rubric_id for d in self.datasets.values()}
        if self.datasets and scheme.rubric not in rubrics:
            self.add(("ratings",), f"ratings: {found} rates rubric {scheme.rubric}, which no dataset of this file uses "
                     f"({', '.join(sorted(rubrics))})")

    # -- numbers quoted in the text ----------------------------------------------------------
    def load_quote(self, raw: Any, loc: Loc) -> Quote | None:
        context = f"quoted '{raw['text'][:40]}': " if isinstance(raw, dict) and isinstance(raw.get("text"), str) else "quoted: "
        spec = self.validate(_QuoteSpec, raw, loc, context)
        if spec is None:
            return None
        kinds = [k for k, given in (("question", spec.question is not None), ("answered", spec.answered is not None),
                                    ("cases", spec.cases), ("sites", spec.sites)) if given]
        if len(kinds) != 1:
            found = f"it has {', '.join(kinds)}" if kinds else "it has none"
            self.add(loc, f"{context}a quoted number needs exactly one of 'question' (with count or min/max), "
                     f"'answered', 'cases: true' or 'sites: true'; {found}")
            return None
        if spec.out_of is not None and kinds != ["sites"]:
            self.add(loc + ("out_of",), f"{context}'out_of' is the total a count of sites is out of; use it with 'sites: true'")
            return None
        column = self.column(spec.label, spec.dataset, spec.where, loc, context)
        if column is None or (spec.where is not None and column.rule is None):
            return None
        kind = kinds[0]
        if kind in ("cases", "sites"):
            return Quote(chapter=spec.chapter, text=spec.text, column=column, kind=kind, out_of=spec.out_of,
                         decimals=spec.decimals)
        qid = spec.question if kind == "question" else spec.answered
        questions = self.questions_in(qid, loc + (kind,), context, [column])
        if questions is None:
            return None
        if kind == "answered":
            row = Row(kind="total", question=qid, label=spec.text)
        else:
            row = self.question_row(spec, questions, loc, context)
            if row is None:
                return None
        return Quote(chapter=spec.chapter, text=spec.text, column=column, kind="answered" if kind == "answered" else "row",
                     row=row, decimals=spec.decimals)


def parse_report(text: str, path: str = "<figures>") -> Report:
    """Parse and validate figure-table YAML text; raise :class:`Problems` listing every error."""
    doc = parse_yaml(text, path)
    if not isinstance(doc.data, dict):
        raise Problems([Problem(doc.where(), "a figure-table file is a mapping with id, title, datasets and figures")])
    loader = _Loader(doc)
    header = loader.validate(_ReportHeader, doc.data, (), "")
    loader.load_datasets(doc.data.get("datasets"))
    figures: list[Figure] = []
    raw_figures = doc.data.get("figures")
    seen: dict[str, int] = {}
    for index, raw in enumerate(raw_figures if isinstance(raw_figures, list) else []):
        figure = loader.load_figure(raw, ("figures", index), seen)
        if figure is not None:
            figures.append(figure)
    raw_quoted = doc.data.get("quoted")
    quoted = [loader.load_quote(raw, ("quoted", index)) for index, raw in enumerate(raw_quoted if isinstance(raw_quoted, list) else [])]
    if header is not None and header.ratings is not None:
        loader.check_ratings(header.ratings, path)
    if loader.problems or header is None:
        problems = sorted(loader.problems, key=_line)
        noun = "problem" if len(problems) == 1 else "problems"
        raise Problems(problems, summary=f"{path}: {len(problems)} {noun}; nothing was loaded")
    return Report(id=header.id, title=header.title, description=header.description, datasets=loader.datasets,
                  figures=figures, quoted=[q for q in quoted if q is not None], quoted_note=header.quoted_note, path=path,
                  ratings=header.ratings)


def load_report(path: str | Path) -> Report:
    """Read and validate a figure-table file (a path, or the id of a shipped one)."""
    candidate = Path(path)
    if not candidate.exists() and candidate.suffix not in (".yaml", ".yml"):
        candidate = find_report(str(path))
    doc = read_yaml(candidate)
    return parse_report(doc.text, str(candidate))


def find_report(report_id: str) -> Path:
    """The shipped figure-table file with this id, searched like rubrics (``exports/``)."""
    seen: list[str] = []
    for folder in search_path("exports"):
        direct = folder / f"{report_id}.yaml"
        if direct.is_file():
            return direct
        seen += [p.stem for p in sorted(folder.glob("*.y*ml"))]
    raise Problems([Problem("", f"no figure-table file '{report_id}'{did_you_mean(report_id, seen)}; known: {', '.join(sorted(set(seen))) or 'none'}")])
