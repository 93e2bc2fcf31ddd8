"""Fuzzing every YAML reader with hypothesis, now with anchors, aliases and oversized input.

Inputs: the shipped rubric and figure file with random edits drawn from
YAML's dangerous corners (anchors, aliases, merge keys, tags, deep brackets,
long numbers, impossible dates, escapes that write control characters), the
same files with values replaced by such things while staying well formed,
generated alias bombs of any width and depth placed anywhere in a rubric,
and texts pushed past the size limit. Every input must give either a valid
document or located one-line :class:`Problems` (``fuzz.yaml:LINE: ...``),
never another exception, within a bounded time.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from audit.errors import Problems
from audit.figures import parse_report
from audit.ratings import parse_scheme
from audit.rubric import parse_rubric
from audit.yamlsource import MAX_BYTES, parse_yaml, read_yaml

ROOT = Path(__file__).resolve().parents[1]
RUBRIC_TEXT = (ROOT / "rubrics" / "iom-thematic-2019.yaml").read_text(encoding="utf-8")
REPORT_TEXT = (ROOT / "exports" / "iom-thematic-2019.yaml").read_text(encoding="utf-8")
SCHEME_TEXT = (ROOT / "ratings" / "hmip-2018.yaml").read_text(encoding="utf-8")
READERS = {"rubric": parse_rubric, "figures": parse_report, "ratings": parse_scheme, "yaml": parse_yaml}
#: a valid rubric parses in milliseconds and every refusal here is as quick; this bound only
#: catches runaways (a quadratic or exponential path takes minutes), with room for a loaded machine
MAX_SECONDS = 5.0
FUZZ = settings(
    max_examples=300, deadline=None, derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture],
)

ATTACKS = st.sampled_from(
    [
        "&a ", "*a", "&a [x, y]", "*undefined", "<<: *a", "? *a\n: b", "{<<: [*a, *a]}", "&a\n", "- &b [*a, *a, *a]",
        "!!python/object/apply:os.system [ls]", "!!binary x", "!!set {a, b}", "!!timestamp x", "!!int x", "!!float y", "!foo",
        "2019-13-45", "2019-02-30 25:61:00", "9" * 150, "1" + ":00" * 200, "0x" + "f" * 300, "-.inf", ".nan",
        '"\\e]0;PWNED\\a"', '"\\u202e"', "\u202e", '"\\x9b2J"', '"\\b\\r"', '"\\ud800"', "\x00", "\x1b", "\x85",
        "[" * 80, "{" * 80, "- " * 80, "? ", "%YAML 1.1", "---", "...", "|", ">", "'", '"', "#", ": ", "\t", "\ufeff",
    ]
)


@st.composite
def edited(draw, text: str) -> str:
    """``text`` with a few lines deleted, repeated, indented or spliced with an attack."""
    lines = text.splitlines()
    for _ in range(draw(st.integers(1, 5))):
        index = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["insert", "splice", "append", "indent", "duplicate", "delete"]))
        if action == "insert":
            lines.insert(index, " " * draw(st.integers(0, 12)) + draw(ATTACKS))
        elif action == "splice":
            line = lines[index]
            at = draw(st.integers(0, len(line)))
            lines[index] = line[:at] + draw(ATTACKS) + line[at:]
        elif action == "append":
            lines[index] += " " + draw(ATTACKS)
        elif action == "indent":
            lines[index] = "  " + lines[index]
        elif action == "duplicate":
            lines.insert(index, lines[index])
        elif len(lines) > 1:
            del lines[index]
    return "\n".join(lines) + "\n"


VALUES = st.sampled_from(
    [
        "&a x", "*a", "&a [1, 2]", "{<<: *a}", "!!int x", "!!float x", "!!timestamp 2019-02-30", "!!binary '@@'", "!foo x",
        "2019-13-45", "2019-02-30", "9" * 101, "1" + ":00" * 60, "0x" + "f" * 120, "-" + "7" * 500, "1e400", "[" * 70 + "]" * 70,
        '"\\e]0;PWNED\\a"', '"ok \\u202e koo"', "\u202eraw", '"\\x9b2J"', '"bell\\a"', '"cr\\rlf"', "'tab\tok'", '"two\\nlines"', "[]", "{}", "~",
    ]
)


@st.composite
def revalued(draw, text: str) -> str:
    """``text`` with the values of a few ``key: value`` lines replaced: the YAML stays well formed."""
    lines = text.splitlines()
    candidates = [i for i, line in enumerate(lines) if re.match(r"^\s*(- )?[\w.]+: \S", line)]
    for _ in range(draw(st.integers(1, 3))):
        index = draw(st.sampled_from(candidates))
        key = re.match(r"^\s*(- )?[\w.]+: ", lines[index]).group(0)
        lines[index] = key + draw(VALUES)
    return "\n".join(lines) + "\n"


@st.composite
def bombs(draw) -> str:
    """An alias bomb of random width and depth, anywhere in a real rubric."""
    width, depth = draw(st.integers(1, 12)), draw(st.integers(1, 12))
    style = draw(st.sampled_from(["flow list", "block list", "mapping", "merge keys"]))
    lines = [f"b0: &b0 [{', '.join(['lol'] * width)}]"]
    for n in range(1, depth):
        if style == "flow list":
            lines.append(f"b{n}: &b{n} [{', '.join([f'*b{n - 1}'] * width)}]")
        elif style == "block list":
            lines.append(f"b{n}: &b{n}\n" + "".join(f"  - *b{n - 1}\n" for _ in range(width)).rstrip("\n"))
        elif style == "mapping":
            lines.append(f"b{n}: &b{n} {{{', '.join(f'k{i}: *b{n - 1}' for i in range(width))}}}")
        else:
            lines.append(f"b{n}: &b{n} {{<<: [{', '.join([f'*b{n - 1}'] * width)}]}}")
    rubric = RUBRIC_TEXT.splitlines()
    at = draw(st.integers(0, len(rubric)))
    indent = " " * draw(st.sampled_from([0, 2, 4, 6, 8, 10]))
    return "\n".join(rubric[:at] + [indent + line.replace("\n", "\n" + indent) for line in lines] + rubric[at:]) + "\n"


@st.composite
def oversized(draw) -> str:
    """A real file padded just past the size limit, with ASCII or with multi-byte text."""
    filler = draw(st.sampled_from(["# padding\n", "# é€𝄞\n", "x: y\n", "- a\n"]))
    extra = draw(st.integers(1, 4096))
    needed = MAX_BYTES - len(RUBRIC_TEXT.encode("utf-8")) + extra
    return RUBRIC_TEXT + filler * (needed // len(filler.encode("utf-8")) + 1)


def kind_of(message: str) -> str:
    """The class of a refusal, for ``--hypothesis-show-statistics``."""
    for kind in ("anchor", "alias", "larger than", "nested too deeply", "values, far more", "a number of", "cannot be read",
                 "holds a control", "holds a bidirectional", "YAML cannot hold", "YAML syntax error", "constructor", "appears twice"):
        if kind in message:
            return kind
    return "schema or rule"


def assert_bounded_and_located(reader: str, text: str) -> None:
    start = time.perf_counter()
    try:
        READERS[reader](text, "fuzz.yaml")
    except Problems as refused:
        assert refused.problems, "a refusal must say what is wrong"
        event(f"{reader}: {kind_of(refused.problems[0].message)}")
        for problem in refused.problems:
            line = str(problem)
            assert "\n" not in line and "\r" not in line, f"not one line: {line!r}"
            # a figure file may also refuse a whole dataset or file without a line
            pattern = r"^fuzz\.yaml:\d+$" if reader in ("rubric", "yaml") else r"^fuzz\.yaml(:\d+)?$"
            assert re.match(pattern, problem.where), f"not located: {line!r}"
            assert problem.message.strip() and "Traceback" not in line
            assert not any((ord(c) < 0x20 and c != "\t") or 0x7F <= ord(c) <= 0x9F or c == "\u202e" for c in line), f"raw control in {line!r}"
    elapsed = time.perf_counter() - start
    assert elapsed < MAX_SECONDS, f"{reader} took {elapsed:.2f} s"


@FUZZ
@given(st.sampled_from(["rubric", "yaml"]), st.one_of(edited(RUBRIC_TEXT), revalued(RUBRIC_TEXT), bombs(), oversized()))
def test_rubric_text_gives_a_document_or_located_lines(reader, text):
    assert_bounded_and_located(reader, text)


@FUZZ
@given(st.one_of(edited(REPORT_TEXT), revalued(REPORT_TEXT)))
def test_figure_text_gives_a_document_or_located_lines(text):
    assert_bounded_and_located("figures", text)


@FUZZ
@given(st.one_of(edited(SCHEME_TEXT), revalued(SCHEME_TEXT)))
def test_rating_scheme_text_gives_a_document_or_located_lines(text):
    assert_bounded_and_located("ratings", text)


@FUZZ
@given(st.one_of(bombs(), oversized()))
def test_every_bomb_and_oversized_text_is_refused(text):
    for reader in ("rubric", "figures", "ratings"):
        start = time.perf_counter()
        try:
            READERS[reader](text, "fuzz.yaml")
        except Problems as refused:  # at the anchor, the size, or a syntax error met first
            assert re.match(r"^fuzz\.yaml:\d+: ", str(refused.problems[0])), str(refused.problems[0])
        else:
            raise AssertionError(f"{reader} accepted a bomb or an oversized text")
        assert time.perf_counter() - start < MAX_SECONDS


@FUZZ
@given(st.binary(max_size=200), st.sampled_from([b"", b"\xef\xbb\xbf", b"id: x\n"]))
def test_any_file_bytes_give_a_document_or_located_lines(tmp_path_factory, data, prefix):
    path = tmp_path_factory.mktemp("bytes") / "fuzz.yaml"
    path.write_bytes(prefix + data)
    try:
        read_yaml(path)
    except Problems as refused:
        for problem in refused.problems:
            assert "\n" not in str(problem) and re.match(rf"^{re.escape(str(path))}:\d+$", problem.where), str(problem)
