"""Importing cases from JSON Lines or wide CSV files (``audit import``).

The formats are a contract (``shared/spec/interfaces.md``, "Import files"):

* JSON Lines: one case a line, ``{"case_ref", "site", "inspector"?, "status"?,
  "answers": {...}, "notes"?: {...}}``; a multi-choice answer is a list of codes,
  ``[]`` is "None of these"; a missing key or ``null`` is unanswered.
* Wide CSV (UTF-8, with or without a BOM, as Excel writes it): a header
  ``case_ref,site[,inspector][,status],<question id>...[,note:<question id>...]``;
  multi-choice joined with ``;``, ``(none)`` is "None of these"; an empty cell
  is unanswered.

Option labels are accepted in place of codes, in any case, with stray spaces
(:func:`audit.values.coerce` decides). An import is all or nothing: the whole
file is read and checked before the database is touched, every error is
reported with its line (JSONL) or spreadsheet row (CSV: the header is row 1,
as Excel numbers it) and its column, and nothing is written unless there are
none. Each case is evaluated once; the evaluation is handed to the store.
"""

from __future__ import annotations

import csv
import gc
import io
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from audit import dbfile
from audit.engine import Evaluation, evaluate
from audit.errors import AuditError, Problem, Problems, StoreError, did_you_mean
from audit.identity import IdentifierProblem, Normaliser, key, normalise
from audit.rubric import Question, Rubric
from audit.store import LOCKED_STATUSES, STATUS_COMPLETE, STATUS_IN_PROGRESS, NewCase, Store, current_user
from audit.values import ValueProblem, coerce
from audit.writers.safety import csv_read

JSONL_SUFFIXES = (".jsonl", ".ndjson")
CSV_SUFFIXES = (".csv",)
CASE_FIELDS = ("case_ref", "site", "inspector", "status")
JSON_KEYS = (*CASE_FIELDS, "answers", "notes")
_JSON_KEY_SET = frozenset(JSON_KEYS)
#: where a JSONL line's case fields are, for messages (one dict shared by every row: read only)
_JSON_FIELD_WHERE = {name: name for name in CASE_FIELDS}
#: statuses an import may give a case
IMPORT_STATUSES = (STATUS_IN_PROGRESS, STATUS_COMPLETE)
#: CSV columns holding evidence notes are named NOTE_PREFIX + question id
NOTE_PREFIX = "note:"
#: unknown keys listed per line before the rest are only counted (a line with 800k of them stays linear)
UNKNOWN_PER_LINE = 20
#: errors listed in full; the rest are counted by kind
SHOWN_ERRORS = 200
SAVE_AS_CSV = "in Excel use File > Save As > 'CSV UTF-8 (Comma delimited) (*.csv)'"

#: progress(phase, done, total): phase is "checking" or "writing"
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class ImportResult:
    cases: int
    answers: int
    db: str
    file: str

    def summary(self) -> str:
        cases = "1 case" if self.cases == 1 else f"{self.cases} cases"
        answers = "1 answer" if self.answers == 1 else f"{self.answers} answers"
        return f"imported {cases} ({answers}) into {self.db} from {self.file}"


# --- collecting errors ---------------------------------------------------------------------

# kinds, as counted in the summary of errors past the listed ones
UNKNOWN_QUESTION = "unknown question id"
BAD_VALUE = "unknown option or wrong value"
NOT_APPLICABLE = "answer to a question that does not apply"
DUPLICATE = "duplicate case_ref"
MISSING = "missing case_ref or site"
SITE_MISMATCH = "site differs from --site"
MALFORMED = "malformed line or row"
IDENTIFIER = "case_ref, site or inspector with a control or invisible character"
#: longest evidence note accepted, in characters
MAX_NOTE = 20_000


@dataclass
class _Entry:
    where: str
    message: str


class ErrorList:
    """Every error found, in file order; the first ``shown`` are kept in full."""

    def __init__(self, shown: int = SHOWN_ERRORS):
        self.shown = shown
        self.entries: list[_Entry] = []
        self.total = 0
        self.hidden_kinds: Counter[str] = Counter()

    def add(self, where: str, message: str, kind: str) -> _Entry | None:
        self.total += 1
        if len(self.entries) < self.shown:
            entry = _Entry(where, message)
            self.entries.append(entry)
            return entry
        self.hidden_kinds[kind] += 1
        return None

    def __bool__(self) -> bool:
        return self.total > 0

    def problems(self, file: str, db: str, db_existed: bool, note: str = "") -> Problems:
        listed = [Problem(e.where, e.message) for e in self.entries]
        if self.hidden_kinds:
            detail = ", ".join(f"{n:,} {kind}" for kind, n in self.hidden_kinds.most_common())
            listed.append(Problem("", f"... and {self.total - len(self.entries):,} more errors ({detail})"))
        noun = "error" if self.total == 1 else "errors"
        unchanged = f"{db} is unchanged" if db_existed else f"{db} was not created"
        return Problems(listed, summary=f"{file}: {self.total:,} {noun}; nothing was imported and {unchanged}{note}")


# --- rows, as read from either format ------------------------------------------------------


@dataclass(slots=True)
class Row:
    place: str  # "cases.csv row 14" / "cases.jsonl line 3"
    case_ref: Any
    site: Any
    inspector: Any
    status: Any = None
    cells: list[tuple[str, Any]] = field(default_factory=list)  # (question id, raw value), known questions only
    notes: list[tuple[str, Any, str]] = field(default_factory=list)  # (question id, raw note, column text)
    field_where: dict[str, str] = field(default_factory=dict)  # case field -> column text
    columns: dict[str, str] | None = None  # question id -> column text (CSV); JSONL: answers.<id>

    def at(self, column: str) -> str:
        return f"{self.place}, {column}" if column else self.place

    def column(self, question_id: str) -> str:
        return self.columns[question_id] if self.columns is not None else f"answers.{question_id}"


@dataclass
class SourceText:
    """A decoded import file."""

    path: Path
    shown: str
    text: str
    kind: str  # "jsonl" or "csv"


def read_source(path: str | Path) -> SourceText:
    """Read and decode an import file, refusing unknown suffixes, empty and non-UTF-8 files."""
    path = Path(path)
    shown = str(path)
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        kind = "jsonl"
    elif suffix in CSV_SUFFIXES:
        kind = "csv"
    else:
        hint = ""
        if suffix in (".xlsx", ".xls", ".xlsm", ".ods"):
            hint = f"; {SAVE_AS_CSV} and import that"
        elif suffix == ".json":
            hint = "; if it holds one case per line, rename it to .jsonl"
        what = f"'{path.suffix}'" if path.suffix else "no suffix"
        raise AuditError(f"{shown}: unknown file type ({what}); import reads .jsonl (JSON Lines) or .csv (UTF-8){hint}")
    if path.is_dir():
        raise AuditError(f"{shown}: is a folder; give the path of a .jsonl or .csv file")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise AuditError(f"{shown}: no such file; check the path") from None
    except OSError as exc:
        raise AuditError(f"{shown}: cannot be read ({exc.strerror})") from None
    save_hint = SAVE_AS_CSV if kind == "csv" else "save it as UTF-8"
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise AuditError(f"{shown}: is UTF-16 text (Excel's 'Unicode Text'), not UTF-8; {save_hint}")
    if data.startswith(b"PK\x03\x04"):
        raise AuditError(f"{shown}: is a spreadsheet workbook (zip), not {kind.upper()} text; {save_hint}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise AuditError(_not_utf8(shown, data, exc, save_hint)) from None
    if "\x00" in text:
        raise AuditError(f"{shown}: contains NUL bytes, so it is not a text file; {save_hint}")
    if not text.strip().strip(",;\t\r\n "):
        raise AuditError(f"{shown}: the file is empty; it needs {'a header row and ' if kind == 'csv' else ''}one case per {'row' if kind == 'csv' else 'line'}")
    return SourceText(path, shown, text, kind)


def _not_utf8(shown: str, data: bytes, exc: UnicodeDecodeError, save_hint: str) -> str:
    """Which lines are not UTF-8: the first few by number, and how many in all."""
    bad = []
    for number, line in enumerate(data.split(b"\n"), start=1):
        try:
            line.decode("utf-8")
        except UnicodeDecodeError:
            bad.append(number)
    byte = data[exc.start]
    listed = ", ".join(str(n) for n in bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
    noun = "line" if len(bad) == 1 else "lines"
    return (
        f"{shown}: not UTF-8 text ({noun} {listed}; the first bad byte is 0x{byte:02X}, perhaps Windows-1252 "
        f"or Latin-1, e.g. an accented letter); {save_hint}"
    )


def _text_value(value: Any) -> Any:
    """Case fields as text: strings are trimmed, numbers (a JSON case_ref of 1001) become text."""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


# --- JSON Lines ----------------------------------------------------------------------------


class _JsonlReader:
    def __init__(self, source: SourceText, rubric: Rubric, errors: ErrorList):
        self.source = source
        self.rubric = rubric
        self.errors = errors
        self.lines = source.text.split("\n")
        self.known = frozenset(rubric.question_ids)
        # an unknown key is reported once, at its first line, with how many other lines have it
        self.unknown: dict[str, tuple[_Entry | None, list[int]]] = {}
        self.unknown_on_line = 0

    def __len__(self) -> int:
        return len(self.lines)

    def rows(self) -> Iterator[Row]:
        shown = self.source.shown
        for index, line in enumerate(self.lines):
            number = index + 1
            if not line.strip():
                continue
            place = f"{shown} line {number}"
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                self.errors.add(
                    f"{place}, column {exc.colno}", f"not valid JSON ({exc.msg}); each line must be one complete JSON object", MALFORMED
                )
                continue
            except RecursionError:
                self.errors.add(place, "JSON nested too deeply; each line must be one flat case object", MALFORMED)
                continue
            except ValueError:  # e.g. a number of thousands of digits, which Python refuses to convert
                self.errors.add(place, "holds a number too long to be an answer; check the line", MALFORMED)
                continue
            if not isinstance(record, dict):
                self.errors.add(place, f"expected a JSON object {{\"case_ref\": ..., \"site\": ..., \"answers\": {{...}}}}, got {_json_kind(record)}", MALFORMED)
                continue
            if "\\u" in line:  # only escapes can spell a lone surrogate, which no UTF-8 text can hold
                bad = _lone_surrogate_at(record)
                if bad is not None:
                    self.errors.add(
                        f"{place}, {bad}", "has a \\u escape that is not a character (a lone UTF-16 surrogate); retype the text",
                        MALFORMED,
                    )
                    continue
            row = Row(
                place, _text_value(record.get("case_ref")), _text_value(record.get("site")),
                _text_value(record.get("inspector")), _text_value(record.get("status")),
            )
            row.field_where = _JSON_FIELD_WHERE
            self.unknown_on_line = 0
            if not _JSON_KEY_SET.issuperset(record):
                for name in record:
                    if name not in JSON_KEYS:
                        self._unknown(name, number, place, top_level=True)
            known = self.known
            for part, target in (("answers", row.cells), ("notes", None)):
                given = record.get(part)
                if given is None:
                    continue
                if not isinstance(given, dict):
                    what = "answer" if part == "answers" else "evidence note"
                    self.errors.add(f"{place}, {part}", f"expected an object of question id: {what}, got {_json_kind(given)}", MALFORMED)
                    continue
                if target is not None and known.issuperset(given):  # most lines: every key is a question of the rubric
                    target.extend(given.items())
                    continue
                for qid, raw in given.items():
                    if qid not in known:
                        self._unknown(qid, number, place, top_level=False, part=part)
                    elif target is not None:
                        target.append((qid, raw))
                    else:
                        row.notes.append((qid, raw, f"notes.{qid}"))
            if self.unknown_on_line > UNKNOWN_PER_LINE:
                self.errors.add(
                    place, f"... and {self.unknown_on_line - UNKNOWN_PER_LINE:,} more unknown keys on this line", UNKNOWN_QUESTION
                )
            yield row

    def _unknown(self, key: str, number: int, place: str, *, top_level: bool, part: str = "answers") -> None:
        name = key if top_level else f"{part}.{key}"
        seen = self.unknown.get(name)
        if seen is not None:
            seen[1].append(number)
            return
        self.unknown_on_line += 1
        if self.unknown_on_line > UNKNOWN_PER_LINE:
            return  # counted, and summed up once for the line
        shown = key if len(key) <= 60 else key[:60] + "..."
        if top_level:
            hint = did_you_mean(key, JSON_KEYS) if len(key) <= 60 else ""
            message = (f"unknown key '{shown}'{hint}; a line has case_ref, site, inspector, "
                       "status, answers and notes")
            kind = MALFORMED
        else:
            hint = did_you_mean(key, self.rubric.question_ids) if len(key) <= 60 else ""
            message = f"unknown question id '{shown}'{hint} in rubric {self.rubric.id}"
            kind = UNKNOWN_QUESTION
        self.unknown[name] = (self.errors.add(f"{place}, {name}", message, kind), [])

    def finish(self) -> None:
        for entry, more in self.unknown.values():
            if entry is not None and more:
                lines = ", ".join(str(n) for n in more[:5]) + (", ..." if len(more) > 5 else "")
                entry.message += f"; also on {len(more)} more line{'s' if len(more) > 1 else ''} ({lines})"


def _lone_surrogate_at(value: Any, path: str = "") -> str | None:
    """The key path of the first text in a parsed JSON value that is not valid Unicode, or None."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path or "value"
        return None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        where = f"{path}.{key}" if path else str(key)
        if isinstance(key, str) and _lone_surrogate_at(key) is not None:
            return path or "key"  # the key itself cannot be shown
        found = _lone_surrogate_at(item, where)
        if found is not None:
            return found
    return None


def _json_kind(value: Any) -> str:
    return {list: "a list", str: "text", bool: "true/false", type(None): "null", dict: "an object"}.get(type(value), "a number")


# --- wide CSV ------------------------------------------------------------------------------


def column_letter(index: int) -> str:
    """Spreadsheet column letters for a 0-based index: 0 -> A, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _header_key(cell: str) -> str:
    """Header cells are matched ignoring case, stray spaces, and spaces or hyphens for '_'."""
    return "_".join(cell.strip().casefold().replace("-", " ").split())


class _CsvReader:
    def __init__(self, source: SourceText, rubric: Rubric, errors: ErrorList, site_option: str | None):
        self.source = source
        self.rubric = rubric
        self.errors = errors
        reader = csv.reader(io.StringIO(source.text, newline=""), strict=False)
        try:
            # a cell a spreadsheet could run as a formula was written with one leading apostrophe
            self.records = [[csv_read(cell) for cell in record] for record in reader]
        except csv.Error as exc:  # e.g. a cell over the csv module's size limit
            raise AuditError(f"{source.shown} line {reader.line_num}: cannot be read as CSV ({exc}); check for an unclosed quote") from None
        self.header_missing: set[str] = set()  # case fields reported once for the header, not per row
        self.ok = self._read_header(site_option)

    def __len__(self) -> int:
        return len(self.records)

    def _where(self, row: int, index: int, name: str | None = None) -> str:
        label = f"column {column_letter(index)}" + (f" ({name})" if name else "")
        return f"{self.source.shown} row {row}, {label}"

    def _read_header(self, site_option: str | None) -> bool:
        header = self.records[0] if self.records else []
        shown = self.source.shown
        if not any(cell.strip() for cell in header):
            self.errors.add(f"{shown} row 1", "is empty; the first row must be the header case_ref,site[,inspector],<question id>...", MALFORMED)
            return False
        if len(header) == 1 and (";" in header[0] or "\t" in header[0]):
            separator = "';'" if ";" in header[0] else "tabs"
            self.errors.add(f"{shown} row 1", f"the header is separated by {separator}, not commas; {SAVE_AS_CSV}", MALFORMED)
            return False
        known = [*CASE_FIELDS, *self.rubric.question_ids]
        lookup = {name: name for name in known}
        self.fields: dict[str, int] = {}  # case field -> index
        self.columns: list[tuple[int, str, str]] = []  # (index, question id, column text)
        first_use: dict[str, int] = {}
        self.width = 0  # cells a row needs: up to the last named column
        unnamed: list[int] = []
        self.note_columns: list[tuple[int, str, str]] = []  # (index, question id, column text)
        notes_seen: dict[str, int] = {}
        for index, cell in enumerate(header):
            if not cell.strip():
                unnamed.append(index)
                continue
            self.width = index + 1
            if cell.strip().casefold().startswith(NOTE_PREFIX):
                qid = lookup.get(_header_key(cell.strip()[len(NOTE_PREFIX):]))
                if qid is None or qid in CASE_FIELDS:
                    self.errors.add(
                        self._where(1, index, cell.strip()),
                        f"'{cell.strip()}' names no question of rubric {self.rubric.id}; a notes column is {NOTE_PREFIX}<question id>",
                        UNKNOWN_QUESTION,
                    )
                elif qid in notes_seen:
                    self.errors.add(self._where(1, index, cell.strip()),
                                    f"notes for '{qid}' are also column {column_letter(notes_seen[qid])}; keep one", MALFORMED)
                else:
                    notes_seen[qid] = index
                    self.note_columns.append((index, qid, f"column {column_letter(index)} ({NOTE_PREFIX}{qid})"))
                continue
            name = lookup.get(_header_key(cell))
            if name is None:
                key = cell.strip()
                self.errors.add(
                    self._where(1, index, key),
                    f"unknown question id '{key}'{did_you_mean(key, known)} in rubric {self.rubric.id}; rename or delete the column",
                    UNKNOWN_QUESTION,
                )
                continue
            if name in first_use:
                self.errors.add(
                    self._where(1, index, name),
                    f"'{name}' is also column {column_letter(first_use[name])}; keep one of them",
                    MALFORMED,
                )
                continue
            first_use[name] = index
            if name in CASE_FIELDS:
                self.fields[name] = index
            else:
                self.columns.append((index, name, f"column {column_letter(index)} ({name})"))
        if "case_ref" not in self.fields:
            self.errors.add(f"{shown} row 1", "no case_ref column; the header starts case_ref,site[,inspector] then question ids", MISSING)
            self.header_missing.add("case_ref")
        if "site" not in self.fields and not site_option:
            self.errors.add(f"{shown} row 1", "no site column; add a site column or pass --site SITE", MISSING)
            self.header_missing.add("site")
        # a column with no header is fine while it is empty (Excel's trailing columns)
        for index in unnamed:
            for number, record in enumerate(self.records[1:], start=2):
                if index < len(record) and record[index].strip():
                    self.errors.add(
                        self._where(1, index),
                        f"the column has no header but row {number} has a value ('{record[index].strip()[:40]}'); name it with a question id or delete it",
                        MALFORMED,
                    )
                    break
        return True

    def rows(self) -> Iterator[Row]:
        shown = self.source.shown
        header_cells = len(self.records[0])
        field_index = self.fields
        field_where = {name: f"column {column_letter(i)} ({name})" for name, i in field_index.items()}
        ref_at, site_at, inspector_at, status_at = (field_index.get(name) for name in CASE_FIELDS)
        column_of = {qid: column for _, qid, column in self.columns}
        for offset, record in enumerate(self.records[1:]):
            number = offset + 2  # the header is row 1, as in a spreadsheet
            if not any(cell.strip() for cell in record):
                continue  # blank rows, including Excel's ",,,," ones
            place = f"{shown} row {number}"
            cells = len(record)
            if cells < self.width or (cells > header_cells and any(c.strip() for c in record[header_cells:])):
                spread = max(cell.count("\n") for cell in record)
                hint = (
                    f"; one of its cells runs over {spread + 1} lines: check for an unclosed quote" if spread
                    else "; check for a missing or extra comma, or quote cells that contain commas"
                )
                self.errors.add(place, f"has {cells} cells but the header has {header_cells}{hint}", MALFORMED)
                continue
            row = Row(
                place,
                record[ref_at].strip() if ref_at is not None else None,
                record[site_at].strip() if site_at is not None else None,
                record[inspector_at].strip() if inspector_at is not None else None,
                (record[status_at].strip() or None) if status_at is not None else None,
            )
            row.field_where = field_where
            row.columns = column_of
            row.cells = [(qid, record[index]) for index, qid, _ in self.columns if record[index].strip()]
            row.notes = [(qid, record[index], column) for index, qid, column in self.note_columns if record[index].strip()]
            yield row


# --- checking ------------------------------------------------------------------------------


class _Refused:
    __slots__ = ("reason",)

    def __init__(self, reason: str):
        self.reason = reason


class CellCoercer:
    """``coerce`` with a memo: real files repeat the same few codes and labels endlessly."""

    def __init__(self, rubric: Rubric):
        self.questions = {q.id: q for q in rubric.questions}
        # free text is not remembered: every value may differ
        self.memoable = {q.id for q in rubric.questions if q.is_choice or q.type == "integer"}
        self.memo: dict[tuple, Any] = {}
        # text given to a question whose value is a code or a number (not a list, which is copied per
        # use): question id -> {text: value or _Refused}, the commonest cell of all
        self.by_text: dict[str, dict[str, Any]] = {
            qid: {} for qid in self.memoable if self.questions[qid].type != "multi"
        }

    def __call__(self, question_id: str, raw: Any) -> Any:
        cls = raw.__class__
        if cls is str:
            texts = self.by_text.get(question_id)
            if texts is not None:
                found = texts.get(raw, self)
                if found is self:
                    try:
                        found = coerce(self.questions[question_id], raw)
                    except ValueProblem as exc:
                        found = _Refused(str(exc))
                    texts[raw] = found
                if found.__class__ is _Refused:
                    raise ValueProblem(found.reason)
                return found
        if cls is list and all(item.__class__ is str for item in raw):
            key: tuple = (question_id, list, tuple(raw))
        elif cls in (str, int, float, bool):
            key = (question_id, cls, raw)  # the type keeps True apart from 1
        else:
            return coerce(self.questions[question_id], raw)
        found = self.memo.get(key, self)
        if found is self:
            try:
                found = coerce(self.questions[question_id], raw)
            except ValueProblem as exc:
                found = _Refused(str(exc))
            if question_id in self.memoable:
                self.memo[key] = found
        if found.__class__ is _Refused:
            raise ValueProblem(found.reason)
        return found[:] if found.__class__ is list else found


#: the variant digit of a random UUID (RFC 4122: binary 10xx) for any random hex digit
_VARIANT_DIGIT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


def uuid4_texts(batch: int = 4096) -> Iterator[str]:
    """Random (version 4) UUIDs as text, as ``str(uuid.uuid4())`` writes them, from one ``os.urandom``
    call per ``batch`` instead of one call and one UUID object per case: 122 random bits, the version
    digit 4 and the variant bits set, as :func:`uuid.uuid4` sets them."""
    while True:
        digits = os.urandom(16 * batch).hex()
        for start in range(0, 32 * batch, 32):
            h = digits[start:start + 32]
            yield f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT_DIGIT[h[16]]}{h[17:20]}-{h[20:]}"


def _value_message(question: Question, raw: Any, reason: str) -> str:
    """The reason a value was refused, with JSON spelling for JSON values and a did-you-mean for near misses."""
    codes = ", ".join(question.option_codes)
    if question.is_choice:
        if isinstance(raw, str):
            items = [p.strip() for p in raw.split(";")] if question.type == "multi" else [raw.strip()]
        elif isinstance(raw, list) and question.type == "multi":
            items = raw
        else:
            hint = ' (write "yes" or "no", in quotes)' if isinstance(raw, bool) else ""
            expected = "a list of option codes" if question.type == "multi" else "an option code or label"
            return f"{json.dumps(raw)} is not {expected}{hint}; use {'codes from' if question.type == 'multi' else 'one of'} {codes}"
        for item in items:
            if not isinstance(item, str):
                return f"{json.dumps(item)} in {json.dumps(raw)} is not an option code; use codes from {codes}"
            if item and question.option_code_for(item) is None:
                choices = [*question.option_codes, *(o.label for o in question.options.values())]
                return reason + did_you_mean(item, choices)
        return reason
    if not isinstance(raw, (str, int, float)) or isinstance(raw, bool):
        wanted = "a whole number" if question.type == "integer" else "text"
        return f"{json.dumps(raw)} is not {wanted}"
    return reason


def _shown_value(value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return f"'{value}'" if isinstance(value, str) else str(value)


def _why_excluded(evaluation: Evaluation, question_id: str, row: Row) -> str:
    """Which rule keeps a question from applying, and which answers make it so."""
    rubric = evaluation.rubric
    rule = evaluation.excluded_by(question_id)
    if rule is None:  # not expected: every inapplicable question has a failing rule
        return "it does not apply to this case"
    section = rubric.section_of(question_id)
    owner = f"section '{section.id}' applies" if rule is section.rule else "it applies"
    reasons = []
    for name in sorted(rule.names, key=lambda n: rubric.position(n) if rubric.has_question(n) else -1):
        where = f" ({row.column(name)})" if name in evaluation.answers else ""
        if name in evaluation.visible:
            reasons.append(f"{name} is {_shown_value(evaluation.visible[name])}{where}")
        elif name not in evaluation.applicable and rubric.has_question(name):
            reasons.append(f"{name} does not apply{where}")
        else:
            reasons.append(f"{name} is unanswered")
    because = f", and {'; '.join(reasons)}" if reasons else ""
    return f"does not apply to this case: {owner} only if `{rule.source}`{because}; leave it unanswered or correct the answer it depends on"


@dataclass
class CheckedFile:
    """The outcome of reading and checking a file: cases ready to insert, or errors."""

    source: SourceText
    cases: list[NewCase]
    answers: int
    errors: ErrorList


def check_file(
    path: str | Path, rubric: Rubric, *, site: str | None = None, existing: dict[tuple[str, str], tuple[str, str]] | None = None,
    existing_label: str = "the database", errors: ErrorList | None = None, progress: Progress | None = None,
) -> CheckedFile:
    """Read and check every case of an import file without writing anything.

    ``existing`` maps :func:`case_key` to the (site, case_ref) of each case already
    in the target database. Duplicates are found ignoring case and stray spaces:
    "T001" at "Sheffield" is taken to be "t001" at "sheffield".
    """
    source = read_source(path)
    errors = errors if errors is not None else ErrorList()
    site_option = site.strip() if site and site.strip() else None
    if source.kind == "jsonl":
        reader: _JsonlReader | _CsvReader = _JsonlReader(source, rubric, errors)
        unit = "line"
        header_missing: set[str] = set()
    else:
        reader = _CsvReader(source, rubric, errors, site_option)
        unit = "row"
        if not reader.ok:
            return CheckedFile(source, [], 0, errors)
        header_missing = reader.header_missing
    existing = existing or {}
    seen: dict[tuple[str, str], tuple[str, str, str]] = {}
    cases: list[NewCase] = []
    answer_total = 0
    coerce_cell = CellCoercer(rubric)
    question = coerce_cell.questions.__getitem__
    by_text = coerce_cell.by_text
    identifiers = Normaliser()
    site_keys: dict[str, str] = {}
    new_uuid = uuid4_texts().__next__
    total = len(reader)
    rows_read = 0
    for row in reader.rows():
        rows_read += 1
        if progress and rows_read % 500 == 0:
            progress("checking", rows_read, total)
        row_ok = True
        fields_where = row.field_where
        # case_ref and site
        case_ref = row.case_ref
        if "case_ref" in header_missing:
            row_ok = False
        elif not isinstance(case_ref, str) or not case_ref:
            missing = "is empty" if case_ref in ("", None) else f"must be text, not {_json_kind(case_ref)}"
            errors.add(row.at(fields_where.get("case_ref", "")), f"case_ref {missing}; every case needs its reference", MISSING)
            row_ok = False
        row_site = row.site
        if row_site not in ("", None) and not isinstance(row_site, str):
            errors.add(row.at(fields_where.get("site", "")), f"site must be text, not {_json_kind(row_site)}", MISSING)
            row_ok = False
        elif site_option:
            if row_site and key(row_site) != key(site_option):
                errors.add(
                    row.at(fields_where.get("site", "")),
                    f"site '{row_site}' differs from --site {site_option}; correct the row, or import without --site",
                    SITE_MISMATCH,
                )
                row_ok = False
            row_site = site_option
        elif "site" in header_missing:
            row_ok = False
        elif not row_site:
            errors.add(row.at(fields_where.get("site", "")), "site is empty; fill it in, or pass --site SITE for a one-site file", MISSING)
            row_ok = False
        inspector = row.inspector
        if inspector is not None and not isinstance(inspector, str):
            errors.add(row.at(fields_where.get("inspector", "")), f"inspector must be text, not {_json_kind(inspector)}", MALFORMED)
            row_ok = False
        # one identity rule: NFC, trimmed, no control, zero-width or bidi characters
        for name, text in (("case_ref", case_ref), ("site", row_site), ("inspector", inspector)):
            if not isinstance(text, str) or not text:
                continue
            try:
                # a site or an inspector is one of a few, repeated on every row: normalised once each
                cleaned = normalise(text, name) if name == "case_ref" else identifiers(text, name)
            except IdentifierProblem as exc:
                errors.add(row.at(fields_where.get(name, "")), f"{exc}", IDENTIFIER)
                row_ok = False
                continue
            if name == "case_ref":
                case_ref = cleaned
            elif name == "site":
                row_site = cleaned
            else:
                inspector = cleaned
        status = row.status
        if status is None or status == "":
            status = STATUS_IN_PROGRESS
        elif not isinstance(status, str) or status.strip().casefold() not in IMPORT_STATUSES:
            shown = json.dumps(status) if not isinstance(status, str) else f"'{status[:40]}'"
            errors.add(row.at(fields_where.get("status", "")),
                       f"status {shown} is not one of {', '.join(IMPORT_STATUSES)}", BAD_VALUE)
            row_ok = False
        else:
            status = status.strip().casefold()
        notes: dict[str, str] = {}
        for qid, raw, column in row.notes:
            if raw is None:
                continue
            if not isinstance(raw, str):
                errors.add(row.at(column), f"an evidence note must be text, not {_json_kind(raw)}", BAD_VALUE)
                row_ok = False
            elif raw.strip():
                if len(raw) > MAX_NOTE:
                    errors.add(row.at(column), f"the note is {len(raw):,} characters; at most {MAX_NOTE:,} are kept", BAD_VALUE)
                    row_ok = False
                else:
                    notes[qid] = raw.strip()
        # answers
        answers: dict[str, Any] = {}
        refused: set[str] = set()
        for qid, raw in row.cells:
            if raw.__class__ is str:  # the commonest cell: a code or a number, seen before (CellCoercer's memo)
                texts = by_text.get(qid)
                value = texts.get(raw) if texts is not None else None
                if value is not None and value.__class__ is not _Refused:
                    answers[qid] = value
                    continue
            try:
                value = coerce_cell(qid, raw)
            except ValueProblem as exc:
                errors.add(row.at(row.column(qid)), _value_message(question(qid), raw, str(exc)), BAD_VALUE)
                refused.add(qid)
                row_ok = False
                continue
            if value is not None:
                answers[qid] = value
        evaluation = evaluate(rubric, answers)
        applicable = evaluation.applicable
        for qid in (() if applicable.issuperset(answers) else answers):  # most rows: every answer applies
            if qid not in applicable:
                row_ok = False
                rule = evaluation.excluded_by(qid) if refused else None
                if rule is not None and rule.names & refused:
                    continue  # it hangs on an answer already refused above: fixing that one decides it
                errors.add(
                    row.at(row.column(qid)),
                    f"{qid} is answered {_shown_value(answers[qid])} but {_why_excluded(evaluation, qid, row)}",
                    NOT_APPLICABLE,
                )
        # duplicates, within the file and against the database
        if isinstance(case_ref, str) and case_ref and isinstance(row_site, str) and row_site:
            site_key = site_keys.get(row_site)
            if site_key is None:
                site_key = site_keys[row_site] = key(row_site)
            pair = (site_key, key(case_ref))  # case_key
            clash = None
            if pair in seen:
                place, there_site, there_ref = seen[pair]
                clash = f"is also on {unit} {place.rsplit(' ', 1)[-1]}", "each case needs its own reference"
            else:
                seen[pair] = (row.place, row_site, case_ref)
                if pair in existing:
                    there_site, there_ref = existing[pair]
                    clash = f"is already in {existing_label}", "remove the row, or change the reference"
            if clash is not None:
                errors.add(
                    row.at(fields_where.get("case_ref", "")),
                    f"case_ref '{case_ref}' at site '{row_site}' {clash[0]}{_spelt(there_site, there_ref, row_site, case_ref)}; {clash[1]}",
                    DUPLICATE,
                )
                row_ok = False
        if status in LOCKED_STATUSES and evaluation.missing_required:
            missing = evaluation.missing_required
            listed = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
            errors.add(
                row.at(fields_where.get("status", "")),
                f"status is {status} but {len(missing)} required question(s) that apply are unanswered ({listed}); "
                "answer them, or give the status in_progress",
                BAD_VALUE,
            )
            row_ok = False
        if row_ok and not errors:
            cases.append(
                NewCase(case_ref=case_ref, site=row_site, rubric=rubric, answers=answers, inspector=inspector or None,
                        uuid=new_uuid(), evaluation=evaluation, status=status, notes=notes)
            )
            answer_total += len(answers)
    if isinstance(reader, _JsonlReader):
        reader.finish()
    if not errors and not cases:
        errors.add(
            source.shown,
            "has a header but no cases; add one case per row" if source.kind == "csv" else "has no cases; add one JSON object per line",
            MISSING,
        )
    if progress:
        progress("checking", total, total)
    if errors:
        cases = []  # nothing will be written: free the memory
    source.text = ""  # read and checked: the cases hold all that is needed now
    return CheckedFile(source, cases, answer_total, errors)


def case_key(site: str, case_ref: str) -> tuple[str, str]:
    """What makes two cases the same case: site and case_ref compared by :func:`audit.identity.key`
    (case, width, stray spaces and invisible characters ignored)."""
    return (key(site), key(case_ref))


def _spelt(site: str, ref: str, row_site: str, row_ref: str) -> str:
    return "" if (site, ref) == (row_site, row_ref) else f" (as '{ref}' at '{site}')"


def existing_refs(store: Store) -> dict[tuple[str, str], tuple[str, str]]:
    """case_key -> (site, case_ref) of every live original case in the database (a deleted case's
    reference may be used again)."""
    return {
        (site_key, ref_key): (site, ref)
        for site, ref, site_key, ref_key in store.conn.execute(
            "SELECT site, case_ref, site_key, ref_key FROM cases "
            "WHERE deleted_at IS NULL AND duplicate_of IS NULL AND copy_of IS NULL"
        )
    }


# --- importing -----------------------------------------------------------------------------


def import_file(
    db: str | Path, path: str | Path, rubric: Rubric, *, site: str | None = None, who: str | None = None,
    progress: Progress | None = None, allow_rubric_change: bool = False,
) -> ImportResult:
    """Check a whole import file, then insert every case in one transaction, or nothing.

    Raises :class:`Problems` listing every error (nothing written: an existing
    database is left as it was, a new one is not created), or
    :class:`AuditError` for a file or database that cannot be used at all.

    A new database is built under a temporary name and linked into place only
    when the whole import is in it (:func:`audit.dbfile.create_atomically`): a
    failure leaves no file, and never removes one somebody else made meanwhile.
    """
    from audit.cases import CaseService

    db_path = Path(db)
    file_shown = str(path)
    if db_path.suffix.lower() in (*JSONL_SUFFIXES, *CSV_SUFFIXES, ".json"):
        raise AuditError(f"{db_path}: looks like an import file, not a database; the database comes first: audit import DB FILE")
    db_existed = db_path.exists()
    if not db_existed and not db_path.parent.exists():
        raise AuditError(f"{db_path}: folder {db_path.parent} does not exist; create it first")
    who = who or current_user()
    store: Store | None = None
    # A bulk load makes millions of objects and no reference cycles: the cyclic
    # collector would only re-walk them again and again.
    collecting = gc.isenabled()
    gc.disable()
    try:
        existing: dict[tuple[str, str], tuple[str, str]] = {}
        if db_existed:
            store = Store.open(db_path)  # refuses foreign, corrupt and newer files, before the long read
            problem = CaseService(store).rubric_problem(rubric, allow_other_rubric=allow_rubric_change)
            if problem:
                raise AuditError(f"{db_path}: {problem}; nothing was imported")
            existing = existing_refs(store)
        checked = check_file(path, rubric, site=site, existing=existing, existing_label=str(db_path), progress=progress)
        if checked.errors:
            note = " (rows are numbered as in a spreadsheet: the header is row 1)" if checked.source.kind == "csv" else ""
            raise checked.errors.problems(file_shown, str(db_path), db_existed, note)
        if store is not None:
            store.close()  # the write gets a fresh connection of its own (dbfile.bulk_write)
            store = None
            with dbfile.bulk_write(db_path) as (conn, _bounded):
                _insert(Store.on_connection(conn, db_path), checked, who, progress, existing)
        else:
            def build(conn) -> None:
                conn.execute(f"PRAGMA cache_size = -{dbfile.BULK_CACHE_KIB}")  # as bulk_write's: indexes stay in memory
                _insert(Store.initialise(conn, str(db_path), site.strip() if site else None), checked, who, progress, existing)

            try:
                dbfile.create_atomically(db_path, build)
            except FileExistsError:
                raise AuditError(
                    f"{db_path}: was created by another program while {file_shown} was being checked; nothing was "
                    "imported; run the import again to add the cases to it"
                ) from None
        return ImportResult(len(checked.cases), checked.answers, str(db_path), file_shown)
    finally:
        if collecting:
            gc.enable()
        if store is not None:
            store.close()


def _insert(store: Store, checked: CheckedFile, who: str, progress: Progress | None,
            checked_against: dict[tuple[str, str], tuple[str, str]]) -> None:
    from audit.cases import CaseService

    total = len(checked.cases)

    def written(count: int) -> None:
        if progress:
            progress("writing", count, total)

    # in the file's order: case ids are given in it, so the primary keys of cases, answers and history
    # are appended to whatever the order; a file in reference order appends to the case_ref indexes too
    # (uuid order would append only to the uuid's, and scatter the three on case_ref)
    cases = checked.cases
    with store.transaction():
        # checked before the long read (against ``checked_against``), checked again under the write
        # lock: another writer may have added one of these cases meanwhile
        added = {pair for pair in existing_refs(store) if pair not in checked_against}
        raced = sorted({(c.site, c.case_ref) for c in cases if added and case_key(c.site, c.case_ref) in added})
        if raced:
            shown = ", ".join(f"{ref} at {site}" for site, ref in raced[:10])
            raise AuditError(
                f"{store.path}: {len(raced)} case(s) were added by someone else while {checked.source.shown} was checked ({shown}); "
                "nothing was imported; run the import again to see them listed"
            )
        CaseService(store, who=who).insert_cases(
            cases, reason="import", origin_file=os.path.basename(checked.source.shown), progress=written
        )
