"""``--passphrase-file`` and ``--encrypt``: given to every command that opens or creates a database.

The CLI adds them (:func:`add_options`), so each command opens an encrypted file
the same way without a line of its own: the options fill the process's key ring
(:data:`audit.crypto.KEYRING`), which :mod:`audit.dbfile` asks when it meets an
encrypted file (or creates a new one). A passphrase is never an argument.
"""

from __future__ import annotations

from pathlib import Path

import click

#: commands that never open a database
NO_DATABASE = frozenset({"demo", "rubric", "user", "keygen"})
#: commands that may create one: they take --encrypt
CREATING = frozenset({"tui", "import", "merge"})

PASSPHRASE_HELP = (
    "Read an encrypted database's passphrase from FILE (yours only: mode 0600; repeat for databases with different "
    "passphrases; the first one a new database gets). Default: $AUDIT_PASSPHRASE_FILE. On a terminal it is asked for."
)
ENCRYPT_HELP = (
    "Create the database encrypted (SQLCipher, AES-256) if it does not exist yet; its passphrase is asked twice, or "
    "read from --passphrase-file. There is no way back without it."
)


def _passphrase_files(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> None:
    from audit.crypto import KEYRING

    if value:
        KEYRING.passphrase_files = [Path(v) for v in value]


def _encrypt(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    from audit.crypto import KEYRING

    KEYRING.encrypt_new = bool(value)


def passphrase_option() -> click.Option:
    return click.Option(
        ["--passphrase-file"], multiple=True, metavar="FILE", type=click.Path(dir_okay=False), expose_value=False,
        callback=_passphrase_files, help=PASSPHRASE_HELP,
    )


def add_options(name: str, command: click.Command) -> click.Command:
    """Give ``command`` (and a group's subcommands) ``--passphrase-file``, and ``--encrypt`` where it creates a database."""
    if name in NO_DATABASE:
        return command
    targets = list(command.commands.values()) if isinstance(command, click.Group) else [command]
    for target in targets:
        names = {option for param in target.params for option in getattr(param, "opts", [])}
        if "--passphrase-file" not in names:
            target.params.append(passphrase_option())
        if name in CREATING and "--encrypt" not in names:
            target.params.append(click.Option(
                ["--encrypt"], is_flag=True, expose_value=False, callback=_encrypt, help=ENCRYPT_HELP,
            ))
    return command
