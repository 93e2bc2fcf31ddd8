"""A line above the question: the reviewer's comment on a returned case, or what a moderation copy is.

The comment is shown on the case (every question) and, emphasised, on the
question it names. A moderation copy says that the first marking stays hidden
until the copy is complete (:mod:`audit.moderation` enforces it). On a short
screen (under 30 lines) the note is cut to two lines except on the question
it names, so that the question itself stays in view.

A ``TextBox``: drawn again only when its text changes (moving onto or off the
question it names), never on an answer; a ``Static`` asked for a layout pass
of the whole screen on every answer of a returned case or a moderation copy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text

from audit.identity import printable as shown
from audit.store import STATUS_RETURNED, Case
from audit.tui.widgets.text_box import TextBox

if TYPE_CHECKING:
    from audit.rubric import Rubric


class ReviewNote(TextBox):
    DEFAULT_CSS = """
    ReviewNote {
        height: auto;
        display: none;
        padding: 0 1;
        margin: 0 0 1 0;
        border-left: thick $warning;
        background: $warning 10%;
    }
    ReviewNote.-on-question {
        border-left: thick $error;
        background: $error 15%;
    }
    ReviewNote.-moderation {
        border-left: thick $accent;
        background: $accent 10%;
    }
    """

    def show(self, case: Case, question_id: str | None, rubric: Rubric | None = None) -> None:
        """Say what the reviewer asked (or what the copy is) for ``case``, on question ``question_id``
        (the question it names is given by its number in ``rubric``, as the outline numbers it)."""
        text: Text | None = None
        on_question = False
        if case.status == STATUS_RETURNED and case.review_comment:
            on_question = case.review_question is not None and case.review_question == question_id
            if on_question:
                text = Text.assemble(("Returned: the reviewer's comment is about this question. ", "bold"),
                                     shown(case.review_comment))
            else:
                about = ""
                if case.review_question:  # first: on a short screen the note is cut to two lines
                    named = case.review_question
                    if rubric is not None and rubric.has_question(named):
                        named = str(rubric.position(named) + 1)  # as the outline numbers it, beside its text
                    about = f", about question {named}"
                text = Text.assemble(("Returned for changes", "bold"), (about, "dim"), ": ", shown(case.review_comment),
                                     ("  Mark it complete again when done.", "dim"))
        elif case.copy_of is not None:
            text = Text.assemble(
                ("Moderation copy: ", "bold"),
                "mark the case from its records. The first marking stays hidden until you mark this copy complete.",
            )
        self.set_class(on_question, "-on-question")
        self.set_class(text is not None and case.copy_of is not None and case.status != STATUS_RETURNED, "-moderation")
        self.display = text is not None
        if text is not None:
            self.set(text)
