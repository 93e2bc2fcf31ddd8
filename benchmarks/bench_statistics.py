"""Statistics beside the figures: every figure with Wilson intervals and the file's comparisons,
against the same figures without statistics, on 100k core-programme cases.

The floor is the same tabulation, and the same workbook, with no statistics: every
figure's ``ci`` off and ``compare`` removed (and no rating scheme), measured in the
same run, alternately with the measured side so that both see the same load. The
measured side is ``tabulate_report(..., ci=True)`` on the shipped file (figures
4.3, 4.6 and 5.2 compare columns; its rating scheme gives the Ratings sheet), then
writing the workbook. Goal: <= 1.3x the floor.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from benchmarks.common import Result, core_rubric, make_database
from audit.figures import load_report
from audit.rubric import load_rubric_by_id
from audit.store import Store
from audit.tabulate import tabulate_report

PROJECT = Path(__file__).resolve().parent.parent
REPORT = PROJECT / "exports" / "iom-thematic-2019.yaml"
CORE_CASES = 100_000


def plain(report):
    """The figure file without statistics: no intervals, no comparisons, no rating scheme."""
    figures = [f.model_copy(update={"ci": False, "compare": None}) for f in report.figures]
    return report.model_copy(update={"figures": figures, "ratings": None})


def alternating(first, second, repeat: int = 5) -> tuple[float, float]:
    """The fastest of ``repeat`` runs of each, run in turn (ABAB...), so that load hits both alike."""
    best = [float("inf"), float("inf")]
    for _ in range(repeat):
        for index, fn in enumerate((first, second)):
            start = time.perf_counter()
            fn()
            best[index] = min(best[index], time.perf_counter() - start)
    return best[0], best[1]


def load_average() -> str:
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return "load unknown"
    return f"load {one:.1f}/{five:.1f} on {os.cpu_count()} cores"


def run(workdir: Path) -> list[Result]:
    from audit.writers.xlsx import write_xlsx

    report = load_report(REPORT)
    without = plain(report)
    thematic = make_database(workdir / "thematic.db", load_rubric_by_id("iom-thematic-2019"), 60, seed=5)
    core = make_database(workdir / "core.db", core_rubric(), CORE_CASES, seed=3)
    stores = {"thematic": Store.open(thematic, check=False), "core": Store.open(core, check=False)}
    try:
        with_stats = tabulate_report(report, stores, ci=True)  # warm the page cache for both sides alike
        no_stats = tabulate_report(without, stores)
        compared = sum(1 for t in with_stats.tables for r in t.rows if r.comparison is not None)
        before = load_average()
        floor, measured = alternating(lambda: tabulate_report(without, stores),
                                      lambda: tabulate_report(report, stores, ci=True))
        results = [Result(f"all figures, intervals + {compared} tested rows, {CORE_CASES:,} core cases", measured, floor,
                          "<= 1.3x")]
        floor, measured = alternating(
            lambda: write_xlsx(workdir / "plain.xlsx", tabulate_report(without, stores), stores),
            lambda: write_xlsx(workdir / "stats.xlsx", tabulate_report(report, stores, ci=True), stores), repeat=3)
        results.append(Result(f"export xlsx with statistics, {CORE_CASES:,} core cases", measured, floor, "<= 1.3x"))
        print(f"machine {before} before, {load_average()} after; {len(no_stats.tables)} figures"
              + (f", Ratings sheet for {len(with_stats.ratings)} dataset(s)" if with_stats.ratings else ""), flush=True)
    finally:
        for store in stores.values():
            store.close()
    return results
