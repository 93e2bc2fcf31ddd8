"""``audit encrypt DB``, ``audit rekey DB`` and ``audit decrypt DB -o PLAIN``: encryption at rest."""

from __future__ import annotations

from pathlib import Path

import click

NO_RECOVERY = "keep the passphrase safe: without it nobody, you included, can read the file, and there is no recovery"


@click.command()
@click.argument("db", type=click.Path(dir_okay=False))
def encrypt(db: str) -> None:
    """Encrypt DB in place with SQLCipher (AES-256, a key derived from a passphrase).

    The passphrase is asked twice (at least 12 characters; four unrelated words
    are a good one), or read from --passphrase-file. Close the UI first: DB must
    not be open anywhere. All or nothing: a failure or an interruption leaves DB
    as it was. The plain file is overwritten before it is removed, where the
    disk allows (see docs/data-protection.md: SSDs, copy-on-write file systems,
    snapshots and backups keep old copies). Backups and exports made before stay
    plain.
    """
    from audit.crypto import KEYRING, new_key
    from audit.encryption import encrypt_in_place

    encrypt_in_place(db, lambda: new_key(KEYRING.new_passphrase(db)))
    click.echo(f"{db}: encrypted (SQLCipher 4, AES-256); {NO_RECOVERY}")
    click.echo(f"copies made before (backups, exports, {db}.bak-*) are not encrypted: re-make or remove them")


@click.command()
@click.argument("db", type=click.Path(dir_okay=False))
@click.option("--new-passphrase-file", metavar="FILE", type=click.Path(dir_okay=False),
              help="Read the new passphrase from FILE (mode 0600) instead of asking for it twice.")
def rekey(db: str, new_passphrase_file: str | None) -> None:
    """Change the passphrase of the encrypted DB, in place and all or nothing.

    The current passphrase opens it (asked, or --passphrase-file); the new one is
    asked twice (or --new-passphrase-file). Copies made before (backups) keep the
    old passphrase.
    """
    from audit.crypto import KEYRING, new_key
    from audit.encryption import rekey_in_place

    source = Path(new_passphrase_file) if new_passphrase_file else None
    how = "give it with --new-passphrase-file FILE (mode 0600), or run this in a terminal"
    # --passphrase-file holds the current passphrase: the new one comes from its own file, or the terminal
    rekey_in_place(db, lambda: new_key(KEYRING.new_passphrase(db, source, use_files=False, how_to_give=how)))
    click.echo(f"{db}: passphrase changed; {NO_RECOVERY}; backups made before still open with the old one")


@click.command()
@click.argument("db", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, metavar="PLAIN", type=click.Path(dir_okay=False),
              help="The new, unencrypted database (never written over an existing file).")
def decrypt(db: str, output: str) -> None:
    """Write an unencrypted copy of the encrypted DB to PLAIN (DB itself is left as it is).

    PLAIN is readable by anyone who gets the file: keep it on an encrypted disk,
    mode 0600 (as it is created), and remove it when done. To hand cases to the
    lead, use `audit bundle` instead: it stays encrypted on the way.
    """
    from audit.encryption import decrypt_to

    decrypt_to(db, output)
    click.echo(f"wrote {output}: a plain copy of {db}")
    click.echo(f"warning: {output} is not encrypted: anyone who gets it can read every case; remove it when done", err=True)
