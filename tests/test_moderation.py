"""Moderation on real files: the sample, blind copies, copies never counting, merge, and the report's numbers."""

from __future__ import annotations

import hashlib
import shutil

import pytest
from openpyxl import load_workbook

from audit import agreement
from audit.errors import AuditError
from audit.merge import merge_databases
from audit.moderation import BlindModeration, all_copies, check_may_see, draw_sample, marked_pair, stratum_size
from audit.moderation_report import OUT, moderation_report, row_text
from audit.store import Store
from audit.tabulate import tabulate_question
from tests.qa_support import mark, run_audit, thematic_db


@pytest.fixture
def db(tmp_path, thematic_rubric):
    return thematic_db(tmp_path / "thematic.db", thematic_rubric)


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def drawn_refs(sample) -> list[tuple[str, str]]:
    return [(d.original.site, d.original.case_ref) for d in sample.drawn]


# --- the sample ---------------------------------------------------------------------------------


def test_stratum_size_rounds_half_up_with_at_least_one():
    assert [stratum_size(0.1, n) for n in (0, 1, 4, 5, 14, 15, 25, 57)] == [0, 1, 1, 1, 1, 2, 3, 6]
    assert stratum_size(1.0, 9) == 9 and stratum_size(0.5, 3) == 2


def test_the_same_file_and_seed_draw_the_same_cases_stratified_by_site(db, tmp_path):
    twin = tmp_path / "twin.db"
    shutil.copyfile(db, twin)
    with Store.open(db) as store:
        first = draw_sample(store, fraction=0.1, seed=7, by="site", inspector="lw", who="lead")
    with Store.open(twin) as store:
        again = draw_sample(store, fraction=0.1, seed=7, by="site", inspector="lw", who="lead")
        other = draw_sample(store, fraction=0.1, seed=8, by="site", inspector="lw", dry_run=True)
    assert drawn_refs(first) == drawn_refs(again)
    assert drawn_refs(other) != drawn_refs(first)  # another seed, another draw (checked for these two seeds)
    # one of each of the seven sites' 8 or 9 complete cases: 10% rounded half up is 1
    assert sorted(s.name for s in first.strata) == sorted({site for site, _ in drawn_refs(first)})
    assert len(first.strata) == 7 and all(s.drawn == 1 for s in first.strata) and first.created == 7
    with Store.open_read_only(db) as store:
        copies = all_copies(store)
        assert len(copies) == 7
        for copy in copies:
            original = store.case(copy.copy_of)
            assert (copy.site, copy.case_ref, copy.inspector, copy.status) == (original.site, original.case_ref, "lw", "in_progress")
            assert original.status == "complete" and original.inspector != "lw"
            assert store.answers(copy.uuid) == {}  # the second marking starts empty: nothing to copy from
            assert [h["reason"] for h in store.history(copy.uuid)] == ["created"]
            assert {h["changed_by"] for h in store.history(copy.uuid)} == {"lead"}


def test_a_second_run_makes_no_new_copy_and_a_dry_run_writes_nothing(db):
    with Store.open(db) as store:
        draw_sample(store, fraction=0.2, seed=3, inspector="lw")
        again = draw_sample(store, fraction=0.2, seed=3, inspector="lw")
        assert again.created == 0 and all(d.existed for d in again.drawn)
        assert len(all_copies(store)) == len(again.drawn) == stratum_size(0.2, 57)
    before = digest(db)
    result = run_audit("moderate", "sample", db, "--fraction", "0.5", "--seed", "9", "--inspector", "nt", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "dry run: no copy was made" in result.stdout and digest(db) == before


def test_the_second_inspector_is_never_given_their_own_cases(db):
    with Store.open(db) as store:
        own = sum(1 for c in store.list_cases(limit=100) if c.inspector == "jb" and c.status == "complete")
        sample = draw_sample(store, fraction=1.0, seed=1, by="inspector", inspector="JB ", who="lead")
    assert own > 0 and sample.own_cases == own
    assert all(d.original.inspector != "jb" for d in sample.drawn) and len(sample.drawn) == 57 - own
    assert "jb" not in {s.name for s in sample.strata}


@pytest.mark.parametrize("args, message", [
    (["--fraction", "0", "--seed", "1", "--inspector", "lw"], "above 0 and at most 1"),
    (["--fraction", "1.5", "--seed", "1", "--inspector", "lw"], "above 0 and at most 1"),
    (["--fraction", "0.1", "--seed", "1", "--inspector", " "], "name the second inspector"),
    (["--fraction", "0.1", "--seed", "1", "--inspector", "l\x1bw"], "inspector"),
])
def test_bad_sample_arguments_are_refused_and_nothing_is_written(db, args, message):
    before = digest(db)
    result = run_audit("moderate", "sample", db, *args)
    assert result.returncode == 1 and message in result.stderr and "Traceback" not in result.stderr
    assert digest(db) == before


def test_a_file_with_no_complete_case_is_refused(tmp_path, thematic_rubric):
    path = tmp_path / "empty.db"
    with Store.open(path) as store:
        store.create_case("T1", "surrey", thematic_rubric, "ak")
    result = run_audit("moderate", "sample", path, "--fraction", "0.1", "--seed", "1", "--inspector", "lw")
    assert result.returncode == 1 and "no complete case to sample" in result.stderr


# --- blind, and never counted -------------------------------------------------------------------


def test_the_moderator_cannot_see_the_original_until_the_copy_is_complete(db):
    with Store.open(db) as store:
        (drawn,) = draw_sample(store, fraction=0.01, seed=4, inspector="lw").drawn
        original, copy = drawn.original, drawn.copy
        with pytest.raises(BlindModeration, match="hidden until the moderation copy is marked complete"):
            check_may_see(store, original.uuid, "LW")  # compared as identifiers are: case-insensitively
        check_may_see(store, original.uuid, "ak")  # anyone else may
        check_may_see(store, copy.uuid, "lw")  # and the moderator sees their own copy
        with pytest.raises(BlindModeration):
            marked_pair(store, copy.uuid)
        answers = store.answers(original.uuid)
        mark(store, copy.uuid, answers, who="lw", complete=False)
        with pytest.raises(BlindModeration):
            marked_pair(store, copy.uuid)  # answered but not finished: still blind
        store.service("lw").set_status(copy.uuid, "complete")
        check_may_see(store, original.uuid, "lw")
        pair = marked_pair(store, copy.uuid)
        assert pair.original.uuid == original.uuid and pair.copy_rows.keys() == pair.original_rows.keys()
    # the review command keeps the rule too: a lead moderating a case reviews it after marking it
    with Store.open(db) as store:
        (second,) = draw_sample(store, fraction=0.01, seed=5, inspector="qa lead").drawn
    result = run_audit("review", db, "--approve", second.original.case_ref, "--site", second.original.site, user="qa lead")
    assert result.returncode == 1 and "answers stay hidden" in result.stderr
    with Store.open_read_only(db) as store:
        assert store.case(second.original.uuid).status == "complete"


def test_copies_never_count_in_figures_or_status_counts(db, tmp_path):
    plain = tmp_path / "plain.db"
    shutil.copyfile(db, plain)
    with Store.open(db) as store:
        sample = draw_sample(store, fraction=1.0, seed=2, inspector="lw")
        for drawn in sample.drawn:  # every copy answers "no" where the original said "yes"
            answers = {q: ("no" if v == "yes" else v) for q, v in store.answers(drawn.original.uuid).items()
                       if q in ("sentence_type", "assessment_completed", "reasons_explained", "ro_knew_reasons")}
            mark(store, drawn.copy.uuid, answers, who="lw", complete=False)
        counts = store.status_counts()
    with Store.open_read_only(db) as moderated, Store.open_read_only(plain) as original:
        assert counts == original.status_counts() == {"complete": 57, "in_progress": 3}
        for question in ("reasons_explained", "ro_knew_reasons", "sentence_type"):
            got = tabulate_question(moderated, question)
            want = tabulate_question(original, question)
            assert [(r.label, [(c.count, c.base) for c in r.cells]) for r in got.rows] == \
                   [(r.label, [(c.count, c.base) for c in r.cells]) for r in want.rows]
        counted = moderated.conn.execute(
            "SELECT count(*) FROM answers a JOIN cases c ON c.uuid = a.case_uuid WHERE c.copy_of IS NOT NULL AND a.counted = 1"
        ).fetchone()[0]
        given = moderated.conn.execute(
            "SELECT count(*) FROM answers a JOIN cases c ON c.uuid = a.case_uuid WHERE c.copy_of IS NOT NULL"
        ).fetchone()[0]
        assert given > 100 and counted == 0


# --- merge --------------------------------------------------------------------------------------


def test_copies_merge_like_other_cases_keeping_their_link_and_are_no_duplicates(db, tmp_path):
    """The lead draws the sample on the master file; the moderator marks the copies on a laptop copy; the
    laptop's file merges back: the copies arrive finished, still linked, never flagged as duplicates."""
    with Store.open(db) as store:
        sample = draw_sample(store, fraction=0.1, seed=7, by="site", inspector="lw", who="lead")
    laptop = tmp_path / "laptop.db"
    shutil.copyfile(db, laptop)
    with Store.open(laptop) as store:
        for drawn in sample.drawn:
            mark(store, drawn.copy.uuid, store.answers(drawn.original.uuid), who="lw")
    result = merge_databases(db, [laptop], who="lead", backup=False)
    assert result.duplicates == [] and result.conflicts == []
    assert result.total("updated") == 7
    with Store.open_read_only(db) as store:
        copies = all_copies(store)
        assert {(c.uuid, c.copy_of) for c in copies} == {(d.copy.uuid, d.original.uuid) for d in sample.drawn}
        assert {c.status for c in copies} == {"complete"}
        assert store.status_counts() == {"complete": 57, "in_progress": 3}
        report = moderation_report(store)
    assert report.pairs == 7 and report.disagreements == [] and report.overall.percent.value == 1.0
    # and a file holding only the copies (a new master) merges without duplicates too
    fresh = tmp_path / "fresh.db"
    again = merge_databases(fresh, [laptop, db], who="lead")
    assert again.duplicates == []


# --- the report ---------------------------------------------------------------------------------

JUDGEMENTS = ("reasons_explained", "assessment_engaging", "assessment_partners", "planning_roles",
              "planning_iom_requirements", "review_involved")


@pytest.fixture
def moderated(db):
    """Every complete case moderated by lw, with deterministic disagreements on the judgement questions, one
    applicability disagreement (on_licence) and one note each side."""
    with Store.open(db) as store:
        sample = draw_sample(store, fraction=0.25, seed=11, inspector="lw", who="lead")
        for number, drawn in enumerate(sample.drawn):
            answers = dict(store.answers(drawn.original.uuid))
            for offset, qid in enumerate(JUDGEMENTS):
                if qid in answers and (number + offset) % 4 == 0:
                    answers[qid] = "no" if answers[qid] == "yes" else "yes"
            notes = {}
            if number == 0:
                notes = {"reasons_explained": "Only the police record mentions IOM; no probation entry"}
            if number == 1 and answers.get("on_licence") == "yes":
                answers["on_licence"] = "no"  # recalled no longer applies: an applicability disagreement
            mark(store, drawn.copy.uuid, answers, who="lw", notes=notes)
    return db


def pairs_from_files(store: Store, question: str) -> list[tuple]:
    """(first, second) answers of one question, read straight from the answers table."""
    rows = store.conn.execute(
        "SELECT o.value, c.value FROM cases k JOIN answers c ON c.case_uuid = k.uuid "
        "JOIN answers o ON o.case_uuid = k.copy_of AND o.question_id = c.question_id "
        "WHERE k.copy_of IS NOT NULL AND c.question_id = ? AND c.state = 'current' AND o.state = 'current' "
        "AND c.value IS NOT NULL AND o.value IS NOT NULL AND c.value != '\"na\"' AND o.value != '\"na\"'",
        [question],
    ).fetchall()
    return [(a.strip('"'), b.strip('"')) for a, b in rows]


def test_the_reports_numbers_are_agreement_py_called_directly(moderated):
    with Store.open_read_only(moderated) as store:
        report = moderation_report(store)
        items = {item.item: item for item in report.items}
        assert report.pairs == stratum_size(0.25, 57) == 14
        for qid in JUDGEMENTS:
            pairs = pairs_from_files(store, qid)
            item = items[qid]
            assert item.pairs == len(pairs) > 0
            assert item.agreed == sum(a == b for a, b in pairs)
            assert item.percent == agreement.percent_agreement(pairs)
            assert item.kappa == agreement.cohen_kappa(pairs)
            assert item.ac1 == agreement.gwet_ac1([list(p) for p in pairs], ["yes", "no"])
            assert item.alpha is None and item.alpha_reason == ""  # two markers, nothing missing
        listed = [(d.case_ref, d.question_id) for d in report.disagreements if d.question_id in JUDGEMENTS]
        assert len(listed) == len(set(listed)) == sum(items[q].pairs - items[q].agreed for q in JUDGEMENTS)


def test_kappa_matches_statsmodels(moderated):
    from statsmodels.stats.inter_rater import cohens_kappa

    with Store.open_read_only(moderated) as store:
        items = {item.item: item for item in moderation_report(store).items}
        for qid in JUDGEMENTS:
            pairs = pairs_from_files(store, qid)
            table = [[sum(1 for p in pairs if p == (a, b)) for b in ("yes", "no")] for a in ("yes", "no")]
            reference = cohens_kappa(table)
            assert items[qid].kappa.value == pytest.approx(reference.kappa, abs=1e-12)
            assert items[qid].kappa.se == pytest.approx(reference.std_kappa, abs=1e-12)


def test_disagreements_carry_both_answers_and_notes_and_applicability_is_listed_apart(moderated):
    with Store.open_read_only(moderated) as store:
        report = moderation_report(store)
    noted = [d for d in report.disagreements if d.second_note]
    assert noted and noted[0].question_id == "reasons_explained"
    assert noted[0].second_note == "Only the police record mentions IOM; no probation entry"
    assert {noted[0].first_answer, noted[0].second_answer} == {"Yes", "No"} and noted[0].second_inspector == "lw"
    (licence,) = [d for d in report.disagreements if d.question_id == "on_licence"]
    (recalled,) = report.applicability
    assert recalled.question_id == "recalled" and recalled.case_ref == licence.case_ref
    assert recalled.second_answer == 'does not apply (rule: on_licence == "yes")'
    assert recalled.first_answer in ("Yes", "No")
    items = {item.item: item for item in report.items}
    assert items["recalled"].applicability == 1
    assert items["recalled"].alpha_reason == "answers missing" and items["recalled"].alpha is not None


def test_three_markers_bring_krippendorffs_alpha(moderated):
    with Store.open(moderated) as store:
        sample = draw_sample(store, fraction=0.25, seed=11, inspector="nt", who="lead")
        for drawn in sample.drawn:
            mark(store, drawn.copy.uuid, store.answers(drawn.original.uuid), who="nt")
        report = moderation_report(store)
        units = []
        for moderated_case in report.cases:
            units.append([m.readings["reasons_explained"] for m in moderated_case.markers])
    item = {i.item: i for i in report.items}["reasons_explained"]
    assert item.alpha_reason == "more than two markers"
    values = [[None if v == OUT else v for v in unit] for unit in units]
    assert item.alpha == agreement.krippendorff_alpha(values)
    assert item.ac1 == agreement.gwet_ac1(values, ["yes", "no"])
    assert any(len(unit) == 3 for unit in values)  # some cases drawn for both second inspectors
    # pairs: the original against each copy
    assert item.pairs == sum(1 for unit in values for v in unit[1:] if unit[0] is not None and v is not None)


def test_the_cli_report_and_its_workbook_show_the_same_numbers(moderated, tmp_path):
    out = tmp_path / "moderation.xlsx"
    result = run_audit("moderate", "report", moderated, "-o", out)
    assert result.returncode == 0, result.stderr
    with Store.open_read_only(moderated) as store:
        report = moderation_report(store)
    for item in (*report.items[:3], report.overall):
        assert " ".join(row_text(item)[1:8]) in " ".join(result.stdout.split())
    assert "Applicability disagreements" in result.stdout and "Only the police record" in result.stdout
    book = load_workbook(out)
    assert book.sheetnames == ["Agreement", "Disagreements", "Applicability", "Method"]
    sheet = book["Agreement"]
    header = next(r for r in range(1, 20) if sheet.cell(r, 1).value == "Question")
    by_label = {}
    for row in sheet.iter_rows(min_row=header + 1, values_only=True):
        by_label[(row[0], row[1])] = row
    for item in report.items:
        question, _, option = item.label.partition(" — ")
        row = by_label[(question, option or None)]
        assert row[2] == item.pairs and row[3] == item.agreed
        if item.percent:
            assert row[4] == pytest.approx(item.percent.value) and f"{round(row[4] * 100)}%" == row_text(item)[3]
        if item.kappa:
            assert (row[7], row[8]) == pytest.approx((item.kappa.value, item.kappa.se))
            assert f"{row[7]:.2f}" == row_text(item)[5]
    assert sheet.cell(header + 1 + len(report.items), 1).value == "All choice questions pooled"
    disagreements = book["Disagreements"]
    assert disagreements.max_row - 3 == len(report.disagreements)
    notes = [c.value for c in disagreements["J"] if c.value]
    assert "Only the police record mentions IOM; no probation entry" in notes
    assert (out.stat().st_mode & 0o777) == 0o600


def test_the_report_refuses_an_output_that_is_not_a_workbook_or_is_the_database(moderated, tmp_path):
    misnamed = tmp_path / "moderation.xlsx"  # a database given a workbook's name by mistake
    shutil.copyfile(moderated, misnamed)
    for output, message in ((tmp_path / "m.csv", "ending in .xlsx"), (misnamed, "")):
        before = digest(moderated), digest(misnamed)
        result = run_audit("moderate", "report", moderated, "-o", output)
        assert result.returncode == 1 and message in result.stderr and "Traceback" not in result.stderr
        assert (digest(moderated), digest(misnamed)) == before


def test_a_file_without_copies_says_there_is_nothing_to_compare(db):
    result = run_audit("moderate", "report", db)
    assert result.returncode == 0 and "No moderation copy is complete yet" in result.stdout
