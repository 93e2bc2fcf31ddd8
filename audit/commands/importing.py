"""``audit import DB FILE --rubric ID [--site S]``: load cases from JSON Lines or wide CSV."""

from __future__ import annotations

import sys

import click

from audit.terminal import raw_stderr

#: a progress bar is worth showing only on files this big
PROGRESS_THRESHOLD = 2000


class _ProgressBars:
    """One click progress bar per phase ("checking", then "writing"), on stderr only."""

    def __init__(self) -> None:
        self.bar = None
        self.phase = ""
        self.done = 0

    def __call__(self, phase: str, done: int, total: int) -> None:
        if total < PROGRESS_THRESHOLD:
            return
        if phase != self.phase:
            self.close()
            self.phase, self.done = phase, 0
            self.bar = click.progressbar(length=total, label=phase.capitalize(), file=raw_stderr(), show_pos=True)
            self.bar.__enter__()
        step = min(done, total) - self.done
        if step > 0:
            self.bar.update(step)
            self.done += step

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


@click.command("import")
@click.argument("db", type=click.Path(dir_okay=False))
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--rubric", "rubric_id", required=True, metavar="ID", help="Rubric id (e.g. iom-thematic-2019) or path to a rubric .yaml.")
@click.option(
    "--site", metavar="S",
    help="The site of every case in FILE: fills empty or missing sites, and refuses rows naming another site.",
)
@click.option("--allow-rubric-change", is_flag=True,
              help="Accept cases on another rubric, or another version of it, than the database already holds.")
def import_command(db: str, file: str, rubric_id: str, site: str | None, allow_rubric_change: bool) -> None:
    """Load cases from FILE (.jsonl or .csv) into the database DB (created if absent).

    \b
    JSON Lines: one case a line:
      {"case_ref": "T001", "site": "sheffield", "inspector": "jb",
       "answers": {"sentence_type": "post_release", "factors": ["thinking", "drugs"], "age": 23}}
    A missing answer or null is unanswered; multi-choice answers are lists,
    and [] is "None of these". Optional: "status" (in_progress or complete;
    complete needs every required question answered) and "notes"
    ({question id: evidence note}).

    \b
    Wide CSV (UTF-8, with or without BOM; in Excel: Save As "CSV UTF-8"):
      case_ref,site,inspector,sentence_type,factors,age
      T001,sheffield,jb,Post-release supervision,thinking; drugs,23
    Multi-choice answers are joined with ';', (none) is "None of these";
    an empty cell is unanswered. Optional columns: status, and note:<question
    id> for evidence notes.

    Option labels may be given instead of codes, in any case. With --site S,
    rows with an empty site (or a file with no site column) are S's, and a row
    naming any other site is an error (sites are compared ignoring case).
    A case_ref may be used once per site, in FILE and in DB together
    (compared ignoring case and stray spaces).

    All or nothing: if any row is wrong, nothing is imported, DB is left
    exactly as it was (or not created), and every error is listed with its
    line (JSON Lines) or its row as a spreadsheet numbers it (the header is
    row 1) and its column. The first 200 are listed in full, the rest counted.
    """
    from audit.importer import import_file
    from audit.rubric import load_rubric_by_id

    rubric = load_rubric_by_id(rubric_id)
    bars = _ProgressBars() if sys.stderr.isatty() else None
    try:
        result = import_file(db, file, rubric, site=site, progress=bars, allow_rubric_change=allow_rubric_change)
    finally:
        if bars is not None:
            bars.close()
    click.echo(result.summary())
