"""Rubrics: YAML files loaded into validated pydantic models.

See ``docs/rubric-format.md`` for the format. Loading reports every problem at
once, each as ``file:line: question 'id': message``.
"""

from __future__ import annotations

import functools
import graphlib
import hashlib
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from audit.errors import Problem, Problems, did_you_mean
from audit.rules import Rule, RuleError, check_rule, parse_rule
from audit.yamlsource import Loc, YamlDocument, parse_yaml, read_yaml, validation_message

QuestionType = Literal["yes_no", "yes_no_na", "single", "multi", "integer", "text", "date"]
QUESTION_TYPES: tuple[str, ...] = QuestionType.__args__  # type: ignore[attr-defined]
ID_PATTERN = r"^[a-z][a-z0-9_]*$"
CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
RUBRIC_ID_PATTERN = r"^[a-z0-9][a-z0-9_.\-]*$"
RESERVED_IDS = {"and", "or", "not", "in", "is", "if", "else", "true", "false", "none", "lambda"}

FIXED_OPTIONS: dict[str, dict[str, dict[str, Any]]] = {
    "yes_no": {"yes": {"label": "Yes"}, "no": {"label": "No"}},
    "yes_no_na": {"yes": {"label": "Yes"}, "no": {"label": "No"}, "na": {"label": "Not applicable", "counts": False}},
}
CHOICE_TYPES = {"yes_no", "yes_no_na", "single", "multi"}


class Option(BaseModel):
    """One answer option. ``counts: false`` keeps it out of every percentage's base."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    label: str = Field(min_length=1)
    counts: bool = True


class Question(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=ID_PATTERN)
    type: QuestionType
    text: str = Field(min_length=1)
    prompts: list[str] = Field(default_factory=list)
    required: bool = True
    options: dict[str, Option] = Field(default_factory=dict)
    range: tuple[int, int] | None = None
    applies_if: str | None = None

    _section_id: str = PrivateAttr(default="")
    _rule: Rule | None = PrivateAttr(default=None)
    _labels: dict[str, str] = PrivateAttr(default_factory=dict)

    @field_validator("id")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in RESERVED_IDS:
            raise ValueError(f"'{value}' is a reserved word in rules; choose another id")
        return value

    @field_validator("options", mode="before")
    @classmethod
    def _short_options(cls, value: Any) -> Any:
        # "code: Label" is the short form of "code: {label: Label}"
        if isinstance(value, dict):
            for code, opt in value.items():
                # YAML 1.1 reads unquoted yes/no/on/off/true/false as booleans and ~ as null
                if isinstance(code, bool) or code is None:
                    raise ValueError(
                        f"an option code was read by YAML as {str(code).lower()} (unquoted yes, no, on, off, true, "
                        "false and ~ are); quote the code, e.g. 'yes': Yes"
                    )
                if isinstance(opt, bool):
                    raise ValueError(f"the label of option '{code}' was read by YAML as {str(opt).lower()}; quote it, e.g. {code}: 'Yes'")
            return {str(code): ({"label": opt} if isinstance(opt, str) else opt) for code, opt in value.items()}
        return value

    @field_validator("options")
    @classmethod
    def _codes_are_codes(cls, value: dict[str, Option]) -> dict[str, Option]:
        import re

        for code in value:
            if not re.match(CODE_PATTERN, code):
                raise ValueError(f"option code '{code}' must be letters, digits, _ . or -")
        return value

    @model_validator(mode="after")
    def _options_fit_type(self) -> "Question":
        if self.type in FIXED_OPTIONS:
            if self.options:
                raise ValueError(f"{self.type} questions have fixed options {', '.join(FIXED_OPTIONS[self.type])}; remove 'options'")
            self.options = {code: Option(**spec) for code, spec in FIXED_OPTIONS[self.type].items()}
        elif self.type in ("single", "multi"):
            if len(self.options) < 2:
                raise ValueError(f"{self.type} questions need 'options' with at least two codes")
            first_with: dict[str, str] = {}
            for code, option in self.options.items():
                other = first_with.setdefault(option.label.casefold(), code)
                if other != code:  # imports accept labels, so each must name one option
                    raise ValueError(f"options '{other}' and '{code}' have the same label '{option.label}'; give each its own label")
        elif self.options:
            raise ValueError(f"{self.type} questions take no 'options'")
        if self.type == "integer":
            if self.range is None:
                raise ValueError("integer questions need 'range: [min, max]'")
            if self.range[0] > self.range[1]:
                raise ValueError(f"range [{self.range[0]}, {self.range[1]}] has its minimum above its maximum")
        elif self.range is not None:
            raise ValueError(f"'range' is only for integer questions, not {self.type}")
        self._labels = {opt.label.casefold(): code for code, opt in self.options.items()}
        return self

    # --- reading ---------------------------------------------------------------------
    @property
    def section_id(self) -> str:
        return self._section_id

    @property
    def rule(self) -> Rule | None:
        return self._rule

    @property
    def option_codes(self) -> list[str]:
        return list(self.options)

    def option_code_for(self, text: str) -> str | None:
        """The code for a code or label given in any case, or None."""
        if text in self.options:
            return text
        folded = text.strip().casefold()
        for code in self.options:
            if code.casefold() == folded:
                return code
        return self._labels.get(folded)

    def label_for(self, code: str) -> str:
        option = self.options.get(code)
        return option.label if option else str(code)

    def counts(self, code: str) -> bool:
        option = self.options.get(code)
        return option.counts if option else True

    @property
    def is_choice(self) -> bool:
        return self.type in CHOICE_TYPES


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=ID_PATTERN)
    title: str = Field(min_length=1)
    description: str | None = None
    applies_if: str | None = None
    questions: list[Question]

    _rule: Rule | None = PrivateAttr(default=None)

    @property
    def rule(self) -> Rule | None:
        return self._rule


class _SectionHeader(BaseModel):
    """A section validated without its questions, which are validated one by one."""

    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=ID_PATTERN)
    title: str = Field(min_length=1)
    description: str | None = None
    applies_if: str | None = None
    questions: list[Any] = Field(min_length=1)


class _RubricHeader(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(pattern=RUBRIC_ID_PATTERN)
    version: str | int
    title: str = Field(min_length=1)
    description: str | None = None
    sections: list[Any] = Field(min_length=1)

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_written(cls, value: Any) -> Any:
        # YAML reads 1.10 as 1.1: only quotes keep what was written (1.0 was always read as 1)
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(f"version {value} is read as a decimal number; quote it, e.g. version: '{value}'")
        return value


class Rubric(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    version: str
    title: str
    description: str | None = None
    sections: list[Section]

    _text: str = PrivateAttr(default="")
    _path: str = PrivateAttr(default="")
    _by_id: dict[str, Question] = PrivateAttr(default_factory=dict)
    _order: list[str] = PrivateAttr(default_factory=list)
    _evaluation_order: list[str] = PrivateAttr(default_factory=list)
    _position: dict[str, int] = PrivateAttr(default_factory=dict)
    _sections: dict[str, Section] = PrivateAttr(default_factory=dict)
    _plan: list = PrivateAttr(default_factory=list)

    # --- reading ---------------------------------------------------------------------
    @property
    def text(self) -> str:
        return self._text

    @property
    def path(self) -> str:
        return self._path

    @property
    def sha256(self) -> str:
        return text_sha256(self._text)

    @property
    def questions(self) -> list[Question]:
        return [self._by_id[qid] for qid in self._order]

    @property
    def question_ids(self) -> list[str]:
        return list(self._order)

    @property
    def evaluation_plan(self) -> list[tuple[str, str, Rule | None, Rule | None]]:
        """(question id, section id, section rule, question rule) in evaluation order."""
        private = self.__pydantic_private__  # asked once per evaluation: see question() below
        plan = private["_plan"]
        if not plan and private["_evaluation_order"]:
            plan = private["_plan"] = [
                (qid, self._by_id[qid].section_id, self.section_of(qid).rule, self._by_id[qid].rule)
                for qid in self._evaluation_order
            ]
        return plan

    @property
    def evaluation_order(self) -> list[str]:
        """Question ids ordered so that every rule's inputs come before it."""
        return self._evaluation_order

    def position(self, question_id: str) -> int:
        return self._position[question_id]

    # These two run once per answer on bulk paths (import, counting): reading the
    # private dict directly skips pydantic's __getattr__, 25x faster.
    def question(self, question_id: str) -> Question:
        return self.__pydantic_private__["_by_id"][question_id]

    def has_question(self, question_id: str) -> bool:
        return question_id in self.__pydantic_private__["_by_id"]

    def section_of(self, question_id: str) -> Section:
        return self._sections[self._by_id[question_id].section_id]

    def check_rule(self, rule: Rule, also_known: frozenset[str] = frozenset()) -> list[str]:
        return check_rule(rule, self._by_id, also_known)

    def _index(self) -> None:
        self._by_id = {}
        self._order = []
        for section in self.sections:
            for question in section.questions:
                question._section_id = section.id
                self._by_id[question.id] = question
                self._order.append(question.id)
        self._position = {qid: i for i, qid in enumerate(self._order)}
        self._sections = {section.id: section for section in self.sections}


# --- loading -------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def text_sha256(text: str) -> str:
    # a rubric's identity is asked for once per case on bulk paths; hash each text once
    return hashlib.sha256(text.encode("utf-8")).hexdigest()



def _pydantic_problems(doc: YamlDocument, error: ValidationError, prefix: Loc, context: str) -> list[Problem]:
    problems = []
    for err in error.errors(include_url=False):
        loc = tuple(err["loc"])
        key = loc[-1] if loc else ""
        kind = err["type"]
        allowed = list(Option.model_fields) if loc[:1] == ("options",) and len(loc) == 3 else _known_keys(prefix)
        if loc and loc[0] == "range" and kind not in ("value_error", "extra_forbidden"):
            message = "range must be two whole numbers, [min, max]"
        elif kind in ("model_type", "dict_type") and not loc:
            noun = "a rubric" if not prefix else "a section" if len(prefix) == 2 else "a question"
            message = f"{noun} must be a mapping with keys {', '.join(_known_keys(prefix))}"
        elif kind == "model_type" and len(loc) == 2 and loc[0] == "options":
            message = f"option '{key}' needs a label: write `{key}: Label` or `{key}: {{label: Label, counts: false}}`"
        elif kind == "literal_error" and key == "type":
            message = f"type '{err.get('input')}' is not one of {', '.join(QUESTION_TYPES)}{did_you_mean(err.get('input'), QUESTION_TYPES)}"
        elif kind == "string_pattern_mismatch" and key == "id" and not prefix:
            message = f"rubric id '{err.get('input')}' must be lowercase letters, digits, _ . or -, starting with a letter or digit"
        elif kind == "string_pattern_mismatch" and key == "id":
            message = f"id '{err.get('input')}' must be lowercase letters, digits and _, starting with a letter"
        else:
            message = validation_message(err, allowed)
        # "question 'x'" context, then the line of the key the error is about
        problem = Problem(doc.where(prefix + loc), f"{context}{message}")
        if problem not in problems:  # e.g. both items of a bad range
            problems.append(problem)
    return problems


def _known_keys(prefix: Loc) -> list[str]:
    if not prefix:
        return list(_RubricHeader.model_fields)
    if len(prefix) == 2:
        return list(_SectionHeader.model_fields)
    return list(Question.model_fields)


def _context(kind: str, raw: Any) -> str:
    if isinstance(raw, dict) and isinstance(raw.get("id"), str):
        return f"{kind} '{raw['id']}': "
    return ""


def parse_rubric(text: str, path: str = "<rubric>") -> Rubric:
    """Parse and validate rubric YAML text; raise :class:`Problems` listing every error."""
    doc = parse_yaml(text, path)
    problems: list[Problem] = []
    if not isinstance(doc.data, dict):
        empty = "the file is empty; " if doc.data is None else ""
        raise Problems([Problem(doc.where(), f"{empty}a rubric is a mapping with id, version, title and sections")])
    try:
        header = _RubricHeader.model_validate(doc.data)
    except ValidationError as exc:
        problems += _pydantic_problems(doc, exc, (), "")
        header = None
    raw_sections = doc.data.get("sections") if isinstance(doc.data.get("sections"), list) else []

    sections: list[Section] = []
    section_locs: dict[str, Loc] = {}
    question_locs: dict[str, Loc] = {}
    raw_ids: set[str] = set()  # ids of every question, valid or not
    first_locs: dict[str, Loc] = {}
    for s_index, raw_section in enumerate(raw_sections):
        s_loc: Loc = ("sections", s_index)
        try:
            section_header = _SectionHeader.model_validate(raw_section)
        except ValidationError as exc:
            problems += _pydantic_problems(doc, exc, s_loc, _context("section", raw_section))
            section_header = None
        raw_questions = raw_section.get("questions") if isinstance(raw_section, dict) else None
        questions: list[Question] = []
        for q_index, raw_question in enumerate(raw_questions if isinstance(raw_questions, list) else []):
            q_loc = s_loc + ("questions", q_index)
            raw_id = raw_question.get("id") if isinstance(raw_question, dict) else None
            if isinstance(raw_id, str):
                if raw_id in raw_ids:
                    first = doc.line_of(first_locs[raw_id])
                    problems.append(Problem(doc.where(q_loc + ("id",)), f"question '{raw_id}': duplicate id (first used at line {first}); ids must be unique"))
                    continue
                raw_ids.add(raw_id)
                first_locs[raw_id] = q_loc + ("id",)
            try:
                question = Question.model_validate(raw_question)
            except ValidationError as exc:
                problems += _pydantic_problems(doc, exc, q_loc, _context("question", raw_question))
                continue
            question_locs[question.id] = q_loc
            questions.append(question)
            problems += _ambiguous_options(doc, question, q_loc)
        if section_header is None:
            continue
        if section_header.id in section_locs:
            first = doc.line_of(section_locs[section_header.id])
            problems.append(Problem(doc.where(s_loc + ("id",)), f"section '{section_header.id}': duplicate id (first used at line {first})"))
            continue
        if section_header.id in question_locs:
            problems.append(Problem(doc.where(s_loc + ("id",)), f"section '{section_header.id}': id is also a question id; ids must be unique"))
        section_locs[section_header.id] = s_loc
        section = Section.model_construct(**{**section_header.model_dump(), "questions": questions})
        section._rule = None
        sections.append(section)

    rubric = Rubric.model_construct(
        id=header.id if header else "?",
        version=str(header.version) if header else "?",
        title=header.title if header else "?",
        description=header.description if header else None,
        sections=sections,
    )
    rubric._text = text
    rubric._path = path
    rubric._index()

    # Rules: parse, then check names, codes and types against the questions.
    dependencies: dict[str, set[str]] = {}
    failed = frozenset(raw_ids)
    for section in sections:
        s_loc = section_locs[section.id]
        section._rule = _compile_rule(doc, section.applies_if, s_loc, f"section '{section.id}': ", rubric, problems, failed)
    for question in rubric.questions:
        q_loc = question_locs[question.id]
        question._rule = _compile_rule(doc, question.applies_if, q_loc, f"question '{question.id}': ", rubric, problems, failed)
        section = rubric.section_of(question.id)
        names: set[str] = set()
        for rule in (section.rule, question.rule):
            if rule is not None:
                names |= {n for n in rule.names if rubric.has_question(n)}
        dependencies[question.id] = names
    order = _evaluation_order(doc, dependencies, question_locs, problems)

    if problems:
        problems.sort(key=lambda p: _line_key(p.where))
        noun = "problem" if len(problems) == 1 else "problems"
        raise Problems(problems, summary=f"{path}: {len(problems)} {noun}; nothing was loaded")
    rubric._evaluation_order = order
    return rubric


def _ambiguous_options(doc: YamlDocument, question: Question, q_loc: Loc) -> list[Problem]:
    """Imports take a code in any case (``option_code_for``): each must name one option."""
    if question.type not in ("single", "multi"):
        return []
    problems = []
    by_folded: dict[str, str] = {}
    for code in question.options:
        other = by_folded.setdefault(code.casefold(), code)
        if other != code:
            problems.append(Problem(
                doc.where(q_loc + ("options", code)),
                f"question '{question.id}': option codes '{other}' and '{code}' differ only in case; "
                "imports read codes ignoring case, so give each option its own code",
            ))
    return problems


def _line_key(where: str) -> int:
    tail = where.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _compile_rule(doc, source, loc, context, rubric, problems, also_known=frozenset()) -> Rule | None:
    if source is None:
        return None
    where = doc.where(loc + ("applies_if",))
    try:
        rule = parse_rule(source)
    except RuleError as exc:
        problems.append(Problem(where, f"{context}{exc}"))
        return None
    problems += [Problem(where, f"{context}{message}") for message in rubric.check_rule(rule, also_known)]
    return rule


def _evaluation_order(doc, dependencies: dict[str, set[str]], locs: dict[str, Loc], problems: list[Problem]) -> list[str]:
    graph = {qid: set(deps) for qid, deps in dependencies.items()}
    while True:
        try:
            return list(graphlib.TopologicalSorter(graph).static_order())
        except graphlib.CycleError as exc:
            cycle = exc.args[1]  # [a, b, ..., a]
            first = cycle[0]
            problems.append(
                Problem(
                    doc.where(locs[first] + ("applies_if",)),
                    f"question '{first}': rules depend on each other in a cycle: {' -> '.join(cycle)}; "
                    "a question's rule (or its section's) may only read questions that do not read it back",
                )
            )
            # break this cycle and look for others, so every cycle is reported at once
            for qid in cycle[:-1]:
                graph[qid] = set()


def load_rubric(path: str | Path) -> Rubric:
    doc = read_yaml(path)
    return parse_rubric(doc.text, str(path))


# --- finding shipped rubrics and figure definitions ----------------------------------------


def search_path(kind: str = "rubrics") -> list[Path]:
    """Folders searched for ``kind`` ('rubrics' or 'exports'), first match wins.

    ``$AUDIT_RUBRICS`` (or ``$AUDIT_EXPORTS``) first, then ``./kind``, then the
    project's own folder (an editable install), then the copy inside the wheel.
    """
    paths: list[Path] = []
    env = os.environ.get(f"AUDIT_{kind.upper()}")
    if env:
        paths += [Path(p) for p in env.split(os.pathsep) if p]
    here = Path(__file__).resolve().parent
    paths += [Path.cwd() / kind, here.parent / kind, here / "_bundled" / kind]
    unique: list[Path] = []
    for p in paths:
        if p not in unique and p.is_dir():
            unique.append(p)
    return unique


def find_rubric(rubric_id: str) -> Path:
    """The file of the rubric with this id (or this path), or a Problems error."""
    candidate = Path(rubric_id)
    if candidate.suffix in (".yaml", ".yml") and _is_file(candidate):
        return candidate
    seen: list[str] = []
    for folder in search_path("rubrics"):
        direct = folder / f"{rubric_id}.yaml"
        if _is_file(direct):
            return direct
        for path in sorted(folder.glob("*.y*ml")):
            seen.append(path.stem)
    raise Problems([Problem("", f"no rubric with id '{rubric_id}'{did_you_mean(rubric_id, seen)}; known: {', '.join(sorted(set(seen))) or 'none'}")])


def _is_file(path: Path) -> bool:
    """``path.is_file()``, False for a name the system cannot even look up (too long, a NUL)."""
    try:
        return path.is_file()
    except (OSError, ValueError):
        return False


def load_rubric_by_id(rubric_id: str) -> Rubric:
    return load_rubric(find_rubric(rubric_id))
