"""No control character reaches the terminal: the CLI's stdout and stderr escape them.

Everything the CLI prints may quote text from an untrusted file: file names,
case refs, sites, inspectors, labels and rubric titles from a site's database.
A control sequence among them could set the window title, move the cursor,
rewrite earlier lines or hide text. Rather than trust every ``click.echo`` to
escape its values, :func:`escaping_streams` replaces ``sys.stdout`` and
``sys.stderr`` for the whole run of ``audit`` (``audit.cli.main``), so no
command can forget.

What passes: printable text and line breaks. Every other control, zero-width
or bidi character is written as an escape (``\\x1b``, ``\\u202e``) by
:func:`audit.identity.printable`. On a terminal, the harmless SGR styles that
``click.style`` emits (bold, dim, italic, underline, six colours, reset) are
kept; every other escape sequence is escaped. Off a terminal, click already
removes styling, and no ESC at all is written.

A progress bar must move the cursor: it gets the real stream from
:func:`raw_stderr`, and is given only text of our own (a phase name and numbers).
"""

from __future__ import annotations

import contextlib
import re
import sys
from collections.abc import Iterator
from typing import TextIO

from audit.identity import printable

#: a Select Graphic Rendition sequence: ESC [ parameters m
SGR = re.compile(r"\x1b\[([0-9;]*)m")
#: SGR parameters that change only how letters look: reset, bold, dim, italic,
#: underline, their ends, default colour and red to cyan (normal and bright).
#: Not black or white (text could vanish on a matching background), not
#: reverse, blink or conceal, not backgrounds.
HARMLESS_SGR = {"", "0", "1", "2", "3", "4", "22", "23", "24", "39"} | {str(n) for n in (*range(31, 37), *range(91, 97))}


def _harmless(match: re.Match) -> bool:
    return all(part in HARMLESS_SGR for part in match.group(1).split(";"))


def escape(text: str, keep_styles: bool = False) -> str:
    """``text`` with every control character escaped, except line breaks (and harmless SGR when asked)."""
    lines = text.split("\n")
    for index, line in enumerate(lines):
        if line.isprintable():  # the usual case: nothing to do
            continue
        if not keep_styles or "\x1b" not in line:
            lines[index] = printable(line)
            continue
        pieces, start = [], 0
        for match in SGR.finditer(line):
            if _harmless(match):
                pieces += [printable(line[start:match.start()]), match.group(0)]
                start = match.end()
        pieces.append(printable(line[start:]))
        lines[index] = "".join(pieces)
    return "\n".join(lines)


class EscapingStream:
    """A text stream that writes :func:`escape`-d text to ``raw``.

    It has no ``buffer``: bytes cannot bypass it (click then writes text to it).
    """

    def __init__(self, raw: TextIO) -> None:
        self.raw = raw
        self.keep_styles = _isatty(raw)

    def write(self, text: str) -> int:
        if not isinstance(text, str):  # what a text stream does; click probes with b""
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self.raw.write(escape(text, self.keep_styles))
        return len(text)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self.raw.flush()

    def isatty(self) -> bool:
        return _isatty(self.raw)

    def fileno(self) -> int:
        return self.raw.fileno()

    def writable(self) -> bool:
        return True

    def readable(self) -> bool:
        return False

    def seekable(self) -> bool:
        return False

    @property
    def closed(self) -> bool:
        return self.raw.closed

    @property
    def encoding(self) -> str:
        return getattr(self.raw, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str:
        return getattr(self.raw, "errors", None) or "strict"

    @property
    def name(self) -> str:
        return getattr(self.raw, "name", "<escaped>")


def _isatty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no such method, or closed
        return False


@contextlib.contextmanager
def escaping_streams() -> Iterator[None]:
    """Escape everything written to ``sys.stdout`` and ``sys.stderr`` inside the block."""
    saved = sys.stdout, sys.stderr
    sys.stdout = EscapingStream(saved[0]) if saved[0] is not None else None
    sys.stderr = EscapingStream(saved[1]) if saved[1] is not None else None
    try:
        yield
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):
                if stream is not None:
                    stream.flush()
        sys.stdout, sys.stderr = saved


def raw_stderr() -> TextIO:
    """The real stderr under the escaping one, for a progress bar (which moves the cursor)."""
    stream = sys.stderr
    return stream.raw if isinstance(stream, EscapingStream) else stream
