"""Hypothesis strategies for whole rubrics, rules over them, and answer sets.

A generated rubric is written as YAML by :mod:`audit.rubric_writer` and
loaded by the real loader, so every rubric drawn is one `audit rubric
check` accepts. Rules only read questions that come earlier in the rubric
(so there are no cycles); section rules only read earlier sections.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import strategies as st

from audit.rubric import FIXED_OPTIONS, Rubric, parse_rubric
from audit.rubric_writer import write_rubric
from audit.ruletree import All, Any as AnyOf, Compare, Lit, Not, Ref, rule_text

TYPES = ("yes_no", "yes_no_na", "single", "multi", "integer", "text", "date")
CODES = ("a", "b", "c", "1", "2", "x.y", "na", "very-high", "Z9")
DATES = ("2019-01-01", "2019-06-30", "2020-02-29", "2018-12-31")
# text as people write it: letters, digits, punctuation, both quotes, non-ASCII; no control characters
TEXT_ALPHABET = st.characters(
    whitelist_categories=("Lu", "Ll", "Nd", "Po", "Pd", "Ps", "Pe", "Pi", "Pf", "Sm", "Sc", "Zs"),
    blacklist_characters="\xa0\u2028\u2029\u3000\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f",
)
TEXT = st.text(TEXT_ALPHABET, min_size=1, max_size=30).map(lambda s: " ".join(s.split())).filter(bool)
CONSTANT_TEXT = st.sampled_from(["none", "it's", 'say "hi"', "n/a", "é", "x"])


@st.composite
def question_specs(draw, qid: str) -> dict[str, Any]:
    kind = draw(st.sampled_from(TYPES))
    spec: dict[str, Any] = {"id": qid, "type": kind, "text": draw(TEXT),
                            "prompts": draw(st.lists(TEXT, max_size=2)), "required": draw(st.booleans())}
    if kind in ("single", "multi"):
        codes = draw(st.lists(st.sampled_from(CODES), min_size=2, max_size=4, unique=True))
        labels = draw(st.lists(TEXT, min_size=len(codes), max_size=len(codes), unique_by=str.casefold))
        counts = draw(st.lists(st.booleans(), min_size=len(codes), max_size=len(codes)))
        spec["options"] = {c: {"label": label, "counts": n} for c, label, n in zip(codes, labels, counts)}
    if kind == "integer":
        low = draw(st.integers(-5, 50))
        spec["range"] = [low, low + draw(st.integers(0, 100))]
    return spec


def codes_of(spec: dict[str, Any]) -> list[str]:
    return list(spec.get("options") or FIXED_OPTIONS.get(spec["type"], {}))


@st.composite
def comparisons(draw, spec: dict[str, Any], specs: list[dict[str, Any]]):
    q = Ref(spec["id"])
    kind = spec["type"]
    if kind == "multi":
        return Compare(Lit(draw(st.sampled_from(codes_of(spec)))), draw(st.sampled_from(["in", "not in"])), q)
    if kind in FIXED_OPTIONS or kind == "single":
        codes = codes_of(spec)
        if draw(st.booleans()):
            return Compare(q, draw(st.sampled_from(["==", "!="])), Lit(draw(st.sampled_from(codes))))
        return Compare(q, draw(st.sampled_from(["in", "not in"])), Lit(tuple(draw(st.lists(st.sampled_from(codes), min_size=1, unique=True)))))
    op = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">="]))
    if kind == "integer":
        same = [s for s in specs if s["type"] == "integer" and s["id"] != spec["id"]]
        if same and draw(st.booleans()):
            return Compare(q, op, Ref(draw(st.sampled_from(same))["id"]))
        low, high = spec["range"]
        number = draw(st.one_of(st.integers(low - 2, high + 2), st.sampled_from([low + 0.5, -1.5])))
        return Compare(Lit(number), op, q) if draw(st.booleans()) else Compare(q, op, Lit(number))
    if kind == "date":
        return Compare(q, op, Lit(draw(st.sampled_from(DATES))))
    return Compare(q, draw(st.sampled_from(["==", "!="])), Lit(draw(CONSTANT_TEXT)))


@st.composite
def rules_over(draw, specs: list[dict[str, Any]], depth: int = 3):
    """A rule tree reading some of ``specs`` (which must be non-empty)."""
    if depth == 0 or draw(st.integers(0, 2)) == 0:
        return draw(comparisons(draw(st.sampled_from(specs)), specs))
    kind = draw(st.sampled_from(["and", "or", "not"]))
    if kind == "not":
        return Not(draw(rules_over(specs, depth - 1)))
    parts = draw(st.lists(rules_over(specs, depth - 1), min_size=2, max_size=3))
    flat: list = []
    node = All if kind == "and" else AnyOf
    for part in parts:
        flat.extend(part.parts if isinstance(part, node) else [part])
    return node(tuple(flat))


@st.composite
def rubric_data(draw) -> dict[str, Any]:
    """A rubric as plain data: 1-3 sections of 1-4 questions, rules reading earlier questions."""
    sections = []
    earlier: list[dict[str, Any]] = []
    number = 0
    for s_index in range(draw(st.integers(1, 3))):
        section_rule = None
        if earlier and draw(st.integers(0, 3)) == 0:
            section_rule = rule_text(draw(rules_over(earlier, 2)))
        questions = []
        for _ in range(draw(st.integers(1, 4))):
            number += 1
            spec = draw(question_specs(f"q{number}"))
            if earlier and draw(st.booleans()):
                spec["applies_if"] = rule_text(draw(rules_over(earlier)))
            questions.append(spec)
        earlier += questions
        sections.append({"id": f"s{s_index + 1}", "title": draw(TEXT), "description": draw(st.none() | TEXT),
                         "applies_if": section_rule, "questions": questions})
    return {"id": draw(st.sampled_from(["r", "form-1", "iom.2019"])), "version": draw(st.sampled_from(["1", "2019.2", "v3"])),
            "title": draw(TEXT), "description": draw(st.none() | TEXT), "sections": sections}


def rubric_of(data: dict[str, Any]) -> Rubric:
    written = write_rubric(data)
    return parse_rubric(written.text, "generated.yaml")


@st.composite
def rubrics(draw) -> Rubric:
    return rubric_of(draw(rubric_data()))


@st.composite
def answer_sets(draw, rubric: Rubric) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for q in rubric.questions:
        if draw(st.integers(0, 3)) == 0:
            continue  # unanswered
        if q.type == "multi":
            answers[q.id] = draw(st.lists(st.sampled_from(q.option_codes), unique=True))
        elif q.is_choice:
            answers[q.id] = draw(st.sampled_from(q.option_codes))
        elif q.type == "integer":
            answers[q.id] = draw(st.integers(*q.range))
        elif q.type == "date":
            answers[q.id] = draw(st.sampled_from(DATES) | st.dates(dt.date(2018, 1, 1), dt.date(2021, 1, 1)).map(str))
        else:
            answers[q.id] = draw(CONSTANT_TEXT | TEXT)
    return answers
