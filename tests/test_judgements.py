"""``audit ratings set``: organisational judgements stored in the database, so that an overall
rating is computed once every judged standard has one. Real files: a small core database
imported by the command, the judgements table read back with sqlite3 in another connection."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from audit.cli import main
from audit.ratings import load_scheme
from tests.test_ratings import CASE_STANDARDS, JUDGED, SCHEME_PATH
from tests.test_regression import run


@pytest.fixture
def db(tmp_path) -> Path:
    """Two sites: at north every key question 9 of 10 yes (Outstanding), at south 6 of 10 (Requires improvement)."""
    cases = []
    for site, yes in (("north", 9), ("south", 6)):
        for i in range(10):
            answers = {q: ("yes" if i < yes else "no") for _, qs in CASE_STANDARDS.values() for q in qs}
            cases.append({"case_ref": f"{site}{i}", "site": site, "answers": {"iom_status": "yes", **answers}})
    source = tmp_path / "cases.jsonl"
    source.write_text("".join(json.dumps(c) + "\n" for c in cases))
    path = tmp_path / "core.db"
    assert main(["import", str(path), str(source), "--rubric", "hmip-core-2018"]) == 0
    return path


def stored(db: Path) -> list[tuple]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT scheme_id, standard_id, scope, rating, note FROM judgements ORDER BY scope, standard_id").fetchall()


def test_judgements_are_stored_and_give_the_overall_rating_once_all_are_given(db, capsys):
    capsys.readouterr()
    for standard in JUDGED[:-1]:
        assert main(["ratings", "set", str(db), standard, "good", "--comment", "  evidence:\n interviews "]) == 0
    out = capsys.readouterr().out
    assert "1.1 Leadership: Good (judgement recorded in" in out
    assert out.strip().endswith("Overall: not rated yet (judgements still needed for 3.2)")
    assert stored(db)[0] == ("hmip-2018", "1.1", "", "good", "evidence: interviews")
    assert main(["ratings", "set", str(db), "3.2", "Requires improvement"]) == 0
    # case standards: 15 of 20 yes = 75%, Good (2 each); judged: five Good and one Requires improvement
    scheme = load_scheme(SCHEME_PATH)
    total = 4 * 2 + 5 * 2 + 1
    assert capsys.readouterr().out.strip().endswith(f"Overall: {scheme.for_total(total).label} (total {total} of 30)")
    result = run("ratings", str(db), "--scheme", str(SCHEME_PATH))
    assert result.returncode == 0, result.stderr
    assert f"Overall: {scheme.for_total(total).label} (total {total} of 30)" in result.stdout
    assert "3.2 Through the gate / victim work: Requires improvement (" in " ".join(result.stdout.split())


def test_a_judgement_is_replaced_and_cleared(db):
    assert main(["ratings", "set", str(db), "1.1", "good"]) == 0
    assert main(["ratings", "set", str(db), "1.1", "inadequate", "--comment", "new evidence"]) == 0
    assert stored(db) == [("hmip-2018", "1.1", "", "inadequate", "new evidence")]
    assert main(["ratings", "set", str(db), "1.1", "--clear"]) == 0
    assert stored(db) == []


def test_command_line_judgements_replace_stored_ones(db):
    for standard in JUDGED:
        assert main(["ratings", "set", str(db), standard, "outstanding"]) == 0
    given = run("ratings", str(db), "--scheme", str(SCHEME_PATH), *[f"--judgement={s}=inadequate" for s in JUDGED])
    assert "(total 8 of 30)" in given.stdout and "(--judgement replaces them)" in given.stdout


def test_site_judgements_rate_that_site(db):
    for standard in JUDGED:
        assert main(["ratings", "set", str(db), standard, "good", "--site", "north"]) == 0
    result = run("ratings", str(db), "--scheme", str(SCHEME_PATH), "--by", "site")
    assert result.returncode == 0, result.stderr
    north, south = result.stdout.split("Site south")
    assert "Overall: Good (total 24 of 30)" in north  # 4 x Outstanding (3) + 6 x Good (2): 16 to 25 is Good
    assert "Overall: not rated" in south
    assert main(["ratings", "show", str(db), "--scheme", str(SCHEME_PATH)]) == 0  # the whole database: none given
    assert all(scope == "north" for _, _, scope, _, _ in stored(db))


@pytest.mark.parametrize("args, message", [
    (["2.1", "good"], "Assessment is rated from its key questions, not by judgement"),
    (["1.9", "good"], "no such standard in hmip-2018"),
    (["1.1", "splendid"], "'splendid' is not a rating"),
    (["1.1"], "give either RATING (e.g. good) or --clear"),
    (["1.1", "good", "--clear"], "give either RATING (e.g. good) or --clear"),
])
def test_bad_judgements_are_refused_and_nothing_is_written(db, capsys, args, message):
    assert main(["ratings", "set", str(db), *args]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1
    assert stored(db) == []


def test_a_database_without_a_scheme_for_its_rubric(tmp_path, capsys):
    source = tmp_path / "t.jsonl"
    source.write_text(json.dumps({"case_ref": "T1", "site": "sheffield", "answers": {}}) + "\n")
    db = tmp_path / "t.db"
    assert main(["import", str(db), str(source), "--rubric", "iom-thematic-2019"]) == 0
    assert main(["ratings", "set", str(db), "1.1", "good"]) == 1
    assert "no rating scheme for rubric iom-thematic-2019" in capsys.readouterr().err
