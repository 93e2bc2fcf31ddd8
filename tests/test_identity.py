"""One identity rule for case_ref, site and inspector (audit.identity)."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from audit.identity import INVISIBLE, IdentifierProblem, key, normalise, printable

CONTROLS = [chr(c) for c in range(0x20)] + ["\x7f"] + [chr(c) for c in range(0x80, 0xA0)]


def test_normalise_trims_collapses_and_composes():
    assert normalise("  Sur   rey ") == "Sur rey"
    decomposed = "Cafe\u0301"  # e + combining acute
    assert normalise(decomposed) == "Café" and unicodedata.is_normalized("NFC", normalise(decomposed))


@pytest.mark.parametrize("bad", CONTROLS + list(INVISIBLE), ids=lambda c: f"U+{ord(c):04X}")
def test_every_control_zero_width_and_bidi_character_is_refused(bad):
    with pytest.raises(IdentifierProblem) as raised:
        normalise(f"T0{bad}01", "case_ref")
    message = str(raised.value)
    assert message.startswith("case_ref ") and "retype it" in message
    assert all(ch not in message for ch in CONTROLS)  # the message itself is safe to print


def test_too_long_is_refused():
    with pytest.raises(IdentifierProblem, match="at most 200"):
        normalise("x" * 201)


def test_key_ignores_case_width_spacing_and_invisibles():
    assert key("T001") == key(" t001 ") == key("Ｔ００１") == key("T0\u200b01") == key("t\u00a0001".replace("\u00a0", "")) 
    assert key("Waltham  Forest") == key("waltham forest")
    assert key("T001") != key("T002")


def test_printable_escapes_terminal_sequences():
    shown = printable("\x1b]0;PWNED\x07name\u202e\n")
    assert shown == "\\x1b]0;PWNED\\x07name\\u202e\\x0a"
    assert printable("Café ✓") == "Café ✓"


# letters whose upper and lower case fold alike (not e.g. Turkish dotless i, whose upper case is I)
_letters = st.text(alphabet=st.characters(whitelist_categories=("Lu", "Ll", "Nd")), min_size=1, max_size=12).filter(
    lambda s: s.upper().casefold() == s.casefold() == s.lower().casefold()
)
_invisible = st.sampled_from(["", "\u200b", "\u200d", "\u202e", "\ufeff"])
_space = st.sampled_from(["", " ", "  ", "\t"])


@settings(max_examples=300, deadline=None)
@given(base=_letters, marks=st.lists(_invisible, max_size=3), pad=_space, upper=st.booleans(), wide=st.booleans())
@example(base="\u1fd2", marks=["\u200b"], pad="", upper=True, wide=False)  # a zero-width space between letter and accent
def test_variants_of_one_identifier_always_share_a_key(base, marks, pad, upper, wide):
    variant = base.upper() if upper else base.lower()
    if wide:  # full-width forms of ASCII letters and digits
        variant = "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in variant)
    for mark in marks:
        cut = len(variant) // 2
        variant = variant[:cut] + mark + variant[cut:]
    assert key(pad + variant + pad) == key(base)


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=30))
def test_normalise_either_refuses_or_returns_visible_text(text):
    try:
        cleaned = normalise(text)
    except IdentifierProblem:
        return
    assert cleaned == cleaned.strip()
    assert printable(cleaned) == cleaned  # nothing left that would need escaping
    assert key(cleaned) == key(text)


def test_a_near_miss_names_the_site_it_probably_meant():
    from audit.identity import near_miss

    known = ["sheffield", "Colwyn Bay", "waltham_forest"]
    assert near_miss("shefield", known) == "sheffield"  # one letter dropped
    assert near_miss("colwyn_bay", known) == "Colwyn Bay"  # spacing and underscores
    assert near_miss("Waltham-Forest", known) == "waltham_forest"
    assert near_miss("SHEFFIELD", known) is None  # the same site: not a new one
    assert near_miss(" sheffield ", known) is None
    assert near_miss("surrey", known) is None  # a new site, like none of them
    assert near_miss("", known) is None and near_miss("x", []) is None
