"""The ``audit`` command. Each subcommand lives in ``audit/commands/`` and is
imported only when used, so ``audit rubric check`` never loads the UI.

Exit codes: 0 success, 1 input refused (the message says why), 2 usage error.
No traceback ever reaches a user, and no control character reaches the
terminal: :func:`main` runs every command with ``audit.terminal``'s escaping
stdout and stderr.
"""

from __future__ import annotations

import importlib
import sqlite3
import sys

import click

from audit.errors import AuditError, Problems
from audit.terminal import escaping_streams

# name -> ("module:attribute" of a click command, one-line help for `audit --help`)
COMMANDS = {
    "tui": ("audit.commands.tui:tui", "Open the terminal UI on a database (default ./audit.db)."),
    "demo": ("audit.commands.demo:demo", "Write demo databases that reproduce the report's figures."),
    "rubric": ("audit.commands.rubric:rubric", "Check rubric and figure-table files; show a rubric; XLSForm in and out."),
    "import": ("audit.commands.importing:import_command", "Load cases from a .jsonl or wide .csv file, all or nothing."),
    "tabulate": ("audit.commands.tabulate:tabulate", "Counts and percentages for one question."),
    "export": ("audit.commands.export:export", "Write figure tables as .xlsx, .csv, .md or .json."),
    "export-cases": ("audit.commands.export_cases:export_cases", "Write cases as .jsonl or .csv import files."),
    "merge": ("audit.commands.merge:merge", "Merge site databases into one, reporting conflicts."),
    "backup": ("audit.commands.backup:backup", "Copy a database safely, even while it is in use."),
    "upgrade": ("audit.commands.database:upgrade", "Bring a database written by an older audit up to date."),
    "verify": ("audit.commands.database:verify", "Check a database's integrity, schema and every value."),
    "user": ("audit.commands.database:user", "Name the person at the keyboard, recorded with every change."),
    "datasette-metadata": ("audit.commands.datasette:datasette_metadata", "Write Datasette metadata: descriptions, labels, figures as queries."),
    "model": ("audit.commands.model:model", "Adjusted odds ratios of a factor (logistic regression)."),
    "ratings": ("audit.commands.ratings:ratings", "Rate standards from their key questions; check rating schemes."),
    "review": ("audit.commands.review:review", "Quality review: the queue of complete cases; approve or return one."),
    "moderate": ("audit.commands.moderate:moderate", "Moderation: draw a sample for a second inspector; agreement report."),
    "encrypt": ("audit.commands.encryption:encrypt", "Encrypt a database in place (SQLCipher), with a new passphrase."),
    "decrypt": ("audit.commands.encryption:decrypt", "Write an unencrypted copy of an encrypted database."),
    "rekey": ("audit.commands.encryption:rekey", "Change an encrypted database's passphrase, in place."),
    "keygen": ("audit.commands.bundle:keygen", "Make the lead's key pair for encrypted bundles (age)."),
    "bundle": ("audit.commands.bundle:bundle", "Write a database as a bundle encrypted to the lead's public key."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module_name, attribute = COMMANDS[name][0].split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # a command not built yet
                return None
            raise
        from audit.commands.passphrase import add_options

        # every command that opens a database can read an encrypted one's passphrase from a file
        return add_options(name, getattr(module, attribute))

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # listed from the table, so `audit --help` imports no command (and not the UI)
        with formatter.section("Commands"):
            formatter.write_dl([(name, COMMANDS[name][1]) for name in sorted(COMMANDS)])


@click.group(cls=LazyGroup, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="audit")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Case audits with a rubric engine.

    With no command, opens the terminal UI on ./audit.db.
    """
    if ctx.invoked_subcommand is None:
        command = LazyGroup.get_command(cli, ctx, "tui")
        if command is None:
            click.echo(ctx.get_help())
            return
        ctx.invoke(command)


def report_error(error: AuditError) -> None:
    lines = error.lines() if isinstance(error, Problems) else str(error).splitlines() or [type(error).__name__]
    for line in lines:
        click.echo(f"error: {line}" if not line.startswith("error:") else line, err=True)


def main(argv: list[str] | None = None) -> int:
    """Entry point: run the CLI and turn every failure into a message and an exit code.

    Whatever any command prints, on stdout or stderr, has its control characters escaped.
    """
    from audit.crypto import KEYRING, terminal_prompt

    KEYRING.reset()  # each command starts knowing no passphrase
    KEYRING.prompt = terminal_prompt()
    with escaping_streams():
        return _run(argv)


def _run(argv: list[str] | None) -> int:
    try:
        result = cli.main(args=argv, prog_name="audit", standalone_mode=False)
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 1
    except AuditError as exc:
        report_error(exc)
        return 1
    except KeyboardInterrupt:
        click.echo("interrupted; nothing more was written", err=True)
        return 130
    except BrokenPipeError:
        return 0
    except sqlite3.OperationalError as exc:
        from audit.dbfile import BUSY, is_busy

        if is_busy(exc):
            click.echo(f"error: {BUSY}", err=True)
        else:
            click.echo(f"error: the database could not be used ({exc}); nothing more was written", err=True)
        return 1
    except Exception as exc:  # never a traceback: say what happened and how to report it
        click.echo(f"error: internal error ({type(exc).__name__}: {exc}); please report this with the command you ran", err=True)
        return 1
    return result if isinstance(result, int) else 0


def run() -> None:
    sys.exit(main())


if __name__ == "__main__":
    run()
