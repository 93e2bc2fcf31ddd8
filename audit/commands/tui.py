"""``audit tui [DB]``: the inspector's terminal UI (``audit`` alone opens ./audit.db)."""

from __future__ import annotations

import click

from audit.errors import AuditError


@click.command("tui")
@click.argument("db", required=False, default="audit.db", type=click.Path(dir_okay=True, path_type=str))
def tui(db: str) -> None:
    """Open the terminal UI on DB (default ./audit.db, created on first use)."""
    from audit.tui.app import AuditApp  # textual loads only for this command

    app = AuditApp(db)  # refuses a foreign, newer or damaged file before the screen opens
    app.run()
    if app.failure:
        raise AuditError(app.failure)
