"""``audit export REPORT.yaml --data NAME=DB ... -o OUT``: write the figure tables."""

from __future__ import annotations

from pathlib import Path

import click

from audit.errors import AuditError, did_you_mean

STATUS_HELP = ("Count only cases of this status (in_progress, complete, approved, returned); repeat or separate "
               "with commas. Default: every status the figure file allows.")


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
@click.option("--status", "statuses", multiple=True, metavar="STATUS", help=STATUS_HELP)
@click.option("--include-data", is_flag=True, help="Add one row per case (data and codes sheets) to the workbook.")
@click.option("--include-notes", is_flag=True, help="Add inspectors' evidence notes to the workbook (left out by default).")
@click.option("--ci", "ci", is_flag=True,
              help="A Wilson interval beside every percentage (as ci: true in the figure file; error bars on charts).")
def export(report_path: str, data: tuple[str, ...], output: str, statuses: tuple[str, ...], include_data: bool,
           include_notes: bool, ci: bool) -> None:
    """Write the figure tables of REPORT.yaml, counted from the given databases.

    The format follows OUT's suffix. A figure whose dataset is not given is
    skipped with a warning. Which cases count is stated per dataset, here and
    in the file; case-level data and notes go into a workbook only when asked for.
    A figure with compare: [A, B] tests B against A in every row (docs/statistics.md).
    """
    from audit.figures import load_report
    from audit.store import Store
    from audit.tabulate import check_statuses, tabulate_report
    from audit.writers import format_for

    from audit.dbfile import refuse_as_output

    kind = format_for(output)
    chosen = check_statuses(statuses or None)
    report = load_report(report_path)
    paths = parse_data(data, list(report.datasets))
    refuse_as_output(output, list(paths.values()))
    if not paths:
        raise AuditError(f"no data given; add --data NAME=DB for {', '.join(report.datasets)}")
    for flag, given in (("--include-data", include_data), ("--include-notes", include_notes)):
        if given and kind != ".xlsx":
            raise AuditError(f"{flag}: case-level data and evidence notes go only into an .xlsx workbook, not {kind}")
    stores = {}
    try:
        for name, path in paths.items():
            stores[name] = Store.open_read_only(path)
        result = tabulate_report(report, stores, statuses=chosen, ci=ci)
        for name, selection in result.selections.items():
            click.echo(f"{name} ({selection.path}): {selection.summary()}")
        for warning in result.status_warnings + result.warnings:
            click.echo(f"warning: {warning}", err=True)
        if not result.tables:
            raise AuditError("no figure could be tabulated with the datasets given; nothing was written")
        written = [output]
        if include_notes:  # case-level: notes per case, in a plain file
            from audit.encryption import case_level_warning

            warning = case_level_warning(output, list(paths.values()))
            if warning:
                click.echo(f"warning: {warning}", err=True)
        if kind == ".xlsx":
            from audit.writers.xlsx import write_xlsx

            write_xlsx(output, result, stores, include_data=include_data, include_notes=include_notes)
        elif kind == ".csv":
            from audit.writers.csv import write_csv

            written.append(write_csv(output, result))
        elif kind == ".md":
            from audit.writers.markdown import write_markdown

            write_markdown(output, result)
        else:
            from audit.writers.json import write_json

            write_json(output, result)
    finally:
        for store in stores.values():
            store.close()
    quoted = f" and {len(result.quoted.rows)} numbers quoted in the text" if result.quoted else ""
    also = f" (and {', '.join(str(p) for p in written[1:])}: which cases count)" if len(written) > 1 else ""
    click.echo(f"wrote {output}{also}: {len(result.tables)} figure tables{quoted} from "
               + ", ".join(f"{n}={p}" for n, p in paths.items()))
