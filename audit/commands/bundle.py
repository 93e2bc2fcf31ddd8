"""``audit keygen -o lead.key`` and ``audit bundle DB --to LEAD.pub -o site.audit.age``: encrypted hand-over."""

from __future__ import annotations

import click


@click.command()
@click.option("-o", "--output", required=True, metavar="lead.key", type=click.Path(dir_okay=False),
              help="The private key file to write (mode 0600); the public key goes beside it as .pub.")
def keygen(output: str) -> None:
    """Make the lead's key pair for bundles (age X25519).

    The private key (lead.key) stays with the lead: mode 0600, never emailed,
    with a copy kept offline (a lost key cannot be recovered, and neither can
    the bundles made for it). The public key (lead.pub) goes to the sites, who
    encrypt their bundles to it with `audit bundle`.
    """
    from audit.bundle import keygen as make_keys

    key_path, pub_path, recipient = make_keys(output)
    click.echo(f"wrote {key_path}: the lead's private key; keep it secret (mode 0600), with a copy offline: without it no bundle can be opened")
    click.echo(f"wrote {pub_path}: the public key, for the sites (audit bundle DB --to {pub_path} -o SITE.audit.age):")
    click.echo(recipient)


@click.command()
@click.argument("db", type=click.Path(dir_okay=False))
@click.option("--to", "recipients", multiple=True, required=True, metavar="LEAD.pub",
              help="The lead's public key: a .pub file from audit keygen, or the age1... key itself (repeat for several).")
@click.option("-o", "--output", required=True, metavar="SITE.audit.age", type=click.Path(dir_okay=False),
              help="The bundle to write (its name ends in .age).")
def bundle(db: str, recipients: tuple[str, ...], output: str) -> None:
    """Write DB as a bundle encrypted to the lead's public key (age), for email or a USB stick.

    A consistent snapshot, safe while the UI is open, checked like a backup
    (integrity, schema, every value). Only the lead's private key opens it:
    `audit merge national.db SITE.audit.age --identity lead.key`. A bundle that
    was altered or cut short is refused there, and nothing is merged.
    """
    from audit.bundle import read_recipients, write_bundle

    keys = read_recipients(recipients)
    cases = write_bundle(db, keys, output)
    click.echo(f"wrote {output}: {cases:,} cases from {db}, encrypted to {len(keys)} public key{'s' if len(keys) != 1 else ''}")
