"""``audit backup DB [DEST]``: a verified copy of a database, safe while the UI has it open."""

from __future__ import annotations

import click


@click.command()
@click.argument("db", type=click.Path(dir_okay=False))
@click.argument("dest", required=False, type=click.Path())
def backup(db: str, dest: str | None) -> None:
    """Copy DB to DEST with SQLite's online backup API.

    DEST defaults to DB.bak-YYYYmmdd-HHMMSS beside DB; a folder receives that
    name. An existing file is never overwritten. The copy is checked with
    integrity_check and created readable by you only (mode 0600).
    """
    from audit.backup import backup_database

    written = backup_database(db, dest)
    click.echo(f"backed up {db} to {written}")
