"""The case list's keyset pages (issue #16): every order and filter, walked forward and back a page at a
time from each page's neighbour, lists exactly the cases a plain sort of the whole table lists, under
both of the store's plans (a filter's own index then a sort, or the order's index walked); the queries
never use OFFSET, and a page of the order's index needs no sort. The screen's moves on top of them:
a move of n rows, the ends, and a page read again."""

from __future__ import annotations

import random

import pytest

from audit.identity import key
from audit.store import Store
from audit.tui.paging import AGAIN, FIRST, LAST, ROWS, CaseQuery, Move, read_page

STATUSES = ["in_progress", "complete", "returned", "approved"]


@pytest.fixture(scope="module")
def store(thematic_rubric_module):
    from audit.store import NewCase

    rng = random.Random(4)
    store = Store.memory()
    sites = ["Leeds", "leeds", "Sheffield", "surrey", "Ürümqi"]  # two spellings of one site: one key
    store.insert_cases([
        NewCase(f"{rng.choice('CTct')}{i:03d}", sites[i % 5] if i % 5 != 1 else "Leeds", thematic_rubric_module, {},
                inspector=rng.choice([None, "jb", "JB", "ak", "Zoë"]))
        for i in range(230)
    ], who="test")
    rows = store.conn.execute("SELECT uuid FROM cases ORDER BY uuid").fetchall()
    with store.transaction():
        for index, (uuid,) in enumerate(rows):  # ties in every order, so the id tie-break matters
            store.conn.execute(
                "UPDATE cases SET status = ?, updated_at = ?, applicable_count = ?, answered_count = ?, "
                "deleted_at = ? WHERE uuid = ?",
                [STATUSES[rng.randrange(4)] if index % 3 else "in_progress", f"2019-06-0{1 + index % 4}T00:00:00Z",
                 rng.choice([0, 10, 20]), rng.choice([0, 5, 10]), "2019-07-01T00:00:00Z" if index % 23 == 0 else None,
                 uuid],
            )
    yield store
    store.close()


@pytest.fixture(scope="module")
def thematic_rubric_module():
    from audit.rubric import load_rubric_by_id

    return load_rubric_by_id("iom-thematic-2019")


def reference(store: Store, *, search="", site=None, status=None, deleted=False, order_by="updated_at",
              descending=True) -> list[str]:
    """The list as a sort of every row in Python would give it."""
    cases = [c for c in store.list_cases(limit=10_000, deleted=deleted)]
    if search:
        cases = [c for c in cases if key(c.case_ref).startswith(key(search)) or key(c.site).startswith(key(search))
                 or (c.inspector or "").lower().startswith(search.lower())]
    if site:
        cases = [c for c in cases if key(c.site) == key(site)]
    if status:
        cases = [c for c in cases if c.status == status]
    value = {"inspector": lambda c: c.inspector or "",
             "progress": lambda c: c.answered_count * 1.0 / max(c.applicable_count, 1)}.get(
        order_by, lambda c: getattr(c, order_by))
    cases.sort(key=lambda c: (value(c), c.id), reverse=descending)
    if not deleted:
        cases.sort(key=lambda c: c.status != "returned")  # stable: returned cases first, in the same order
    return [c.uuid for c in cases]


FILTERS = [{}, {"site": "LEEDS"}, {"status": "complete"}, {"status": "returned"}, {"search": "c0"},
           {"search": "jb"}, {"search": "ür"}, {"deleted": True}, {"site": "leeds", "status": "approved"}]


@pytest.mark.parametrize("few", [0, 10_000], ids=["order-index", "filter-index"])
@pytest.mark.parametrize("order_by", list(Store.ORDER_KEYS))
def test_keyset_pages_list_what_a_full_sort_lists_both_ways(store, monkeypatch, few, order_by):
    monkeypatch.setattr(Store, "FEW_CASES", few)
    for filters in FILTERS:
        for descending in (True, False):
            expected = reference(store, order_by=order_by, descending=descending, **filters)
            args = dict(order_by=order_by, descending=descending, returned_first=True, **filters)
            forward, after = [], None
            while True:
                page = store.case_page(**args, after=after, limit=7)
                forward += [c.uuid for c in page]
                if len(page) < 7:
                    break
                after = store.page_key(page[-1], order_by, returned_first=True)
            assert forward == expected, (filters, descending)
            backward, before = [], None
            page = store.case_page(**args, last=True, limit=7)
            while page:
                backward = [c.uuid for c in page] + backward
                before = store.page_key(page[0], order_by, returned_first=True)
                page = store.case_page(**args, before=before, limit=7)
            assert backward == expected, (filters, descending)
            assert store.case_total(**filters) == len(expected)


def test_no_offset_and_no_sort_on_the_orders_index(store, monkeypatch):
    seen: list[str] = []
    store.conn.set_trace_callback(seen.append)
    try:
        for order_by in Store.ORDER_KEYS:
            first = store.case_page(order_by=order_by, limit=10)
            store.case_page(order_by=order_by, after=store.page_key(first[-1], order_by), limit=10)
    finally:
        store.conn.set_trace_callback(None)
    assert seen and not any("OFFSET" in sql.upper() for sql in seen)
    for order_by, (expression, index) in Store.ORDER_KEYS.items():
        plan = " | ".join(row[-1] for row in store.conn.execute(
            f"EXPLAIN QUERY PLAN SELECT uuid FROM cases INDEXED BY {index} WHERE +deleted_at IS NULL "
            f"AND ({expression}, id) > (?, ?) ORDER BY {expression} DESC, id DESC LIMIT 100", ["", 0]))
        assert index in plan and "TEMP B-TREE" not in plan, (order_by, plan)


def test_moves_land_where_the_keys_say(store):
    query = CaseQuery(order_by="case_ref", descending=False)
    expected = reference(store, order_by="case_ref", descending=False)
    page = read_page(store, query, Move(FIRST))
    assert [c.uuid for c in page.cases] == expected[:100] and page.start == 0 and page.before is None
    for rows, position in [(1, 100), (7, 206), (-3, None)]:
        before_start = page.start
        page = read_page(store, query, Move(ROWS, rows), page)
        landed = page.start + page.cursor
        if position is not None:
            assert landed == position and page.cases[page.cursor].uuid == expected[position], rows
        else:
            assert landed == before_start - 3 and page.cases[page.cursor].uuid == expected[landed]
    last = read_page(store, query, Move(LAST), page)
    assert [c.uuid for c in last.cases] == expected[-100:] and last.at_end and last.cursor == 99
    again = read_page(store, query, Move(AGAIN), last)
    assert [c.uuid for c in again.cases] == expected[-100:]
    past = read_page(store, query, Move(ROWS, 500), page)  # beyond the end: the last case
    assert past.cases[past.cursor].uuid == expected[-1] and past.at_end
    back = read_page(store, query, Move(ROWS, -10_000), last)  # beyond the start: the first case
    assert back.start == 0 and back.cursor == 0 and back.cases[0].uuid == expected[0]
