"""YAML loading that remembers where every value came from.

Data is read with ``yaml.safe_load``; the same text is composed (never
constructed) with the safe loader to map each key path to its line, so that
validation errors can point at ``file:line``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from audit.errors import Problem, Problems, did_you_mean

Loc = tuple[str | int, ...]


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


def _walk(node: yaml.Node, loc: Loc, lines: dict[Loc, int], problems: list[Problem], path: str,
          active: set[int] | None = None, done: set[int] | None = None) -> None:
    lines.setdefault(loc, node.start_mark.line + 1)
    # An alias shares its anchor's node: walk each node once (an alias "bomb" stays
    # linear; paths under an alias fall back to the alias's own line) and report an
    # alias that contains itself.
    active = set() if active is None else active
    done = set() if done is None else done
    if id(node) in active:
        problems.append(Problem(f"{path}:{lines.get(loc, 1)}", "an alias (*name) refers to a node that contains it; remove the recursion"))
        return
    if id(node) in done:
        return
    done.add(id(node))
    active.add(id(node))
    if isinstance(node, yaml.MappingNode):
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
            _walk(value_node, loc + (key,), lines, problems, path, active, done)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            lines[loc + (index,)] = item.start_mark.line + 1
            _walk(item, loc + (index,), lines, problems, path, active, done)
    active.discard(id(node))


def parse_yaml(text: str, path: str) -> YamlDocument:
    """Parse YAML text; syntax errors and duplicate keys become located :class:`Problems`."""
    try:
        data = yaml.safe_load(text)
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise Problems([Problem(f"{path}:1", "YAML is nested too deeply to read; flatten it")]) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else 1
        reason = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        context = getattr(exc, "context", None)
        detail = f"{context}, {reason}" if context else reason
        raise Problems([Problem(f"{path}:{line}", f"YAML syntax error: {detail}; check indentation and quoting")]) from None
    lines: dict[Loc, int] = {}
    problems: list[Problem] = []
    if root is not None:
        try:
            _walk(root, (), lines, problems, path)
        except RecursionError:
            raise Problems([Problem(f"{path}:1", "YAML is nested too deeply to read; flatten it")]) from None
    if problems:
        raise Problems(problems)
    return YamlDocument(path=path, text=text, data=data, lines=lines)


def read_yaml(path: str | Path) -> YamlDocument:
    """Read and parse a YAML file; an unreadable or non-UTF-8 file is a located problem."""
    shown = str(path)
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        raise Problems([Problem(shown, "file not found; check the path")]) from None
    except IsADirectoryError:
        raise Problems([Problem(shown, "is a folder, not a YAML file")]) from None
    except OSError as exc:
        raise Problems([Problem(shown, f"cannot be read: {exc.strerror}")]) from None
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
