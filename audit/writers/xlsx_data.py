"""The codebook, and one row per case: the workbook's data sheets (only when asked for).

Data sheets stream from the database in openpyxl's write-only mode, a batch
of cases at a time, so a 100k-case workbook is written in bounded memory.
They show only the cases the figures counted (the status selection, never a
deleted case), and only current answers to questions that apply: a retired
answer, or one to a question that stopped applying, is never shown as if it
held. Where there is no answer, a marker says why:

* ``(does not apply)``: the rubric's rules skip the question for this case;
* ``(unanswered)``: the question applies and has no answer (missing data).

"Not applicable" is an answer (shown as such, never in a base), and an
explicit empty selection shows as "None of these" (``(none)`` with codes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from audit.engine import evaluate
from audit.figures import Report
from audit.rubric import Question, Rubric
from audit.store import Store, decode
from audit.tabulate import STATUS_WORDS, CaseSelection, has_deleted_column
from audit.values import MULTI_SEPARATOR, NONE_LABEL, NONE_TOKEN
from audit.wording import applies_in_words
from audit.writers.sheets import (
    BOLD, HEADER_FILL, HEADING, RULE, SMALL, WRAP, Grid, plain, printable, text_cell,
)

DOES_NOT_APPLY = "(does not apply)"
UNANSWERED = "(unanswered)"
LABEL_SEPARATOR = "; "
OPTION_COLUMN = "{question}___{code}"  # REDCap's name for a multi-choice option's 0/1 column
BATCH = 500
MAX_WIDTH = 48

#: the case-level columns of both data sheets, and what each holds
CASE_COLUMNS = (
    ("case_ref", "The case's reference at its site (as entered, unique per site)."),
    ("site", "The site: its name on the Data sheet (from the figure file), its code on the Codes sheet."),
    ("inspector", "Who assessed the case."),
    ("status", "The case's status: in progress, complete (approved and returned with quality review)."),
    ("rubric_version", "The version of the rubric the case was assessed on."),
)

MARKERS = (
    (DOES_NOT_APPLY, "The question does not apply to this case: the rubric's rules skip it (see Applies when)."),
    (UNANSWERED, "The question applies but has no answer yet: missing data, outside every base."),
    ("Not applicable / na", "An answer: the inspector judged the question not applicable. Never counted in a base."),
    (f"{NONE_LABEL} / {NONE_TOKEN}", "An answer to a multi-choice question: none of the options (an explicit empty "
                                     "selection). Counted in the base; its 0/1 columns are all 0."),
    (f"'{LABEL_SEPARATOR.strip()}' and '{MULTI_SEPARATOR}'",
     f"Multi-choice answers: labels joined with '{LABEL_SEPARATOR}' on the Data sheet, codes joined with "
     f"'{MULTI_SEPARATOR}' on the Codes sheet."),
    (OPTION_COLUMN.format(question="question", code="code"),
     "Codes sheet, after each multi-choice column: one column per option, 1 if it was chosen, 0 if not (REDCap's convention)."),
    ("Numbers", "Whole-number answers are numbers (a spreadsheet can sum them); the Range column gives the allowed range."),
)


# --- the codebook --------------------------------------------------------------------------

CODEBOOK_COLUMNS = (("Dataset", 11), ("Column", 24), ("Question", 52), ("Section", 18), ("Type", 10),
                    ("Options (code = label)", 40), ("Range", 9), ("Applies when", 46), ("Rule as written", 30),
                    ("Rubric", 20))


def _options(question: Question) -> str:
    lines = []
    for code, option in question.options.items():
        lines.append(f"{code} = {option.label}" + ("" if option.counts else " (never in a base)"))
    if question.type == "multi":
        lines.append(f"{NONE_TOKEN} = {NONE_LABEL}")
    return "\n".join(lines)


def _rule_text(rubric: Rubric, question: Question) -> str:
    rules = [r for r in (rubric.section_of(question.id).applies_if, question.applies_if) if r]
    return " and ".join(f"({r})" for r in rules) if len(rules) > 1 else (rules[0] if rules else "")


def codebook_sheet(rubrics: dict[str, list[Rubric]]) -> tuple[Grid, int, int]:
    """The codebook grid, its header row and its last row (for the filter)."""
    grid = Grid()
    total = sum(w for _, w in CODEBOOK_COLUMNS)
    for column, (_, width) in enumerate(CODEBOOK_COLUMNS, start=1):
        grid.widths[column] = width
    grid.put(1, 1, "Codebook", font=HEADING)
    intro = ("One row per question of each dataset's rubric, then the case-level columns of the data sheets. "
             "Data sheets (Data: labels; Codes: codes) are in the workbook only when it was written with --include-data. "
             "Markers and separators:")
    grid.put(2, 1, intro, alignment=WRAP)
    grid.merge(2, 1, len(CODEBOOK_COLUMNS))
    grid.wrap_height(2, intro, total)
    r = 3
    for marker, meaning in MARKERS:
        grid.put(r, 2, marker, font=BOLD, alignment=WRAP)
        grid.put(r, 3, meaning, alignment=WRAP)
        grid.merge(r, 3, len(CODEBOOK_COLUMNS))
        grid.wrap_height(r, meaning, total - 35)
        r += 1
    header = r + 1
    for column, (title, _) in enumerate(CODEBOOK_COLUMNS, start=1):
        grid.put(header, column, title, font=BOLD, fill=HEADER_FILL, border=RULE, alignment=WRAP)
    r = header
    for name, found in rubrics.items():
        for rubric in found:
            for question in rubric.questions:
                r += 1
                columns = question.id
                if question.type == "multi":
                    columns += "\n" + "\n".join(OPTION_COLUMN.format(question=question.id, code=c) for c in question.option_codes)
                low_high = f"{question.range[0]}-{question.range[1]}" if question.range else ""
                values = [name, columns, question.text, rubric.section_of(question.id).title,
                          question.type + ("" if question.required else " (optional)"), _options(question), low_high,
                          applies_in_words(rubric, question.id) or "always", _rule_text(rubric, question),
                          f"{rubric.id} v{rubric.version}"]
                for column, value in enumerate(values, start=1):
                    grid.put(r, column, value, alignment=WRAP)
                grid.heights[r] = 15.0 * max(
                    len(columns.split("\n")), len(_options(question).split("\n")),
                    *(-(-len(str(v)) // int(w * 1.1)) for v, (_, w) in zip(values, CODEBOOK_COLUMNS)),
                )
        for column_name, meaning in CASE_COLUMNS:
            r += 1
            for column, value in enumerate([name, column_name, meaning, "Case", "case", "", "", "always", "", ""], start=1):
                grid.put(r, column, value, alignment=WRAP, font=SMALL if column > 3 else None)
    return grid, header, r


def write_codebook(wb, name: str, rubrics: dict[str, list[Rubric]]) -> None:
    ws = wb.create_sheet(name)
    grid, header, last = codebook_sheet(rubrics)
    ws.freeze_panes = f"C{header + 1}"
    ws.auto_filter.ref = f"A{header}:J{max(last, header)}"
    printable(ws, title_rows=f"{header}:{header}")
    grid.write(ws)


# --- data sheets ---------------------------------------------------------------------------


@dataclass(frozen=True)
class _Column:
    question: str
    code: str | None = None  # a 0/1 option column of a multi-choice question


class _Layout:
    """The question columns of one dataset's data sheets, across the rubric versions its cases use."""

    def __init__(self, rubrics: list[Rubric]):
        self.rubrics = {r.sha256: r for r in rubrics}
        self.questions: list[str] = []
        for rubric in rubrics:
            self.questions += [q for q in rubric.question_ids if q not in self.questions]
        self.codes_columns: list[_Column] = []
        self.multi: dict[str, list[str]] = {}  # multi-choice question -> its option codes (the 0/1 columns)
        for qid in self.questions:
            self.codes_columns.append(_Column(qid))
            question = self.question(qid)
            if question is not None and question.type == "multi":
                self.multi[qid] = list(question.option_codes)
                self.codes_columns += [_Column(qid, code) for code in question.option_codes]
        # the questions a rule reads: a case's applicability depends on its answers to these alone
        self.inputs = {sha: sorted({n for q in r.questions for rule in (r.section_of(q.id).rule, q.rule) if rule
                                    for n in rule.names}) for sha, r in self.rubrics.items()}

    def question(self, qid: str) -> Question | None:
        for rubric in self.rubrics.values():
            if rubric.has_question(qid):
                return rubric.question(qid)
        return None


def _widths(store: Store, layout: _Layout, clause: str, params: list, site_labels: dict[str, str]) -> tuple[dict, dict]:
    """Column widths for both sheets, from the values that can appear (never a pass over the rows)."""
    fixed = store.db.execute(
        f"SELECT max(length(case_ref)), max(length(coalesce(inspector, ''))), max(length(site)) FROM cases c WHERE 1{clause}",
        params,
    ).fetchone()
    ref_width, inspector_width, site_width = (v or 0 for v in fixed)
    label_site = max([len(site_labels.get(s, s)) for (s,) in store.db.execute("SELECT DISTINCT site FROM cases")] or [0])
    base = {"case_ref": ref_width, "inspector": inspector_width, "status": 12, "rubric_version": 14}
    labels = {**base, "site": label_site}
    codes = {**base, "site": site_width}
    marker = max(DOES_NOT_APPLY, UNANSWERED, key=len)
    for qid in layout.questions:
        question = layout.question(qid)
        shown_labels, shown_codes = [marker], [marker]
        if question is not None and question.is_choice:
            shown_labels += [o.label for o in question.options.values()]
            shown_codes += list(question.options)
            if question.type == "multi":
                shown_labels += [LABEL_SEPARATOR.join(o.label for o in question.options.values()), NONE_LABEL]
                shown_codes += [MULTI_SEPARATOR.join(question.options), NONE_TOKEN]
        elif question is not None and question.range:
            shown_labels += [str(question.range[1])]
            shown_codes += [str(question.range[1])]
        else:
            longest = store.db.execute("SELECT max(length(value)) FROM answers WHERE question_id = ?", [qid]).fetchone()[0] or 0
            shown_labels.append("x" * longest)
            shown_codes.append("x" * longest)
        labels[qid] = max(len(s) for s in shown_labels)
        codes[qid] = max(len(s) for s in shown_codes)
    for column in layout.codes_columns:
        if column.code is not None:
            codes[OPTION_COLUMN.format(question=column.question, code=column.code)] = len(marker)
    fit = lambda header, width: min(MAX_WIDTH, max(len(header), width) + 2)  # noqa: E731
    return ({k: fit(k, v) for k, v in labels.items()}, {k: fit(k, v) for k, v in codes.items()})


def _cases(store: Store, selection: CaseSelection | None) -> tuple[str, list]:
    clauses, params = [], []
    if has_deleted_column(store):
        clauses.append("c.deleted_at IS NULL AND c.copy_of IS NULL")  # moderation copies are in no figure
    if selection is not None and selection.statuses is not None:
        clauses.append(f"c.status IN ({', '.join('?' * len(selection.statuses))})")
        params += list(selection.statuses)
    return "".join(f" AND {c}" for c in clauses), params


def _answers(store: Store, uuids: list[str], decoded: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Current answers to questions that apply, for a batch of cases (``decoded``: JSON text -> value, reused)."""
    found: dict[str, dict[str, Any]] = {u: {} for u in uuids}
    marks = ", ".join("?" * len(uuids))
    for case_uuid, qid, value in store.db.execute(
        f"SELECT case_uuid, question_id, value FROM answers WHERE case_uuid IN ({marks}) "
        "AND state = 'current' AND applies = 1 AND value IS NOT NULL", uuids,
    ):
        answer = decoded.get(value)
        if answer is None:
            answer = decode(value)
            if len(decoded) < 50_000:  # answers repeat a few codes; free text is decoded each time
                decoded[value] = answer
        found[case_uuid][qid] = answer
    return found


class _Rows:
    """Turns one case's answers into its Data and Codes rows."""

    def __init__(self, layout: _Layout, site_labels: dict[str, str], labels_ws, codes_ws):
        self.layout = layout
        self.site_labels = site_labels
        self.labels_ws, self.codes_ws = labels_ws, codes_ws
        self.applicable: dict[tuple, frozenset[str]] = {}
        self.option_labels = {}
        for rubric in layout.rubrics.values():
            for question in rubric.questions:
                if question.is_choice:
                    self.option_labels[(rubric.sha256, question.id)] = {c: o.label for c, o in question.options.items()}

    def applies(self, sha: str, answers: dict[str, Any]) -> frozenset[str]:
        rubric = self.layout.rubrics[sha]
        inputs = self.layout.inputs[sha]
        key = (sha, *(repr(answers.get(name)) for name in inputs))
        found = self.applicable.get(key)
        if found is None:
            found = self.applicable[key] = evaluate(rubric, {n: answers[n] for n in inputs if n in answers}).applicable
        return found

    def make(self, case: tuple, answers: dict[str, Any]) -> tuple[list, list]:
        _, case_ref, site, inspector, status, version, sha = case
        applicable = self.applies(sha, answers) if sha in self.layout.rubrics else frozenset(answers)
        fixed_labels = [plain(self.labels_ws, case_ref), plain(self.labels_ws, self.site_labels.get(site, site)),
                        plain(self.labels_ws, inspector), STATUS_WORDS.get(status, status).capitalize(), version]
        fixed_codes = [plain(self.codes_ws, case_ref), plain(self.codes_ws, site), plain(self.codes_ws, inspector), status, version]
        labels_row, codes_row = fixed_labels, fixed_codes
        for qid in self.layout.questions:
            value = answers.get(qid)
            options = self.option_labels.get((sha, qid))
            if value is None:
                marker = UNANSWERED if qid in applicable else DOES_NOT_APPLY
                labels_row.append(marker)
                codes_row.append(marker)
                if qid in self.layout.multi:
                    codes_row += [marker] * len(self.layout.multi[qid])
                continue
            if isinstance(value, list):
                labels_row.append(LABEL_SEPARATOR.join(options.get(c, c) for c in value) if value else NONE_LABEL)
                codes_row.append(MULTI_SEPARATOR.join(value) if value else NONE_TOKEN)
                if qid in self.layout.multi:
                    codes_row += [1 if code in value else 0 for code in self.layout.multi[qid]]
            elif options is not None:
                labels_row.append(options.get(value, value))
                codes_row.append(value)
            else:
                shown = plain(self.labels_ws, value) if isinstance(value, str) else value
                labels_row.append(shown)
                codes_row.append(plain(self.codes_ws, value) if isinstance(value, str) else value)
        return labels_row, codes_row


def _case_batches(store: Store, clause: str, params: list) -> Iterator[list[tuple]]:
    cursor = store.db.conn.execute(
        "SELECT c.uuid, c.case_ref, c.site, c.inspector, c.status, c.rubric_version, c.rubric_sha256 FROM cases c "
        f"WHERE 1{clause} ORDER BY c.site, c.case_ref, c.created_at, c.uuid", params,
    )
    while True:
        batch = cursor.fetchmany(BATCH)
        if not batch:
            return
        yield batch


#: how much column width a landscape A4 page holds at a legible scale (about 9 points)
PAGE_WIDTH = 190


def _prepare(ws, headers: list[str], widths: dict[str, float], rows: int) -> None:
    from openpyxl.utils import get_column_letter

    total = 0.0
    for index, header in enumerate(headers, start=1):
        width = widths.get(header, 12)
        ws.column_dimensions[get_column_letter(index)].width = width
        total += width
    ws.freeze_panes = "C2"
    last = get_column_letter(max(len(headers), 1))
    ws.auto_filter.ref = f"A1:{last}{rows + 1}"
    # fitted to as many landscape pages across as keep the text legible, the header row and the
    # case reference repeated on each
    printable(ws, title_rows="1:1", pages_wide=max(1, -(-int(total) // PAGE_WIDTH)))
    ws.print_title_cols = "A:A"
    ws.append([text_cell(ws, h, font=BOLD, fill=HEADER_FILL, border=RULE, alignment=WRAP) for h in headers])


@dataclass
class DataSheets:
    """One dataset's two data sheets before they are written: headers, widths, and the rows as a stream."""

    label_headers: list[str]
    code_headers: list[str]
    label_widths: dict[str, float]
    code_widths: dict[str, float]
    cases: int
    rows: Iterator[tuple[list, list]]  # (Data row, Codes row) per case, in site and case_ref order


def data_sheets(store: Store, rubrics: list[Rubric], selection: CaseSelection | None, site_labels: dict[str, str],
                labels_ws=None, codes_ws=None) -> DataSheets:
    """The Data and Codes sheets of one dataset. Text that a sheet could misread becomes a text cell of
    ``labels_ws``/``codes_ws``; without sheets, rows hold plain values (for the benchmark's floor)."""
    layout = _Layout(rubrics)
    clause, params = _cases(store, selection)
    count = store.db.execute(f"SELECT count(*) FROM cases c WHERE 1{clause}", params).fetchone()[0]
    label_widths, code_widths = _widths(store, layout, clause, params, site_labels)
    fixed = [name for name, _ in CASE_COLUMNS]
    code_headers = fixed + [c.question if c.code is None else OPTION_COLUMN.format(question=c.question, code=c.code)
                            for c in layout.codes_columns]
    maker = _Rows(layout, site_labels, labels_ws, codes_ws)

    def rows() -> Iterator[tuple[list, list]]:
        decoded: dict[str, Any] = {}
        for batch in _case_batches(store, clause, params):
            answers = _answers(store, [case[0] for case in batch], decoded)
            for case in batch:
                yield maker.make(case, answers[case[0]])

    return DataSheets(fixed + layout.questions, code_headers, label_widths, code_widths, count, rows())


def write_data_sheets(wb, names: tuple[str, str], store: Store, rubrics: list[Rubric], selection: CaseSelection | None,
                      site_labels: dict[str, str]) -> int:
    """Stream the Data (labels) and Codes sheets of one dataset; returns the number of cases written."""
    labels_ws = wb.create_sheet(names[0])
    codes_ws = wb.create_sheet(names[1])
    sheets = data_sheets(store, rubrics, selection, site_labels, labels_ws, codes_ws)
    _prepare(labels_ws, sheets.label_headers, sheets.label_widths, sheets.cases)
    _prepare(codes_ws, sheets.code_headers, sheets.code_widths, sheets.cases)
    written = 0
    for labels_row, codes_row in sheets.rows:
        labels_ws.append(labels_row)
        codes_ws.append(codes_row)
        written += 1
    return written


def write_notes_sheet(wb, name: str, store: Store, selection: CaseSelection | None) -> None:
    """Inspectors' evidence notes on current answers of the cases counted (only with --include-notes)."""
    ws = wb.create_sheet(name)
    for column, width in zip("ABCD", (14, 18, 28, 90)):
        ws.column_dimensions[column].width = width
    ws.freeze_panes = "A2"
    printable(ws, title_rows="1:1")
    ws.append([text_cell(ws, h, font=BOLD, fill=HEADER_FILL, border=RULE) for h in ("case_ref", "site", "question", "note")])
    clause, params = _cases(store, selection)
    for values in store.db.execute(
        "SELECT c.case_ref, c.site, a.question_id, a.note FROM answers a JOIN cases c ON c.uuid = a.case_uuid "
        f"WHERE a.note IS NOT NULL AND a.state = 'current'{clause} ORDER BY c.site, c.case_ref, a.question_id", params,
    ):
        ws.append([text_cell(ws, v, alignment=WRAP) if i == 3 else plain(ws, v) for i, v in enumerate(values)])


def dataset_rubrics(store: Store, report: Report | None, name: str) -> list[Rubric]:
    """The store's rubrics that its cases use, newest first (the figure file's, for an empty store)."""
    shas = [r[0] for r in store.db.execute(
        "SELECT r.sha256 FROM rubrics r WHERE r.sha256 IN (SELECT DISTINCT rubric_sha256 FROM cases) ORDER BY r.added_at DESC")]
    found = [store.rubric(sha) for sha in shas]
    if not found and report is not None and name in report.datasets:
        found = [report.datasets[name].rubric]
    return found
