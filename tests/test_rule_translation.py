"""Rule trees (audit/ruletree.py), XLSForm relevant <-> rules (audit/xlsform/xpath.py), and rubric YAML scalars."""

from __future__ import annotations

import itertools

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.rubric_writer import scalar, write_rubric
from audit.rules import parse_rule
from audit.ruletree import All, Any, Compare, Lit, Not, Ref, RuleTreeError, rule_text, tree_of
from audit.xlsform.xpath import XPathError, parse_xpath, translate, xpath_of
from tests.rubric_strategies import answer_sets, rubric_data, rubric_of, rules_over


class Q:
    def __init__(self, type, codes=(), range=None):
        self.type, self.option_codes, self.range = type, list(codes), range


QUESTIONS = {
    "a": Q("yes_no", ["yes", "no"]), "na": Q("yes_no_na", ["yes", "no", "na"]), "b": Q("multi", ["x", "y", "z"]),
    "c": Q("integer", range=(10, 120)), "d": Q("date"), "t": Q("text"), "s": Q("single", ["1", "2", "x.y"]),
    "e": Q("integer", range=(0, 5)),
}


def relevant(text: str) -> str:
    return rule_text(translate(parse_xpath(text), QUESTIONS, {"intro": "note"}))


# --- rule trees ----------------------------------------------------------------------------------------


def test_a_tree_reads_a_rule_as_the_engine_does():
    assert tree_of('0 < n < 10 and (a == "x" and b == "y")') == All((
        Compare(Lit(0), "<", Ref("n")), Compare(Ref("n"), "<", Lit(10)),
        Compare(Ref("a"), "==", Lit("x")), Compare(Ref("b"), "==", Lit("y")),
    ))
    assert tree_of('not (a in ("x", "y")) or "z" not in b or c >= -2.5') == Any((
        Not(Compare(Ref("a"), "in", Lit(("x", "y")))), Compare(Lit("z"), "not in", Ref("b")), Compare(Ref("c"), ">=", Lit(-2.5)),
    ))


def test_rule_text_brackets_only_where_readers_need_them():
    assert rule_text(tree_of('a == "x" and b == "y" or c == "z"')) == '(a == "x" and b == "y") or c == "z"'
    assert rule_text(tree_of('a == "x" and (b == "y" or c == "z")')) == 'a == "x" and (b == "y" or c == "z")'
    assert rule_text(tree_of('a in ("x",)')) == 'a in ("x",)'
    assert rule_text(tree_of("t == 'it\\'s \"q\"'")) == "t == 'it\\'s \"q\"'"
    assert rule_text(Compare(Ref("t"), "==", Lit("line\nbreak"))) == "t == 'line\\nbreak'"
    with pytest.raises(RuleTreeError):
        rule_text(Compare(Ref("c"), ">", Lit(float("inf"))))


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_rule_text_parses_back_to_the_same_tree_and_verdicts(data):
    rubric = rubric_of(data.draw(rubric_data()))
    specs = [{"id": q.id, "type": q.type, "options": dict.fromkeys(q.option_codes), "range": list(q.range) if q.range else None}
             for q in rubric.questions]
    tree = data.draw(rules_over(specs))
    text = rule_text(tree)
    rule = parse_rule(text)
    assert tree_of(rule) == tree
    assert rubric.check_rule(rule) == []
    again = parse_rule(rule_text(tree_of(rule)))
    for _ in range(5):
        answers = data.draw(answer_sets(rubric))
        assert again.evaluate(answers) == rule.evaluate(answers)


# --- XPath -> rule ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("xpath", "rule"), [
    ("${a} = 'yes'", 'a == "yes"'),
    ("${a}='yes'", 'a == "yes"'),
    ('${a} != "no"', 'a != "no"'),
    ("'yes' = ${a}", 'a == "yes"'),
    ("selected(${a}, 'yes')", 'a == "yes"'),
    ("selected(${b}, 'x')", '"x" in b'),
    ("not(selected(${b}, 'x'))", 'not ("x" in b)'),
    ("${c} > 17 and ${c} <= 65", "c > 17 and c <= 65"),
    ("18 < ${c}", "c > 18"),
    ("${c} >= '18'", "c >= 18"),
    ("${c} < -1", "c < -1"),
    ("${c} > 2.5", "c > 2.5"),
    ("${d} >= date('2019-01-01')", 'd >= "2019-01-01"'),
    ("${d} < '2019-06-30'", 'd < "2019-06-30"'),
    ("${t} = 'it''s'", None),  # XPath has no escapes: '' ends one string and starts another
    ('${t} = "it\'s"', "t == \"it's\""),
    ("${s} = 1", 's == "1"'),
    ("${s} = 'x.y' or ${a} = 'no' and ${c} > 3", 's == "x.y" or (a == "no" and c > 3)'),
    ("(${s} = 'x.y' or ${a} = 'no') and ${c} > 3", '(s == "x.y" or a == "no") and c > 3'),
    ("${c} = ${e}", "c == e"),
    ("${b} != ''", '"x" in b or "y" in b or "z" in b'),
    ("${a} != ''", 'a in ("yes", "no")'),
    ("${c} != ''", "c >= 10"),
    ("${t} != ''", 't != ""'),
    ("count-selected(${b}) > 0", '"x" in b or "y" in b or "z" in b'),
    ("count-selected(${b}) >= 1", '"x" in b or "y" in b or "z" in b'),
    ("count-selected(${b}) = 0", 'not ("x" in b or "y" in b or "z" in b)'),
    ("count-selected(${b}) < 1", 'not ("x" in b or "y" in b or "z" in b)'),
    ("count-selected(${b}) = 3", '"x" in b and "y" in b and "z" in b'),
    ("1 < count-selected(${b})", '("x" in b and "y" in b) or ("x" in b and "z" in b) or ("y" in b and "z" in b)'),
])
def test_relevant_texts_become_rules(xpath, rule):
    if rule is None:
        with pytest.raises(XPathError):
            relevant(xpath)
        return
    assert relevant(xpath) == rule
    parse_rule(rule)


@pytest.mark.parametrize(("xpath", "column", "message"), [
    ("", None, "the expression is empty"),
    ("${a} = 'yes' and", 17, "the expression ends too early"),
    ("${a} = 'yes' ${c}", 14, "unexpected '${c}'; join conditions with and / or"),
    ("${a} = 'yes' or or ${a} = 'no'", 17, "'or' needs a condition before it"),
    ("${c} + 1 > 3", 6, "arithmetic is not supported"),
    ("${c} * 2 > 3", 6, "arithmetic is not supported"),
    ("${c} div 2 > 3", 6, "arithmetic is not supported"),
    ("${c} > 3 | ${c} < 1", 10, "'|' (node-set union) is not supported"),
    ("${a}[1] = 'yes'", 5, "predicates [...] are not supported"),
    ("../a = 'yes'", 1, "'.' (this question) cannot be read in relevant"),
    (". > 3", 1, "'.' (this question) cannot be read in relevant"),
    ("@id = 'x'", 1, "attributes are not supported"),
    ("$a = 'x'", 1, "write a question as ${name}"),
    ("${} = 'x'", 1, "${} names no question"),
    ("a = 'x'", 1, "'a' is not understood here; write a question as ${a} and text in quotes"),
    ("string-length(${t}) > 3", 1, "function string-length() is not supported"),
    ("true()", 1, "true() and false() have no place in a rule"),
    ("selected(${b})", 14, "expected ',' between selected()'s question and choice"),
    ("selected('x', ${b})", 10, "selected() takes a question, written ${name}"),
    ("selected(${b}, ${a})", 16, "selected()'s second argument is a choice name in quotes"),
    ("selected(${c}, '1')", 1, "selected() needs a select question; ${c} is integer"),
    ("date(2019) = ${d}", 6, "date() takes a date in quotes"),
    ("${d} > date('30/06/2019')", 8, "${d} is a date question; compare it with date('YYYY-MM-DD')"),
    ("${zz} = 'x'", 1, "no question named 'zz' in the survey sheet"),
    ("${aa} = 'yes'", 1, "no question named 'aa' in the survey sheet (did you mean 'a'?)"),
    ("${intro} = 'x'", 1, "${intro} is a note, not a question"),
    ("${a} = 'maybe'", 8, "'maybe' is not a choice name of ${a} (choices: yes, no)"),
    ("${a} = 'Yes'", 8, "'Yes' is not a choice name of ${a} (choices: yes, no) (did you mean 'yes'?)"),
    ("${s} = 3", 8, "3 is not a choice name of ${s} (choices: 1, 2, x.y)"),
    ("${a} > 'no'", 6, "${a} is a select_one question; compare it with = or !=, not >"),
    ("${b} = 'x'", 6, "${b} is select_multiple; test a choice with selected(${b}, 'x')"),
    ("${c} = 'abc'", 8, "${c} is an integer question; compare it with a number"),
    ("${t} < 'm'", 6, "${t} is a text question; only integer and date questions can be ordered with <"),
    ("${t} = 3", 8, "${t} is a text question; compare it with text in quotes"),
    ("${a} = ${c}", 6, "compares yes_no question ${a} with integer question ${c}"),
    ("${a} < ${na}", 6, "only integer and date questions can be ordered with <"),
    ("'a' = 'b'", 5, "compares two values; one side must be a question"),
    ("${a} = ''", 6, "tests for no answer, which a rule cannot"),
    ("${a}", 1, "${a} alone is not a condition"),
    ("'yes'", 1, "a value alone is not a condition"),
    ("count-selected(${b})", 1, "compare count-selected() with a number"),
    ("count-selected(${b}) > ${c}", 22, "compare count-selected() with a number"),
    ("count-selected(${a}) > 0", 1, "count-selected() needs a select_multiple question; ${a} is yes_no"),
    ("count-selected(${b}) >= 0", None, "is always true"),
    ("count-selected(${b}) > 3", None, "is always false"),
    ("count-selected(${b}) = 1.5", None, "is always false"),
    ("${a} = 'yes' = 'no'", 14, "chained comparisons are not supported"),
    ("(${a} = 'yes'", 14, "expected ')' to close the '(' at column 1"),
    ("${a} = 'yes", 8, "the string starting here has no closing '"),
    ("${a} = 'yes' AND ${c} > 1", 14, "operators are lowercase: and"),
    ("(" * 51 + "${a} = 'yes'" + ")" * 51, None, "nested more than 50 levels deep"),
])
def test_relevant_texts_outside_the_subset_are_refused_with_their_column(xpath, column, message):
    with pytest.raises(XPathError) as caught:
        relevant(xpath)
    assert caught.value.column == column
    assert message in caught.value.reason


def test_count_selected_over_many_choices_is_refused_rather_than_exploded():
    many = {"m": Q("multi", [f"c{i}" for i in range(12)])}
    assert rule_text(translate(parse_xpath("count-selected(${m}) >= 1"), many)).count(" or ") == 11
    with pytest.raises(XPathError, match=r"would need 220 combinations in a rule \(at most 64\)"):
        translate(parse_xpath("count-selected(${m}) > 2"), many)


@pytest.mark.parametrize("op", ["=", "!=", "<", "<=", ">", ">="])
@pytest.mark.parametrize("n", [0, 1, 1.5, 2, 3])
def test_count_selected_means_the_number_of_choices_ticked(op, n):
    """Against a direct count, for every selection of every size."""
    text = f"count-selected(${{b}}) {op} {n}"
    compare = {"=": lambda k: k == n, "!=": lambda k: k != n, "<": lambda k: k < n, "<=": lambda k: k <= n,
               ">": lambda k: k > n, ">=": lambda k: k >= n}[op]
    selections = [list(c) for size in range(4) for c in itertools.combinations(["x", "y", "z"], size)]
    expected = [compare(len(s)) for s in selections]
    if len(set(expected)) == 1:
        with pytest.raises(XPathError, match="always"):
            relevant(text)
        return
    rule = parse_rule(relevant(text))
    assert [rule.evaluate({"b": s}) for s in selections] == expected
    assert rule.evaluate({}) is None  # unanswered: unknown, as every rule reads it


# --- rule -> XPath -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("rule", "xpath"), [
    ('a == "yes"', "${a} = 'yes'"),
    ('a != "yes"', "${a} != 'yes'"),
    ('a in ("yes", "no")', "(${a} = 'yes' or ${a} = 'no')"),
    ('a not in ("yes",)', "not(${a} = 'yes')"),
    ('"x" in b', "selected(${b}, 'x')"),
    ('"x" not in b', "not(selected(${b}, 'x'))"),
    ("10 <= c < 20", "10 <= ${c} and ${c} < 20"),
    ("c > -1.5", "${c} > -1.5"),
    ("c > 1e-07", "${c} > 0.0000001"),
    ('d >= "2019-01-01"', "${d} >= date('2019-01-01')"),
    ("t == \"it's\"", "${t} = \"it's\""),
    ('t != ""', "${t} != ''"),
    ('(a == "yes" or c > 3) and not (s == "1")', "(${a} = 'yes' or ${c} > 3) and not(${s} = '1')"),
    ('a == "yes" and c > 3 or s == "1"', "(${a} = 'yes' and ${c} > 3) or ${s} = '1'"),
    ("c == e", "${c} = ${e}"),
])
def test_rules_become_relevant_texts_that_read_back(rule, xpath):
    tree = tree_of(rule)
    assert xpath_of(tree, QUESTIONS) == xpath
    back = parse_rule(relevant(xpath))
    original = parse_rule(rule)
    for answers in [{}, {"a": "yes", "c": 5}, {"a": "no", "c": 50, "s": "1"}, {"b": ["x"], "d": "2019-02-01", "t": "it's"},
                    {"b": [], "c": 10, "e": 10, "t": ""}, {"c": -2, "d": "2018-12-31"}]:
        assert back.evaluate(answers) == original.evaluate(answers), answers


def test_what_xpath_cannot_say_is_refused():
    with pytest.raises(RuleTreeError, match="holds both ' and \""):
        xpath_of(tree_of("t == 'it\\'s \"q\"'"), QUESTIONS)
    with pytest.raises(RuleTreeError, match="compares with empty text"):
        xpath_of(tree_of('t == ""'), QUESTIONS)
    with pytest.raises(RuleTreeError, match="compares with empty text"):
        xpath_of(tree_of('t in ("", "x")'), QUESTIONS)


# --- YAML scalars ------------------------------------------------------------------------------------------


@settings(max_examples=1000, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1))
def test_any_text_is_written_as_one_yaml_line_that_reads_back(value):
    line = scalar(value)
    assert "\n" not in line
    assert yaml.safe_load(f"key: {line}")["key"] == value


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1))
def test_option_labels_that_never_count_read_back(value):
    data = {"id": "r", "version": "1", "title": "T", "sections": [{"id": "s", "title": "S", "questions": [
        {"id": "q", "type": "single", "text": "Q", "options": {"a": {"label": value, "counts": False}, "b": {"label": "B" + value, "counts": True}}}]}]}
    loaded = yaml.safe_load(write_rubric(data).text)
    assert loaded["sections"][0]["questions"][0]["options"] == {"a": {"label": value, "counts": False}, "b": "B" + value}
