"""Quality review on real files: the queue, approve and return from the command line, and merges of reviews."""

from __future__ import annotations

import hashlib
import shutil

import pytest

from audit.merge import merge_databases
from audit.review import find_case, review_counts, review_queue
from audit.store import Store
from tests.qa_support import run_audit, thematic_db


@pytest.fixture
def db(tmp_path, thematic_rubric):
    return thematic_db(tmp_path / "thematic.db", thematic_rubric)


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def case_of(path, ref):
    with Store.open_read_only(path) as store:
        return find_case(store, ref)


def test_the_queue_approve_and_return_end_to_end(db):
    listed = run_audit("review", db)
    assert listed.returncode == 0, listed.stderr
    assert "0 of 57 finished cases reviewed (0 approved, 0 returned to the inspector); 57 awaiting review" in listed.stdout
    with Store.open_read_only(db) as store:
        queue = review_queue(store)
    assert len(queue) == 57 and all(case.status == "complete" for case in queue)
    assert all(f"  {case.case_ref:<10} {case.site:<18}" in listed.stdout for case in queue)
    first, second = queue[0], queue[1]

    approved = run_audit("review", db, "--approve", first.case_ref.lower(), user="qa lead")
    assert approved.returncode == 0, approved.stderr
    assert f"approved case {first.case_ref} at {first.site} (by qa lead)" in approved.stdout
    returned = run_audit("review", db, "--return", second.case_ref, "--comment", "Evidence of the explanation?",
                         "--question", "reasons_explained", user="qa lead")
    assert returned.returncode == 0, returned.stderr
    assert f"to {second.inspector}, about question reasons_explained" in returned.stdout

    with Store.open_read_only(db) as store:
        assert store.case(first.uuid).status == "approved"
        back = store.case(second.uuid)
        assert (back.status, back.review_comment, back.review_question) == (
            "returned", "Evidence of the explanation?", "reasons_explained")
        trail = [(h["field"], h["new_value"], h["changed_by"]) for h in store.history(second.uuid)[-2:]]
        assert trail == [("review", "Evidence of the explanation?", "qa lead"), ("status", "returned", "qa lead")]
        assert review_counts(store).statement() == (
            "2 of 57 finished cases reviewed (1 approved, 1 returned to the inspector); 55 awaiting review")
    again = run_audit("review", db)
    assert "Returned, awaiting the inspector (1):" in again.stdout
    assert "Evidence of the explanation? [reasons_explained]" in again.stdout
    assert "Awaiting review (55)" in again.stdout

    # the inspector answers again and completes: the return is cleared, its comment kept in history
    with Store.open(db) as store:
        service = store.service(second.inspector)
        service.answer(second.uuid, "reasons_explained", "no")
        service.set_status(second.uuid, "complete")
        case = store.case(second.uuid)
        assert (case.status, case.review_comment) == ("complete", None)
        assert "Evidence of the explanation?" in [h["new_value"] for h in store.history(second.uuid)]
        assert second.uuid in {c.uuid for c in review_queue(store)}  # back in the queue


@pytest.mark.parametrize("args, message", [
    (["--return", "WF01"], "--return needs --comment"),
    (["--return", "WF01", "--comment", "   "], "--return needs --comment"),
    (["--approve", "WF01", "--return", "WF02", "--comment", "x"], "not both"),
    (["--comment", "x"], "go with --approve REF or --return REF"),
    (["--approve", "WF01", "--question", "age"], "use it with --return"),
    (["--return", "WF01", "--comment", "x", "--question", "reasons_explaned"], "did you mean 'reasons_explained'"),
    (["--approve", "ZZ99"], "no case ZZ99"),
    (["--approve", "WF01", "--site", "surrey"], "no case WF01 at site surrey"),
])
def test_bad_review_commands_write_nothing(db, args, message):
    before = digest(db)
    result = run_audit("review", db, *args)
    assert result.returncode in (1, 2) and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and digest(db) == before


def test_a_case_in_progress_cannot_be_approved(db):
    with Store.open_read_only(db) as store:
        (unfinished, *_) = store.list_cases(status="in_progress")
    result = run_audit("review", db, "--approve", unfinished.case_ref)
    assert result.returncode == 1 and "can be marked approved only from complete" in result.stderr


def test_one_reference_at_two_sites_needs_the_site(db, thematic_rubric):
    with Store.open(db) as store:
        other = store.create_case("WF01", "surrey", thematic_rubric, "ak")
        assert other.case_ref == "WF01"
    result = run_audit("review", db, "--approve", "WF01")
    assert result.returncode == 1 and "exists at 2 sites" in result.stderr and "--site" in result.stderr
    done = run_audit("review", db, "--approve", "WF01", "--site", "WALTHAM_FOREST")
    assert done.returncode == 0, done.stderr


def test_reviewing_your_own_case_is_allowed_with_a_warning(db):
    case = case_of(db, "WF01")
    result = run_audit("review", db, "--approve", "WF01", user=case.inspector)
    assert result.returncode == 0 and "not an independent check" in result.stderr


# --- merge --------------------------------------------------------------------------------------


def _two_leads(db, tmp_path, *, approve_first: bool):
    """Two copies of one master file: one lead approves a case, the other returns it, one after the other."""
    approving, returning = tmp_path / "approving.db", tmp_path / "returning.db"
    shutil.copyfile(db, approving)
    shutil.copyfile(db, returning)
    case = case_of(db, "WF01")
    order = [(approving, "approved", None), (returning, "returned", "Recall decision not evidenced")]
    if not approve_first:
        order.reverse()
    for path, status, comment in order:  # the second decision is the later one
        with Store.open(path) as store:
            store.service("lead " + status).set_status(case.uuid, status, comment=comment, question_id=None)
    return case, approving, returning


@pytest.mark.parametrize("into", ["new", "approving", "returning", "master"])
@pytest.mark.parametrize("reverse", [False, True], ids=["approving-first", "returning-first"])
def test_a_return_is_never_lost_to_an_older_approval(db, tmp_path, into, reverse):
    case, approving, returning = _two_leads(db, tmp_path, approve_first=True)
    target = {"new": tmp_path / "merged.db", "approving": approving, "returning": returning, "master": db}[into]
    sources = [p for p in (approving, returning, db) if p != target and not (into == "new" and p == db)]
    if reverse:
        sources.reverse()
    result = merge_databases(target, sources, who="lead", backup=False)
    with Store.open_read_only(target) as store:
        merged = store.case(case.uuid)
        assert (merged.status, merged.review_comment) == ("returned", "Recall decision not evidenced")
        reasons = [(h["field"], h["new_value"]) for h in store.history(case.uuid)]
        assert ("status", "approved") in reasons  # the older approval is kept in the history
        assert ("review", "Recall decision not evidenced") in reasons
    conflicts = [c for c in result.conflicts if c.field == "status"]
    assert [(c.case_ref, c.kept_label) for c in conflicts] == [("WF01", "returned")]


def test_a_later_approval_wins_and_the_conflict_is_reported(db, tmp_path):
    case, approving, returning = _two_leads(db, tmp_path, approve_first=False)
    result = merge_databases(tmp_path / "merged.db", [returning, approving], who="lead")
    with Store.open_read_only(tmp_path / "merged.db") as store:
        assert store.case(case.uuid).status == "approved"
    (conflict,) = [c for c in result.conflicts if c.field == "status"]
    assert (conflict.target_label, conflict.source_label, conflict.kept) == ("returned", "approved", "source")
    shown = run_audit("merge", tmp_path / "again.db", returning, approving)
    assert "case field status" in shown.stdout and "kept" in shown.stdout


def test_an_approval_on_one_side_only_is_an_update_not_a_conflict(db, tmp_path):
    reviewed = tmp_path / "reviewed.db"
    shutil.copyfile(db, reviewed)
    case = case_of(db, "WF01")
    with Store.open(reviewed) as store:
        store.service("lead").set_status(case.uuid, "approved")
    result = merge_databases(db, [reviewed], who="lead", backup=False)
    assert result.conflicts == [] and result.total("updated") == 1
    with Store.open_read_only(db) as store:
        assert store.case(case.uuid).status == "approved"
        assert review_counts(store).approved == 1


# --- exports and tabulate -----------------------------------------------------------------------


def test_tabulate_and_export_select_approved_cases_and_say_how_many_were_reviewed(db, tmp_path):
    import json

    from audit.moderation import draw_sample
    from tests.qa_support import mark

    with Store.open(db) as store:
        lead = store.service("lead")
        approved = review_queue(store)[:5]
        for case in approved:
            lead.set_status(case.uuid, "approved")
        lead.set_status(review_queue(store)[0].uuid, "returned", comment="Check the plan")
        drawn_cases = draw_sample(store, fraction=0.1, seed=1, inspector="lw", who="lead").drawn
        assert len(drawn_cases) == 6  # 10% of the 56 finished cases (the returned one is back with its inspector)
        for drawn in drawn_cases:  # the copies answer differently, and count in no figure
            mark(store, drawn.copy.uuid, {"sentence_type": "non_statutory", "lead_agency": "police"}, who="lw",
                 complete=False)
        ids = {c.uuid for c in approved}
        yes = sum(1 for c in approved if store.answers(c.uuid).get("reasons_explained") == "yes")
        base = sum(1 for c in approved if store.answers(c.uuid).get("reasons_explained") in ("yes", "no"))
    result = run_audit("tabulate", db, "reasons_explained", "--status", "approved")
    assert result.returncode == 0, result.stderr
    assert "counted: the 5 approved; 6 reviewed (5 approved, 1 returned); 6 moderation copies left out" in result.stdout
    (yes_line,) = [line for line in result.stdout.splitlines() if line.startswith("Yes")]
    assert yes_line.split()[1:] == [str(yes), f"{round(100 * yes / base)}%", str(base)] and len(ids) == 5
    out = tmp_path / "figures.json"
    done = run_audit("export", "iom-thematic-2019", "--data", f"thematic={db}", "--status", "approved", "-o", out)
    assert done.returncode == 0, done.stderr
    (counted,) = json.loads(out.read_text())["cases_counted"]
    assert (counted["cases_counted"], counted["reviewed"], counted["moderation_copies_left_out"]) == (5, 6, 6)
    # every status by default: the 60 cases, never the copies
    everything = run_audit("tabulate", db, "sentence_type")
    assert "60 cases (" in everything.stdout and "counted: all 60" in everything.stdout
    (police,) = [line for line in everything.stdout.splitlines() if line.startswith("Non-statutory")]
    assert police.split()[2] == "1"  # the copies' answers are not counted
