"""``audit rubric check FILE...``, ``audit rubric show ID``, and XLSForm ``import`` / ``export``."""

from __future__ import annotations

import contextlib

import click

from audit.errors import AuditError, Problem, Problems


@click.group()
def rubric() -> None:
    """Check and show rubrics; read and write them as XLSForms."""


def check_file(path: str) -> str:
    """Validate one rubric or figure-table file; returns a one-line summary or raises Problems."""
    from audit.yamlsource import read_yaml

    doc = read_yaml(path)
    if isinstance(doc.data, dict) and "figures" in doc.data:
        from audit.figures import parse_report

        report = parse_report(doc.text, path)
        return f"{path}: ok, figure tables '{report.id}' ({len(report.figures)} figures)"
    from audit.rubric import parse_rubric

    parsed = parse_rubric(doc.text, path)
    return f"{path}: ok, rubric '{parsed.id}' version {parsed.version} ({len(parsed.questions)} questions)"


@rubric.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
def check(files: tuple[str, ...]) -> None:
    """Validate rubric and figure-table files, listing every error."""
    problems = []
    for path in files:
        try:
            click.echo(check_file(path))
        except Problems as exc:
            problems += exc.problems
            for line in exc.lines():
                click.echo(f"error: {line}", err=True)
        except AuditError as exc:
            problems.append(exc)
            click.echo(f"error: {path}: {exc}", err=True)
    if problems:
        raise click.exceptions.Exit(1)


@rubric.command("show")
@click.argument("rubric_id")
def show(rubric_id: str) -> None:
    """Print a rubric's questions, options and applicability rules."""
    from audit.rubric import load_rubric_by_id

    parsed = load_rubric_by_id(rubric_id)
    click.echo(f"{parsed.id}  version {parsed.version}  sha256 {parsed.sha256[:12]}")
    click.echo(parsed.title)
    for section in parsed.sections:
        click.echo("")
        rule = f"   [applies if {section.applies_if}]" if section.applies_if else ""
        click.echo(click.style(f"## {section.title}", bold=True) + rule)
        for q in section.questions:
            flag = "" if q.required else " (optional)"
            click.echo(f"  {q.id}  ({q.type}{flag})")
            click.echo(f"      {q.text}")
            if q.applies_if:
                click.echo(f"      applies if: {q.applies_if}")
            if q.range:
                click.echo(f"      range: {q.range[0]}-{q.range[1]}")
            for code, option in q.options.items():
                never = "   (never in a base)" if not option.counts else ""
                click.echo(f"        {code}: {option.label}{never}")


@contextlib.contextmanager
def printable_errors():
    """Errors quoting a file's text, with any control characters escaped for the terminal."""
    from audit.identity import printable

    try:
        yield
    except Problems as exc:
        problems = [Problem(printable(p.where), printable(p.message)) for p in exc.problems]
        raise Problems(problems, summary=printable(exc.summary) if exc.summary else None) from None
    except AuditError as exc:
        raise AuditError(printable(exc)) from None


@rubric.command("import")
@click.argument("form", metavar="FORM.xlsx", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, metavar="RUBRIC.yaml", help="The rubric file to write.")
def import_xlsform(form: str, output: str) -> None:
    """Read an XLSForm (ODK, KoboToolbox, Ona, SurveyCTO) into a rubric file.

    Every cell outside the supported subset is listed with its place
    (FORM.xlsx:survey!B17) and nothing is written. See docs/xlsform.md.
    """
    from audit.identity import printable
    from audit.outfile import check_suffix, write_text
    from audit.xlsform.reader import import_form

    check_suffix(output, (".yaml", ".yml"), "a rubric")
    with printable_errors():
        result = import_form(form)
    for warning in result.warnings:
        click.echo(f"warning: {printable(warning)}", err=True)
    write_text(output, result.text)
    parsed = result.rubric
    click.echo(f"wrote {output}: rubric '{parsed.id}' version {parsed.version} "
               f"({len(parsed.questions)} questions in {len(parsed.sections)} sections) from {form}")


@rubric.command("export")
@click.argument("rubric_ref", metavar="RUBRIC.yaml")
@click.option("-o", "--output", required=True, metavar="FORM.xlsx", help="The XLSForm workbook to write.")
def export_xlsform(rubric_ref: str, output: str) -> None:
    """Write a rubric (a file, or the id of a shipped one) as an XLSForm workbook.

    The form converts with pyxform, and `audit rubric import` reads it back
    into a rubric that evaluates identically. See docs/xlsform.md.
    """
    from audit.outfile import check_suffix
    from audit.rubric import find_rubric, load_rubric
    from audit.xlsform.writer import write_form

    check_suffix(output, (".xlsx",), "an XLSForm")
    parsed = load_rubric(find_rubric(rubric_ref))
    with printable_errors():
        cells = write_form(parsed, output)
    click.echo(f"wrote {output}: {len(cells['survey']) - 1} survey rows and {len(cells['choices']) - 1} choices "
               f"of rubric '{parsed.id}' version {parsed.version}")
