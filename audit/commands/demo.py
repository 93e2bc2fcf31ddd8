"""``audit demo [DIR]``: write demo databases that reproduce the IOM report's figures."""

from __future__ import annotations

import shlex

import click


@click.command()
@click.argument("folder", default="demo", required=False, type=click.Path(file_okay=False))
@click.option("--force", is_flag=True, help="Replace demo databases already in the folder.")
def demo(folder: str, force: bool) -> None:
    """Write thematic.db (60 cases, 7 sites), core.db (3,308 cases) and survey.db (50 PCC survey
    respondents) into FOLDER (default: demo).

    Their figure tables reproduce the numbers printed in the 2019 joint thematic
    inspection of Integrated Offender Management.
    """
    from audit.demo import CORE_FILE, SURVEY_FILE, THEMATIC_FILE, write_demo

    written = write_demo(folder, force=force, progress=lambda line: click.echo(line, err=True))
    for result in written:
        click.echo(
            f"wrote {result.path}: {result.cases:,} cases at {result.sites} sites ({result.rubric_id}), "
            f"{result.complete:,} complete, {result.in_progress:,} in progress"
        )
    thematic = shlex.quote(f"{folder.rstrip('/')}/{THEMATIC_FILE}")
    core = shlex.quote(f"{folder.rstrip('/')}/{CORE_FILE}")
    survey = shlex.quote(f"{folder.rstrip('/')}/{SURVEY_FILE}")
    click.echo("")
    click.echo("Open the thematic sample in the terminal UI:")
    click.echo(f"  audit tui {thematic}")
    click.echo("Export the report's figure tables:")
    click.echo(f"  audit export iom-thematic-2019 --data thematic={thematic} --data core={core} --data survey={survey} -o figures.xlsx")
