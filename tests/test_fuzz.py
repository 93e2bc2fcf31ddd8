"""Fuzzing the four readers of other people's text with hypothesis.

Each test makes at least 200 malformed inputs (valid mutants are discarded
with ``assume``) and requires, for every one, a located, one-line error of
our own kind: never a traceback, never an unlocated message.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from audit.errors import AuditError, Problems
from audit.figures import parse_report
from audit.importer import check_file
from audit.rubric import load_rubric_by_id, parse_rubric
from audit.rules import RuleError, parse_rule

ROOT = Path(__file__).resolve().parents[1]
RUBRIC_TEXT = (ROOT / "rubrics" / "iom-thematic-2019.yaml").read_text(encoding="utf-8")
REPORT_TEXT = (ROOT / "exports" / "iom-thematic-2019.yaml").read_text(encoding="utf-8")
FUZZ = settings(
    max_examples=200, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# Pieces that break YAML, schemas, rules and CSV in interesting ways.
NOISE = st.sampled_from(
    [
        "", ":", "- ", "  ", "\t", "{", "}", "[", "]", '"', "'", "#", "&a", "*a", "!!python/object:os.system",
        "applies_if: nope == 1", "type: maybe", "id: 1x", "options: {}", "range: [9, 1]", "sections: 3",
        "==", " and ", " or not ", "(", ")", '"drugs" in', "yes", "no", "null", "~", "1e999", "\x00", "é", "\u202e",
        "figures:", "rows:", "columns:", "filter: x ==", "dataset: nobody", ",", ";", "\r\n", "=cmd()",
    ]
)


@st.composite
def mutated(draw, text: str) -> str:
    """``text`` with a few random line-level and character-level edits."""
    lines = text.splitlines()
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        index = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["delete", "duplicate", "insert", "replace", "indent", "dedent", "truncate", "splice"]))
        if action == "delete":
            del lines[index]
        elif action == "duplicate":
            lines.insert(index, lines[index])
        elif action == "insert":
            lines.insert(index, draw(NOISE) + draw(st.text(max_size=12)))
        elif action == "replace":
            line = lines[index]
            at = draw(st.integers(0, len(line)))
            lines[index] = line[:at] + draw(NOISE) + line[at + draw(st.integers(0, 6)):]
        elif action == "indent":
            lines[index] = "  " + lines[index]
        elif action == "dedent":
            lines[index] = lines[index][2:]
        elif action == "truncate":
            lines = lines[:index]
        else:
            lines[index] = lines[index][: len(lines[index]) // 2] + draw(st.text(max_size=20))
    return "\n".join(lines) + "\n"


def assert_located(problems: Problems, pattern: str) -> None:
    assert problems.problems, "a refusal must say what is wrong"
    for problem in problems.problems:
        text = str(problem)
        assert "\n" not in text and "\r" not in text, f"not one line: {text!r}"
        assert re.match(pattern, problem.where), f"not located: {text!r}"
        assert problem.message.strip(), text
        assert "Traceback" not in text


@FUZZ
@given(mutated(RUBRIC_TEXT))
def test_rubric_loader_locates_every_error(text):
    try:
        parse_rubric(text, "fuzz.yaml")
    except Problems as refused:
        assert_located(refused, r"^fuzz\.yaml:\d+$")
        return
    assume(False)  # a valid mutant proves nothing here


@FUZZ
@given(mutated(REPORT_TEXT))
def test_report_loader_locates_every_error(text):
    try:
        parse_report(text, "figures.yaml")
    except Problems as refused:
        assert_located(refused, r"^figures\.yaml(:\d+)?$")
        return
    assume(False)


@FUZZ
@given(st.one_of(st.text(max_size=60), mutated('sentence_type != "non_statutory" and "drugs" in factors')))
def test_rule_parser_gives_only_rule_errors(source):
    try:
        rule = parse_rule(source)
    except RuleError as refused:
        assert "\n" not in str(refused)
        assert str(refused).startswith("rule `")
        return
    thematic = load_rubric_by_id("iom-thematic-2019")
    for message in thematic.check_rule(rule):
        assert "\n" not in message and message.startswith("rule `")
    assume(False)


CSV_HEADER = "case_ref,site,inspector,sentence_type,assessment_completed,factors,services_drugs,age,reoffended,reoffending_frequency"
CSV_ROWS = [
    "T001,sheffield,jb,post_release,yes,drugs;thinking,no,23,yes,same",
    "T002,sheffield,jb,Community sentence,Yes,Drug misuse,Yes, 41 ,no,",
    "T003,surrey,am,non_statutory,no,,,,,",
]
JSONL_LINES = [
    '{"case_ref": "T001", "site": "sheffield", "answers": {"sentence_type": "post_release", "age": 23, "factors": ["drugs"]}}',
    '{"case_ref": "T002", "site": "surrey", "inspector": "am", "answers": {"sentence_type": "non_statutory", "complied": null}}',
]


@pytest.fixture(scope="module")
def thematic():
    return load_rubric_by_id("iom-thematic-2019")


def _check_import(tmp_path_factory, thematic, name: str, data: bytes) -> None:
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / name
    path.write_bytes(data)
    try:
        checked = check_file(path, thematic)
    except Problems as refused:
        assert_located(refused, rf"^{re.escape(str(path))}")
        return
    except AuditError as refused:
        assert "\n" not in str(refused).strip() and str(path) in str(refused)
        return
    if not checked.errors:
        assume(False)
    for entry in checked.errors.entries:
        assert "\n" not in f"{entry.where}: {entry.message}", entry
        assert entry.where.startswith(str(path)) and re.search(r"(row|line) \d+|header|column", entry.where) or entry.where == str(path), entry
        assert entry.message.strip()


@FUZZ
@given(mutated("\n".join([CSV_HEADER, *CSV_ROWS])), st.sampled_from([b"", b"\xef\xbb\xbf"]), st.booleans())
def test_csv_import_reader_locates_every_error(tmp_path_factory, thematic, text, bom, crlf):
    body = text.replace("\n", "\r\n") if crlf else text
    _check_import(tmp_path_factory, thematic, "cases.csv", bom + body.encode("utf-8", "surrogatepass"))


@FUZZ
@given(mutated("\n".join(JSONL_LINES)))
def test_jsonl_import_reader_locates_every_error(tmp_path_factory, thematic, text):
    _check_import(tmp_path_factory, thematic, "cases.jsonl", text.encode("utf-8", "surrogatepass"))
