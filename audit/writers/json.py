"""Figure tables as JSON: the report, which cases each dataset counted, each figure's columns and rows,
the numbers quoted in the text, and the warnings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from audit.tabulate import TEST_WORDS, FigureTable, ReportTables, cell_statistics, yes_no
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
                "cells": [{"count": c.count, "base": c.base, "percent": c.percent, "fraction": c.fraction,
                           **cell_statistics(table, row, i)} for i, c in enumerate(row.cells)],
                **({"comparison": comparison_dict(row.comparison)} if row.comparison is not None else {}),
            }
            for row in table.rows
        ],
        **({"statistics": statistics_dict(table)} if table.ci or table.compare is not None else {}),
    }


def comparison_dict(comparison) -> dict[str, Any]:
    return {"difference_points": comparison.difference, "test": comparison.test, "statistic": comparison.statistic,
            "p_value": comparison.p_value, "significant": yes_no(comparison.significant)}


def statistics_dict(table: FigureTable) -> dict[str, Any]:
    out: dict[str, Any] = {"notes": table.statistics_notes()}
    if table.ci:
        out["interval"] = {"method": "Wilson score interval", "confidence": table.confidence}
    if table.compared is not None:
        out["compare"] = {"a": table.compared[0], "b": table.compared[1], "alpha": table.alpha,
                          "tests": {name: words for name, words in TEST_WORDS.items()},
                          "difference": "B's percentage minus A's, in percentage points, unrounded"}
    return out


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
