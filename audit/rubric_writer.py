"""Rubric YAML written the way people write it by hand.

Keys come in the order docs/rubric-format.md lists them; options use the
short form ``code: Label`` unless they never count; a question's
``required`` is written only when it is false (true is the default);
scalars are quoted only where YAML needs it. Every line can carry a tag
(here, the spreadsheet cell it came from), so that a problem found when the
text is loaded back can be reported at its source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

QUESTION_KEYS = ("id", "type", "text", "prompts", "required", "options", "range", "applies_if")
SECTION_KEYS = ("id", "title", "description", "applies_if", "questions")
RUBRIC_KEYS = ("id", "version", "title", "description", "sections")


@dataclass
class Written:
    text: str
    tags: dict[int, Any] = field(default_factory=dict)  # 1-based line -> tag


def scalar(value: Any) -> str:
    """One YAML scalar on one line, quoted only when YAML would misread it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    # text with line breaks or control characters is double-quoted, so it stays on one line
    style = '"' if isinstance(value, str) and not value.isprintable() else None
    dumped = yaml.safe_dump(value, default_flow_style=True, default_style=style, allow_unicode=True, width=1_000_000)
    return dumped.removesuffix("\n...\n").removesuffix("\n").strip()


def _never_counts(label: str) -> str:
    text = scalar(label)
    if not text.startswith(("'", '"')) and not _PLAIN_IN_FLOW.fullmatch(text):
        # inside { } more characters are special (, [ ] { } and "? " among them): quote anything unusual
        text = yaml.safe_dump(label, default_style='"', allow_unicode=True, width=1_000_000).strip()
    return f"{{label: {text}, counts: false}}"


_PLAIN_IN_FLOW = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ()/.'’_-]*")


def version_scalar(version: str) -> str:
    """A version as written: digits as a number (version: 1), anything else as text."""
    if re.fullmatch(r"[1-9][0-9]{0,8}|0", version):
        return version
    return scalar(version)


class _Lines:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self.tags: dict[int, Any] = {}

    def add(self, text: str, tag: Any = None) -> None:
        self.lines.append(text)
        if tag is not None:
            self.tags[len(self.lines)] = tag


def write_rubric(rubric: dict[str, Any], header: list[str] = (), tags: dict[tuple, Any] | None = None) -> Written:
    """YAML text for a rubric given as plain data (ids, texts, options as {code: {label, counts}}).

    ``tags`` maps a key path such as ``("sections", 0, "questions", 2, "applies_if")``
    to a tag recorded for the line that key is written on; a path's tag also
    covers the lines under it unless they have their own.
    """
    tags = tags or {}
    out = _Lines()

    def tag_for(path: tuple) -> Any:
        while path:
            if path in tags:
                return tags[path]
            path = path[:-1]
        return tags.get(())

    for line in header:
        out.add(f"# {line}" if line else "#")
    if header:
        out.add("")
    for key in RUBRIC_KEYS[:-1]:
        value = rubric.get(key)
        if value is None:
            continue
        shown = version_scalar(str(value)) if key == "version" else scalar(value)
        out.add(f"{key}: {shown}", tag_for((key,)))
    out.add("")
    out.add("sections:")
    for s_index, section in enumerate(rubric["sections"]):
        s_path = ("sections", s_index)
        if s_index:
            out.add("")
        first = True
        for key in SECTION_KEYS[:-1]:
            value = section.get(key)
            if value is None:
                continue
            out.add(f"  {'- ' if first else '  '}{key}: {scalar(value)}", tag_for(s_path + (key,)))
            first = False
        out.add("    questions:", tag_for(s_path))
        for q_index, question in enumerate(section["questions"]):
            if q_index:
                out.add("")
            _write_question(out, question, s_path + ("questions", q_index), tag_for)
    return Written("\n".join(out.lines) + "\n", out.tags)


def _write_question(out: _Lines, question: dict[str, Any], path: tuple, tag_for) -> None:
    first = True
    for key in QUESTION_KEYS:
        value = question.get(key)
        if value is None or (key == "prompts" and not value) or (key == "required" and value is True):
            continue
        if key == "options" and not value:
            continue
        lead = "      - " if first else "        "
        first = False
        tag = tag_for(path + (key,))
        if key == "prompts":
            out.add(f"{lead}prompts:", tag)
            for index, prompt in enumerate(value):
                out.add(f"          - {scalar(prompt)}", tag_for(path + (key, index)))
        elif key == "options":
            out.add(f"{lead}options:", tag)
            for code, option in value.items():
                label = scalar(option["label"])
                if option.get("counts", True):
                    out.add(f"          {scalar(code)}: {label}", tag_for(path + (key, code)))
                else:
                    out.add(f"          {scalar(code)}: {_never_counts(option['label'])}", tag_for(path + (key, code)))
        elif key == "range":
            out.add(f"{lead}range: [{value[0]}, {value[1]}]", tag)
        else:
            out.add(f"{lead}{key}: {scalar(value)}", tag)
