"""Answering in a real terminal: keypress -> the settled frame, measured on the terminal's output.

The app runs under a pseudo-terminal at 120x40 (``benchmarks/terminal.py``), on a
database of 100k cases with one case of a 200-question yes/no rubric (a third
of the questions behind a rule). One ``y`` is sent every 50 ms; each key is
timed from the moment its byte is written to the end of the last frame it
caused, and the bytes the app writes are counted. The floor is a bare Textual
app that redraws one label per key, run and timed the same way.

Goals (issue #16): p95 <= 1.5x the bare app, and at most 3 KB written to the
terminal per answered question. ``bench_tui`` keeps the in-process (Pilot)
figures.

``AUDIT_BENCH_CASES`` sets the database's size (default 100,000); the database
is kept in ``$AUDIT_BENCH_CACHE`` (if set) between runs, as building it takes a
while on a busy machine.
"""

from __future__ import annotations

import os
import statistics
import sys
import textwrap
import time
from pathlib import Path

from audit.rubric import load_rubric_by_id, parse_rubric
from audit.store import Store
from benchmarks.common import Result, make_database, p95
from benchmarks.terminal import KeyTiming, Terminal, press_and_time

PROJECT = Path(__file__).resolve().parent.parent
COLUMNS, LINES = 120, 40
QUESTIONS = 200
INTERVAL = 0.05
CASE_REF = "YN0001"


def yes_no_rubric_text(questions: int = QUESTIONS) -> str:
    """``questions`` yes/no questions in sections of 20; every third depends on an earlier one being "yes"."""
    lines = ["id: bench-yes-no", "version: 1", "title: Benchmark yes/no rubric", "sections:"]
    for index in range(questions):
        if index % 20 == 0:
            lines += [f"  - id: s{index // 20}", f"    title: Section {index // 20 + 1}", "    questions:"]
        lines += [f"      - id: q{index:03d}", "        type: yes_no", f"        text: Was thing {index + 1} done?"]
        if index % 3 == 2:
            lines.append(f'        applies_if: q{index - 1:03d} == "yes"')
    return "\n".join(lines) + "\n"


def build_database(path: Path, cases: int) -> Path:
    if not path.exists():
        make_database(path, load_rubric_by_id("iom-thematic-2019"), cases)
        with Store.open(path) as store:
            store.create_case(CASE_REF, "sheffield", parse_rubric(yes_no_rubric_text(), "<bench-yes-no>"), "bench",
                              allow_other_rubric=True)  # a database keeps one rubric unless asked
    return path


def _audit_command(path: Path) -> list[str]:
    return [sys.executable, "-c", "from audit.cli import run; run()", "tui", str(path)]


BARE_APP = textwrap.dedent(
    """
    from textual.app import App
    from textual.widgets import Label

    class Bare(App):
        count = 0

        def compose(self):
            yield Label("ready", id="label")

        def on_key(self, event):
            self.count += 1
            self.query_one(Label).update(f"pressed {self.count}.")

    Bare().run()
    """
)

# the same bare app, but each key is first committed to SQLite as the tool commits an answer (WAL,
# synchronous=FULL: the commit waits for the disk): what a durable save adds to the floor, whatever draws it
BARE_SAVING_APP = textwrap.dedent(
    """
    import sqlite3, sys
    from textual.app import App
    from textual.widgets import Label

    class BareSaving(App):
        count = 0

        def compose(self):
            yield Label("ready", id="label")

        def on_mount(self):
            self.db = sqlite3.connect(sys.argv[1], isolation_level=None)
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA synchronous = FULL")
            self.db.execute("CREATE TABLE IF NOT EXISTS keys (n INTEGER PRIMARY KEY, key TEXT)")

        def on_key(self, event):
            self.count += 1
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("INSERT INTO keys (key) VALUES (?)", [event.key])
            self.db.execute("COMMIT")
            self.query_one(Label).update(f"pressed {self.count}.")

    BareSaving().run()
    """
)


def _summary(timings: list[KeyTiming]) -> tuple[list[float], float, float]:
    ms = [t.latency * 1000 for t in timings]
    frames = statistics.mean(t.frames for t in timings)
    per_key = statistics.mean(t.bytes for t in timings)
    return ms, frames, per_key


def time_bare(presses: int, app: str = BARE_APP, *args: str) -> tuple[list[KeyTiming], float]:
    with Terminal([sys.executable, "-c", app, *args], COLUMNS, LINES, cwd=str(PROJECT)) as terminal:
        terminal.wait_for(b"ready")
        terminal.quiet(0.5)
        keys = [b"y"] * presses
        markers = [f"pressed {i + 1}.".encode() for i in range(presses)]
        cpu = terminal.cpu_seconds()
        timings = press_and_time(terminal, keys, markers, INTERVAL)
        return timings, terminal.cpu_seconds() - cpu


def file_checked(terminal: Terminal) -> bool:
    text = terminal.screen_text()
    last = text.rfind("site: all sites")
    return last >= 0 and not text[last:last + 40].startswith("site: all sites · checking")


def question_marker(number: int) -> bytes:
    """Text only the question panel shows once question ``number`` (rubric order, from 1) is on screen."""
    return f"Question {number}  ·".encode()


def time_audit(path: Path) -> tuple[list[KeyTiming], float]:
    with Terminal(_audit_command(path), COLUMNS, LINES, cwd=str(PROJECT)) as terminal:
        terminal.wait_for(b"cases 1")
        # the integrity check reads the whole file first (writes wait for it): the status line
        # drops its "checking the file…" once it has passed
        terminal.wait_until(file_checked, timeout=900)
        # writes are allowed after a cheap check of a cleanly closed file; the full check (about 30 s at
        # 100k cases) goes on in a worker thread, and its Python share of the work holds the GIL: the
        # keys are timed once it is done, as on a laptop some time after opening
        terminal.idle()
        terminal.quiet(0.5)
        offset = terminal.length
        terminal.send(b"/")
        time.sleep(0.3)
        terminal.send(CASE_REF.encode() + b"\r")
        terminal.wait_for(b"of 1 ", offset)  # the status line: "cases 1–1 of 1 · ..."
        terminal.quiet(0.3)
        offset = terminal.length
        terminal.send(b"\r")
        terminal.wait_for(question_marker(1), offset)
        terminal.quiet(1.0)
        # every question applies when each is answered yes: 200 keys, the last one stays on question 200
        keys = [b"y"] * (QUESTIONS - 1)
        markers = [question_marker(i + 2) for i in range(QUESTIONS - 1)]
        cpu = terminal.cpu_seconds()
        timings = press_and_time(terminal, keys, markers, INTERVAL)
        cpu = terminal.cpu_seconds() - cpu
        terminal.send(b"\x1b")  # back to the list
        terminal.quiet(0.3)
    with Store.open(path) as store:
        case = store.find_case("sheffield", CASE_REF)
        answered = len(store.answers(case.uuid))
    if answered < QUESTIONS - 1:
        raise AssertionError(f"only {answered} answers were saved")
    return timings, cpu


def _reset_case(path: Path) -> None:
    with Store.open(path) as store:
        case = store.find_case("sheffield", CASE_REF)
        for qid in reversed(list(store.answers(case.uuid))):
            store.set_answer(case.uuid, qid, None, who="bench")


def run(workdir: Path) -> list[Result]:
    cases = int(os.environ.get("AUDIT_BENCH_CASES", "100000"))
    cache = Path(os.environ.get("AUDIT_BENCH_CACHE", workdir))
    path = build_database(cache / f"tui-terminal-{cases}.db", cases)
    _reset_case(path)
    load = os.getloadavg()[0]  # (the bare apps and the tool write to the same file system)
    bare, bare_cpu = time_bare(QUESTIONS - 1)
    saving, _ = time_bare(QUESTIONS - 1, BARE_SAVING_APP, str(workdir / "bare-saving.db"))
    audit, cpu = time_audit(path)
    _reset_case(path)
    bare_ms, bare_frames, bare_bytes = _summary(bare)
    saving_ms = _summary(saving)[0]
    ms, frames, per_key = _summary(audit)
    keys = QUESTIONS - 1
    label = f"{cases // 1000}k cases"
    return [
        Result(f"terminal: key -> settled frame p95 ({label})", p95(ms), p95(bare_ms), "<= 1.5x bare app", unit="ms"),
        Result("  same, median", statistics.median(ms), statistics.median(bare_ms), "informational", unit="ms"),
        # the floor with a durable save: how much of the gap is the commit's wait for the disk
        Result("  p95 vs a bare app that commits each key", p95(ms), p95(saving_ms), "informational", unit="ms"),
        Result("  median vs the same", statistics.median(ms), statistics.median(saving_ms), "informational", unit="ms"),
        Result("  bytes written per answer", per_key, bare_bytes, "<= 3,000 bytes", unit="B"),
        Result("  frames per answer (mean)", frames, bare_frames, "1", unit=""),
        # CPU time is what the answer costs whatever else the machine does; latency is what a user waits
        Result("  CPU per answer (whole process)", cpu * 1000 / keys, bare_cpu * 1000 / keys, "informational", unit="ms"),
        Result(f"  load average while measured ({os.cpu_count()} cores)", load, None, "informational", unit=""),
    ]
