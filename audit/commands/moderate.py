"""``audit moderate sample DB ...`` and ``audit moderate report DB [-o moderation.xlsx]``."""

from __future__ import annotations

import click


@click.group()
def moderate() -> None:
    """Moderation (double marking): draw a sample for a second inspector; report their agreement.

    \b
    audit moderate sample DB --fraction 0.1 --seed 7 [--by site] --inspector NAME [--dry-run]
    audit moderate report DB [-o moderation.xlsx]
    """


@moderate.command()
@click.argument("db", type=click.Path(dir_okay=False))
@click.option("--fraction", type=float, required=True, help="Share of the complete cases to draw in each stratum, e.g. 0.1.")
@click.option("--seed", type=int, required=True, help="Seed of the draw: the same file and seed draw the same cases.")
@click.option("--by", type=click.Choice(["site", "inspector"]), help="Stratify: draw the fraction (at least one) from each.")
@click.option("--inspector", required=True, metavar="NAME", help="The second inspector who will mark the copies, blind.")
@click.option("--dry-run", is_flag=True, help="Show the draw; make no copy.")
def sample(db: str, fraction: float, seed: int, by: str | None, inspector: str, dry_run: bool) -> None:
    """Draw a reproducible, stratified sample of complete cases in DB and make a
    moderation copy of each for a second inspector.

    A copy shares its case's site and reference, starts empty, is answered in
    the same UI, and never counts in a figure. Its inspector cannot see the
    original's answers until the copy is complete.
    """
    from audit.identity import printable
    from audit.moderation import draw_sample
    from audit.store import Store

    store = Store.open_read_only(db) if dry_run else Store.open(db, create=False)
    try:
        result = draw_sample(store, fraction=fraction, seed=seed, inspector=inspector, by=by, dry_run=dry_run)
    finally:
        store.close()
    how = f"stratified by {by}" if by else "one stratum"
    click.echo(f"{db}: drew {len(result.drawn):,} of {sum(s.eligible for s in result.strata):,} complete cases "
               f"({fraction:g} of each stratum, at least one; {how}; seed {seed}) for {printable(result.inspector)}")
    if result.own_cases:
        click.echo(f"  {result.own_cases:,} case(s) marked by {printable(result.inspector)} were left out: a second "
                   "opinion is another inspector's")
    if by:
        for stratum in result.strata:
            click.echo(f"  {printable(stratum.name):<24} {stratum.drawn:>3} of {stratum.eligible:,}")
    for drawn in result.drawn:
        case = drawn.original
        state = "would copy" if dry_run and drawn.copy is None else ("already copied" if drawn.existed else "copied")
        click.echo(f"  {state:<14} {printable(case.case_ref):<10} {printable(case.site):<18} "
                   f"first marked by {printable(case.inspector or '-')}")
    if dry_run:
        click.echo("dry run: no copy was made")
    else:
        click.echo(f"made {result.created:,} moderation copy(ies); {printable(result.inspector)} opens them in "
                   f"`audit tui {db}` (marked 'moderation'); then `audit moderate report {db}`")


@moderate.command()
@click.argument("db", type=click.Path(dir_okay=False))
@click.option("-o", "--output", metavar="FILE.xlsx", help="Also write the report as a workbook.")
@click.option("--include-notes/--no-notes", default=True, show_default=True,
              help="Evidence notes beside each disagreement (the lead's feedback needs them).")
def report(db: str, output: str | None, include_notes: bool) -> None:
    """Agreement between first and second markings in DB: per question and
    overall, every disagreement, and the questions that applied to only one marker."""
    from audit.dbfile import refuse_as_output
    from audit.identity import printable
    from audit.moderation_report import moderation_report, summary_lines, table_lines
    from audit.outfile import check_suffix
    from audit.store import Store

    if output:
        check_suffix(output, (".xlsx",), "the moderation report")
        refuse_as_output(output, [db])
    store = Store.open_read_only(db)
    try:
        result = moderation_report(store)
    finally:
        store.close()
    click.echo(click.style(f"Moderation: {db}", bold=True))
    for line in summary_lines(result):
        click.echo(printable(line))
    if result.overall is not None:
        click.echo("")
        for line in table_lines(result):
            click.echo(printable(line))
        if result.disagreements:
            click.echo("")
            click.echo(click.style("Disagreements", bold=True))
            for d in result.disagreements:
                _disagreement(d, include_notes)
        if result.applicability:
            click.echo("")
            click.echo(click.style("Applicability disagreements (the question applied to one marker only)", bold=True))
            for d in result.applicability:
                _disagreement(d, include_notes)
    if output:
        from audit.writers.moderation_xlsx import write_moderation_xlsx

        write_moderation_xlsx(output, result, include_notes=include_notes)
        click.echo("")
        click.echo(f"wrote {output}")


def _disagreement(d, include_notes: bool) -> None:
    from audit.identity import printable as p

    click.echo(f"  {p(d.case_ref)} at {p(d.site)}, {d.question_id}: {p(d.first_inspector or '-')} "
               f"\"{p(d.first_answer)}\", {p(d.second_inspector or '-')} \"{p(d.second_answer)}\"")
    if include_notes:
        for who, note in ((d.first_inspector, d.first_note), (d.second_inspector, d.second_note)):
            if note:
                click.echo(f"      {p(who or '-')}: {p(note)}")
