"""Datasette metadata for audit databases: descriptions, labels, and the figures as canned queries.

``audit datasette-metadata DB... [--figures FILE] -o metadata.yaml`` writes a
file for ``datasette serve DB... --metadata metadata.yaml`` (Datasette 0.65):

* every table, view and column described, in the words of docs/database.md;
* label columns, so that Datasette shows a case's reference where an
  answer names its case, and a rubric's title where a question names its
  rubric;
* ``answers_readable`` as the place to start: the database page links to
  it first, with facets by site, section, question and state;
* one canned query per figure of the figure file (those of its columns
  whose dataset is this database's rubric), returning the same counts,
  bases and percentages as ``audit export``: read from ``answers.counted``,
  never recomputed; each column's filter is the rule translated by
  :mod:`audit.rule_sql`.
"""

from __future__ import annotations

import html
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audit.errors import AuditError
from audit.rule_sql import cases_passing, identifier, sql_literal

DATASETTE_SERIES = "0.65"
START_VIEW = "answers_readable"


# --- descriptions: docs/database.md's words ---------------------------------------------------------


@dataclass(frozen=True)
class TableDoc:
    title: str
    description: str
    columns: dict[str, str]
    label_column: str | None = None
    facets: tuple[str, ...] = ()
    sort: str | None = None
    sort_desc: str | None = None
    hidden: bool = False  # storage behind a view: listed by Datasette only under "hidden tables"


CASE_COLUMNS = {
    "site": "the site the case belongs to",
    "case_ref": "the reference inspectors use; unique per site for new cases (a merge may bring a second case with the same ref, which it flags)",
    "inspector": "who audits it",
    "status": "in_progress or complete; a case can be completed only when every required question that applies is answered",
}

TABLES: dict[str, TableDoc] = {
    "answers_readable": TableDoc(
        "Answers, as people read them",
        "Every answer with its case, section, question text and option labels. Start here. A percentage's base is the "
        "answers with counted = 1.",
        {
            **CASE_COLUMNS,
            "section": "the section title",
            "question_id": "the question's id in the rubric",
            "question": "the question as inspectors read it",
            "answer": "the answer as people read it: option labels (multi-choice joined with '; '), numbers, text",
            "answer_code": "the stored JSON value: an option code, a list of codes, a number, a date or text",
            "note": "the inspector's evidence note",
            "state": "current, or retired: given before the question stopped applying (kept, never counted)",
            "applies": "1 when the question applies to this case now (the engine's verdict)",
            "counted": "1 when this answer is in the base of the question's percentages: it applies, is current and given, and its option counts",
            "answered_by": "who gave the current value",
            "answered_at": "when, in UTC",
            "case_uuid": "the case's identity, kept across merges",
            "deleted_at": "set when the case was deleted (its answers never count)",
        },
        facets=("site", "section", "question_id", "state", "counted"),
        sort="case_ref",
    ),
    "cases": TableDoc(
        "Cases",
        "One row per case.",
        {
            "id": "the case's key inside this file (answer_data and history_data point to it); not kept across merges",
            "uuid": "the case's identity, kept across merges",
            **CASE_COLUMNS,
            "created_at": "when the case was created (UTC, ISO 8601 with microseconds)",
            "updated_at": "when it last changed (UTC)",
            "rubric_id": "the id of the rubric it is answered against",
            "rubric_version": "that rubric's version",
            "rubric_sha256": "the exact rubric text it is answered against (rubrics.sha256)",
            "applicable_count": "how many questions apply to it",
            "answered_count": "how many of those are answered (progress)",
            "origin_db": "the database it was merged from, if any",
            "origin_file": "the file it was imported from, if any",
            "site_key": "the site compared as people mean it: case, width and spacing ignored",
            "ref_key": "the case_ref compared the same way; unique among live original cases",
            "duplicate_of": "for a case a merge brought with the same site and case_ref as a live case here: that case's uuid",
            "copy_of": "for a moderation copy (a blind second marking): the original case's uuid; never counted",
            "deleted_at": "when the case was deleted (kept, never counted, listed only on request)",
            "deleted_reason": "why it was deleted",
            "review_comment": "why a quality lead returned the case",
            "review_question": "the question the return is about",
        },
        label_column="case_ref", facets=("site", "status", "inspector"), sort_desc="updated_at",
    ),
    "answers": TableDoc(
        "Answers",
        "One row per answer (or note) to one question of one case. counted = 1 is the definition of 'in the base'; "
        "never recompute it.",
        {
            "case_uuid": "which case (cases.uuid)",
            "question_id": "which question",
            "value": "the answer, JSON-encoded: \"community\" (a code), [\"thinking\", \"drugs\"] (multi-choice codes in "
                     "rubric order), 23, \"2019-06-30\", \"free text\"; NULL when only a note was written",
            "note": "the inspector's evidence note",
            "answered_by": "who gave the current value",
            "answered_at": "when, in UTC",
            "state": "current, or retired: given before the question stopped applying (kept, recorded in history, never counted)",
            "applies": "1 when the question applies to this case now (the engine's verdict)",
            "counted": "1 when this answer is in the base of the question's percentages (the counting module's verdict)",
        },
        facets=("question_id", "state", "counted"),
    ),
    "history": TableDoc(
        "History",
        "One row per change, oldest first by id.",
        {
            "id": "the order of changes",
            "case_uuid": "which case",
            "question_id": "which question; empty for changes to the case itself",
            "field": "what changed: value, note, state, status or case",
            "old_value": "before (JSON for values)",
            "new_value": "after (JSON for values)",
            "changed_by": "who",
            "changed_at": "when, in UTC",
            "reason": "why: answer, note, stopped applying, status, required answer missing, created, import...",
            "origin": "where the change came from (an import file, a merged database)",
        },
        facets=("field", "reason"), sort_desc="id",
    ),
    # schema 5's compact storage behind the answers and history views (docs/database.md)
    "answer_data": TableDoc(
        "Answers as stored", "The rows behind the answers view, compact: read the answers view instead.",
        {"case_id": "which case (cases.id)", "question_key": "which question (question_keys.id)",
         "answered_at": "when: microseconds since 1970 (UTC), or the time's text", "state": "NULL while current, else retired"},
        hidden=True,
    ),
    "history_data": TableDoc(
        "History as stored", "The rows behind the history view: read the history view instead.",
        {"case_id": "which case (cases.id)"}, hidden=True,
    ),
    "question_keys": TableDoc(
        "Question keys", "Each question id this file holds, with the small integer answer_data uses for it.",
        {"id": "the key", "question_id": "the question's id in the rubric"}, hidden=True,
    ),
    "rubrics": TableDoc(
        "Rubrics",
        "One row per rubric version used in this file: the rubric travels with the data, so the database stays readable "
        "after the rubric file changes.",
        {
            "sha256": "the SHA-256 of the rubric's text: its identity",
            "rubric_id": "the rubric's id",
            "version": "its version",
            "title": "its title",
            "text": "the whole rubric file (YAML)",
            "added_at": "when it was first used in this file (UTC)",
        },
        label_column="title",
    ),
    "questions": TableDoc(
        "Questions",
        "One row per question of a stored rubric.",
        {
            "rubric_sha256": "which rubric version (rubrics.sha256)",
            "question_id": "the question's id",
            "position": "its place in the rubric (0 first)",
            "section_id": "its section's id",
            "section_title": "its section's title",
            "type": "yes_no, yes_no_na, single, multi, integer, text or date",
            "text": "the question as inspectors read it",
            "required": "1 when a case can be completed only with an answer to it (where it applies)",
            "applies_if": "its applicability rule (docs/rubric-format.md); empty when it always applies",
        },
        label_column="text",
    ),
    "options": TableDoc(
        "Options",
        "One row per answer option of a stored rubric.",
        {
            "rubric_sha256": "which rubric version (rubrics.sha256)",
            "question_id": "which question",
            "code": "the option's code, as stored in answers",
            "label": "what inspectors see and exports print",
            "counts": "0 when an answer with this option is never in a base (e.g. Not applicable)",
            "position": "its place among the question's options",
        },
        label_column="label",
    ),
    "meta": TableDoc(
        "About this file",
        "One row per setting: db_uuid (this file's identity, used by merges), schema_version, site, created_at, app.",
        {"key": "the setting", "value": "its value"},
    ),
    "merges": TableDoc(
        "Merges",
        "One row per source merged into this file.",
        {
            "id": "the order of merges",
            "merged_at": "when (UTC)",
            "source_path": "the file merged in",
            "source_db_uuid": "its identity (meta db_uuid)",
            "source_site": "its site",
            "added": "cases added",
            "unchanged": "cases already here, unchanged",
            "updated": "cases updated",
            "conflicts": "answers that disagreed (see docs/merge.md)",
            "duplicates": "cases with a case_ref already used at the site",
        },
    ),
}


# --- what a database holds ---------------------------------------------------------------------------


@dataclass
class DatabaseInfo:
    name: str  # as Datasette names it: the file's stem
    path: str
    rubric_ids: list[str]
    columns: dict[str, list[str]] = field(default_factory=dict)  # table or view -> its columns


def datasette_name(path: str | Path) -> str:
    return Path(path).stem


def describe_database(path: str | Path, conn: sqlite3.Connection) -> DatabaseInfo:
    """What the metadata needs to know of an open audit database."""
    names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name")]
    columns = {name: [r[1] for r in conn.execute(f"PRAGMA table_info({identifier(name)})")] for name in names}
    rubric_ids = sorted({r[0] for r in conn.execute("SELECT rubric_id FROM cases UNION SELECT rubric_id FROM rubrics")})
    return DatabaseInfo(datasette_name(path), str(path), rubric_ids, columns)


# --- the metadata -----------------------------------------------------------------------------------------


def metadata(databases: list[DatabaseInfo], report=None) -> dict[str, Any]:
    """The metadata document for these databases, with one canned query per figure of ``report`` (a figures.Report)."""
    seen: dict[str, str] = {}
    for db in databases:
        if db.name in seen:
            raise AuditError(f"{db.path}: has the same name in Datasette ('{db.name}') as {seen[db.name]}; "
                             "give one of them another file name")
        seen[db.name] = db.path
    out: dict[str, Any] = {
        "title": "Case audits",
        "description": "Audit databases, read-only. A percentage's base is the answers with counted = 1; "
                       "see each figure query for the report's tables.",
        "databases": {},
    }
    for db in databases:
        out["databases"][db.name] = database_metadata(db, report)
    return out


def database_metadata(db: DatabaseInfo, report=None) -> dict[str, Any]:
    tables: dict[str, Any] = {}
    for name, doc in TABLES.items():
        if name not in db.columns:
            continue
        entry: dict[str, Any] = {"title": doc.title, "description": doc.description,
                                 "columns": {c: text for c, text in doc.columns.items() if c in db.columns[name]}}
        if doc.label_column:
            entry["label_column"] = doc.label_column
        facets = [f for f in doc.facets if f in db.columns[name]]
        if facets:
            entry["facets"] = facets
        if doc.sort:
            entry["sort"] = doc.sort
        if doc.sort_desc:
            entry["sort_desc"] = doc.sort_desc
        if doc.hidden:
            entry["hidden"] = True
        tables[name] = entry
    queries = figure_queries(db, report) if report is not None else {}
    start = f"/{tilde_encode(db.name)}/{START_VIEW}"
    rubrics = ", ".join(db.rubric_ids) or "no rubric yet"
    figures = f" The figure tables of {html.escape(report.title)} are its queries below." if queries else ""
    entry = {
        "description_html": (
            f"<p>Cases audited with {html.escape(rubrics)}. Start with <a href=\"{html.escape(start)}\">{START_VIEW}</a>: "
            f"every answer with its case, question text and option labels.{figures}</p>"
            "<p>Read-only. A percentage's base is the answers with counted = 1 (docs/database.md).</p>"
        ),
        "tables": tables,
    }
    if queries:
        entry["queries"] = queries
    return entry


def tilde_encode(name: str) -> str:
    """A database name as Datasette puts it in a URL (its tilde encoding)."""
    safe = re.compile(r"[A-Za-z0-9_-]")
    return "".join(ch if safe.match(ch) else "+" if ch == " " else "".join(f"~{b:02X}" for b in ch.encode()) for ch in name)


# --- the figures ------------------------------------------------------------------------------------------


def query_name(figure_id: str, taken: set[str]) -> str:
    base = "figure_" + re.sub(r"[^A-Za-z0-9]+", "_", figure_id).strip("_")
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name


def figure_queries(db: DatabaseInfo, report) -> dict[str, Any]:
    """One canned query per figure with a column from a dataset of this database's rubric."""
    queries: dict[str, Any] = {}
    taken: set[str] = set()
    for rubric_id in db.rubric_ids:
        sharing = [name for name, dataset in report.datasets.items() if dataset.rubric_id == rubric_id]
        if len(sharing) > 1:
            raise AuditError(
                f"{db.path}: datasets {' and '.join(repr(n) for n in sharing)} of {report.path or 'the figure file'} both use "
                f"rubric {rubric_id}, and a database is matched to a dataset by its rubric; give a figure file whose "
                "datasets each use their own rubric"
            )
    for figure in report.figures:
        columns = [(index, column) for index, column in enumerate(figure.columns)
                   if report.datasets[column.dataset].rubric_id in db.rubric_ids]
        if not columns:
            continue
        others = len(figure.columns) - len(columns)
        description = [figure.note] if figure.note else []
        description += [f"{column.label or 'The column'}: {column.describe(report)}." for _, column in columns]
        if others:
            description.append(f"The figure's other {'column is' if others == 1 else f'{others} columns are'} "
                               "in the database of its own dataset.")
        description.append("The same counts, bases and percentages as audit export: the base is the answers with "
                           "counted = 1; percentages are rounded half up.")
        queries[query_name(figure.id, taken)] = {
            "title": figure.heading,
            "description": " ".join(description),
            "sql": figure_sql(figure, columns, report),
            "hide_sql": True,
        }
    return queries


def _comment(text: str) -> str:
    """Text for a SQL -- comment: one line, whatever it held."""
    return " ".join("".join(ch if ch.isprintable() else " " for ch in text).split())


def figure_sql(figure, columns: list[tuple[int, Any]], report) -> str:
    """The SQL of one figure's cells for the given columns, in the figure's row and column order.

    Mirrors ``audit export``: each column's cases are those of its dataset's
    rubric whose filter is true; a row's base is the column's answers to its
    question with ``counted = 1``; its count, those among them matching the
    row's codes or band; a row of options that never count, the visible
    answers matching it (no base, no percentage); a total row, the base.
    """
    counted_questions = sorted({row.question for s in figure.sections for row in s.rows if row.in_base or row.kind == "total"})
    visible_questions = sorted({row.question for s in figure.sections for row in s.rows if not row.in_base and row.kind != "total"})
    ctes: list[str] = []
    for position, (index, column) in enumerate(columns, start=1):
        dataset = report.datasets[column.dataset]
        types = {q.id: q.type for q in dataset.rubric.questions}
        comment = _comment(f"column {index + 1}: {column.label or 'the column'}: {column.describe(report)}")
        ctes.append(f"-- {comment}\ncolumn_{position}(uuid) AS (\n{cases_passing(column.rule, dataset.rubric_id, types, '  ')}\n)")
    ctes.append("-- the cases of each column\nmembers(col, uuid) AS (\n"
                + "\n  UNION ALL\n".join(f"  SELECT {n}, uuid FROM column_{n}" for n in range(1, len(columns) + 1)) + "\n)")
    for name, questions, condition in (("counted", counted_questions, "a.counted = 1"),
                                       ("visible", visible_questions, "a.applies = 1 AND a.state = 'current' AND a.value IS NOT NULL")):
        if not questions:
            continue
        marks = ", ".join(sql_literal(q) for q in questions)
        # cases drive the join: each case's answers are found by primary key (case_uuid, question_id)
        ctes.append(f"-- answers {'in the base' if name == 'counted' else 'a rule can see'}, tallied per column\n"
                    f"{name}(col, question_id, value, n) AS (\n"
                    f"  SELECT m.col, a.question_id, a.value, count(*)\n"
                    f"  FROM members m CROSS JOIN answers a ON a.case_uuid = m.uuid AND a.question_id IN ({marks})\n"
                    f"  WHERE {condition}\n"
                    f"  GROUP BY m.col, a.question_id, a.value\n)")
    cells: list[str] = []
    position = 0
    for section in figure.sections:
        for row in section.rows:
            for column_position, (_, column) in enumerate(columns, start=1):
                position += 1
                cells.append(_cell_sql(position, section.title, row, column.label, column_position))
    ctes.append('cells(position, section, "row", "column", count, base, has_percent) AS (\n'
                + "\n  UNION ALL\n".join(cells) + "\n)")
    return (
        f"-- {_comment(figure.heading)}\n"
        "WITH\n" + ",\n".join(ctes) + "\n"
        'SELECT section, "row", "column", count, base,\n'
        "       CASE WHEN has_percent AND base > 0 THEN (200 * count + base) / (2 * base) END AS percent\n"
        "FROM cells\nORDER BY position"
    )


def _tally(table: str, column: int, question: str, match: str | None) -> str:
    where = f"t.col = {column} AND t.question_id = {sql_literal(question)}" + (f" AND {match}" if match else "")
    return f"(SELECT coalesce(sum(t.n), 0) FROM {table} t WHERE {where})"


def _match(row) -> str:
    """SQL true when a tallied value ``t.value`` (JSON) falls in the row, as tabulation's matching decides."""
    if row.kind == "range":
        bounds = [f"json_extract(t.value, '$') >= {sql_literal(row.low)}"] if row.low is not None else []
        bounds += [f"json_extract(t.value, '$') <= {sql_literal(row.high)}"] if row.high is not None else []
        return "(" + " AND ".join(["json_type(t.value) IN ('integer', 'real')", *bounds]) + ")"
    codes = ", ".join(sql_literal(code) for code in row.codes)
    return (f"(CASE WHEN json_type(t.value) = 'array' THEN EXISTS (SELECT 1 FROM json_each(t.value) j WHERE j.value IN ({codes})) "
            f"ELSE json_extract(t.value, '$') IN ({codes}) END)")


def _cell_sql(position: int, section: str, row, column_label: str, column: int) -> str:
    base = _tally("counted", column, row.question, None)
    if row.kind == "total":
        count, base_sql, has_percent = base, base, 0
    elif not row.in_base:
        count, base_sql, has_percent = _tally("visible", column, row.question, _match(row)), "NULL", 0
    else:
        count, base_sql, has_percent = _tally("counted", column, row.question, _match(row)), base, 1
    return (f"  SELECT {position}, {sql_literal(section)}, {sql_literal(row.label)}, {sql_literal(column_label)},\n"
            f"         {count},\n         {base_sql}, {has_percent}")
