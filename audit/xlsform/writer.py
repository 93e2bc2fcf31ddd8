"""``audit rubric export``: a rubric written as an XLSForm.

Each section is a group (its ``applies_if`` the group's ``relevant``, its
description the group's ``hint``); each question a survey row; options go
to the choices sheet, one list per question (``yes_no`` and ``yes_no_na``
questions share a list), with a ``counts`` column when some option never
counts; id, title, version and description go to the settings sheet. Rules
become ``relevant`` expressions (:mod:`.xpath`). Reading the form back with
``audit rubric import`` gives a rubric that evaluates identically.

:func:`form_cells` gives the cell values (what the tests compare);
:func:`write_form` writes them as a workbook.
"""

from __future__ import annotations

import re
from pathlib import Path

from audit.errors import Problem, Problems
from audit.outfile import replacing
from audit.rubric import FIXED_OPTIONS, Question, Rubric
from audit.ruletree import RuleTreeError, tree_of
from audit.xlsform.xpath import xpath_of
from audit.yamlsource import parse_yaml

SURVEY_HEADERS = ("type", "name", "label", "hint", "required", "relevant", "constraint")
CHOICES_HEADERS = ("list_name", "name", "label")
SETTINGS_HEADERS = ("form_id", "form_title", "version")
COLUMN_WIDTHS = {"type": 28, "name": 26, "label": 60, "hint": 40, "required": 10, "relevant": 44, "constraint": 24,
                 "list_name": 26, "counts": 8, "form_id": 26, "form_title": 60, "version": 10, "description": 60}
# characters an xlsx cell cannot hold
_ILLEGAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

Cells = dict[str, list[list[str]]]  # sheet name -> rows (the header first)


def form_cells(rubric: Rubric) -> Cells:
    """The XLSForm's sheets as rows of text; raise :class:`Problems` for what XLSForm cannot hold."""
    problems: list[Problem] = []
    doc = parse_yaml(rubric.text, rubric.path or "<rubric>") if rubric.text else None

    def where(loc: tuple) -> str:
        return doc.where(loc) if doc is not None else (rubric.path or "<rubric>")

    lists = _list_names(rubric)
    survey: list[list[str]] = [list(SURVEY_HEADERS)]
    for s_index, section in enumerate(rubric.sections):
        s_loc = ("sections", s_index)
        relevant = _relevant(rubric, section.rule, where(s_loc + ("applies_if",)), f"section '{section.id}': ", problems)
        survey.append(["begin group", section.id, section.title, section.description or "", "", relevant, ""])
        for q_index, question in enumerate(section.questions):
            q_loc = s_loc + ("questions", q_index)
            relevant = _relevant(rubric, question.rule, where(q_loc + ("applies_if",)), f"question '{question.id}': ", problems)
            kind = {"single": "select_one", "yes_no": "select_one", "yes_no_na": "select_one", "multi": "select_multiple"}.get(question.type)
            survey.append([
                f"{kind} {lists[question.id]}" if kind else question.type,
                question.id,
                question.text,
                "\n".join(question.prompts),
                "yes" if question.required else "no",
                relevant,
                f". >= {question.range[0]} and . <= {question.range[1]}" if question.range else "",
            ])
        survey.append(["end group", "", "", "", "", "", ""])

    never_counts = any(not option.counts for q in rubric.questions for option in q.options.values())
    choices: list[list[str]] = [list(CHOICES_HEADERS) + (["counts"] if never_counts else [])]
    written: set[str] = set()
    for question in rubric.questions:
        name = lists.get(question.id)
        if name is None or name in written:
            continue
        written.add(name)
        for code, option in question.options.items():
            choices.append([name, code, option.label] + (["no" if not option.counts else ""] if never_counts else []))

    settings_headers = list(SETTINGS_HEADERS) + (["description"] if rubric.description else [])
    settings = [settings_headers, [rubric.id, rubric.title, str(rubric.version)] + ([rubric.description] if rubric.description else [])]

    cells = {"survey": survey, "choices": choices, "settings": settings}
    for sheet, rows in cells.items():
        for r_index, row in enumerate(rows, start=1):
            for value in row:
                if _ILLEGAL.search(value):
                    problems.append(Problem(rubric.path or "<rubric>", f"{sheet} row {r_index}: {value[:40]!r} holds a control "
                                            "character that a spreadsheet cell cannot hold; remove it from the rubric"))
    if problems:
        noun = "problem" if len(problems) == 1 else "problems"
        raise Problems(problems, summary=f"{rubric.path or 'rubric'}: {len(problems)} {noun}; nothing was written")
    return cells


def _list_names(rubric: Rubric) -> dict[str, str]:
    """The choice list of each choice question: its own id, or a shared yes_no / yes_no_na list."""
    names = {q.id: q.id for q in rubric.questions if q.type in ("single", "multi")}
    taken = set(names.values())
    shared: dict[str, str] = {}
    for fixed in FIXED_OPTIONS:
        name, n = fixed, 2
        while name in taken:
            name, n = f"{fixed}_{n}", n + 1
        shared[fixed] = name
        taken.add(name)
    for q in rubric.questions:
        if q.type in FIXED_OPTIONS:
            names[q.id] = shared[q.type]
    return names


def _relevant(rubric: Rubric, rule, where: str, context: str, problems: list[Problem]) -> str:
    if rule is None:
        return ""
    questions: dict[str, Question] = {q.id: q for q in rubric.questions}
    try:
        return xpath_of(tree_of(rule), questions)
    except RuleTreeError as exc:
        problems.append(Problem(where, f"{context}rule `{rule.source}`: {exc}"))
        return ""


def write_form(rubric: Rubric, path: str | Path) -> Cells:
    """Write the rubric as an XLSForm workbook at ``path`` (whole or not at all); returns its cells."""
    import openpyxl
    from openpyxl.styles import Alignment, Font

    cells = form_cells(rubric)
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for name, rows in cells.items():
        sheet = workbook.create_sheet(name)
        for r_index, row in enumerate(rows, start=1):
            for c_index, value in enumerate(row, start=1):
                if not value:
                    continue
                cell = sheet.cell(row=r_index, column=c_index, value=value)
                cell.data_type = "s"  # text, never a formula, whatever it starts with
                if r_index == 1:
                    cell.font = Font(bold=True)
                elif "\n" in value:
                    cell.alignment = Alignment(wrap_text=True, vertical="top")
        for c_index, header in enumerate(rows[0], start=1):
            sheet.column_dimensions[openpyxl.utils.get_column_letter(c_index)].width = COLUMN_WIDTHS.get(header, 20)
        sheet.freeze_panes = "A2"
    with replacing(path) as temp:
        workbook.save(temp)
    return cells
