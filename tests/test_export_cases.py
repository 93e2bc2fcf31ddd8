"""``audit export-cases``: the documented import formats, written from a real database and imported back."""

from __future__ import annotations

import csv
import json
import random
import stat
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.cli import main
from audit.store import NewCase, Store
from audit.tabulate import has_deleted_column
from benchmarks.common import random_answers

THEMATIC = "iom-thematic-2019"


def make_db(path: Path, rubric, cases: list[tuple[str, str, str, dict]], notes: dict[str, dict] | None = None) -> Path:
    """cases: (case_ref, site, status, answers); notes: case_ref -> {question id: note}."""
    with Store.open(path) as store:
        store.insert_cases([NewCase(case_ref=ref, site=site, rubric=rubric, answers=dict(answers), inspector="jb", status=status,
                                    notes=(notes or {}).get(ref, {}))
                            for ref, site, status, answers in cases], who="test", reason="test")
    return path


def stored(path: Path) -> dict[tuple[str, str], dict]:
    """Every live case's current answers, by (site, case_ref)."""
    with Store.open(path, create=False) as store:
        return {(c.site, c.case_ref): store.answers(c.uuid) for c in store.list_cases(limit=100_000)}


BASE = {"sentence_type": "community", "lead_agency": "crc", "assessment_completed": "yes", "factors": ["drugs", "ete"],
        "services_drugs": "yes", "services_ete": "no", "age": 31, "planning_safety": "na"}


@pytest.fixture
def database(tmp_path, thematic_rubric) -> Path:
    db = make_db(tmp_path / "t.db", thematic_rubric, [
        ("T1", "surrey", "complete", BASE),
        ("T2", "surrey", "in_progress", {**BASE, "lead_agency": "nps"}),
        ("=T3", "sheffield", "in_progress", BASE),  # a reference a spreadsheet would run as a formula
        ("T4", "sheffield", "complete", BASE),
    ], notes={"T1": {"age": "from the PNC record"}})
    with Store.open(db, create=False) as store:
        cases = {c.case_ref: c.uuid for c in store.list_cases()}
        store.set_answer(cases["T2"], "assessment_completed", "no")  # retires factors and the services answers
        store.service().delete_case(cases["T4"], "audited twice")
    return db


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_jsonl_is_the_import_format_with_status_and_only_current_applicable_answers(database, tmp_path, capsys):
    out = tmp_path / "cases.jsonl"
    assert main(["export-cases", str(database), "-o", str(out)]) == 0
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    records = {r["case_ref"]: r for r in lines(out)}
    assert set(records) == {"=T3", "T1", "T2"}  # the deleted case never leaves the database
    first = records["T1"]
    assert list(first) == ["case_ref", "site", "inspector", "status", "answers"]  # no notes unless asked
    assert (first["site"], first["inspector"], first["status"]) == ("surrey", "jb", "complete")
    assert first["answers"] == BASE
    # retired answers (factors, services) are not written as if they held
    assert records["T2"]["answers"] == {"sentence_type": "community", "lead_agency": "nps", "assessment_completed": "no",
                                        "age": 31, "planning_safety": "na"}
    assert records["T2"]["status"] == "in_progress"
    out_text = capsys.readouterr().out
    assert f"wrote {out}: 3 cases (1 complete, 2 in progress), " in out_text
    assert f"import it with: audit import NEW.db {out} --rubric {THEMATIC}" in out_text


def test_notes_and_status_only_when_asked(database, tmp_path):
    out = tmp_path / "notes.jsonl"
    assert main(["export-cases", str(database), "-o", str(out), "--include-notes", "--status", "complete"]) == 0
    (record,) = lines(out)
    assert record["case_ref"] == "T1" and record["notes"] == {"age": "from the PNC record"}


def test_wide_csv_is_the_import_format(database, tmp_path):
    out = tmp_path / "cases.csv"
    assert main(["export-cases", str(database), "-o", str(out), "--include-notes"]) == 0
    raw = out.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with open(out, encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    header = list(rows[0])
    assert header[:5] == ["case_ref", "site", "inspector", "status", "sentence_type"] and header[-1] == "note:age"
    by_ref = {r["case_ref"]: r for r in rows}
    assert by_ref["T1"]["factors"] == "drugs;ete" and by_ref["T1"]["age"] == "31" and by_ref["T1"]["note:age"] == "from the PNC record"
    assert by_ref["T2"]["factors"] == "" and by_ref["T2"]["status"] == "in_progress"
    assert "'=T3" in by_ref  # never a formula in a spreadsheet


def test_an_explicit_empty_selection_is_written_as_none(tmp_path, thematic_rubric):
    db = make_db(tmp_path / "e.db", thematic_rubric, [("E1", "surrey", "complete", BASE)])
    with Store.open(db, create=False) as store:  # "None of these", stored as JSON [] (as the case service stores it)
        store.db.execute("UPDATE answer_data SET value = '[]' WHERE question_key = (SELECT id FROM question_keys WHERE question_id = 'factors')")
        store.db.execute("DELETE FROM answer_data WHERE question_key IN (SELECT id FROM question_keys WHERE question_id LIKE 'services_%')")
    assert main(["export-cases", str(db), "-o", str(tmp_path / "e.jsonl")]) == 0
    assert lines(tmp_path / "e.jsonl")[0]["answers"]["factors"] == []
    assert main(["export-cases", str(db), "-o", str(tmp_path / "e.csv")]) == 0
    with open(tmp_path / "e.csv", encoding="utf-8-sig", newline="") as handle:
        assert next(csv.DictReader(handle))["factors"] == "(none)"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-o", "{dir}/x.xlsx"], "'.xlsx' is not a case file format; end the file name with .jsonl or .csv"),
        (["-o", "{db}"], "is one of the databases being read"),
        (["-o", "{dir}/x.csv", "--status", "done"], "--status: 'done' is not a case status"),
    ],
)
def test_refusals_are_one_line_and_write_nothing(database, tmp_path, capsys, args, message):
    before = sorted(p.name for p in tmp_path.iterdir())
    argv = ["export-cases", str(database), *[a.format(dir=tmp_path, db=database) for a in args]]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


# --- round trip: export-cases, then import into a new database --------------------------------


def generated_cases(rubric, seed: int, count: int) -> list[tuple[str, str, str, dict]]:
    rng = random.Random(seed)
    sites = ["surrey", "sheffield", "cumbria"]
    return [(f"C{i:03d}", rng.choice(sites), rng.choice(["complete", "in_progress"]), random_answers(rubric, rng, blank_rate=0.1))
            for i in range(count)]


def import_file(path: Path, target: Path, rubric_id: str = THEMATIC) -> None:
    assert main(["import", str(target), str(path), "--rubric", rubric_id]) == 0


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), count=st.integers(1, 25), kind=st.sampled_from(["jsonl", "csv"]))
def test_answers_round_trip_through_the_import_formats(thematic_rubric, seed, count, kind):
    """What the importer accepts today: the answers. Status and notes wait for its next version (below)."""
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        source = make_db(folder / "source.db", thematic_rubric, generated_cases(thematic_rubric, seed, count))
        out = folder / f"cases.{kind}"
        assert main(["export-cases", str(source), "-o", str(out)]) == 0
        if kind == "jsonl":
            records = lines(out)
            out.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "status"}) + "\n" for r in records),
                           encoding="utf-8")
        else:
            with open(out, encoding="utf-8-sig", newline="") as handle:
                rows = list(csv.reader(handle))
            with open(out, "w", encoding="utf-8-sig", newline="") as handle:
                csv.writer(handle).writerows([r[:3] + r[4:] for r in rows])  # without the status column
        import_file(out, folder / "copy.db")
        assert stored(folder / "copy.db") == stored(source)


@pytest.mark.parametrize("kind", ["jsonl", "csv"])
def test_statuses_notes_and_empty_selections_round_trip(thematic_rubric, tmp_path, kind):
    cases = generated_cases(thematic_rubric, 7, 12)
    source = make_db(tmp_path / "source.db", thematic_rubric, cases)
    with Store.open(source, create=False) as store:
        uuids = [c.uuid for c in store.list_cases(order_by="case_ref", descending=False)]
        service = store.service("t")
        from audit.engine import evaluate

        for uuid in uuids:  # generated "complete" cases with required gaps cannot exist (import refuses them)
            if store.case(uuid).status != "in_progress" and evaluate(thematic_rubric, store.answers(uuid)).missing_required:
                service.set_status(uuid, "in_progress")
        if store.case(uuids[0]).status != "in_progress":  # a finished case is read-only: reopened to take the note
            service.set_status(uuids[0], "in_progress")
        service.note(uuids[0], "sentence_type", "=from the court record")
        with_factors = [u for u in uuids if "factors" in store.answers(u)]
        if with_factors:  # "None of these", as the case service stores it
            store.db.execute("UPDATE answer_data SET value = '[]' WHERE case_id = (SELECT id FROM cases WHERE uuid = ?) AND question_key = (SELECT id FROM question_keys WHERE question_id = 'factors')", [with_factors[0]])
            store.db.execute("DELETE FROM answer_data WHERE case_id = (SELECT id FROM cases WHERE uuid = ?) AND question_key IN (SELECT id FROM question_keys WHERE question_id LIKE 'services_%')", [with_factors[0]])
    out = tmp_path / f"cases.{kind}"
    assert main(["export-cases", str(source), "-o", str(out), "--include-notes"]) == 0
    import_file(out, tmp_path / "copy.db")
    assert stored(tmp_path / "copy.db") == stored(source)

    def statuses_and_notes(path: Path) -> dict:
        with Store.open(path, create=False) as store:
            return {(c.site, c.case_ref): (c.status, {q: r["note"] for q, r in store.answer_rows(c.uuid).items() if r["note"]})
                    for c in store.list_cases(limit=1000)}

    assert statuses_and_notes(tmp_path / "copy.db") == statuses_and_notes(source)


@given(st.text(alphabet=st.sampled_from(["'", "=", "+", "-", "@", "\t", "a", " ", "1"]), max_size=8))
def test_the_formula_apostrophe_is_taken_off_again_by_import_and_only_it(text):
    from audit.writers.safety import csv_read, csv_safe, looks_like_formula

    written = csv_safe(text)
    assert not looks_like_formula(written)  # no spreadsheet runs it
    assert csv_read(written) == text  # and the import gives back exactly what was there
