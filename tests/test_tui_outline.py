"""The walk-through's outline draws each question's line from plain segments (the lines redrawn on
every answer): cell for cell what Rich draws from the same marked-up text, in every state, current or
not, and cut with an ellipsis where the outline is narrower than the line."""

from __future__ import annotations

import asyncio

from rich.style import Style
from rich.text import Text
from textual.app import App, ComposeResult
from textual.strip import Strip

from audit.tui.widgets.outline import ATTENTION, MARKS, Outline

QUESTIONS = [(f"q{i}", f"{i + 1:>2} Was thing {i + 1} done? é") for i in range(len(MARKS))]


class OutlineApp(App[None]):
    CSS = "Outline { width: 44; height: 20; }"

    def compose(self) -> ComposeResult:
        yield Outline()


def reference(guide_and_text: str, state: str, current: bool, base: Style, width: int, console) -> Strip:
    """How the line was drawn through Rich: marked-up text, rendered, cut to the width."""
    mark, style = MARKS[state]
    guide, text = guide_and_text[:2], guide_and_text[2:]
    label = Text.assemble(guide, (f"{mark} ", style), (text, style if state != ATTENTION else ""))
    if current:
        label.stylize("bold reverse", len(guide) + 2)
    label.truncate(width, overflow="ellipsis")
    return Strip(list(label.render(console)), label.cell_len).apply_style(base).extend_cell_length(width, base)


def cells(strip: Strip) -> list[tuple[str, Style | None]]:
    return [(character, segment.style) for segment in strip for character in segment.text]


def drawn_lines(width: int) -> list[tuple[list, list]]:
    async def scenario() -> list[tuple[list, list]]:
        app = OutlineApp()
        async with app.run_test(size=(80, 24)) as pilot:
            outline = app.query_one(Outline)
            outline.styles.width = width
            outline.build([("s", "Section", QUESTIONS)])
            pairs = []
            for current in (None, *[qid for qid, _ in QUESTIONS]):
                states = {qid: state for (qid, _), state in zip(QUESTIONS, MARKS)}
                outline.show_states(states, current, {})
                await pilot.pause()
                content = outline.scrollable_content_region.width
                base = outline.rich_style
                for line, ((qid, text), state) in enumerate(zip(QUESTIONS, MARKS), start=1):
                    guide = "└ " if line == len(QUESTIONS) else "├ "
                    expected = reference(guide + text, state, qid == current, base, content, app.console)
                    pairs.append((cells(outline.render_line(line)), cells(expected)))
            return pairs

    return asyncio.run(scenario())


def test_each_question_line_is_drawn_as_rich_draws_its_text_in_every_state():
    pairs = drawn_lines(44)
    assert len(pairs) == len(MARKS) * (len(MARKS) + 1)
    for drawn, expected in pairs:
        assert drawn == expected


def test_a_line_wider_than_the_outline_ends_in_an_ellipsis():
    pairs = drawn_lines(16)
    for drawn, expected in pairs:
        assert drawn == expected
        assert "".join(character for character, _ in drawn).rstrip().endswith("…")
