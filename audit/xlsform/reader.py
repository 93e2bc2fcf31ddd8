"""``audit rubric import``: an XLSForm read into a rubric.

Three steps, each listing every problem it finds with its cell:

1. :func:`read_form` reads the survey, choices and settings sheets into a
   :class:`Form`: the survey's rows as groups, questions and notes, exactly
   as written (the tests compare this reading with pyxform's).
2. :func:`form_rubric` maps the form onto a rubric: types, options, ranges,
   prompts, and ``relevant`` translated into rules (:mod:`.xpath`). Groups
   become sections; a nested group becomes a section of its own whose rule
   is every enclosing group's ``relevant`` joined with ``and``.
3. :func:`import_form` writes the rubric as YAML (:mod:`audit.rubric_writer`)
   and loads it back with the rubric loader, so what is written is exactly
   what ``audit rubric check`` accepts; anything the loader still finds is
   reported at the cell it came from.

See docs/xlsform.md for what maps to what and what is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audit.errors import AuditError, Problem, Problems, did_you_mean
from audit.rubric import CODE_PATTERN, FIXED_OPTIONS, ID_PATTERN, RESERVED_IDS, RUBRIC_ID_PATTERN, Rubric, parse_rubric
from audit.rubric_writer import write_rubric
from audit.ruletree import All, Node, names_in, rule_text
from audit.xlsform.workbook import Cell, Row, Sheet, read_workbook
from audit.xlsform.xpath import XPathError, parse_xpath, refs_in, translate

# --- what is read, and what is refused -------------------------------------------------------

SURVEY_COLUMNS = {"type", "name", "label", "hint", "guidance_hint", "required", "relevant", "constraint"}
SURVEY_ALIASES = {"relevance": "relevant", "caption": "label"}
TRANSLATED = {"label", "hint", "guidance_hint"}
#: columns whose cells change only how ODK shows a form: read past, with a warning
SURVEY_IGNORED = {
    "appearance": "audit lays out every question the same way",
    "constraint_message": "audit says itself when a number is out of range",
    "required_message": "audit says itself which required questions are unanswered",
    "autoplay": "audit plays no media",
}
CHOICES_COLUMNS = {"list_name", "name", "label", "counts"}
CHOICES_REFUSED = {"image", "big-image", "audio", "video"}
SETTINGS_COLUMNS = {"form_id", "form_title", "version", "description"}
SELECT_ONE = ("select_one", "select one")
SELECT_MULTIPLE = ("select_multiple", "select all that apply")
SIMPLE_TYPES = {"integer": "integer", "int": "integer", "text": "text", "string": "text", "date": "date"}
#: ODK's automatic metadata: audit records who answered and when itself
METADATA_TYPES = {"start", "end", "today", "deviceid", "subscriberid", "simserial", "phonenumber", "username",
                  "email", "audit", "start-geopoint"}
REFUSED_TYPES = {
    "decimal": "audit has no decimal questions yet; use integer (with a range constraint) or text",
    "calculate": "audit has no calculated questions; calculations are refused so that nothing is silently dropped",
    "begin repeat": "repeats are not supported: audit asks each question once per case",
    "begin_repeat": "repeats are not supported: audit asks each question once per case",
    "end repeat": "repeats are not supported: audit asks each question once per case",
    "end_repeat": "repeats are not supported: audit asks each question once per case",
    "hidden": "hidden questions are not supported",
    "acknowledge": "audit has no acknowledge questions; use a yes_no question (select_one with yes and no)",
    "range": "audit has no range widgets; use integer with a range constraint",
    "rank": "audit has no rank questions",
}
SUPPORTED_TYPES = "select_one, select_multiple, integer, text, date, note, begin group and end group"
EXPRESSIONS = {"relevant", "constraint", "required"}
STRAIGHT_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})
YES = {"yes", "true", "true()", "1"}
NO = {"no", "false", "false()", "0"}
_RANGE_BOUND = re.compile(r"^\s*\(?\s*\.\s*(>=|>|<=|<)\s*(-?\d+)\s*\)?\s*$")


@dataclass
class Choice:
    name: str
    label: str
    counts: bool
    where: str  # the cell of its name
    row: Row


@dataclass
class FormQuestion:
    """A survey row that is asked (or a note), as written."""

    kind: str  # select_one, select_multiple, integer, text, date, note
    name: str
    label: str
    hint: str
    guidance_hint: str
    required: str  # the cell as written ("" when empty)
    relevant: str
    constraint: str
    list_name: str | None
    row: Row


@dataclass
class FormGroup:
    name: str
    label: str
    hint: str
    relevant: str
    row: Row
    children: list["FormGroup | FormQuestion"] = field(default_factory=list)


@dataclass
class Form:
    path: str
    settings: dict[str, Cell]
    choices: dict[str, list[Choice]]
    children: list[FormGroup | FormQuestion]
    survey_columns: dict[str, str]  # "label" -> the header read for it (e.g. "label::English (en)")
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    refused: set[str] = field(default_factory=set)  # names of rows refused (their problems are listed)
    survey: Sheet | None = None

    def where(self, row: Row, column: str) -> str:
        """The cell of ``column`` in a survey row (the row's type cell when there is no such column)."""
        header = self.survey_columns.get(column) or self.survey_columns.get("type")
        return self.survey.where(row.number, header)


@dataclass
class ImportResult:
    text: str
    rubric: Rubric
    warnings: list[str]


# --- step 1: the workbook as a form ----------------------------------------------------------


def read_form(path: str | Path, shown: str | None = None) -> Form:
    """Read an XLSForm; problems are collected on the form, not raised (except unreadable files)."""
    shown = shown or str(path)
    sheets = read_workbook(path, shown)
    form = Form(path=shown, settings={}, choices={}, children=[], survey_columns={})
    survey = sheets.get("survey")
    if survey is None:
        raise AuditError(f"{shown}: has no 'survey' sheet; an XLSForm lists its questions on a sheet named survey")
    form.survey = survey
    language = _language(form, [s for s in (survey, sheets.get("choices")) if s is not None])
    _read_settings(form, sheets.get("settings"))
    _read_choices(form, sheets.get("choices"), language)
    _read_survey(form, survey, language)
    return form


def _split_header(header: str) -> tuple[str, str | None]:
    """('label', 'English (en)') for 'label::English (en)'; aliases and case folded."""
    base, sep, language = header.partition("::")
    base = base.strip().lower()
    return SURVEY_ALIASES.get(base, base), (language.strip() if sep else None)


def _used(sheet: Sheet, header: str) -> list[str]:
    return [row.cells[header].where for row in sheet.rows if header in row.cells]


def _language(form: Form, sheets: list[Sheet]) -> str | None:
    """The form's one language (None for plain label columns); a form in several is refused."""
    seen: dict[str | None, str] = {}  # language -> first header cell using it
    for sheet in sheets:
        for header in sheet.headers:
            base, language = _split_header(header)
            if base in TRANSLATED and _used(sheet, header):
                seen.setdefault(language, sheet.header_where(header))
    if len(seen) > 1:
        names = ", ".join("(no language)" if lang is None else lang for lang in seen)
        for where in list(seen.values())[1:]:
            form.problems.append(Problem(where, f"the form is in several languages ({names}); an audit rubric has one: "
                                         "delete the columns of the other languages"))
    return next(iter(seen), None)


def _read_settings(form: Form, sheet: Sheet | None) -> None:
    if sheet is None or not sheet.rows:
        where = f"{form.path}:{sheet.name}" if sheet is not None else form.path
        form.problems.append(Problem(where, "no settings row; add a settings sheet with form_id, form_title and version "
                                     "(they become the rubric's id, title and version)"))
        return
    row = sheet.rows[0]
    for header, cell in row.cells.items():
        base = header.strip().lower()
        if base in SETTINGS_COLUMNS:
            form.settings[base] = cell
        elif base != "default_language":  # the one language the form has is the one read
            form.warnings.append(f"{cell.where}: settings column '{header}' ignored; audit has no use for it")
    for extra in sheet.rows[1:]:
        first = next(iter(extra.cells.values()))
        form.problems.append(Problem(first.where, "settings has one row under its headers; delete this one"))


def _read_choices(form: Form, sheet: Sheet | None, language: str | None) -> None:
    if sheet is None:
        return
    columns: dict[str, str] = {}  # our name -> header
    ignored: dict[str, list[str]] = {}
    for header in sheet.headers:
        base, header_language = _split_header(header)
        if base in CHOICES_COLUMNS and header_language == (language if base == "label" else None):
            columns[base] = header
            continue
        used = _used(sheet, header)
        if not used or base in TRANSLATED:
            continue  # empty, or a label in another language (refused above)
        if base in CHOICES_REFUSED or base.startswith("media"):
            form.problems.append(Problem(used[0], f"choices column '{header}' is not supported: audit shows choices as text"))
        else:
            ignored[header] = used
    for header, used in ignored.items():
        form.warnings.append(f"{used[0]}: choices column '{header}' ignored ({len(used)} cells); audit has no choice filters or extra choice data")

    def text(row: Row, column: str) -> str:
        return row.text(columns[column]) if column in columns else ""

    def where(row: Row, column: str) -> str:
        return sheet.where(row.number, columns.get(column, "list_name"))

    for row in sheet.rows:
        list_name, name = text(row, "list_name"), text(row, "name")
        if not list_name:
            form.problems.append(Problem(where(row, "list_name"), "choice has no list_name; say which list it belongs to"))
            continue
        if not name:
            form.problems.append(Problem(where(row, "name"), f"choice of list '{list_name}' has no name (its code)"))
            continue
        choices = form.choices.setdefault(list_name, [])
        if not re.match(CODE_PATTERN, name):
            form.problems.append(Problem(where(row, "name"), f"choice name '{name}' must be letters, digits, _ . or - (no spaces)"))
            continue
        first = next((c for c in choices if c.name == name), None)
        if first is not None:
            form.problems.append(Problem(where(row, "name"), f"choice '{name}' appears twice in list '{list_name}' "
                                         f"(first in row {first.row.number}); keep one"))
            continue
        label = text(row, "label")
        if not label:
            form.problems.append(Problem(where(row, "label"), f"choice '{name}' of list '{list_name}' has no label"))
            continue
        counts_text = text(row, "counts").lower()
        if counts_text and counts_text not in YES | NO:
            form.problems.append(Problem(where(row, "counts"), f"counts is '{text(row, 'counts')}'; write no for an option that is "
                                         "never in a percentage's base (such as Not applicable), or leave it empty"))
            continue
        same_label = next((c for c in choices if c.label.casefold() == label.casefold()), None)
        if same_label is not None:
            form.problems.append(Problem(where(row, "label"), f"choices '{same_label.name}' and '{name}' of list '{list_name}' "
                                         f"have the same label '{label}'; give each its own label"))
            continue
        choices.append(Choice(name, label, counts_text not in NO, where(row, "name"), row))


def _read_survey(form: Form, sheet: Sheet, language: str | None) -> None:
    columns = form.survey_columns
    for header in sheet.headers:
        base, header_language = _split_header(header)
        if base in SURVEY_COLUMNS and header_language == (language if base in TRANSLATED else None):
            columns[base] = header
            continue
        used = _used(sheet, header)
        if not used or (base in TRANSLATED and header_language != language):
            continue  # an empty column, or another language (refused above)
        if base in SURVEY_IGNORED:
            form.warnings.append(f"{used[0]}: column '{header}' ignored ({len(used)} cells); {SURVEY_IGNORED[base]}")
            continue
        cells = ", ".join(w.rsplit("!", 1)[-1] for w in used[:5]) + (f" and {len(used) - 5} more" if len(used) > 5 else "")
        form.problems.append(Problem(used[0], f"column '{header}' is not supported (used in {cells}); audit reads "
                                     "type, name, label, hint, guidance_hint, required, relevant and constraint; "
                                     "clear its cells to import the rest"))
    if "type" not in columns:
        form.problems.append(Problem(f"{form.path}:{sheet.name}!A1", "the survey sheet has no 'type' column"))
        return

    def text(row: Row, column: str) -> str:
        value = row.text(columns[column]) if column in columns else ""
        # spreadsheets turn typed quotes into curly ones, and pyxform (so ODK) reads an expression with them
        # straightened and its runs of spaces made one (inside quotes too): read it as ODK does
        return re.sub(" +", " ", value.translate(STRAIGHT_QUOTES)) if column in EXPRESSIONS else value

    def where(row: Row, column: str) -> str:
        return form.where(row, column)

    stack: list[FormGroup] = []
    seen: dict[str, int] = {}
    for row in sheet.rows:
        raw_type = " ".join(text(row, "type").split())
        kind = raw_type.lower()
        name = text(row, "name")
        if not raw_type:
            form.problems.append(Problem(where(row, "type"), "row has no type; give one, or clear the row"))
            continue
        if kind in ("begin group", "begin_group"):
            group = FormGroup(name, text(row, "label"), text(row, "hint"), text(row, "relevant"), row)
            if _check_name(form, row, name, where(row, "name"), seen, "group"):
                for column in ("required", "constraint"):
                    if text(row, column):
                        form.problems.append(Problem(where(row, column), f"a group has no {column}; clear this cell"))
            (stack[-1].children if stack else form.children).append(group)
            stack.append(group)
            continue
        if kind in ("end group", "end_group"):
            if not stack:
                form.problems.append(Problem(where(row, "type"), "end group without a begin group above it"))
            else:
                stack.pop()
            continue
        question = _question(form, row, kind, raw_type, name, text, where)
        if question is None:
            if name and name not in seen:
                form.refused.add(name)
            continue
        duplicate = name in seen
        if not _check_name(form, row, name, where(row, "name"), seen, question.kind, required=question.kind != "note"):
            if not duplicate:  # a rule reading the first of two same names reads a good question
                form.refused.add(name)
            continue
        (stack[-1].children if stack else form.children).append(question)
    for group in stack:
        form.problems.append(Problem(where(group.row, "type"), f"begin group '{group.name}' has no end group"))


def _check_name(form: Form, row: Row, name: str, where: str, seen: dict[str, int], what: str, required: bool = True) -> bool:
    if not name:
        if required:
            form.problems.append(Problem(where, f"this {what} has no name; give it an id such as q{row.number}"))
            return False
        return True
    if not re.match(ID_PATTERN, name):
        suggestion = re.sub(r"[^a-z0-9_]", "_", name.lower())
        suggestion = suggestion if re.match(ID_PATTERN, suggestion) else f"q_{suggestion}".replace("__", "_")
        form.problems.append(Problem(where, f"name '{name}' must be lowercase letters, digits and _, starting with a letter "
                                     f"(e.g. {suggestion}); names become question ids, which data and rules use"))
        return False
    if name in RESERVED_IDS:
        form.problems.append(Problem(where, f"name '{name}' is a reserved word in rules; choose another"))
        return False
    if name in seen:
        form.problems.append(Problem(where, f"name '{name}' is used twice (first in row {seen[name]}); names must be unique"))
        return False
    seen[name] = row.number
    return True


def _question(form: Form, row: Row, kind: str, raw_type: str, name: str, text, where) -> FormQuestion | None:
    list_name = None
    head = kind
    for prefix in (*SELECT_ONE, *SELECT_MULTIPLE):
        if kind.startswith(prefix + " "):
            rest = raw_type[len(prefix) + 1:].split()
            head = "select_one" if prefix in SELECT_ONE else "select_multiple"
            if len(rest) != 1:
                extra = " or_other" if rest[1:] == ["or_other"] else ""
                reason = ("'or_other' adds a free-text Other that audit does not have; add an 'other' choice and a text question"
                          if extra else f"write the type as {head} LIST, one list name")
                form.problems.append(Problem(where(row, "type"), f"type '{raw_type}': {reason}"))
                return None
            list_name = rest[0]
            break
    else:
        if kind in ("select_one", "select_multiple", *SELECT_ONE, *SELECT_MULTIPLE):
            form.problems.append(Problem(where(row, "type"), f"type '{raw_type}' needs a choice list: {kind} LIST"))
            return None
        if kind in METADATA_TYPES:
            form.warnings.append(f"{where(row, 'type')}: '{raw_type}' row ignored; audit records who answered each question and when itself")
            return None
        if kind in REFUSED_TYPES or kind.startswith(("select_one_from_file", "select_multiple_from_file", "select_one_external")):
            reason = REFUSED_TYPES.get(kind, "choices from a file are not supported; copy them to the choices sheet")
            form.problems.append(Problem(where(row, "type"), f"type '{raw_type}': {reason}"))
            return None
        if kind == "note":
            head = "note"
        elif kind in SIMPLE_TYPES:
            head = SIMPLE_TYPES[kind]
        else:
            form.problems.append(Problem(where(row, "type"), f"type '{raw_type}' is not supported; audit reads {SUPPORTED_TYPES}"
                                         f"{did_you_mean(kind, ['select_one', 'select_multiple', 'integer', 'text', 'date', 'note'])}"))
            return None
    if list_name is not None and list_name not in form.choices:
        form.problems.append(Problem(where(row, "type"), f"no choice list '{list_name}' on the choices sheet"
                                     f"{did_you_mean(list_name, form.choices)}"))
        return None
    return FormQuestion(
        kind=head, name=name, label=text(row, "label"), hint=text(row, "hint"), guidance_hint=text(row, "guidance_hint"),
        required=text(row, "required"), relevant=text(row, "relevant"), constraint=text(row, "constraint"),
        list_name=list_name, row=row,
    )


# --- step 2: the form as a rubric --------------------------------------------------------------


@dataclass
class _Shape:
    """A question as rule translation sees it."""

    type: str
    option_codes: list[str]
    range: tuple[int, int] | None = None


@dataclass
class _Section:
    id: str
    title: str
    description: str | None
    groups: tuple[FormGroup, ...]
    items: list[FormQuestion] = field(default_factory=list)


class _Builder:
    def __init__(self, form: Form):
        self.form = form
        self.problems = form.problems
        self.shapes: dict[str, _Shape] = {}
        self.others: dict[str, str] = {}
        self.tags: dict[tuple, str] = {}

    def at(self, item: FormQuestion | FormGroup, column: str) -> str:
        return self.form.where(item.row, column)

    # -- questions ---------------------------------------------------------------------------
    def question_type(self, q: FormQuestion) -> tuple[str, dict[str, dict[str, Any]]]:
        if q.kind in ("select_one", "select_multiple"):
            choices = self.form.choices[q.list_name]
            options = {c.name: {"label": c.label, "counts": c.counts} for c in choices}
            if q.kind == "select_one":
                for fixed, spec in FIXED_OPTIONS.items():
                    if options == {code: {"label": o["label"], "counts": o.get("counts", True)} for code, o in spec.items()} \
                            and list(options) == list(spec):
                        return fixed, {}
            return ("single" if q.kind == "select_one" else "multi"), options
        return q.kind, {}

    def shape_all(self, items: list[FormQuestion]) -> None:
        for q in items:
            if q.kind == "note":
                if q.name:
                    self.others[q.name] = "note"
                continue
            kind, options = self.question_type(q)
            codes = list(options) or list(FIXED_OPTIONS.get(kind, {}))
            self.shapes[q.name] = _Shape(kind, codes, self.range(q) if kind == "integer" else None)

    def range(self, q: FormQuestion) -> tuple[int, int] | None:
        if not q.constraint:
            return None
        bounds: dict[str, int] = {}
        parts = re.split(r"\s+and\s+", q.constraint.strip())
        for part in parts:
            match = _RANGE_BOUND.match(part)
            if not match or len(parts) != 2:
                return None
            op, number = match.group(1), int(match.group(2))
            side = "low" if op in (">=", ">") else "high"
            if side in bounds:
                return None
            bounds[side] = number + 1 if op == ">" else number - 1 if op == "<" else number
        return bounds["low"], bounds["high"]

    def question(self, q: FormQuestion, path: tuple) -> dict[str, Any] | None:
        kind, options = self.question_type(q)
        ok = True
        if not q.label:
            self.problems.append(Problem(self.at(q, "type"), f"question '{q.name}' has no label; the label is the question inspectors read"))
            ok = False
        required = q.required.strip().lower()
        if required and required not in YES | NO:
            self.problems.append(Problem(self.at(q, "required"), f"required is '{q.required}'; write yes or no "
                                         "(audit has no conditional required)"))
            ok = False
        if kind in ("single", "multi") and len(options) < 2:
            count = f"{len(options)} choice{'' if len(options) == 1 else 's'}"
            self.problems.append(Problem(self.at(q, "type"), f"list '{q.list_name}' has {count}; a question needs at least two"))
            ok = False
        value_range = None
        if kind == "integer":
            value_range = self.range(q)
            if value_range is None:
                where = self.at(q, "constraint") if q.constraint else self.at(q, "type")
                shown = f"constraint '{q.constraint}' is not a range" if q.constraint else "an integer question needs a constraint giving its range"
                self.problems.append(Problem(where, f"{shown}; write it as . >= MIN and . <= MAX, e.g. . >= 0 and . <= 120"))
                ok = False
            elif value_range[0] > value_range[1]:
                self.problems.append(Problem(self.at(q, "constraint"), f"constraint '{q.constraint}' allows no number"))
                ok = False
        elif q.constraint:
            self.problems.append(Problem(self.at(q, "constraint"), f"a constraint is read only on integer questions (as their range); "
                                         f"audit cannot keep this one on a {q.kind} question; clear the cell"))
            ok = False
        rule = self.rule(q, "relevant") if q.relevant else None
        if q.relevant and rule is None:
            ok = False
        if not ok:
            return None
        prompts = [line.strip() for text in (q.hint, q.guidance_hint) for line in text.splitlines() if line.strip()]
        for key, column in (("id", "name"), ("type", "type"), ("text", "label"), ("prompts", "hint"), ("required", "required"),
                            ("options", "type"), ("range", "constraint"), ("applies_if", "relevant")):
            self.tags[path + (key,)] = self.at(q, column)
        for choice in self.form.choices.get(q.list_name or "", []):
            self.tags[path + ("options", choice.name)] = choice.where
        return {
            "id": q.name, "type": kind, "text": q.label, "prompts": prompts, "required": required in YES,
            "options": options, "range": list(value_range) if value_range else None,
            "applies_if": rule_text(rule) if rule is not None else None,
        }

    def rule(self, item: FormQuestion | FormGroup, column: str) -> Node | None:
        source = item.relevant
        where = self.at(item, column)
        try:
            tree = parse_xpath(source)
            refs = refs_in(tree)
            if any(ref.name in self.form.refused for ref in refs):
                return None  # reads a row already reported as refused
            itself = next((ref for ref in refs if isinstance(item, FormQuestion) and ref.name == item.name), None)
            if itself is not None:
                raise XPathError(itself.column, f"reads ${{{item.name}}} itself; relevant decides whether the question is "
                                 "asked, so it may only read other questions")
            return translate(tree, self.shapes, self.others)
        except XPathError as exc:
            self.problems.append(Problem(where, f"relevant `{' '.join(source.split())}` {exc}"))
            return None

    # -- sections ----------------------------------------------------------------------------
    def sections(self) -> list[_Section]:
        """Groups flattened into sections: a run of items with the same enclosing groups is one section."""
        out: list[_Section] = []
        used_ids: dict[str, int] = {}

        def new_id(base: str) -> str:
            count = used_ids.get(base, 0) + 1
            used_ids[base] = count
            return base if count == 1 else f"{base}_{count}"

        def walk(children, groups: tuple[FormGroup, ...]) -> None:
            current: _Section | None = None
            for child in children:
                if isinstance(child, FormGroup):
                    walk(child.children, groups + (child,))
                    current = None
                    continue
                if current is None:
                    inner = groups[-1] if groups else None
                    first = inner is not None and not any(s.groups == groups for s in out)
                    title = (inner.label or inner.name) if inner else (self.form.settings.get("form_title").value
                                                                        if self.form.settings.get("form_title") else "Questions")
                    if inner is not None and not inner.label and first:
                        self.form.warnings.append(f"{self.at(inner, 'type')}: group '{inner.name}' has no label; its name is the section title")
                    current = _Section(new_id(inner.name if inner else "main"), title, (inner.hint or None) if first else None, groups)
                    out.append(current)
                current.items.append(child)

        walk(self.form.children, ())
        return out

    def section_rule(self, section: _Section) -> Node | None | bool:
        rules: list[Node] = []
        for group in section.groups:
            if group.relevant:
                rule = self.rule(group, "relevant")
                if rule is None:
                    return False
                inside = sorted(names_in(rule) & _question_names(group))
                if inside:
                    self.problems.append(Problem(self.at(group, "relevant"), f"group '{group.name}': relevant reads "
                                                 f"${{{inside[0]}}}, a question inside the group; a group's relevant may "
                                                 "only read questions outside it"))
                    return False
                rules.append(rule)
        if not rules:
            return None
        parts: list[Node] = []
        for rule in rules:
            parts.extend(rule.parts if isinstance(rule, All) else [rule])
        return parts[0] if len(parts) == 1 else All(tuple(parts))

    def build(self) -> dict[str, Any] | None:
        sections = self.sections()
        if not sections and self.form.survey is not None and not self.problems:
            self.problems.append(Problem(f"{self.form.path}:{self.form.survey.name}!A1", "the survey sheet has no questions"))
        for section in sections:
            self.shape_all(section.items)
        question_names = set(self.shapes)
        rubric_sections = []
        for s_index, section in enumerate(sections):
            path = ("sections", s_index)
            if section.id in question_names:
                group = section.groups[-1] if section.groups else None
                where = self.at(group, "name") if group else f"{self.form.path}:survey"
                self.problems.append(Problem(where, f"group '{section.id}' has the name of a question; names must be unique"))
            questions_items = [q for q in section.items if q.kind != "note"]
            if not questions_items:
                note = section.items[0]
                self.problems.append(Problem(self.at(note, "label"), "a note with no question in its group; audit shows notes under a question"))
                continue
            rule = self.section_rule(section)
            prompts_for = self.note_prompts(section)
            questions = []
            for q_index, q in enumerate(questions_items):
                built = self.question(q, path + ("questions", q_index))
                if built is not None:
                    built["prompts"] = prompts_for.get(q.name, []) + built["prompts"]
                    questions.append(built)
            if section.groups:
                group = section.groups[-1]
                for key, column in (("id", "name"), ("title", "label"), ("description", "hint"), ("applies_if", "relevant")):
                    self.tags[path + (key,)] = self.at(group, column)
            rubric_sections.append({
                "id": section.id, "title": section.title, "description": section.description,
                "applies_if": None if rule is None or rule is False else rule_text(rule),
                "questions": questions,
            })
        return self.header() | {"sections": rubric_sections}

    def note_prompts(self, section: _Section) -> dict[str, list[str]]:
        """Each note's text, as prompts of the next question in its section (or the last, at the end)."""
        prompts: dict[str, list[str]] = {}
        pending: list[str] = []
        last = None
        for item in section.items:
            if item.kind == "note":
                if item.relevant:
                    self.problems.append(Problem(self.at(item, "relevant"), "a note's relevant cannot be kept: audit shows a note "
                                                 "as guidance under the next question; clear the cell"))
                pending += [line.strip() for text in (item.label, item.hint, item.guidance_hint) for line in text.splitlines() if line.strip()]
                continue
            if pending:
                prompts.setdefault(item.name, []).extend(pending)
                pending = []
            last = item.name
        if pending and last is not None:
            prompts.setdefault(last, []).extend(pending)
        return prompts

    def header(self) -> dict[str, Any]:
        settings = self.form.settings
        out: dict[str, Any] = {}
        for key, column in (("id", "form_id"), ("version", "version"), ("title", "form_title"), ("description", "description")):
            cell = settings.get(column)
            if cell is None:
                if key != "description" and settings:
                    self.problems.append(Problem(f"{self.form.path}:settings", f"settings has no {column}; add it "
                                                 f"(it becomes the rubric's {key})"))
                out[key] = None
                continue
            self.tags[(key,)] = cell.where
            out[key] = cell.value
        form_id = out.get("id")
        if form_id and not re.match(RUBRIC_ID_PATTERN, form_id):
            suggestion = re.sub(r"[^a-z0-9_.\-]", "-", form_id.lower()).strip("-_.") or "my-rubric"
            self.problems.append(Problem(settings["form_id"].where, f"form_id '{form_id}' must be lowercase letters, digits, _ . or -, "
                                         f"starting with a letter or digit (e.g. {suggestion}); it becomes the rubric id"))
        return out


def _question_names(group: FormGroup) -> set[str]:
    names: set[str] = set()
    for child in group.children:
        names |= _question_names(child) if isinstance(child, FormGroup) else {child.name}
    return names


def form_rubric(form: Form) -> tuple[dict[str, Any], dict[tuple, str]]:
    """The rubric (as plain data) and each key's cell; problems go onto ``form.problems``."""
    builder = _Builder(form)
    return builder.build(), builder.tags


# --- step 3: the rubric's YAML, checked by the rubric loader ----------------------------------------


def import_form(path: str | Path, shown: str | None = None) -> ImportResult:
    """Read an XLSForm and return the rubric YAML; raise :class:`Problems` listing every refused cell."""
    shown = shown or str(path)
    form = read_form(path, shown)
    data, tags = form_rubric(form)
    _raise(form.problems, shown)
    header = [f"Imported from {Path(shown).name} by `audit rubric import`. Format: docs/rubric-format.md.",
              "Question ids and option codes are a contract once data exists; change wording freely."]
    written = write_rubric(data, header, tags)
    try:
        rubric = parse_rubric(written.text, shown)
    except Problems as exc:
        mapped = []
        for problem in exc.problems:
            line = problem.where.rsplit(":", 1)[-1]
            cell = written.tags.get(int(line)) if line.isdigit() else None
            mapped.append(Problem(cell or shown, problem.message))
        _raise(mapped, shown)
        raise
    return ImportResult(written.text, rubric, form.warnings)


def _raise(problems: list[Problem], shown: str) -> None:
    if problems:
        unique = list(dict.fromkeys(problems))
        noun = "problem" if len(unique) == 1 else "problems"
        raise Problems(unique, summary=f"{shown}: {len(unique)} {noun}; nothing was written")
