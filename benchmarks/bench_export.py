"""Figure tables: ``tabulate_report`` on the shipped report against a plain SQL GROUP BY.

The floor is one ``SELECT question_id, value, count(*) ... WHERE counted = 1
GROUP BY question_id, value`` over the answers the report reads, per database:
the least work any tabulation of those answers must do. Tabulation adds the
column filters (core IOM / non-IOM), bands, groups and every figure's cells.
Goals: all figures on 3,308 core cases well under a second; 100k core cases
within about 3x of the floor. The xlsx export is timed for information.
"""

from __future__ import annotations

from pathlib import Path

from benchmarks.common import Result, best_of, core_rubric, make_database
from audit.figures import load_report
from audit.rubric import load_rubric_by_id
from audit.store import Store
from audit.tabulate import tabulate_report

PROJECT = Path(__file__).resolve().parent.parent
REPORT = PROJECT / "exports" / "iom-thematic-2019.yaml"


def _questions(report, dataset: str) -> list[str]:
    return sorted({q for f in report.figures for c in f.columns if c.dataset == dataset for q in f.questions})


def _floor(stores: dict[str, Store], report) -> None:
    for name, store in stores.items():
        questions = _questions(report, name)
        marks = ", ".join("?" * len(questions))
        store.db.execute(
            f"SELECT question_id, value, count(*) FROM answers WHERE question_id IN ({marks}) AND counted = 1 "
            "GROUP BY question_id, value",
            questions,
        ).fetchall()


def _measure(workdir: Path, core_cases: int, report, thematic_path: Path) -> tuple[Result, dict[str, Store]]:
    core_path = make_database(workdir / f"core-{core_cases}.db", core_rubric(), core_cases, seed=3)
    stores = {"thematic": Store.open(thematic_path, check=False), "core": Store.open(core_path, check=False)}
    tabulate_report(report, stores)  # warm the page cache for both sides alike
    _floor(stores, report)
    floor = best_of(lambda: _floor(stores, report), repeat=5)
    measured = best_of(lambda: tabulate_report(report, stores), repeat=5)
    goal = "< 1 s" if core_cases <= 5000 else "<= 3x"
    return Result(f"tabulate thematic + core figures, {core_cases:,} core cases", measured, floor, goal), stores


def run(workdir: Path) -> list[Result]:
    report = load_report(REPORT)
    thematic_path = make_database(workdir / "thematic.db", load_rubric_by_id("iom-thematic-2019"), 60, seed=5)
    results = []
    small, stores = _measure(workdir, 3308, report, thematic_path)
    results.append(small)

    from audit.writers.xlsx import write_xlsx

    tables = tabulate_report(report, stores)
    seconds = best_of(lambda: write_xlsx(workdir / "figures.xlsx", tables, stores), repeat=1)
    results.append(Result("export xlsx, 3,308 core + 60 thematic cases", seconds, None, "information"))
    for store in stores.values():
        store.close()

    large, stores = _measure(workdir, 100_000, report, thematic_path)
    results.append(large)
    for store in stores.values():
        store.close()
    return results
