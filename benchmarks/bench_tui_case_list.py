"""The case list at 100k and 1M cases: one page in every order and filter (issue #16).

Each page is read as the case list reads it (``audit.tui.paging.read_page`` over
``Store.case_page``: keyset pages, never OFFSET): the first page, the next one,
the last one (``End``), a page 57 rows on from there (a held key), in each of
the list's six orders, and the first page under each filter (a site, a small
site, each status, the deleted cases, a search). The floor, measured in the same
run on the same file, is the cheapest read of 100 cases there is: 100 rows by
rowid. Goal: every page <= 50 ms (the ratio says how far from the floor).

The database holds the ``cases`` table only (the list reads nothing else), built
by one ``executemany``; ``AUDIT_BENCH_CACHE`` keeps it between runs;
``AUDIT_BENCH_LIST_SIZES`` (default ``100000,1000000``) sets the sizes.
"""

from __future__ import annotations

import os
import random
import time
import uuid as uuidlib
from pathlib import Path

from audit.identity import key
from audit.rubric import load_rubric_by_id
from audit.store import CASE_COLUMNS, Case, Store
from audit.tui.paging import FIRST, LAST, ROWS, CaseQuery, Move, read_page
from benchmarks.common import Result, SITES, best_of

ORDERS = ["updated_at", "case_ref", "site", "inspector", "status", "progress"]
GOAL = "<= 50 ms"


def build(path: Path, count: int) -> Path:
    """``count`` cases: 7 sites (and a small one of 0.6%), four statuses, 0.1% deleted, 40 inspectors."""
    if path.exists():
        return path
    with Store.open(path) as store:
        rubric = load_rubric_by_id("iom-thematic-2019")
        sha = store.add_rubric(rubric)
        rng = random.Random(16)
        statuses = ["in_progress"] * 60 + ["complete"] * 30 + ["approved"] * 8 + ["returned"] * 2
        rows = []
        for index in range(count):
            site = "lindisfarne" if index % 167 == 0 else SITES[index % len(SITES)]
            ref = f"{'CT'[index % 2]}{index:07d}"
            applicable = rng.randint(20, 44)
            stamp = f"2019-{1 + index % 12:02d}-{1 + index % 28:02d}T{index % 24:02d}:{index % 60:02d}:00.000000Z"
            rows.append((
                str(uuidlib.UUID(int=rng.getrandbits(128), version=4)), ref, site, f"insp{index % 40}",
                rng.choice(statuses), stamp, stamp, rubric.id, rubric.version, sha, applicable,
                rng.randint(0, applicable), key(site), key(ref), "2019-12-01T00:00:00Z" if index % 1000 == 7 else None,
            ))
        # generated rows, not cases made through the service: the list reads only these columns
        with store.transaction() as conn:
            conn.executemany(
                "INSERT INTO cases (uuid, case_ref, site, inspector, status, created_at, updated_at, rubric_id, "
                "rubric_version, rubric_sha256, applicable_count, answered_count, site_key, ref_key, deleted_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return path


def _ms(seconds: float) -> float:
    return seconds * 1000


def measure(path: Path, count: int) -> list[Result]:
    store = Store.open_read_only(path)
    label = f"{count // 1000:,}k" if count < 1_000_000 else f"{count // 1_000_000}M"
    results: list[Result] = []
    try:
        floor = best_of(lambda: [Case(*row) for row in store.conn.execute(
            f"SELECT {', '.join(CASE_COLUMNS)} FROM cases WHERE rowid > ? ORDER BY rowid LIMIT 100", [count // 2])], 5)
        for order_by in ORDERS:
            query = CaseQuery(order_by=order_by, descending=order_by == "updated_at")
            first = read_page(store, query, Move(FIRST))
            last = read_page(store, query, Move(LAST), first)
            timings = {
                "first page": best_of(lambda: read_page(store, query, Move(FIRST))),
                "next page": best_of(lambda: read_page(store, query, Move(ROWS, 1), first)),
                "end": best_of(lambda: read_page(store, query, Move(LAST), first)),
                "57 rows back from the end": best_of(lambda: read_page(store, query, Move(ROWS, -157), last)),
            }
            worst = max(timings, key=timings.get)
            results.append(Result(f"{label}: order {order_by}, slowest ({worst})", _ms(timings[worst]), _ms(floor), GOAL,
                                  unit="ms"))
        filters = {
            "site": CaseQuery(site="sheffield"), "small site (0.6%)": CaseQuery(site="lindisfarne"),
            "complete": CaseQuery(status="complete"), "approved": CaseQuery(status="approved"),
            "returned": CaseQuery(status="returned"), "deleted": CaseQuery(status="deleted"),
            "search 'c00012'": CaseQuery(search="c00012"), "search 'insp3'": CaseQuery(search="insp3"),
            "site + approved, by ref": CaseQuery(site="surrey", status="approved", order_by="case_ref", descending=False),
            "small site, by % answered": CaseQuery(site="lindisfarne", order_by="progress", descending=False),
        }
        for name, query in filters.items():
            first = read_page(store, query, Move(FIRST))
            page = max(best_of(lambda: read_page(store, query, Move(FIRST))),
                       best_of(lambda: read_page(store, query, Move(ROWS, 1), first)) if len(first.cases) else 0)
            results.append(Result(f"{label}: filter {name}, first/next page", _ms(page), _ms(floor), GOAL, unit="ms"))
        start = time.perf_counter()
        total = store.case_total()
        results.append(Result(f"{label}: the total ({total:,} live cases), counted after the page",
                              _ms(time.perf_counter() - start), None, "informational", unit="ms"))
    finally:
        store.close()
    return results


def run(workdir: Path) -> list[Result]:
    sizes = [int(s) for s in os.environ.get("AUDIT_BENCH_LIST_SIZES", "100000,1000000").split(",")]
    cache = Path(os.environ.get("AUDIT_BENCH_CACHE", workdir))
    load = os.getloadavg()[0]
    results = []
    for count in sizes:
        path = build(cache / f"case-list-{count}.db", count)
        results += measure(path, count)
    results.append(Result(f"load average while measured ({os.cpu_count()} cores)", load, None, "informational", unit=""))
    return results
