"""A rule as a small tree, for translating it to and from other languages.

:mod:`audit.rules` compiles a rule into closures, which is all the engine
needs. Translators (XLSForm's ``relevant``, SQL for Datasette's canned
queries) need its shape instead: :func:`tree_of` reads a rule that
:func:`audit.rules.parse_rule` accepted into :class:`Ref`, :class:`Lit`,
:class:`Compare`, :class:`Not`, :class:`All` and :class:`Any` nodes, and
:func:`rule_text` writes a tree back as rule text. Nothing is evaluated.

A chained comparison ``0 < n < 10`` becomes ``All(0 < n, n < 10)``, as the
engine reads it; nested ``and``/``or`` of the same kind are flattened.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from typing import Union

from audit.errors import AuditError
from audit.rules import Rule, RuleError, parse_rule

Scalar = Union[str, int, float]


@dataclass(frozen=True)
class Ref:
    """A question id."""

    name: str


@dataclass(frozen=True)
class Lit:
    """A constant: a string, a number, or a tuple of those (for ``in``)."""

    value: Scalar | tuple[Scalar, ...]


@dataclass(frozen=True)
class Compare:
    left: Ref | Lit
    op: str  # == != < <= > >= in "not in"
    right: Ref | Lit


@dataclass(frozen=True)
class Not:
    operand: "Node"


@dataclass(frozen=True)
class All:
    parts: tuple["Node", ...]


@dataclass(frozen=True)
class Any:
    parts: tuple["Node", ...]


Node = Union[Compare, Not, All, Any]
Operand = Union[Ref, Lit]

OPERATORS = ("==", "!=", "<", "<=", ">", ">=", "in", "not in")
_AST_OPS = {
    ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
    ast.In: "in", ast.NotIn: "not in",
}
#: the operator that means the same with its sides swapped (``3 < age`` is ``age > 3``)
MIRRORED = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


class RuleTreeError(AuditError):
    """A rule that cannot be put into the target language; the message says why."""


def tree_of(rule: Rule | str) -> Node:
    """The tree of a rule (a parsed :class:`Rule`, or rule text, which is parsed first)."""
    source = rule.source if isinstance(rule, Rule) else parse_rule(rule).source
    # parse_rule has already refused everything outside the whitelist; this walk only reads shape
    body = ast.parse(source, mode="eval").body
    return _node(body, source)


def _node(node: ast.AST, source: str) -> Node:
    if isinstance(node, ast.BoolOp):
        kind = All if isinstance(node.op, ast.And) else Any
        parts: list[Node] = []
        for value in node.values:
            child = _node(value, source)
            parts.extend(child.parts if isinstance(child, kind) else [child])
        return kind(tuple(parts))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        return Not(_node(node.operand, source))
    if isinstance(node, ast.Compare):
        operands = [_operand(n, source) for n in [node.left, *node.comparators]]
        links = [Compare(operands[i], _AST_OPS[type(op)], operands[i + 1]) for i, op in enumerate(node.ops)]
        return links[0] if len(links) == 1 else All(tuple(links))
    raise RuleError(source, getattr(node, "col_offset", 0) + 1, "is not a rule the translator knows")  # parse_rule refuses it first


def _operand(node: ast.AST, source: str) -> Operand:
    if isinstance(node, ast.Name):
        return Ref(node.id)
    if isinstance(node, (ast.Tuple, ast.List)):
        return Lit(tuple(_constant(item, source) for item in node.elts))
    return Lit(_constant(node, source))


def _constant(node: ast.AST, source: str) -> Scalar:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        return -node.operand.value
    raise RuleError(source, getattr(node, "col_offset", 0) + 1, "expected a constant")


# --- writing rule text ---------------------------------------------------------------------


def rule_text(node: Node) -> str:
    """Rule-language text for a tree; ``parse_rule(rule_text(t))`` reads back as ``t``."""
    if isinstance(node, Compare):
        return f"{operand_text(node.left)} {node.op} {operand_text(node.right)}"
    if isinstance(node, Not):
        return f"not ({rule_text(node.operand)})"
    if isinstance(node, All):
        return " and ".join(_grouped(part, (Any, All)) for part in node.parts)
    if isinstance(node, Any):
        # "a and b or c" is right, but the brackets save readers the precedence table
        return " or ".join(_grouped(part, (Any, All)) for part in node.parts)
    raise TypeError(f"not a rule tree node: {node!r}")


def _grouped(node: Node, kinds: tuple[type, ...]) -> str:
    text = rule_text(node)
    return f"({text})" if isinstance(node, kinds) else text


def operand_text(operand: Operand) -> str:
    if isinstance(operand, Ref):
        return operand.name
    value = operand.value
    if isinstance(value, tuple):
        inner = ", ".join(scalar_text(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return scalar_text(value)


def scalar_text(value: Scalar) -> str:
    """A constant as rule text: strings in double quotes where they can be, numbers as numbers."""
    if isinstance(value, bool):
        raise TypeError("rules have no booleans")
    if isinstance(value, str):
        if '"' not in value and "\\" not in value and value.isprintable():
            return f'"{value}"'
        return repr(value)  # a Python string literal, which the rule parser reads back exactly
    if isinstance(value, float) and not math.isfinite(value):
        raise RuleTreeError(f"the number {value} cannot be written in a rule")
    return repr(value)


def names_in(node: Node) -> set[str]:
    """Every question id a tree reads."""
    if isinstance(node, Compare):
        return {o.name for o in (node.left, node.right) if isinstance(o, Ref)}
    if isinstance(node, Not):
        return names_in(node.operand)
    return set().union(*(names_in(part) for part in node.parts))
