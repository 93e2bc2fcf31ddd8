"""The terminal UI: start-up on large databases, and answering latency.

* Time until the case list is usable (its first page drawn) on 1k, 10k and
  100k-case databases, against a bare Textual app's start-up (one Label) in
  the same run (goal: within 1.5x). Measured two ways, both headless: in a new
  process, from exec to the first frame with content (what a user waits for,
  imports included), and in this process, from constructing the app (warm).
* The integrity check that runs in the background meanwhile (nothing is written
  until it passes), next to what a blocking ``Store.open`` would have cost first.
* Keypress -> answer committed -> next question drawn, p95, on a 200-question
  rubric, against a bare Textual app's keypress -> label redrawn (goal: < 50 ms).

Times come from ``run_test(message_hook=...)``: the moment the app dispatches
the key, and the message each screen posts after the refresh that draws it.
"""

from __future__ import annotations

import asyncio
import compileall
import statistics
import subprocess
import sys
import time
from pathlib import Path

from textual import events
from textual.app import App, ComposeResult
from textual.message import Message
from textual.widgets import Label
from textual.worker import WorkerCancelled

from audit.backup import backup_database
from audit.rubric import load_rubric_by_id
from audit.store import Store
from audit.tui.app import AuditApp
from audit.tui.screens.case_list import CaseListScreen
from audit.tui.screens.walkthrough import WalkthroughScreen
from benchmarks.common import Result, make_database, p95, wide_rubric

SIZES = (1_000, 10_000, 100_000)
PROJECT = Path(__file__).resolve().parent.parent
SIZE = (120, 40)
REPEAT = 3


class BareApp(App[None]):
    """The floor: a Textual app that draws one label and redraws it on a key."""

    class Drawn(Message, bubble=False):
        pass

    def compose(self) -> ComposeResult:
        yield Label("ready", id="label")

    def on_ready(self) -> None:
        self.call_after_refresh(self.post_message, self.Drawn())

    def on_key(self, event: events.Key) -> None:
        self.query_one(Label).update(f"pressed {event.key}")
        self.call_after_refresh(self.post_message, self.Drawn())


async def _bare_start() -> float:
    stamps: dict[str, float] = {}

    def hook(message: Message) -> None:
        if isinstance(message, BareApp.Drawn):
            stamps.setdefault("drawn", time.perf_counter())

    start = time.perf_counter()
    app = BareApp()
    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        while "drawn" not in stamps:
            await pilot.pause(0.001)
    return stamps["drawn"] - start


async def _audit_start(path: Path) -> tuple[float, float]:
    """(seconds until the first page is drawn, seconds until the integrity check let writes in)."""
    stamps: dict[str, float] = {}

    def hook(message: Message) -> None:
        if isinstance(message, CaseListScreen.PageShown) and message.rows:
            stamps.setdefault("list", time.perf_counter())

    start = time.perf_counter()
    app = AuditApp(path)
    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        while "list" not in stamps:
            await pilot.pause(0.001)
        while not app.writable:
            await pilot.pause(0.005)
        checked = time.perf_counter()
    return stamps["list"] - start, checked - start


async def _settle(pilot) -> None:
    for _ in range(3):
        try:
            await pilot.app.workers.wait_for_complete()
        except WorkerCancelled:  # replaced by a newer exclusive worker
            continue
        await pilot.pause()


def _best(values: list[float]) -> float:
    return min(values)


#: a fresh interpreter that imports only what its app needs, and prints the wall-clock
#: time at which the first frame with content was drawn
_CHILD = """
import asyncio, sys, time
from textual.message import Message
{imports}
async def main():
    seen = {{}}
    def hook(message):
        if isinstance(message, {drawn}):
            seen.setdefault("t", time.time())
    async with {app}.run_test(size=(120, 40), message_hook=hook) as pilot:
        while "t" not in seen:
            await pilot.pause(0.001)
    print(seen["t"])
asyncio.run(main())
"""
BARE_CHILD = _CHILD.format(
    imports=(
        "from textual.app import App\nfrom textual.widgets import Label\n"
        "class Drawn(Message, bubble=False): pass\n"
        "class Bare(App):\n"
        "    def compose(self): yield Label('ready')\n"
        "    def on_ready(self): self.call_after_refresh(self.post_message, Drawn())\n"
    ),
    drawn="Drawn", app="Bare()",
)
AUDIT_CHILD = _CHILD.format(
    imports="from audit.tui.app import AuditApp\nfrom audit.tui.screens.case_list import CaseListScreen\n",
    drawn="CaseListScreen.PageShown", app="AuditApp(sys.argv[1])",
)


def _new_process(code: str, *args: str) -> float:
    """Seconds from starting a new interpreter to its first frame with content."""
    start = time.time()
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=PROJECT, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1]) - start


def startup(workdir: Path) -> list[Result]:
    rubric = load_rubric_by_id("iom-thematic-2019")
    results = []
    # Textual's modules were byte-compiled when pip installed them; compile ours too, as
    # an installed (or once-run) audit would be, so a new process compares like with like
    # even where PYTHONDONTWRITEBYTECODE is set.
    compileall.compile_dir(PROJECT / "audit", quiet=1)
    asyncio.run(_bare_start())  # warm imports and CSS caches for both
    for count in SIZES:
        path = make_database(workdir / f"tui-{count}.db", rubric, count)
        cold_floor = _best([_new_process(BARE_CHILD) for _ in range(REPEAT)])
        cold = _best([_new_process(AUDIT_CHILD, str(path)) for _ in range(REPEAT)])
        floor = _best([asyncio.run(_bare_start()) for _ in range(REPEAT)])
        runs = [asyncio.run(_audit_start(path)) for _ in range(REPEAT)]
        usable = _best([r[0] for r in runs])
        checked = _best([r[1] for r in runs])
        blocking = _best([_timed_blocking_open(path) for _ in range(2)])
        results.append(Result(f"case list usable, new process, {count:,} cases", cold, cold_floor, "<= 1.5x bare app"))
        results.append(Result(f"  same, in process (warm), {count:,}", usable, floor, "<= 1.5x bare app"))
        results.append(Result(f"  writes allowed (background check), {count:,}", checked, None, "informational"))
        results.append(Result(f"  Store.open with integrity_check, {count:,}", blocking, None, "what first paint would wait for"))
        path.unlink()
        for suffix in ("-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    return results


def _timed_blocking_open(path: Path) -> float:
    start = time.perf_counter()
    Store.open(path, create=False, check=True).close()
    return time.perf_counter() - start


async def _bare_keys(presses: int) -> list[float]:
    stamps: list[float] = []
    pending: dict[str, float] = {}

    def hook(message: Message) -> None:
        if isinstance(message, events.Key) and "key" not in pending:
            pending["key"] = time.perf_counter()
        elif isinstance(message, BareApp.Drawn) and "key" in pending:
            stamps.append(time.perf_counter() - pending.pop("key"))

    app = BareApp()
    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        await pilot.pause()
        pending.clear()
        for _ in range(presses):
            await pilot.press("1")
            await pilot.pause()
    return stamps


async def _answer_latency(path: Path, cases: list[str]) -> tuple[list[float], int, list[int]]:
    """``cases`` are case refs; each is found with the list's filter and opened by keys (screens
    opened from outside the app's own task would not report to the message hook)."""
    """Answer every single-key question of each case with "1"; latency of each answer."""
    from audit import engine

    samples: list[float] = []
    evaluations: list[int] = []  # rubric evaluations per timed answer keypress (#8: one)
    saved = 0
    key_at: dict[str, float] = {}
    measuring = {"on": False}  # only single-key answers are timed

    def hook(message: Message) -> None:
        nonlocal saved
        if isinstance(message, events.Key) and measuring["on"] and "t" not in key_at:
            key_at["t"] = time.perf_counter()
        elif isinstance(message, WalkthroughScreen.AnswerSaved):
            saved += 1
        elif isinstance(message, WalkthroughScreen.QuestionShown) and "t" in key_at:
            samples.append(time.perf_counter() - key_at.pop("t"))

    app = AuditApp(path, check_integrity=False)
    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        await _settle(pilot)
        for ref in cases:
            await pilot.press("slash", *ref, "enter")
            await pilot.pause(0.3)
            await _settle(pilot)
            await pilot.press("enter")
            await pilot.pause()
            screen = app.screen
            assert isinstance(screen, WalkthroughScreen) and screen.case.case_ref == ref
            while True:
                question = screen.rubric.question(screen.current)
                before = screen.current
                if question.is_choice and question.type != "multi":
                    key_at.clear()
                    measuring["on"] = True
                    evaluated = engine.EVALUATIONS
                    await pilot.press("1")
                    await pilot.pause()
                    measuring["on"] = False
                    evaluations.append(engine.EVALUATIONS - evaluated)
                elif question.type == "multi":
                    await pilot.press("1", "enter")
                else:
                    await pilot.press("5", "enter")
                await pilot.pause()
                if screen.current == before:
                    break
            key_at.clear()
            await pilot.press("escape")
            await _settle(pilot)
    return samples, saved, evaluations


def answering(workdir: Path) -> list[Result]:
    """On a database of 100k thematic cases (#15: the national scale; AUDIT_BENCH_CASES to change it),
    three new cases of a 200-question rubric of mixed types are answered."""
    import os

    from benchmarks.bench_tui_terminal import build_database

    rubric = wide_rubric(200)
    size = int(os.environ.get("AUDIT_BENCH_CASES", "100000"))
    cache = Path(os.environ.get("AUDIT_BENCH_CACHE", workdir))
    built = build_database(cache / f"tui-terminal-{size}.db", size)  # shared with the terminal benchmark
    path = workdir / "tui-answering.db"
    backup_database(built, path)  # a copy: the cached file stays as it was built
    store = Store.open(path)
    cases = [store.create_case(f"NEW{i}", "sheffield", rubric, "bench", allow_other_rubric=True) for i in range(3)]
    store.close()
    samples, saved, evaluations = asyncio.run(_answer_latency(path, [case.case_ref for case in cases]))
    with Store.open(path) as check:
        stored = sum(len(check.answers(case.uuid)) for case in cases)
    floor = asyncio.run(_bare_keys(60))
    ms = [s * 1000 for s in samples]
    return [
        Result(f"keypress -> saved -> next drawn p95 ({len(ms)} answers, {size // 1000}k cases)", p95(ms),
               p95([f * 1000 for f in floor]), "< 16 ms (one frame at 60 Hz)", unit="ms"),
        Result("  same, median", statistics.median(ms), None, "informational", unit="ms"),
        Result(f"  answers committed / stored ({saved} / {stored})", float(stored), None, "every answer in the file", unit=""),
        Result(f"  rubric evaluations per answer keypress (most of {len(evaluations)})", float(max(evaluations, default=0)),
               None, "1 (#8)", unit=""),
    ]


def run(workdir: Path) -> list[Result]:
    return startup(workdir) + answering(workdir)
