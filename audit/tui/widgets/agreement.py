"""The moderation report in the figures screen: the same table as ``audit moderate report``.

The table's lines come from :func:`audit.moderation_report.table_lines`, so
the terminal, this tab and the workbook (its unrounded values) show the same
numbers. What the report covers wraps above the table; the table itself keeps
its columns and scrolls sideways on a narrow terminal.
"""

from __future__ import annotations

from rich.console import Group
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import ScrollableContainer, Vertical
from textual.widgets import Static

from audit.identity import printable
from audit.moderation_report import ModerationReport, summary_lines, table_lines

FOOTNOTE = "Every disagreement, with both answers and notes: audit moderate report DB -o moderation.xlsx"


class AgreementView(Vertical):
    """Shows one :class:`ModerationReport`."""

    DEFAULT_CSS = """
    AgreementView {
        height: 1fr;
    }
    AgreementView #agreement-summary {
        height: auto;
        color: $text-muted;
        margin: 0 0 1 0;
    }
    AgreementView #agreement-scroll {
        height: 1fr;
    }
    AgreementView #agreement-table {
        width: auto;
    }
    """

    def compose(self) -> ComposeResult:
        yield Static("Counting…", id="agreement-summary")
        with ScrollableContainer(id="agreement-scroll"):
            yield Static(id="agreement-table")

    def show(self, report: ModerationReport) -> None:
        self.lines = table_lines(report)
        self.query_one("#agreement-summary", Static).update(Text("\n".join(printable(l) for l in summary_lines(report))))
        rows = [Text(printable(line), no_wrap=True, style="bold" if i in (0, len(self.lines) - 1) else "")
                for i, line in enumerate(self.lines)]
        table = self.query_one("#agreement-table", Static)
        table.update(Group(*rows, Text(""), Text(FOOTNOTE, style="dim italic")) if rows else "")
        table.styles.width = max(len(line) for line in [*self.lines, FOOTNOTE]) + 1 if rows else "auto"
