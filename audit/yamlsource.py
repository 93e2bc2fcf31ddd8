"""YAML loading that is bounded and remembers where every value came from.

Every YAML text the project reads (rubric and figure files, the rubric text a
database stores, ratings files) goes through :func:`parse_yaml` or
:func:`read_yaml`, so one set of limits holds for all of them. A file from
another laptop is untrusted input: an alias "bomb" of a few hundred bytes
would otherwise expand to gigabytes, and a deep or huge document would take
minutes. So, before anything is built:

- the text is at most :data:`MAX_BYTES` (1 MiB) of UTF-8 (our largest rubric is 11 KB);
- anchors and aliases (``&name``, ``*name``) are refused where they appear,
  before any alias is expanded: our files never need them;
- nesting is at most :data:`MAX_DEPTH` levels and a document at most
  :data:`MAX_NODES` values;
- a number is at most :data:`MAX_NUMBER_CHARS` characters;
- no text holds a control character (other than tab and line breaks) or a
  bidi override, which a quoted escape such as ``"\\e]0;title\\a"`` can write.

Each refusal is a located :class:`Problems` (``file:line``). The limits are
checked in one pass over the parser's events (nothing is built), then the
text is composed and constructed with the safe loader (libyaml's when
present). The composed nodes map each key path to its line, so that
validation errors can point at ``file:line``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from audit.errors import Problem, Problems, did_you_mean
from audit.identity import printable

Loc = tuple[str | int, ...]

#: the largest YAML text read, in bytes of UTF-8
MAX_BYTES = 1024 * 1024
#: how deep mappings and lists may nest (our files use 8 levels)
MAX_DEPTH = 64
#: how many values (keys, scalars, lists and mappings) one document may hold (ours: 600)
MAX_NODES = 100_000
#: the longest number, in characters: longer ones are refused before conversion,
#: which is quadratic for decimal and sexagesimal (1:20:30) integers
MAX_NUMBER_CHARS = 100
LIMIT_TEXT = "1 MiB"
_TOO_DEEP = f"YAML is nested too deeply (more than {MAX_DEPTH} levels); flatten it"
#: bidi embeddings, overrides and isolates: they reorder what a terminal or the UI shows
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_NUMBER_TAGS = {"tag:yaml.org,2002:int", "tag:yaml.org,2002:float"}


class _Refused(Exception):
    """A limit was passed while loading: the line (1-based) and what to do."""

    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


_BaseLoader = yaml.CSafeLoader if getattr(yaml, "__with_libyaml__", False) else yaml.SafeLoader


class _Loader(_BaseLoader):  # type: ignore[misc, valid-type]
    """The safe loader (libyaml's when present), with numbers bounded and bad values located."""

    OFFSETS_IN_BYTES = _BaseLoader is not yaml.SafeLoader  # libyaml counts a ReaderError's position in bytes

    def construct_object(self, node, deep=False):
        line = node.start_mark.line + 1
        if node.tag in _NUMBER_TAGS and isinstance(node.value, str) and len(node.value) > MAX_NUMBER_CHARS:
            raise _Refused(line, f"a number of {len(node.value):,} characters; numbers may have at most {MAX_NUMBER_CHARS} (quote it if it is text)")
        try:
            return super().construct_object(node, deep=deep)
        except (ValueError, OverflowError) as exc:  # e.g. a date such as 2019-13-45
            shown = node.value if isinstance(node.value, str) else node.tag
            shown = shown if len(shown) <= 40 else shown[:39] + "…"
            raise _Refused(line, f"'{shown}' cannot be read ({exc}); quote it if it is text") from None


def _check_limits(text: str) -> None:
    """One pass over the parser's events, building nothing: refuse anchors, aliases,
    deep nesting and too many values before the document is composed."""
    events = _Loader(text)
    depth = nodes = 0
    try:
        while events.check_event():
            event = events.get_event()
            kind = type(event)
            if kind is yaml.ScalarEvent or kind is yaml.SequenceStartEvent or kind is yaml.MappingStartEvent:
                if event.anchor is not None:
                    raise _Refused(event.start_mark.line + 1, f"YAML anchor &{event.anchor} is not accepted in audit files; write the value out in full where it is used")
                nodes += 1
                if nodes > MAX_NODES:
                    raise _Refused(event.start_mark.line + 1, f"the document holds more than {MAX_NODES:,} values, far more than any audit file; is this the file you meant?")
                if kind is not yaml.ScalarEvent:
                    depth += 1
                    if depth > MAX_DEPTH:
                        raise _Refused(event.start_mark.line + 1, _TOO_DEEP)
            elif kind is yaml.SequenceEndEvent or kind is yaml.MappingEndEvent:
                depth -= 1
            elif kind is yaml.AliasEvent:
                raise _Refused(event.start_mark.line + 1, f"YAML alias *{event.anchor} is not accepted in audit files; write the value out in full")
    finally:
        events.dispose()


@dataclass
class YamlDocument:
    path: str
    text: str
    data: Any
    lines: dict[Loc, int] = field(default_factory=dict)

    def line_of(self, loc: Loc) -> int:
        """The line of the longest known prefix of ``loc`` (1 if none is known)."""
        loc = tuple(loc)
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return self.lines.get((), 1)

    def where(self, loc: Loc = ()) -> str:
        return f"{self.path}:{self.line_of(loc)}"


def _hidden_character(text: str) -> str | None:
    """What in ``text`` could rewrite a terminal or reorder what is shown, or None."""
    if text.isprintable():
        return None
    for index, char in enumerate(text):
        code = ord(char)
        if (code < 0x20 and char not in "\t\n\r") or 0x7F <= code <= 0x9F:
            what = "a control character"
        elif char in BIDI_CONTROLS:
            what = "a bidirectional override"
        else:
            continue
        return f"the text '{printable(text[:60])}' holds {what} (U+{code:04X}) at character {index + 1}; remove it"
    return None


def _walk(node: yaml.Node, loc: Loc, lines: dict[Loc, int], problems: list[Problem], path: str) -> None:
    # a tree (aliases are refused) at most MAX_DEPTH deep: plain recursion is safe
    lines.setdefault(loc, node.start_mark.line + 1)
    if isinstance(node, yaml.ScalarNode):
        hidden = _hidden_character(node.value)
        if hidden:  # a quoted escape such as "\e]0;title\a" or "\u202e"
            problems.append(Problem(f"{path}:{node.start_mark.line + 1}", hidden))
    elif isinstance(node, yaml.MappingNode):
        seen: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(key_node.start_mark)
            line = key_node.start_mark.line + 1
            if key in seen:
                problems.append(
                    Problem(f"{path}:{line}", f"key '{key}' appears twice in one mapping (first at line {seen[key]}); keep one")
                )
            seen[key] = line
            lines[loc + (key,)] = line
            if not isinstance(key_node, yaml.ScalarNode):
                _walk(key_node, loc, {}, problems, path)
            elif _hidden_character(key_node.value):
                problems.append(Problem(f"{path}:{line}", _hidden_character(key_node.value)))
            _walk(value_node, loc + (key,), lines, problems, path)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[loc + (index,)] = item.start_mark.line + 1
            _walk(item, loc + (index,), lines, problems, path)


def _too_large(path: str, head: bytes) -> Problems:
    """The refusal of a text longer than MAX_BYTES; ``head`` is its first MAX_BYTES bytes."""
    line = head.count(b"\n") + 1
    return Problems([Problem(
        f"{path}:{line}",
        f"YAML text is larger than {LIMIT_TEXT} ({MAX_BYTES:,} bytes, the most audit reads; its own files are about 10 KB) "
        "and passes that limit at this line; is this the file you meant?",
    )])


def _syntax_problem(exc: yaml.YAMLError, text: str, path: str) -> Problem:
    if isinstance(exc, yaml.reader.ReaderError):  # a character YAML refuses, e.g. a control character
        before = text.encode("utf-8", "surrogatepass")[: exc.position] if _Loader.OFFSETS_IN_BYTES else text[: exc.position]
        line = before.count(b"\n" if _Loader.OFFSETS_IN_BYTES else "\n") + 1
        return Problem(f"{path}:{line}", f"YAML cannot hold this character ({exc.reason}, #x{exc.character:04x}); remove it")
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else 1
    reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    if "nesting depth" in reason:  # libyaml's own limit, met while it scans ahead
        return Problem(f"{path}:{line}", _TOO_DEEP)
    context = getattr(exc, "context", None)
    detail = f"{context}, {reason}" if context else reason
    return Problem(f"{path}:{line}", f"YAML syntax error: {detail}; check indentation and quoting")


def parse_yaml(text: str, path: str) -> YamlDocument:
    """Parse YAML text within the limits above; syntax errors, duplicate keys and
    every limit passed become located :class:`Problems`."""
    if len(text) > MAX_BYTES:  # more characters than bytes allowed: no need to encode it all
        raise _too_large(path, text[:MAX_BYTES].encode("utf-8", "surrogatepass")[:MAX_BYTES])
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as exc:  # a lone surrogate: cannot come from a file read as UTF-8
        line = text.count("\n", 0, exc.start) + 1
        raise Problems([Problem(f"{path}:{line}", "the text holds a character that is not valid Unicode; save it as UTF-8")]) from None
    if size > MAX_BYTES:
        raise _too_large(path, text.encode("utf-8")[:MAX_BYTES])
    loader = _Loader(text)
    try:
        _check_limits(text)
        root = loader.get_single_node()
        data = None if root is None else loader.construct_document(root)
    except _Refused as refused:
        raise Problems([Problem(f"{path}:{refused.line}", refused.message)]) from None
    except yaml.YAMLError as exc:
        raise Problems([_syntax_problem(exc, text, path)]) from None
    finally:
        loader.dispose()
    lines: dict[Loc, int] = {}
    problems: list[Problem] = []
    if root is not None:
        _walk(root, (), lines, problems, path)
    if problems:
        raise Problems(problems)
    return YamlDocument(path=path, text=text, data=data, lines=lines)


def read_yaml(path: str | Path) -> YamlDocument:
    """Read and parse a YAML file; an unreadable, oversized or non-UTF-8 file is a located problem.

    At most MAX_BYTES + 1 bytes are read, whatever the file's size.
    """
    shown = str(path)
    try:
        with Path(path).open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except FileNotFoundError:
        raise Problems([Problem(shown, "file not found; check the path")]) from None
    except IsADirectoryError:
        raise Problems([Problem(shown, "is a folder, not a YAML file")]) from None
    except OSError as exc:
        raise Problems([Problem(shown, f"cannot be read: {exc.strerror}")]) from None
    if len(raw) > MAX_BYTES:
        raise _too_large(shown, raw[:MAX_BYTES])
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise Problems([Problem(f"{shown}:{line}", "is not UTF-8 text; save it as UTF-8")]) from None
    return parse_yaml(text, shown)


def validation_message(err: dict, allowed_keys: list[str]) -> str:
    """One pydantic validation error in plain words (the cases every YAML file shares)."""
    loc = tuple(err["loc"])
    key = loc[-1] if loc else ""
    kind = err["type"]
    if kind == "extra_forbidden":
        return f"unknown key '{key}'{did_you_mean(key, allowed_keys)}; allowed keys: {', '.join(allowed_keys)}"
    if kind == "missing":
        return f"missing required key '{key}'"
    if kind == "string_pattern_mismatch":
        return f"'{err.get('input')}' has characters not allowed in an id"
    if kind == "value_error":
        return str(err["msg"]).removeprefix("Value error, ")
    where = ".".join(str(p) for p in loc)
    if kind in ("literal_error", "enum"):
        expected = err.get("ctx", {}).get("expected", "")
        return f"'{err.get('input')}' is not allowed for '{where}'; use {expected}"
    return f"{where}: {err['msg']}" if where else err["msg"]
