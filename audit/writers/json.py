"""Figure tables as JSON: the report, which cases each dataset counted, each figure's columns and rows,
the numbers quoted in the text, and the warnings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from audit.tabulate import FigureTable, ReportTables
from audit.writers import atomic_output


def table_dict(table: FigureTable) -> dict[str, Any]:
    datasets = table.column_datasets or ("",) * len(table.columns)
    return {
        "figure": table.figure,
        "title": table.title,
        "heading": table.heading,
        "chart": table.chart,
        "chart_title": list(table.chart_title),
        "note": table.note,
        "highlight_note": table.highlight_note,
        "columns": [{"label": label, "dataset": dataset, "cases": note}
                    for label, dataset, note in zip(table.columns, datasets, table.column_notes or ("",) * len(table.columns))],
        "applies": list(table.applies_notes),
        "rows": [
            {
                "section": row.section,
                "section_prefix": table.prefixes.get(row.section),
                "row": row.label,
                "kind": row.kind,
                "question_id": row.question,
                "option_codes": list(row.codes),
                "highlight": row.highlight,
                **({"dataset": row.dataset, "cases": row.source} if row.dataset else {}),
                "cells": [{"count": c.count, "base": c.base, "percent": c.percent, "fraction": c.fraction} for c in row.cells],
            }
            for row in table.rows
        ],
    }


def write_json(path: str | Path, result: ReportTables) -> None:
    report = result.report
    document = {
        "report": report.id if report else None,
        "title": report.title if report else None,
        "cases_counted": [s.as_dict() for s in result.selections.values()],
        "figures": [table_dict(t) for t in result.tables],
        "quoted": table_dict(result.quoted)["rows"] if result.quoted else [],
        "warnings": result.status_warnings + list(result.warnings),
    }
    with atomic_output(path) as temp:
        with open(temp, "w", encoding="utf-8") as handle:
            json.dump(document, handle, ensure_ascii=False, indent=2)
            handle.write("\n")
