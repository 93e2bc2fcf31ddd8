"""``audit tabulate DB QUESTION [--by QUESTION] [--where RULE] [--status S]``: one question's counts in the terminal."""

from __future__ import annotations

from pathlib import Path

import click


def _whole(fraction: float) -> int:
    from audit.ratings import whole_percent

    return whole_percent(fraction)


def render(table) -> list[str]:
    """The table as aligned lines: per column Number, Percentage and Base (and the interval, with --ci)."""
    label_width = min(60, max([len(row.label) for row in table.rows] + [8]))
    interval = 10 if table.ci else 0  # " 62%-70%" under the CI heading
    widths = [max(20, min(len(column) + 2, 40)) + interval for column in table.columns]

    def clip(text: str, width: int) -> str:
        return text if len(text) <= width else text[: width - 1] + "…"

    lines = [
        " " * label_width + "".join(f"{clip(c, w - 2):>{w}}" for c, w in zip(table.columns, widths)),
        " " * label_width + "".join(f"{'n':>{w - 13 - interval}}{'%':>6}{'base':>7}" + (f"{table.ci_header:>{interval}}" if interval else "")
                                    for w in widths),
    ]
    for row in table.rows:
        cells = []
        for cell, width in zip(row.cells, widths):
            pct = "-" if cell.percent is None else f"{cell.percent}%"
            base = "" if cell.base is None or row.is_total else f"{cell.base:,}"
            text = f"{cell.count:>{width - 13 - interval},}{pct:>6}{base:>7}"
            if interval:
                ci = "" if cell.ci is None else f"{_whole(cell.ci[0])}-{_whole(cell.ci[1])}%"
                text += f"{ci:>{interval}}"
            cells.append(text)
        lines.append(f"{clip(row.label, label_width):<{label_width}}" + "".join(cells))
    return lines


@click.command()
@click.argument("db", type=click.Path(dir_okay=False))
@click.argument("question")
@click.option("--by", "by", metavar="QUESTION", help="Cross-tabulate: one column per option of this question.")
@click.option("--where", "where", metavar="RULE", help='Only cases where this rule is true, e.g. \'iom_status == "yes"\'.')
@click.option("--status", "statuses", multiple=True, metavar="STATUS",
              help="Count only cases of this status (in_progress, complete, approved, returned); repeat or separate with commas.")
@click.option("--ci", "ci", is_flag=True, help="Show each percentage's Wilson interval.")
@click.option("--confidence", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.95, show_default=True,
              help="The interval's confidence level (with --ci).")
def tabulate(db: str, question: str, by: str | None, where: str | None, statuses: tuple[str, ...], ci: bool,
             confidence: float) -> None:
    """Counts, bases and percentages of QUESTION in DB.

    The base is the cases where the question applies and is answered
    ("Not applicable" answers and unanswered questions are left out).
    """
    from audit.store import Store
    from audit.tabulate import BASE_NOTE, case_selection, check_statuses, store_rubric, tabulate_question

    chosen = check_statuses(statuses or None)
    store = Store.open_read_only(db)
    try:
        table = tabulate_question(store, question, by=by, where=where, statuses=chosen, ci=ci, confidence=confidence)
        selection = case_selection(store, Path(db).name, db, store_rubric(store).id, chosen)
    finally:
        store.close()
    click.echo(click.style(f"{question}: {table.title}", bold=True))
    click.echo(f"{db}: {selection.summary()}")
    if selection.warning():
        click.echo(f"warning: {selection.warning()}", err=True)
    if where:
        click.echo(f"cases where {where}")
    click.echo("")
    for line in render(table):
        click.echo(line)
    click.echo("")
    click.echo(BASE_NOTE)
    for note in table.statistics_notes():
        click.echo(note)
