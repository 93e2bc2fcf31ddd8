"""Rules as SQL (audit/rule_sql.py): the same verdict as the rule engine, on a real SQLite database."""

from __future__ import annotations

import asyncio
import json
import sqlite3

import pytest
from datasette.utils import derive_named_parameters, validate_sql_select
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.rule_sql import SqlError, cases_passing, sql_literal
from audit.rules import parse_rule
from audit.ruletree import rule_text
from tests.rubric_strategies import answer_sets, rubric_data, rubric_of, rules_over

SCHEMA = """
CREATE TABLE cases (uuid TEXT PRIMARY KEY, rubric_id TEXT);
CREATE TABLE answers (case_uuid TEXT, question_id TEXT, value TEXT, applies INTEGER, state TEXT,
                      PRIMARY KEY (case_uuid, question_id));
"""


def passing(conn, rule, rubric_id, types) -> set[str]:
    return {row[0] for row in conn.execute(cases_passing(rule, rubric_id, types))}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_a_filter_in_sql_keeps_exactly_the_cases_whose_rule_is_true(data):
    rubric = rubric_of(data.draw(rubric_data()))
    specs = [{"id": q.id, "type": q.type, "options": dict.fromkeys(q.option_codes), "range": list(q.range) if q.range else None}
             for q in rubric.questions]
    rule = parse_rule(rule_text(data.draw(rules_over(specs))))
    conn = sqlite3.connect(":memory:")
    conn.executescript(SCHEMA)
    expected = set()
    for n in range(12):
        uuid = f"case-{n}"
        conn.execute("INSERT INTO cases VALUES (?, ?)", [uuid, rubric.id])
        answers = data.draw(answer_sets(rubric))
        visible = {}
        for qid, value in answers.items():
            # some answers are not visible: retired, or to a question that does not apply; the rule never sees them
            applies, state = data.draw(st.sampled_from([(1, "current")] * 4 + [(0, "current"), (1, "retired")]))
            conn.execute("INSERT INTO answers VALUES (?, ?, ?, ?, ?)", [uuid, qid, json.dumps(value), applies, state])
            if applies and state == "current":
                visible[qid] = value
        if rule.evaluate(visible) is True:
            expected.add(uuid)
    # a case of another rubric never passes
    conn.execute("INSERT INTO cases VALUES ('other', 'another-rubric')")
    types = {q.id: q.type for q in rubric.questions}
    assert passing(conn, rule, rubric.id, types) == expected, rule.source
    assert len(passing(conn, None, rubric.id, types)) == 12


def test_three_valued_logic_is_sqls_null_logic():
    conn = sqlite3.connect(":memory:")
    conn.executescript(SCHEMA)
    rows = {"both": {"a": "yes", "b": ["x"]}, "a_only": {"a": "no"}, "none": {}, "empty": {"b": []}}
    for uuid, answers in rows.items():
        conn.execute("INSERT INTO cases VALUES (?, 'r')", [uuid])
        for qid, value in answers.items():
            conn.execute("INSERT INTO answers VALUES (?, ?, ?, 1, 'current')", [uuid, qid, json.dumps(value)])
    types = {"a": "yes_no", "b": "multi"}
    run = lambda source: passing(conn, parse_rule(source), "r", types)  # noqa: E731
    assert run('a == "yes"') == {"both"}
    assert run('a != "yes"') == {"a_only"}  # unanswered is unknown, not "not yes"
    assert run('not (a == "yes")') == {"a_only"}
    assert run('a == "yes" or "x" in b') == {"both"}
    assert run('a == "no" or "x" in b') == {"both", "a_only"}  # unknown or true is true
    assert run('"x" not in b') == {"empty"}  # an explicit empty selection is an answer
    assert run('a == "no" and "x" in b') == set()


@settings(max_examples=500, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",))) | st.integers(-10**12, 10**12) | st.floats(allow_nan=False, allow_infinity=False))
def test_a_literal_reads_back_as_itself_and_hides_nothing_from_datasette(value):
    literal = sql_literal(value)
    conn = sqlite3.connect(":memory:")
    assert conn.execute(f"SELECT {literal}").fetchone()[0] == value
    sql = f"SELECT {literal} AS v WHERE 1 = 1"
    # Datasette finds :named parameters in a query's text; a literal never looks like one (or like a comment)
    assert asyncio.run(derive_named_parameters(None, sql)) == []
    validate_sql_select(sql)  # and never looks like a PRAGMA


def test_what_sql_cannot_carry_is_refused():
    with pytest.raises(SqlError):
        sql_literal("\ud800")
    with pytest.raises(SqlError):
        sql_literal(float("inf"))
