"""Model-based: any sequence of changes leaves the same verdicts whichever path wrote it.

A random sequence of answers, empty selections, clears, notes, status changes,
deletes, restores and restorations of retired answers is applied

* key by key through the case service (the path every UI keypress takes);
* split between two site files (the first part on one laptop, the rest on a
  copy), then merged into a new national file;
* as its end result, imported from JSON Lines into a new file.

Every path must leave each answer's value, state, applies and counted equal,
and equal to a fresh evaluation of the rubric.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.cases import CaseService
from audit.counting import count_case
from audit.errors import StoreError
from audit.importer import import_file
from audit.merge import merge_databases
from audit.rubric import parse_rubric
from audit.store import Store

RUBRIC = parse_rubric("""
id: paths
version: 1
title: Paths
sections:
  - id: about
    title: About
    questions:
      - {id: kind, type: single, text: Kind, options: {a: A, b: B, c: C}}
      - {id: seen, type: yes_no, text: 'Seen?', applies_if: kind != "c"}
      - {id: count, type: integer, text: 'How many?', range: [0, 9], applies_if: seen == "yes", required: false}
  - id: care
    title: Needs
    applies_if: kind == "a" or kind == "b"
    questions:
      - {id: needs, type: multi, text: Needs, options: {x: X, y: Y, z: Z, none: {label: Not known, counts: false}}}
      - {id: met_x, type: yes_no_na, text: 'X met?', applies_if: '"x" in needs'}
      - {id: met_y, type: yes_no, text: 'Y met?', applies_if: '"y" in needs', required: false}
  - id: end
    title: End
    questions:
      - {id: done, type: yes_no, text: 'Done?'}
""", "<paths>")

VALUES = {
    "kind": ["a", "b", "c"], "seen": ["yes", "no"], "count": [0, 3, 9], "needs": [["x"], ["y"], ["x", "y"], [], ["none"]],
    "met_x": ["yes", "no", "na"], "met_y": ["yes", "no"], "done": ["yes", "no"],
}

step = st.one_of(
    st.tuples(st.just("answer"), st.sampled_from(sorted(VALUES)), st.integers(0, 4)),
    st.tuples(st.just("clear"), st.sampled_from(sorted(VALUES)), st.just(0)),
    st.tuples(st.just("note"), st.sampled_from(sorted(VALUES)), st.integers(0, 2)),
    st.tuples(st.just("status"), st.sampled_from(["complete", "in_progress"]), st.just(0)),
    st.tuples(st.just("delete"), st.just(""), st.just(0)),
    st.tuples(st.just("undelete"), st.just(""), st.just(0)),
    st.tuples(st.just("restore"), st.just(""), st.just(0)),
)


def apply(service: CaseService, uuid: str, steps: list[tuple]) -> None:
    for kind, name, pick in steps:
        try:
            if kind == "answer":
                options = VALUES[name]
                service.answer(uuid, name, options[pick % len(options)], confirm_retire=True)
            elif kind == "clear":
                service.answer(uuid, name, None, confirm_retire=True)
            elif kind == "note":
                service.note(uuid, name, ["", "seen in file", "checked twice"][pick])
            elif kind == "status":
                service.set_status(uuid, name)
            elif kind == "delete":
                service.delete_case(uuid, "made by mistake")
            elif kind == "undelete":
                service.restore_case(uuid)
            else:
                service.restore_answers(uuid)
        except StoreError:
            pass  # refused (does not apply, locked, gaps, deleted...): nothing was written


def rows(path: Path, *, current_only: bool = False) -> dict[str, tuple]:
    with Store.open_read_only(path) as store:
        (uuid,) = [r[0] for r in store.conn.execute("SELECT uuid FROM cases")]
        found = {
            qid: (json.loads(value) if value else None, note, state, applies, counted)
            for qid, value, note, state, applies, counted in store.conn.execute(
                "SELECT question_id, value, note, state, applies, counted FROM answers WHERE case_uuid = ?", [uuid]
            )
        }
        fresh(store, uuid)
    if current_only:
        return {qid: row for qid, row in found.items() if row[2] == "current" and row[0] is not None}
    return found


def fresh(store: Store, uuid: str) -> None:
    case = store.case(uuid)
    tally = count_case(RUBRIC, store.answers(uuid))
    for qid, row in store.answer_rows(uuid).items():
        assert row["applies"] == (qid in tally.evaluation.applicable), qid
        assert row["counted"] == (qid in tally.counted and not case.deleted), qid
        if row["state"] == "current" and row["value"] is not None:
            assert qid in tally.evaluation.applicable, qid


@settings(max_examples=int(os.environ.get("AUDIT_EXAMPLES", "25")), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(step, max_size=25), cut=st.integers(0, 25))
def test_every_path_leaves_the_same_verdicts(steps, cut):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        direct, site_a, site_b = root / "direct.db", root / "a.db", root / "b.db"
        with Store.open(direct) as store:
            uuid = CaseService(store, who="jb").create_case("T1", "sheffield", RUBRIC).uuid
            apply(CaseService(store, who="jb"), uuid, steps)
            status = store.case(uuid).status
            deleted = store.case(uuid).deleted
        # the same steps, the first part on one laptop and the rest on a copy of its file
        with Store.open(site_a) as store:
            service = CaseService(store, who="jb")
            made = service.create_case("T1", "sheffield", RUBRIC)
            apply(service, made.uuid, steps[:cut])
        shutil.copy(site_a, site_b)
        with Store.open(site_b) as store:
            apply(CaseService(store, who="kl"), made.uuid, steps[cut:])
        national = root / "national.db"
        merge_databases(national, [site_a])
        merge_databases(national, [site_b])
        assert rows(national) == rows(site_b) == rows(direct)
        # the end result, imported in one go
        if deleted:
            return
        with Store.open_read_only(direct) as store:
            answers = store.answers(uuid)
            notes = {qid: row["note"] for qid, row in store.answer_rows(uuid).items()
                     if row["note"] and row["state"] == "current"}
        line = {"case_ref": "T1", "site": "sheffield", "answers": answers,
                "notes": {q: n for q, n in notes.items() if q in RUBRIC.question_ids},
                "status": "complete" if status in ("complete", "approved") else "in_progress"}
        source = root / "case.jsonl"
        source.write_text(json.dumps(line) + "\n")
        imported = root / "imported.db"
        import_file(imported, source, RUBRIC)
        assert {q: (r[0], r[2], r[3], r[4]) for q, r in rows(imported, current_only=True).items()} == \
               {q: (r[0], r[2], r[3], r[4]) for q, r in rows(direct, current_only=True).items()}
