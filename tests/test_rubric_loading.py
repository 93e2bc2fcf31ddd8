"""Loading rubric files: every malformed file gives located Problems, and nothing else.

Each case names a marker: a piece of text on the line the error must point at,
so the expected ``file:line`` is read from the file itself, not hard-coded.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from audit.errors import Problems
from audit.rubric import load_rubric, parse_rubric
from audit.rules import parse_rule

PROJECT = Path(__file__).resolve().parent.parent
AUDIT = PROJECT / ".venv" / "bin" / "audit"
SHIPPED = sorted((PROJECT / "rubrics").glob("*.yaml"))

HEAD = """\
id: t
version: 1
title: T
sections:
"""


@dataclass(frozen=True)
class Bad:
    name: str
    text: str
    marker: str  # text on the line the problem must point at
    fragment: str  # part of the message that must be there
    question: str | None = None  # "question 'x'" must lead the message

    def __str__(self) -> str:
        return self.name


def section(body: str, sid: str = "s", extra: str = "") -> str:
    return f"  - id: {sid}\n    title: S {sid}\n{extra}    questions:\n" + textwrap.indent(textwrap.dedent(body), "      ")


YES_NO_A = """\
- id: a
  type: yes_no
  text: A
"""

CHOICE_B = """\
- id: b
  type: single
  text: B
  options:
    x: Ex
    y: Why
"""

BAD = [
    Bad("yaml syntax error", HEAD + section("- id: a\n  type: yes_no: oops\n  text: A\n"), "yes_no: oops", "YAML syntax error: mapping values are not allowed"),
    Bad("yaml unclosed flow", HEAD + section("- id: a\n  type: yes_no\n  text: A\n  prompts: [one, two\n- id: b\n  type: yes_no\n  text: B\n"), "- id: b", "YAML syntax error: while parsing a flow sequence"),
    Bad("tab indentation", HEAD + section(YES_NO_A).replace("  text: A", "\ttext: A"), "\ttext: A", "found a tab character that violates indentation"),
    Bad("not a mapping", "- id: t\n- version: 1\n", "- id: t", "a rubric is a mapping with id, version, title and sections"),
    Bad("scalar file", "just some words\n", "just some words", "a rubric is a mapping"),
    Bad("empty file", "", "", "the file is empty"),
    Bad("comments only", "# nothing here\n", "# nothing here", "the file is empty"),
    Bad("unknown top key", HEAD.replace("title: T", "title: T\ntitel: T") + section(YES_NO_A), "titel: T", "unknown key 'titel' (did you mean 'title'?); allowed keys: id, version, title, description, sections"),
    Bad("unknown section key", HEAD + section(YES_NO_A, extra="    descripton: words\n"), "descripton: words", "section 's': unknown key 'descripton' (did you mean 'description'?)"),
    Bad("unknown question key", HEAD + section(YES_NO_A + '  applies: x == "y"\n'), "applies: x", "unknown key 'applies' (did you mean 'applies_if'?)", "a"),
    Bad("unknown option key", HEAD + section(CHOICE_B.replace("x: Ex", "x: {label: Ex, count: false}")), "x: {label", "unknown key 'count' (did you mean 'counts'?); allowed keys: label, counts", "b"),
    Bad("missing top key", "id: t\nversion: 1\nsections:\n" + section(YES_NO_A), "id: t", "missing required key 'title'"),
    Bad("missing question key", HEAD + section("- id: a\n  type: yes_no\n"), "- id: a", "missing required key 'text'", "a"),
    Bad("decimal version", HEAD.replace("version: 1", "version: 1.1") + section(YES_NO_A), "version: 1.1", "version 1.1 is read as a decimal number; quote it, e.g. version: '1.1'"),
    Bad("missing sections", HEAD.replace("sections:\n", ""), "id: t", "missing required key 'sections'"),
    Bad("section without questions", HEAD + "  - id: s\n    title: S\n", "  - id: s", "section 's': missing required key 'questions'"),
    Bad("duplicate question ids", HEAD + section(YES_NO_A) + section("- {id: a, type: yes_no, text: Again}\n", sid="s2"), "text: Again", "duplicate id (first used at line 8); ids must be unique", "a"),
    Bad("duplicate section ids", HEAD + section(YES_NO_A) + section(CHOICE_B).replace("  - id: s\n", "  - id: s  # again\n"), "# again", "section 's': duplicate id (first used at line 5)"),
    Bad("duplicate yaml keys", HEAD + section(YES_NO_A + "  text: Again\n"), "text: Again", "key 'text' appears twice in one mapping (first at line 10); keep one"),
    Bad("bad type name", HEAD + section(YES_NO_A.replace("yes_no", "yesno")), "type: yesno", "type 'yesno' is not one of yes_no, yes_no_na, single, multi, integer, text, date (did you mean 'yes_no'?)", "a"),
    Bad("options on yes_no", HEAD + section(YES_NO_A + "  options: {y: Oui, n: Non}\n"), "- id: a", "yes_no questions have fixed options yes, no; remove 'options'", "a"),
    Bad("single with one option", HEAD + section(CHOICE_B.replace("    y: Why\n", "")), "- id: b", "single questions need 'options' with at least two codes", "b"),
    Bad("options on integer", HEAD + section("- id: n\n  type: integer\n  text: N\n  range: [0, 5]\n  options: {a: A, b: B}\n"), "- id: n", "integer questions take no 'options'", "n"),
    Bad("integer without range", HEAD + section("- id: n\n  type: integer\n  text: N\n"), "- id: n", "integer questions need 'range: [min, max]'", "n"),
    Bad("inverted range", HEAD + section("- id: n\n  type: integer\n  text: N\n  range: [10, 1]\n"), "- id: n", "range [10, 1] has its minimum above its maximum", "n"),
    Bad("range of one number", HEAD + section("- id: n\n  type: integer\n  text: N\n  range: [10]\n"), "range: [10]", "range must be two whole numbers, [min, max]", "n"),
    Bad("range on yes_no", HEAD + section(YES_NO_A + "  range: [0, 1]\n"), "- id: a", "'range' is only for integer questions, not yes_no", "a"),
    Bad("bad id pattern", HEAD + section(YES_NO_A.replace("id: a", "id: Bad-Id")), "id: Bad-Id", "id 'Bad-Id' must be lowercase letters, digits and _, starting with a letter"),
    Bad("reserved id", HEAD + section(YES_NO_A.replace("id: a", "id: and")), "id: and", "'and' is a reserved word in rules; choose another id", "and"),
    Bad("bad rubric id", HEAD.replace("id: t", "id: My Rubric") + section(YES_NO_A), "id: My Rubric", "rubric id 'My Rubric' must be lowercase letters, digits, _ . or -"),
    Bad("bad option code", HEAD + section(CHOICE_B.replace("x: Ex", "'x y': Ex")), "options:", "option code 'x y' must be letters, digits, _ . or -", "b"),
    Bad("unquoted yes/no option codes", HEAD + section(CHOICE_B.replace("x: Ex", "yes: Ex")), "options:", "an option code was read by YAML as true", "b"),
    Bad("option without label", HEAD + section(CHOICE_B.replace("x: Ex", "x:")), "x:", "option 'x' needs a label", "b"),
    Bad("two options one label", HEAD + section(CHOICE_B.replace("y: Why", "y: ex")), "- id: b", "options 'x' and 'y' have the same label 'ex'", "b"),
    Bad("section not a mapping", HEAD + "  - just a section\n", "just a section", "a section must be a mapping with keys id, title"),
    Bad("question not a mapping", HEAD + section("- just a question\n"), "just a question", "a question must be a mapping with keys id, type, text"),
    Bad("recursive alias", HEAD + section(YES_NO_A + "  prompts: &p [*p]\n"), "prompts: &p", "YAML anchor &p is not accepted in audit files"),
    Bad("rule syntax error", HEAD + section(YES_NO_A + CHOICE_B + "  applies_if: a ==\n"), "applies_if: a ==", "rule `a ==`: not a valid rule (invalid syntax)", "b"),
    Bad("refused rule construct", HEAD + section(YES_NO_A + CHOICE_B + '  applies_if: len(a) == "yes"\n'), "applies_if: len", "at column 1: function calls are not allowed", "b"),
    Bad("rule not a string", HEAD + section(YES_NO_A + CHOICE_B + "  applies_if: 3\n"), "applies_if: 3", "applies_if: Input should be a valid string", "b"),
    Bad("unknown question in rule", HEAD + section(YES_NO_A + CHOICE_B + '  applies_if: aa == "yes"\n'), "applies_if: aa", "names unknown question 'aa' (did you mean 'a'?)", "b"),
    Bad("unknown option code", HEAD + section(CHOICE_B + YES_NO_A + '  applies_if: b == "z"\n'), "applies_if: b", "'z' is not an option code of 'b' (codes: x, y)", "a"),
    Bad("label instead of code", HEAD + section(CHOICE_B + YES_NO_A + '  applies_if: b == "Why"\n'), "applies_if: b", "'Why' is a label of 'b'; rules use its code \"y\"", "a"),
    Bad("yes/no answer written as a label", HEAD + section(YES_NO_A + CHOICE_B + '  applies_if: a == "Yes"\n'), "applies_if: a", "'Yes' is a label of 'a'; rules use its code \"yes\"", "b"),
    Bad("number compared with string", HEAD + section("- id: n\n  type: integer\n  text: N\n  range: [0, 99]\n" + YES_NO_A + '  applies_if: n > "18"\n'), "applies_if: n", "compares integer question 'n' with the string '18'; write the number without quotes", "a"),
    Bad("choice compared with number", HEAD + section(CHOICE_B + YES_NO_A + "  applies_if: b == 1\n"), "applies_if: b", "compares single question 'b' with the number 1", "a"),
    Bad("ordering a choice", HEAD + section(CHOICE_B + YES_NO_A + '  applies_if: b >= "x"\n'), "applies_if: b", "'b' is single; only integer and date questions can be ordered with >=", "a"),
    Bad("multi compared with ==", HEAD + section(CHOICE_B.replace("single", "multi") + YES_NO_A + '  applies_if: b == "x"\n'), "applies_if: b", "'b' is multi-choice; test membership: \"x\" in b", "a"),
    Bad("membership in a single", HEAD + section(CHOICE_B + YES_NO_A + "  applies_if: '\"x\" in b'\n"), "applies_if: '", "tests a multi-choice answer, but 'b' is single; use b == \"x\"", "a"),
    Bad("self-cycle", HEAD + section(YES_NO_A + '  applies_if: a == "yes"\n'), "applies_if: a", "rules depend on each other in a cycle: a -> a", "a"),
    Bad("section rule reads its own question", HEAD + section(YES_NO_A, extra='    applies_if: a == "yes"\n'), "- id: a", "rules depend on each other in a cycle: a -> a; a question's rule (or its section's)", "a"),
    Bad("section rule unknown question", HEAD + section(YES_NO_A) + section(CHOICE_B, sid="s2", extra='    applies_if: z == "yes"\n'), "applies_if: z", "section 's2': rule `z == \"yes\"` names unknown question 'z'"),
    Bad("section rule syntax error", HEAD + section(YES_NO_A) + section(CHOICE_B, sid="s2", extra="    applies_if: a = 'yes'\n"), "applies_if: a =", "section 's2': rule `a = 'yes'`"),
    Bad("section rule refused construct", HEAD + section(YES_NO_A) + section(CHOICE_B, sid="s2", extra='    applies_if: a.upper() == "YES"\n'), "applies_if: a.upper", "section 's2': rule `a.upper() == \"YES\"` at column 1: function calls are not allowed"),
    Bad("section rule bad code", HEAD + section(YES_NO_A) + section(CHOICE_B, sid="s2", extra='    applies_if: a == "y"\n'), "applies_if: a ==", "section 's2': rule `a == \"y\"` at column 1: 'y' is not an option code of 'a' (codes: yes, no)"),
]


def line_of(text: str, marker: str) -> int:
    if not marker:
        return 1
    hits = [number for number, line in enumerate(text.splitlines(), start=1) if marker in line]
    assert len(hits) == 1, f"marker {marker!r} must be on exactly one line, found {hits}"
    return hits[0]


def test_there_are_at_least_25_distinct_malformed_rubrics():
    assert len({bad.name for bad in BAD}) == len(BAD) >= 25
    assert len({bad.text for bad in BAD}) == len(BAD)


@pytest.mark.parametrize("bad", BAD, ids=str)
def test_malformed_rubric_gives_located_problems(tmp_path, bad):
    path = tmp_path / "bad.yaml"
    path.write_text(bad.text, encoding="utf-8")
    with pytest.raises(Problems) as caught:  # nothing but Problems may escape
        load_rubric(path)
    problems = caught.value.problems
    where = f"{path}:{line_of(bad.text, bad.marker)}"
    matching = [p for p in problems if bad.fragment in p.message]
    assert matching, f"no problem says {bad.fragment!r}: {[str(p) for p in problems]}"
    assert any(p.where == where for p in matching), f"expected at {where}: {[str(p) for p in matching]}"
    if bad.question:
        assert any(p.message.startswith(f"question '{bad.question}': ") for p in matching), [str(p) for p in matching]
    for line in caught.value.lines():
        assert "\n" not in line and line.startswith(str(path))


def test_every_problem_of_one_file_is_reported_at_once(tmp_path):
    text = HEAD + section(
        """\
        - id: a
          type: yes_no
          text: A
          colour: red
        - id: b
          type: singel
          text: B
        - id: c
          type: yes_no
          text: C
          applies_if: f == "maybe"
        - id: d
          type: integer
          text: D
        - id: e
          type: yes_no
          text: E
          applies_if: f == "yes"
        - id: f
          type: yes_no
          text: F
          applies_if: e == "yes"
        """
    )
    path = tmp_path / "many.yaml"
    path.write_text(text)
    with pytest.raises(Problems) as caught:
        load_rubric(path)
    found = [(p.where, p.message) for p in caught.value.problems]
    expected = [
        (line_of(text, "colour: red"), "question 'a': unknown key 'colour'"),
        (line_of(text, "type: singel"), "question 'b': type 'singel' is not one of"),
        (line_of(text, 'f == "maybe"'), "question 'c': rule `f == \"maybe\"` at column 1: 'maybe' is not an option code of 'f'"),
        (line_of(text, "- id: d"), "question 'd': integer questions need 'range: [min, max]'"),
    ]
    for line, fragment in expected:
        assert any(where == f"{path}:{line}" and fragment in message for where, message in found), (line, fragment, found)
    (cycle,) = cycles_in(caught.value, text, str(path))
    assert cycle == {"e", "f"}
    assert len(found) == len(expected) + 1
    assert [int(where.rsplit(":", 1)[1]) for where, _ in found] == sorted(int(w.rsplit(":", 1)[1]) for w, _ in found)
    assert caught.value.summary == f"{path}: 5 problems; nothing was loaded"


def cycles_in(error: Problems, text: str, path: str) -> list[set[str]]:
    """The question sets of the reported cycles, checking how each is reported.

    Which member a cycle is reported at is graphlib's choice; wherever it is,
    the problem must name that question, point at its rule, and list a closed
    path (first id = last id).
    """
    found = []
    for problem in error.problems:
        if "cycle" not in problem.message:
            continue
        path_ids = problem.message.split("in a cycle: ")[1].split(";")[0].split(" -> ")
        assert path_ids[0] == path_ids[-1]
        first = path_ids[0]
        assert problem.message.startswith(f"question '{first}': rules depend on each other in a cycle: ")
        rule_line = [n for n, line in enumerate(text.splitlines(), 1) if line.strip() == f"- id: {first}"][0]
        while "applies_if" not in text.splitlines()[rule_line - 1]:
            rule_line += 1
        assert problem.where == f"{path}:{rule_line}"
        found.append(set(path_ids))
    return found


CYCLES = {
    "two-cycle": ("""\
        - {id: a, type: yes_no, text: A}
        - id: b
          type: yes_no
          text: B
          applies_if: c == "yes"
        - id: c
          type: yes_no
          text: C
          applies_if: b == "no" or a == "yes"
        """, [{"b", "c"}]),
    "three-cycle": ("""\
        - id: a
          type: yes_no
          text: A
          applies_if: e == "yes"
        - id: c
          type: yes_no
          text: C
          applies_if: a == "no"
        - id: e
          type: yes_no
          text: E
          applies_if: c == "no"
        """, [{"a", "c", "e"}]),
    "self-cycle beside a chain": ("""\
        - {id: a, type: yes_no, text: A}
        - id: b
          type: yes_no
          text: B
          applies_if: a == "yes" and b == "yes"
        - id: c
          type: yes_no
          text: C
          applies_if: b == "yes"
        """, [{"b"}]),
}


@pytest.mark.parametrize("name", list(CYCLES))
def test_cycles_are_reported_at_a_member_of_the_cycle(name):
    body, expected = CYCLES[name]
    text = HEAD + section(body)
    with pytest.raises(Problems) as caught:
        parse_rubric(text, "cycle.yaml")
    assert cycles_in(caught.value, text, "cycle.yaml") == expected
    assert len(caught.value.problems) == len(expected)


def test_two_separate_cycles_are_both_reported(tmp_path):
    text = HEAD + section(
        """\
        - id: a
          type: yes_no
          text: A
          applies_if: b == "yes"
        - id: b
          type: yes_no
          text: B
          applies_if: a == "yes"
        - id: c
          type: yes_no
          text: C
        - id: d
          type: yes_no
          text: D
          applies_if: e == "yes" and c == "yes"
        - id: e
          type: yes_no
          text: E
          applies_if: d == "no"
        """
    )
    with pytest.raises(Problems) as caught:
        parse_rubric(text, "cycles.yaml")
    members = cycles_in(caught.value, text, "cycles.yaml")
    assert sorted(map(sorted, members)) == [["a", "b"], ["d", "e"]]
    assert len(caught.value.problems) == 2


def test_a_question_that_failed_its_own_checks_is_not_also_unknown_in_rules():
    text = HEAD + section(YES_NO_A.replace("yes_no", "yes-no") + '- id: b\n  type: yes_no\n  text: B\n  applies_if: a == "yes"\n')
    with pytest.raises(Problems) as caught:
        parse_rubric(text, "x.yaml")
    assert len(caught.value.problems) == 1
    assert "type 'yes-no'" in caught.value.problems[0].message


def test_non_utf8_file_is_located_at_the_bad_byte(tmp_path):
    path = tmp_path / "latin1.yaml"
    text = HEAD + section(YES_NO_A.replace("text: A", "text: Caf\u00e9?"))
    path.write_bytes(text.encode("latin-1"))
    with pytest.raises(Problems) as caught:
        load_rubric(path)
    assert [str(p) for p in caught.value.problems] == [f"{path}:{line_of(text, 'Caf')}: is not UTF-8 text; save it as UTF-8"]


def test_a_missing_file_and_a_folder_are_problems_too(tmp_path):
    with pytest.raises(Problems, match="file not found; check the path"):
        load_rubric(tmp_path / "nope.yaml")
    with pytest.raises(Problems, match="is a folder, not a YAML file"):
        load_rubric(tmp_path)


def test_a_utf8_bom_and_crlf_line_ends_are_fine(tmp_path):
    path = tmp_path / "windows.yaml"
    path.write_bytes(("\ufeff" + HEAD + section(YES_NO_A)).replace("\n", "\r\n").encode("utf-8"))
    assert load_rubric(path).question_ids == ["a"]


def test_the_option_short_form_and_counts_false():
    text = HEAD + section(CHOICE_B.replace("y: Why", "y: {label: Why, counts: false}"))
    question = parse_rubric(text).question("b")
    assert question.options["x"].label == "Ex" and question.options["x"].counts is True
    assert question.options["y"].label == "Why" and question.options["y"].counts is False


def test_an_alias_bomb_is_refused_at_its_first_anchor():
    # nine aliases deep: expanding it would build 9**9 nodes (limits and timings: tests/test_yaml_bounds.py)
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 9):
        lines.append(f"a{level}: &a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    with pytest.raises(Problems) as caught:
        parse_rubric("\n".join(lines) + "\n", "bomb.yaml")
    assert [str(p) for p in caught.value.problems] == [
        "bomb.yaml:1: YAML anchor &a0 is not accepted in audit files; write the value out in full where it is used"
    ]


def test_deeply_nested_yaml_is_a_problem_not_a_crash():
    with pytest.raises(Problems, match="nested too deeply"):
        parse_rubric("a: " + "[" * 5000 + "]" * 5000 + "\n", "deep.yaml")


def _yaml_blocks(markdown: str) -> list[str]:
    return re.findall(r"```yaml\n(.*?)```", markdown, flags=re.S)


def test_the_worked_example_in_the_docs_is_a_valid_rubric(thematic_rubric):
    blocks = _yaml_blocks((PROJECT / "docs" / "rubric-format.md").read_text(encoding="utf-8"))
    example = parse_rubric(blocks[0], "docs/rubric-format.md")
    for qid in example.question_ids:  # an excerpt of the shipped rubric, not a variant of it
        shipped, shown = thematic_rubric.question(qid), example.question(qid)
        assert (shown.type, shown.options, shown.range) == (shipped.type, shipped.options, shipped.range), qid
    rules = [line.split("applies_if:", 1)[1].split("#")[0].strip() for block in blocks[1:] for line in block.splitlines() if "applies_if:" in line]
    assert len(rules) >= 6
    for rule in rules:
        if rule.startswith(">"):
            continue
        parse_rule(rule.strip("'"))


# --- the command line --------------------------------------------------------------------


def run_audit(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(AUDIT), *args], capture_output=True, text=True, cwd=cwd, timeout=120)


def test_rubric_check_on_a_bad_file_exits_1_with_every_error_on_stderr(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(HEAD + section(YES_NO_A.replace("yes_no", "yesno") + CHOICE_B + '  applies_if: zz == "yes"\n'))
    result = run_audit("rubric", "check", str(bad))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    assert f"error: {bad}:{line_of(bad.read_text(), 'type: yesno')}: question 'a': type 'yesno'" in result.stderr
    assert f"error: {bad}:{line_of(bad.read_text(), 'applies_if: zz')}: question 'b': rule `zz == \"yes\"` names unknown question 'zz'" in result.stderr
    assert f"{bad}: 2 problems; nothing was loaded" in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    "content",
    [b"\xff\xfe\x00garbage", b"", b"key: [unclosed\n", b"a: &x [*x]\n", b"a: " + b"[" * 3000 + b"]" * 3000],
    ids=["binary", "empty", "syntax", "recursive", "deep"],
)
def test_rubric_check_never_shows_a_traceback(tmp_path, content):
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(content)
    result = run_audit("rubric", "check", str(bad))
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    assert "internal error" not in result.stderr
    assert result.stderr.startswith(f"error: {bad}")


def test_rubric_check_passes_the_shipped_rubrics():
    result = run_audit("rubric", "check", *map(str, SHIPPED))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    for path in SHIPPED:
        assert f"{path}: ok, rubric '{path.stem}'" in result.stdout


def test_rubric_check_reports_the_bad_file_among_good_ones(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: t\n")
    result = run_audit("rubric", "check", str(SHIPPED[0]), str(bad))
    assert result.returncode == 1
    assert f"{SHIPPED[0]}: ok" in result.stdout
    assert f"error: {bad}:1: missing required key 'version'" in result.stderr


def test_rubric_check_of_a_missing_file_exits_1(tmp_path):
    result = run_audit("rubric", "check", str(tmp_path / "missing.yaml"))
    assert result.returncode == 1
    assert "file not found" in result.stderr
    assert "Traceback" not in result.stderr


def test_rubric_show_lists_ids_options_and_rules(tmp_path, thematic_rubric):
    result = run_audit("rubric", "show", "iom-thematic-2019", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith(f"iom-thematic-2019  version 1  sha256 {thematic_rubric.sha256[:12]}")
    for question in thematic_rubric.questions:
        assert f"  {question.id}  ({question.type})" in out
        for code, option in question.options.items():
            assert f"{code}: {option.label}" in out
    not_statutory = [q for q in thematic_rubric.questions if q.applies_if == 'sentence_type != "non_statutory"']
    assert len(not_statutory) == 15
    assert out.count('applies if: sentence_type != "non_statutory"') == len(not_statutory)
    assert "## Planning   [applies if sentence_type != \"non_statutory\"]" in out
    assert "applies if: \"drugs\" in factors" in out
    assert "applies if: on_licence == \"yes\"" in out
    assert "na: Not applicable   (never in a base)" in out
    assert "range: 0-500" in out and "range: 10-120" in out


def test_rubric_show_of_an_unknown_id_exits_1(tmp_path):
    result = run_audit("rubric", "show", "iom-thematic-2091", cwd=tmp_path)
    assert result.returncode == 1
    assert "no rubric with id 'iom-thematic-2091' (did you mean 'iom-thematic-2019'?)" in result.stderr
    assert "Traceback" not in result.stderr


if __name__ == "__main__":  # pragma: no cover - print every case's messages, to read them
    for bad in BAD:
        try:
            parse_rubric(bad.text, "bad.yaml")
        except Problems as exc:
            print(f"--- {bad.name}", *exc.lines(), sep="\n")
    sys.exit(0)
