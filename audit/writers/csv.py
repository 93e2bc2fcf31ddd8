"""Figure tables as tidy CSV: one row per cell (shared/spec/interfaces.md).

UTF-8 with a byte-order mark, so that Excel opened by a double-click reads it
as UTF-8. The first eight columns keep their order; ``dataset``,
``question_id``, ``option_code`` and ``fraction`` follow. Which cases were
counted does not fit in a table of cells: it goes beside the file, in a
CSV on the Web metadata file (``figures.csv-metadata.json``), with the
meaning of every column.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

from audit.tabulate import TIDY_FIELDS, ReportTables, all_tables, tidy_rows
from audit.writers import atomic_output
from audit.writers.safety import csv_safe

FIELDS = list(TIDY_FIELDS)
COLUMN_MEANINGS = {
    "figure": "The figure's id as the report numbers it (Q: a number quoted in the text).",
    "title": "The figure's title as the report prints it.",
    "section": "The sub-table (or, for a quoted number, the report's chapter); empty where there is none.",
    "row": "The row label as the report prints it (or the quoted sentence); Total for a total row.",
    "column": "The column label; empty for a one-column figure.",
    "count": "The numerator: cases in the row.",
    "base": "The cases the percentage is of: the question applies and is answered (Not applicable answers and "
            "unanswered questions excluded).",
    "percent": "count / base as a whole number, rounded half up; empty where there is no percentage.",
    "dataset": "The dataset (figure file) the cell is counted from.",
    "question_id": "The rubric question behind the row.",
    "option_code": "The option codes the row counts, joined with ';'; empty for a band, a total or a count of cases.",
    "fraction": "count / base unrounded; empty where there is no percentage.",
    "ci_low": "The lower end of the Wilson score interval of the percentage, as a fraction (at the figure's confidence, "
              "95% by default); only with --ci or ci: true in the figure file.",
    "ci_high": "The upper end of the Wilson score interval, as a fraction; only with --ci or ci: true.",
    "p_value": "In a figure with compare: [A, B], on column B's cell of each row: the two-sided p-value of B against A "
               "(Pearson's chi-square without continuity correction on the 2x2 table, or Fisher's exact test where an "
               "expected count is below 5; the figure's entry under notes says which).",
    "significant": "yes or no: p_value below the figure's alpha (0.05 by default); on column B's cells of compared rows only.",
}


def metadata_path(path: str | Path) -> Path:
    path = Path(path)
    return path.with_name(path.name + "-metadata.json")


def _number(value: Any) -> Any:
    return repr(value) if isinstance(value, float) else value


def statistics_notes(result: ReportTables) -> list[dict[str, Any]]:
    """Per figure with statistics: its intervals and comparison, and the test each compared row used."""
    out = []
    for table in result.tables:
        if not table.ci and table.compare is None:
            continue
        entry: dict[str, Any] = {"figure": table.figure, "notes": table.statistics_notes()}
        if table.ci:
            entry["confidence"] = table.confidence
        if table.compared is not None:
            entry.update(compare=list(table.compared), alpha=table.alpha, rows=[
                {"section": row.section, "row": row.label, "difference_points": row.comparison.difference,
                 "test": row.comparison.test, "statistic": row.comparison.statistic}
                for row in table.rows if row.comparison is not None
            ])
        out.append(entry)
    return out


def metadata(path: str | Path, result: ReportTables) -> dict[str, Any]:
    report = result.report
    return {
        "@context": "http://www.w3.org/ns/csvw",
        "url": Path(path).name,
        "dc:title": report.title if report else "Figure tables",
        "dc:source": Path(report.path).name if report and report.path else "",
        "dc:created": dt.date.today().isoformat(),
        "dialect": {"encoding": "utf-8", "header": True},
        "tableSchema": {
            "columns": [{"name": name, "titles": name, "dc:description": COLUMN_MEANINGS[name]} for name in FIELDS],
        },
        "notes": [
            {"casesCounted": [s.as_dict() for s in result.selections.values()]},
            {"statistics": statistics_notes(result)},
            {"warnings": result.status_warnings + result.warnings},
        ],
    }


def write_csv(path: str | Path, result: ReportTables) -> Path:
    """Write the tidy CSV and its metadata file; returns the metadata file's path."""
    with atomic_output(path) as temp:
        with open(temp, "w", encoding="utf-8-sig", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=FIELDS)
            writer.writeheader()
            for record in tidy_rows(all_tables(result)):
                writer.writerow({key: "" if value is None else csv_safe(_number(value)) for key, value in record.items()})
    meta = metadata_path(path)
    with atomic_output(meta) as temp:
        temp.write_text(json.dumps(metadata(path, result), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return meta
