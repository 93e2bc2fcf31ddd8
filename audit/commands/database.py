"""``audit upgrade DB``, ``audit verify DB`` and ``audit user``: looking after databases and who is at the keyboard."""

from __future__ import annotations

import click


@click.command()
@click.argument("db", type=click.Path(dir_okay=False))
def upgrade(db: str) -> None:
    """Bring DB up to this version of audit, in place, in one transaction.

    Needed before a file written by an older audit can be read by tabulate,
    export or merge (which only read). The schema is migrated and every case is
    recounted under the current counting rules; a failure changes nothing.
    Free space left by the migration (most of the file, when schema 5 made
    the answers compact) is then given back with VACUUM.
    """
    from audit.store import SCHEMA_VERSION, Store

    with Store.open(db, create=False) as store:
        # schema 5 rebuilt the answers in a compact table: the old one's pages are free, and given back
        freed = store.give_back_free_space()
    done = f", {freed / 1e6:.1f} MB of free space given back" if freed else ""
    click.echo(f"{db}: up to date (schema {SCHEMA_VERSION}){done}")


@click.command()
@click.argument("db", type=click.Path(dir_okay=False))
def verify(db: str) -> None:
    """Check DB the way a merge checks a site's file, reading only.

    PRAGMA integrity_check, the schema (no object the tool did not make), every
    rubric against its hash, and every case, answer and history row against its
    rubric. Exit 0 when all is well; 1 with the first problems otherwise.
    """
    from audit.dbcheck import content_report
    from audit.store import Store

    store = Store.open_read_only(db, check=True)
    try:
        report = content_report(store)
        cases = store.conn.execute("SELECT count(*) FROM cases").fetchone()[0]
        answers = store.conn.execute("SELECT count(*) FROM answers").fetchone()[0]
    finally:
        store.close()
    if report.total:
        for problem in report.problems:
            click.echo(f"error: {db}: {problem}", err=True)
        if report.total > len(report.problems):
            click.echo(f"error: {db}: ... and {report.total - len(report.problems):,} more problems", err=True)
        raise click.exceptions.Exit(1)
    click.echo(f"{db}: ok ({cases:,} cases, {answers:,} answers; integrity, schema, rubrics and every value checked)")


@click.group()
def user() -> None:
    """Who is at the keyboard: recorded with every answer and change made here."""


@user.command("set")
@click.argument("name")
def user_set(name: str) -> None:
    """Name the person using this account (stored in your configuration folder)."""
    from audit.people import config_file, set_user

    stored = set_user(name)
    click.echo(f"changes made here are now recorded as {stored} ({config_file()})")


@user.command("show")
def user_show() -> None:
    """Say who changes are recorded as, and where that comes from."""
    import os

    from audit.people import config_file, configured_user
    from audit.store import current_user

    if os.environ.get("AUDIT_USER"):
        source = "$AUDIT_USER"
    elif configured_user():
        source = str(config_file())
    else:
        source = "your login name; set your own with: audit user set NAME"
    click.echo(f"{current_user()} (from {source})")
