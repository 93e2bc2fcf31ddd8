"""Bounded YAML: every reader refuses bombs quickly, at their line, in little memory.

Each attack is loaded in a fresh Python process, through the reader the
tool uses (``load_rubric``, ``load_report``, or a database's stored rubric
text through ``Store.rubric``). The child measures itself: the seconds of the
load (``time.perf_counter``), the peak of Python allocations (``tracemalloc``,
in a second run) and the growth of its peak resident set (``VmHWM``, which
also counts libyaml's C allocations; not ``ru_maxrss``, which a child
inherits from the pytest process that started it). A control runs the same
probe on an unbounded load, to show that the probe does see a blow-up.

Before this, 8 nested levels of anchors under a question's prompts took
7.7 s and 890 MB, and 9 took more than 2.3 GB.
"""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
import sys
import time
from hashlib import sha256
from pathlib import Path

import pytest

from audit import yamlsource
from audit.errors import Problems
from audit.rubric import parse_rubric
from audit.yamlsource import MAX_BYTES, MAX_DEPTH, MAX_NUMBER_CHARS, parse_yaml, read_yaml

PROJECT = Path(__file__).resolve().parent.parent
AUDIT = PROJECT / ".venv" / "bin" / "audit"

#: what "refused quickly and in little memory" means here; a refusal measures milliseconds and a few MB
MAX_SECONDS = 1.0
MAX_TRACED_MB = 20
MAX_RSS_GROWTH_MB = 50

RUBRIC_HEAD = """\
id: bomb
version: 1
title: A rubric with a bomb in it
sections:
  - id: s
    title: Section
    questions:
      - id: q
        type: yes_no
        text: A question
        prompts:
"""

# The child: load one file with one reader, then print what it measured.
PEAK_RSS = """
def peak_rss_kb():  # this process's peak resident set since it started (VmHWM)
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
"""
PROBE = PEAK_RSS + r"""
import json, sys, time, tracemalloc
from audit.errors import Problems
from audit.figures import load_report
from audit.rubric import load_rubric
from audit.store import Store, StoreError

kind, path = sys.argv[1], sys.argv[2]
if kind == "stored":  # opening the database is not what is measured: only parsing its rubric text
    store = Store.open(path, create=False, check=False)  # check=False: the rubric is parsed below, measured
    stored = [row["sha256"] for row in store.rubrics()]

def load():
    if kind == "rubric":
        load_rubric(path)
    elif kind == "figures":
        load_report(path)
    elif kind == "stored":
        for sha in stored:
            store.rubric(sha)
    else:  # the control: what an unbounded loader does with the same text
        import yaml
        with open(path, encoding="utf-8") as handle:
            repr(yaml.load(handle.read(), Loader=yaml.CSafeLoader))

def run():
    try:
        load()
    except Problems as refused:
        return [str(p) for p in refused.problems]
    except StoreError as refused:  # the store names the file, then the reader's problem in brackets
        return [str(refused).split(" cannot be read (", 1)[1][:-1]]
    return []

rss = peak_rss_kb()
start = time.perf_counter()
problems = run()
seconds = time.perf_counter() - start
grown_kb = peak_rss_kb() - rss
tracemalloc.start()
run()
peak = tracemalloc.get_traced_memory()[1]
print(json.dumps({"problems": problems, "seconds": seconds, "traced_mb": peak / 2**20, "rss_growth_mb": grown_kb / 1024}))
"""


def probe(kind: str, path: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, kind, str(path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def line_of(text: str, marker: str) -> int:
    return text[: text.index(marker)].count("\n") + 1


def nested_anchors(levels: int, width: int = 9, leaf: str = "lol") -> str:
    """The issue's bomb: a question's prompts, each list aliasing the previous one ``width`` times."""
    lines = ["          - &p0 [" + ", ".join([leaf] * width) + "]"]
    lines += [f"          - &p{n} [" + ", ".join([f"*p{n - 1}"] * width) + "]" for n in range(1, levels)]
    return RUBRIC_HEAD + "\n".join(lines) + "\n"


def billion_laughs() -> str:
    """The classic, as a figure-table file: ten levels of ten, 10**10 'lol's once expanded."""
    lines = ["id: laughs", "title: Laughs", 'lol0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    lines += [f"lol{n}: &l{n} [" + ", ".join([f"*l{n - 1}"] * 10) + "]" for n in range(1, 10)]
    return "\n".join(lines) + "\n"


def merge_key_laughs() -> str:
    """The same growth through YAML merge keys (``<<: *x``), with the anchors defined after a harmless start."""
    lines = [RUBRIC_HEAD.rstrip("\n").replace("        prompts:", "        options_note:")]
    lines.append("          m0: &m0 {a: lol, b: lol, c: lol, d: lol, e: lol, f: lol, g: lol, h: lol}")
    lines += [f"          m{n}: &m{n} {{<<: [*m{n - 1}, *m{n - 1}], k{n}: [*m{n - 1}, *m{n - 1}, *m{n - 1}, *m{n - 1}]}}" for n in range(1, 12)]
    return "\n".join(lines) + "\n"


BOMBS = [
    # name, reader, text, marker on the line the refusal must name, what the message must say
    ("nested anchors, 8 levels under prompts", "rubric", nested_anchors(8), "&p0", "YAML anchor &p0 is not accepted"),
    ("nested anchors, 9 levels under prompts", "rubric", nested_anchors(9), "&p0", "YAML anchor &p0 is not accepted"),
    ("billion laughs (figure file)", "figures", billion_laughs(), "&l0", "YAML anchor &l0 is not accepted"),
    ("merge-key laughs", "rubric", merge_key_laughs(), "&m0", "YAML anchor &m0 is not accepted"),
    ("an alias with no anchor", "rubric", RUBRIC_HEAD + "          - *nowhere\n", "*nowhere", "YAML alias *nowhere is not accepted"),
    ("deep flow nesting, 100,000 levels", "rubric", "id: deep\nversion: 1\ntitle: T\nsections: " + "[" * 100_000 + "]" * 100_000 + "\n",
     "sections:", "nested too deeply"),
    ("deep block nesting, 200 levels", "figures", "".join("  " * n + f"k{n}:\n" for n in range(200)) + "  " * 200 + "end: 1\n",
     f"k{MAX_DEPTH}:", "nested too deeply"),
    ("250,000 values in 500 KB", "rubric", "id: flat\nsections: [" + ",".join(["1"] * 250_000) + "]\n", "sections:", "more than 100,000 values"),
]


@pytest.mark.parametrize("name, reader, text, marker, fragment", BOMBS, ids=[b[0] for b in BOMBS])
def test_a_bomb_is_refused_at_its_line_quickly_and_in_little_memory(tmp_path, name, reader, text, marker, fragment):
    path = tmp_path / "bomb.yaml"
    path.write_text(text, encoding="utf-8")
    measured = probe(reader, path)
    assert measured["problems"], f"{name} was accepted"
    first = measured["problems"][0]
    assert first.startswith(f"{path}:{line_of(text, marker)}: "), first
    assert fragment in first and "\n" not in first
    assert measured["seconds"] < MAX_SECONDS, measured
    assert measured["traced_mb"] < MAX_TRACED_MB, measured
    assert measured["rss_growth_mb"] < MAX_RSS_GROWTH_MB, measured


def test_a_huge_file_is_refused_after_reading_one_mebibyte(tmp_path):
    path = tmp_path / "huge.yaml"
    line = "a_key_of_a_flat_document: with a value\n"
    with path.open("w", encoding="utf-8") as handle:
        handle.write(line * (50 * 2**20 // len(line)))  # 50 MB of valid YAML
    measured = probe("rubric", path)
    crossing = MAX_BYTES // len(line) + 1  # the line on which byte MAX_BYTES + 1 falls
    assert measured["problems"] == [
        f"{path}:{crossing}: YAML text is larger than 1 MiB (1,048,576 bytes, the most audit reads; its own files are about 10 KB) "
        "and passes that limit at this line; is this the file you meant?"
    ]
    assert measured["seconds"] < MAX_SECONDS, measured
    assert measured["rss_growth_mb"] < MAX_RSS_GROWTH_MB, measured


def test_a_sparse_eight_gigabyte_file_is_not_read_whole(tmp_path):
    path = tmp_path / "sparse.yaml"
    with path.open("wb") as handle:
        handle.truncate(8 * 2**30)
    start = time.perf_counter()
    with pytest.raises(Problems, match=r"sparse\.yaml:1: YAML text is larger than 1 MiB"):
        read_yaml(path)
    assert time.perf_counter() - start < MAX_SECONDS


def test_the_probe_sees_an_unbounded_expansion(tmp_path):
    # the control: five levels of 900-character leaves, expanded by a plain loader
    # (60,000 leaves), grow the process by far more than the limits above
    path = tmp_path / "bomb.yaml"
    path.write_text(nested_anchors(5, leaf="lol" * 300), encoding="utf-8")
    measured = probe("unbounded", path)
    assert measured["problems"] == []
    assert measured["rss_growth_mb"] > MAX_RSS_GROWTH_MB and measured["traced_mb"] > MAX_TRACED_MB, measured


# --- a database's stored rubric text -------------------------------------------------------


def database_with_rubric_text(tmp_path: Path, text: str) -> Path:
    """A real database (one imported case) whose stored rubric text is replaced by ``text``,
    with its sha256 and every reference to it made to agree, as a careful forger would."""
    from audit.importer import import_file
    from audit.rubric import load_rubric_by_id

    db = tmp_path / "site.db"
    cases = tmp_path / "cases.jsonl"
    cases.write_text('{"case_ref": "T001", "site": "sheffield", "inspector": "jb", "answers": {"sentence_type": "post_release", "age": 23}}\n', encoding="utf-8")
    import_file(db, cases, load_rubric_by_id("iom-thematic-2019"))
    forged = sha256(text.encode("utf-8")).hexdigest()
    connection = sqlite3.connect(db)
    try:
        with connection:
            connection.execute("PRAGMA foreign_keys = OFF")
            (old,) = connection.execute("SELECT sha256 FROM rubrics").fetchone()
            connection.execute("UPDATE rubrics SET text = ?, sha256 = ? WHERE sha256 = ?", [text, forged, old])
            for table in ("questions", "options", "cases"):
                connection.execute(f"UPDATE {table} SET rubric_sha256 = ? WHERE rubric_sha256 = ?", [forged, old])
    finally:
        connection.close()
    return db


def test_a_bomb_stored_as_a_databases_rubric_text_is_refused_quickly(tmp_path):
    text = nested_anchors(9)
    db = database_with_rubric_text(tmp_path, text)
    measured = probe("stored", db)
    assert measured["problems"] and measured["problems"][0].startswith(f"{db}:rubric iom-thematic-2019:{line_of(text, '&p0')}: YAML anchor &p0")
    assert measured["seconds"] < MAX_SECONDS, measured
    assert measured["traced_mb"] < MAX_TRACED_MB, measured


#: ``audit`` as its console script runs it, then its peak resident set written to the file named first
CLI_WITH_PEAK = PEAK_RSS + """
import sys
from audit.cli import main
code = main(sys.argv[2:])
with open(sys.argv[1], "w") as out:
    out.write(str(peak_rss_kb()))
sys.exit(code)
"""


def test_tabulate_on_a_database_holding_a_bomb_exits_1_within_bounded_memory(tmp_path):
    # the issue: "stored as a database's rubric text, a bomb makes tabulate run out of memory"
    db = database_with_rubric_text(tmp_path, nested_anchors(9))
    peak = tmp_path / "peak"
    done = subprocess.run([sys.executable, "-c", CLI_WITH_PEAK, str(peak), "tabulate", str(db), "age"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert re.search(r"^error: .*site\.db:rubric iom-thematic-2019:\d+: YAML anchor &p0 is not accepted", done.stderr, re.M), done.stderr
    assert "Traceback" not in done.stderr
    assert int(peak.read_text()) / 1024 < 100, f"audit tabulate peaked at {int(peak.read_text()) / 1024:.0f} MB"


def test_oversized_stored_rubric_text_is_refused_without_parsing(tmp_path):
    text = "id: big\n" + "# padding\n" * (MAX_BYTES // 10)
    db = database_with_rubric_text(tmp_path, text)
    measured = probe("stored", db)
    assert measured["problems"] and "YAML text is larger than 1 MiB" in measured["problems"][0], measured
    assert measured["seconds"] < MAX_SECONDS


# --- each limit at its edge ----------------------------------------------------------------


def test_exactly_one_mebibyte_is_read_and_one_byte_more_is_not(tmp_path):
    body = "id: x\n"
    padded = body + "#" * (MAX_BYTES - len(body) - 1) + "\n"
    assert len(padded.encode("utf-8")) == MAX_BYTES
    assert parse_yaml(padded, "edge.yaml").data == {"id": "x"}
    path = tmp_path / "edge.yaml"
    path.write_text(padded, encoding="utf-8")
    assert read_yaml(path).data == {"id": "x"}
    with pytest.raises(Problems, match="larger than 1 MiB"):
        parse_yaml(padded + "\n", "edge.yaml")
    path.write_text(padded + "\n", encoding="utf-8")
    with pytest.raises(Problems, match="larger than 1 MiB"):
        read_yaml(path)


def test_the_size_limit_counts_utf8_bytes_not_characters():
    text = "id: x\nnote: " + "é" * (MAX_BYTES // 2) + "\n"  # fewer characters than MAX_BYTES, more bytes
    assert len(text) < MAX_BYTES < len(text.encode("utf-8"))
    with pytest.raises(Problems, match=r"^big\.yaml:2: YAML text is larger than 1 MiB"):
        parse_yaml(text, "big.yaml")


def test_nesting_is_read_to_its_limit_and_refused_one_level_deeper():
    def nested(levels: int) -> str:
        return "".join("  " * n + f"k{n}:\n" for n in range(levels - 1)) + "  " * (levels - 1) + "k: 1\n"

    assert parse_yaml(nested(MAX_DEPTH), "ok.yaml").data is not None
    with pytest.raises(Problems) as refused:
        parse_yaml(nested(MAX_DEPTH + 1), "deep.yaml")
    assert str(refused.value) == f"deep.yaml:{MAX_DEPTH + 1}: YAML is nested too deeply (more than {MAX_DEPTH} levels); flatten it"


def test_values_are_counted_to_their_limit(monkeypatch):
    monkeypatch.setattr(yamlsource, "MAX_NODES", 10)
    assert parse_yaml("a: [1, 2, 3, 4, 5, 6, 7]\n", "ok.yaml").data["a"][-1] == 7  # 10 values: map, key, list, 7 items
    with pytest.raises(Problems, match=r"^many\.yaml:2: the document holds more than 10 values"):
        parse_yaml("a: [1, 2, 3, 4, 5, 6, 7]\nb: [8, 9]\n", "many.yaml")


@pytest.mark.parametrize("number", ["9" * MAX_NUMBER_CHARS, "0x" + "f" * (MAX_NUMBER_CHARS - 2), "1:" + "00:" * 32 + "0"])
def test_a_number_up_to_the_limit_is_read(number):
    assert isinstance(parse_yaml(f"n: {number}\n", "n.yaml").data["n"], int)


@pytest.mark.parametrize("number", ["9" * 5000, "0x" + "f" * 200_000, "1" + ":00" * 100_000, "1" + ":00" * 40 + ".5", "-" + "1" * 101])
def test_a_longer_number_is_refused_at_its_line_in_linear_time(number):
    text = f"id: x\nrange: [0, {number}]\n"
    start = time.perf_counter()
    with pytest.raises(Problems) as refused:
        parse_yaml(text, "n.yaml")
    assert time.perf_counter() - start < MAX_SECONDS
    assert str(refused.value) == (
        f"n.yaml:2: a number of {len(number):,} characters; numbers may have at most {MAX_NUMBER_CHARS} (quote it if it is text)"
    )
    assert parse_yaml(f"id: x\nrange: '{number}'\n", "n.yaml").data["range"] == number  # quoted, it is text


@pytest.mark.parametrize(
    "value, fragment",
    [
        ("2019-13-45", "'2019-13-45' cannot be read (month must be in 1..12); quote it if it is text"),
        ("!!int twelve", "'twelve' cannot be read (invalid literal for int() with base 10: 'twelve')"),
        ("!!float x", "'x' cannot be read (could not convert string to float: 'x')"),
        ("!!python/object:os.system x", "could not determine a constructor for the tag"),
        ("!custom x", "could not determine a constructor for the tag '!custom'"),
    ],
)
def test_a_value_yaml_cannot_build_is_a_located_problem(value, fragment):
    with pytest.raises(Problems) as refused:
        parse_yaml(f"id: x\nversion: {value}\n", "v.yaml")
    assert str(refused.value).startswith("v.yaml:2: ") and fragment in str(refused.value)


@pytest.mark.parametrize(
    "written, shown",
    [
        (r'"Evil \e]0;PWNED\a title"', r"Evil \x1b]0;PWNED\x07 title"),
        (r'"\u202eevil"', r"\u202eevil"),
        ("\u202eraw override", r"\u202eraw override"),
        (r'"back\b\bspace"', r"back\x08\x08space"),
        (r'"next line\x85"', r"next line\x85"),
    ],
)
def test_control_and_bidi_characters_in_any_value_are_refused(written, shown):
    for text in (f"id: x\ntitle: {written}\n", f"id: x\n{written}: key\n"):
        with pytest.raises(Problems) as refused:
            parse_yaml(text, "c.yaml")
        message = str(refused.value)
        assert message.startswith(f"c.yaml:2: the text '{shown}' holds "), message
        assert "\x1b" not in message and "\u202e" not in message and "\x07" not in message


def test_tabs_line_breaks_and_other_scripts_in_text_are_kept():
    # the CLI's streams escape a tab or a carriage return (audit.terminal); writers keep a row on one line
    data = parse_yaml('id: x\ntext: "one\\ttwo\\nthree\\rfour"\nlabel: Ymgynghorydd — مراجعة\n', "t.yaml").data
    assert data == {"id": "x", "text": "one\ttwo\nthree\rfour", "label": "Ymgynghorydd — مراجعة"}


def test_text_that_is_not_unicode_is_a_located_problem():
    with pytest.raises(Problems, match=r"^s\.yaml:2: the text holds a character that is not valid Unicode"):
        parse_yaml("id: x\nt: \ud800\n", "s.yaml")


# --- option codes that an import could not tell apart ---------------------------------------


CHOICE = RUBRIC_HEAD.replace("type: yes_no", "type: single").replace("        prompts:\n", "        options:\n")


@pytest.mark.parametrize(
    "options, marker, fragment",
    [
        ("          y: Yes it is\n          'Y': Yes indeed\n", "'Y'", "option codes 'y' and 'Y' differ only in case"),
        ("          low: Low\n          med: Medium\n          LOW: Very low\n", "LOW:", "option codes 'low' and 'LOW' differ only in case"),
    ],
)
def test_rubric_check_refuses_options_an_import_could_not_tell_apart(tmp_path, options, marker, fragment):
    text = CHOICE + options
    path = tmp_path / "codes.yaml"
    path.write_text(text, encoding="utf-8")
    done = subprocess.run([str(AUDIT), "rubric", "check", str(path)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert f"error: {path}:{line_of(text, marker)}: question 'q': {fragment}" in done.stderr.splitlines()[0], done.stderr
    assert "Traceback" not in done.stderr


def test_codes_in_other_cases_of_one_option_are_still_read_as_that_option():
    question = parse_rubric(CHOICE + "          low: Low\n          high: High\n", "ok.yaml").question("q")
    assert [question.option_code_for(text) for text in ("LOW", "low", "Low", "HIGH", "high ")] == ["low", "low", "low", "high", "high"]


def test_the_docs_state_the_limits_the_code_enforces():
    for doc in ("rubric-format.md", "figure-format.md"):
        text = " ".join((PROJECT / "docs" / doc).read_text(encoding="utf-8").split())
        assert MAX_BYTES == 2**20 and "1 MiB" in text, doc
        for stated in (f"{MAX_DEPTH} levels of nesting", f"{yamlsource.MAX_NODES:,} values", f"umbers of {MAX_NUMBER_CHARS} characters"):
            assert stated in text.replace("**", ""), (doc, stated)


@pytest.mark.parametrize("rubric_id", ["a" * 5000, "a" * 300 + ".yaml", "nul\x00byte"])
def test_a_rubric_id_the_system_cannot_look_up_is_not_found(rubric_id):
    # a rating scheme's or an import's --rubric naming such an id raised OSError (found by the fuzz)
    from audit.rubric import find_rubric

    with pytest.raises(Problems, match="no rubric with id"):
        find_rubric(rubric_id)
