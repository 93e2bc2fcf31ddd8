"""Figure tables as Markdown pipe tables, ready to paste into a report draft."""

from __future__ import annotations

import re
from pathlib import Path

from audit.ratings import whole_percent
from audit.tabulate import BASE_NOTE, FigureTable, ReportTables
from audit.writers import atomic_output
from audit.writers.safety import looks_like_formula

# what would end a line in Markdown (CommonMark), or a cell when pasted into a spreadsheet (tab)
_LINE_BREAKS = re.compile(r"[\r\n\t\v\f\x1c-\x1e\x85\u2028\u2029]+")
HIGHLIGHT_MARK = "†"


def _text(value: str) -> str:
    """Text for one line or table cell; a leading = + - @ is escaped (shown as itself), so a
    spreadsheet the Markdown is pasted into never takes it for a formula."""
    text = _LINE_BREAKS.sub(" ", value.replace("\\", "\\\\").replace("|", "\\|")).strip()
    return "\\" + text if looks_like_formula(text) else text


def _number(part: str, value: int | None) -> str:
    if value is None:
        return "-"
    return f"{value}%" if part == "percent" else f"{value:,}"


def _interval(cell) -> str:
    if cell.ci is None:
        return "-"
    low, high = (whole_percent(end) for end in cell.ci)
    return f"{low}-{high}%"


def _comparison(row) -> list[str]:
    test = row.comparison
    if test is None or test.p_value is None:
        return ["-", "-", "-"]
    p_value = "<0.0001" if test.p_value < 0.0001 else f"{test.p_value:.4f}"
    return [f"{test.difference:+.1f}", p_value, "Yes" if test.significant else "No"]


def table_markdown(table: FigureTable) -> str:
    parts = table.parts
    several = len(table.columns) > 1 or any(table.columns)
    header = [""]
    for column in table.columns:
        header += [f"{column}: {table.header(p)}" if several else table.header(p) for p in parts]
        if table.ci:
            header.append(f"{column}: {table.ci_header}" if several else table.ci_header)
    if table.compared is not None:
        header += ["Difference (points)", "p-value", table.significance_header]
    lines = [f"### {_text(table.heading)}", ""]
    if table.note:
        lines += [_text(table.note), ""]
    lines.append("| " + " | ".join(_text(h) for h in header) + " |")
    lines.append("|" + "---|" + "---:|" * (len(header) - 1))
    section = ""
    for row in table.rows:
        if row.section and row.section != section:
            section = row.section
            if section != table.title:  # a sub-table titled as the figure is not headed twice
                lines.append(f"| **{_text(table.section_heading(section))}** |" + " |" * (len(header) - 1))
        label = _text(row.label) + (f" {HIGHLIGHT_MARK}" if row.highlight else "")
        label = f"**{label}**" if row.is_total else label
        values = []
        for cell in row.cells:
            values += [_number(p, cell.part(p)) for p in parts] + ([_interval(cell)] if table.ci else [])
        if table.compared is not None:
            values += _comparison(row) if not row.is_total else ["-"] * 3
        lines.append("| " + " | ".join([label, *values]) + " |")
    lines.append("")
    if table.highlight_note:
        lines += [f"{HIGHLIGHT_MARK} {_text(table.highlight_note)}", ""]
    for index, (label, cases) in enumerate(zip(table.columns, table.column_notes)):
        base = f"base {table.base_words(index)}" if label else f"Base {table.base_words(index)}"
        lines.append(f"* {_text(label) + ': ' if label else ''}{base}; the column counts {_text(cases)}")
    lines += [f"* {_text(note)}" for note in table.applies_notes]
    lines += [f"* {_text(note)}" for note in table.statistics_notes()]
    lines += ["", f"_{BASE_NOTE}_", ""]
    return "\n".join(lines)


def quoted_markdown(table: FigureTable) -> str:
    lines = [f"### {_text(table.heading)}", "", _text(table.note or ""), ""]
    lines.append("| Chapter | Quoted in the text | Number | Base | Percentage | Counted from |")
    lines.append("|---|---|---:|---:|---:|---|")
    for row in table.rows:
        cell = row.cells[0]
        values = [_number("count", cell.count), _number("base", cell.base), cell.percent_text(row.decimals) or "-"]
        lines.append("| " + " | ".join([_text(row.section), _text(row.label), *values, _text(row.source)]) + " |")
    return "\n".join(lines) + "\n"


def write_markdown(path: str | Path, result: ReportTables) -> None:
    report = result.report
    blocks = [f"# {_text(report.title)}\n" if report else ""]
    if result.selections:
        blocks.append("Cases counted:\n\n" + "\n".join(
            f"* {_text(s.name)} ({_text(s.label)}, {_text(s.path)}): {_text(s.summary())}" for s in result.selections.values()
        ) + "\n")
    warnings = result.status_warnings + result.warnings
    blocks += [table_markdown(t) for t in result.tables]
    if result.quoted:
        blocks.append(quoted_markdown(result.quoted))
    if warnings:
        blocks.append("Warnings and figures not included:\n\n" + "\n".join(f"* {_text(w)}" for w in warnings) + "\n")
    with atomic_output(path) as temp:
        temp.write_text("\n".join(blocks), encoding="utf-8")
