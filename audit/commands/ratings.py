"""``audit ratings DB --scheme FILE [--by site] [--ci] [--status S]`` and ``audit ratings check FILE...``."""

from __future__ import annotations

from pathlib import Path

import click

from audit.errors import AuditError, Problems

CSV_FIELDS = ["scope", "standard", "title", "question", "count", "base", "percent", "ci_low", "ci_high", "lowest",
              "rating", "score", "band_range", "caution", "note"]


class DefaultShow(click.Group):
    """``audit ratings DB ...`` means ``audit ratings show DB ...``; ``check`` is a subcommand."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ctx.help_option_names:
            args = ["show", *args]
        return super().parse_args(ctx, args)


@click.group(cls=DefaultShow)
def ratings() -> None:
    """Ratings of standards from their key questions, under a rating scheme (ratings/*.yaml).

    \b
    audit ratings DB --scheme ratings/hmip-2018.yaml [--by site] [--ci] [--status complete]
    audit ratings set DB STANDARD RATING [--comment TEXT] [--site SITE]
    audit ratings check FILE...
    """


def _parse_judgements(values: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for value in values:
        standard, sep, rating = value.partition("=")
        if not sep or not standard.strip() or not rating.strip():
            raise AuditError(f"--judgement '{value}': write STANDARD=RATING, e.g. --judgement 1.1=good")
        if standard.strip() in out:
            raise AuditError(f"--judgement: standard '{standard.strip()}' is given twice; give each once")
        out[standard.strip()] = rating.strip()
    return out


def _wrapped(head: str, text: str, width: int = 80) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width=width, initial_indent=head, subsequent_indent=" " * 8, break_on_hyphens=False) or [head]


def _in_parts(parts: list[str], width: int = 78) -> list[str]:
    """Parts joined by "; " into lines of at most ``width``, broken between parts only ("rated: all
    3,308" is not cut in two)."""
    lines: list[str] = []
    for part in parts:
        if lines and len(lines[-1]) + 2 + len(part) <= width:
            lines[-1] += f"; {part}"
        else:
            lines.append(part)
    return lines


def _pct(value: float) -> str:
    from audit.ratings import whole_percent

    return f"{whole_percent(value)}%"


def render(result, *, show_ci: bool, confidence: float) -> list[str]:
    """One scope's ratings as lines for an 80-column terminal."""
    from audit.identity import printable

    scope = "All cases" if result.scope == "all cases" else f"Site {printable(result.scope)}"
    lines = [click.style(f"{scope} ({result.cases:,} cases)", bold=True)]
    for standard in result.standards:
        rating = standard.rating.label if standard.rating else ("no judgement given" if standard.judged else "not rated")
        how = "judgement" if standard.judged and standard.rating else (f"lowest {standard.percent}%" if standard.percent is not None else "")
        head = f"  {standard.standard.id} {standard.standard.title}"
        head = head if len(head) <= 40 else head[:39] + "…"
        lines.append(f"{head:<40} {rating}" + (f" ({how})" if how else ""))
        for q in standard.questions:
            mark = ">" if q.lowest else " "
            pct = "-" if q.percent is None else f"{q.percent}%"
            line = f"    {mark} {q.question_id:<24} {q.count:>6,} of {q.base:<6,} {pct:>5}"
            if show_ci and q.ci is not None:
                line += f"  {confidence:.0%} CI {_pct(q.ci[0])}-{_pct(q.ci[1])}"
            if q.lowest:
                line += "  lowest"
            lines.append(line)
        if show_ci and standard.band_range is not None:
            low, high = standard.band_range
            spans = low.label if low == high else f"{low.label} to {high.label}"
            lines.append(f"      the interval of the lowest spans: {spans}")
        if standard.caution:
            lines += _wrapped("      caution: ", standard.caution)
        if standard.note and not standard.judged:
            lines += _wrapped("      note: ", standard.note)
    if result.overall is not None:
        lines.append(f"  Overall: {result.overall.label} (total {result.total} of {result.scheme.max_total})")
    else:
        judged = [s for s in result.unrated if result.scheme.standard(s).judged]
        other = [s for s in result.unrated if s not in judged]
        why = []
        if judged:
            why.append(f"{', '.join(judged)} are rated by judgement; give them with --judgement ID=RATING")
        if other:
            why.append(f"{', '.join(other)} have no counted answers")
        lines += _wrapped("  Overall: ", f"not rated ({'; '.join(why)})")
    return lines


def judgement_lines(scheme, recorded) -> list[str]:
    from audit.identity import printable

    lines = []
    for j in recorded:
        where = f" (site {printable(j.scope)})" if j.scope else ""
        who = f"{printable(j.set_by)}, {j.set_at[:10]}" + (f": {printable(j.note)}" if j.note else "")
        lines += _wrapped("  ", f"{j.standard_id} {scheme.standard(j.standard_id).title}{where}: "
                                f"{scheme.find_rating(j.rating).label} ({who})")
    return lines


def records(results) -> list[dict]:
    out = []
    for result in results:
        for standard in result.standards:
            base = {"scope": result.scope, "standard": standard.standard.id, "title": standard.standard.title}
            band = "" if standard.band_range is None else (
                standard.band_range[0].label if standard.band_range[0] == standard.band_range[1]
                else f"{standard.band_range[0].label} to {standard.band_range[1].label}")
            out.append({**base, "rating": standard.rating.label if standard.rating else None,
                        "score": standard.rating.score if standard.rating else None, "percent": standard.percent,
                        "band_range": band, "caution": standard.caution, "note": standard.note})
            for q in standard.questions:
                out.append({**base, "question": q.question_id, "count": q.count, "base": q.base, "percent": q.percent,
                            "ci_low": q.ci[0] if q.ci else None, "ci_high": q.ci[1] if q.ci else None,
                            "lowest": "yes" if q.lowest else "no"})
        out.append({"scope": result.scope, "standard": "overall", "title": "Overall rating",
                    "rating": result.overall.label if result.overall else None, "score": result.total,
                    "note": "" if result.overall else f"not rated: {', '.join(result.unrated)} without a rating"})
    return out


def write_csv(path: str, results) -> None:
    from audit.commands.csvout import write_csv_rows

    write_csv_rows(path, CSV_FIELDS, records(results))


@ratings.command("show")
@click.argument("db", type=click.Path(dir_okay=False))
@click.option("--scheme", "scheme_path", required=True, metavar="FILE", help="The rating scheme, e.g. ratings/hmip-2018.yaml.")
@click.option("--by", "by", type=click.Choice(["site"]), help="One set of ratings per site.")
@click.option("--ci", "show_ci", is_flag=True, help="Show each percentage's Wilson interval and the bands it spans.")
@click.option("--confidence", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.95, show_default=True)
@click.option("--judgement", "judgements", multiple=True, metavar="ID=RATING",
              help="A rating by inspectors' judgement for a judged standard, e.g. 1.1=good (repeat).")
@click.option("--status", "statuses", multiple=True, metavar="STATUS",
              help="Rate only cases of this status (in_progress, complete, approved, returned), as `audit export "
                   "--status` counts them for the Ratings sheet; repeat or separate with commas. Default: every status.")
@click.option("-o", "--output", metavar="OUT.csv", help="Also write the ratings as CSV.")
def show(db: str, scheme_path: str, by: str | None, show_ci: bool, confidence: float, judgements: tuple[str, ...],
         statuses: tuple[str, ...], output: str | None) -> None:
    """Each standard's key-question percentages (count of base), the lowest marked, and its rating."""
    from audit.identity import printable
    from audit.ratings import check_judgements, load_scheme, rate_store, stored_judgements
    from audit.store import Store
    from audit.tabulate import case_selection, check_statuses

    if output is not None and Path(output).suffix.lower() != ".csv":
        raise AuditError(f"{output}: write the ratings as .csv")
    chosen = check_statuses(statuses or None)
    scheme = load_scheme(scheme_path)
    given = check_judgements(scheme, _parse_judgements(judgements))
    store = Store.open_read_only(db)
    try:
        results = rate_store(store, scheme, by_site=by == "site", judgements=given, confidence=confidence,
                             statuses=chosen)
        recorded = stored_judgements(store, scheme)
        selection = case_selection(store, Path(db).name, db, scheme.rubric, chosen)
    finally:
        store.close()
    for line in _wrapped("", f"Ratings: {scheme.title} ({scheme_path})"):
        click.echo(click.style(line.strip(), bold=True))
    click.echo(f"{printable(db)}:")
    for line in _in_parts(selection.summary("rated").split("; ")):
        click.echo(f"  {line}")
    if selection.warning():
        click.echo(f"warning: {selection.warning()}", err=True)
    rule = (f"A standard takes the rating of its lowest key question's percentage, as published "
            f"(a whole number, rounded half up): {scheme.describe_bands()}.")
    for line in _wrapped("", rule):
        click.echo(line.strip())
    for result in results:
        click.echo("")
        for line in render(result, show_ci=show_ci, confidence=confidence):
            click.echo(line)
    if recorded:
        click.echo("")
        click.echo("Judgements recorded in the database" + (" (--judgement replaces them)" if given else "") + ":")
        for line in judgement_lines(scheme, recorded):
            click.echo(line)
    if output is not None:
        write_csv(output, results)
        click.echo(f"\nwrote {output}")


def _scheme_for(store, scheme_path: str | None):
    from audit.ratings import find_scheme
    from audit.tabulate import store_rubric

    rubric = store_rubric(store)
    scheme = find_scheme(rubric.id, scheme_path)
    if scheme is None:
        raise AuditError(f"no rating scheme for rubric {rubric.id} among the shipped ones; give one with --scheme FILE")
    return scheme


@ratings.command("set")
@click.argument("db", type=click.Path(dir_okay=False))
@click.argument("standard")
@click.argument("rating", required=False)
@click.option("--comment", metavar="TEXT", help="Why: the evidence the judgement rests on (kept with it).")
@click.option("--site", "site", metavar="SITE", help="The judgement for one site (used by --by site); default: the whole database.")
@click.option("--scheme", "scheme_path", metavar="FILE", help="The rating scheme (default: the shipped one for DB's rubric).")
@click.option("--clear", is_flag=True, help="Remove the standard's judgement instead.")
def set_rating(db: str, standard: str, rating: str | None, comment: str | None, site: str | None,
               scheme_path: str | None, clear: bool) -> None:
    """Record inspectors' judgement of a judged (organisational) STANDARD as RATING, e.g. 1.1 good.

    Once every judged standard has a judgement, `audit ratings DB` gives the overall rating.
    """
    from audit.cases import clear_judgement, set_judgement
    from audit.identity import printable
    from audit.ratings import check_judgements, rate_store
    from audit.store import Store

    if clear == (rating is not None):
        raise AuditError("give either RATING (e.g. good) or --clear")
    scope = " ".join(site.split()) if site else ""
    store = Store.open(db, create=False)
    try:
        scheme = _scheme_for(store, scheme_path)
        if clear:
            check_judgements(scheme, {standard: scheme.ratings[0].id})  # the standard must be a judged one
            done = clear_judgement(store, scheme.id, standard, scope=scope)
            click.echo(f"{standard}: judgement removed" if done else f"{standard}: had no judgement")
        else:
            rating_id = check_judgements(scheme, {standard: rating})[standard]
            set_judgement(store, scheme.id, standard, rating_id, scope=scope, note=comment)
            title = scheme.standard(standard).title
            where = f" for site {printable(scope)}" if scope else ""
            click.echo(f"{standard} {title}{where}: {scheme.rating(rating_id).label} (judgement recorded in {printable(db)})")
        if scope:
            return
        result = rate_store(store, scheme)[0]
    finally:
        store.close()
    if result.overall is not None:
        click.echo(f"Overall: {result.overall.label} (total {result.total} of {scheme.max_total})")
    else:
        missing = [s for s in result.unrated if scheme.standard(s).judged]
        other = [s for s in result.unrated if s not in missing]
        why = [f"judgements still needed for {', '.join(missing)}"] if missing else []
        why += [f"{', '.join(other)} have no counted answers"] if other else []
        click.echo(f"Overall: not rated yet ({'; '.join(why)})")


@ratings.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
def check(files: tuple[str, ...]) -> None:
    """Check rating scheme files, listing every error with its line."""
    from audit.ratings import load_scheme

    problems = []
    for path in files:
        try:
            scheme = load_scheme(path)
            click.echo(f"{path}: ok, rating scheme '{scheme.id}' for rubric {scheme.rubric} ({len(scheme.standards)} standards)")
        except Problems as exc:
            problems += exc.problems
    if problems:
        raise Problems(problems, summary=f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in {len(files)} file{'s' if len(files) != 1 else ''}")
