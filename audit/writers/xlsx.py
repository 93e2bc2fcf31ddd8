"""Figure tables as an Excel workbook a report writer can publish from.

Sheets, in order: Contents (which cases count, every figure with a link,
what was not included); one sheet per figure (see
:mod:`audit.writers.xlsx_figures`), with a native bar chart beside the
report's charts; "Quoted in the text" (every number the report quotes in
prose, computed); "Ratings" when the figure file names a rating scheme
(:mod:`audit.writers.xlsx_ratings`); the Codebook (one row per question). Only when asked for:
per dataset a Data sheet (labels) and a Codes sheet (codes and 0/1 option
columns), one row per case counted, and evidence notes.

The workbook is written in openpyxl's write-only mode, so the data sheets
stream from the database in bounded memory. Text never becomes a formula.
"""

from __future__ import annotations

from pathlib import Path

from openpyxl import Workbook

from audit.rubric import Rubric
from audit.store import Store
from audit.tabulate import ReportTables, all_tables
from audit.writers import atomic_output
from audit.writers.sheets import printable
from audit.writers.xlsx_data import dataset_rubrics, write_codebook, write_data_sheets, write_notes_sheet
from audit.writers.xlsx_figures import contents_sheet, write_figure_sheets
from audit.writers.xlsx_ratings import write_ratings_sheet


def sheet_name(wanted: str, taken: set[str]) -> str:
    """An Excel sheet name: no []:*?/\\, at most 31 characters, unique regardless of case."""
    name = "".join("_" if ch in "[]:*?/\\" else ch for ch in wanted)[:31]
    stem, number = name, 2
    while name.casefold() in taken:
        suffix = f" ({number})"
        name, number = stem[: 31 - len(suffix)] + suffix, number + 1
    taken.add(name.casefold())
    return name


def write_xlsx(path: str | Path, result: ReportTables, stores: dict[str, Store] | None = None, *,
               include_data: bool = False, include_notes: bool = False) -> None:
    """Write the workbook atomically (mode 0600)."""
    stores = stores or {}
    report = result.report
    taken = {"contents"}
    sheets = {table.figure: sheet_name(table.sheet_name or table.figure, taken) for table in all_tables(result)}
    ratings = sheet_name("Ratings", taken) if result.ratings else None
    codebook = sheet_name("Codebook", taken)
    data_names = {name: (sheet_name(f"Data {name}", taken), sheet_name(f"Codes {name}", taken))
                  for name in stores} if include_data else {}
    notes_names = {name: sheet_name(f"Notes {name}", taken) for name in stores} if include_notes else {}
    rubrics: dict[str, list[Rubric]] = {name: dataset_rubrics(store, report, name) for name, store in stores.items()}

    wb = Workbook(write_only=True)
    try:
        contents = wb.create_sheet("Contents")
        printable(contents, landscape=False)
        shown_data = [sheet for pair in data_names.values() for sheet in pair]
        contents_sheet(result, sheets, shown_data, ratings).write(contents)
        write_figure_sheets(wb, result, sheets)
        if ratings is not None:
            write_ratings_sheet(wb, ratings, result)
        write_codebook(wb, codebook, rubrics)
        for name, store in stores.items():
            dataset = report.datasets.get(name) if report else None
            selection = result.selections.get(name)
            if name in data_names:
                write_data_sheets(wb, data_names[name], store, rubrics[name], selection, dataset.sites if dataset else {})
            if name in notes_names:
                write_notes_sheet(wb, notes_names[name], store, selection)
        with atomic_output(path) as temp:
            wb.save(temp)
    except BaseException:
        _discard(wb)
        raise


def _discard(wb: Workbook) -> None:
    """Close the sheets of a workbook that failed, so their streams end quietly (no noise on stderr)."""
    for ws in wb.worksheets:
        try:
            ws.close()
        except Exception:  # already saved or half written: nothing more to do with it
            pass
