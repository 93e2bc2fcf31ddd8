"""Where the case list is, and how a key moves it: keyset pages, in plain Python (no Textual here).

A page is found from its neighbour's key (:meth:`audit.store.Store.case_page`), never by
OFFSET, so every page of every order costs the same at a million cases as at a hundred.
A move says how many rows past the shown page the cursor should go (a held key's presses
add up while a page is read), or that it goes to the first or the last case.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from audit.store import Case, Store

PAGE_SIZE = 100
DELETED = "deleted"  # the status filter's step that lists deleted cases only

FIRST, LAST, AGAIN, ROWS = "first", "last", "again", "rows"


@dataclass(frozen=True)
class CaseQuery:
    search: str = ""
    site: str | None = None
    status: str | None = None  # a case status, or DELETED
    order_by: str = "updated_at"
    descending: bool = True

    @property
    def filtered(self) -> bool:
        return bool(self.search or self.site or self.status)

    def filters(self) -> dict:
        deleted = self.status == DELETED
        return dict(search=self.search, site=self.site, status=None if deleted else self.status, deleted=deleted)

    def order(self) -> dict:
        # a case sent back by a reviewer comes first in the inspector's list
        return dict(order_by=self.order_by, descending=self.descending, returned_first=True)


@dataclass(frozen=True)
class Move:
    kind: str  # FIRST, LAST, AGAIN (the shown page, read again) or ROWS
    rows: int = 0  # ROWS: how far past the shown page's last row (> 0) or before its first row (< 0)


@dataclass(frozen=True)
class Page:
    """One page of the list and where it stands."""

    cases: list[Case]
    cursor: int  # the row the move lands on
    start: int | None  # the list position of its first case (None: not known until the total is)
    before: tuple | None  # the key of the case just before it (None: it is the first page)
    at_end: bool  # nothing comes after it
    keys: tuple = field(default=())  # the keys of its first and last case

    @property
    def first_key(self) -> tuple | None:
        return self.keys[0] if self.keys else None

    @property
    def last_key(self) -> tuple | None:
        return self.keys[1] if self.keys else None


def read_page(store: Store, query: CaseQuery, move: Move, shown: Page | None = None) -> Page:
    """The page a move from ``shown`` leads to (bounded reads only: a move of n rows reads n + a page)."""
    filters, order = query.filters(), query.order()

    def key(case: Case) -> tuple:
        return store.page_key(case, query.order_by, returned_first=True)

    def page(cases: list[Case], cursor: int, start: int | None, before: tuple | None, at_end: bool) -> Page:
        keys = (key(cases[0]), key(cases[-1])) if cases else ()
        return Page(cases, min(max(cursor, 0), max(len(cases) - 1, 0)), start, before, at_end, keys)

    def predecessor(cases: list[Case]) -> tuple | None:
        if not cases:
            return None
        found = store.case_page(**filters, **order, before=key(cases[0]), limit=1)
        return key(found[0]) if found else None

    def first() -> Page:
        cases = store.case_page(**filters, **order, limit=PAGE_SIZE + 1)
        return page(cases[:PAGE_SIZE], 0, 0, None, len(cases) <= PAGE_SIZE)

    def last() -> Page:
        cases = store.case_page(**filters, **order, last=True, limit=PAGE_SIZE)
        before = predecessor(cases)
        return page(cases, len(cases) - 1, 0 if before is None else None, before, True)

    if shown is None or not shown.cases or move.kind == FIRST:
        return first()
    if move.kind == LAST:
        return last()
    if move.kind == AGAIN:  # the same place, read again (cases may have changed meanwhile)
        cases = store.case_page(**filters, **order, after=shown.before, limit=PAGE_SIZE + 1) if shown.before else None
        if cases is None:
            return first()
        if not cases:
            return last()
        return page(cases[:PAGE_SIZE], shown.cursor, shown.start, shown.before, len(cases) <= PAGE_SIZE)
    if move.rows > 0:  # forward: the page that holds the row ``rows`` past the last one shown
        skip = (move.rows - 1) // PAGE_SIZE * PAGE_SIZE
        cases = store.case_page(**filters, **order, after=shown.last_key, limit=skip + PAGE_SIZE + 1)
        if len(cases) <= skip:  # past the end: the last page, on its last case
            return last() if cases else page(shown.cases, len(shown.cases) - 1, shown.start, shown.before, True)
        before = shown.last_key if skip == 0 else key(cases[skip - 1])
        start = None if shown.start is None else shown.start + len(shown.cases) + skip
        return page(cases[skip:skip + PAGE_SIZE], (move.rows - 1) % PAGE_SIZE, start, before,
                    len(cases) <= skip + PAGE_SIZE)
    # backward: the page that holds the row ``-rows`` before the first one shown
    back = -move.rows
    skip = (back - 1) // PAGE_SIZE * PAGE_SIZE
    cases = store.case_page(**filters, **order, before=shown.first_key, limit=skip + PAGE_SIZE + 1)
    if len(cases) <= skip + PAGE_SIZE:  # reaches the start: the first page
        if not cases:
            return page(shown.cases, 0, 0, None, shown.at_end)
        held = first()
        landing = max(len(cases) - back, 0)
        return page(held.cases, landing, 0, None, held.at_end)
    cut = len(cases) - skip
    chosen = cases[cut - PAGE_SIZE:cut]
    before = key(cases[cut - PAGE_SIZE - 1])
    start = None if shown.start is None else shown.start - skip - PAGE_SIZE
    return page(chosen, PAGE_SIZE - 1 - (back - 1) % PAGE_SIZE, start, before, False)
