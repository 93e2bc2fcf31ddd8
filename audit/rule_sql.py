"""Rules as SQL over an audit database, for queries people run without the tool.

A figure column's filter (``where: iom_status == "yes"``) is a rule. Here it
becomes a WHERE clause over each case's *visible* answers (current, to a
question that applies), exactly the values ``audit export`` hands the rule
engine; SQL's NULL logic is the rules' three-valued logic (NULL is unknown,
``NULL AND FALSE`` is false, ``NOT NULL`` is NULL), and a case is kept only
where the clause is true, as the export keeps only cases whose filter is
true.

Every constant becomes a quoted SQL literal (never pasted text): strings in
single quotes with quotes doubled, NUL as ``char(0)``, and split so that no
literal holds ``--``, ``/*``, ``*/`` or ``:name`` (Datasette looks for its
named parameters in the text of a query); numbers as numbers.
"""

from __future__ import annotations

import math
import re
from typing import Callable, Mapping

from audit.errors import AuditError
from audit.rules import Rule
from audit.ruletree import All, Any, Compare, Lit, Node, Not, Ref, names_in, tree_of

_OPERATORS = {"==": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}
_WORD = re.compile(r"\w")


class SqlError(AuditError):
    """A constant that SQL text cannot carry (a lone surrogate, an infinite number)."""


def sql_literal(value: str | int | float) -> str:
    """A SQL literal for ``value`` that reads back as exactly ``value``."""
    if isinstance(value, bool):
        raise TypeError("rules have no booleans")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SqlError(f"the number {value} cannot be written in SQL")
        return repr(value)
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise SqlError(f"the text {value!r} holds a character SQL cannot store; retype it") from None
    pieces: list[str] = []
    current = ""
    for char in value:
        if char == "\x00":  # SQL text cannot hold NUL
            pieces += [_quoted(current)] if current else []
            pieces.append("char(0)")
            current = ""
            continue
        if current and _joins_badly(current, char):
            pieces.append(_quoted(current))
            current = ""
        current += char
    if current or not pieces:
        pieces.append(_quoted(current))
    return pieces[0] if len(pieces) == 1 else "(" + " || ".join(pieces) + ")"


def _joins_badly(text: str, char: str) -> bool:
    """Whether ``char`` after ``text`` would make a comment marker, a :name, or the word Datasette refuses."""
    pair = text[-1] + char
    return (pair in ("--", "/*", "*/") or (text[-1] == ":" and bool(_WORD.match(char)))
            or (char in "aA" and text[-5:].lower() == "pragm"))


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def identifier(name: str) -> str:
    """A quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def condition(node: Node, value_of: Callable[[str], str], types: Mapping[str, str]) -> str:
    """SQL that is true, false or NULL exactly as the rule is true, false or unknown.

    ``value_of(question_id)`` is the SQL of that question's visible answer
    (its JSON text, NULL when unanswered or not applicable); ``types`` maps
    question ids to their rubric types.
    """
    if isinstance(node, All):
        return "(" + " AND ".join(condition(p, value_of, types) for p in node.parts) + ")"
    if isinstance(node, Any):
        return "(" + " OR ".join(condition(p, value_of, types) for p in node.parts) + ")"
    if isinstance(node, Not):
        return f"NOT {condition(node.operand, value_of, types)}"
    return _comparison(node, value_of, types)


def _comparison(node: Compare, value_of, types) -> str:
    left, op, right = node.left, node.op, node.right
    if op in ("in", "not in") and isinstance(right, Ref):  # "code" in a multi-choice answer
        value = value_of(right.name)
        test = "EXISTS" if op == "in" else "NOT EXISTS"
        return (f"(CASE WHEN json_type({value}) = 'array' THEN {test} "
                f"(SELECT 1 FROM json_each({value}) WHERE json_each.value = {sql_literal(left.value)}) END)")
    if op in ("in", "not in"):
        items = ", ".join(sql_literal(v) for v in right.value)
        return f"({_operand(left, value_of)} {'IN' if op == 'in' else 'NOT IN'} ({items}))"
    return f"({_operand(left, value_of)} {_OPERATORS[op]} {_operand(right, value_of)})"


def _operand(operand: Ref | Lit, value_of) -> str:
    if isinstance(operand, Ref):
        return f"json_extract({value_of(operand.name)}, '$')"
    return sql_literal(operand.value)


def visible_answer_alias(question_id: str) -> str:
    return f"f_{question_id}"


def cases_passing(rule: Rule | None, rubric_id: str, types: Mapping[str, str], indent: str = "") -> str:
    """A SELECT of ``uuid`` for the cases of ``rubric_id`` whose rule is true (all of them with no rule).

    Each question the rule reads is joined once, by primary key, as its visible answer.
    """
    lines = ["SELECT c.uuid", "FROM cases c"]
    where = [f"c.rubric_id = {sql_literal(rubric_id)}"]
    if rule is not None:
        tree = tree_of(rule)
        for name in sorted(names_in(tree)):
            alias = visible_answer_alias(name)
            lines.append(
                f"LEFT JOIN answers {alias} ON {alias}.case_uuid = c.uuid AND {alias}.question_id = {sql_literal(name)}"
                f" AND {alias}.applies = 1 AND {alias}.state = 'current'"
            )
        where.append(condition(tree, lambda name: f"{visible_answer_alias(name)}.value", types))
    lines.append("WHERE " + "\n  AND ".join(where))
    return "\n".join(indent + line for line in lines)
