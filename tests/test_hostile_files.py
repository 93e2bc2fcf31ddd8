"""A database from another laptop is untrusted input: every command refuses a hostile one, and changes nothing.

Each variant below is a real audit database altered outside the tool. Every
command that opens a database (tui, import into it, merge target and source,
tabulate, export, backup, verify) must refuse it with one line naming the
file, exit 1, never run anything the file carries, and leave it byte for byte
as it was.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from audit.store import NewCase, Store

ROOT = Path(__file__).resolve().parent.parent
AUDIT = [sys.executable, "-m", "audit.cli"]
ANSWERS = {"sentence_type": "community", "lead_agency": "crc", "age": 30, "assessment_completed": "yes",
           "factors": ["drugs"], "services_drugs": "yes", "complied": "yes"}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def clean(tmp_path_factory, thematic_rubric) -> Path:
    path = tmp_path_factory.mktemp("clean") / "site.db"
    with Store.open(path, site="sheffield") as store:
        store.insert_cases(
            [NewCase(f"T{i:03d}", "sheffield", thematic_rubric, dict(ANSWERS), inspector="jb") for i in range(5)], who="jb"
        )
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return path


def _sql(*statements: str):
    def alter(conn: sqlite3.Connection) -> None:
        for statement in statements:
            conn.execute(statement)
    return alter


def _tamper_rubric(conn: sqlite3.Connection) -> None:
    """Swap two labels in the stored rubric text, keeping its sha256 (what a hostile site would do)."""
    sha, text = conn.execute("SELECT sha256, text FROM rubrics").fetchone()
    swapped = text.replace("low: Low", "low: TMP").replace("high: High", "high: Low").replace("low: TMP", "low: High")
    assert swapped != text
    conn.execute("UPDATE rubrics SET text = ? WHERE sha256 = ?", [swapped, sha])


def _tamper_options(conn: sqlite3.Connection) -> None:
    conn.execute("UPDATE options SET label = 'Very low' WHERE question_id = 'rosh' AND code = 'high'")


def _value(qid: str, value: str) -> callable:
    return _sql(f"UPDATE answer_data SET value = '{value}' WHERE question_key = (SELECT id FROM question_keys WHERE question_id = '{qid}')")


SCHEMA_ATTACKS = {
    "trigger": _sql("CREATE TRIGGER evil AFTER INSERT ON answer_data BEGIN DELETE FROM answer_data WHERE case_id = NEW.case_id; END"),
    "extra view": _sql("CREATE VIEW everything AS SELECT * FROM answers"),
    "extra table": _sql("CREATE TABLE exfiltrate (x TEXT)"),
    "extra index": _sql("CREATE INDEX sneaky ON answer_data (note)"),
    "altered view": _sql("DROP VIEW answers_readable",
                         "CREATE VIEW answers_readable AS SELECT 1 AS site"),
    "wrong user_version": _sql("PRAGMA user_version = 99"),
    "tampered rubric text": _tamper_rubric,
    "tampered option rows": _tamper_options,
}
#: name -> (change, the question a tabulation of it reads, or None when no count reads the bad value)
VALUE_ATTACKS = {
    "unknown code": (_value("lead_agency", '"maybe"'), "lead_agency"),
    "malformed json": (_value("lead_agency", "{not json"), "lead_agency"),
    "out of range": (_value("age", "999"), "age"),
    "unknown question": (_sql("INSERT INTO question_keys (question_id) VALUES ('no_such_question')",
                                "UPDATE answer_data SET question_key = (SELECT id FROM question_keys WHERE question_id = 'no_such_question') "
                                "WHERE question_key = (SELECT id FROM question_keys WHERE question_id = 'lead_agency')"), None),
    "text for a number": (_value("age", '"thirty"'), "age"),
}


def hostile(clean: Path, folder: Path, attack) -> Path:
    path = folder / "hostile.db"
    shutil.copy(clean, path)
    conn = sqlite3.connect(path)
    try:
        attack(conn)
        conn.commit()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
    return path


def refused_by(args: list[str], files: list[Path], *fragments: str) -> str:
    before = {p: sha256(p) for p in files}
    result = subprocess.run([*AUDIT, *args], cwd=ROOT, capture_output=True, text=True, timeout=180)
    assert result.returncode == 1, (args, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr, result.stderr
    assert {p: sha256(p) for p in files} == before, args
    for fragment in fragments:
        assert fragment in result.stderr, (args, result.stderr)
    return result.stderr


def tui_refuses(path: Path) -> str:
    """The UI: refused when opened, or by its background check before any write."""
    from audit.errors import AuditError
    from audit.tui.app import AuditApp

    try:
        app = AuditApp(path)
    except AuditError as exc:
        return str(exc)

    async def scenario() -> None:
        async with app.run_test(size=(120, 40)) as pilot:
            app.first_paint_done()
            for _ in range(50):
                await pilot.pause(0.05)
                if app.failure:
                    break

    asyncio.run(scenario())
    assert app.failure, "the UI accepted a hostile file"
    return app.failure


def every_command(path: Path, folder: Path, clean: Path, *, values_only: bool, tabulated: str | None = "lead_agency") -> None:
    other = folder / "other.db"
    shutil.copy(clean, other)
    case_csv = folder / "new.csv"
    case_csv.write_text("case_ref,site,sentence_type\nNEW1,sheffield,community\n")
    shown = str(path)
    runs = [
        (["merge", str(folder / "national.db"), shown], [path]),  # as a source
        (["backup", shown, str(folder / "copy.db")], [path]),
        (["verify", shown], [path]),
    ]
    if tabulated:  # a count never reads a bad value without refusing the file
        runs += [
            (["tabulate", shown, tabulated], [path]),
            (["export", "iom-thematic-2019", "--data", f"thematic={shown}", "-o", str(folder / "f.csv")], [path]),
        ]
    if not values_only:  # a target's own values are its owner's; its schema and rubrics are always checked
        runs += [
            (["merge", shown, str(other)], [path, other]),  # as the target
            (["import", shown, str(case_csv), "--rubric", "iom-thematic-2019"], [path]),
        ]
    for args, files in runs:
        refused_by(args, files, shown)
    assert not (folder / "national.db").exists() and not (folder / "copy.db").exists() and not (folder / "f.csv").exists()
    before = sha256(path)
    message = tui_refuses(path)
    assert shown in message and sha256(path) == before


@pytest.mark.parametrize("name", sorted(SCHEMA_ATTACKS))
def test_a_hostile_schema_or_rubric_is_refused_by_every_command(clean, tmp_path, name):
    path = hostile(clean, tmp_path, SCHEMA_ATTACKS[name])
    every_command(path, tmp_path, clean, values_only=False)


@pytest.mark.parametrize("name", sorted(VALUE_ATTACKS))
def test_a_hostile_value_is_refused_by_every_command_that_reads_it(clean, tmp_path, name):
    change, question = VALUE_ATTACKS[name]
    path = hostile(clean, tmp_path, change)
    every_command(path, tmp_path, clean, values_only=True, tabulated=question)


def test_a_foreign_trigger_never_fires(clean, tmp_path):
    """The trigger of issue #7: importing into, or merging, a file that carries it deletes nothing."""
    path = hostile(clean, tmp_path, SCHEMA_ATTACKS["trigger"])
    refused_by(["merge", str(tmp_path / "national.db"), str(path)], [path])
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    assert conn.execute("SELECT count(*) FROM answers").fetchone()[0] == 5 * len(ANSWERS)
    conn.close()


def test_merge_names_the_file_case_and_question_of_every_bad_value(clean, tmp_path):
    path = hostile(clean, tmp_path, _value("age", "999"))
    message = refused_by(["merge", str(tmp_path / "national.db"), str(path)], [path])
    lines = [line for line in message.splitlines() if "question age" in line]
    assert len(lines) == 5 and all(str(path) in line and "999 is out of range 10-120" in line for line in lines), message
    assert "case T000 at sheffield" in message


def test_a_recount_never_trusts_a_sources_verdicts(clean, tmp_path):
    """A source that marks a "Not applicable" answer as counted: the merged figures are the target's own counting."""
    def counted_na(conn):
        conn.execute("UPDATE answer_data SET value = '\"na\"', counted = 1 WHERE question_key = (SELECT id FROM question_keys WHERE question_id = 'complied')")
    # complied is yes/no: na is not one of its codes, so that file is refused outright
    path = hostile(clean, tmp_path, counted_na)
    refused_by(["merge", str(tmp_path / "national.db"), str(path)], [path], "complied")

    def counted_gap(conn):  # verdicts flipped on valid answers: merged, and recounted
        conn.execute("UPDATE answer_data SET counted = 1 - counted, applies = 1 - applies")
    flipped = hostile(clean, tmp_path / "x" if (tmp_path / "x").mkdir() or True else tmp_path, counted_gap)
    national = tmp_path / "national.db"
    result = subprocess.run([*AUDIT, "merge", str(national), str(flipped)], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    with Store.open_read_only(national) as merged, Store.open_read_only(clean) as original:
        ours = merged.conn.execute("SELECT question_id, applies, counted FROM answers ORDER BY 1, 2, 3").fetchall()
        theirs = original.conn.execute("SELECT question_id, applies, counted FROM answers ORDER BY 1, 2, 3").fetchall()
    assert ours == theirs


def test_json_bombs_in_stored_values_are_refused_not_loaded(clean, tmp_path):
    deep = "[" * 100000 + "]" * 100000
    path = hostile(clean, tmp_path, lambda conn: conn.execute("UPDATE answer_data SET value = ? WHERE question_key = (SELECT id FROM question_keys WHERE question_id = 'factors')", [deep]))
    refused_by(["merge", str(tmp_path / "national.db"), str(path)], [path], "factors")
    refused_by(["verify", str(path)], [path])
