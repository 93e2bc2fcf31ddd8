"""``audit merge TARGET SOURCE... [--dry-run] [--report conflicts.csv] [--allow-rubric-change]``."""

from __future__ import annotations

import csv
import os
import sys
import tempfile
from pathlib import Path

import click

from audit.terminal import raw_stderr

#: a progress bar is worth showing only for merges of this many cases or more
PROGRESS_THRESHOLD = 2000

REPORT_FIELDS = [
    "kind", "site", "case_ref", "case_uuid", "question_id", "question", "field",
    "target_value", "source_value", "kept", "kept_value", "target_code", "source_code",
    "target_answered_at", "source_answered_at", "target_answered_by", "source_answered_by",
    "source_file", "source_db_uuid", "inspector", "status", "detail",
]


class _Progress:
    """On a terminal, one progress bar per phase (reading, writing); otherwise one line per step, on stderr."""

    def __init__(self, tty: bool) -> None:
        self.tty = tty
        self.bar = None
        self.label = ""
        self.phase = ""
        self.shown = 0

    def __call__(self, label: str, done: int, total: int) -> None:
        if not self.tty:
            if label != self.label:
                click.echo(f"{label}...", err=True)
                self.label = label
            return
        if total < PROGRESS_THRESHOLD:
            return
        phase = label.split()[0]
        if phase != self.phase:
            self.close()
            self.phase, self.shown = phase, 0
            self.bar = click.progressbar(length=total, label=phase.capitalize(), file=raw_stderr(), show_pos=True)
            self.bar.__enter__()
        step = done - self.shown
        if step > 0:
            self.bar.update(step)
            self.shown = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


@click.command()
@click.argument("target", type=click.Path(dir_okay=False))
@click.argument("sources", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--dry-run", is_flag=True, help="Do everything, then roll back: show what would happen, write nothing.")
@click.option("--report", "report_path", type=click.Path(dir_okay=False), metavar="FILE.csv",
              help="Write every conflict and possible duplicate to this CSV file.")
@click.option("--allow-rubric-change", is_flag=True,
              help="Merge sources on another version of the same rubric (each case keeps its own rubric).")
@click.option("--identity", metavar="lead.key", type=click.Path(dir_okay=False),
              help="The lead's private key (audit keygen), to open SOURCE bundles (.age) made with audit bundle.")
@click.option("--reread", is_flag=True,
              help="Read and compare every SOURCE in full, even one TARGET merged before and unchanged since "
                   "(for a file changed outside the tool, which keeps its old change token).")
def merge(target: str, sources: tuple[str, ...], dry_run: bool, report_path: str | None, allow_rubric_change: bool,
          identity: str | None, reread: bool) -> None:
    """Merge site databases (SOURCE...) into TARGET, created if it does not exist.

    \b
    Cases are matched by UUID:
      - a new UUID is added, recording the source database and file;
      - the same UUID with the same content changes nothing (merging twice is a no-op);
      - the same UUID with different answers is a conflict, resolved per answer:
        the later answer wins (see docs/merge.md for ties); both values stay in history.
    Cases with the same case_ref at the same site under different UUIDs are kept,
    and listed as possible duplicates. Every conflict is listed.

    All or nothing: one transaction, so an error or an interruption leaves
    TARGET as it was. Sources are only read. An existing TARGET is backed up
    first (TARGET.bak-YYYYmmdd-HHMMSS) when the merge changes it.

    A SOURCE may be a bundle (SITE.audit.age, from audit bundle): give the
    lead's key with --identity. Encrypted databases (sources or TARGET) are
    opened with their passphrases; --encrypt makes a new TARGET encrypted.
    """
    from audit.bundle import opened_bundles
    from audit.merge import merge_databases

    if report_path:
        check_report_path(report_path, [target, *sources])
    progress = _Progress(sys.stderr.isatty())
    try:
        with opened_bundles(list(sources), identity) as readable:
            result = merge_databases(target, readable, dry_run=dry_run, allow_rubric_change=allow_rubric_change,
                                     progress=progress, reread=reread)
            warning = unprotected_target(target, readable)
    finally:
        progress.close()
    if warning:
        click.echo(f"warning: {warning}", err=True)
    # on screen first: once merged, these conflicts count as resolved and a second merge would not list them
    for line in describe(result):
        click.echo(line)
    if report_path:
        from audit.errors import AuditError

        try:
            write_report(report_path, result)
        except (AuditError, OSError) as exc:
            reason = str(exc) if isinstance(exc, AuditError) else exc.strerror or str(exc)
            done = "nothing was merged (dry run)" if result.dry_run else "the merge itself was committed"
            raise AuditError(f"the report could not be written ({reason}); {done}, and every conflict and possible duplicate is listed above") from None
        click.echo(f"report: {len(result.conflicts)} conflict(s) and {len(result.duplicates)} possible duplicate(s) "
                   f"written to {report_path}")


def unprotected_target(target: str, sources: list) -> str | None:
    """A warning when cases from encrypted sources or bundles went into a TARGET that is not encrypted."""
    from audit.bundle import is_bundle
    from audit.dbfile import key_of

    if not Path(target).exists() or key_of(target) is not None:
        return None
    protected = [str(getattr(s, "shown", s)) for s in sources if is_bundle(getattr(s, "shown", s)) or key_of(getattr(s, "path", s))]
    if not protected:
        return None
    return (f"{target} is not encrypted, but {protected[0]} was{' (and others)' if len(protected) > 1 else ''}: its cases "
            f"are now readable by anyone who gets {target}; encrypt it with: audit encrypt {target}")


def check_report_path(report_path: str, databases: list[str]) -> None:
    """Refuse, before merging, a report that would replace a database or could not be written."""
    from audit.errors import AuditError

    report = Path(report_path)
    if report.suffix.lower() != ".csv":
        raise AuditError(f"{report_path}: the report is a CSV file; end its name with .csv")
    if not (report.parent if str(report.parent) else Path(".")).is_dir():
        raise AuditError(f"{report_path}: folder {report.parent} does not exist; create it first")
    for database in databases:
        if report.resolve() == Path(database).resolve():
            raise AuditError(f"{report_path}: is one of the databases being merged; choose another name for the report")
    folder = report.parent if str(report.parent) else Path(".")
    try:  # the report is written after the merge commits: find out now whether it can be
        handle, probe = tempfile.mkstemp(prefix=f".{report.name}.", suffix=".probe", dir=folder)
    except OSError as exc:
        raise AuditError(f"{report_path}: cannot write in folder {folder} ({exc.strerror}); choose a folder you can write to") from None
    os.close(handle)
    os.unlink(probe)


def describe(result) -> list[str]:
    """What the lead reads on screen: every conflict, every possible duplicate, then the summary."""
    lines: list[str] = []
    if result.dry_run:
        lines.append(f"dry run: nothing was written to {result.target}; this is what the merge would do")
    if result.conflicts:
        lines.append(f"conflicts ({len(result.conflicts)}): the same case holds different answers")
        for c in result.conflicts:
            what = f"question {c.question_id}" if c.question_id else f"case field {c.field}"
            if c.question_id and c.field == "note":
                what += " (evidence note)"
            lines.append(
                f"  case {c.case_ref} at {c.site} ({c.case_uuid[:8]}), {what}: "
                f"target {_quoted(c.target_label)} ({_when(c.target_time, c.target_by)}) vs "
                f"{c.source_path} {_quoted(c.source_label)} ({_when(c.source_time, c.source_by)}): kept {c.kept}'s"
            )
    if result.duplicates:
        lines.append(f"possible duplicates ({len(result.duplicates)}): the same case_ref at the same site under different UUIDs; all kept")
        for d in result.duplicates:
            shown = "; ".join(
                f"{case.uuid[:8]}{_spelt(case, d)} by {case.inspector or 'unknown inspector'} "
                f"({case.status}, from {case.origin_file or 'target'})"
                for case in d.cases
            )
            lines.append(f"  case {d.case_ref} at {d.site}: {len(d.cases)} cases: {shown}")
    width = max([len("source")] + [len(s.path) for s in result.sources])
    header = f"{'source':<{width}}  {'cases':>6}  {'added':>6}  {'unchanged':>9}  {'updated':>7}  {'conflicts':>9}  {'duplicates':>10}"
    lines.append(header)
    for s in result.sources:
        lines.append(f"{s.path:<{width}}  {s.cases:>6}  {s.added:>6}  {s.unchanged:>9}  {s.updated:>7}  {s.conflicts:>9}  {s.duplicates:>10}")
    if len(result.sources) > 1:
        lines.append(
            f"{'total':<{width}}  {result.total('cases'):>6}  {result.total('added'):>6}  {result.total('unchanged'):>9}  "
            f"{result.total('updated'):>7}  {result.total('conflicts'):>9}  {result.total('duplicates'):>10}"
        )
    for s in result.sources:
        if s.merged_before:
            lines.append(f"{s.path}: unchanged since {result.target} merged it ({s.merged_before}); not read again "
                         "(--reread reads it all the same)")
    verb = "would merge" if result.dry_run else "merged"
    if result.changed:
        lines.append(f"{verb} {len(result.sources)} source(s) into {result.target}" + (" (new database)" if result.created else ""))
    else:
        lines.append(f"nothing to change: {result.target} already holds everything in the source(s)")
    if result.backup is not None:
        lines.append(f"backup of {result.target} as it was before the merge: {result.backup}")
    elif result.changed and not result.created and result.dry_run:
        lines.append(f"a backup of {result.target} would be taken first")
    return lines


def _spelt(case, duplicate) -> str:
    """How a case spells its case_ref and site, where it differs from the group's name."""
    if (case.case_ref, case.site) == (duplicate.case_ref, duplicate.site):
        return ""
    return f" (as '{case.case_ref}' at '{case.site}')"


def _quoted(text: str) -> str:
    return f'"{text}"'


def _when(time: str | None, by: str | None) -> str:
    return f"{time or 'no time'}{f' by {by}' if by else ''}"


def report_rows(result) -> list[dict]:
    rows = []
    for c in result.conflicts:
        rows.append({
            "kind": "conflict", "site": c.site, "case_ref": c.case_ref, "case_uuid": c.case_uuid,
            "question_id": c.question_id, "question": c.question, "field": c.field,
            "target_value": c.target_label, "source_value": c.source_label, "kept": c.kept, "kept_value": c.kept_label,
            "target_code": c.target_code, "source_code": c.source_code,
            "target_answered_at": c.target_time, "source_answered_at": c.source_time,
            "target_answered_by": c.target_by, "source_answered_by": c.source_by,
            "source_file": c.source_path, "source_db_uuid": c.source_db_uuid,
        })
    for d in result.duplicates:
        for case in d.cases:
            others = ", ".join(other.uuid for other in d.cases if other.uuid != case.uuid)
            rows.append({
                "kind": "possible duplicate", "site": case.site, "case_ref": case.case_ref, "case_uuid": case.uuid,
                "source_file": case.origin_file, "inspector": case.inspector, "status": case.status,
                "detail": f"{len(d.cases)} cases share case_ref {d.case_ref} at {d.site}; the other(s): {others}",
            })
    return rows


def write_report(path: str | Path, result) -> None:
    """The conflicts and possible duplicates as CSV (UTF-8, mode 0600, formula-safe)."""
    from audit.writers import atomic_output
    from audit.writers.safety import csv_safe

    with atomic_output(path) as temp:
        with open(temp, "w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=REPORT_FIELDS)
            writer.writeheader()
            for row in report_rows(result):
                writer.writerow({key: "" if row.get(key) is None else csv_safe(row[key]) for key in REPORT_FIELDS})
