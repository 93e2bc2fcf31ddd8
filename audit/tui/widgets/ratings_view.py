"""The ratings in the figures screen: the shipped rating scheme for the open database's rubric.

The numbers come from :func:`audit.ratings.rate_store`, with the judgements the
database records, as ``audit ratings DB`` prints them: each standard's rating,
its key questions (yes of base, percentage, Wilson interval), the lowest
marked, the caution on a small base, and the overall rating once every standard
is rated. The figures screen's worker computes them and calls :meth:`show`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from audit.identity import printable


@dataclass
class RatingsResult:
    """What the ratings tab shows: the scheme's ratings of all cases, or why there are none."""

    ratings: Any = None  # audit.ratings.ScopeRatings
    judgements: list = field(default_factory=list)  # audit.ratings.Judgement of the whole database
    note: str = ""


def live_ratings(store) -> RatingsResult:
    """The shipped scheme for the database's rubric applied to its counted answers (None: why not)."""
    from audit.errors import AuditError
    from audit.ratings import find_scheme, rate_store, stored_judgements
    from audit.tabulate import store_rubric

    try:
        rubric = store_rubric(store)
    except AuditError as exc:
        return RatingsResult(note=str(exc).split(": ", 1)[-1])
    try:
        scheme = find_scheme(rubric.id)
        if scheme is None:
            return RatingsResult(note=f"No rating scheme for rubric {rubric.id}: ratings are given for "
                                      "HMI Probation's core inspection cases (hmip-core-2018).")
        judgements = [j for j in stored_judgements(store, scheme) if j.scope == ""]
        return RatingsResult(rate_store(store, scheme)[0], judgements)
    except AuditError as exc:
        return RatingsResult(note=str(exc))


def _interval(ci: tuple[float, float] | None) -> str:
    from audit.ratings import whole_percent

    return "" if ci is None else f"{whole_percent(ci[0])}-{whole_percent(ci[1])}%"


def ratings_renderable(result: RatingsResult) -> Group:
    rated = result.ratings
    scheme = rated.scheme
    head = Text.assemble((f"{scheme.title}", "bold cyan"), (f"  ·  {rated.cases:,} cases", ""))
    rule = Text(f"A standard takes the rating of its lowest key question: {scheme.describe_bands()}.", style="dim")
    grid = Table(show_edge=False, header_style="bold", pad_edge=False, expand=True, box=None)
    # the numbers keep their width on a narrow terminal; the key question's id gives way (ellipsis)
    questions = [q for standard in rated.standards for q in standard.questions]
    widest = {
        "Yes": max([len(f"{q.count:,}") for q in questions] + [3]), "Base": max([len(f"{q.base:,}") for q in questions] + [4]),
        "%": 4, "95% CI": 7,
    }
    grid.add_column("Standard / key question", no_wrap=True, ratio=1, overflow="ellipsis")
    for title, width in widest.items():
        grid.add_column(title, justify="right", no_wrap=True, width=width)
    grid.add_column("Rating", no_wrap=True, width=len("Requires improvement"))
    for standard in rated.standards:
        s = standard.standard
        label = standard.rating.label if standard.rating else ("no judgement" if standard.judged else "not rated")
        style = "bold" if standard.rating else "bold yellow"
        grid.add_row(Text(f"{s.id} {s.title}", style="bold"), "", "", "", "", Text(label, style=style))
        for q in standard.questions:
            mark = "> " if q.lowest else "  "
            pct = "-" if q.percent is None else f"{q.percent}%"
            grid.add_row(Text(f"{mark}{q.question_id}", style="bold" if q.lowest else ""), f"{q.count:,}", f"{q.base:,}",
                         pct, _interval(q.ci), Text("lowest" if q.lowest else "", style="dim"))
        if standard.caution:
            grid.add_row(Text(f"  caution: {standard.caution}", style="yellow", overflow="fold"), "", "", "", "", "")
    lines: list[Any] = [head, rule, Text(""), grid, Text("")]
    if rated.overall is not None:
        lines.append(Text(f"Overall: {rated.overall.label} (total {rated.total} of {scheme.max_total})", style="bold"))
    else:
        judged = [s for s in rated.unrated if scheme.standard(s).judged]
        why = f"judgements needed for {', '.join(judged)} (audit ratings set DB STANDARD RATING)" if judged else \
            f"no counted answers to {', '.join(rated.unrated)}"
        lines.append(Text(f"Overall: not rated yet: {why}", style="bold yellow"))
    for j in result.judgements:
        note = f": {printable(j.note)}" if j.note else ""
        lines.append(Text(f"  {j.standard_id} {scheme.standard(j.standard_id).title}: "
                          f"{scheme.find_rating(j.rating).label} (judged by {printable(j.set_by)}, {j.set_at[:10]}){note}",
                          style="dim"))
    return Group(*lines)


class RatingsView(VerticalScroll):
    """Shows one :class:`RatingsResult`; scrolls when it is taller than the screen."""

    DEFAULT_CSS = """
    RatingsView {
        height: 1fr;
    }
    RatingsView #ratings-body {
        max-width: 92;  /* the numbers stay near their labels on a wide terminal */
    }
    """

    def compose(self) -> ComposeResult:
        yield Static("Counting…", id="ratings-body")

    shown: Any = None  # what the tab shows now (a rich renderable)

    def show(self, result: RatingsResult) -> None:
        self.shown = Text(result.note, style="yellow") if result.ratings is None else ratings_renderable(result)
        self.query_one("#ratings-body", Static).update(self.shown)
