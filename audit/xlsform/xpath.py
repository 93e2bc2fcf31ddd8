"""XLSForm ``relevant`` expressions, to and from the rule language.

The subset read is what a case audit's forms use: ``${q} = 'yes'``, ``!=``,
``<``, ``<=``, ``>``, ``>=``, ``and``, ``or``, ``not(...)``, parentheses,
``selected(${q}, 'x')``, ``count-selected(${q})`` compared with a number,
``date('YYYY-MM-DD')`` and ``${q} != ''`` ("is answered"). Everything else
(arithmetic, paths, other functions) is refused with the column it starts at.

Reading is in two steps: :func:`parse_xpath` tokenizes and parses the text
into a small XPath tree (no question knowledge needed), and :func:`translate`
turns that into a :mod:`audit.ruletree` tree, using each question's type and
options (a number compared with a choice question means its code, a
``selected()`` on a single-choice question is ``==``). :func:`xpath_of`
writes a rule tree back as XPath. Nothing is ever evaluated.
"""

from __future__ import annotations

import datetime as dt
import decimal
import itertools
import math
import re
from dataclasses import dataclass
from typing import Callable, Mapping, Protocol, Union

from audit.errors import AuditError, did_you_mean
from audit.ruletree import MIRRORED, All, Any, Compare, Lit, Node, Not, Ref, RuleTreeError, rule_text

MAX_NESTING = 50
MAX_COMBINATIONS = 64  # count-selected(${q}) >= k is written as every k-subset of q's options


class XPathError(AuditError):
    """An expression outside the subset. ``column`` is 1-based within the expression."""

    def __init__(self, column: int | None, reason: str):
        self.column = column
        self.reason = reason
        super().__init__(f"at column {column}: {reason}" if column else reason)


# --- the XPath tree ------------------------------------------------------------------------


@dataclass(frozen=True)
class XRef:
    name: str
    column: int


@dataclass(frozen=True)
class XStr:
    value: str
    column: int


@dataclass(frozen=True)
class XNum:
    value: int | float
    column: int


@dataclass(frozen=True)
class XDate:
    value: str
    column: int


@dataclass(frozen=True)
class XCountSelected:
    ref: XRef
    column: int


@dataclass(frozen=True)
class XSelected:
    ref: XRef
    code: XStr | XNum
    column: int


@dataclass(frozen=True)
class XCompare:
    left: "XValue"
    op: str  # = != < <= > >=
    right: "XValue"
    column: int


@dataclass(frozen=True)
class XNot:
    operand: "XBool"
    column: int


@dataclass(frozen=True)
class XAnd:
    parts: tuple["XBool", ...]


@dataclass(frozen=True)
class XOr:
    parts: tuple["XBool", ...]


XValue = Union[XRef, XStr, XNum, XDate, XCountSelected]
XBool = Union[XCompare, XNot, XAnd, XOr, XSelected]


# --- tokenizing ----------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""(?P<space>\s+)
      | (?P<ref>\$\{[^}]*\})
      | (?P<string>'[^']*'|"[^"]*")
      | (?P<number>\d+(?:\.\d*)?|\.\d+)
      | (?P<op>!=|<=|>=|=|<|>)
      | (?P<punct>[(),\-])
      | (?P<name>[A-Za-z_][A-Za-z0-9_.\-]*)
      | (?P<other>.)""",
    re.VERBOSE | re.DOTALL,
)

_REFUSED_CHARACTERS = {
    "+": "arithmetic is not supported", "*": "arithmetic is not supported",
    "/": "paths such as /data/q are not supported; write ${q}", "|": "'|' (node-set union) is not supported",
    "[": "predicates [...] are not supported", "]": "predicates [...] are not supported",
    "@": "attributes are not supported", "$": "write a question as ${name}",
    ".": "'.' (this question) cannot be read in relevant; name the question as ${name}",
}
_REFUSED_NAMES = {
    "div": "arithmetic is not supported", "mod": "arithmetic is not supported",
    "AND": "operators are lowercase: and", "OR": "operators are lowercase: or", "NOT": "write not(...) in lowercase",
}


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    column: int


def _tokens(text: str) -> list[_Token]:
    out: list[_Token] = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        column = match.start() + 1
        value = match.group()
        if kind == "space":
            continue
        if kind == "other":  # refused when the parser reaches it, so that earlier mistakes are named first
            if value in ("'", '"'):
                value = f"the string starting here has no closing {value}"
            else:
                value = _REFUSED_CHARACTERS.get(value, f"unexpected character {value!r}")
        out.append(_Token(kind, value, column))
    return out


# --- parsing -------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokens(text)
        self.position = 0
        self.depth = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise XPathError(len(self.text) + 1, "the expression ends too early")
        if token.kind == "other":
            raise XPathError(token.column, token.text)
        self.position += 1
        return token

    def expect(self, text: str, what: str) -> _Token:
        token = self.peek()
        if token is not None and token.kind == "other":
            raise XPathError(token.column, token.text)
        if token is None or token.text != text:
            column = token.column if token else len(self.text) + 1
            raise XPathError(column, f"expected {what}")
        return self.take()

    def is_word(self, word: str) -> bool:
        token = self.peek()
        return token is not None and token.kind == "name" and token.text == word

    def parse(self) -> XBool:
        if not self.tokens:
            raise XPathError(None, "the expression is empty")
        node = self.or_expr()
        token = self.peek()
        if token is not None:
            if token.kind == "other":
                raise XPathError(token.column, token.text)
            if token.text == "-" or token.text in _REFUSED_NAMES:
                raise XPathError(token.column, _REFUSED_NAMES.get(token.text, "arithmetic is not supported"))
            raise XPathError(token.column, f"unexpected {token.text!r}; join conditions with and / or")
        return self.boolean(node)

    def nested(self) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise XPathError(None, f"is nested more than {MAX_NESTING} levels deep; simplify it")

    def or_expr(self):
        parts = [self.and_expr()]
        while self.is_word("or"):
            self.take()
            parts.append(self.and_expr())
        if len(parts) == 1:
            return parts[0]
        return XOr(tuple(self.boolean(p) for p in parts))

    def and_expr(self):
        parts = [self.comparison()]
        while self.is_word("and"):
            self.take()
            parts.append(self.comparison())
        if len(parts) == 1:
            return parts[0]
        return XAnd(tuple(self.boolean(p) for p in parts))

    def comparison(self):
        left = self.primary()
        token = self.peek()
        if token is None or token.kind != "op":
            return left
        self.take()
        right = self.primary()
        after = self.peek()
        if after is not None and after.kind == "op":
            raise XPathError(after.column, "chained comparisons are not supported; join two comparisons with and")
        return XCompare(self.value(left, token.column), token.text, self.value(right, token.column), token.column)

    def primary(self):
        token = self.take()
        if token.kind == "ref":
            return self.primary_ref(token)
        if token.kind == "string":
            return XStr(token.text[1:-1], token.column)
        if token.kind == "number":
            value = float(token.text) if "." in token.text else int(token.text)
            return XNum(value, token.column)
        if token.text == "(":
            self.nested()
            inner = self.or_expr()
            self.expect(")", "')' to close the '(' at column " + str(token.column))
            self.depth -= 1
            return inner
        if token.text == "-":  # only as the sign of a number: ${age} > -1
            number = self.peek()
            if number is not None and number.kind == "number":
                self.take()
                return XNum(-(float(number.text) if "." in number.text else int(number.text)), token.column)
            raise XPathError(token.column, "arithmetic is not supported")
        if token.kind == "name":
            return self.function(token)
        raise XPathError(token.column, f"unexpected {token.text!r}")

    def function(self, token: _Token):
        name = token.text
        if name in _REFUSED_NAMES:
            raise XPathError(token.column, _REFUSED_NAMES[name])
        if name in ("and", "or"):
            raise XPathError(token.column, f"'{name}' needs a condition before it")
        if self.peek() is None or self.peek().text != "(":
            raise XPathError(token.column, f"'{name}' is not understood here; write a question as ${{{name}}} and text in quotes")
        self.take()
        self.nested()
        try:
            if name == "not":
                inner = self.boolean(self.or_expr())
                self.expect(")", "')' to close not(")
                return XNot(inner, token.column)
            if name == "selected":
                ref = self.ref_argument("selected")
                self.expect(",", "',' between selected()'s question and choice")
                code_token = self.take()
                if code_token.kind == "string":
                    code: XStr | XNum = XStr(code_token.text[1:-1], code_token.column)
                elif code_token.kind == "number":
                    code = XNum(float(code_token.text) if "." in code_token.text else int(code_token.text), code_token.column)
                else:
                    raise XPathError(code_token.column, "selected()'s second argument is a choice name in quotes, e.g. 'yes'")
                self.expect(")", "')' to close selected(")
                return XSelected(ref, code, token.column)
            if name == "count-selected":
                ref = self.ref_argument("count-selected")
                self.expect(")", "')' to close count-selected(")
                return XCountSelected(ref, token.column)
            if name == "date":
                arg = self.take()
                if arg.kind != "string":
                    raise XPathError(arg.column, "date() takes a date in quotes, e.g. date('2019-06-30')")
                self.expect(")", "')' to close date(")
                return XDate(arg.text[1:-1], token.column)
        finally:
            self.depth -= 1
        hint = " (true() and false() have no place in a rule: leave the condition out instead)" if name in ("true", "false") else ""
        raise XPathError(
            token.column,
            f"function {name}() is not supported{hint}; relevant may use not(), selected(), count-selected() and date()",
        )

    def ref_argument(self, function: str) -> XRef:
        token = self.take()
        if token.kind != "ref":
            raise XPathError(token.column, f"{function}() takes a question, written ${{name}}")
        node = self.primary_ref(token)
        return node

    @staticmethod
    def primary_ref(token: _Token) -> XRef:
        name = token.text[2:-1].strip()
        if not name:
            raise XPathError(token.column, "${} names no question")
        return XRef(name, token.column)

    @staticmethod
    def value(node, column: int) -> XValue:
        if isinstance(node, (XCompare, XNot, XAnd, XOr, XSelected)):
            raise XPathError(column, "a comparison compares a question with a value; compare conditions with and / or instead")
        return node

    @staticmethod
    def boolean(node) -> XBool:
        if isinstance(node, XRef):
            raise XPathError(node.column, f"${{{node.name}}} alone is not a condition; compare it, e.g. ${{{node.name}}} = 'yes'")
        if isinstance(node, (XStr, XNum, XDate)):
            raise XPathError(node.column, "a value alone is not a condition; compare a question with it")
        if isinstance(node, XCountSelected):
            raise XPathError(node.column, "compare count-selected() with a number, e.g. count-selected(${q}) > 0")
        return node


def parse_xpath(text: str) -> XBool:
    """Parse a ``relevant`` expression of the subset; raise :class:`XPathError` where it is not."""
    return _Parser(text).parse()


def refs_in(node) -> list[XRef]:
    """Every ``${name}`` an XPath tree reads, in order."""
    if isinstance(node, XRef):
        return [node]
    if isinstance(node, XCompare):
        return refs_in(node.left) + refs_in(node.right)
    if isinstance(node, (XSelected, XCountSelected)):
        return [node.ref]
    if isinstance(node, XNot):
        return refs_in(node.operand)
    if isinstance(node, (XAnd, XOr)):
        return [ref for part in node.parts for ref in refs_in(part)]
    return []


# --- XPath tree -> rule tree -----------------------------------------------------------------


class QuestionShape(Protocol):
    """What translation needs to know of a question (a rubric Question has all of it)."""

    type: str
    range: tuple[int, int] | None

    @property
    def option_codes(self) -> list[str]: ...


CHOICE = {"single", "yes_no", "yes_no_na"}
_TRUE, _FALSE = "always true", "always false"  # folded constants of count-selected


def translate(node: XBool, questions: Mapping[str, QuestionShape], others: Mapping[str, str] | None = None) -> Node:
    """The rule tree for an XPath tree; ``others`` names what non-questions are (``{'intro': 'note'}``)."""
    result = _Translator(questions, others or {}).boolean(node)
    if result in (_TRUE, _FALSE):
        raise XPathError(None, f"is {result}; leave it out, or write the condition you mean")
    return result


class _Translator:
    def __init__(self, questions: Mapping[str, QuestionShape], others: Mapping[str, str]):
        self.questions = questions
        self.others = others

    def question(self, ref: XRef) -> QuestionShape:
        if ref.name in self.questions:
            return self.questions[ref.name]
        if ref.name in self.others:
            raise XPathError(ref.column, f"${{{ref.name}}} is a {self.others[ref.name]}, not a question; relevant reads answers")
        known = list(self.questions)
        raise XPathError(ref.column, f"no question named '{ref.name}' in the survey sheet{did_you_mean(ref.name, known)}")

    def boolean(self, node: XBool):
        if isinstance(node, XOr):
            return _fold(Any, [self.boolean(p) for p in node.parts])
        if isinstance(node, XAnd):
            return _fold(All, [self.boolean(p) for p in node.parts])
        if isinstance(node, XNot):
            inner = self.boolean(node.operand)
            return _negate(inner)
        if isinstance(node, XSelected):
            return self.selected(node)
        return self.compare(node)

    def selected(self, node: XSelected) -> Node:
        q = self.question(node.ref)
        if q.type != "multi" and q.type not in CHOICE:
            raise XPathError(node.column, f"selected() needs a select question; ${{{node.ref.name}}} is {q.type}")
        code = self.code(q, node.ref, node.code)
        if q.type == "multi":
            return Compare(Lit(code), "in", Ref(node.ref.name))
        return Compare(Ref(node.ref.name), "==", Lit(code))

    def code(self, q: QuestionShape, ref: XRef, literal: XStr | XNum) -> str:
        codes = q.option_codes
        if isinstance(literal, XStr):
            if literal.value in codes:
                return literal.value
            raise XPathError(literal.column, f"'{literal.value}' is not a choice name of ${{{ref.name}}} (choices: {', '.join(codes)})"
                             f"{did_you_mean(literal.value, codes)}")
        matches = [c for c in codes if _number(c) == literal.value]
        if len(matches) == 1:
            return matches[0]
        raise XPathError(literal.column, f"{_number_text(literal.value)} is not a choice name of ${{{ref.name}}} (choices: {', '.join(codes)})")

    def compare(self, node: XCompare):
        left, op, right = node.left, node.op, node.right
        if isinstance(left, XCountSelected) or isinstance(right, XCountSelected):
            return self.count_selected(node)
        if not isinstance(left, XRef) and isinstance(right, XRef):  # keep the question on the left
            left, op, right = right, MIRRORED["==" if op == "=" else op], left
        if not isinstance(left, XRef):
            raise XPathError(node.column, "compares two values; one side must be a question, written ${name}")
        rule_op = "==" if op == "=" else op
        q = self.question(left)
        if isinstance(right, XRef):
            other = self.question(right)
            return self.question_pair(node, left, rule_op, right, q, other)
        if isinstance(right, XStr) and right.value == "":
            return self.answered(node, left, q, rule_op)
        if q.type == "multi":
            raise XPathError(node.column, f"${{{left.name}}} is select_multiple; test a choice with selected(${{{left.name}}}, 'x')")
        if q.type in CHOICE:
            if rule_op not in ("==", "!="):
                raise XPathError(node.column, f"${{{left.name}}} is a select_one question; compare it with = or !=, not {op}")
            if isinstance(right, XDate):
                raise XPathError(right.column, f"${{{left.name}}} is a select_one question, not a date")
            return Compare(Ref(left.name), rule_op, Lit(self.code(q, left, right)))
        if q.type == "integer":
            return Compare(Ref(left.name), rule_op, Lit(self.number(left, right)))
        if q.type == "date":
            return Compare(Ref(left.name), rule_op, Lit(self.date(left, right)))
        if q.type == "text":
            if rule_op not in ("==", "!="):
                raise XPathError(node.column, f"${{{left.name}}} is a text question; only integer and date questions can be ordered with {op}")
            if not isinstance(right, XStr):
                raise XPathError(right.column, f"${{{left.name}}} is a text question; compare it with text in quotes")
            return Compare(Ref(left.name), rule_op, Lit(right.value))
        raise XPathError(node.column, f"${{{left.name}}} is {q.type}; it cannot be compared")

    @staticmethod
    def number(ref: XRef, value) -> int | float:
        if isinstance(value, XNum):
            return value.value
        if isinstance(value, XStr) and _number(value.value) is not None:
            number = _number(value.value)
            return int(number) if number.is_integer() else number
        raise XPathError(value.column, f"${{{ref.name}}} is an integer question; compare it with a number")

    @staticmethod
    def date(ref: XRef, value) -> str:
        if isinstance(value, (XDate, XStr)):
            try:
                return dt.date.fromisoformat(value.value).isoformat()
            except ValueError:
                pass
        raise XPathError(value.column, f"${{{ref.name}}} is a date question; compare it with date('YYYY-MM-DD')")

    def question_pair(self, node: XCompare, left: XRef, op: str, right: XRef, a: QuestionShape, b: QuestionShape) -> Node:
        kind = lambda q: "choice" if q.type in CHOICE else q.type  # noqa: E731
        if kind(a) != kind(b) or a.type == "multi":
            raise XPathError(node.column, f"compares {a.type} question ${{{left.name}}} with {b.type} question ${{{right.name}}}")
        if op not in ("==", "!=") and a.type not in ("integer", "date"):
            raise XPathError(node.column, f"only integer and date questions can be ordered with {node.op}")
        return Compare(Ref(left.name), op, Ref(right.name))

    def answered(self, node: XCompare, ref: XRef, q: QuestionShape, op: str) -> Node:
        """``${q} != ''``: the question is answered. ``= ''`` cannot be a rule (see docs/xlsform.md)."""
        if op != "!=":
            raise XPathError(
                node.column,
                f"${{{ref.name}}} {node.op} '' tests for no answer, which a rule cannot: an unanswered question is "
                "unknown, never equal to anything; test an answer that is given instead",
            )
        name = Ref(ref.name)
        if q.type == "multi":
            return _any([Compare(Lit(code), "in", name) for code in q.option_codes])
        if q.type in CHOICE:
            return Compare(name, "in", Lit(tuple(q.option_codes)))
        if q.type == "integer" and q.range is not None:
            return Compare(name, ">=", Lit(q.range[0]))
        if q.type == "date":
            return Compare(name, ">=", Lit("0001-01-01"))
        return Compare(name, "!=", Lit(""))

    def count_selected(self, node: XCompare):
        left, op, right = node.left, node.op, node.right
        if not isinstance(left, XCountSelected):
            left, op, right = right, MIRRORED["==" if op == "=" else op], left
            op = "=" if op == "==" else op
        if isinstance(right, XCountSelected) or not isinstance(right, XNum):
            raise XPathError(node.column, "compare count-selected() with a number, e.g. count-selected(${q}) > 0")
        q = self.question(left.ref)
        if q.type != "multi":
            raise XPathError(left.column, f"count-selected() needs a select_multiple question; ${{{left.ref.name}}} is {q.type}")
        codes = q.option_codes
        at_least = lambda k: _at_least(left.ref.name, codes, k, node.column)  # noqa: E731
        n = right.value
        if op == ">=":
            return at_least(math.ceil(n))
        if op == ">":
            return at_least(math.floor(n) + 1)
        if op == "<":
            return _negate(at_least(math.ceil(n)))
        if op == "<=":
            return _negate(at_least(math.floor(n) + 1))
        exact = _FALSE if not float(n).is_integer() else _fold(All, [at_least(int(n)), _negate(at_least(int(n) + 1))])
        return exact if op == "=" else _negate(exact)


def _at_least(name: str, codes: list[str], k: int, column: int):
    """``count-selected(${name}) >= k`` as membership tests: any k-subset of the options is ticked."""
    if k <= 0:
        return _TRUE
    if k > len(codes):
        return _FALSE
    tests = [Compare(Lit(code), "in", Ref(name)) for code in codes]
    if k == 1:
        return _any(tests)
    if k == len(codes):
        return All(tuple(tests))
    if math.comb(len(codes), k) > MAX_COMBINATIONS:
        raise XPathError(
            column,
            f"count-selected(${{{name}}}) >= {k} over {len(codes)} choices would need {math.comb(len(codes), k)} "
            f"combinations in a rule (at most {MAX_COMBINATIONS}); test the choices you mean with selected()",
        )
    return Any(tuple(All(combo) for combo in itertools.combinations(tests, k)))


def _any(parts: list[Node]) -> Node:
    return parts[0] if len(parts) == 1 else Any(tuple(parts))


def _fold(kind, parts: list):
    """``kind`` (All or Any) of parts, folding the constants count-selected can produce."""
    absorbing, neutral = (_FALSE, _TRUE) if kind is All else (_TRUE, _FALSE)
    if absorbing in parts:
        return absorbing
    kept: list[Node] = []
    for part in parts:
        if part == neutral:
            continue
        kept.extend(part.parts if isinstance(part, kind) else [part])
    if not kept:
        return neutral
    return kept[0] if len(kept) == 1 else kind(tuple(kept))


def _negate(node):
    if node == _TRUE:
        return _FALSE
    if node == _FALSE:
        return _TRUE
    return Not(node)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) and re.fullmatch(r"-?(\d+(\.\d*)?|\.\d+)", text.strip()) else None


def _number_text(value: int | float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(value)


# --- rule tree -> XPath ------------------------------------------------------------------------


def xpath_of(node: Node, questions: Mapping[str, QuestionShape]) -> str:
    """XPath for a rule tree of a rubric whose questions are ``questions`` (rules already checked).

    Raises :class:`RuleTreeError` for a string that XPath 1.0 cannot quote.
    """
    return _xpath(node, questions.__getitem__)


def _xpath(node: Node, question: Callable[[str], QuestionShape]) -> str:
    if isinstance(node, Any):
        return " or ".join(_xpath_grouped(part, question, (All,)) for part in node.parts)
    if isinstance(node, All):
        return " and ".join(_xpath_grouped(part, question, (Any,)) for part in node.parts)
    if isinstance(node, Not):
        return f"not({_xpath(node.operand, question)})"
    return _xpath_compare(node, question)


def _xpath_grouped(node: Node, question, kinds: tuple[type, ...]) -> str:
    text = _xpath(node, question)
    return f"({text})" if isinstance(node, kinds) else text


def _xpath_compare(node: Compare, question) -> str:
    left, op, right = node.left, node.op, node.right
    constants = [v for side in (left, right) if isinstance(side, Lit) for v in (side.value if isinstance(side.value, tuple) else (side.value,))]
    if "" in constants and op != "!=":
        # XPath's = '' is true for an unanswered question, which a rule's == "" never is
        raise RuleTreeError(f"`{rule_text(node)}` compares with empty text, which XLSForm reads as 'unanswered'; "
                            "an answer is never empty, so remove this test")
    if op in ("in", "not in"):
        if isinstance(right, Ref):  # "x" in q: a multi-choice test
            test = f"selected(${{{right.name}}}, {_xpath_string(left.value)})"
            return test if op == "in" else f"not({test})"
        q = question(left.name)
        tests = " or ".join(f"${{{left.name}}} = {_xpath_value(q, v)}" for v in right.value)
        if op == "in":
            return f"({tests})" if len(right.value) > 1 else tests
        return f"not({tests})"
    xop = "=" if op == "==" else op
    reference = left if isinstance(left, Ref) else right
    q = question(reference.name)
    return f"{_xpath_operand(q, left)} {xop} {_xpath_operand(q, right)}"


def _xpath_operand(q: QuestionShape, operand) -> str:
    if isinstance(operand, Ref):
        return f"${{{operand.name}}}"
    return _xpath_value(q, operand.value)


def _xpath_value(q: QuestionShape, value) -> str:
    if isinstance(value, str):
        literal = _xpath_string(value)
        return f"date({literal})" if q.type == "date" else literal
    if isinstance(value, float):
        if not math.isfinite(value):
            raise RuleTreeError(f"the number {value} cannot be written in XPath")
        return format(decimal.Decimal(repr(value)), "f")  # XPath numbers have no exponent
    return str(value)


def _xpath_string(value: str) -> str:
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    raise RuleTreeError(f"the text {value!r} holds both ' and \", which an XLSForm expression cannot quote")
