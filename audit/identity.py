"""Identifiers people type: case_ref, site and inspector.

One rule for every path (UI, import, merge): text is NFC-normalised and
trimmed, runs of spaces become one, and two identifiers are the same when
their :func:`key` is equal (case-insensitive, via ``casefold``). Characters
that cannot be seen, or that change how text around them is shown, are
refused: C0 and C1 controls, zero-width characters and bidirectional
overrides. They would let "T001" and "T001<ZWSP>" pass as two cases, or let a
site name rewrite the lead's terminal.

:func:`printable` makes any text safe to show in a terminal: it escapes
every control and invisible character instead of refusing it.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from typing import Iterable

#: zero-width and bidirectional-formatting characters (all are Unicode category Cf,
#: listed so that the message can name them)
INVISIBLE = {
    "\u200b": "zero-width space",
    "\u200c": "zero-width non-joiner",
    "\u200d": "zero-width joiner",
    "\u2060": "word joiner",
    "\ufeff": "zero-width no-break space (BOM)",
    "\u00ad": "soft hyphen",
    "\u180e": "Mongolian vowel separator",
    "\u061c": "Arabic letter mark",
    "\u200e": "left-to-right mark",
    "\u200f": "right-to-left mark",
    "\u202a": "left-to-right embedding",
    "\u202b": "right-to-left embedding",
    "\u202c": "pop directional formatting",
    "\u202d": "left-to-right override",
    "\u202e": "right-to-left override",
    "\u2066": "left-to-right isolate",
    "\u2067": "right-to-left isolate",
    "\u2068": "first strong isolate",
    "\u2069": "pop directional isolate",
}
#: longest identifier accepted (a case_ref or a site name, not a paragraph)
MAX_LENGTH = 200


class IdentifierProblem(ValueError):
    """An identifier that cannot be used; the message says why, for a located error."""


def _forbidden(char: str) -> str | None:
    """What is wrong with one character, or None if it may appear in an identifier."""
    code = ord(char)
    if code < 0x20 or code == 0x7F:
        return f"a control character (U+{code:04X})"
    if 0x80 <= code <= 0x9F:
        return f"a control character (U+{code:04X})"
    if char in INVISIBLE:
        return f"an invisible character, {INVISIBLE[char]} (U+{code:04X})"
    category = unicodedata.category(char)
    if category in ("Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
        return f"an invisible or unassigned character (U+{code:04X})"
    return None


def normalise(text: str, what: str = "identifier") -> str:
    """``text`` as stored: NFC, trimmed, inner runs of spaces as one space.

    Raises :class:`IdentifierProblem` for text that holds a control, zero-width
    or bidi character, or is longer than :data:`MAX_LENGTH`. Empty text is
    returned as '' (callers decide whether empty is allowed).
    """
    if not isinstance(text, str):
        raise IdentifierProblem(f"{what} must be text")
    nfc = text if text.isascii() else unicodedata.normalize("NFC", text)
    # printable ASCII (most references and sites) holds no forbidden character: no need to look at each
    for index, char in enumerate(() if nfc.isascii() and nfc.isprintable() else nfc):
        wrong = _forbidden(char)
        if wrong is not None:
            # a tab or newline is a plain mistake: say so in words
            shown = {"\t": "a tab", "\n": "a line break", "\r": "a carriage return"}.get(char, wrong)
            raise IdentifierProblem(f"{what} {printable(text)!s} contains {shown} at character {index + 1}; retype it")
    cleaned = " ".join(nfc.split())
    if len(cleaned) > MAX_LENGTH:
        raise IdentifierProblem(f"{what} is {len(cleaned)} characters long; at most {MAX_LENGTH} are allowed")
    return cleaned


class Normaliser:
    """:func:`normalise` with a memo, for identifiers that repeat on every row of a file (sites,
    inspectors): each distinct text is normalised once, with the same result or the same refusal."""

    #: distinct texts remembered; past it, text is normalised each time (a file of all-different names)
    LIMIT = 10_000

    def __init__(self) -> None:
        self.memo: dict[tuple[str, str], tuple[str | None, str]] = {}

    def __call__(self, text: str, what: str = "identifier") -> str:
        found = self.memo.get((text, what))
        if found is None:
            try:
                found = (normalise(text, what), "")
            except IdentifierProblem as exc:
                found = (None, str(exc))
            if len(self.memo) < self.LIMIT:
                self.memo[(text, what)] = found
        if found[0] is None:
            raise IdentifierProblem(found[1])
        return found[0]


def key(text: str) -> str:
    """What two identifiers are compared by: compatibility-normalised (full-width ``Ｔ``
    is ``T``), case-folded (``T001`` = ``t001``), spaces collapsed.

    Forbidden characters are not refused here (stored data may predate the rule):
    invisible ones are dropped and control whitespace is a space, so that they can
    never make two identifiers differ.
    """
    text = text or ""
    if text.isascii() and text.isprintable():  # NFKC leaves printable ASCII as it is, and casefold is lower
        return " ".join(text.lower().split())
    # invisible characters go first: one between a letter and its accent must not stop them composing
    visible = "".join(char for char in text if char.isspace() or _forbidden(char) is None)
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", visible).casefold())
    return " ".join(folded.split())


def printable(text: object) -> str:
    """Text safe for a terminal: controls and invisible characters shown as ``\\xNN`` / ``\\uNNNN``.

    Newlines and tabs are escaped too: a value printed inside a line must stay
    on that line.
    """
    out = []
    for char in str(text):
        if _forbidden(char) is None:
            out.append(char)
        elif ord(char) <= 0xFF:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) <= 0xFFFF:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return "".join(out)


#: how alike two keys must be (difflib's ratio) to count as a near miss: one letter in eight
NEAR_MISS_RATIO = 0.8


def near_miss(text: str, known: Iterable[str]) -> str | None:
    """The known identifier that ``text`` is probably a misspelling of, or None.

    Not the same identifier (:func:`key` differs), but the same once spaces, hyphens,
    underscores and punctuation are ignored ("colwyn bay" and "colwyn_bay"), or close by
    letters ("shefield" and "sheffield"): a new site spelt so would be counted apart.
    """
    typed = key(text)
    if not typed:
        return None
    by_key = {key(name): name for name in known}
    if typed in by_key:
        return None
    squashed = re.sub(r"[\W_]+", "", typed)
    for other, name in by_key.items():
        if squashed and re.sub(r"[\W_]+", "", other) == squashed:
            return name
    close = difflib.get_close_matches(typed, list(by_key), n=1, cutoff=NEAR_MISS_RATIO)
    return by_key[close[0]] if close else None
