"""``audit export REPORT.yaml --data NAME=DB ... -o OUT``: write the figure tables."""

from __future__ import annotations

import click

from audit.errors import AuditError, did_you_mean


def parse_data(values: tuple[str, ...], known: list[str]) -> dict[str, str]:
    """``NAME=DB`` arguments as {name: path}; a malformed, repeated or unknown name is refused."""
    data: dict[str, str] = {}
    for value in values:
        name, sep, path = value.partition("=")
        name, path = name.strip(), path.strip()
        if not sep or not name or not path:
            raise AuditError(f"--data '{value}': write NAME=DB, e.g. --data {known[0] if known else 'thematic'}=thematic.db")
        if name in data:
            raise AuditError(f"--data: dataset '{name}' is given twice ({data[name]} and {path}); give each dataset once")
        if name not in known:
            raise AuditError(f"--data: unknown dataset '{name}'{did_you_mean(name, known)}; this report's datasets are {', '.join(known)}")
        data[name] = path
    return data


@click.command()
@click.argument("report_path", metavar="REPORT.yaml")
@click.option("--data", "data", multiple=True, metavar="NAME=DB", help="A dataset the report names, and its database (repeat).")
@click.option("-o", "--output", required=True, metavar="OUT", help="Output file: .xlsx, .csv, .md or .json.")
@click.option("--include-notes", is_flag=True, help="Add inspectors' evidence notes to the workbook (left out by default).")
def export(report_path: str, data: tuple[str, ...], output: str, include_notes: bool) -> None:
    """Write the figure tables of REPORT.yaml, counted from the given databases.

    The format follows OUT's suffix. A figure whose dataset is not given is
    skipped with a warning.
    """
    from audit.figures import load_report
    from audit.store import Store
    from audit.tabulate import tabulate_report
    from audit.writers import format_for

    from audit.dbfile import refuse_as_output

    kind = format_for(output)
    report = load_report(report_path)
    paths = parse_data(data, list(report.datasets))
    refuse_as_output(output, list(paths.values()))
    if not paths:
        raise AuditError(f"no data given; add --data NAME=DB for {', '.join(report.datasets)}")
    if include_notes and kind != ".xlsx":
        raise AuditError(f"--include-notes: evidence notes go only into an .xlsx workbook, not {kind}")
    stores = {}
    try:
        for name, path in paths.items():
            stores[name] = Store.open_read_only(path)
        result = tabulate_report(report, stores)
        for warning in result.warnings:
            click.echo(f"warning: {warning}", err=True)
        if not result.tables:
            raise AuditError("no figure could be tabulated with the datasets given; nothing was written")
        if include_notes:  # case-level: notes per case, in a plain file
            from audit.encryption import case_level_warning

            warning = case_level_warning(output, list(paths.values()))
            if warning:
                click.echo(f"warning: {warning}", err=True)
        if kind == ".xlsx":
            from audit.writers.xlsx import write_xlsx

            write_xlsx(output, result, stores, include_notes=include_notes)
        elif kind == ".csv":
            from audit.writers.csv import write_csv

            write_csv(output, result)
        elif kind == ".md":
            from audit.writers.markdown import write_markdown

            write_markdown(output, result)
        else:
            from audit.writers.json import write_json

            write_json(output, result)
    finally:
        for store in stores.values():
            store.close()
    click.echo(f"wrote {output}: {len(result.tables)} figure tables from {', '.join(f'{n}={p}' for n, p in paths.items())}")
