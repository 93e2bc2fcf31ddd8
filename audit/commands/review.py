"""``audit review DB [--approve REF | --return REF --comment TEXT [--question QID]] [--site SITE]``."""

from __future__ import annotations

import click

from audit.errors import AuditError


def _line(case) -> str:
    from audit.identity import printable

    when = (case.updated_at or "")[:16].replace("T", " ")
    return (f"  {printable(case.case_ref):<10} {printable(case.site):<18} {printable(case.inspector or '-'):<12} "
            f"{when} UTC")


@click.command()
@click.argument("db", type=click.Path(dir_okay=False))
@click.option("--approve", "approve", metavar="REF", help="Approve this complete case.")
@click.option("--return", "send_back", metavar="REF", help="Return this case to its inspector (needs --comment).")
@click.option("--comment", metavar="TEXT", help="What the inspector should change (with --return), or a note (with --approve).")
@click.option("--question", "question_id", metavar="QID", help="The question the comment is about (with --return).")
@click.option("--site", metavar="SITE", help="The case's site, where two sites use the same reference.")
def review(db: str, approve: str | None, send_back: str | None, comment: str | None, question_id: str | None,
           site: str | None) -> None:
    """List the cases awaiting quality review in DB, or approve or return one.

    \b
    audit review DB                                   the queue: complete, not yet reviewed
    audit review DB --approve WF03
    audit review DB --return WF03 --comment "..." [--question complied]

    Who reviewed, and when, is kept in each case's history.
    """
    from audit.review import returned_cases, review_counts, review_queue
    from audit.store import Store

    if approve and send_back:
        raise AuditError("give --approve or --return, not both")
    if (comment or question_id) and not (approve or send_back):
        raise AuditError("--comment and --question go with --approve REF or --return REF")
    if question_id and not send_back:
        raise AuditError("--question names the question a returned case must change: use it with --return")
    if send_back and not (comment or "").strip():
        raise AuditError("--return needs --comment TEXT saying what the inspector should change")
    if approve or send_back:
        _decide(db, approve or send_back, "approved" if approve else "returned", comment, question_id, site)
        return
    store = Store.open_read_only(db)
    try:
        queue = review_queue(store, site=site)
        returned = returned_cases(store, site=site)
        counts = review_counts(store)
    finally:
        store.close()
    click.echo(f"{db}: {counts.statement()}")
    click.echo("")
    if queue:
        click.echo(click.style(f"Awaiting review ({len(queue):,}), the longest waiting first:", bold=True))
        click.echo(f"  {'ref':<10} {'site':<18} {'inspector':<12} completed")
        for case in queue:
            click.echo(_line(case))
    else:
        click.echo("Nothing awaits review.")
    if returned:
        click.echo("")
        click.echo(click.style(f"Returned, awaiting the inspector ({len(returned):,}):", bold=True))
        from audit.identity import printable

        for case in returned:
            about = f" [{case.review_question}]" if case.review_question else ""
            click.echo(_line(case))
            click.echo(f"      {printable(case.review_comment or '')}{about}")


def _decide(db: str, ref: str, status: str, comment: str | None, question_id: str | None, site: str | None) -> None:
    from audit.identity import printable
    from audit.moderation import check_may_see
    from audit.review import find_case, self_review
    from audit.store import Store, current_user

    who = current_user()
    store = Store.open(db, create=False)
    try:
        case = find_case(store, ref, site=site)
        check_may_see(store, case.uuid, who)  # a lead moderating this case reviews it after their own marking
        if question_id is not None:
            rubric = store.rubric_for(case)
            if not rubric.has_question(question_id):
                from audit.errors import did_you_mean

                raise AuditError(f"--question '{printable(question_id)}' is not a question of rubric {rubric.id}"
                                 f"{did_you_mean(question_id, rubric.question_ids)}")
        outcome = store.service(who).set_status(case.uuid, status, comment=comment, question_id=question_id)
    finally:
        store.close()
    where = f"{printable(case.case_ref)} at {printable(case.site)}"
    if not outcome.saved:
        click.echo(f"case {where} is already {status}; nothing changed")
        return
    if self_review(case, who):
        click.echo(f"warning: {printable(who)} is this case's own inspector: this review is not an independent check",
                   err=True)
    if status == "approved":
        click.echo(f"approved case {where} (by {printable(who)})")
    else:
        about = f", about question {question_id}" if question_id else ""
        click.echo(f"returned case {where} to {printable(case.inspector or 'its inspector')}{about} (by {printable(who)})")
