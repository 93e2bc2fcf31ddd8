"""The import's fast paths agree with the slow paths they stand in for.

The bulk write path (``check_file`` then ``CaseService.insert_cases``) does per
distinct value, or per rubric, what the rest of the tool does per answer: each
shortcut is checked here against the general function, on generated rubrics
and values, and the rows it writes against the counting module's verdicts.
"""

from __future__ import annotations

import json
import tempfile
import uuid
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.cases import CaseService, verdicts
from audit.counting import count_case, counted_answers, counted_questions
from audit.engine import evaluate
from audit.identity import IdentifierProblem, Normaliser, normalise
from audit.importer import CellCoercer, check_file, import_file, uuid4_texts
from audit.store import NewCase, Store
from audit.values import ValueProblem, coerce
from tests.rubric_strategies import answer_sets, rubrics

SLOW = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --- counting: only the questions with a non-counting option are looked at ----------------------


@SLOW
@given(st.data())
def test_counted_questions_are_the_counted_answers(data):
    rubric = data.draw(rubrics())
    answers = data.draw(answer_sets(rubric))
    evaluation = evaluate(rubric, answers)
    assert counted_questions(evaluation) == frozenset(counted_answers(evaluation))
    assert count_case(rubric, answers, evaluation).counted == frozenset(counted_answers(evaluation))


# --- values: a cell's text looked up per question --------------------------------------------------


def _raw_values(rubric):
    """What a file may hold for a question: codes and labels in any case with stray spaces, numbers as
    text, junk, JSON numbers, booleans and lists."""
    words = [w for q in rubric.questions for code, option in q.options.items() for w in (code, option.label)]
    spelt = st.sampled_from(words or ["x"]).flatmap(
        lambda w: st.sampled_from([w, w.upper(), w.lower(), f" {w} ", f"{w};{w}", "(none)"]))
    return st.one_of(spelt, st.text(max_size=6), st.integers(-100, 100).map(str), st.integers(-100, 100),
                     st.booleans(), st.none(), st.lists(spelt, max_size=3), st.sampled_from(["1,000", "7.0", "", "  "]))


def _outcome(function, *args):
    try:
        return "value", function(*args)
    except ValueProblem as exc:
        return "refused", str(exc)


@SLOW
@given(st.data())
def test_the_cell_coercer_agrees_with_coerce_every_time_it_is_asked(data):
    rubric = data.draw(rubrics())
    coercer = CellCoercer(rubric)
    for _ in range(12):
        question = data.draw(st.sampled_from(rubric.questions))
        raw = data.draw(_raw_values(rubric))
        expected = _outcome(coerce, question, raw)
        assert _outcome(coercer, question.id, raw) == expected
        assert _outcome(coercer, question.id, raw) == expected  # the remembered answer too
    # a remembered list is a copy: changing one answer's selection changes no other's
    multi = [q for q in rubric.questions if q.type == "multi"]
    if multi:
        code = multi[0].option_codes[0]
        first = coercer(multi[0].id, code)
        first.append("changed")
        assert coercer(multi[0].id, code) == [code]


# --- identifiers: sites and inspectors normalised once each ---------------------------------------


IDENTIFIER_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12) | st.sampled_from(
    ["Sheffield", " sheffield ", "Colwyn  Bay", "T\u200b001", "Cafe\u0301", "tab\there", "x" * 201])


@SLOW
@given(st.lists(IDENTIFIER_TEXT, max_size=8), st.sampled_from(["site", "inspector"]))
def test_the_normaliser_agrees_with_normalise_every_time_it_is_asked(texts, what):
    normaliser = Normaliser()
    for text in texts * 2:
        try:
            expected = ("value", normalise(text, what))
        except IdentifierProblem as exc:
            expected = ("refused", str(exc))
        try:
            got = ("value", normaliser(text, what))
        except IdentifierProblem as exc:
            got = ("refused", str(exc))
        assert got == expected


def test_uuids_are_random_version_4_uuids_written_as_uuid_writes_them():
    made = [text for text, _ in zip(uuid4_texts(batch=16), range(100))]
    assert len(set(made)) == 100
    for text in made:
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122 and str(parsed) == text


# --- the rows insert_cases writes are the counting module's verdicts ------------------------------


@st.composite
def new_cases(draw, rubric):
    """Cases as any caller may pass them: answers to questions that do not apply, blank text, notes with
    and without an answer."""
    made = []
    for number in range(draw(st.integers(1, 4))):
        answers = draw(answer_sets(rubric))
        if draw(st.booleans()):
            blank = draw(st.sampled_from(rubric.question_ids))
            answers[blank] = "  " if rubric.question(blank).type == "text" else None
        noted = draw(st.lists(st.sampled_from(rubric.question_ids), max_size=3, unique=True))
        notes = {qid: f"note on {qid}" for qid in noted}
        made.append(NewCase(case_ref=f"C{number}", site=draw(st.sampled_from(["Sheffield", "surrey"])), rubric=rubric,
                            answers=answers, inspector=draw(st.sampled_from([None, "jb", "JB "])), notes=notes))
    return made


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_insert_cases_writes_what_the_counting_module_decides(data):
    rubric = data.draw(rubrics())
    cases = data.draw(new_cases(rubric))
    copy = data.draw(st.booleans())
    with tempfile.TemporaryDirectory() as folder:
        with Store.open(Path(folder) / "audit.db") as store:
            service = CaseService(store, who="jb")
            if copy:
                original = service.create_case("O1", "sheffield", rubric)
                service.insert_cases(cases, reason="moderation", copy_of=original.uuid)
            else:
                service.insert_cases(cases, origin_file="cases.jsonl")
            for new in cases:
                case = store.case(new.uuid)
                assert case.copy_of == (original.uuid if copy else None)
                rows = store.answer_rows(new.uuid)
                answered = {qid: v for qid, v in new.answers.items() if v is not None and not (isinstance(v, str) and not v.strip())}
                assert {qid for qid, row in rows.items() if row["value"] is not None} == set(answered)
                assert {qid: row["note"] for qid, row in rows.items() if row["note"]} == new.notes
                # the verdicts of these rows, decided from scratch, are the ones stored
                fresh = {qid: dict(row, state="current", applies=False, counted=False) for qid, row in rows.items()}
                verdict = verdicts(rubric, fresh, deleted=copy, status=case.status)
                for qid, row in rows.items():
                    assert (row["state"], row["applies"], row["counted"]) == (
                        fresh[qid]["state"], fresh[qid]["applies"], fresh[qid]["counted"]), qid
                assert (case.applicable_count, case.answered_count) == (verdict.applicable_count, verdict.answered_count)
                # history: one row per retired answer, then the case's own, in that order
                trail = store.conn.execute(
                    "SELECT question_id, field, new_value FROM history WHERE case_uuid = ? ORDER BY id", [new.uuid]).fetchall()
                assert trail == [*((qid, "state", "retired") for qid in sorted(verdict.retired, key=rubric.position)),
                                 (None, "case", new.case_ref if copy else "cases.jsonl")]
            assert service.recount_all() == 0  # nothing for a recount to change


def test_an_import_stores_what_check_file_read(tmp_path, core_rubric):
    """End to end through the JSONL reader's fast path: every answer, note, site and inspector arrives."""
    lines = [
        {"case_ref": " T1 ", "site": "Sheffield", "inspector": "jb", "answers": {"iom_status": "Yes", "factors": ["family"]},
         "notes": {"iom_status": "seen the file"}},
        {"case_ref": "T2", "site": " sheffield", "answers": {"iom_status": "no"}},
        {"case_ref": "T3", "site": "Surrey", "inspector": "JB", "answers": {}},
    ]
    source = tmp_path / "cases.jsonl"
    source.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    checked = check_file(source, core_rubric)
    assert not checked.errors
    db = tmp_path / "audit.db"
    import_file(db, source, core_rubric, who="jb")
    with Store.open(db) as store:
        got = {ref: store.find_case(site, ref) for ref, site in (("T1", "sheffield"), ("T2", "sheffield"), ("T3", "surrey"))}
        assert [got[r].site for r in ("T1", "T2", "T3")] == ["Sheffield", "Sheffield", "Surrey"]
        assert store.answers(got["T1"].uuid) == {"iom_status": "yes", "factors": ["family"]}
        assert store.answer_rows(got["T1"].uuid)["iom_status"]["note"] == "seen the file"
        assert store.answers(got["T2"].uuid) == {"iom_status": "no"}
        assert [c.uuid for c in checked.cases] != [None] * 3 and len({c.uuid for c in checked.cases}) == 3
