"""The walk-through's own line breaking (``text_box.text_strips``) draws what Rich's wrap draws."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.console import Console
from rich.text import Text

from audit.rubric import load_rubric
from audit.tui.widgets.text_box import text_strips

RUBRICS = sorted((Path(__file__).resolve().parent.parent / "rubrics").glob("*.yaml"))


def _texts() -> list[Text]:
    texts = [
        Text.assemble((" YN0001 ", "bold reverse"), " sheffield · bench", " │ ", ("bench-yes-no v1", "cyan"), " │ ",
                      ("130/135 answered (96%)", "bold"), ", 5 required to go", " │ ", ("in progress", "yellow")),
        Text("Press a number (or y / n) to answer and move on; enter skips; ← goes back.", style="dim"),
        Text("a-word-longer-than-any-line-it-could-be-drawn-on-so-rich-folds-it and then words", style="bold"),
        Text("Wide 漢字の文字 characters are measured by Rich, and two  spaces at a break too"),
    ]
    for path in RUBRICS:
        rubric = load_rubric(path)
        for question in rubric.questions:
            texts.append(Text(question.text, style="bold"))
            texts += [Text("• " + prompt, style="italic dim") for prompt in question.prompts]
            texts += [Text(option.label) for option in question.options.values()]
    return texts


@pytest.mark.parametrize("width", [12, 20, 36, 44, 66, 71, 118])
def test_lines_are_rich_wrapped_lines(width):
    console = Console(width=200, color_system="truecolor", legacy_windows=False)
    for text in _texts():
        expected = [line.plain for line in text.wrap(console, width)]
        drawn = text_strips(text, width, console)
        assert [strip.text for strip in drawn] == expected, text.plain
        assert all(strip.cell_length <= width for strip in drawn)
        # the base style is kept (Text.render on its own drops it from a text without spans)
        if text.style:
            assert all(segment.style is not None for strip in drawn for segment in strip if segment.text.strip())
