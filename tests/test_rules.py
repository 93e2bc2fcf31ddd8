"""The rule language (audit/rules.py): whitelist, three-valued meaning, checks, safety."""

from __future__ import annotations

import builtins
import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.errors import AuditError
from audit.rubric import parse_rubric
from audit.rules import MAX_DEPTH, Rule, RuleError, parse_rule

# --- refused constructs: each gives a located, one-line RuleError -------------------------

# (rule, the text the error must name, where the offending part starts or None)
REFUSED = [
    ('f(a) == "yes"', "function calls are not allowed", "f(a)"),
    ('__import__("os") == "x"', "function calls are not allowed", "__import__"),
    ('a.b == "yes"', "'.' is not allowed", "a.b"),
    ('a[0] == "yes"', "indexing with [] is not allowed", "a[0]"),
    ("age + 1 > 3", "arithmetic is not allowed", "age + 1"),
    ('"yes" if a else "no"', "'if ... else' is not allowed", '"yes" if'),
    ("(lambda: 1) == 1", "lambda is not allowed", "lambda"),
    ('a == {"x": 1}', "dicts are not allowed", "{"),
    ('a in {"x", "y"}', "sets are not allowed", "{"),
    ("(b := 1) == 1", "':=' is not allowed", "b :="),
    ('a == f"{b}"', "f-strings are not allowed", 'f"'),
    ('a is "x"', "'is' compares identity; use ==", "a is"),
    ('a is not "x"', "'is' compares identity; use !=", "a is"),
    ("a == True", "True is not a value here", "True"),
    ("a == None", "None is not a value here", "None"),
    ('a == b"x"', "bytes constants are not allowed", 'b"x"'),
    ("a == 1j", "complex constants are not allowed", "1j"),
    ("a == ...", "ellipsis constants are not allowed", "..."),
    ('a == -"x"', "expected a constant", '-"x"'),
    ("a in (b, c)", "expected a constant", "b, c"),
    ("a == [1, [2]]", "expected a constant", "[2]"),
    ("a", "'a' alone is not a rule", "a"),
    ('"yes"', "a constant alone is not a rule", '"yes"'),
    ("~a", "'UnaryOp' is not allowed", "~a"),
    ("[x for x in y]", "'ListComp' is not allowed", "[x for"),
    ("(yield)", "'Yield' is not allowed", "yield"),
    ("await a", "'Await' is not allowed", "await"),
    ('a == "yes" and', "not a valid rule", None),
    ('a = "yes"', "not a valid rule", None),
    ("import os", "not a valid rule", None),
    ('a == "yes" ; b == "no"', "not a valid rule", None),
    ("", "the rule is empty", None),
    ("   ", "the rule is empty", None),
    ("a == 1\x00", "not a valid rule", None),
    ("a == '\ud800'", "has characters a rule cannot contain", None),
    ("not " * (MAX_DEPTH + 5) + 'a == "yes"', f"more than {MAX_DEPTH} levels deep", None),
    ("(" * 300 + 'a == "yes"' + ")" * 300, "not a valid rule", None),
]


@pytest.mark.parametrize(("source", "reason", "start"), REFUSED, ids=[r[1][:30] + f"-{i}" for i, r in enumerate(REFUSED)])
def test_refused_constructs_give_a_located_one_line_rule_error(source, reason, start):
    with pytest.raises(RuleError) as caught:
        parse_rule(source)
    error = caught.value
    message = str(error)
    assert reason in message
    assert "\n" not in message
    assert isinstance(error, AuditError)  # so the CLI prints it and exits 1
    if start is not None:
        assert error.column == source.index(start) + 1, message
        assert f"at column {error.column}" in message
        assert message.startswith(f"rule `{source}`")


def test_a_rule_folded_over_several_yaml_lines_is_one_line():
    rule = parse_rule('a == "yes"\n   and b == "no"')
    assert rule.source == 'a == "yes" and b == "no"'
    assert rule.names == {"a", "b"}


@pytest.mark.parametrize(
    "source",
    [
        'a == "yes"',
        'a != "yes"',
        "age < 3",
        "age <= 3",
        "age > 3",
        "age >= -3",
        "0 < age < 18",
        '"drugs" in factors',
        '"drugs" not in factors',
        'a in ("x", "y")',
        'a not in ["x", "y"]',
        'not (a == "yes")',
        'a == "x" or (b == "y" and not c == "z")',
        "age == 1.5",
        "a == b",
    ],
)
def test_whitelisted_constructs_parse(source):
    assert isinstance(parse_rule(source), Rule)


# --- three-valued meaning -----------------------------------------------------------------

T, F, U = True, False, None
# a truth value for the comparison `p == "yes"`: the answer that gives it
ANSWER_FOR = {T: "yes", F: "no", U: None}


def _values(**truths):
    return {name: ANSWER_FOR[truth] for name, truth in truths.items() if ANSWER_FOR[truth] is not None}


AND = {
    (T, T): T, (T, F): F, (T, U): U,
    (F, T): F, (F, F): F, (F, U): F,
    (U, T): U, (U, F): F, (U, U): U,
}
OR = {
    (T, T): T, (T, F): T, (T, U): T,
    (F, T): T, (F, F): F, (F, U): U,
    (U, T): T, (U, F): U, (U, U): U,
}
NOT = {T: F, F: T, U: U}


@pytest.mark.parametrize(("left", "right"), list(itertools.product([T, F, U], repeat=2)))
def test_and_or_follow_three_valued_logic(left, right):
    values = _values(p=left, q=right)
    assert parse_rule('p == "yes" and q == "yes"').evaluate(values) is AND[left, right]
    assert parse_rule('p == "yes" or q == "yes"').evaluate(values) is OR[left, right]


@pytest.mark.parametrize("truth", [T, F, U])
def test_not_follows_three_valued_logic(truth):
    assert parse_rule('not p == "yes"').evaluate(_values(p=truth)) is NOT[truth]
    assert parse_rule('not not p == "yes"').evaluate(_values(p=truth)) is truth


@pytest.mark.parametrize(("a", "b", "c"), list(itertools.product([T, F, U], repeat=3)))
def test_longer_and_or_chains_agree_with_the_tables(a, b, c):
    values = _values(p=a, q=b, r=c)
    assert parse_rule('p == "yes" and q == "yes" and r == "yes"').evaluate(values) is AND[AND[a, b], c]
    assert parse_rule('p == "yes" or q == "yes" or r == "yes"').evaluate(values) is OR[OR[a, b], c]
    assert parse_rule('p == "yes" or q == "yes" and r == "yes"').evaluate(values) is OR[a, AND[b, c]]


def test_a_comparison_with_an_unknown_side_is_unknown_whatever_the_operator():
    for source in ['a == "x"', 'a != "x"', "age < 3", "age >= 3", '"x" in f', '"x" not in f', 'a in ("x",)', 'a not in ("x",)', "a == b"]:
        assert parse_rule(source).evaluate({}) is None, source
    # != is unknown, not true, when the question is unanswered: "not non-statutory" is not known yet
    assert parse_rule('sentence_type != "non_statutory"').evaluate({"other": "x"}) is None


def test_chained_comparisons_need_every_link():
    rule = parse_rule("18 <= age < 26")
    assert rule.evaluate({"age": 18}) is True
    assert rule.evaluate({"age": 25}) is True
    assert rule.evaluate({"age": 26}) is False
    assert rule.evaluate({"age": 17}) is False
    assert rule.evaluate({}) is None
    assert len(rule.comparisons) == 2
    two_names = parse_rule("low < age < high")
    assert two_names.evaluate({"low": 1, "age": 5, "high": 9}) is True
    assert two_names.evaluate({"low": 1, "age": 5, "high": 3}) is False
    assert two_names.evaluate({"low": 9, "age": 5}) is False  # one false link decides
    assert two_names.evaluate({"low": 1, "age": 5}) is None  # the other link is unknown


def test_in_on_a_multi_choice_answer_tests_membership():
    drugs = parse_rule('"drugs" in factors')
    no_drugs = parse_rule('"drugs" not in factors')
    assert drugs.evaluate({"factors": ["thinking", "drugs"]}) is True
    assert drugs.evaluate({"factors": ["thinking"]}) is False
    assert no_drugs.evaluate({"factors": ["thinking"]}) is True
    assert no_drugs.evaluate({"factors": ["drugs"]}) is False
    assert drugs.evaluate({}) is None and no_drugs.evaluate({}) is None
    # a code is never a substring match
    assert parse_rule('"drug" in factors').evaluate({"factors": ["drugs"]}) is False


def test_in_on_a_tuple_tests_one_of_several_values():
    rule = parse_rule('sentence_type in ("community", "post_release")')
    assert rule.evaluate({"sentence_type": "community"}) is True
    assert rule.evaluate({"sentence_type": "non_statutory"}) is False
    assert parse_rule('sentence_type not in ["community"]').evaluate({"sentence_type": "community"}) is False
    assert parse_rule("age in (1, 2, 3)").evaluate({"age": 2}) is True
    assert parse_rule("age in (-1, 2)").evaluate({"age": -1}) is True


def test_numbers_and_strings_never_match_and_never_raise():
    assert parse_rule('age == "25"').evaluate({"age": 25}) is False
    assert parse_rule("age == 25").evaluate({"age": 25}) is True
    assert parse_rule("age == 25.0").evaluate({"age": 25}) is True
    assert parse_rule('a == "1"').evaluate({"a": "1"}) is True
    assert parse_rule("a == 1").evaluate({"a": "1"}) is False
    # an ordering between a number and a string cannot be decided: unknown, not an exception
    assert parse_rule('age < "x"').evaluate({"age": 3}) is None
    assert parse_rule("a > 3").evaluate({"a": "text"}) is None


def test_the_docstring_examples_mean_what_the_docs_say():
    licence = parse_rule('on_licence == "yes" and not (rosh == "low")')
    assert licence.evaluate({"on_licence": "yes", "rosh": "high"}) is True
    assert licence.evaluate({"on_licence": "yes", "rosh": "low"}) is False
    assert licence.evaluate({"on_licence": "no"}) is False  # decided without rosh
    assert licence.evaluate({"on_licence": "yes"}) is None  # rosh unknown
    either = parse_rule('a == "x" or b == "y"')
    assert either.evaluate({"b": "y"}) is True  # applies whatever a is


# --- checking rules against a rubric --------------------------------------------------------

CHECK_RUBRIC = """\
id: check
version: 1
title: Rule checks
sections:
  - id: s
    title: S
    questions:
      - {id: sentence, type: single, text: Sentence, options: {community: Community sentence, custody: Custody}}
      - {id: flag, type: yes_no, text: Flag}
      - {id: safety, type: yes_no_na, text: Safety}
      - {id: factors, type: multi, text: Factors, options: {drugs: Drug misuse, ete: ETE}}
      - {id: age, type: integer, text: Age, range: [0, 120]}
      - {id: seen, type: date, text: Seen}
      - {id: note, type: text, text: Note}
"""


@pytest.fixture(scope="module")
def check_rubric():
    return parse_rubric(CHECK_RUBRIC, "check.yaml")


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ('nope == "yes"', "names unknown question 'nope'"),
        ('flg == "yes"', "(did you mean 'flag'?)"),
        ('sentence == "comunity"', "'comunity' is not an option code of 'sentence' (codes: community, custody) (did you mean 'community'?)"),
        ('sentence == "Community sentence"', "'Community sentence' is a label of 'sentence'; rules use its code \"community\""),
        ("sentence == 1", "compares single question 'sentence' with the number 1"),
        ('age == "25"', "compares integer question 'age' with the string '25'; write the number without quotes"),
        ('sentence > "community"', "only integer and date questions can be ordered with >"),
        ('factors == "drugs"', "'factors' is multi-choice; test membership"),
        ('"drugs" in sentence', "tests a multi-choice answer, but 'sentence' is single"),
        ('"heroin" in factors', "'heroin' is not an option code of 'factors'"),
        ('sentence in "community"', "needs a tuple of values"),
        ('factors in ("drugs",)', "test one code at a time"),
        ('("drugs",) in factors', "write one code per test"),
        ('sentence == ("community",)', "compares 'sentence' with a list"),
        ('1 == 2', "compares two constants"),
        ("age == flag", "compares integer question 'age' with yes_no question 'flag'"),
        ("factors == factors", "compares multi question 'factors'"),
        ("age in age", "between two questions is not supported"),
        ("flag < safety", "only integer and date questions can be ordered"),
        ('seen > "yesterday"', "write a date as \"YYYY-MM-DD\""),
        ("note == 3", "compares text question 'note' with the number 3; quote it"),
        ('safety == "n/a"', "'n/a' is not an option code of 'safety' (codes: yes, no, na)"),
    ],
)
def test_check_rule_names_each_mistake(check_rubric, source, fragment):
    messages = check_rubric.check_rule(parse_rule(source))
    assert messages, source
    assert any(fragment in m for m in messages), messages
    assert all("\n" not in m for m in messages)


@pytest.mark.parametrize(
    "source",
    [
        'sentence != "custody"',
        'flag == "yes" and safety != "na"',
        '"drugs" in factors',
        "18 <= age < 26",
        'seen >= "2019-01-01"',
        'note == "x"',
        "flag == safety",
        'sentence in ("community", "custody")',
    ],
)
def test_check_rule_accepts_sound_rules(check_rubric, source):
    assert check_rubric.check_rule(parse_rule(source)) == []


# --- robustness and safety ------------------------------------------------------------------

TOKENS = [
    "a", "b", "factors", "age", '"yes"', "'no'", "3", "-2", "1.5", "==", "!=", "<", "<=", ">", ">=", " in ", " not in ",
    " and ", " or ", "not ", "(", ")", "[", "]", ",", ".", "__import__", "eval", "exec", "open", "lambda", ":", "=",
    "*", "+", "**", "{", "}", "if", "else", "is", "None", "True", "@", "#", "\\", "\n", '"', "f'", "__class__",
]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=60), st.lists(st.sampled_from(TOKENS), max_size=14).map("".join)))
def test_arbitrary_text_gives_a_rule_or_a_rule_error_never_anything_else(source):
    try:
        rule = parse_rule(source)
    except RuleError as error:
        assert "\n" not in str(error)
        return
    # a rule that parses evaluates to True, False or None on any answers, without raising
    for values in ({}, {"a": "yes", "b": 3, "factors": ["x"], "age": 20}, {n: "text" for n in rule.names}):
        assert rule.evaluate(values) in (True, False, None)


DANGEROUS = [
    '__import__("os").system("touch {canary}")',
    'eval("1") == 1',
    'exec("x = 1") == 1',
    'open("{canary}", "w") == 1',
    '().__class__.__bases__[0].__subclasses__() == 1',
    'a == (lambda: __import__("os"))()',
    'a == [x for x in ().__class__.__mro__]',
    'a == globals()["__builtins__"]',
    '(__builtins__).eval("1") == 1',
]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(DANGEROUS), st.sampled_from(["", 'a == "yes" and ', 'not ', 'b == 1 or ']))
def test_rules_are_never_evaluated_by_python(tmp_path, monkeypatch, template, prefix):
    calls = []

    def trap(name):
        def refuse(*args, **kwargs):
            calls.append(name)
            raise AssertionError(f"{name} was called")

        return refuse

    canary = tmp_path / "canary"
    monkeypatch.setattr(builtins, "eval", trap("eval"))
    monkeypatch.setattr(builtins, "exec", trap("exec"))
    monkeypatch.setattr(builtins, "__import__", trap("__import__"))
    try:
        with pytest.raises(RuleError):
            parse_rule(prefix + template.format(canary=canary))
        # a string that merely looks like code is data: compared, never run
        rule = parse_rule('a == "__import__(\'os\').system(\'touch x\')"')
        assert rule.evaluate({"a": "no"}) is False
    finally:
        monkeypatch.undo()
    assert calls == []
    assert not canary.exists()


def test_a_rule_with_an_invalid_escape_says_nothing_on_the_terminal(recwarn):
    import warnings

    from audit.rules import RuleError, parse_rule

    warnings.simplefilter("always")
    try:
        parse_rule('q == "a\\ b"')
    except RuleError:
        pass
    assert [str(w.message) for w in recwarn] == []
