"""``audit model DB [OUTCOME]... --factor Q --adjust A,B,... [-o model.xlsx|.csv]``: adjusted odds ratios."""

from __future__ import annotations

from pathlib import Path

import click

from audit.errors import AuditError

CSV_FIELDS = [
    "outcome", "question", "factor", "level", "reference", "adjusted_for", "cases", "events", "left_out",
    "left_out_reasons", "odds_ratio", "ci_low", "ci_high", "p_value", "significant", "note",
]
OUTPUTS = (".csv", ".xlsx")


def _number(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _p(value: float | None) -> str:
    if value is None:
        return "-"
    return "<0.0001" if value < 0.0001 else f"{value:.4f}"


def _reasons(row) -> str:
    return "; ".join(f"{n:,} {reason}" for reason, n in row.left_out.items())


def render(report) -> list[str]:
    """The models as aligned lines for an 80-column terminal."""
    from audit.identity import printable

    level = f"{int(report.confidence * 100)}% CI"
    lines = [
        f"{'outcome':<30} {'cases':>6} {'left out':>8} {'odds ratio':>10} {level:>14} {'p':>8}  sig",
    ]
    for row in report.rows:
        label = row.outcome if row.level in ("-", "yes") else f"{row.outcome} ({row.level})"
        label = label if len(label) <= 30 else label[:29] + "…"
        ci = "-" if row.ci_low is None else f"{row.ci_low:.2f}-{row.ci_high:.2f}"
        significant = {True: "yes", False: "no", None: "-"}[row.significant]
        lines.append(f"{label:<30} {row.cases:>6,} {row.left_out_total:>8,} {_number(row.odds_ratio):>10} {ci:>14} {_p(row.p_value):>8}  {significant}")
    lines.append("")
    lines.append(f"Left out of each model, of {report.total_cases:,} cases (cases without a counted answer to):")
    for row in report.rows:
        short = ", ".join(f"{n:,} {reason.rsplit(' ', 1)[-1]}" for reason, n in row.left_out.items())
        lines.append(f"  {row.outcome}: {short or 'none'}")
    notes = [row for row in report.rows if row.note]
    if notes:
        lines.append("")
        lines.append("Notes:")
        lines += [f"  {row.outcome}: {printable(row.note)}" for row in notes]
    return lines


def records(report) -> list[dict]:
    """One dict per row, the CSV's and the sheet's columns."""
    out = []
    for row in report.rows:
        out.append({
            "outcome": row.outcome, "question": row.question, "factor": report.factor, "level": row.level,
            "reference": report.reference, "adjusted_for": ",".join(report.adjust), "cases": row.cases,
            "events": row.events, "left_out": row.left_out_total, "left_out_reasons": _reasons(row),
            "odds_ratio": row.odds_ratio, "ci_low": row.ci_low, "ci_high": row.ci_high, "p_value": row.p_value,
            "significant": {True: "yes", False: "no", None: None}[row.significant], "note": row.note,
        })
    return out


def write_csv(path: str, report) -> None:
    from audit.commands.csvout import write_csv_rows

    write_csv_rows(path, CSV_FIELDS, records(report))


def write_xlsx(path: str, report) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    from audit.writers import atomic_output
    from audit.writers.safety import put

    wb = Workbook()
    ws = wb.active
    ws.title = "Model"
    put(ws, 1, 1, f"Odds ratio of {report.factor} for each outcome ({report.rubric_id})", font=Font(bold=True, size=13))
    put(ws, 2, 1, report.method + f"; significant at {report.rows[0].alpha if report.rows else 0.05:g}.")
    put(ws, 3, 1, f"{report.total_cases:,} cases; a case without a counted answer to the outcome, the factor or a "
                  "covariate is left out of that outcome's model (left_out, left_out_reasons).")
    header_row = 5
    for column, name in enumerate(CSV_FIELDS, start=1):
        put(ws, header_row, column, name, font=Font(bold=True))
    formats = {"odds_ratio": "0.00", "ci_low": "0.00", "ci_high": "0.00", "p_value": "0.0000", "cases": "#,##0",
               "events": "#,##0", "left_out": "#,##0"}
    for r, record in enumerate(records(report), start=header_row + 1):
        for column, name in enumerate(CSV_FIELDS, start=1):
            cell = put(ws, r, column, record[name])
            if name in formats and record[name] is not None:
                cell.number_format = formats[name]
            if name in ("question", "left_out_reasons", "note"):
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    widths = {"outcome": 28, "question": 50, "left_out_reasons": 50, "note": 40, "adjusted_for": 24}
    for column, name in enumerate(CSV_FIELDS, start=1):
        ws.column_dimensions[ws.cell(row=header_row, column=column).column_letter].width = widths.get(name, 11)
    ws.freeze_panes = ws.cell(row=header_row + 1, column=2)
    with atomic_output(path) as temp:
        wb.save(temp)


@click.command("model")
@click.argument("db", type=click.Path(dir_okay=False))
@click.argument("outcomes", nargs=-1, metavar="[OUTCOME]...")
@click.option("--factor", required=True, metavar="QUESTION", help="The factor whose odds ratio is reported, e.g. iom_status.")
@click.option("--adjust", "adjust", default="", metavar="A,B,...",
              help="Covariates, comma-separated: questions, or site / inspector (the case's own fields).")
@click.option("--reference", metavar="CODE", help="The factor's reference answer (default: no, or its first option).")
@click.option("--scheme", metavar="FILE", help="A rating scheme whose key questions are the default outcomes.")
@click.option("--alpha", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.05, show_default=True,
              help="Significance level; the interval is at 1 - alpha.")
@click.option("-o", "--output", metavar="OUT", help="Also write the table: .csv or .xlsx.")
def model(db: str, outcomes: tuple[str, ...], factor: str, adjust: str, reference: str | None, scheme: str | None,
          alpha: float, output: str | None) -> None:
    """Adjusted odds ratio of --factor for each yes/no OUTCOME question in DB (logistic regression).

    With no OUTCOME, every yes/no key question: those of --scheme, or of the
    shipped rating scheme for DB's rubric, or else every yes/no question.
    Only answers that count (as in the figures) are used; the output says how
    many cases each model left out, and why. Needs statsmodels (audit[stats]).
    """
    from audit.regression import model as fit_models
    from audit.regression import require_statsmodels
    from audit.store import Store

    if output is not None and Path(output).suffix.lower() not in OUTPUTS:
        raise AuditError(f"{output}: write the model as {' or '.join(OUTPUTS)}")
    require_statsmodels()
    adjust_list = [name.strip() for name in adjust.split(",") if name.strip()]
    store = Store.open(db, create=False)
    try:
        keys = _key_questions(store, scheme) if not outcomes else None
        report = fit_models(store, list(outcomes), factor, adjust_list, reference=reference, key_questions=keys,
                            confidence=1 - alpha, alpha=alpha)
    finally:
        store.close()
    click.echo(click.style(f"Odds ratio of {factor} for each outcome ({report.rubric_id}, {report.total_cases:,} cases)", bold=True))
    method, _, detail = report.method.partition("; ")
    click.echo(f"{method};\n{detail}; significant at {alpha:g}.")
    click.echo("")
    for line in render(report):
        click.echo(line)
    if output is not None:
        (write_xlsx if output.lower().endswith(".xlsx") else write_csv)(output, report)
        click.echo(f"\nwrote {output}")


def _key_questions(store, scheme: str | None) -> list[str] | None:
    """Key questions of the given scheme, or of the shipped scheme for the store's rubric (None if none)."""
    try:
        from audit.ratings import key_questions_for
    except ImportError:  # ratings not built yet
        return None
    from audit.tabulate import store_rubric

    return key_questions_for(store_rubric(store).id, scheme)
