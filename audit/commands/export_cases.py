"""``audit export-cases DB -o cases.jsonl|cases.csv [--include-notes] [--status S]``: cases as import files."""

from __future__ import annotations

import click


@click.command("export-cases")
@click.argument("db", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, metavar="OUT", help="cases.jsonl (JSON Lines) or cases.csv (wide CSV).")
@click.option("--status", "statuses", multiple=True, metavar="STATUS",
              help="Only cases of this status (in_progress, complete, approved, returned); repeat or separate with commas.")
@click.option("--include-notes", is_flag=True, help="Add inspectors' evidence notes (left out by default).")
def export_cases(db: str, output: str, statuses: tuple[str, ...], include_notes: bool) -> None:
    """Write the cases of DB in the documented import formats, one case a line or row.

    Importing the file into a new database (`audit import NEW.db OUT --rubric ID`)
    gives the same answers, empty selections, statuses and (with
    --include-notes) notes. Deleted cases and retired answers are left out.
    """
    from audit.dbfile import refuse_as_output
    from audit.store import Store
    from audit.tabulate import case_selection, check_statuses
    from audit.writers.cases import write_cases

    chosen = check_statuses(statuses or None)
    refuse_as_output(output, [db])
    store = Store.open_read_only(db)
    try:
        selection = case_selection(store, "cases", db, "", chosen)
        written = write_cases(output, store, selection, include_notes=include_notes)
    finally:
        store.close()
    statuses_text = ", ".join(f"{n:,} {s.replace('_', ' ')}" for s, n in sorted(written.by_status.items())) or "none"
    notes = f", {written.notes:,} notes" if include_notes else ""
    click.echo(f"{db}: {selection.summary('written')}")
    click.echo(f"wrote {output}: {written.cases:,} cases ({statuses_text}), {written.answers:,} answers{notes}")
    if written.rubric_id:
        click.echo(f"import it with: audit import NEW.db {output} --rubric {written.rubric_id}")
