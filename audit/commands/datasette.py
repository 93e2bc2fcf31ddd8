"""``audit datasette-metadata DB... [--figures FILE] -o metadata.yaml``: browse databases with Datasette."""

from __future__ import annotations

import shlex

import click


@click.command("datasette-metadata")
@click.argument("databases", nargs=-1, required=True, metavar="DB...")
@click.option("--figures", metavar="FIGURES.yaml", help="A figure-table file (or a shipped id): one canned query per figure.")
@click.option("-o", "--output", required=True, metavar="metadata.yaml", help="The metadata file to write (.yaml or .json).")
def datasette_metadata(databases: tuple[str, ...], figures: str | None, output: str) -> None:
    """Write Datasette metadata for audit databases: descriptions, labels, and the figures as queries.

    Then browse them read-only with `datasette serve DB... --metadata
    metadata.yaml` (Datasette 0.65, `pip install 'audit[datasette]'`). Never
    add -i (immutable): it ignores the -wal file, so recent answers would be
    missing. See docs/datasette.md.
    """
    from audit.datasette_meta import describe_database, metadata
    from audit.identity import printable
    from audit.outfile import check_suffix, write_text
    from audit.store import Store

    check_suffix(output, (".yaml", ".yml", ".json"), "Datasette metadata")
    report = None
    if figures:
        from audit.figures import load_report

        report = load_report(figures)
    described = []
    for path in databases:
        store = Store.open_read_only(path)
        try:
            described.append(describe_database(path, store.conn))
        finally:
            store.close()
    document = metadata(described, report)
    write_text(output, _serialise(document, output))
    queries = sum(len(db.get("queries", {})) for db in document["databases"].values())
    click.echo(f"wrote {output}: {len(described)} database{'s' if len(described) > 1 else ''}, {queries} figure queries")
    from audit.dbfile import key_of

    encrypted = [path for path in databases if key_of(path) is not None]
    if encrypted:
        # SQLCipher files are not SQLite files to Datasette: say so rather than print a command that fails
        click.echo(
            f"note: {printable(encrypted[0])} is encrypted, and Datasette cannot open SQLCipher files: browse a "
            "decrypted copy (audit decrypt DB -o PLAIN) where plain case data may be kept, and remove it afterwards"
        )
        return
    command = " ".join(shlex.quote(part) for part in ["datasette", "serve", *databases, "--metadata", output])
    click.echo(f"browse read-only with: {printable(command)}")


def _serialise(document: dict, output: str) -> str:
    if output.lower().endswith(".json"):
        import json

        return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    import yaml

    class Dumper(yaml.SafeDumper):
        """Multi-line text (each query's SQL) as a literal block, so the file reads like the SQL it holds."""

    def text(dumper, value: str):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if "\n" in value else None)

    Dumper.add_representer(str, text)
    header = "# Datasette 0.65 metadata written by `audit datasette-metadata`; see docs/datasette.md.\n"
    return header + yaml.dump(document, Dumper=Dumper, sort_keys=False, allow_unicode=True, width=110)
