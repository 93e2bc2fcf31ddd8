"""Figure tables as JSON: the report, each figure's columns and rows, and the warnings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from audit.tabulate import FigureTable, ReportTables
from audit.writers import atomic_output


def table_dict(table: FigureTable) -> dict[str, Any]:
    return {
        "figure": table.figure,
        "title": table.title,
        "heading": table.heading,
        "chart": table.chart,
        "note": table.note,
        "columns": [{"label": label, "cases": note} for label, note in zip(table.columns, table.column_notes)],
        "rows": [
            {
                "section": row.section,
                "row": row.label,
                "kind": row.kind,
                "cells": [{"count": c.count, "base": c.base, "percent": c.percent} for c in row.cells],
            }
            for row in table.rows
        ],
    }


def write_json(path: str | Path, result: ReportTables) -> None:
    report = result.report
    document = {
        "report": report.id if report else None,
        "title": report.title if report else None,
        "figures": [table_dict(t) for t in result.tables],
        "warnings": list(result.warnings),
    }
    with atomic_output(path) as temp:
        with open(temp, "w", encoding="utf-8") as handle:
            json.dump(document, handle, ensure_ascii=False, indent=2)
            handle.write("\n")
