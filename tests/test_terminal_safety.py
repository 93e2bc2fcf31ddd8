"""No control character reaches the terminal: real runs of ``.venv/bin/audit``.

Hostile text enters through every door the CLI has: a rubric's title and
labels, a file name, a command name, an option value, the case refs, sites
and inspectors of a site's database. Each run's raw stdout and stderr bytes
must hold no ESC, BEL, backspace, stray carriage return, C1 control, bidi
override or zero-width character; the hostile text must still be shown,
escaped. On a terminal (a pty), click's bold survives and progress bars
still draw.
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import sqlite3
import struct
import subprocess
import termios
from pathlib import Path

import pytest

from audit.terminal import EscapingStream, escape

PROJECT = Path(__file__).resolve().parent.parent
AUDIT = str(PROJECT / ".venv" / "bin" / "audit")

TITLE_SEQUENCE = "\x1b]0;PWNED\x07"  # sets the terminal window's title
SHOWN_TITLE_SEQUENCE = r"\x1b]0;PWNED\x07"
#: what may never be written: C0 controls but line feed, DEL, C1, bidi and zero-width characters
FORBIDDEN = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]")
SGR = re.compile(r"\x1b\[[0-9;]*m")


def forbidden_in(raw: bytes, *, tty: bool = False) -> list[str]:
    """Every forbidden character in ``raw`` (a pty writes line ends as CR LF; bold may stay on a tty)."""
    text = raw.decode("utf-8")
    if tty:
        text = SGR.sub("", text.replace("\r\n", "\n"))
    return [f"U+{ord(c):04X} at {m.start()}: {text[max(0, m.start() - 30):m.start() + 10]!r}" for m in FORBIDDEN.finditer(text) for c in m.group()]


def run(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    done = subprocess.run([AUDIT, *args], capture_output=True, timeout=120, cwd=cwd, env=env)
    assert b"Traceback" not in done.stderr, done.stderr.decode()
    assert not forbidden_in(done.stdout), forbidden_in(done.stdout)
    assert not forbidden_in(done.stderr), forbidden_in(done.stderr)
    return done


def run_in_pty(*args: str, timeout: float = 120) -> tuple[bytes, int]:
    """``audit ARGS`` on a 100x24 pseudo-terminal: everything it wrote there, and its exit code."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    process = subprocess.Popen([AUDIT, *args], stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    chunks = []
    try:
        while select.select([master], [], [], timeout)[0]:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the other end is closed
                break
            if not chunk:
                break
            chunks.append(chunk)
        code = process.wait(timeout=timeout)
    finally:
        os.close(master)
        if process.poll() is None:
            process.kill()
    return b"".join(chunks), code


HOSTILE_RUBRIC = """\
id: hostile
version: 1
title: "Evil \\e]0;PWNED\\a title"
sections:
  - id: s
    title: "\\e[2J\\e[H cleared"
    questions:
      - id: q
        type: single
        text: "back\\b\\b\\bspace"
        options:
          a: "right\u202eto left"
          b: "zero\u200bwidth \\x9b31m"
"""


def test_a_hostile_rubric_is_refused_with_every_value_escaped(tmp_path):
    path = tmp_path / "hostile.yaml"
    path.write_text(HOSTILE_RUBRIC, encoding="utf-8")
    done = run("rubric", "check", str(path))
    assert done.returncode == 1
    err = done.stderr.decode()
    assert f"{path}:3: the text 'Evil {SHOWN_TITLE_SEQUENCE} title' holds a control character (U+001B)" in err
    assert f"{path}:6: the text '\\x1b[2J\\x1b[H cleared' holds a control character" in err
    assert f"{path}:10: the text 'back\\x08\\x08\\x08space' holds a control character" in err
    assert f"{path}:12: the text 'right\\u202eto left' holds a bidirectional override" in err
    assert f"{path}:13: the text 'zero\\u200bwidth \\x9b31m' holds a control character (U+009B)" in err


def test_a_file_name_with_escapes_is_shown_escaped(tmp_path):
    name = f"ev{TITLE_SEQUENCE}il\u202e.yaml"
    good = tmp_path / name
    good.write_text((PROJECT / "rubrics" / "hmip-core-2018.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    shown = str(tmp_path / f"ev{SHOWN_TITLE_SEQUENCE}il\\u202e.yaml")
    done = run("rubric", "check", str(good), str(tmp_path / f"missing\x1b[2J\x08{name}"))
    assert done.returncode == 1
    assert re.fullmatch(rf"{re.escape(shown)}: ok, rubric 'hmip-core-2018' version 1 \(\d+ questions\)\n", done.stdout.decode())
    assert "missing\\x1b[2J\\x08ev\\x1b]0;PWNED\\x07il\\u202e.yaml: file not found" in done.stderr.decode()


@pytest.mark.parametrize(
    "args, expected",
    [
        ((f"{TITLE_SEQUENCE}tabulate",), f"No such command '{SHOWN_TITLE_SEQUENCE}tabulate'"),
        (("tabulate", f"no{TITLE_SEQUENCE}.db", "age"), f"no{SHOWN_TITLE_SEQUENCE}.db"),
        (("backup", f"gone{TITLE_SEQUENCE}.db"), f"gone{SHOWN_TITLE_SEQUENCE}.db"),
        (("export", "iom-thematic-2019", "--data", f"{TITLE_SEQUENCE}=x.db", "-o", "out.csv"), f"unknown dataset '{SHOWN_TITLE_SEQUENCE}'"),
        (("rubric", "show", f"nothing{TITLE_SEQUENCE}\u202e"), f"no rubric with id 'nothing{SHOWN_TITLE_SEQUENCE}\\u202e'"),
    ],
    ids=["command name", "tabulate path", "backup path", "export dataset", "rubric id"],
)
def test_hostile_arguments_are_quoted_escaped(tmp_path, args, expected):
    done = run(*args, cwd=tmp_path)
    assert done.returncode in (1, 2)
    assert expected in done.stderr.decode()


def _write_cases(path: Path, cases: list[dict]) -> Path:
    path.write_text("".join(json.dumps(case) + "\n" for case in cases), encoding="utf-8")
    return path


def test_hostile_identifiers_in_an_import_file_never_reach_the_terminal_raw(tmp_path):
    cases = _write_cases(tmp_path / "cases.jsonl", [
        {"case_ref": f"T001{TITLE_SEQUENCE}", "site": "sheffield", "answers": {}},
        {"case_ref": "T002", "site": "shef\u202efield", "inspector": "jb\x08\x08XX", "answers": {}},
        {"case_ref": "T003", "site": "sheffield", "answers": {"age": f"{TITLE_SEQUENCE}"}},
    ])
    done = run("import", str(tmp_path / "t.db"), str(cases), "--rubric", "iom-thematic-2019")
    assert done.returncode == 1  # the age, at least, is refused, quoting what was written
    assert SHOWN_TITLE_SEQUENCE in done.stderr.decode()


def test_a_hostile_sites_inspectors_reach_the_lead_escaped(tmp_path):
    # two sites' files hold the same case under different UUIDs: merge lists both, with their inspectors
    for name in ("a", "b"):
        cases = _write_cases(tmp_path / f"{name}.jsonl", [
            {"case_ref": "T001", "site": "sheffield", "inspector": f"inspector {name}", "answers": {"sentence_type": "non_statutory"}},
        ])
        imported = run("import", str(tmp_path / f"{name}.db"), str(cases), "--rubric", "iom-thematic-2019")
        assert imported.returncode == 0, imported.stderr
    # the forger writes past the tool's checks, straight into the file
    connection = sqlite3.connect(tmp_path / "b.db")
    with connection:
        connection.execute("UPDATE cases SET inspector = ?", [f"{TITLE_SEQUENCE}\u202eevil\x08\x08\x1b[1A\r"])
    connection.close()
    done = run("merge", str(tmp_path / "national.db"), str(tmp_path / "a.db"), str(tmp_path / "b.db"))
    output = done.stdout.decode() + done.stderr.decode()
    assert done.returncode in (0, 1), output  # listed as a possible duplicate, or refused as untrusted input
    if done.returncode == 0:  # (off a terminal, click itself drops CSI sequences such as ESC [1A)
        assert f"by {SHOWN_TITLE_SEQUENCE}\\u202eevil\\x08\\x08\\x0d (in_progress" in output


# --- on a terminal ---------------------------------------------------------------------------


def test_on_a_terminal_bold_stays_and_every_other_sequence_is_escaped(tmp_path):
    shown, code = run_in_pty("rubric", "show", "hmip-core-2018")
    assert code == 0
    assert b"\x1b[1m## " in shown  # section titles in bold, as click.style wrote them
    assert not forbidden_in(shown, tty=True)
    path = tmp_path / "hostile.yaml"
    path.write_text(HOSTILE_RUBRIC, encoding="utf-8")
    refused, code = run_in_pty("rubric", "check", str(path))
    assert code == 1
    assert not forbidden_in(refused, tty=True), forbidden_in(refused, tty=True)
    assert SHOWN_TITLE_SEQUENCE.encode() in refused


def test_progress_bars_still_draw_on_a_terminal(tmp_path):
    count = 2500  # over the threshold at which import and merge show a bar
    cases = _write_cases(tmp_path / "cases.jsonl", [
        {"case_ref": f"T{i:05d}", "site": "sheffield", "inspector": "jb", "answers": {"sentence_type": "non_statutory"}}
        for i in range(count)
    ])
    source = tmp_path / "site.db"
    shown, code = run_in_pty("import", str(source), str(cases), "--rubric", "iom-thematic-2019")
    assert code == 0, shown
    # the bar redraws in place: carriage return, cursor hidden, the bar, and the cursor shown again at the end
    # (on a slow machine click adds the time left after the count)
    assert re.search(rb"\r\x1b\[\?25lChecking  \[#+\]  \d+/\d+[ 0-9:]*\x1b\[\?25h", shown), shown[-500:]
    assert re.search(rb"\r\x1b\[\?25lWriting  \[#+\]  2500/2500[ 0-9:]*\x1b\[\?25h", shown), shown[-500:]
    assert b"\\x1b" not in shown and b"\\x0d" not in shown  # nothing of the bar went through the escaping
    assert f"imported {count} cases".encode() in shown
    merged, code = run_in_pty("merge", str(tmp_path / "national.db"), str(source))
    assert code == 0, merged
    assert re.search(rb"\r\x1b\[\?25l(Reading|Writing)\s+\[#+\]", merged), merged[-500:]
    assert b"\\x1b" not in merged


# --- the escaping itself ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "written, shown",
    [
        ("plain text, é and 中文\n", "plain text, é and 中文\n"),
        (f"title {TITLE_SEQUENCE}\n", f"title {SHOWN_TITLE_SEQUENCE}\n"),
        ("\x1b[2J\x1b[H\x1b[1A\x1b[?25l", "\\x1b[2J\\x1b[H\\x1b[1A\\x1b[?25l"),
        ("over\rwrite\x08\x08 bell\x07", "over\\x0dwrite\\x08\\x08 bell\\x07"),
        ("a\u202eb\u2066c\u200bd\ufeffe\u2060f", "a\\u202eb\\u2066c\\u200bd\\ufeffe\\u2060f"),
        ("c1 \x9b2J \x85", "c1 \\x9b2J \\x85"),
        ("tab\there", "tab\\x09here"),
        ("\x1b[1mbold\x1b[0m", "\\x1b[1mbold\\x1b[0m"),  # off a terminal no ESC at all
        ("line one\nline two\n\n", "line one\nline two\n\n"),
    ],
)
def test_escape_off_a_terminal(written, shown):
    assert escape(written) == shown


@pytest.mark.parametrize(
    "written, shown",
    [
        ("\x1b[1mbold\x1b[0m \x1b[31;1mred\x1b[22;39m \x1b[m", "\x1b[1mbold\x1b[0m \x1b[31;1mred\x1b[22;39m \x1b[m"),
        ("\x1b[8mhidden\x1b[0m", "\\x1b[8mhidden\x1b[0m"),  # conceal is not a style we keep
        ("\x1b[30;40mblack on black", "\\x1b[30;40mblack on black"),
        ("\x1b[7mreverse \x1b[5mblink", "\\x1b[7mreverse \\x1b[5mblink"),
        (f"\x1b[1m{TITLE_SEQUENCE}\x1b[0m", f"\x1b[1m{SHOWN_TITLE_SEQUENCE}\x1b[0m"),
        ("\x1b[1;2H moved", "\\x1b[1;2H moved"),
    ],
)
def test_escape_on_a_terminal_keeps_only_harmless_styles(written, shown):
    assert escape(written, keep_styles=True) == shown


def test_the_stream_accepts_only_text_so_bytes_cannot_bypass_it(tmp_path):
    with (tmp_path / "out.txt").open("w", encoding="utf-8") as raw:
        stream = EscapingStream(raw)
        with pytest.raises(TypeError):
            stream.write(TITLE_SEQUENCE.encode())
        assert not hasattr(stream, "buffer")
        assert stream.write(f"x{TITLE_SEQUENCE}\n") == len(TITLE_SEQUENCE) + 2
    assert (tmp_path / "out.txt").read_text(encoding="utf-8") == f"x{SHOWN_TITLE_SEQUENCE}\n"


def test_main_restores_the_streams_it_replaced(capsys):
    import sys

    from audit.cli import main

    before = sys.stdout, sys.stderr
    assert main(["rubric", "show", f"none{TITLE_SEQUENCE}"]) == 1
    assert (sys.stdout, sys.stderr) == before
    assert SHOWN_TITLE_SEQUENCE in capsys.readouterr().err
