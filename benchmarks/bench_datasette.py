"""Datasette's figure queries: every canned query of `audit datasette-metadata`, run as Datasette runs them.

Each query is run read-only on its database with plain sqlite3 (what
Datasette does, without the web server). The floor is the same plain
``SELECT question_id, value, count(*) ... WHERE counted = 1 GROUP BY`` as
bench_export's, over the answers the figures read. Goals: the slowest query
well inside Datasette's default 1 s time limit on 3,308 core cases; all
queries together within about 3x of the floor on 100k core cases (where a
lead raises `--setting sql_time_limit_ms`, docs/datasette.md). Tabulation's
own time for the same figures is printed for comparison.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from audit.datasette_meta import describe_database, metadata
from audit.figures import load_report
from audit.rubric import load_rubric_by_id
from audit.store import Store, read_only_uri
from audit.tabulate import tabulate_report
from benchmarks.bench_export import REPORT, _floor
from benchmarks.common import Result, best_of, core_rubric, make_database


def _queries(paths: dict[str, Path], report) -> dict[str, list[str]]:
    described = []
    for path in paths.values():
        store = Store.open(path, check=False)
        described.append(describe_database(path, store.conn))
        store.close()
    document = metadata(described, report)
    return {name: [q["sql"] for q in db["queries"].values()] for name, db in document["databases"].items()}


def _run_all(connections: dict[str, sqlite3.Connection], queries: dict[str, list[str]]) -> None:
    for name, sqls in queries.items():
        for sql in sqls:
            connections[name].execute(sql).fetchall()


def _measure(workdir: Path, core_cases: int, report, thematic_path: Path) -> list[Result]:
    core_path = make_database(workdir / f"core-{core_cases}.db", core_rubric(), core_cases, seed=3)
    paths = {"thematic": thematic_path, f"core-{core_cases}": core_path}
    queries = _queries(paths, report)
    connections = {name: sqlite3.connect(read_only_uri(path), uri=True) for name, path in paths.items()}
    stores = {"thematic": Store.open(thematic_path, check=False), "core": Store.open(core_path, check=False)}
    try:
        _run_all(connections, queries)  # warm the page cache for every side alike
        floor = best_of(lambda: _floor(stores, report), repeat=5)
        measured = best_of(lambda: _run_all(connections, queries), repeat=3)
        slowest = max(best_of(lambda sql=sql, name=name: connections[name].execute(sql).fetchall(), repeat=3)
                      for name, sqls in queries.items() for sql in sqls)
        tabulation = best_of(lambda: tabulate_report(report, stores), repeat=3)
    finally:
        for connection in connections.values():
            connection.close()
        for store in stores.values():
            store.close()
    count = sum(len(sqls) for sqls in queries.values())
    goal = "<= 3x" if core_cases > 5000 else "information"
    return [
        Result(f"all {count} figure queries, {core_cases:,} core cases", measured, floor, goal),
        Result(f"slowest figure query, {core_cases:,} core cases", slowest, None, "< 1 s" if core_cases <= 5000 else "information"),
        Result(f"tabulate_report, same figures, {core_cases:,} core", tabulation, None, "information"),
    ]


def run(workdir: Path) -> list[Result]:
    report = load_report(REPORT)
    thematic_path = make_database(workdir / "thematic.db", load_rubric_by_id("iom-thematic-2019"), 60, seed=5)
    return _measure(workdir, 3308, report, thematic_path) + _measure(workdir, 100_000, report, thematic_path)
