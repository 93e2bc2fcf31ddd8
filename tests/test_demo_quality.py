"""``make demo``'s quality assurance: a moderated sample, a review queue and a returned case, in thematic.db."""

from __future__ import annotations

import pytest

from audit.demo import write_demo
from audit.demo_quality import MODERATOR, QUALITY_LEAD, RETURN_COMMENT, RETURN_QUESTION
from audit.moderation import all_copies, check_may_see
from audit.moderation_report import moderation_report
from audit.review import review_counts, review_queue
from audit.store import Store


@pytest.fixture(scope="module")
def thematic(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    write_demo(folder)
    with Store.open_read_only(folder / "thematic.db") as store:
        yield store


def test_the_sample_is_one_case_per_site_marked_by_another_inspector(thematic):
    copies = all_copies(thematic)
    assert len(copies) == 7 and len({c.site for c in copies}) == 7
    assert {c.inspector for c in copies} == {MODERATOR}
    originals = [thematic.case(c.copy_of) for c in copies]
    assert all(o.inspector != MODERATOR and o.copy_of is None for o in originals)
    assert sorted(c.status for c in copies) == ["complete"] * 6 + ["in_progress"]
    # the unfinished copy keeps its original hidden from its inspector, not from the lead
    (unfinished,) = [c for c in copies if c.status == "in_progress"]
    with pytest.raises(Exception, match="answers stay hidden"):
        check_may_see(thematic, unfinished.copy_of, MODERATOR)
    check_may_see(thematic, unfinished.copy_of, QUALITY_LEAD)


def test_the_report_finds_a_few_disagreements_each_with_both_notes(thematic):
    report = moderation_report(thematic)
    assert report.pairs == 6 and len(report.unfinished) == 1
    assert 4 <= len(report.disagreements) <= 6
    judged = [d for d in report.disagreements if d.question_id != "factors"]
    assert judged and all(d.first_note and d.second_note for d in judged)
    assert {d.question_id for d in report.applicability} == {"services_alcohol", "review_sufficient"}
    overall = report.overall
    assert overall.pairs > 200 and 0.9 < overall.percent.value < 1 and overall.kappa.value < overall.percent.value


def test_a_review_is_under_way_and_no_figure_changed(thematic):
    counts = review_counts(thematic)
    assert (counts.in_progress, counts.approved, counts.returned) == (3, 3, 1)
    assert counts.awaiting == len(review_queue(thematic)) == 57 - 4
    (returned,) = thematic.list_cases(status="returned")
    assert (returned.review_comment, returned.review_question) == (RETURN_COMMENT, RETURN_QUESTION)
    history = thematic.history(returned.uuid)
    assert [h["changed_by"] for h in history if h["field"] == "review"] == [QUALITY_LEAD]
    # 60 cases count, as the report's figures need; the copies' answers count nowhere
    counted_cases = thematic.conn.execute(
        "SELECT count(DISTINCT a.case_uuid) FROM answers a JOIN cases c ON c.uuid = a.case_uuid "
        "WHERE a.counted = 1").fetchone()[0]
    assert counted_cases == 60 and sum(thematic.status_counts().values()) == 60
