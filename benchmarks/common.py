"""Shared pieces for benchmarks: seeded data generators, timing and the ratio report.

Every benchmark measures its floor (e.g. raw SQLite doing the same job) in the
same run and reports ``measured / floor`` against a goal. Nothing here is a
test: the machines are shared and noisy, so results are printed, not asserted.
"""

from __future__ import annotations

import platform
import random
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from audit.rubric import Rubric, load_rubric_by_id, parse_rubric
from audit.store import NewCase, Store

SITES = ["waltham_forest", "sheffield", "stockport", "colwyn_bay", "cumbria", "surrey", "warwickshire"]


@dataclass
class Result:
    name: str
    measured: float  # seconds (or ms for latency results, see unit)
    floor: float | None
    goal: str
    unit: str = "s"

    @property
    def ratio(self) -> float | None:
        return self.measured / self.floor if self.floor else None

    def line(self) -> str:
        if self.floor:
            return (
                f"{self.name:<44} {self.measured:9.3f}{self.unit}  floor {self.floor:9.3f}{self.unit}  "
                f"ratio {self.ratio:5.2f}x  goal {self.goal}"
            )
        return f"{self.name:<44} {self.measured:9.3f}{self.unit}  goal {self.goal}"


def best_of(fn: Callable[[], Any], repeat: int = 3) -> float:
    """The fastest of ``repeat`` runs, in seconds: the least disturbed by other load."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def p95(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=20)[-1] if len(samples) >= 20 else max(samples)


def machine() -> str:
    return f"{platform.node()} {platform.machine()} {platform.python_implementation()} {platform.python_version()}"


# --- generators ----------------------------------------------------------------------------


def wide_rubric_text(questions: int = 200, seed: int = 7) -> str:
    """A rubric of ``questions`` questions in sections of 20, about a third of them behind a rule."""
    rng = random.Random(seed)
    lines = ["id: bench-wide", "version: 1", "title: Benchmark rubric", "sections:"]
    made: list[tuple[str, str]] = []
    for index in range(questions):
        if index % 20 == 0:
            lines += [f"  - id: s{index // 20}", f"    title: Section {index // 20}", "    questions:"]
        qid = f"q{index:03d}"
        kind = rng.choice(["yes_no", "yes_no", "yes_no_na", "single", "multi", "integer"])
        lines += [f"      - id: {qid}", f"        type: {kind}", f"        text: Question {index}?"]
        if kind == "single":
            lines.append("        options: {a: Alpha, b: Beta, c: Gamma}")
        elif kind == "multi":
            lines.append("        options: {x: Ex, y: Why, z: Zed}")
        elif kind == "integer":
            lines.append("        range: [0, 100]")
        earlier = [m for m in made if m[1] in ("yes_no", "single", "multi")]
        if earlier and rng.random() < 0.35:
            ref, ref_kind = rng.choice(earlier[-15:])
            rule = {"yes_no": f'{ref} == "yes"', "single": f'{ref} != "c"', "multi": f"'\"x\" in {ref}'"}[ref_kind]
            lines.append(f"        applies_if: {rule}")
        made.append((qid, kind))
    return "\n".join(lines) + "\n"


def wide_rubric(questions: int = 200) -> Rubric:
    return parse_rubric(wide_rubric_text(questions), "<bench-wide>")


def random_answers(rubric: Rubric, rng: random.Random, blank_rate: float = 0.03) -> dict[str, Any]:
    """Answers for every applicable question (a few left blank), consistent with the rules."""
    answers: dict[str, Any] = {}
    for qid in rubric.evaluation_order:  # every rule's inputs come first, so one pass decides
        q = rubric.question(qid)
        rules = [r for r in (rubric.section_of(qid).rule, q.rule) if r is not None]
        if any(rule.evaluate(answers) is not True for rule in rules) or rng.random() < blank_rate:
            continue
        if q.type == "multi":
            picked = [c for c in q.option_codes if rng.random() < 0.4]
            if picked:
                answers[qid] = picked
        elif q.is_choice:
            answers[qid] = rng.choice(q.option_codes)
        elif q.type == "integer":
            low, high = q.range
            answers[qid] = rng.randint(low, min(high, low + 60))
        elif q.type == "date":
            answers[qid] = f"2019-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        else:
            answers[qid] = f"note {rng.randint(1, 999)}"
    return answers


def make_cases(rubric: Rubric, count: int, *, seed: int = 1, sites: list[str] | None = None, prefix: str = "C") -> list[NewCase]:
    """``count`` seeded cases; answers are drawn from a pool of 500 patterns for speed."""
    rng = random.Random(seed)
    pool = [random_answers(rubric, rng) for _ in range(min(count, 500))]
    sites = sites or SITES
    cases = []
    for index in range(count):
        answers = pool[rng.randrange(len(pool))]
        cases.append(
            NewCase(case_ref=f"{prefix}{index:06d}", site=sites[index % len(sites)], rubric=rubric, answers=dict(answers),
                    inspector=f"insp{index % 13}")
        )
    return cases


def make_database(path: str | Path, rubric: Rubric, count: int, *, seed: int = 1, sites: list[str] | None = None,
                  prefix: str = "C") -> Path:
    """A database file with ``count`` generated cases (created fresh)."""
    path = Path(path)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    store = Store.open(path, site=(sites or [None])[0] if sites and len(sites) == 1 else None)
    try:
        store.insert_cases(make_cases(rubric, count, seed=seed, sites=sites, prefix=prefix), who="bench", reason="generated")
    finally:
        store.close()
    return path


def core_rubric() -> Rubric:
    return load_rubric_by_id("hmip-core-2018")
