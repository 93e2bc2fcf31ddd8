"""The workbook's "Ratings" sheet: a figure file's rating scheme applied to the cases the figures count.

Per dataset of the scheme's rubric: each standard with its rating, under it each
key question (count, base, percentage, Wilson interval), the lowest marked; the
caution on small bases and the bands the deciding interval spans; judged
standards with the judgements the database records (who, when, why); the
overall rating when every standard is rated. The same numbers as
``audit ratings DB`` (docs/ratings.md).
"""

from __future__ import annotations

from pathlib import Path

from openpyxl.styles import Alignment

from audit.tabulate import DatasetRatings, ReportTables
from audit.writers.sheets import (
    BOLD, COUNT_FORMAT, HEADER_FILL, HEADER_RIGHT, HEADING, HIGHLIGHT_FILL, ITALIC, PERCENT_FORMAT, RIGHT, RULE, SMALL,
    TOP, WARNING, WRAP, Grid,
)

INDENT = Alignment(vertical="top", indent=1)  # the rating, set off from the interval beside it
COLUMNS = (("Standard", 30), ("Key question", 58), ("Number", 10), ("Base", 10), ("Percentage", 12),
           ("95% CI low", 11), ("95% CI high", 11), ("Rating", 22), ("Note", 56))
DASH = "-"


def _line(grid: Grid, r: int, text: str, **style) -> int:
    width = sum(w for _, w in COLUMNS) * 0.85
    grid.put(r, 1, text, alignment=WRAP, **style)
    grid.merge(r, 1, len(COLUMNS))
    grid.wrap_height(r, text, width, style["font"].size if style.get("font") else 11)
    return r + 1


def _header(grid: Grid, r: int) -> int:
    for column, (title, _) in enumerate(COLUMNS, start=1):
        grid.put(r, column, title, font=BOLD, fill=HEADER_FILL, border=RULE, alignment=HEADER_RIGHT if 3 <= column <= 7 else WRAP)
    return r + 1


def _band_words(standard) -> str:
    if standard.band_range is None:
        return ""
    low, high = standard.band_range
    spans = low.label if low == high else f"{low.label} to {high.label}"
    return f"the interval of the lowest spans {spans}"


def _dataset(grid: Grid, r: int, item: DatasetRatings, rubric) -> int:
    result = item.ratings
    r = _line(grid, r, f"{item.label} ({item.dataset}): {result.cases:,} cases counted", font=BOLD)
    r = _header(grid, r)
    recorded = {j.standard_id: j for j in item.judgements}
    for standard in result.standards:
        s = standard.standard
        rating = standard.rating.label if standard.rating else ("no judgement given" if standard.judged else "not rated")
        grid.put(r, 1, f"{s.id} {s.title}", font=BOLD, alignment=WRAP)
        grid.put(r, 2, "rated by judgement" if standard.judged else "the lowest key question decides", font=ITALIC, alignment=TOP)
        grid.put(r, 8, rating, font=BOLD if standard.rating else WARNING, alignment=INDENT)
        notes = []
        if standard.judged and s.id in recorded:
            j = recorded[s.id]
            notes.append(f"judgement by {j.set_by or 'unknown'} on {j.set_at[:10]}" + (f": {j.note}" if j.note else ""))
        elif standard.judged:
            notes.append("record it with: audit ratings set DB " + s.id + " RATING")
        if not standard.judged:
            notes += [text for text in (standard.caution, _band_words(standard) if not standard.caution else "", standard.note) if text]
        note = "; ".join(notes)
        grid.put(r, 9, note, alignment=WRAP, font=SMALL)
        grid.wrap_height(r, note, COLUMNS[8][1], SMALL.size)
        grid.wrap_height(r, f"{s.id} {s.title}", COLUMNS[0][1])
        r += 1
        for q in standard.questions:
            fill = {"fill": HIGHLIGHT_FILL} if q.lowest else {}
            text = rubric.question(q.question_id).text if rubric is not None and rubric.has_question(q.question_id) else q.question_id
            grid.put(r, 1, "lowest" if q.lowest else "", alignment=RIGHT, font=SMALL, **fill)
            grid.put(r, 2, text, alignment=WRAP, **fill)
            grid.wrap_height(r, text, COLUMNS[1][1])
            grid.put(r, 3, q.count, number_format=COUNT_FORMAT, alignment=TOP, **fill)
            grid.put(r, 4, q.base, number_format=COUNT_FORMAT, alignment=TOP, **fill)
            if q.fraction is None:
                for column in (5, 6, 7):
                    grid.put(r, column, DASH, alignment=RIGHT, **fill)
            else:
                grid.put(r, 5, q.fraction, number_format=PERCENT_FORMAT, alignment=TOP, **fill)
                grid.put(r, 6, q.ci[0], number_format=PERCENT_FORMAT, alignment=TOP, **fill)
                grid.put(r, 7, q.ci[1], number_format=PERCENT_FORMAT, alignment=TOP, **fill)
            grid.put(r, 8, result.scheme.for_percent(q.percent).label if q.percent is not None else DASH, alignment=INDENT, **fill)
            grid.put(r, 9, q.question_id, font=SMALL, alignment=TOP, **fill)
            r += 1
    overall = result.overall.label if result.overall else "not rated"
    grid.put(r, 1, "Overall", font=BOLD, border=RULE)
    judged = [s for s in result.unrated if result.scheme.standard(s).judged]
    unanswered = [s for s in result.unrated if s not in judged]
    reasons = [f"total {result.total} of {result.scheme.max_total}"] if result.overall is not None else []
    reasons += [f"{', '.join(judged)} need a judgement (audit ratings set)"] if judged else []
    reasons += [f"{', '.join(unanswered)} have no counted answers"] if unanswered else []
    why = "; ".join(reasons)
    grid.put(r, 8, overall, font=BOLD if result.overall else WARNING, border=RULE, alignment=INDENT)
    grid.put(r, 9, why, font=SMALL, border=RULE, alignment=WRAP)
    for column in range(2, 8):
        grid.put(r, column, None, border=RULE)
    return r + 2


def ratings_sheet(result: ReportTables) -> Grid:
    grid = Grid()
    for column, (_, width) in enumerate(COLUMNS, start=1):
        grid.widths[column] = width
    scheme = result.ratings[0].ratings.scheme
    grid.put(1, 1, f"Ratings: {scheme.title}", font=HEADING)
    source = Path(scheme.path).name if scheme.path else scheme.id
    r = _line(grid, 2, f"Rating scheme {scheme.id} ({source}), for rubric {scheme.rubric}. A standard takes the rating of "
                       f"its lowest key question's percentage, as published (a whole number, rounded half up): "
                       f"{scheme.describe_bands()}. Standards rated by judgement take the judgement recorded in the "
                       "database. The overall rating bands the total of the standards' scores, once every standard is "
                       "rated.", font=ITALIC)
    r += 1
    report = result.report
    for item in result.ratings:
        rubric = report.datasets[item.dataset].rubric if report else None
        r = _dataset(grid, r, item, rubric)
    _line(grid, r, f"The key questions count the same cases as the figures (which cases count: Contents). A rating on "
                   f"a base under {scheme.caution_below} cases carries a caution: its 95% Wilson interval spans several "
                   "bands. Percentages are the unrounded fractions, shown rounded half up.", font=SMALL)
    return grid


def write_ratings_sheet(wb, name: str, result: ReportTables) -> None:
    from audit.writers.sheets import printable

    ws = wb.create_sheet(name)
    printable(ws)
    ratings_sheet(result).write(ws)

