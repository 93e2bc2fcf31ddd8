"""Figure tables as tidy CSV: one row per cell (shared/spec/interfaces.md)."""

from __future__ import annotations

import csv
from pathlib import Path

from audit.tabulate import ReportTables, tidy_rows
from audit.writers import atomic_output
from audit.writers.safety import csv_safe

FIELDS = ["figure", "title", "section", "row", "column", "count", "base", "percent"]


def write_csv(path: str | Path, result: ReportTables) -> None:
    with atomic_output(path) as temp:
        with open(temp, "w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=FIELDS)
            writer.writeheader()
            for record in tidy_rows(result.tables):
                writer.writerow({key: "" if value is None else csv_safe(value) for key, value in record.items()})
