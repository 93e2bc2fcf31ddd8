"""``audit tui [DB]``: the inspector's terminal UI (``audit`` alone opens ./audit.db)."""

from __future__ import annotations

import sys

import click

from audit.errors import AuditError


class NotATerminal(click.ClickException):
    """The UI needs a terminal on both sides: exit code 2, like any usage error."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"error: {self.message}", err=True)


def check_terminal() -> None:
    """Refuse, before anything is opened or created, when stdin or stdout is a pipe or a file
    (``audit | head`` would start the UI into a pipe and spin there)."""
    for name, stream in (("standard input", sys.stdin), ("standard output", sys.stdout)):
        try:
            is_terminal = stream is not None and stream.isatty()
        except (AttributeError, ValueError):  # closed or replaced by something that is not a file
            is_terminal = False
        if not is_terminal:
            raise NotATerminal(
                f"the terminal UI needs a terminal, but {name} is a pipe or a file; run `audit tui` in a terminal "
                "(for output to a file or a pipe, use `audit tabulate` or `audit export`); nothing was opened or created"
            )


@click.command("tui")
@click.argument("db", required=False, default="audit.db", type=click.Path(dir_okay=True, path_type=str))
def tui(db: str) -> None:
    """Open the terminal UI on DB (default ./audit.db, created on first use)."""
    check_terminal()
    from audit.tui.app import AuditApp  # textual loads only for this command

    app = AuditApp(db)  # refuses a foreign, newer or damaged file before the screen opens
    app.run()
    if app.failure:
        raise AuditError(app.failure)
