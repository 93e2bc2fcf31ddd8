"""The workbook with data sheets at 100k cases, against openpyxl write-only writing the same cells.

Measured: ``write_xlsx(..., include_data=True)`` on 100k core cases (and the 60
thematic ones): every figure sheet, chart, the quoted table, the codebook, and
the Data and Codes sheets streamed from the database, cell styles, markers and
all. Floor: a bare ``Workbook(write_only=True)`` writing the same data-sheet
cells, as plain values already in memory (computed before the clock starts).
Goal: <= 1.5x. Each side runs in a fresh process so that its peak memory
(``ru_maxrss``) is its own; the floor's includes the rows it holds in memory,
which the writer never holds.

``python -m benchmarks.bench_workbook CASES`` runs it at another size.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.common import Result, core_rubric, make_database
from audit.figures import load_report
from audit.rubric import load_rubric_by_id
from audit.store import Store

PROJECT = Path(__file__).resolve().parent.parent
REPORT = PROJECT / "exports" / "iom-thematic-2019.yaml"
CASES = 100_000
REPEAT = 2


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _stores(folder: Path) -> dict[str, Store]:
    return {name: Store.open(folder / f"{name}.db", create=False, check=False) for name in ("thematic", "core")}


def measured(folder: Path, out: Path) -> dict:
    from audit.tabulate import tabulate_report
    from audit.writers.xlsx import write_xlsx

    stores = _stores(folder)
    result = tabulate_report(load_report(REPORT), stores)
    start = time.perf_counter()
    write_xlsx(out, result, stores, include_data=True)
    return {"seconds": time.perf_counter() - start, "peak_mb": _peak_mb()}


def floor(folder: Path, out: Path) -> dict:
    from openpyxl import Workbook

    from audit.tabulate import tabulate_report
    from audit.writers.xlsx_data import data_sheets, dataset_rubrics

    stores = _stores(folder)
    report = load_report(REPORT)
    result = tabulate_report(report, stores)
    sheets = []
    for name, store in stores.items():  # the same cells, as plain values, before the clock starts
        built = data_sheets(store, dataset_rubrics(store, report, name), result.selections[name], report.datasets[name].sites)
        rows = list(built.rows)
        sheets.append((f"Data {name}", [built.label_headers, *(r[0] for r in rows)]))
        sheets.append((f"Codes {name}", [built.code_headers, *(r[1] for r in rows)]))
    start = time.perf_counter()
    wb = Workbook(write_only=True)
    for title, rows in sheets:
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
    wb.save(out)
    return {"seconds": time.perf_counter() - start, "peak_mb": _peak_mb(), "cells": sum(len(r) for _, rows in sheets for r in rows)}


def _child(kind: str, folder: Path) -> dict:
    done = subprocess.run([sys.executable, "-m", "benchmarks.bench_workbook", "--child", kind, str(folder)],
                          capture_output=True, text=True, check=True, cwd=PROJECT)
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(workdir: Path, cases: int = CASES) -> list[Result]:
    make_database(workdir / "core.db", core_rubric(), cases, seed=3)
    make_database(workdir / "thematic.db", load_rubric_by_id("iom-thematic-2019"), 60, seed=5)
    runs = {kind: [_child(kind, workdir) for _ in range(REPEAT)] for kind in ("floor", "measured")}
    best = {kind: min(r["seconds"] for r in found) for kind, found in runs.items()}
    peak = {kind: max(r["peak_mb"] for r in found) for kind, found in runs.items()}
    cells = runs["floor"][0]["cells"]
    name = f"xlsx with data sheets, {cases:,} core cases"
    return [
        Result(name, best["measured"], best["floor"], "<= 1.5x"),
        Result(f"  peak memory MB: writer {peak['measured']:.0f}, floor {peak['floor']:.0f} ({cells:,} data cells)",
               peak["measured"], None, "information", unit="MB"),
    ]


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        kind, folder = sys.argv[2], Path(sys.argv[3])
        out = folder / f"{kind}.xlsx"
        print(json.dumps((measured if kind == "measured" else floor)(folder, out)))
    else:
        import tempfile

        size = int(sys.argv[1]) if len(sys.argv) > 1 else CASES
        with tempfile.TemporaryDirectory(prefix="audit-bench-workbook-") as tmp:
            for line in run(Path(tmp), size):
                print(line.line(), flush=True)
