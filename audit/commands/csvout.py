"""A table of records as CSV for the statistics commands (``model``, ``ratings``): atomic, 0600, no formulas."""

from __future__ import annotations

import csv
from typing import Any, Iterable


def write_csv_rows(path: str, fields: list[str], records: Iterable[dict[str, Any]]) -> None:
    """UTF-8 with a BOM (Excel reads it), one row per record; None is an empty cell."""
    from audit.writers import atomic_output
    from audit.writers.safety import csv_safe

    with atomic_output(path) as temp:
        with open(temp, "w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=fields)
            writer.writeheader()
            for record in records:
                writer.writerow({k: "" if record.get(k) is None else csv_safe(record.get(k)) for k in fields})
