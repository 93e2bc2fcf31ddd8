"""Applicability rules: a tiny, safe expression language over question ids.

A rule is parsed with ``ast.parse(source, mode="eval")`` and only these nodes
are accepted: ``and``/``or``/``not``; comparisons (``== != < <= > >= in``
``not in``, chains allowed); names, which are question ids; and constants
(strings and numbers) or tuples/lists of constants. Nothing is ever
evaluated by Python itself: the tree is compiled into small closures.

What a rule sees (three-valued logic, as in SQL):

* A question that applies and is answered is seen as its answer: an option
  code (a string), a list of codes (multi), a number, text or an ISO date.
* A question that is unanswered, or does not apply, is *unknown*.
* A comparison with an unknown side is unknown. ``not unknown`` is unknown.
  ``unknown and false`` is false; ``unknown or true`` is true; otherwise
  ``and``/``or`` with an unknown are unknown.
* A question applies only when its rule is *true*. So "not applicable"
  propagates: a question whose rule reads an inapplicable or unanswered
  question is itself inapplicable, unless the rest of the rule decides it
  (``a == "x" or b == "y"`` applies when ``b == "y"`` whatever ``a`` is).
"""

from __future__ import annotations

import ast
import datetime as _dt
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Protocol

from audit.errors import AuditError, did_you_mean

Truth = bool | None  # None is "unknown"
Values = Mapping[str, Any]

_OPS: dict[type, tuple[str, Callable[[Any, Any], bool]]] = {
    ast.Eq: ("==", lambda a, b: a == b),
    ast.NotEq: ("!=", lambda a, b: a != b),
    ast.Lt: ("<", lambda a, b: a < b),
    ast.LtE: ("<=", lambda a, b: a <= b),
    ast.Gt: (">", lambda a, b: a > b),
    ast.GtE: (">=", lambda a, b: a >= b),
    ast.In: ("in", lambda a, b: a in b),
    ast.NotIn: ("not in", lambda a, b: a not in b),
}

_REFUSED = {
    ast.Call: "function calls are not allowed",
    ast.Attribute: "'.' is not allowed",
    ast.Subscript: "indexing with [] is not allowed",
    ast.BinOp: "arithmetic is not allowed",
    ast.IfExp: "'if ... else' is not allowed; use and/or",
    ast.Lambda: "lambda is not allowed",
    ast.Dict: "dicts are not allowed",
    ast.Set: "sets are not allowed; use a tuple such as (\"a\", \"b\")",
    ast.NamedExpr: "':=' is not allowed",
    ast.JoinedStr: "f-strings are not allowed",
}


class RuleError(AuditError):
    """A rule that cannot be parsed. ``column`` is 1-based within the rule."""

    def __init__(self, source: str, column: int | None, reason: str):
        self.source = source
        self.column = column
        self.reason = reason
        at = f" at column {column}" if column else ""
        super().__init__(f"rule `{source}`{at}: {reason}")


@dataclass(frozen=True)
class Name:
    id: str
    column: int


@dataclass(frozen=True)
class Const:
    value: Any  # str | int | float | tuple of those
    column: int

    @property
    def is_list(self) -> bool:
        return isinstance(self.value, tuple)


Operand = Name | Const


@dataclass(frozen=True)
class Comparison:
    left: Operand
    op: str
    right: Operand


class Rule:
    """A parsed rule. ``evaluate(values)`` gives True, False or None (unknown)."""

    __slots__ = ("source", "names", "comparisons", "_fn")

    def __init__(self, source: str, names: frozenset[str], comparisons: tuple[Comparison, ...], fn):
        self.source = source
        self.names = names
        self.comparisons = comparisons
        self._fn = fn

    def evaluate(self, values: Values) -> Truth:
        return self._fn(values)

    def __repr__(self) -> str:
        return f"Rule({self.source!r})"


def parse_rule(source: str) -> Rule:
    """Parse a rule, refusing every construct outside the whitelist."""
    if not isinstance(source, str) or not source.strip():
        raise RuleError(" ".join(str(source or "").split()), None, "the rule is empty; write a comparison such as q == \"yes\"")
    # rules may be folded over several YAML lines; spaces inside quotes are kept
    text = " ".join(line.strip() for line in source.strip().splitlines())
    try:
        with warnings.catch_warnings():  # e.g. "invalid decimal literal" for 1and: not for users' eyes
            warnings.simplefilter("ignore", SyntaxWarning)
            warnings.simplefilter("ignore", DeprecationWarning)  # "invalid escape sequence" (Python 3.11)
            tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise RuleError(text, exc.offset, f"not a valid rule ({exc.msg})") from None
    except (ValueError, UnicodeError):  # null bytes, lone surrogates
        raise RuleError(text.encode("utf-8", "backslashreplace").decode("utf-8"), None, "has characters a rule cannot contain; retype it") from None
    except (RecursionError, MemoryError):
        raise RuleError(text[:80], None, _TOO_DEEP) from None
    if _depth(tree) > MAX_DEPTH:  # compiled rules nest one closure per level
        raise RuleError(text, None, _TOO_DEEP)
    comparisons: list[Comparison] = []
    names: set[str] = set()
    fn = _compile(tree.body, text, comparisons, names)
    return Rule(text, frozenset(names), tuple(comparisons), fn)


MAX_DEPTH = 100
_TOO_DEEP = f"is nested more than {MAX_DEPTH} levels deep; simplify it"


def _depth(tree: ast.AST) -> int:
    """How deeply ``tree`` nests, without recursing."""
    deepest = 0
    stack = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _col(node: ast.AST) -> int:
    return getattr(node, "col_offset", 0) + 1


def _constant(node: ast.AST, source: str) -> Any:
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or node.value is None:
            raise RuleError(
                source, _col(node), f"{node.value!r} is not a value here; yes/no answers are the codes \"yes\" and \"no\""
            )
        if isinstance(node.value, (str, int, float)):
            return node.value
        raise RuleError(source, _col(node), f"{type(node.value).__name__} constants are not allowed")
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) and isinstance(node.operand, ast.Constant):
        value = _constant(node.operand, source)
        if isinstance(value, (int, float)):
            return -value
    raise RuleError(source, _col(node), "expected a constant such as \"yes\" or 3")


def _operand(node: ast.AST, source: str, names: set[str]) -> Operand:
    if isinstance(node, ast.Name):
        names.add(node.id)
        return Name(node.id, _col(node))
    if isinstance(node, (ast.Tuple, ast.List)):
        return Const(tuple(_constant(item, source) for item in node.elts), _col(node))
    if isinstance(node, (ast.Constant, ast.UnaryOp)):
        return Const(_constant(node, source), _col(node))
    raise _refusal(node, source)


def _refusal(node: ast.AST, source: str) -> RuleError:
    for kind, reason in _REFUSED.items():
        if isinstance(node, kind):
            return RuleError(source, _col(node), reason)
    return RuleError(source, _col(node), f"'{type(node).__name__}' is not allowed in a rule")


def _getter(operand: Operand) -> Callable[[Values], Any]:
    if isinstance(operand, Name):
        key = operand.id
        return lambda values: values.get(key)
    value = operand.value
    return lambda values: value


def _compile(node: ast.AST, source: str, comparisons: list[Comparison], names: set[str]):
    if isinstance(node, ast.BoolOp):
        parts = [_compile(v, source, comparisons, names) for v in node.values]
        return _all(parts) if isinstance(node.op, ast.And) else _any(parts)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        inner = _compile(node.operand, source, comparisons, names)

        def negate(values: Values) -> Truth:
            result = inner(values)
            return None if result is None else not result

        return negate
    if isinstance(node, ast.Compare):
        operands = [_operand(n, source, names) for n in [node.left, *node.comparators]]
        pairs = []
        for index, op_node in enumerate(node.ops):
            if isinstance(op_node, (ast.Is, ast.IsNot)):
                better = "==" if isinstance(op_node, ast.Is) else "!="
                raise RuleError(source, _col(node), f"'is' compares identity; use {better}")
            symbol, func = _OPS[type(op_node)]
            left, right = operands[index], operands[index + 1]
            comparisons.append(Comparison(left, symbol, right))
            pairs.append(_pair(_getter(left), _getter(right), func))
        return pairs[0] if len(pairs) == 1 else _all(pairs)
    if isinstance(node, ast.Name):
        raise RuleError(source, _col(node), f"'{node.id}' alone is not a rule; compare it, e.g. {node.id} == \"yes\"")
    if isinstance(node, ast.Constant):
        raise RuleError(source, _col(node), "a constant alone is not a rule; compare a question with it")
    raise _refusal(node, source)


def _pair(get_left, get_right, func):
    def compare(values: Values) -> Truth:
        a = get_left(values)
        b = get_right(values)
        if a is None or b is None:
            return None
        try:
            return bool(func(a, b))
        except TypeError:  # only reachable for rules never checked against a rubric
            return None

    return compare


def _all(parts):
    def conjunction(values: Values) -> Truth:
        result: Truth = True
        for part in parts:
            value = part(values)
            if value is False:
                return False
            if value is None:
                result = None
        return result

    return conjunction


def _any(parts):
    def disjunction(values: Values) -> Truth:
        result: Truth = False
        for part in parts:
            value = part(values)
            if value is True:
                return True
            if value is None:
                result = None
        return result

    return disjunction


# --- checking a rule against the questions it reads -------------------------------------


class QuestionShape(Protocol):
    id: str
    type: str

    @property
    def option_codes(self) -> list[str]: ...

    def option_code_for(self, text: str) -> str | None: ...


CHOICE_TYPES = {"single", "yes_no", "yes_no_na"}
ORDERED_TYPES = {"integer", "date"}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _is_iso_date(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        _dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def check_rule(rule: Rule, questions: Mapping[str, QuestionShape], also_known: frozenset[str] = frozenset()) -> list[str]:
    """Every problem with ``rule`` against the rubric's questions, as messages.

    ``also_known`` names questions that exist but failed their own checks, so
    rules reading them are not also reported.
    """
    problems: list[str] = []
    for name in sorted(rule.names):
        if name not in questions and name not in also_known:
            problems.append(f"rule `{rule.source}` names unknown question '{name}'{did_you_mean(name, questions)}")
    for comparison in rule.comparisons:
        message = _check_comparison(comparison, questions)
        if message:
            problems.append(f"rule `{rule.source}` at column {comparison.left.column}: {message}")
    return problems


def _check_comparison(c: Comparison, questions: Mapping[str, QuestionShape]) -> str | None:
    left, op, right = c.left, c.op, c.right
    if isinstance(left, Const) and isinstance(right, Const):
        return "compares two constants; one side must be a question id"
    if isinstance(left, Name) and isinstance(right, Name):
        if left.id not in questions or right.id not in questions:
            return None  # reported as an unknown name
        a, b = questions[left.id], questions[right.id]
        if op in ("in", "not in"):
            return f"'{op}' between two questions is not supported; compare a question with constants"
        if _kind(a) != _kind(b) or _kind(a) == "multi":
            return f"compares {a.type} question '{a.id}' with {b.type} question '{b.id}'"
        if op in ("<", "<=", ">", ">=") and a.type not in ORDERED_TYPES:
            return f"only integer and date questions can be ordered with {op}"
        return None
    # one question, one constant
    if isinstance(left, Name):
        name, const, question_on_left = left, right, True
    else:
        name, const, question_on_left = right, left, False
    if name.id not in questions:
        return None
    q = questions[name.id]
    if op in ("in", "not in"):
        if not question_on_left:  # "code" in q: q must be multi-choice
            if q.type != "multi":
                return f"'\"x\" in {q.id}' tests a multi-choice answer, but '{q.id}' is {q.type}; use {q.id} == \"x\""
            if const.is_list:
                return f"write one code per test: \"x\" in {q.id}"
            return _check_value(q, const.value)
        if not const.is_list:
            return f"'{q.id} {op} ...' needs a tuple of values, such as (\"a\", \"b\")"
        if q.type == "multi":
            return f"'{q.id}' is multi-choice; test one code at a time: \"x\" in {q.id}"
        for item in const.value:
            message = _check_value(q, item)
            if message:
                return message
        return None
    if const.is_list:
        return f"compares '{q.id}' with a list; use '{q.id} in (...)'"
    if q.type == "multi":
        return f"'{q.id}' is multi-choice; test membership: \"x\" in {q.id}"
    if op in ("<", "<=", ">", ">=") and q.type not in ORDERED_TYPES:
        return f"'{q.id}' is {q.type}; only integer and date questions can be ordered with {op}"
    return _check_value(q, const.value)


def _kind(q: QuestionShape) -> str:
    return "choice" if q.type in CHOICE_TYPES else q.type


def _check_value(q: QuestionShape, value: Any) -> str | None:
    if q.type in CHOICE_TYPES or q.type == "multi":
        if not isinstance(value, str):
            return f"compares {q.type} question '{q.id}' with the number {value!r}; option codes are strings, e.g. \"{q.option_codes[0] if q.option_codes else 'yes'}\""
        if value not in q.option_codes:
            code = q.option_code_for(value)
            if code is not None:
                return f"'{value}' is a label of '{q.id}'; rules use its code \"{code}\""
            return f"'{value}' is not an option code of '{q.id}' (codes: {', '.join(q.option_codes)}){did_you_mean(value, q.option_codes)}"
        return None
    if q.type == "integer":
        if not _is_number(value):
            return f"compares integer question '{q.id}' with the string {value!r}; write the number without quotes"
        return None
    if q.type == "date":
        if not _is_iso_date(value):
            return f"compares date question '{q.id}' with {value!r}; write a date as \"YYYY-MM-DD\""
        return None
    if q.type == "text" and not isinstance(value, str):
        return f"compares text question '{q.id}' with the number {value!r}; quote it"
    return None
