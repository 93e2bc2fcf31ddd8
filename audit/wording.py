"""Rules and bases in words, from a rubric's question texts and option labels.

A report writer reads "cases whose answer to “Is the case subject to
Integrated Offender Management?” is Yes", never ``iom_status == "yes"``. The
rule text is read again with :mod:`ast` (never evaluated): only rules that
:func:`audit.rules.parse_rule` accepted reach here, so every node is one the
rule language allows.
"""

from __future__ import annotations

import ast
from typing import Any

from audit.rubric import Rubric

_ORDER_WORDS = {"<": "is less than", "<=": "is at most", ">": "is more than", ">=": "is at least"}
_FLIP = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}
_OPS = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
        ast.In: "in", ast.NotIn: "not in"}


def quoted(text: str) -> str:
    return f"“{text.strip()}”"


def _or_list(labels: list[str], word: str = "or") -> str:
    return labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} {word} {labels[-1]}"


class _Words:
    def __init__(self, rubric: Rubric):
        self.rubric = rubric

    def text(self, qid: str) -> str:
        return quoted(self.rubric.question(qid).text) if self.rubric.has_question(qid) else qid

    def value(self, qid: str, value: Any) -> str:
        if self.rubric.has_question(qid) and isinstance(value, str):
            question = self.rubric.question(qid)
            if question.is_choice:
                return question.label_for(value)
        return f"{value:,}" if isinstance(value, int) else str(value)

    def node(self, node: ast.AST, nested: bool = False) -> str:
        if isinstance(node, ast.BoolOp):
            word = " and " if isinstance(node.op, ast.And) else " or "
            text = word.join(self.node(v, nested=True) for v in node.values)
            return f"({text})" if nested else text
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return f"it is not true that {self.node(node.operand, nested=True)}"
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
            parts = [self.compare(operands[i], _OPS[type(op)], operands[i + 1]) for i, op in enumerate(node.ops)]
            text = " and ".join(parts)
            return f"({text})" if nested and len(parts) > 1 else text
        return ast.unparse(node)  # not reached for accepted rules

    def compare(self, left: ast.AST, op: str, right: ast.AST) -> str:
        if isinstance(left, ast.Name) and isinstance(right, ast.Name):
            same = "the same as" if op == "==" else "different from" if op == "!=" else _ORDER_WORDS.get(op, op)
            return f"the answer to {self.text(left.id)} is {same} the answer to {self.text(right.id)}"
        if op in ("in", "not in") and isinstance(right, ast.Name):  # "code" in multi
            label = self.value(right.id, ast.literal_eval(left))
            verb = "include" if op == "in" else "do not include"
            return f"the answers to {self.text(right.id)} {verb} {label}"
        if isinstance(right, ast.Name):  # 3 < age: turn it round
            left, right, op = right, left, _FLIP.get(op, op)
        qid = left.id if isinstance(left, ast.Name) else ast.unparse(left)
        value = ast.literal_eval(right)
        subject = f"the answer to {self.text(qid)}"
        if op in ("in", "not in"):
            labels = [self.value(qid, v) for v in value]
            return f"{subject} is {_or_list(labels)}" if op == "in" else f"{subject} is neither {_or_list(labels, 'nor')}"
        if op == "==":
            return f"{subject} is {self.value(qid, value)}"
        if op == "!=":
            return f"{subject} is not {self.value(qid, value)}"
        return f"{subject} {_ORDER_WORDS[op]} {self.value(qid, value)}"


def rule_in_words(source: str, rubric: Rubric) -> str:
    """A rule as a clause: 'the answer to “…” is Yes and …'."""
    text = " ".join(line.strip() for line in source.strip().splitlines())
    return _Words(rubric).node(ast.parse(text, mode="eval").body)


def applies_in_words(rubric: Rubric, question_id: str) -> str | None:
    """When a question applies, in words (its section's rule and its own), or None if always."""
    rules = [r for r in (rubric.section_of(question_id).applies_if, rubric.question(question_id).applies_if) if r]
    if not rules:
        return None
    return " and ".join(rule_in_words(rule, rubric) for rule in rules)
