"""``audit import``: JSON Lines and wide CSV, as other people's tools write them.

The files here are not made by our own code: hand-written fixtures saved the
way Excel saves "CSV UTF-8" (tests/fixtures/import/), and files produced by a
small writer below that follows only the interface spec
(shared/spec/interfaces.md, "Import files", and shared/spec/rubrics.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import pty
import random
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

import audit.engine
import audit.importer
from audit.cli import main
from audit.errors import AuditError, Problems
from audit.importer import SHOWN_ERRORS, column_letter, import_file
from audit.store import Store

FIXTURES = Path(__file__).parent / "fixtures" / "import"
AUDIT = Path(sys.executable).with_name("audit")
SITES = ["waltham_forest", "sheffield", "stockport", "colwyn_bay", "cumbria", "surrey", "warwickshire"]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stored(db: Path) -> dict[tuple[str, str], dict]:
    """(site, case_ref) -> {question id: value} straight from SQLite, not through the store."""
    conn = sqlite3.connect(db)
    try:
        out: dict[tuple[str, str], dict] = {(s, r): {} for s, r in conn.execute("SELECT site, case_ref FROM cases")}
        rows = conn.execute("SELECT c.site, c.case_ref, a.question_id, a.value FROM answers a JOIN cases c ON c.uuid = a.case_uuid")
        for site, ref, qid, value in rows:
            out[(site, ref)][qid] = json.loads(value)
        return out
    finally:
        conn.close()


def errors_of(excinfo) -> list[str]:
    return [str(p) for p in excinfo.value.problems]


def refused(tmp_path: Path, rubric, content: bytes, name: str = "c.csv") -> tuple[Path, list[str]]:
    """Write ``content`` as an import file, import it into a new database, and return the errors listed."""
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(Problems) as excinfo:
        import_file(tmp_path / "x.db", path, rubric)
    assert not (tmp_path / "x.db").exists()
    return path, errors_of(excinfo)


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["import", *args])
    out, err = capsys.readouterr()
    return code, out, err


# --- an independent writer, following the spec tables only ---------------------------------

YES_NO = {"yes": "Yes", "no": "No"}
YES_NO_NA = {"yes": "Yes", "no": "No", "na": "Not applicable"}
OFFENCES = {
    "violence": "Violence against the person",
    "breach_order": "Breach of restraining order or breach of non-molestation order",
    "sexual": "Sexual offence", "burglary": "Burglary", "robbery": "Robbery",
    "theft": "Theft and handling stolen goods", "fraud": "Fraud and forgery", "criminal_damage": "Criminal damage",
    "drugs": "Drug offences", "motoring": "Motoring offences", "other": "Other offences not listed above",
}
FACTORS = {
    "attitudes": "Attitudes to offending", "family": "Family and relationships", "thinking": "Thinking and behaviour",
    "lifestyle": "Lifestyle and associates", "drugs": "Drug misuse", "alcohol": "Alcohol misuse",
    "ete": "Education, training and employment", "accommodation": "Accommodation",
}
CHANGE = {"reduced": "Reduced", "same": "Stayed the same", "increased": "Increased"}


def statutory(a):
    return a.get("sentence_type") not in (None, "non_statutory")


def answered_yes(qid):
    return lambda a: a.get(qid) == "yes"


def has_factor(code):
    return lambda a: code in a.get("factors", [])


def always(a):
    return True


# (id, options or (low, high) for an integer, multi?, applies)
THEMATIC = [
    ("sentence_type", {"community": "Community sentence", "post_release": "Post-release supervision",
                       "non_statutory": "Non-statutory supervision"}, False, always),
    ("lead_agency", {"crc": "CRC", "nps": "NPS", "police": "Police"}, False, always),
    ("lead_professional", YES_NO, False, always),
    ("domestic_abuse", YES_NO, False, always),
    ("index_offence", OFFENCES, False, statutory),
    ("rosh", {"low": "Low", "medium": "Medium", "high": "High", "very_high": "Very high"}, False, statutory),
    ("previous_convictions", (0, 500), False, statutory),
    ("age", (10, 120), False, statutory),
    ("gender", {"male": "Male", "female": "Female", "other": "Other"}, False, statutory),
    ("ethnicity", {"white": "White", "mixed": "Mixed", "asian": "Asian or Asian British", "black": "Black or Black British",
                   "other": "Other ethnic group"}, False, statutory),
    ("ro_knew_reasons", YES_NO, False, statutory),
    ("reasons_explained", YES_NO, False, statutory),
    ("assessment_completed", YES_NO, False, always),
    ("assessment_engaging", YES_NO, False, answered_yes("assessment_completed")),
    ("assessment_desistance", YES_NO, False, answered_yes("assessment_completed")),
    ("factors", FACTORS, True, answered_yes("assessment_completed")),
    ("assessment_partners", YES_NO, False, answered_yes("assessment_completed")),
    ("assessment_safety", YES_NO, False, answered_yes("assessment_completed")),
    ("planning_engaging", YES_NO, False, statutory),
    ("planning_reoffending", YES_NO, False, statutory),
    ("planning_iom_requirements", YES_NO, False, statutory),
    ("planning_roles", YES_NO, False, statutory),
    ("planning_safety", YES_NO_NA, False, statutory),
    *[(f"services_{code}", YES_NO, False, has_factor(code)) for code in FACTORS],
    ("supported_to_comply", YES_NO, False, statutory),
    ("delivery_safety", YES_NO_NA, False, statutory),
    ("complied", YES_NO, False, always),
    ("on_licence", YES_NO, False, statutory),
    ("recalled", YES_NO, False, answered_yes("on_licence")),
    ("review_sufficient", YES_NO_NA, False, statutory),
    ("review_involved", YES_NO, False, statutory),
    ("review_safety", YES_NO_NA, False, statutory),
    ("deselected", YES_NO, False, always),
    ("exit_strategy", YES_NO, False, answered_yes("deselected")),
    ("reoffended", YES_NO, False, statutory),
    ("reoffending_frequency", {**CHANGE, "na": "Not applicable"}, False, answered_yes("reoffended")),
    ("reoffending_seriousness", CHANGE, False, answered_yes("reoffended")),
]

CORE = [
    ("iom_status", YES_NO, False, always),
    ("principal_offence", OFFENCES, False, always),
    ("assessment_engaging", YES_NO, False, always),
    ("assessment_desistance", YES_NO, False, always),
    ("factors", FACTORS, True, always),
    ("assessment_safety", YES_NO, False, always),
    ("planning_engaging", YES_NO, False, always),
    ("planning_reoffending", YES_NO, False, always),
    ("planning_safety", YES_NO_NA, False, always),
    ("delivery_engaging", YES_NO, False, always),
    ("delivery_desistance", YES_NO, False, always),
    ("delivery_safety", YES_NO_NA, False, always),
    *[(f"services_{code}", YES_NO, False, has_factor(code)) for code in FACTORS],
    ("review_compliance", YES_NO_NA, False, always),
    ("review_desistance", YES_NO_NA, False, always),
    ("review_safety", YES_NO_NA, False, always),
    ("ro_interviewed", YES_NO, False, always),
    ("ro_desistance_relationships", YES_NO, False, answered_yes("ro_interviewed")),
    ("ro_harm_relationships", YES_NO, False, answered_yes("ro_interviewed")),
]
# the questions other answers depend on are always answered where they apply
DRIVERS = {"sentence_type", "assessment_completed", "factors", "on_licence", "deselected", "reoffended", "ro_interviewed"}


def invent_case(questions, rng: random.Random) -> dict:
    """Codes for one case, consistent with the spec's applicability rules."""
    answers: dict = {}
    for qid, options, multi, applies in questions:
        if not applies(answers) or (qid not in DRIVERS and rng.random() < 0.05):
            continue
        if isinstance(options, tuple):
            answers[qid] = rng.randint(options[0], min(options[1], options[0] + 50))
        elif multi:
            picked = [code for code in options if rng.random() < 0.35] or [rng.choice(list(options))]
            answers[qid] = picked
        else:
            answers[qid] = rng.choice(list(options))
    return answers


def messy(text: str, rng: random.Random) -> str:
    """How people type: any case, stray spaces."""
    text = rng.choice([text, text.upper(), text.lower(), text.title()])
    return rng.choice(["", " ", "  "]) + text + rng.choice(["", " "])


def as_cell(options, value, rng: random.Random) -> str:
    """A CSV cell as a person would fill it: codes or labels, ';'-joined multi-choice."""
    if isinstance(options, tuple):
        return messy(str(value), rng)
    if isinstance(value, list):
        return rng.choice([";", "; ", " ; "]).join(messy(rng.choice([c, options[c]]), rng) for c in value)
    return messy(rng.choice([value, options[value]]), rng)


def excel_quote(cell: str) -> str:
    return '"' + cell.replace('"', '""') + '"' if any(ch in cell for ch in ',"\r\n') else cell


def write_excel_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    """As Excel's "CSV UTF-8": a BOM, CRLF line ends, quotes only where needed."""
    lines = [",".join(excel_quote(c) for c in row) for row in [header, *rows]]
    path.write_bytes(b"\xef\xbb\xbf" + ("\r\n".join(lines) + "\r\n").encode("utf-8"))


def thematic_sample(count: int = 60, seed: int = 60) -> list[dict]:
    rng = random.Random(seed)
    cases = []
    for index in range(count):
        answers = invent_case(THEMATIC, rng)
        if index == 3:  # make sure the sample has a non-statutory case and a recall
            answers = {"sentence_type": "non_statutory", "lead_agency": "police", "assessment_completed": "no",
                       "complied": "yes", "deselected": "no"}
        cases.append({"case_ref": f"T{index + 1:03d}", "site": SITES[index % 7], "inspector": f"insp{index % 5}",
                      "answers": answers})
    return cases


def thematic_csv(path: Path, cases: list[dict], seed: int = 61) -> tuple[list[str], list[list[str]]]:
    rng = random.Random(seed)
    header = ["case_ref", "site", "inspector", *(q[0] for q in THEMATIC)]
    rows = []
    for case in cases:
        cells = [case["case_ref"], case["site"], case["inspector"]]
        for qid, options, _multi, _applies in THEMATIC:
            value = case["answers"].get(qid)
            cells.append("" if value is None else as_cell(options, value, rng))
        rows.append(cells)
    write_excel_csv(path, header, rows)
    return header, rows


def core_sample(count: int = 3308, seed: int = 3308) -> list[dict]:
    rng = random.Random(seed)
    return [
        {"case_ref": f"C{index + 1:05d}", "site": SITES[index % 7], "inspector": f"insp{index % 11}",
         "answers": invent_case(CORE, rng)}
        for index in range(count)
    ]


def core_jsonl_lines(cases: list[dict], seed: int = 3309) -> list[str]:
    """One JSON object a line; some answers as labels, some unanswered ones as null."""
    rng = random.Random(seed)
    options = {q[0]: q[1] for q in CORE}
    lines = []
    for case in cases:
        answers = {}
        for qid, value in case["answers"].items():
            if rng.random() < 0.2:
                value = [options[qid][v] for v in value] if isinstance(value, list) else options[qid][value]
            answers[qid] = value
        for qid in options:
            if qid not in answers and rng.random() < 0.3:
                answers[qid] = None
        lines.append(json.dumps({**case, "answers": answers}))
    return lines


def write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


# --- files as Excel and people write them ----------------------------------------------------


def test_excel_csv_with_bom_crlf_labels_and_stray_spaces(tmp_db_path, thematic_rubric):
    raw = (FIXTURES / "excel_thematic.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw  # the fixture is what Excel writes
    result = import_file(tmp_db_path, FIXTURES / "excel_thematic.csv", thematic_rubric)
    assert (result.cases, result.answers) == (4, 34)
    data = stored(tmp_db_path)
    assert data[("Sheffield", "T001")] == {
        "sentence_type": "post_release", "lead_agency": "nps", "age": 23, "gender": "male", "previous_convictions": 14,
        "assessment_completed": "yes", "factors": ["thinking", "drugs", "ete"], "services_ete": "yes",
        "services_drugs": "no", "deselected": "no", "planning_safety": "na",
    }
    assert data[("Sheffield", "T002")] == {
        "sentence_type": "community", "lead_agency": "crc", "age": 31, "gender": "female", "previous_convictions": 3,
        "assessment_completed": "yes", "factors": ["attitudes", "family"], "deselected": "yes", "exit_strategy": "no",
        "planning_safety": "yes",
    }
    assert data[("Sheffield", "T003")] == {
        "sentence_type": "non_statutory", "lead_agency": "police", "assessment_completed": "no", "deselected": "no",
    }
    assert data[("Sheffield", "T004")]["exit_strategy"] == "yes"
    conn = sqlite3.connect(tmp_db_path)
    inspectors = dict(conn.execute("SELECT case_ref, inspector FROM cases"))
    # "Not applicable" is stored, applies, and is never in a base
    na = conn.execute(
        "SELECT a.applies, a.counted FROM answers a JOIN cases c ON c.uuid = a.case_uuid "
        "WHERE c.case_ref = 'T001' AND a.question_id = 'planning_safety'"
    ).fetchone()
    origin = conn.execute("SELECT DISTINCT origin_file FROM cases").fetchall()
    conn.close()
    assert inspectors == {"T001": "JB", "T002": "jb", "T003": "AK", "T004": "AK"}
    assert na == (1, 0)
    assert origin == [("excel_thematic.csv",)]


def test_jsonl_with_labels_nulls_numbers_and_crlf(tmp_db_path, thematic_rubric):
    result = import_file(tmp_db_path, FIXTURES / "labels.jsonl", thematic_rubric)
    assert result.cases == 4
    data = stored(tmp_db_path)
    assert data[("stockport", "J001")] == {
        "sentence_type": "community", "lead_agency": "police", "age": 27, "assessment_completed": "yes",
        "factors": ["drugs", "alcohol", "accommodation"], "services_drugs": "yes", "complied": "no",
    }
    assert data[("stockport", "1002")] == {"sentence_type": "non_statutory", "deselected": "yes", "exit_strategy": "no"}
    assert data[("stockport", "J003")] == {}  # a case with no answers yet is still a case
    assert data[("stockport", "J004")] == {
        "sentence_type": "post_release", "on_licence": "yes", "recalled": "no", "review_sufficient": "na",
    }
    assert result.answers == sum(len(a) for a in data.values())


def test_60_case_thematic_csv_imports_every_answer(tmp_path, thematic_rubric):
    cases = thematic_sample()
    path = tmp_path / "thematic.csv"
    thematic_csv(path, cases)
    db = tmp_path / "thematic.db"
    result = import_file(db, path, thematic_rubric)
    expected = {(c["site"], c["case_ref"]): c["answers"] for c in cases}
    assert result.cases == 60 and result.answers == sum(len(a) for a in expected.values())
    data = stored(db)
    assert data == expected
    conn = sqlite3.connect(db)
    # every imported answer applies; only "Not applicable" answers stay out of the base
    flags = conn.execute("SELECT count(*), sum(applies), sum(counted) FROM answers").fetchone()
    na = conn.execute("SELECT count(*) FROM answers WHERE value = '\"na\"'").fetchone()[0]
    conn.close()
    assert flags == (result.answers, result.answers, result.answers - na)
    assert na > 0


def test_3308_case_core_jsonl_imports_every_answer(tmp_path, core_rubric):
    cases = core_sample()
    path = tmp_path / "core.jsonl"
    write_lines(path, core_jsonl_lines(cases))
    db = tmp_path / "core.db"
    result = import_file(db, path, core_rubric)
    expected = {(c["site"], c["case_ref"]): c["answers"] for c in cases}
    assert result.cases == 3308
    assert result.answers == sum(len(a) for a in expected.values())
    assert stored(db) == expected


def test_each_case_is_evaluated_once_and_the_store_does_not_re_evaluate(tmp_path, thematic_rubric, monkeypatch):
    calls = {"importer": 0, "store": 0}
    real = audit.importer.evaluate

    def importer_evaluate(*args, **kwargs):
        calls["importer"] += 1
        return real(*args, **kwargs)

    def store_evaluate(*args, **kwargs):
        calls["store"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(audit.importer, "evaluate", importer_evaluate)
    monkeypatch.setattr(audit.engine, "evaluate", store_evaluate)  # the store reaches it through the counting module
    path = tmp_path / "thematic.csv"
    thematic_csv(path, thematic_sample())
    import_file(tmp_path / "t.db", path, thematic_rubric)
    assert calls == {"importer": 60, "store": 0}


# --- planted errors: every one listed, nothing written ---------------------------------------


@pytest.fixture
def existing_db(tmp_path, thematic_rubric) -> Path:
    """A database that already holds case T900 at sheffield."""
    db = tmp_path / "site.db"
    with Store.open(db) as store:
        case = store.create_case("T900", "sheffield", thematic_rubric, "jb")
        store.set_answer(case.uuid, "sentence_type", "community")
    return db


def test_planted_csv_errors_are_all_listed_and_the_database_is_unchanged(tmp_path, existing_db, thematic_rubric):
    cases = thematic_sample()
    header, rows = thematic_csv(tmp_path / "clean.csv", cases)
    col = {name: column_letter(i) for i, name in enumerate(header)}
    row_of = {c["case_ref"]: i for i, c in enumerate(cases)}  # index into rows; spreadsheet row = index + 2

    def put(ref: str, qid: str, text: str) -> int:
        rows[row_of[ref]][header.index(qid)] = text
        return row_of[ref] + 2

    header = [*header, "assessment_complete"]  # unknown question id: a typo'd extra column
    rows = [[*r, ""] for r in rows]
    statutory_refs = [c["case_ref"] for c in cases if c["answers"]["sentence_type"] != "non_statutory"]
    r_option = put(statutory_refs[0], "lead_agency", "probation")  # unknown option code
    r_type = put(statutory_refs[1], "age", "twenty")  # wrong type
    r_range = put(statutory_refs[2], "previous_convictions", "900")  # out of range
    # an answer to a question that does not apply: T004 is non-statutory
    r_rule = put("T004", "planning_engaging", "Yes")
    # duplicate case_ref within the file (same site), and against the database
    rows[row_of["T015"]][0:2] = ["T008", cases[row_of["T008"]]["site"]]
    r_dup = row_of["T015"] + 2
    rows[row_of["T020"]][0:2] = ["T900", "sheffield"]
    r_dup_db = row_of["T020"] + 2
    rows[row_of["T030"]][0] = ""  # missing case_ref
    rows[row_of["T031"]][1] = "  "  # missing site
    rows[row_of["T040"]] = rows[row_of["T040"]][:10]  # a row with the wrong number of cells
    path = tmp_path / "cases.csv"
    write_excel_csv(path, header, rows)

    before = sha256(existing_db)
    with pytest.raises(Problems) as excinfo:
        import_file(existing_db, path, thematic_rubric)
    listed = errors_of(excinfo)
    text = "\n".join(listed)
    unknown_col = column_letter(len(header) - 1)
    expected = [
        (f"cases.csv row 1, column {unknown_col} (assessment_complete)", "unknown question id 'assessment_complete' (did you mean 'assessment_completed'?)"),
        (f"cases.csv row {r_option}, column {col['lead_agency']} (lead_agency)", "'probation' is not an option code or label"),
        (f"cases.csv row {r_type}, column {col['age']} (age)", "'twenty' is not a whole number"),
        (f"cases.csv row {r_range}, column {col['previous_convictions']} (previous_convictions)", "900 is out of range 0-500"),
        (f"cases.csv row {r_rule}, column {col['planning_engaging']} (planning_engaging)",
         "planning_engaging is answered 'yes' but does not apply to this case: section 'planning' applies only if "
         "`sentence_type != \"non_statutory\"`, and sentence_type is 'non_statutory' (column D (sentence_type))"),
        (f"cases.csv row {r_dup}, column A (case_ref)", f"case_ref 'T008' at site '{cases[row_of['T008']]['site']}' is also on row {row_of['T008'] + 2}"),
        (f"cases.csv row {r_dup_db}, column A (case_ref)", f"case_ref 'T900' at site 'sheffield' is already in {existing_db}"),
        (f"cases.csv row {row_of['T030'] + 2}, column A (case_ref)", "case_ref is empty"),
        (f"cases.csv row {row_of['T031'] + 2}, column B (site)", "site is empty"),
        (f"cases.csv row {row_of['T040'] + 2}", f"has 10 cells but the header has {len(header)}"),
    ]
    for where, message in expected:
        assert any(line.startswith(str(tmp_path / where)) and message in line for line in listed), (where, message, text)
    assert len(listed) == len(expected), text
    assert excinfo.value.summary == f"{path}: {len(expected)} errors; nothing was imported and {existing_db} is unchanged (rows are numbered as in a spreadsheet: the header is row 1)"
    assert sha256(existing_db) == before
    assert not Path(f"{existing_db}-wal").exists() or Path(f"{existing_db}-wal").stat().st_size == 0
    assert list(stored(existing_db)) == [("sheffield", "T900")]


def test_planted_jsonl_errors_are_all_listed_and_the_database_is_unchanged(tmp_path, core_rubric):
    db = tmp_path / "core.db"
    lines = core_jsonl_lines(core_sample())
    write_lines(tmp_path / "first.jsonl", lines[:10])
    import_file(db, tmp_path / "first.jsonl", core_rubric)  # C00001..C00010 are now in the database
    lines = lines[10:]  # the file starts at C00011 on line 1

    def edit(number: int, change) -> int:
        record = json.loads(lines[number - 1])
        change(record)
        lines[number - 1] = json.dumps(record)
        return number

    lines[99] = lines[99][:40]  # line 100: malformed (truncated) JSON
    edit(200, lambda r: r["answers"].update({"iom_stat": "yes"}))  # unknown question id
    edit(300, lambda r: r["answers"].update({"factors": ["drugs", "gambling"]}))  # unknown option in a list
    edit(400, lambda r: r["answers"].update({"iom_status": True}))  # wrong type
    edit(500, lambda r: r["answers"].update({"ro_interviewed": "No", "ro_harm_relationships": "yes"}))  # does not apply
    edit(600, lambda r: r.update({"case_ref": json.loads(lines[0])["case_ref"], "site": json.loads(lines[0])["site"]}))
    edit(700, lambda r: r.update({"case_ref": "C00003", "site": SITES[2]}))  # already in the database
    edit(800, lambda r: r.pop("case_ref"))
    edit(900, lambda r: r.update({"site": None}))
    edit(1000, lambda r: r.update({"answers": ["iom_status", "yes"]}))
    edit(1100, lambda r: r.update({"stage": "complete"}))
    edit(1101, lambda r: r.update({"stage": "complete"}))
    path = tmp_path / "core.jsonl"
    write_lines(path, lines)
    before = sha256(db)
    with pytest.raises(Problems) as excinfo:
        import_file(db, path, core_rubric)
    listed = errors_of(excinfo)
    first = json.loads(lines[0])
    p = str(path)
    expected = [
        (f"{p} line 100, column 41", "not valid JSON"),
        (f"{p} line 200, answers.iom_stat", "unknown question id 'iom_stat' (did you mean 'iom_status'?)"),
        (f"{p} line 300, answers.factors", "'gambling' is not an option code or label"),
        (f"{p} line 400, answers.iom_status", "true is not an option code or label (write \"yes\" or \"no\", in quotes); use one of yes, no"),
        (f"{p} line 500, answers.ro_harm_relationships",
         "does not apply to this case: it applies only if `ro_interviewed == \"yes\"`, and ro_interviewed is 'no' (answers.ro_interviewed)"),
        (f"{p} line 600, case_ref", f"case_ref '{first['case_ref']}' at site '{first['site']}' is also on line 1"),
        (f"{p} line 700, case_ref", f"case_ref 'C00003' at site '{SITES[2]}' is already in {db}"),
        (f"{p} line 800, case_ref", "case_ref is empty"),
        (f"{p} line 900, site", "site is empty"),
        (f"{p} line 1000, answers", "expected an object of question id: answer, got a list"),
        (f"{p} line 1100, stage", "unknown key 'stage' (did you mean 'site'?); a line has case_ref, site, inspector, status, answers and notes; also on 1 more line (1101)"),
    ]
    text = "\n".join(listed)
    for where, message in expected:
        assert any(line.startswith(where + ":") and message in line for line in listed), (where, message, text)
    assert len(listed) == len(expected), text
    assert sha256(db) == before
    assert len(stored(db)) == 10


def test_refused_import_does_not_create_the_database(tmp_path, thematic_rubric):
    path = tmp_path / "bad.csv"
    write_excel_csv(path, ["case_ref", "site", "age"], [["T1", "sheffield", "7"]])
    db = tmp_path / "new.db"
    with pytest.raises(Problems) as excinfo:
        import_file(db, path, thematic_rubric)
    assert "new.db was not created" in excinfo.value.summary
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]


def test_a_foreign_database_is_refused_and_left_alone(tmp_path, thematic_rubric):
    db = tmp_path / "other.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    before = sha256(db)
    with pytest.raises(AuditError, match="not an audit database"):
        import_file(db, FIXTURES / "labels.jsonl", thematic_rubric)
    assert sha256(db) == before


def test_a_case_added_meanwhile_by_someone_else_refuses_the_whole_import(existing_db, tmp_path, thematic_rubric):
    path = tmp_path / "two.jsonl"
    write_lines(path, [json.dumps({"case_ref": r, "site": "sheffield", "answers": {}}) for r in ("T1", "T2")])

    def meanwhile(phase, done, total):
        if phase == "checking" and done == total:  # after the check, before the write
            with Store.open(existing_db) as other:
                other.create_case("T2", "sheffield", thematic_rubric, "ak")

    with pytest.raises(AuditError, match=r"1 case\(s\) were added by someone else .*T2 at sheffield"):
        import_file(existing_db, path, thematic_rubric, progress=meanwhile)
    assert sorted(stored(existing_db)) == [("sheffield", "T2"), ("sheffield", "T900")]


# --- the file itself ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("empty.csv", b"", "the file is empty"),
        ("bom.csv", b"\xef\xbb\xbf\r\n", "the file is empty"),
        ("commas.csv", b",,,\r\n,,,\r\n", "the file is empty"),
        ("blank.jsonl", b"\n  \n", "the file is empty"),
        ("header.csv", b"\xef\xbb\xbfcase_ref,site,age\r\n,,\r\n", "has a header but no cases"),
        ("cases.xlsx", b"PK\x03\x04", "unknown file type ('.xlsx'); import reads .jsonl (JSON Lines) or .csv (UTF-8); in Excel use File > Save As > 'CSV UTF-8"),
        ("cases.json", b"[]", "unknown file type ('.json')"),
        ("cases", b"x", "unknown file type (no suffix)"),
        ("zipped.csv", b"PK\x03\x04rest", "is a spreadsheet workbook (zip), not CSV text"),
        ("wide.csv", "case_ref,site\r\nT1,sheffield\r\n".encode("utf-16"), "is UTF-16 text"),
        ("nul.jsonl", b'{"case_ref": "a\x00"}\n', "contains NUL bytes"),
    ],
)
def test_unusable_files_are_refused(tmp_path, thematic_rubric, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(AuditError) as excinfo:
        import_file(tmp_path / "x.db", path, thematic_rubric)
    assert message in str(excinfo.value)
    assert str(excinfo.value).startswith(str(path))
    assert not (tmp_path / "x.db").exists()


def test_a_file_that_is_not_utf8_names_its_lines_and_says_how_to_save(tmp_path, thematic_rubric):
    with pytest.raises(AuditError) as excinfo:
        import_file(tmp_path / "x.db", FIXTURES / "latin1.csv", thematic_rubric)
    message = str(excinfo.value)
    assert "not UTF-8 text (lines 2, 3; the first bad byte is 0xE9" in message
    assert "Save As > 'CSV UTF-8 (Comma delimited) (*.csv)'" in message


def test_a_semicolon_separated_csv_says_how_to_save_it(tmp_path, thematic_rubric):
    with pytest.raises(Problems) as excinfo:
        import_file(tmp_path / "x.db", FIXTURES / "semicolon.csv", thematic_rubric)
    assert errors_of(excinfo) == [
        f"{FIXTURES / 'semicolon.csv'} row 1: the header is separated by ';', not commas; "
        "in Excel use File > Save As > 'CSV UTF-8 (Comma delimited) (*.csv)'"
    ]


def test_malformed_json_gives_line_and_column(tmp_path, thematic_rubric):
    path, errors = refused(tmp_path, thematic_rubric, '{"case_ref": "T1", "site": "s", "answers": {}}\n{"case_ref": "T2" "site": "s"}\n"just text"\n'.encode(), "c.jsonl")
    assert errors == [
        f"{path} line 2, column 19: not valid JSON (Expecting ',' delimiter); each line must be one complete JSON object",
        f"{path} line 3: expected a JSON object {{\"case_ref\": ..., \"site\": ..., \"answers\": {{...}}}}, got text",
    ]


# --- CSV layout ------------------------------------------------------------------------------


def test_column_letters_match_a_spreadsheet():
    assert [column_letter(i) for i in (0, 1, 25, 26, 27, 51, 52, 701, 702)] == ["A", "B", "Z", "AA", "AB", "AZ", "BA", "ZZ", "AAA"]


def test_row_numbers_are_spreadsheet_rows_even_with_line_breaks_in_cells(tmp_path, thematic_rubric):
    path, errors = refused(
        tmp_path, thematic_rubric,
        b'case_ref,site,inspector,complied,note:complied\r\nT1,sheffield,jb,yes,"two\r\nlines"\r\nT2,sheffield,x,maybe,\r\n',
    )
    # line 4 of the file, but row 3 of the sheet
    assert errors == [f"{path} row 3, column D (complied): 'maybe' is not an option code or label; use one of yes, no"]


def test_a_line_break_in_an_identifier_is_a_located_error(tmp_path, thematic_rubric):
    path, errors = refused(tmp_path, thematic_rubric, b'case_ref,site,inspector,complied\r\nT1,sheffield,"two\r\nlines",yes\r\n')
    assert errors == [f"{path} row 2, column C (inspector): inspector two\\x0d\\x0alines contains a carriage return at "
                      "character 4; retype it"]


def test_unknown_columns_are_reported_once_and_other_rows_still_checked(tmp_path, thematic_rubric):
    rows = [[f"T{i}", "sheffield", "yes", "yes"] for i in range(50)]
    rows[7][3] = "maybe"
    path = tmp_path / "c.csv"
    write_excel_csv(path, ["case_ref", "site", "complyed", "complied"], rows)
    with pytest.raises(Problems) as excinfo:
        import_file(tmp_path / "x.db", path, thematic_rubric)
    assert errors_of(excinfo) == [
        f"{path} row 1, column C (complyed): unknown question id 'complyed' (did you mean 'complied'?) in rubric "
        "iom-thematic-2019; rename or delete the column",
        f"{path} row 9, column D (complied): 'maybe' is not an option code or label; use one of yes, no",
    ]


def test_header_names_match_ignoring_case_and_spaces_but_not_twice(tmp_path, thematic_rubric):
    path = tmp_path / "c.csv"
    write_excel_csv(path, ["Case Ref", " SITE ", "Sentence-Type", "Previous convictions", "complied"],
                    [["T1", "surrey", "community", "4", "No"]])
    import_file(tmp_path / "x.db", path, thematic_rubric)
    assert stored(tmp_path / "x.db") == {("surrey", "T1"): {"sentence_type": "community", "previous_convictions": 4, "complied": "no"}}
    write_excel_csv(path, ["case_ref", "site", "complied", "Complied"], [["T1", "surrey", "no", "no"]])
    with pytest.raises(Problems) as excinfo:
        import_file(tmp_path / "y.db", path, thematic_rubric)
    assert errors_of(excinfo) == [f"{path} row 1, column D (complied): 'complied' is also column C; keep one of them"]


def test_trailing_empty_cells_are_fine_but_extra_values_and_short_rows_are_not(tmp_path, thematic_rubric):
    path = tmp_path / "c.csv"
    path.write_bytes(
        b"case_ref,site,complied,,\r\n"
        b"T1,surrey,yes,,\r\n"        # Excel's trailing empty columns
        b"T2,surrey,no\r\n"           # short, but only the unnamed columns are missing
        b"T3,surrey,no,,,\r\n"        # one more empty cell than the header
        b",,,,\r\n"                   # a blank row
    )
    result = import_file(tmp_path / "x.db", path, thematic_rubric)
    assert result.cases == 3
    path.write_bytes(b"case_ref,site,complied,deselected\r\nT1,surrey,yes\r\nT2,surrey,no,no,yes\r\nT3,surrey,no,no\r\nT4,surrey,no,,,oops\r\n")
    with pytest.raises(Problems) as excinfo:
        import_file(tmp_path / "y.db", path, thematic_rubric)
    assert errors_of(excinfo) == [
        f"{path} row 2: has 3 cells but the header has 4; check for a missing or extra comma, or quote cells that contain commas",
        f"{path} row 3: has 5 cells but the header has 4; check for a missing or extra comma, or quote cells that contain commas",
        f"{path} row 5: has 6 cells but the header has 4; check for a missing or extra comma, or quote cells that contain commas",
    ]


def test_an_unnamed_column_with_values_is_an_error(tmp_path, thematic_rubric):
    path, errors = refused(tmp_path, thematic_rubric, b"case_ref,site,,complied\r\nT1,surrey,,yes\r\nT2,surrey,note,no\r\n")
    assert errors == [
        f"{path} row 1, column C: the column has no header but row 3 has a value ('note'); name it with a question id or delete it"
    ]


def test_a_header_without_case_ref_is_reported_once(tmp_path, thematic_rubric):
    path = tmp_path / "c.csv"
    write_excel_csv(path, ["site", "complied"], [["surrey", "yes"]] * 5)
    with pytest.raises(Problems) as excinfo:
        import_file(tmp_path / "x.db", path, thematic_rubric)
    assert errors_of(excinfo) == [f"{path} row 1: no case_ref column; the header starts case_ref,site[,inspector] then question ids"]


# --- --site ------------------------------------------------------------------------------------


def test_site_option_fills_a_file_without_sites(tmp_path, thematic_rubric):
    db = tmp_path / "x.db"
    import_file(db, FIXTURES / "no_site.csv", thematic_rubric, site="cumbria")
    assert stored(db) == {
        ("cumbria", "N1"): {"sentence_type": "community", "deselected": "no"},
        ("cumbria", "N2"): {"sentence_type": "post_release"},
    }
    with Store.open(db) as store:
        assert store.site == "cumbria"  # a database created for one site says so


def test_without_site_option_a_file_without_sites_is_refused(tmp_path, thematic_rubric):
    with pytest.raises(Problems) as excinfo:
        import_file(tmp_path / "x.db", FIXTURES / "no_site.csv", thematic_rubric)
    assert errors_of(excinfo) == [f"{FIXTURES / 'no_site.csv'} row 1: no site column; add a site column or pass --site SITE"]


def test_site_option_fills_empty_sites_accepts_its_own_and_refuses_others(tmp_path, thematic_rubric):
    path = tmp_path / "c.jsonl"
    write_lines(path, [
        json.dumps({"case_ref": "A", "answers": {}}),
        json.dumps({"case_ref": "B", "site": "", "answers": {}}),
        json.dumps({"case_ref": "C", "site": " Surrey ", "answers": {}}),
        json.dumps({"case_ref": "D", "site": "cumbria", "answers": {}}),
    ])
    with pytest.raises(Problems) as excinfo:
        import_file(tmp_path / "x.db", path, thematic_rubric, site="surrey")
    assert errors_of(excinfo) == [
        f"{path} line 4, site: site 'cumbria' differs from --site surrey; correct the row, or import without --site"
    ]
    write_lines(path, path.read_text().splitlines()[:3])
    import_file(tmp_path / "x.db", path, thematic_rubric, site="surrey")
    assert sorted(stored(tmp_path / "x.db")) == [("surrey", "A"), ("surrey", "B"), ("surrey", "C")]


# --- many errors ---------------------------------------------------------------------------------


def test_the_list_is_capped_but_every_error_is_counted(tmp_path, thematic_rubric):
    # 200 bad 'complied' (odd rows), 100 exit_strategy answers without deselected (the first 100 rows)
    rows = [[f"T{i}", "sheffield", "maybe" if i % 2 else "yes", "yes" if i < 100 else ""] for i in range(400)]
    path = tmp_path / "c.csv"
    write_excel_csv(path, ["case_ref", "site", "complied", "exit_strategy"], rows)
    with pytest.raises(Problems) as excinfo:
        import_file(tmp_path / "x.db", path, thematic_rubric)
    listed = errors_of(excinfo)
    assert len(listed) == SHOWN_ERRORS + 1
    assert sum("does not apply" in line for line in listed) == 100
    # the first 200 come from rows 2-201; the 100 past them are all bad 'complied'
    assert re.fullmatch(r"\.\.\. and 100 more errors \(100 unknown option or wrong value\)", listed[-1]), listed[-1]
    assert excinfo.value.summary == f"{path}: 300 errors; nothing was imported and {tmp_path / 'x.db'} was not created (rows are numbered as in a spreadsheet: the header is row 1)"


# --- the command line ------------------------------------------------------------------------------


def test_cli_imports_and_prints_a_summary(tmp_path, capsys):
    db = tmp_path / "x.db"
    code, out, err = cli(capsys, str(db), str(FIXTURES / "excel_thematic.csv"), "--rubric", "iom-thematic-2019")
    assert code == 0, err
    assert out == f"imported 4 cases (34 answers) into {db} from {FIXTURES / 'excel_thematic.csv'}\n"
    assert err == ""
    assert oct(db.stat().st_mode & 0o777) == "0o600"


def test_cli_refusal_lists_errors_on_stderr_and_exits_1(tmp_path, capsys, existing_db):
    path = tmp_path / "c.csv"
    write_excel_csv(path, ["case_ref", "site", "complied", "agee"], [["T900", "sheffield", "maybe", ""]])
    before = sha256(existing_db)
    code, out, err = cli(capsys, str(existing_db), str(path), "--rubric", "iom-thematic-2019")
    assert code == 1 and out == ""
    assert err.splitlines() == [
        f"error: {path} row 1, column D (agee): unknown question id 'agee' (did you mean 'age'?) in rubric iom-thematic-2019; rename or delete the column",
        f"error: {path} row 2, column C (complied): 'maybe' is not an option code or label; use one of yes, no",
        f"error: {path} row 2, column A (case_ref): case_ref 'T900' at site 'sheffield' is already in {existing_db}; remove the row, or change the reference",
        f"error: {path}: 3 errors; nothing was imported and {existing_db} is unchanged (rows are numbered as in a spreadsheet: the header is row 1)",
    ]
    assert sha256(existing_db) == before


def test_cli_unknown_rubric_and_swapped_arguments(tmp_path, capsys):
    code, _, err = cli(capsys, str(tmp_path / "x.db"), str(FIXTURES / "labels.jsonl"), "--rubric", "iom-thematic-2091")
    assert code == 1 and "no rubric with id 'iom-thematic-2091' (did you mean 'iom-thematic-2019'?)" in err
    code, _, err = cli(capsys, str(FIXTURES / "labels.jsonl"), str(tmp_path / "x.db"), "--rubric", "iom-thematic-2019")
    assert code == 1 and "the database comes first: audit import DB FILE" in err
    code, _, err = cli(capsys, str(tmp_path / "x.db"), str(tmp_path / "missing.csv"), "--rubric", "iom-thematic-2019")
    assert code == 1 and err == f"error: {tmp_path / 'missing.csv'}: no such file; check the path\n"
    assert not (tmp_path / "x.db").exists()


def test_cli_without_rubric_is_a_usage_error(tmp_path, capsys):
    code, _, err = cli(capsys, str(tmp_path / "x.db"), str(FIXTURES / "labels.jsonl"))
    assert code == 2 and "Missing option '--rubric'" in err


def test_real_command_never_shows_a_traceback(tmp_path):
    cases = tmp_path / "c.jsonl"
    cases.write_bytes(b'{"case_ref": "T1", "site": "s", "answers": {"age": [1, {"x": 2}], "factors": 7, "complied": {"a": 1}}}\n'
                      b'{"case_ref": ["x"], "site": 3.5, "inspector": 4, "answers": {"factors": [null, 1]}}\n'
                      + b"[" * 100000 + b"\n")
    done = subprocess.run([AUDIT, "import", tmp_path / "x.db", cases, "--rubric", "iom-thematic-2019"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    lines = done.stderr.splitlines()
    assert all(line.startswith("error: ") for line in lines)
    assert f"error: {cases} line 3: JSON nested too deeply; each line must be one flat case object" in lines
    assert f'error: {cases} line 1, answers.complied: {{"a": 1}} is not an option code or label; use one of yes, no' in lines
    assert f"error: {cases} line 2, site: site must be text, not a number" in lines
    assert lines[-1] == f"error: {cases}: 7 errors; nothing was imported and {tmp_path / 'x.db'} was not created"
    assert len(lines) == 8, done.stderr
    ok = subprocess.run([AUDIT, "import", tmp_path / "x.db", FIXTURES / "labels.jsonl", "--rubric", "iom-thematic-2019"],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0 and ok.stdout.startswith("imported 4 cases (14 answers)") and ok.stderr == ""


def test_a_progress_bar_shows_on_a_terminal_for_big_files_only(tmp_path):
    cases = core_sample(3308)
    path = tmp_path / "core.jsonl"
    write_lines(path, core_jsonl_lines(cases))

    def run(db_name: str, tty: bool) -> tuple[int, str]:
        if not tty:
            done = subprocess.run([AUDIT, "import", tmp_path / db_name, path, "--rubric", "hmip-core-2018"],
                                  capture_output=True, text=True, timeout=120)
            return done.returncode, done.stderr
        leader, follower = pty.openpty()
        proc = subprocess.Popen([AUDIT, "import", tmp_path / db_name, path, "--rubric", "hmip-core-2018"],
                                stdout=subprocess.DEVNULL, stderr=follower)
        os.close(follower)
        chunks = []
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        os.close(leader)
        return proc.wait(timeout=120), b"".join(chunks).decode("utf-8", "replace")

    code, err = run("tty.db", tty=True)
    assert code == 0 and "Checking" in err and "Writing" in err and "3308/3308" in err
    code, err = run("pipe.db", tty=False)
    assert code == 0 and err == ""


def test_duplicates_are_found_ignoring_case_and_spaces(tmp_path, existing_db, thematic_rubric):
    path = tmp_path / "c.csv"
    write_excel_csv(path, ["case_ref", "site"], [["t900", "Sheffield"], ["A1", "surrey"], [" a1", "SURREY "]])
    with pytest.raises(Problems) as excinfo:
        import_file(existing_db, path, thematic_rubric)
    assert errors_of(excinfo) == [
        f"{path} row 2, column A (case_ref): case_ref 't900' at site 'Sheffield' is already in {existing_db} "
        "(as 'T900' at 'sheffield'); remove the row, or change the reference",
        f"{path} row 4, column A (case_ref): case_ref 'a1' at site 'SURREY' is also on row 3 (as 'A1' at 'surrey'); "
        "each case needs its own reference",
    ]


def test_an_unclosed_quote_is_pointed_out(tmp_path, thematic_rubric):
    path, errors = refused(tmp_path, thematic_rubric, b'case_ref,site,inspector,complied\r\nT1,surrey,"jb,yes\r\nT2,surrey,ak,no\r\nT3,surrey,ak,no\r\n')
    assert errors == [f"{path} row 2: has 3 cells but the header has 4; one of its cells runs over 4 lines: check for an unclosed quote"]


def test_a_blank_first_row_is_not_a_header(tmp_path, thematic_rubric):
    path, errors = refused(tmp_path, thematic_rubric, b"\xef\xbb\xbf,,\r\ncase_ref,site,complied\r\nT1,surrey,yes\r\n")
    assert errors == [f"{path} row 1: is empty; the first row must be the header case_ref,site[,inspector],<question id>..."]


def test_a_one_case_summary_is_singular(tmp_path, capsys):
    path = tmp_path / "one.jsonl"
    write_lines(path, [json.dumps({"case_ref": "A", "site": "surrey", "answers": {"complied": "yes"}})])
    code, out, _ = cli(capsys, str(tmp_path / "x.db"), str(path), "--rubric", "iom-thematic-2019")
    assert code == 0 and out == f"imported 1 case (1 answer) into {tmp_path / 'x.db'} from {path}\n"


def test_an_import_into_a_read_only_database_is_refused_in_one_line(tmp_path, thematic_rubric, capsys):
    from tests.test_store import read_only

    db = tmp_path / "site.db"
    first = tmp_path / "first.csv"
    first.write_text("case_ref,site,sentence_type\nT1,sheffield,community\n")
    assert cli(capsys, str(db), str(first), "--rubric", "iom-thematic-2019")[0] == 0
    second = tmp_path / "second.csv"
    second.write_text("case_ref,site,sentence_type\nT2,sheffield,community\n")
    with read_only(db):
        digest = sha256(db)
        code, out, err = cli(capsys, str(db), str(second), "--rubric", "iom-thematic-2019")
        assert sha256(db) == digest
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "read-only" in err and "internal error" not in err, err


@pytest.mark.parametrize("field", ["case_ref", "site", "inspector"])
def test_a_lone_surrogate_escape_in_jsonl_text_is_a_located_error(tmp_path, thematic_rubric, field):
    # valid JSON, but "\ud800" decodes to text that cannot be stored as UTF-8
    record = {"case_ref": "T1", "site": "sheffield", "inspector": "jb", "answers": {"sentence_type": "community"}}
    line = json.dumps(record).replace(f'"{record[field]}"', f'"{record[field]}\\ud800"', 1)
    _, errors = refused(tmp_path, thematic_rubric, (line + "\n").encode(), "c.jsonl")
    assert len(errors) == 1 and errors[0].startswith(f"{tmp_path / 'c.jsonl'} line 1, {field}: "), errors
