"""audit merge on real SQLite files: matching by UUID, conflicts, duplicates, rubrics, refusals, atomicity."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from audit.cli import main
from audit.counting import count_case
from audit.errors import AuditError, Problems
from audit.merge import CONFLICT_REASON, MERGE_REASON, merge_databases
from audit.rubric import Rubric, parse_rubric
from audit.store import NewCase, Store, decode

PROJECT = Path(__file__).resolve().parent.parent

# --- helpers (also used by test_merge_properties.py) ----------------------------------------


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def dump(path: Path, *, skip: tuple[str, ...] = ()) -> list[str]:
    """A logical dump of every table (WAL files may differ while the content is the same)."""
    conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    try:
        return [line for line in conn.iterdump() if not any(f'INSERT INTO "{t}"' in line for t in skip)]
    finally:
        conn.close()


def integrity(path: Path) -> str:
    conn = sqlite3.connect(f"{Path(path).resolve().as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]
    finally:
        conn.close()


def run_sql(path: Path, sql: str) -> Path:
    """Change a file behind the store's back (a foreign database, a newer schema)."""
    conn = sqlite3.connect(path)
    try:
        conn.execute(sql)
        conn.commit()
    finally:
        conn.close()
    return path


def new_case(rubric: Rubric, ref: str, site: str, answers: dict, *, uuid: str | None = None, inspector: str = "jb") -> NewCase:
    case = NewCase(case_ref=ref, site=site, rubric=rubric, answers=dict(answers), inspector=inspector)
    if uuid:
        case.uuid = uuid
    return case


def make_db(path: Path, cases: list[NewCase], *, site: str | None = None) -> Path:
    with Store.open(path, site=site) as store:
        if cases:
            store.insert_cases(cases, who="tester", reason="import")
    return path


def case_rows(path: Path) -> set[tuple]:
    with Store.open(path, create=False) as store:
        return set(store.db.execute(
            "SELECT uuid, case_ref, site, inspector, status, rubric_sha256, applicable_count, answered_count FROM cases"
        ).fetchall())


def answer_rows(path: Path) -> set[tuple]:
    with Store.open(path, create=False) as store:
        return set(store.db.execute(
            "SELECT case_uuid, question_id, value, note, state, applies, counted FROM answers"
        ).fetchall())


def counted_per_question(path: Path) -> dict[tuple[str, str], int]:
    """(question, value) -> number of counted answers: what every figure's numbers come from."""
    with Store.open(path, create=False) as store:
        return {
            (qid, value): n
            for qid, value, n in store.db.execute(
                "SELECT question_id, value, count(*) FROM answers WHERE counted = 1 GROUP BY question_id, value"
            )
        }


def figure_tables(path: Path) -> list[dict]:
    """The thematic figure tables (exports/iom-thematic-2019.yaml) of one database, as tidy rows."""
    from audit.figures import load_report
    from audit.tabulate import tabulate_report, tidy_rows

    report = load_report(PROJECT / "exports" / "iom-thematic-2019.yaml")
    with Store.open(path, create=False) as store:
        return tidy_rows(tabulate_report(report, {"thematic": store}).tables)


BASE = {"sentence_type": "community", "lead_agency": "crc", "complied": "yes", "assessment_completed": "yes",
        "assessment_engaging": "yes", "factors": ["drugs", "thinking"], "services_drugs": "yes"}


@pytest.fixture
def sites(tmp_path, thematic_rubric):
    """Two site databases with three cases each, distinct UUIDs."""
    a = make_db(tmp_path / "sheffield.db", [new_case(thematic_rubric, f"S{i}", "sheffield", BASE) for i in range(3)],
                site="sheffield")
    b = make_db(tmp_path / "surrey.db", [new_case(thematic_rubric, f"Y{i}", "surrey", BASE, inspector="kl") for i in range(3)],
                site="surrey")
    return a, b


# --- adding ----------------------------------------------------------------------------------


def test_new_target_is_created_0600_with_every_case_and_its_origin(tmp_path, sites):
    target = tmp_path / "national.db"
    result = merge_databases(target, list(sites))
    assert result.created and result.changed and result.backup is None
    assert mode(target) == 0o600
    assert [(s.added, s.unchanged, s.updated, s.conflicts, s.duplicates) for s in result.sources] == [(3, 0, 0, 0, 0)] * 2
    assert case_rows(target) == case_rows(sites[0]) | case_rows(sites[1])
    assert answer_rows(target) == answer_rows(sites[0]) | answer_rows(sites[1])
    with Store.open(target, create=False) as store, Store.open(sites[0], create=False) as a:
        case = next(c for c in store.list_cases(limit=10) if c.site == "sheffield")
        assert case.origin_db == a.db_uuid
        assert case.origin_file == str(sites[0].resolve())
        history = store.history(case.uuid)
        assert [h["reason"] for h in history] == ["import", MERGE_REASON]  # its own trail, then the merge
        assert history[-1]["new_value"] == str(sites[0].resolve())
        merges = store.db.execute("SELECT source_path, source_db_uuid, source_site, added FROM merges ORDER BY id").fetchall()
        b_uuid = result.sources[1].db_uuid
        assert merges == [(str(sites[0].resolve()), a.db_uuid, "sheffield", 3), (str(sites[1].resolve()), b_uuid, "surrey", 3)]
        assert store.integrity_ok()


def test_merging_the_same_files_again_changes_nothing(tmp_path, sites):
    target = tmp_path / "national.db"
    merge_databases(target, list(sites))
    before, file_before = dump(target), sha256(target)
    for reread in (False, True):  # recognised by its watermark (test_merge_watermark.py), or compared case by case
        result = merge_databases(target, list(sites), reread=reread)
        assert not result.changed and result.backup is None
        assert [(s.added, s.unchanged, s.updated) for s in result.sources] == [(0, 3, 0)] * 2
        assert dump(target) == before  # no new history rows, no merges row, nothing
        assert sha256(target) == file_before
        assert not list(tmp_path.glob("national.db.bak-*"))


def test_sources_are_never_written_even_while_their_ui_is_open(tmp_path, sites, thematic_rubric):
    a, b = sites
    ui = Store.open(a)  # an inspector's UI on the source, with changes still in its WAL
    try:
        extra = ui.create_case("S9", "sheffield", thematic_rubric, "jb")
        ui.set_answer(extra.uuid, "complied", "no")
        hashes = {p: sha256(p) for p in (a, Path(f"{a}-wal"), b)}
        result = merge_databases(tmp_path / "national.db", [a, b])
        assert {p: sha256(p) for p in hashes} == hashes  # checked while the UI still has it open
    finally:
        ui.close()
    assert result.sources[0].added == 4  # the committed case in the WAL was read
    assert not Path(f"{b}-wal").exists() and not Path(f"{b}-shm").exists()


def test_a_source_closed_throughout_is_byte_identical(tmp_path, sites):
    hashes = {p: sha256(p) for p in sites}
    merge_databases(tmp_path / "national.db", list(sites))
    merge_databases(tmp_path / "national.db", list(sites))
    assert {p: sha256(p) for p in sites} == hashes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["national.db", "sheffield.db", "surrey.db"]


# --- conflicts ---------------------------------------------------------------------------------


def two_copies(tmp_path: Path, rubric: Rubric, answers: dict = BASE) -> tuple[Path, Path, str]:
    """The same case (one UUID) in two databases, as when one file went to two laptops."""
    uuid = "0a6f5a2e-0000-4000-8000-000000000001"
    a = make_db(tmp_path / "a.db", [new_case(rubric, "T001", "sheffield", answers, uuid=uuid)])
    b = make_db(tmp_path / "b.db", [new_case(rubric, "T001", "sheffield", answers, uuid=uuid)])
    return a, b, uuid


def set_answer(path: Path, uuid: str, qid: str, value, who: str = "kl"):
    with Store.open(path, create=False) as store:
        store.set_answer(uuid, qid, value, who=who)


def test_identical_copies_under_one_uuid_merge_to_one_case(tmp_path, thematic_rubric):
    a, b, uuid = two_copies(tmp_path, thematic_rubric)
    target = tmp_path / "t.db"
    result = merge_databases(target, [a, b])
    assert (result.sources[0].added, result.sources[1].unchanged, result.conflicts) == (1, 1, [])
    assert answer_rows(target) == answer_rows(a)


def test_a_conflict_is_resolved_per_answer_and_the_later_answer_wins(tmp_path, thematic_rubric):
    a, b, uuid = two_copies(tmp_path, thematic_rubric)
    set_answer(a, uuid, "lead_agency", "nps", who="jb")  # a edits one answer...
    time.sleep(0.002)
    set_answer(b, uuid, "complied", "no", who="kl")  # ...b another, later
    set_answer(b, uuid, "lead_agency", "police", who="kl")  # and the same one, later still
    target = tmp_path / "t.db"
    result = merge_databases(target, [a, b])
    with Store.open(target, create=False) as store:
        answers = store.answers(uuid)
        assert answers["complied"] == "no"  # b's is later
        assert answers["lead_agency"] == "police"  # b's is later
        assert answers["sentence_type"] == "community"  # the same on both: untouched
        history = [h for h in store.history(uuid) if h["reason"] == CONFLICT_REASON]
    # every answer held differently is a conflict, listed, whoever changed it
    assert [(c.question_id, c.field, c.target_label, c.source_label, c.kept) for c in result.conflicts] == [
        ("complied", "value", "Yes", "No", "source"), ("lead_agency", "value", "NPS", "Police", "source"),
    ]
    assert result.sources[1].updated == 1 and result.sources[1].conflicts == 2
    # both values stay in the history: the one that lost and the one kept
    assert [(h["question_id"], decode(h["old_value"]), decode(h["new_value"])) for h in history] == [
        ("complied", "yes", "no"), ("lead_agency", "nps", "police"),
    ]
    assert all(str(b.resolve()) in h["origin"] for h in history)


def test_the_target_keeps_its_answer_when_it_is_later(tmp_path, thematic_rubric):
    a, b, uuid = two_copies(tmp_path, thematic_rubric)
    target = tmp_path / "t.db"
    merge_databases(target, [a])
    set_answer(b, uuid, "complied", "no", who="kl")
    time.sleep(0.002)
    set_answer(target, uuid, "complied", "yes", who="lead")  # re-answered in TARGET, later
    result = merge_databases(target, [b])
    assert [(c.target_label, c.source_label, c.kept) for c in result.conflicts] == [("Yes", "No", "target")]
    with Store.open(target, create=False) as store:
        assert store.answers(uuid)["complied"] == "yes"
        conflict = [h for h in store.history(uuid) if h["reason"] == CONFLICT_REASON]
        assert [(decode(h["old_value"]), decode(h["new_value"])) for h in conflict] == [("no", "yes")]  # lost -> kept
    # merging b again: the conflict is already recorded, so nothing changes
    before = dump(target)
    again = merge_databases(target, [b])
    assert not again.changed and again.conflicts == [] and dump(target) == before


def test_a_tie_on_answered_at_is_broken_by_value_whatever_the_order(tmp_path, thematic_rubric):
    a, b, uuid = two_copies(tmp_path, thematic_rubric)
    set_answer(a, uuid, "rosh", "high")
    set_answer(b, uuid, "rosh", "low")
    for path in (a, b):  # the same instant on both laptops
        with Store.open(path, create=False) as store:
            store.db.execute("UPDATE answer_data SET answered_at = '2019-06-01T10:00:00.000000Z' WHERE question_key = (SELECT id FROM question_keys WHERE question_id = 'rosh')")
    kept = []
    for order in ([a, b], [b, a]):
        target = tmp_path / f"t{len(kept)}.db"
        result = merge_databases(target, order)
        assert len(result.conflicts) == 1
        with Store.open(target, create=False) as store:
            kept.append(store.answers(uuid)["rosh"])
    assert kept == ["low", "low"]  # '"low"' > '"high"' as stored text: documented in docs/merge.md


def test_a_conflict_on_a_gating_answer_recounts_the_case(tmp_path, thematic_rubric):
    a, b, uuid = two_copies(tmp_path, thematic_rubric)
    set_answer(b, uuid, "assessment_completed", "no")  # later: assessment_* and factors stop applying
    target = tmp_path / "t.db"
    merge_databases(target, [a, b])
    with Store.open(target, create=False) as store:
        rows = store.answer_rows(uuid)
        answers = store.answers(uuid)
        tally = count_case(thematic_rubric, answers)
        for qid, row in rows.items():
            assert row["applies"] == (qid in tally.evaluation.applicable), qid
            assert row["counted"] == (qid in tally.counted), qid
        assert rows["assessment_engaging"]["counted"] is False and rows["services_drugs"]["counted"] is False
        case = store.case(uuid)
        assert (case.applicable_count, case.answered_count) == (tally.applicable_count, tally.answered_count)


def test_notes_merge_and_two_different_notes_are_a_conflict(tmp_path, thematic_rubric):
    a, b, uuid = two_copies(tmp_path, thematic_rubric)
    with Store.open(a, create=False) as store:
        store.set_note(uuid, "complied", "seen in the case file")
        store.set_note(uuid, "lead_agency", "first note")
    time.sleep(0.002)
    with Store.open(b, create=False) as store:
        store.set_note(uuid, "lead_agency", "second note")
    target = tmp_path / "t.db"
    result = merge_databases(target, [a, b])
    with Store.open(target, create=False) as store:
        rows = store.answer_rows(uuid)
    assert rows["complied"]["note"] == "seen in the case file"  # one side only: kept
    assert rows["lead_agency"]["note"] == "second note"  # written later
    assert [(c.question_id, c.field, c.kept) for c in result.conflicts] == [("lead_agency", "note", "source")]


def test_an_answer_only_the_source_has_is_added_to_the_case(tmp_path, thematic_rubric):
    a, b, uuid = two_copies(tmp_path, thematic_rubric)
    set_answer(b, uuid, "deselected", "yes")
    set_answer(b, uuid, "exit_strategy", "no")
    target = tmp_path / "t.db"
    merge_databases(target, [a])
    result = merge_databases(target, [b])
    assert result.conflicts == [] and result.sources[0].updated == 1
    with Store.open(target, create=False) as store:
        rows = store.answer_rows(uuid)
        assert rows["exit_strategy"]["counted"] is True and rows["exit_strategy"]["value"] == "no"
    assert answer_rows(target) == answer_rows(b)


def test_the_report_lists_every_conflict_with_both_values_times_and_the_kept_one(tmp_path, thematic_rubric, capsys):
    a, b, uuid = two_copies(tmp_path, thematic_rubric)
    set_answer(a, uuid, "factors", ["drugs"], who="jb")
    time.sleep(0.002)
    set_answer(b, uuid, "factors", ["drugs", "alcohol"], who="kl")
    report = tmp_path / "conflicts.csv"
    assert main(["merge", str(tmp_path / "t.db"), str(a), str(b), "--report", str(report)]) == 0
    out = capsys.readouterr().out
    assert "case T001 at sheffield" in out and "question factors" in out
    assert '"Drug misuse" ' in out and '"Drug misuse; Alcohol misuse"' in out and "kept source's" in out
    assert mode(report) == 0o600
    rows = list(csv.DictReader(report.open(encoding="utf-8")))
    assert len(rows) == 1
    row = rows[0]
    with Store.open(a, create=False) as sa, Store.open(b, create=False) as sb:
        a_time, b_time = sa.answer_rows(uuid)["factors"]["answered_at"], sb.answer_rows(uuid)["factors"]["answered_at"]
    assert row["kind"] == "conflict" and row["case_uuid"] == uuid and row["case_ref"] == "T001" and row["site"] == "sheffield"
    assert (row["question_id"], row["field"]) == ("factors", "value")
    assert (row["target_value"], row["source_value"]) == ("Drug misuse", "Drug misuse; Alcohol misuse")
    assert (row["target_code"], row["source_code"]) == (json.dumps(["drugs"]), json.dumps(["drugs", "alcohol"]))
    assert (row["target_answered_at"], row["source_answered_at"]) == (a_time, b_time)
    assert (row["target_answered_by"], row["source_answered_by"]) == ("jb", "kl")
    assert (row["kept"], row["kept_value"], row["source_file"]) == ("source", "Drug misuse; Alcohol misuse", str(b))


def test_report_text_cannot_run_as_a_formula(tmp_path, thematic_rubric):
    a, b, uuid = two_copies(tmp_path, thematic_rubric)
    with Store.open(a, create=False) as store:
        store.set_note(uuid, "complied", "=HYPERLINK(\"http://x\")")
    time.sleep(0.002)
    with Store.open(b, create=False) as store:
        store.set_note(uuid, "complied", "+1")
    report = tmp_path / "r.csv"
    assert main(["merge", str(tmp_path / "t.db"), str(a), str(b), "--report", str(report)]) == 0
    row = next(csv.DictReader(report.open(encoding="utf-8")))
    assert row["target_value"] == "'=HYPERLINK(\"http://x\")" and row["source_value"] == "'+1"


# --- duplicates ----------------------------------------------------------------------------------


def test_the_same_case_ref_under_two_uuids_is_kept_twice_and_flagged(tmp_path, thematic_rubric, capsys):
    a = make_db(tmp_path / "a.db", [new_case(thematic_rubric, "T001", "sheffield", BASE, inspector="jb"),
                                    new_case(thematic_rubric, "T002", "sheffield", BASE)])
    b = make_db(tmp_path / "b.db", [new_case(thematic_rubric, "T001", "sheffield", {**BASE, "complied": "no"}, inspector="kl"),
                                    new_case(thematic_rubric, "T001", "surrey", BASE)])  # another site: not a duplicate
    target, report = tmp_path / "t.db", tmp_path / "r.csv"
    assert main(["merge", str(target), str(a), str(b), "--report", str(report)]) == 0
    out = capsys.readouterr().out
    assert "possible duplicates (1)" in out and "case T001 at sheffield: 2 cases" in out
    assert "by jb" in out and "by kl" in out
    assert len(case_rows(target)) == 4  # both kept
    rows = [r for r in csv.DictReader(report.open(encoding="utf-8")) if r["kind"] == "possible duplicate"]
    assert sorted((r["site"], r["case_ref"], r["inspector"]) for r in rows) == [("sheffield", "T001", "jb"), ("sheffield", "T001", "kl")]
    with Store.open(target, create=False) as store:
        assert store.db.execute("SELECT source_path, duplicates FROM merges ORDER BY id").fetchall() == [
            (str(a.resolve()), 1), (str(b.resolve()), 1)
        ]


def test_a_case_ref_spelt_differently_at_the_same_site_is_flagged_as_the_import_would(tmp_path, thematic_rubric, capsys):
    """Import takes 'T001' at 'Sheffield' to be 't001' at 'sheffield' (audit.importer.case_key); so does merge."""
    a = make_db(tmp_path / "a.db", [new_case(thematic_rubric, "T001", "Sheffield", BASE, inspector="jb")])
    b = make_db(tmp_path / "b.db", [new_case(thematic_rubric, "t001", "sheffield", BASE, inspector="kl")])
    target, report = tmp_path / "t.db", tmp_path / "r.csv"
    assert main(["merge", str(target), str(a), str(b), "--report", str(report)]) == 0
    out = capsys.readouterr().out
    assert "possible duplicates (1)" in out, out
    assert len(case_rows(target)) == 2  # both kept
    rows = [r for r in csv.DictReader(report.open(encoding="utf-8")) if r["kind"] == "possible duplicate"]
    assert sorted((r["site"], r["case_ref"], r["inspector"]) for r in rows) == [("Sheffield", "T001", "jb"), ("sheffield", "t001", "kl")]
    with Store.open(target, create=False) as store:
        assert [n for (n,) in store.db.execute("SELECT duplicates FROM merges ORDER BY id")] == [1, 1]


# --- rubrics ---------------------------------------------------------------------------------------


def other_version(rubric: Rubric) -> Rubric:
    text = rubric.text.replace(f"version: {rubric.version}", "version: 2099-test", 1)
    assert text != rubric.text
    return parse_rubric(text, "<v2>")


def test_a_source_on_another_rubric_version_is_refused_unless_allowed(tmp_path, thematic_rubric, capsys):
    v2 = other_version(thematic_rubric)
    a = make_db(tmp_path / "a.db", [new_case(thematic_rubric, "T001", "sheffield", BASE)])
    b = make_db(tmp_path / "b.db", [new_case(v2, "T002", "sheffield", BASE)])
    target = tmp_path / "t.db"
    merge_databases(target, [a])
    hashes = {p: sha256(p) for p in (a, b, target)}
    assert main(["merge", str(target), str(b)]) == 1
    err = capsys.readouterr().err
    assert "version 2099-test" in err and f"version {thematic_rubric.version}" in err and "--allow-rubric-change" in err
    assert "nothing was merged" in err
    assert {p: sha256(p) for p in hashes} == hashes
    assert main(["merge", str(target), str(b), "--allow-rubric-change"]) == 0
    with Store.open(target, create=False) as store:
        kept = dict(store.db.execute("SELECT case_ref, rubric_sha256 FROM cases").fetchall())
        assert kept == {"T001": thematic_rubric.sha256, "T002": v2.sha256}  # each keeps its own rubric
        assert store.rubric(v2.sha256).version == "2099-test"
        assert store.db.execute("SELECT count(*) FROM questions WHERE rubric_sha256 = ?", [v2.sha256]).fetchone()[0] == len(v2.questions)


def test_two_sources_on_different_versions_are_refused_into_a_new_target(tmp_path, thematic_rubric):
    a = make_db(tmp_path / "a.db", [new_case(thematic_rubric, "T001", "sheffield", BASE)])
    b = make_db(tmp_path / "b.db", [new_case(other_version(thematic_rubric), "T002", "sheffield", BASE)])
    with pytest.raises(Problems, match="--allow-rubric-change"):
        merge_databases(tmp_path / "t.db", [a, b])
    assert not (tmp_path / "t.db").exists()


def test_one_case_on_two_rubric_versions_fails_midway_and_leaves_target_as_it_was(tmp_path, thematic_rubric):
    uuid = "0a6f5a2e-0000-4000-8000-000000000002"
    a = make_db(tmp_path / "a.db", [new_case(thematic_rubric, "T001", "sheffield", BASE, uuid=uuid)])
    others = [new_case(thematic_rubric, f"N{i}", "surrey", BASE) for i in range(20)]
    b = make_db(tmp_path / "b.db", [*others, new_case(other_version(thematic_rubric), "T001", "sheffield", BASE, uuid=uuid)])
    target = tmp_path / "t.db"
    merge_databases(target, [a])
    before = dump(target)
    with pytest.raises(AuditError, match="two rubric versions"):
        merge_databases(target, [b], allow_rubric_change=True)  # fails after the 20 new cases were written
    assert dump(target) == before
    assert integrity(target) == "ok"
    assert not list(tmp_path.glob("t.db.bak-*"))


# --- refusals ----------------------------------------------------------------------------------


def refused(args: list[str], files: list[Path], capsys) -> str:
    hashes = {p: sha256(p) for p in files}
    assert main(["merge", *map(str, args)]) == 1
    assert {p: sha256(p) for p in files} == hashes
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err


def test_a_source_that_is_the_target_is_refused(tmp_path, sites, capsys):
    target = tmp_path / "national.db"
    merge_databases(target, [sites[0]])
    assert "a database cannot be merged into itself" in refused([target, target], [target], capsys)
    link = tmp_path / "link.db"
    link.symlink_to(target)
    assert "itself" in refused([target, sites[1], link], [target, sites[1]], capsys)
    copy = tmp_path / "copy.db"
    shutil.copy(target, copy)  # the same database id: an unchanged copy merges as "nothing to change"
    before = sha256(target)
    assert main(["merge", str(target), str(copy)]) == 0 and sha256(target) == before
    with Store.open(copy, create=False) as diverged:  # a copy that has since diverged is merged by case
        diverged.create_case("NEW1", "sheffield", diverged.rubric_for(diverged.list_cases()[0]), "jb")
    result = merge_databases(target, [copy])
    assert result.total("added") == 1 and result.total("unchanged") == 3


def test_missing_corrupt_foreign_and_newer_sources_are_all_listed_and_nothing_is_written(tmp_path, sites, capsys):
    target = tmp_path / "national.db"
    merge_databases(target, [sites[0]])
    truncated = tmp_path / "truncated.db"
    truncated.write_bytes(sites[1].read_bytes()[:3000])
    junk = tmp_path / "junk.db"
    junk.write_bytes(os.urandom(8192))
    foreign = run_sql(tmp_path / "foreign.db", "CREATE TABLE t (x)")
    newer = tmp_path / "newer.db"
    shutil.copy(sites[1], newer)
    run_sql(newer, "UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    files = [target, truncated, junk, foreign, newer, sites[1]]
    err = refused([target, sites[1], tmp_path / "missing.db", truncated, junk, foreign, newer], files, capsys)
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert any("missing.db: does not exist" in line for line in lines)
    assert any("truncated.db" in line and ("corrupt" in line or "truncated" in line) for line in lines)
    assert any("junk.db" in line and "not an audit database" in line for line in lines)
    assert any("foreign.db" in line and "another program" in line for line in lines)
    assert any("newer.db" in line and "newer audit" in line for line in lines)
    assert "nothing was merged" in err


def test_a_target_with_a_newer_schema_is_refused(tmp_path, sites, capsys):
    target = tmp_path / "national.db"
    merge_databases(target, [sites[0]])
    run_sql(target, "UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    assert "newer audit" in refused([target, sites[1]], [target, sites[1]], capsys)


def test_usage_errors_exit_2(tmp_path):
    assert main(["merge", str(tmp_path / "t.db")]) == 2
    assert main(["merge"]) == 2


# --- dry run and backup -----------------------------------------------------------------------


def test_a_dry_run_shows_what_would_happen_and_writes_nothing(tmp_path, sites, thematic_rubric, capsys):
    target = tmp_path / "national.db"
    assert main(["merge", str(target), str(sites[0]), "--dry-run"]) == 0
    assert "dry run" in capsys.readouterr().out
    assert not target.exists()
    merge_databases(target, [sites[0]])
    before = sha256(target)
    result = merge_databases(target, [sites[1]], dry_run=True)
    assert result.dry_run and result.changed and result.sources[0].added == 3
    assert sha256(target) == before and not list(tmp_path.glob("national.db.bak-*"))


def test_an_existing_target_is_backed_up_first_and_the_output_says_where(tmp_path, sites, capsys):
    target = tmp_path / "national.db"
    merge_databases(target, [sites[0]])
    before = dump(target)
    assert main(["merge", str(target), str(sites[1])]) == 0
    out = capsys.readouterr().out
    backups = list(tmp_path.glob("national.db.bak-*"))
    assert len(backups) == 1 and str(backups[0]) in out
    assert mode(backups[0]) == 0o600
    assert dump(backups[0]) == before  # TARGET as it was before the merge
    assert len(case_rows(target)) == 6


# --- progress -------------------------------------------------------------------------------------


def test_progress_is_reported_per_source_when_not_on_a_terminal(tmp_path, sites):
    result = subprocess.run(
        [sys.executable, "-m", "audit.cli", "merge", str(tmp_path / "t.db"), *map(str, sites)],
        capture_output=True, text=True, timeout=120, cwd=PROJECT,
    )
    assert result.returncode == 0, result.stderr
    assert result.stderr.splitlines() == [f"reading {sites[0]}...", f"reading {sites[1]}...", f"writing {tmp_path / 't.db'}..."]
    assert "merged 2 source(s)" in result.stdout


# --- atomicity under kill -9 ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def large_sources(tmp_path_factory):
    from benchmarks.common import core_rubric, make_database

    folder = tmp_path_factory.mktemp("large")
    rubric = core_rubric()
    return folder, [
        make_database(folder / f"site{i}.db", rubric, 2000, seed=i + 1, sites=[f"site{i}"], prefix=f"S{i}-")
        for i in range(8)
    ]


def test_killing_the_merge_midway_leaves_target_exactly_as_it_was(tmp_path, large_sources):
    folder, sources = large_sources
    target = tmp_path / "national.db"
    merge_databases(target, sources[:1])
    before = dump(target)
    hashes = {p: sha256(p) for p in sources}
    process = subprocess.Popen(
        [sys.executable, "-m", "audit.cli", "merge", str(target), *map(str, sources[1:])],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=PROJECT,
    )
    try:
        for line in process.stderr:  # the transaction has begun once it says it is writing
            if line.startswith("writing"):
                break
        wal = Path(f"{target}-wal")
        wal_size = 0
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:  # until uncommitted pages reach the WAL
            wal_size = wal.stat().st_size if wal.exists() else 0
            if wal_size > 0:
                break
            time.sleep(0.01)
        assert process.poll() is None, "the merge finished before it could be killed; make the inputs larger"
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
        process.stderr.close()
        process.stdout.close()
    assert process.returncode == -signal.SIGKILL
    assert wal_size > 0  # it had written (uncommitted) pages when it died
    assert integrity(target) == "ok"
    assert dump(target) == before
    assert {p: sha256(p) for p in sources} == hashes
    assert not list(tmp_path.glob("national.db.bak-*"))  # the backup is taken just before commit
    # and the interrupted merge can simply be run again
    result = merge_databases(target, sources[1:])
    assert result.total("added") == 7 * 2000


# --- done when: site by site equals all at once --------------------------------------------------


def write_jsonl(path: Path, cases: list[NewCase]) -> Path:
    with path.open("w", encoding="utf-8") as handle:
        for case in cases:
            handle.write(json.dumps({"case_ref": case.case_ref, "site": case.site, "inspector": case.inspector,
                                     "answers": case.answers}) + "\n")
    return path


def test_seven_site_imports_merged_equal_one_import_and_merging_again_changes_nothing(tmp_path, thematic_rubric):
    from audit.demo import thematic_cases
    from audit.importer import import_file

    cases = thematic_cases(thematic_rubric, seed=77)
    by_site: dict[str, list[NewCase]] = {}
    for case in cases:
        by_site.setdefault(case.site, []).append(case)
    assert len(by_site) == 7
    whole = tmp_path / "whole.db"
    import_file(whole, write_jsonl(tmp_path / "all.jsonl", cases), thematic_rubric)
    parts = []
    for site, site_cases in sorted(by_site.items()):
        part = tmp_path / f"{site}.db"
        import_file(part, write_jsonl(tmp_path / f"{site}.jsonl", site_cases), thematic_rubric, site=site)
        parts.append(part)
    merged = tmp_path / "merged.db"
    result = merge_databases(merged, parts)
    assert result.total("added") == len(cases) and result.conflicts == [] and result.duplicates == []
    assert counted_per_question(merged) == counted_per_question(whole)
    tables = figure_tables(merged)
    assert tables == figure_tables(whole) and len(tables) > 40
    before = dump(merged)
    again = merge_databases(merged, parts)
    assert not again.changed and dump(merged) == before


def test_a_bad_report_path_is_refused_before_anything_is_merged(tmp_path, sites, capsys):
    target = tmp_path / "national.db"
    merge_databases(target, [sites[0]])
    err = refused([target, sites[1], "--report", target], [target, sites[1]], capsys)
    assert "end its name with .csv" in err
    err = refused([target, sites[1], "--report", tmp_path / "missing" / "r.csv"], [target, sites[1]], capsys)
    assert "does not exist" in err
    assert len(case_rows(target)) == 3


def test_without_uri_support_in_attach_sources_are_read_through_their_own_connection(tmp_path, sites, monkeypatch):
    """Some SQLite builds lack SQLITE_USE_URI: ATTACH would then create a file named 'file:...'."""
    import audit.merge as merge_module

    attached = tmp_path / "attached.db"
    merge_databases(attached, list(sites))
    monkeypatch.setattr(merge_module, "_attach_reads_uris", lambda conn: False)
    streamed = tmp_path / "streamed.db"
    hashes = {p: sha256(p) for p in sites}
    merge_databases(streamed, list(sites))
    assert case_rows(streamed) == case_rows(attached) and answer_rows(streamed) == answer_rows(attached)
    assert {p: sha256(p) for p in sites} == hashes
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("file:")]


def test_a_case_field_held_differently_is_a_conflict_and_the_later_copy_wins(tmp_path, thematic_rubric):
    a, b, uuid = two_copies(tmp_path, thematic_rubric)
    time.sleep(0.002)
    run_sql(b, f"UPDATE cases SET inspector = 'moderator', updated_at = '2099-01-01T00:00:00.000000Z' WHERE uuid = '{uuid}'")
    target = tmp_path / "t.db"
    result = merge_databases(target, [a, b])
    assert [(c.field, c.target_label, c.source_label, c.kept) for c in result.conflicts] == [("inspector", "jb", "moderator", "source")]
    with Store.open(target, create=False) as store:
        assert store.case(uuid).inspector == "moderator"
        assert [(h["field"], h["old_value"], h["new_value"]) for h in store.history(uuid) if h["reason"] == CONFLICT_REASON] == [
            ("inspector", "jb", "moderator")
        ]
    before = dump(target)
    assert not merge_databases(target, [a, b]).changed and dump(target) == before


def test_a_merge_into_a_target_the_ui_has_open_is_seen_by_the_ui(tmp_path, sites, thematic_rubric):
    target = tmp_path / "national.db"
    merge_databases(target, [sites[0]])
    ui = Store.open(target)  # the lead browsing the national database
    try:
        case = ui.create_case("L1", "leeds", thematic_rubric, "lead")  # with its own write just before
        result = merge_databases(target, [sites[1]])
        assert result.sources[0].added == 3 and result.backup is not None
        assert ui.case_count() == 7  # the UI's connection sees the merged cases
        ui.set_answer(case.uuid, "complied", "yes")  # and can still write
    finally:
        ui.close()
    with Store.open(result.backup, create=False) as before:
        assert before.case_count() == 4  # the backup holds the UI's case, not the merge's
    assert integrity(target) == "ok"


@pytest.mark.parametrize("attach_reads_uris", [True, False])
def test_a_source_on_a_read_only_stick_is_merged(tmp_path, thematic_rubric, monkeypatch, attach_reads_uris):
    import audit.merge as merge_module
    from tests.test_store import read_only

    if not attach_reads_uris:
        monkeypatch.setattr(merge_module, "_attach_reads_uris", lambda conn: False)
    stick = tmp_path / "stick"
    stick.mkdir()
    source = make_db(stick / "sheffield.db", [new_case(thematic_rubric, f"S{i}", "sheffield", BASE) for i in range(3)])
    target = tmp_path / "national.db"
    with read_only(stick):
        listing = sorted(p.name for p in stick.iterdir())
        result = merge_databases(target, [source])
        assert sorted(p.name for p in stick.iterdir()) == listing
    assert result.sources[0].added == 3
    assert case_rows(target) == case_rows(source) and answer_rows(target) == answer_rows(source)


def test_a_read_only_source_whose_wal_holds_changes_is_refused_not_half_read(tmp_path, thematic_rubric, capsys):
    """Read as an immutable file, such a source would silently lose the changes still in its -wal."""
    from tests.test_store import read_only

    live = make_db(tmp_path / "live.db", [new_case(thematic_rubric, "S0", "sheffield", BASE)])
    ui = sqlite3.connect(live)
    ui.execute("PRAGMA wal_autocheckpoint = 0")
    ui.execute("UPDATE cases SET inspector = 'in the wal'")
    ui.commit()
    stick = tmp_path / "stick"
    stick.mkdir()
    shutil.copy(live, stick / "sheffield.db")
    shutil.copy(f"{live}-wal", stick / "sheffield.db-wal")  # copied without its -shm
    ui.close()
    target = tmp_path / "national.db"
    with read_only(stick):
        assert main(["merge", str(target), str(stick / "sheffield.db")]) == 1
    err = capsys.readouterr().err
    assert "read-only" in err and "corrupt" not in err and "internal error" not in err, err
    assert not target.exists()


def test_an_evidence_note_on_a_question_one_copy_never_answered_does_not_blank_the_others_answer(tmp_path, thematic_rubric):
    a, b, uuid = two_copies(tmp_path, thematic_rubric)
    set_answer(a, uuid, "rosh", "high", who="jb")  # a answers rosh...
    time.sleep(0.002)
    with Store.open(b, create=False) as store:  # ...b, later, only writes a note on it
        store.set_note(uuid, "rosh", "risk assessment not yet on file")
    for order in ([a, b], [b, a]):
        target = tmp_path / f"t{order[0].stem}.db"
        result = merge_databases(target, order)
        with Store.open(target, create=False) as store:
            row = store.answer_rows(uuid)["rosh"]
        assert (row["value"], row["counted"], row["note"]) == ("high", True, "risk assessment not yet on file"), order
        assert [c for c in result.conflicts if c.question_id == "rosh"] == [], order
        before = dump(target)
        assert not merge_databases(target, order).changed and dump(target) == before  # merging again: a no-op


def test_a_report_folder_that_cannot_be_written_is_refused_before_merging(tmp_path, sites, capsys):
    from tests.test_store import read_only

    target = tmp_path / "national.db"
    merge_databases(target, [sites[0]])
    locked = tmp_path / "locked"
    locked.mkdir()
    with read_only(locked):
        err = refused([target, sites[1], "--report", locked / "r.csv"], [target, sites[1]], capsys)
        assert list(locked.iterdir()) == []
    assert str(locked) in err and "internal error" not in err, err
    assert len(case_rows(target)) == 3  # nothing was merged: the conflicts are still to be seen


def test_when_the_report_fails_after_the_merge_the_conflicts_are_still_on_screen(tmp_path, thematic_rubric, capsys, monkeypatch):
    """A failure the pre-check cannot foresee (a full disk, a folder locked meanwhile): the merge is committed,
    and merging again would find these conflicts already resolved, so they must be shown now."""
    import audit.commands.merge as merge_command
    from tests.test_store import read_only

    a, b, uuid = two_copies(tmp_path, thematic_rubric)
    set_answer(a, uuid, "complied", "no", who="jb")
    time.sleep(0.002)
    set_answer(b, uuid, "complied", "yes", who="kl")
    locked = tmp_path / "locked"
    locked.mkdir()
    monkeypatch.setattr(merge_command, "check_report_path", lambda report, databases: None)
    with read_only(locked):
        assert main(["merge", str(tmp_path / "t.db"), str(a), str(b), "--report", str(locked / "r.csv")]) == 1
    out, err = capsys.readouterr()
    assert "conflicts (1)" in out and "question complied" in out, out
    assert "merge" in err and "committed" in err and "internal error" not in err, err


@pytest.mark.parametrize("order", ["removal last", "removal first"])
def test_a_note_removed_on_purpose_competes_with_the_note_and_the_later_wins(tmp_path, thematic_rubric, order):
    """As a cleared answer does: a note held by one side only is kept unless the other side removed it."""
    from audit.cases import CaseService
    from audit.merge import REMOVED_NOTE

    site_a, site_b, national = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "national.db"
    with Store.open(site_a) as store:
        service = CaseService(store, who="jb")
        case = service.create_case("T1", "sheffield", thematic_rubric)
        service.answer(case.uuid, "sentence_type", "community")
        service.note(case.uuid, "sentence_type", "seen in the file")
    shutil.copy(site_a, site_b)
    with Store.open(site_b) as store:
        CaseService(store, who="kl").note(case.uuid, "sentence_type", "")  # removed later, on the copy
    sources = [site_a, site_b] if order == "removal last" else [site_b, site_a]
    results = [merge_databases(national, [source]) for source in sources]
    with Store.open_read_only(national) as store:
        assert store.answer_rows(case.uuid)["sentence_type"]["note"] is None
        assert store.answers(case.uuid)["sentence_type"] == "community"
    conflicts = [c for result in results for c in result.conflicts]
    assert [(c.field, c.kept) for c in conflicts] == [("note", "source" if order == "removal last" else "target")]
    assert REMOVED_NOTE in (conflicts[0].target_label, conflicts[0].source_label)
    again = merge_databases(national, [site_b])  # nothing new: nothing changes, no conflict again
    assert again.conflicts == []


def test_a_note_never_written_on_one_side_is_no_removal(tmp_path, thematic_rubric):
    from audit.cases import CaseService

    site_a, site_b, national = tmp_path / "a.db", tmp_path / "b.db", tmp_path / "national.db"
    with Store.open(site_a) as store:
        service = CaseService(store, who="jb")
        case = service.create_case("T1", "sheffield", thematic_rubric)
        service.answer(case.uuid, "sentence_type", "community")
    shutil.copy(site_a, site_b)
    with Store.open(site_b) as store:
        CaseService(store, who="kl").note(case.uuid, "sentence_type", "seen in the file")
    for source in (site_b, site_a):
        assert merge_databases(national, [source]).conflicts == []
    with Store.open_read_only(national) as store:
        assert store.answer_rows(case.uuid)["sentence_type"]["note"] == "seen in the file"
