"""Import files built to hurt, and the import formats' newer fields (status, notes, "None of these")."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from audit.errors import Problems
from audit.importer import import_file
from audit.store import Store

ROOT = Path(__file__).resolve().parent.parent


def errors(excinfo) -> list[str]:
    return [str(p) for p in excinfo.value.problems]


def test_a_number_of_thousands_of_digits_is_a_located_error(tmp_path, thematic_rubric):
    digits = "9" * 5000
    jsonl = tmp_path / "big.jsonl"
    jsonl.write_text('{"case_ref": "T1", "site": "s", "answers": {"sentence_type": "community", "age": ' + digits + "}}\n")
    csv = tmp_path / "big.csv"
    csv.write_text(f"case_ref,site,sentence_type,age\nT1,s,community,{digits}\n")
    with pytest.raises(Problems) as caught:
        import_file(tmp_path / "a.db", jsonl, thematic_rubric)
    assert errors(caught)[0].startswith(f"{jsonl} line 1: holds a number too long")
    with pytest.raises(Problems) as caught:
        import_file(tmp_path / "b.db", csv, thematic_rubric)
    assert errors(caught)[0].startswith(f"{csv} row 2, column D (age): '999999999999...' (5000 characters) is not a whole number")
    assert not (tmp_path / "a.db").exists() and not (tmp_path / "b.db").exists()


def test_a_line_with_800000_unknown_keys_is_reported_briefly(tmp_path, thematic_rubric):
    answers = {f"bogus_{i}": "x" for i in range(800_000)}
    answers["sentence_type"] = "community"
    path = tmp_path / "wide.jsonl"
    path.write_text(json.dumps({"case_ref": "T1", "site": "s", "answers": answers}) + "\n")
    with pytest.raises(Problems) as caught:
        import_file(tmp_path / "a.db", path, thematic_rubric)
    listed = errors(caught)
    assert len(listed) == 21  # twenty named, then the rest counted on one line
    assert listed[-1] == f"{path} line 1: ... and 799,980 more unknown keys on this line"


def test_status_notes_and_none_of_these_round_trip_through_both_formats(tmp_path, thematic_rubric):
    done = {"sentence_type": "non_statutory", "lead_agency": "police", "domestic_abuse": "no", "lead_professional": "yes",
            "assessment_completed": "yes", "assessment_engaging": "yes", "assessment_desistance": "no", "factors": [],
            "assessment_partners": "yes", "assessment_safety": "no", "complied": "yes", "deselected": "no"}
    jsonl = tmp_path / "cases.jsonl"
    jsonl.write_text(json.dumps({"case_ref": "T1", "site": "s", "status": "complete", "answers": done,
                                 "notes": {"complied": "attended every appointment"}}) + "\n")
    import_file(tmp_path / "j.db", jsonl, thematic_rubric)
    columns = ",".join(done)
    cells = ",".join("(none)" if value == [] else value for value in done.values())
    csv = tmp_path / "cases.csv"
    csv.write_text(f"case_ref,site,status,{columns},note:complied\nT1,s,complete,{cells},attended every appointment\n")
    import_file(tmp_path / "c.db", csv, thematic_rubric)
    for db in ("j.db", "c.db"):
        with Store.open_read_only(tmp_path / db) as store:
            (case,) = store.list_cases()
            rows = store.answer_rows(case.uuid)
            assert case.status == "complete"
            assert rows["factors"]["value"] == [] and rows["factors"]["counted"] is True
            assert rows["complied"]["note"] == "attended every appointment"


def test_complete_with_a_required_gap_and_an_unknown_status_are_located_errors(tmp_path, thematic_rubric):
    path = tmp_path / "c.jsonl"
    path.write_text(
        json.dumps({"case_ref": "T1", "site": "s", "status": "complete", "answers": {"sentence_type": "community"}}) + "\n"
        + json.dumps({"case_ref": "T2", "site": "s", "status": "finished", "answers": {}}) + "\n"
    )
    with pytest.raises(Problems) as caught:
        import_file(tmp_path / "a.db", path, thematic_rubric)
    listed = errors(caught)
    assert listed[0].startswith(f"{path} line 1, status: status is complete but ") and "are unanswered" in listed[0]
    assert listed[1] == f"{path} line 2, status: status 'finished' is not one of in_progress, complete"


def test_none_of_these_with_another_option_is_refused(tmp_path, thematic_rubric):
    path = tmp_path / "c.csv"
    path.write_text("case_ref,site,sentence_type,assessment_completed,factors\nT1,s,community,yes,(none); drugs\n")
    with pytest.raises(Problems) as caught:
        import_file(tmp_path / "a.db", path, thematic_rubric)
    assert "'(none)' (None of these) cannot be given with other options" in errors(caught)[0]


def test_import_refuses_another_rubric_unless_allowed(tmp_path, thematic_rubric, core_rubric):
    first = tmp_path / "t.csv"
    first.write_text("case_ref,site,sentence_type\nT1,s,community\n")
    import_file(tmp_path / "a.db", first, thematic_rubric)
    other = tmp_path / "c.csv"
    other.write_text("case_ref,site,iom_status\nC1,s,yes\n")
    from audit.errors import AuditError

    with pytest.raises(AuditError, match="keeps one rubric"):
        import_file(tmp_path / "a.db", other, core_rubric)
    import_file(tmp_path / "a.db", other, core_rubric, allow_rubric_change=True)


def test_export_never_writes_over_a_database(tmp_path, thematic_rubric):
    db = tmp_path / "x.json"  # a database with an export's suffix, as in issue #7
    source = tmp_path / "c.csv"
    source.write_text("case_ref,site,sentence_type\nT1,s,community\n")
    subprocess.run([sys.executable, "-m", "audit.cli", "import", str(tmp_path / "real.db"), str(source), "--rubric",
                    "iom-thematic-2019"], cwd=ROOT, check=True, capture_output=True)
    (tmp_path / "real.db").rename(db)
    other = tmp_path / "other.md"  # another audit database, named like a report
    subprocess.run([sys.executable, "-m", "audit.cli", "import", str(tmp_path / "other.db"), str(source), "--rubric",
                    "iom-thematic-2019"], cwd=ROOT, check=True, capture_output=True)
    (tmp_path / "other.db").rename(other)
    before = db.read_bytes(), other.read_bytes()
    for output, data, why in ((db, db, "is one of the databases being read"), (other, db, "is an audit database")):
        result = subprocess.run([sys.executable, "-m", "audit.cli", "export", "iom-thematic-2019", "--data",
                                 f"thematic={data}", "-o", str(output)], cwd=ROOT, capture_output=True, text=True)
        assert result.returncode == 1 and why in result.stderr, result.stderr
    assert (db.read_bytes(), other.read_bytes()) == before
