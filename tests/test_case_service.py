"""The case service (audit/cases.py): the only writer of cases, answers and history, on real SQLite files."""

from __future__ import annotations

import json
import pprint
import sqlite3

import pytest

import audit.engine as engine
from audit.cases import CaseLocked, CaseService
from audit.counting import COUNTING_VERSION, count_case
from audit.errors import StoreError
from audit.merge import merge_databases
from audit.store import Store


@pytest.fixture
def store(tmp_db_path):
    with Store.open(tmp_db_path, site="sheffield") as opened:
        yield opened


@pytest.fixture
def service(store):
    return CaseService(store, who="jb")


@pytest.fixture
def case(service, thematic_rubric):
    return service.create_case("T001", "sheffield", thematic_rubric, "jb")


def verdicts_are_fresh(store: Store, case_uuid: str) -> None:
    """Every stored applies/counted/state equals a fresh evaluation of the current answers."""
    rubric = store.rubric_for(store.case(case_uuid))
    tally = count_case(rubric, store.answers(case_uuid))
    for qid, row in store.answer_rows(case_uuid).items():
        assert row["applies"] == (qid in tally.evaluation.applicable), qid
        assert row["counted"] == (qid in tally.counted), qid
        if row["state"] == "current" and row["value"] is not None:
            assert qid in tally.evaluation.applicable, f"{qid} is current but does not apply"
    stored = store.case(case_uuid)
    assert (stored.applicable_count, stored.answered_count) == (tally.applicable_count, tally.answered_count)


# --- one keypress, one evaluation ---------------------------------------------------------------


def test_an_answer_costs_one_evaluation_and_returns_the_case_as_it_now_is(service, case):
    before = engine.EVALUATIONS
    outcome = service.answer(case.uuid, "sentence_type", "community")
    assert engine.EVALUATIONS - before == 1
    assert outcome.saved and outcome.value == "community"
    assert outcome.state.value("sentence_type") == "community" and "age" in outcome.state.evaluation.applicable
    assert outcome.case.answered_count == 1 and outcome.case == service.store.case(case.uuid)
    before = engine.EVALUATIONS
    multi = service.answer(case.uuid, "assessment_completed", "yes")
    service.answer(case.uuid, "factors", ["drugs", "thinking"])
    assert engine.EVALUATIONS - before == 2 and multi.saved
    verdicts_are_fresh(service.store, case.uuid)


def test_an_answer_that_would_retire_others_waits_for_confirmation(service, case):
    service.answer(case.uuid, "sentence_type", "community")
    service.answer(case.uuid, "age", 30)
    asked = service.answer(case.uuid, "sentence_type", "non_statutory")
    assert asked.needs_confirmation and asked.would_retire == ["age"] and not asked.saved
    assert service.store.answers(case.uuid)["sentence_type"] == "community"  # nothing was written
    done = service.answer(case.uuid, "sentence_type", "non_statutory", confirm_retire=True)
    assert done.retired == ["age"] and done.state.value("age") is None and done.state.retired_value("age") == 30
    history = [(h["question_id"], h["field"], h["new_value"], h["reason"]) for h in service.store.history(case.uuid)][-2:]
    assert history == [("sentence_type", "value", '"non_statutory"', "answer"), ("age", "state", "retired", "stopped applying")]
    verdicts_are_fresh(service.store, case.uuid)


def test_a_retired_answer_is_offered_back_and_restored_with_history(service, case):
    service.answer(case.uuid, "sentence_type", "community")
    service.answer(case.uuid, "age", 30)
    service.answer(case.uuid, "rosh", "high")
    service.answer(case.uuid, "sentence_type", "non_statutory", confirm_retire=True)
    back = service.answer(case.uuid, "sentence_type", "community")
    assert back.state.restorable == ["rosh", "age"]  # in rubric order, with their old values kept
    restored = service.restore_answers(case.uuid, ["age"])
    assert restored.restored == ["age"] and restored.state.value("age") == 30 and restored.state.restorable == ["rosh"]
    everything = service.restore_answers(case.uuid)
    assert everything.restored == ["rosh"] and everything.state.value("rosh") == "high"
    reasons = [h["reason"] for h in service.store.history(case.uuid) if h["field"] == "state"]
    assert reasons == ["stopped applying", "stopped applying", "restored", "restored"]
    verdicts_are_fresh(service.store, case.uuid)


def test_the_same_answer_again_writes_who_and_when_but_no_history(service, case):
    first = service.answer(case.uuid, "complied", "yes")
    again = CaseService(service.store, who="kl").answer(case.uuid, "complied", "yes")
    rows = service.store.answer_rows(case.uuid)
    assert rows["complied"]["answered_by"] == "kl" and rows["complied"]["answered_at"] >= first.state.rows["complied"]["answered_at"]
    assert again.saved and [h["field"] for h in service.store.history(case.uuid)].count("value") == 1


def test_clearing_an_answer_is_explicit_and_recorded(service, case):
    service.answer(case.uuid, "complied", "yes")
    cleared = service.answer(case.uuid, "complied", None)
    assert cleared.saved and cleared.state.value("complied") is None
    assert service.store.history(case.uuid)[-1]["new_value"] is None
    nothing = service.answer(case.uuid, "complied", None)
    assert not nothing.saved


def test_none_of_these_is_an_answer_that_counts(service, case):
    service.answer(case.uuid, "assessment_completed", "yes")
    outcome = service.answer(case.uuid, "factors", [])
    assert outcome.state.value("factors") == [] and "factors" in outcome.state.evaluation.visible
    row = service.store.answer_rows(case.uuid)["factors"]
    assert row["value"] == [] and row["counted"] is True
    assert not any(q.startswith("services_") for q in outcome.state.evaluation.applicable)
    assert service.store.conn.execute(
        "SELECT answer FROM answers_readable WHERE question_id = 'factors'"
    ).fetchone()[0] == "None of these"


# --- the case itself ----------------------------------------------------------------------------

NON_STATUTORY_COMPLETE = {
    "sentence_type": "non_statutory", "lead_agency": "police", "domestic_abuse": "no", "lead_professional": "yes",
    "assessment_completed": "no", "complied": "yes", "deselected": "no",
}


def complete(service: CaseService, case_uuid: str) -> None:
    for qid, value in NON_STATUTORY_COMPLETE.items():
        service.answer(case_uuid, qid, value)
    service.set_status(case_uuid, "complete")


def test_a_complete_case_is_read_only_until_reopened(service, case):
    complete(service, case.uuid)
    for change in (lambda: service.answer(case.uuid, "complied", "no"), lambda: service.note(case.uuid, "complied", "x")):
        with pytest.raises(CaseLocked, match="is complete: its answers are read-only; reopen it"):
            change()
    service.set_status(case.uuid, "in_progress")
    assert service.answer(case.uuid, "complied", "no").saved


def test_review_approve_and_return_with_a_comment(service, case):
    complete(service, case.uuid)
    with pytest.raises(StoreError, match="needs a comment"):
        service.set_status(case.uuid, "returned")
    returned = service.set_status(case.uuid, "returned", comment="Check the compliance evidence", question_id="complied")
    assert (returned.case.status, returned.case.review_comment, returned.case.review_question) == (
        "returned", "Check the compliance evidence", "complied")
    assert service.answer(case.uuid, "complied", "no").saved  # a returned case goes back to its inspector
    done = service.set_status(case.uuid, "complete")
    assert done.case.review_comment is None  # cleared, and kept in history
    assert [h["new_value"] for h in service.store.history(case.uuid) if h["field"] == "review"] == ["Check the compliance evidence"]
    approved = service.set_status(case.uuid, "approved")
    assert approved.case.locked
    service.set_status(case.uuid, "in_progress")  # reopened
    with pytest.raises(StoreError, match="can be marked approved only from complete"):
        service.set_status(case.uuid, "approved")


def test_deleting_a_case_keeps_it_uncounted_and_hidden_and_restoring_brings_it_back(service, case, thematic_rubric):
    service.answer(case.uuid, "complied", "yes")
    with pytest.raises(StoreError, match="say why"):
        service.delete_case(case.uuid, "  ")
    gone = service.delete_case(case.uuid, "created on the wrong rubric")
    store = service.store
    assert gone.case.deleted and not any(r["counted"] for r in store.answer_rows(case.uuid).values())
    assert store.case_count() == 0 and store.case_count(deleted=True) == 1
    with pytest.raises(CaseLocked, match="is deleted; restore it"):
        service.answer(case.uuid, "complied", "no")
    again = service.create_case("t001", "Sheffield", thematic_rubric)  # its reference is free again
    with pytest.raises(StoreError, match="another case now has that reference"):
        service.restore_case(case.uuid)
    service.delete_case(again.uuid, "duplicate")
    back = service.restore_case(case.uuid)
    assert not back.case.deleted and store.answer_rows(case.uuid)["complied"]["counted"] is True
    assert [h["reason"] for h in store.history(case.uuid) if h["field"] == "case"][-2:] == ["deleted", "restored case"]


def test_one_identity_rule_and_the_first_spelling_of_a_site(service, thematic_rubric):
    first = service.create_case("T001", "Surrey", thematic_rubric)
    for ref, site in (("t001", "surrey"), (" T001 ", "SURREY "), ("Ｔ００１", "surrey")):
        with pytest.raises(StoreError, match="already exists"):
            service.create_case(ref, site, thematic_rubric)
    second = service.create_case("T002", "  surrey ", thematic_rubric)
    assert (first.site, second.site) == ("Surrey", "Surrey") and service.store.sites() == ["Surrey"]
    with pytest.raises(StoreError, match="contains an invisible character"):
        service.create_case("T0\u200b03", "surrey", thematic_rubric)


def test_a_database_keeps_one_rubric_unless_asked(service, thematic_rubric, core_rubric):
    service.create_case("T001", "sheffield", thematic_rubric)
    with pytest.raises(StoreError, match="keeps one rubric"):
        service.create_case("C001", "sheffield", core_rubric)
    assert service.create_case("C001", "sheffield", core_rubric, allow_other_rubric=True).rubric_id == core_rubric.id


def test_history_names_the_person_at_the_keyboard(store, thematic_rubric, monkeypatch, tmp_path):
    from audit.cli import main

    monkeypatch.delenv("AUDIT_USER", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert main(["user", "set", "Jo  Bloggs"]) == 0
    made = CaseService(store).create_case("T009", "sheffield", thematic_rubric, "ak")
    CaseService(store).answer(made.uuid, "complied", "yes")
    assert {h["changed_by"] for h in store.history(made.uuid)} == {"Jo Bloggs"}
    assert store.answer_rows(made.uuid)["complied"]["answered_by"] == "Jo Bloggs"
    assert store.case(made.uuid).inspector == "ak"  # the case's inspector stays its own field
    assert (tmp_path / "config" / "audit" / "user").stat().st_mode & 0o777 == 0o600


# --- every path settles the same way ---------------------------------------------------------------


def test_a_merge_retires_what_stopped_applying_with_history_and_it_never_counts_again(tmp_path, thematic_rubric):
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    with Store.open(a) as store:
        made = CaseService(store, who="jb").create_case("T001", "sheffield", thematic_rubric)
        for qid, value in (("sentence_type", "community"), ("age", 30), ("rosh", "high")):
            CaseService(store, who="jb").answer(made.uuid, qid, value)
    target = tmp_path / "national.db"
    merge_databases(target, [a])
    import shutil

    shutil.copy(a, b)
    with Store.open(b) as store:  # the site changes the gating answer later
        CaseService(store, who="kl").answer(made.uuid, "sentence_type", "non_statutory", confirm_retire=True)
    merge_databases(target, [b])
    with Store.open(target) as store:
        rows = store.answer_rows(made.uuid)
        assert rows["age"]["state"] == "retired" and rows["age"]["counted"] is False
        assert any(h["question_id"] == "age" and h["new_value"] == "retired" for h in store.history(made.uuid))
        verdicts_are_fresh(store, made.uuid)
        # the rule flips back: the retired answer does not count again by itself
        CaseService(store).answer(made.uuid, "sentence_type", "community")
        assert store.answer_rows(made.uuid)["age"]["counted"] is False
        verdicts_are_fresh(store, made.uuid)


def test_a_file_counted_under_older_rules_is_recounted_on_open_in_one_transaction(tmp_db_path, thematic_rubric):
    with Store.open(tmp_db_path) as store:
        made = CaseService(store).create_case("T001", "sheffield", thematic_rubric)
        CaseService(store).answer(made.uuid, "assessment_completed", "yes")
        CaseService(store).answer(made.uuid, "factors", [])
    conn = sqlite3.connect(tmp_db_path)  # as the previous release left it: [] uncounted, no counting version
    conn.execute("UPDATE answer_data SET counted = 0 WHERE question_key = (SELECT id FROM question_keys WHERE question_id = 'factors')")
    conn.execute("DELETE FROM meta WHERE key = 'counting_version'")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="audit upgrade"):
        Store.open_read_only(tmp_db_path)  # a read-only command would give stale numbers: it says what to do
    with Store.open(tmp_db_path) as store:
        assert store.meta("counting_version") == str(COUNTING_VERSION)
        assert store.answer_rows(made.uuid)["factors"]["counted"] is True


def test_import_and_the_service_store_the_same_verdicts(tmp_path, thematic_rubric):
    """The same answers given key by key and imported in one go leave identical rows."""
    from audit.importer import import_file

    answers = {"sentence_type": "community", "lead_agency": "nps", "age": 41, "assessment_completed": "yes",
               "factors": [], "complied": "no", "on_licence": "no"}
    keyed = tmp_path / "keyed.db"
    with Store.open(keyed) as store:
        made = CaseService(store).create_case("T001", "sheffield", thematic_rubric)
        for qid, value in answers.items():
            CaseService(store).answer(made.uuid, qid, value)
    source = tmp_path / "one.jsonl"
    source.write_text(json.dumps({"case_ref": "T001", "site": "sheffield", "answers": answers}) + "\n")
    imported = tmp_path / "imported.db"
    import_file(imported, source, thematic_rubric)

    def rows(path):
        with Store.open_read_only(path) as store:
            return sorted(store.conn.execute("SELECT question_id, value, state, applies, counted FROM answers").fetchall())

    assert rows(keyed) == rows(imported)


def test_figure_4_3_keeps_its_base_of_268_when_an_iom_case_has_no_factors(tmp_path):
    """Issue #7: "None of these" counts, so an IOM case whose factors are all unticked stays in 4.3's base."""
    from audit.demo import write_demo
    from audit.figures import load_report
    from audit.rubric import search_path
    from audit.tabulate import tabulate_report

    write_demo(tmp_path)
    core = tmp_path / "core.db"
    with Store.open(core) as store:
        uuid = store.conn.execute(
            "SELECT c.uuid FROM cases c JOIN answers f ON f.case_uuid = c.uuid AND f.question_id = 'factors' AND f.counted = 1 "
            "JOIN answers i ON i.case_uuid = c.uuid AND i.question_id = 'iom_status' AND i.value = '\"yes\"' LIMIT 1"
        ).fetchone()[0]
        service = CaseService(store, who="test")
        if store.case(uuid).locked:
            service.set_status(uuid, "in_progress")
        assert service.answer(uuid, "factors", [], confirm_retire=True).saved
    (report_path,) = [p for folder in search_path("exports") for p in folder.glob("iom-thematic-2019.yaml")][:1]
    with Store.open_read_only(core) as store, Store.open_read_only(tmp_path / "thematic.db") as thematic:
        tables = tabulate_report(load_report(report_path), {"core": store, "thematic": thematic}).tables
    (figure,) = [t for t in tables if t.figure == "4.3"]
    column = figure.columns.index("Core programme IOM cases")
    bases = {row.cells[column].base for row in figure.rows if row.cells[column].base is not None}
    assert bases == {268}


def test_a_moderation_copy_shares_the_reference_and_never_counts(service, case, thematic_rubric):
    service.answer(case.uuid, "complied", "yes")
    copy = service.create_case("T001", "sheffield", thematic_rubric, "second marker", copy_of=case.uuid)
    assert copy.copy_of == case.uuid and copy.uuid != case.uuid
    outcome = service.answer(copy.uuid, "complied", "no")
    assert outcome.saved and service.store.answer_rows(copy.uuid)["complied"]["counted"] is False
    assert service.store.answer_rows(case.uuid)["complied"]["counted"] is True
    assert service.store.status_counts() == {"in_progress": 1}  # the copy is not a case of the figures


# --- a keypress reads nothing it already knows, and never trusts what it knew after a change -------

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import audit.store

CHANGES = st.lists(st.sampled_from([
    ("sentence_type", "community"), ("sentence_type", "non_statutory"), ("sentence_type", None),
    ("age", 30), ("age", None), ("rosh", "high"), ("assessment_completed", "yes"), ("assessment_completed", "no"),
    ("assessment_engaging", "yes"), ("factors", []), ("factors", ["drugs"]), ("lead_professional", "no"),
]), min_size=1, max_size=12)


def stored_case(store: Store, case_uuid: str) -> tuple:
    return store.case(case_uuid), store.answer_rows(case_uuid), [dict(h) for h in store.history(case_uuid)]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(changes=CHANGES)
def test_a_service_that_remembers_the_case_saves_what_a_fresh_one_would(tmp_path_factory, thematic_rubric, monkeypatch,
                                                                         changes):
    """The same changes through one long-lived service (which keeps the case between keypresses) and
    through a new service for each (which reads everything): the same outcomes and the same files."""
    results = []
    for long_lived in (True, False):
        monkeypatch.setattr(audit.store, "now", iter(f"2019-06-03T09:{m:02d}:00.000000Z" for m in range(60)).__next__)
        path = tmp_path_factory.mktemp("cache") / "cases.db"
        with Store.open(path, site="sheffield") as store:
            kept = CaseService(store, who="jb")
            case = kept.create_case("T001", "sheffield", thematic_rubric, "jb")
            kept.load(case.uuid)
            outcomes = []
            for qid, value in changes:
                service = kept if long_lived else CaseService(store, who="jb")
                try:
                    done = service.answer(case.uuid, qid, value, confirm_retire=True)
                except StoreError as exc:  # a question that does not apply now: refused the same way
                    outcomes.append(str(exc))
                    continue
                outcomes.append((done.case, done.state.rows, done.retired, done.history))
                assert (done.case, done.state.rows) == stored_case(store, case.uuid)[:2]
            # compared as text, with each file's own case UUID taken out (pformat sorts the dicts)
            results.append(pprint.pformat((outcomes, stored_case(store, case.uuid))).replace(case.uuid, "<uuid>"))
    assert results[0] == results[1]


def test_another_program_s_answer_between_two_keypresses_is_read_not_overwritten(service, case, tmp_db_path):
    import subprocess
    import sys

    service.answer(case.uuid, "sentence_type", "community")
    script = (
        "import sys; from audit.store import Store\n"
        "with Store.open(sys.argv[1]) as s: s.set_answer(sys.argv[2], 'age', 41, who='other')\n"
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_db_path), case.uuid], check=True)
    done = service.answer(case.uuid, "rosh", "high")
    assert done.state.value("age") == 41 and done.case.answered_count == 3
    assert done.case == service.store.case(case.uuid) and done.state.rows == service.store.answer_rows(case.uuid)
    # and a change the other program makes to what applies is seen too: its retirement stands
    subprocess.run([sys.executable, "-c", script.replace("'age', 41", "'sentence_type', 'non_statutory'"),
                    str(tmp_db_path), case.uuid], check=True)
    with pytest.raises(StoreError, match="does not apply"):
        service.answer(case.uuid, "age", 42)
    verdicts_are_fresh(service.store, case.uuid)


def test_a_write_by_another_path_on_the_same_connection_is_seen(service, case):
    service.answer(case.uuid, "sentence_type", "community")
    service.store.set_answer(case.uuid, "age", 41, who="other")  # another service, the same connection
    done = service.answer(case.uuid, "rosh", "high")
    assert done.state.value("age") == 41 and done.state.rows["age"]["answered_by"] == "other"
    assert done.state.rows == service.store.answer_rows(case.uuid)


def test_an_answer_inside_a_transaction_that_rolls_back_is_forgotten(service, case):
    service.answer(case.uuid, "sentence_type", "community")
    with pytest.raises(RuntimeError):
        with service.store.transaction():
            service.answer(case.uuid, "age", 41)
            raise RuntimeError("the caller gives up")
    done = service.answer(case.uuid, "rosh", "high")
    assert done.state.value("age") is None and "age" not in service.store.answers(case.uuid)
    assert done.state.rows == service.store.answer_rows(case.uuid) and done.case.answered_count == 2


def test_a_case_another_program_deletes_or_restores_between_two_keypresses_is_refused_or_answered(service, case,
                                                                                                tmp_db_path):
    """What the service remembers of the case is only a first guess before the write lock: a deletion
    by another program is refused under it, and a restoration is not refused on the stale guess."""
    import subprocess
    import sys

    def other(call: str) -> None:
        script = ("import sys; from audit.store import Store; from audit.cases import CaseService\n"
                  f"with Store.open(sys.argv[1]) as s: CaseService(s, who='other').{call}\n")
        subprocess.run([sys.executable, "-c", script, str(tmp_db_path), case.uuid], check=True)

    service.answer(case.uuid, "sentence_type", "community")
    other("delete_case(sys.argv[2], 'entered twice')")
    with pytest.raises(CaseLocked, match="is deleted"):
        service.answer(case.uuid, "age", 41)
    assert service.load(case.uuid).case.deleted  # and now the service remembers it deleted
    other("restore_case(sys.argv[2])")
    done = service.answer(case.uuid, "age", 41)
    assert done.saved and service.store.answers(case.uuid)["age"] == 41
