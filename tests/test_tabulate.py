"""Tabulation on real stores: exact counts, bases and half-up percentages; who is left out of a base."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from pathlib import Path

import pytest

from audit.cli import main
from audit.counting import percent
from audit.errors import AuditError
from audit.figures import load_report, parse_report
from audit.store import NewCase, Store
from audit.tabulate import Cell, has_deleted_column, tabulate_question, tabulate_report, tidy_rows

PROJECT = Path(__file__).resolve().parent.parent
SHIPPED = PROJECT / "exports" / "iom-thematic-2019.yaml"

HEADER = """id: t
title: Test tables
datasets:
  thematic: {rubric: iom-thematic-2019, label: the thematic sample}
  core: {rubric: hmip-core-2018, label: the core programme}
figures:
"""


def make_store(rubric, answer_sets: list[dict], site: str = "sheffield", statuses: list[str] | None = None) -> Store:
    store = Store.memory()
    statuses = statuses or ["in_progress"] * len(answer_sets)
    store.insert_cases(
        [NewCase(case_ref=f"C{i:03d}", site=site, rubric=rubric, answers=dict(a), status=status)
         for i, (a, status) in enumerate(zip(answer_sets, statuses))],
        who="test", reason="test",
    )
    return store


def delete_case(store: Store, case_ref: str) -> None:
    """Soft-delete a case as schema 2 does (deleted_at set, its answers no longer counted)."""
    if not has_deleted_column(store):
        store.db.execute("ALTER TABLE cases ADD COLUMN deleted_at TEXT")
    uuid = store.db.execute("SELECT uuid FROM cases WHERE case_ref = ?", [case_ref]).fetchone()[0]
    store.db.execute("UPDATE cases SET deleted_at = '2019-10-01T00:00:00Z' WHERE uuid = ?", [uuid])
    store.db.execute("UPDATE answer_data SET counted = 0 WHERE case_id = (SELECT id FROM cases WHERE uuid = ?)", [uuid])


def table_of(figures_yaml: str, stores: dict[str, Store], figure: str = "1"):
    report = parse_report(HEADER + figures_yaml, "t.yaml")
    result = tabulate_report(report, stores)
    return next(t for t in result.tables if t.figure == figure)


def cells(table) -> dict[str, tuple]:
    return {row.label: tuple((c.count, c.base, c.percent) for c in row.cells) for row in table.rows}


ONE_QUESTION = '  - id: "1"\n    title: x\n    columns: [thematic]\n    rows: [{options: reasons_explained}]\n'


@pytest.mark.parametrize(
    ("yes", "total", "yes_percent", "no_percent"),
    [(1, 8, 13, 88), (1, 40, 3, 98), (3, 8, 38, 63), (0, 3, 0, 100)],
)
def test_percentages_round_half_up_from_unrounded_counts(thematic_rubric, yes, total, yes_percent, no_percent):
    answers = [{"sentence_type": "community", "reasons_explained": "yes" if i < yes else "no"} for i in range(total)]
    table = table_of(ONE_QUESTION, {"thematic": make_store(thematic_rubric, answers)})
    assert cells(table) == {"Yes": ((yes, total, yes_percent),), "No": ((total - yes, total, no_percent),)}


def test_not_applicable_and_unanswered_are_outside_the_base(thematic_rubric):
    values = ["yes", "yes", "yes", "no", "na", "na", None]
    answers = [{"sentence_type": "post_release", **({"planning_safety": v} if v else {})} for v in values]
    figure = ('  - id: "1"\n    title: x\n    columns: [thematic]\n    rows:\n'
              "      - {options: planning_safety, codes: [yes, no, na]}\n      - total: Total\n")
    table = table_of(figure, {"thematic": make_store(thematic_rubric, answers)})
    assert cells(table) == {
        "Yes": ((3, 4, 75),), "No": ((1, 4, 25),), "Not applicable": ((2, None, None),), "Total": ((4, 4, None),),
    }
    assert [r.in_base for r in table.rows] == [True, True, False, True]


def test_answers_that_do_not_apply_or_were_retired_are_not_counted(thematic_rubric):
    answers = [
        {"sentence_type": "community", "index_offence": "violence"},
        {"sentence_type": "post_release", "index_offence": "burglary"},
        # inserted with an answer its rule excludes: kept, never counted
        {"sentence_type": "non_statutory", "index_offence": "violence"},
    ]
    store = make_store(thematic_rubric, answers)
    changed = store.create_case("C900", "sheffield", thematic_rubric)
    store.set_answer(changed.uuid, "sentence_type", "community")
    store.set_answer(changed.uuid, "index_offence", "violence")
    store.set_answer(changed.uuid, "sentence_type", "non_statutory")  # retires index_offence
    assert store.answer_rows(changed.uuid)["index_offence"]["state"] == "retired"
    figure = ('  - id: "1"\n    title: x\n    columns: [thematic]\n    rows:\n'
              "      - {options: index_offence, codes: [violence, burglary]}\n")
    assert cells(table_of(figure, {"thematic": store})) == {
        "Violence against the person": ((1, 2, 50),), "Burglary": ((1, 2, 50),)}


CORE_FIGURE = """  - id: "1"
    title: x
    columns:
      - {dataset: core, label: IOM, where: iom_status == "yes"}
      - {dataset: core, label: Non-IOM, where: iom_status == "no"}
      - {dataset: core, label: All}
      - {dataset: core, label: None, where: iom_status == "yes" and principal_offence == "robbery"}
    rows:
      - options: factors
        codes: [drugs, alcohol]
      - {question: factors, count: [drugs, alcohol], label: Drugs or alcohol}
      - total: Total
"""


def test_filters_choose_each_columns_cases_and_unknown_excludes(core_rubric):
    answers = [
        {"iom_status": "yes", "factors": ["drugs", "alcohol"]},
        {"iom_status": "yes", "factors": ["drugs"]},
        {"iom_status": "yes", "factors": ["family"]},
        {"iom_status": "yes"},                              # factors unanswered: no base
        {"iom_status": "no", "factors": ["alcohol"]},
        {"iom_status": "no", "factors": ["thinking"]},
        {"factors": ["drugs"]},                             # IOM status unknown: only in "All"
    ]
    table = table_of(CORE_FIGURE, {"core": make_store(core_rubric, answers)})
    assert table.columns == ("IOM", "Non-IOM", "All", "None")
    assert cells(table) == {
        "Drug misuse": ((2, 3, 67), (0, 2, 0), (3, 6, 50), (0, 0, None)),
        "Alcohol misuse": ((1, 3, 33), (1, 2, 50), (2, 6, 33), (0, 0, None)),
        "Drugs or alcohol": ((2, 3, 67), (1, 2, 50), (4, 6, 67), (0, 0, None)),
        "Total": ((3, 3, None), (2, 2, None), (6, 6, None), (0, 0, None)),
    }
    # the base in words, from the rubric's question text and option labels, never rule syntax
    assert table.column_notes[0] == ("cases in the core programme where the answer to "
                                     "“Is the case subject to Integrated Offender Management?” is Yes")
    assert table.column_notes[2] == "cases in the core programme"


def test_filter_on_a_multi_choice_answer(core_rubric):
    answers = [
        {"iom_status": "yes", "factors": ["drugs"], "services_drugs": "yes"},
        {"iom_status": "yes", "factors": ["drugs", "family"], "services_drugs": "no", "services_family": "yes"},
        {"iom_status": "yes", "factors": ["family"], "services_family": "no"},
    ]
    figure = ('  - id: "1"\n    title: x\n    columns:\n      - {dataset: core, where: \'"family" in factors\'}\n'
              "    rows: [{options: iom_status}]\n")
    assert cells(table_of(figure, {"core": make_store(core_rubric, answers)})) == {"Yes": ((2, 2, 100),), "No": ((0, 2, 0),)}


def test_bands_and_groups(thematic_rubric):
    ages = [17, 18, 25, 26, 55, 56, 70]
    answers = [{"sentence_type": "community", "age": age, "previous_convictions": 21 + (i % 2), "rosh": rosh}
               for i, (age, rosh) in enumerate(zip(ages, ["low", "medium", "high", "very_high", "medium", "low", "high"]))]
    answers.append({"sentence_type": "non_statutory"})  # profile does not apply: in no base
    shipped = load_report(SHIPPED)
    result = tabulate_report(shipped, {"thematic": make_store(thematic_rubric, answers)})
    profile = next(t for t in result.tables if t.figure == "A2")
    got = {(row.section, row.label): (row.cells[0].count, row.cells[0].base, row.cells[0].percent) for row in profile.rows}
    assert got[("Age", "Aged 18-25 years")] == (2, 7, 29)
    assert got[("Age", "Aged 26-35 years")] == (1, 7, 14)
    assert got[("Age", "Aged 36-55 years")] == (1, 7, 14)
    assert got[("Age", "Aged 55 or over")] == (3, 7, 43)  # as printed: 55 is in both bands
    assert got[("Previous convictions", "More than 21 previous convictions")] == (3, 7, 43)
    assert got[("Risk of serious harm", "Medium or high")] == (4, 7, 57)
    assert got[("Sentence type", "Non-statutory supervision")] == (1, 8, 13)


def test_shipped_report_skips_figures_whose_dataset_is_missing(thematic_rubric):
    store = make_store(thematic_rubric, [{"sentence_type": "community", "lead_agency": "nps"}])
    result = tabulate_report(load_report(SHIPPED), {"thematic": store})
    assert [t.figure for t in result.tables] == ["4.1", "4.2", "4.4", "4.5", "4.7", "4.8", "4.9", "5.1", "A2"]
    assert result.warnings == [
        f"figure {fid} skipped: dataset '{name}' was not given (add --data {name}=DB)"
        for fid, name in (("2.1", "survey"), ("2.2", "core"), ("3.1", "survey"), ("4.3", "core"), ("4.6", "core"), ("5.2", "core"))
    ] + [
        "17 numbers quoted in the text skipped: dataset 'survey' was not given (add --data survey=DB)",
        "8 numbers quoted in the text skipped: dataset 'core' was not given (add --data core=DB)",
    ]
    assert result.skipped == ["2.1", "2.2", "3.1", "4.3", "4.6", "5.2"]
    # the numbers quoted in the text whose dataset was given are counted
    assert {row.dataset for row in result.quoted.rows} == {"thematic"} and len(result.quoted.rows) == 52 - 17 - 8
    lead = next(t for t in result.tables if t.figure == "4.1")
    assert lead.is_chart and cells(lead)["NPS"] == ((1, 1, 100),)


def test_wrong_rubric_and_unknown_dataset_are_refused(thematic_rubric, core_rubric):
    report = load_report(SHIPPED)
    thematic = make_store(thematic_rubric, [{"sentence_type": "community"}])
    with pytest.raises(AuditError, match="holds cases of rubric 'iom-thematic-2019', but dataset 'core' is rubric 'hmip-core-2018'"):
        tabulate_report(report, {"core": thematic})
    with pytest.raises(AuditError, match=r"dataset 'thematc' is not in figure tables 'iom-thematic-2019' \(did you mean 'thematic'\?\)"):
        tabulate_report(report, {"thematc": thematic})


def test_zero_cases_give_zero_bases_and_no_percentages():
    result = tabulate_report(load_report(SHIPPED), {"thematic": Store.memory(), "core": Store.memory(), "survey": Store.memory()})
    assert len(result.tables) == 15 and not result.warnings
    every = [cell for t in result.tables for row in t.rows for cell in row.cells]
    assert all(cell.count == 0 and cell.percent is None for cell in every)
    assert all(cell.base in (0, None) for cell in every)


def test_tidy_rows_follow_the_csv_contract(thematic_rubric):
    answers = [{"sentence_type": "community", "reoffended": "yes", "reoffending_frequency": f} for f in ("reduced", "na")]
    result = tabulate_report(load_report(SHIPPED), {"thematic": make_store(thematic_rubric, answers)})
    rows = [r for r in tidy_rows(result.tables) if r["figure"] == "5.1"]
    assert list(rows[0]) == ["figure", "title", "section", "row", "column", "count", "base", "percent",
                             "dataset", "question_id", "option_code", "fraction", "ci_low", "ci_high", "p_value", "significant"]
    frequency = [r for r in rows if "frequency" in r["section"]]
    assert [(r["row"], r["count"], r["base"], r["percent"]) for r in frequency] == [
        ("Reduced", 1, 1, 100), ("Stayed the same", 0, 1, 0), ("Increased", 0, 1, 0), ("Not applicable", 1, None, None)]
    assert [(r["dataset"], r["question_id"], r["option_code"], r["fraction"]) for r in frequency] == [
        ("thematic", "reoffending_frequency", "reduced", 1.0), ("thematic", "reoffending_frequency", "same", 0.0),
        ("thematic", "reoffending_frequency", "increased", 0.0), ("thematic", "reoffending_frequency", "na", None)]
    assert all(r["column"] == "" for r in rows)


# --- an independent oracle on generated data --------------------------------------------------


def test_every_cell_matches_a_case_by_case_count(core_rubric, thematic_rubric):
    """Recount every cell of the shipped figures case by case, on generated data, from the store's own verdicts."""
    from benchmarks.common import make_cases
    from audit.rules import parse_rule

    stores = {"core": Store.memory(), "thematic": Store.memory()}
    stores["core"].insert_cases(make_cases(core_rubric, 400, seed=11), who="test", reason="test")
    stores["thematic"].insert_cases(make_cases(thematic_rubric, 120, seed=5), who="test", reason="test")
    report = load_report(SHIPPED)
    result = tabulate_report(report, stores)
    checked = 0
    for table in result.tables:
        figure = report.figure(table.figure)
        for c_index, column in enumerate(figure.columns):
            store = stores[column.dataset]
            rule = parse_rule(column.where) if column.where else None
            seen: dict[str, dict] = defaultdict(dict)
            for case_uuid, qid, value in store.iter_answers(rule.names if rule else [], counted_only=False):
                seen[case_uuid][qid] = value
            cases = {c.uuid for c in store.list_cases(limit=10_000)}
            members = {u for u in cases if rule is None or rule.evaluate(seen.get(u, {})) is True}
            flat = [row for section in figure.sections for row in section.rows]
            for spec, row in zip(flat, table.rows):
                answers = {u: v for u, _, v in store.iter_answers([spec.question]) if u in members}
                base = len(answers)
                if spec.kind == "total":
                    expected = Cell(base, base, None)
                elif not spec.in_base:  # e.g. "Not applicable": visible answers, no base
                    shown = [v for u, _, v in store.iter_answers([spec.question], counted_only=False) if u in members]
                    expected = Cell(sum(1 for v in shown if v in spec.codes), None, None)
                elif spec.kind == "range":
                    hit = sum(1 for v in answers.values() if (spec.low is None or v >= spec.low) and (spec.high is None or v <= spec.high))
                    expected = Cell(hit, base, percent(hit, base))
                else:
                    hit = sum(1 for v in answers.values() if (set(v) if isinstance(v, list) else {v}) & set(spec.codes))
                    expected = Cell(hit, base, percent(hit, base))
                assert dataclasses.replace(row.cells[c_index], ci=None) == expected, (table.figure, row.label, column.label)
                checked += 1
    assert checked == sum(len(t.rows) * len(t.columns) for t in result.tables) > 130


# --- one question -------------------------------------------------------------------------------


def test_tabulate_question_with_by_and_where(core_rubric):
    answers = [
        {"iom_status": "yes", "planning_safety": "yes", "principal_offence": "robbery"},
        {"iom_status": "yes", "planning_safety": "na", "principal_offence": "robbery"},
        {"iom_status": "no", "planning_safety": "no", "principal_offence": "robbery"},
        {"iom_status": "no", "planning_safety": "yes", "principal_offence": "theft"},
    ]
    store = make_store(core_rubric, answers)
    table = tabulate_question(store, "planning_safety", by="iom_status", where='principal_offence == "robbery"')
    assert table.columns == ("All cases", "iom_status: Yes", "iom_status: No")
    assert cells(table) == {
        "Yes": ((1, 2, 50), (1, 1, 100), (0, 1, 0)),
        "No": ((1, 2, 50), (0, 1, 0), (1, 1, 100)),
        "Not applicable": ((1, None, None), (1, None, None), (0, None, None)),
        "Total": ((2, 2, None), (1, 1, None), (1, 1, None)),
    }


def test_tabulate_question_integer_rows_are_the_numbers_given(thematic_rubric):
    store = make_store(thematic_rubric, [{"sentence_type": "community", "age": a} for a in (30, 30, 41)])
    assert cells(tabulate_question(store, "age")) == {"30": ((2, 3, 67),), "41": ((1, 3, 33),), "Total": ((3, 3, None),)}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("agee",), "QUESTION: no question 'agee' in rubric iom-thematic-2019 (did you mean 'age'?)"),
        (("age", "gendr"), "--by: no question 'gendr' in rubric iom-thematic-2019 (did you mean 'gender'?)"),
        (("age", "previous_convictions"), "--by: 'previous_convictions' is integer; --by needs a choice question"),
        (("age", None, 'gender == "f"'), "--where: rule `gender == \"f\"` at column 1: 'f' is not an option code of 'gender'"),
        (("age", None, "gender = 1"), "--where: rule `gender = 1` at column"),
    ],
)
def test_tabulate_question_errors_are_one_line(thematic_rubric, args, message):
    store = make_store(thematic_rubric, [{"sentence_type": "community", "age": 30}])
    question, by, where = (*args, None, None)[:3]
    with pytest.raises(AuditError) as caught:
        tabulate_question(store, question, by=by, where=where)
    assert str(caught.value).startswith(message)
    assert "\n" not in str(caught.value)


def test_tabulate_command_prints_counts_and_refuses_bad_ids(tmp_path, thematic_rubric, capsys):
    path = tmp_path / "t.db"
    store = Store.open(path)
    store.insert_cases([NewCase(case_ref=f"C{i}", site="s", rubric=thematic_rubric,
                                answers={"sentence_type": "community", "reasons_explained": "yes" if i == 0 else "no"})
                        for i in range(8)], who="t", reason="t")
    store.close()
    assert main(["tabulate", str(path), "reasons_explained", "--by", "sentence_type"]) == 0
    out = capsys.readouterr().out
    yes_line = next(line for line in out.splitlines() if line.startswith("Yes"))
    assert yes_line.split()[:4] == ["Yes", "1", "13%", "8"]
    assert "sentence_type: Community sentence" in out
    assert main(["tabulate", str(path), "reasons_explaned"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == ("error: QUESTION: no question 'reasons_explaned' in rubric iom-thematic-2019 "
                           "(did you mean 'reasons_explained'?); see `audit rubric show iom-thematic-2019`")
    assert main(["tabulate", str(tmp_path / "missing.db"), "age"]) == 1
    assert "does not exist" in capsys.readouterr().err


# --- which cases count ----------------------------------------------------------------------------

STATUSES = ["complete", "complete", "in_progress", "complete", "in_progress"]
EXPLAINED = ["yes", "no", "yes", "yes", "no"]


def status_store(rubric) -> Store:
    answers = [{"sentence_type": "community", "reasons_explained": v} for v in EXPLAINED]
    return make_store(rubric, answers, statuses=STATUSES)


def test_every_status_counts_by_default_and_the_in_progress_ones_are_warned_about(thematic_rubric):
    result = tabulate_report(parse_report(HEADER + ONE_QUESTION, "t.yaml"), {"thematic": status_store(thematic_rubric)})
    assert cells(result.tables[0]) == {"Yes": ((3, 5, 60),), "No": ((2, 5, 40),)}
    selection = result.selections["thematic"]
    assert (selection.held, selection.counted, selection.in_progress_counted) == (5, 5, 2)
    assert selection.summary() == "5 cases (2 in progress, 3 complete); counted: all 5"
    assert result.status_warnings == [
        "thematic: 2 of the 5 cases counted are in progress (not finished); use --status complete to count finished "
        "assessments only"]


def test_status_complete_counts_finished_assessments_only(thematic_rubric):
    report = parse_report(HEADER + ONE_QUESTION, "t.yaml")
    result = tabulate_report(report, {"thematic": status_store(thematic_rubric)}, statuses=["complete"])
    assert cells(result.tables[0]) == {"Yes": ((2, 3, 67),), "No": ((1, 3, 33),)}
    assert result.selections["thematic"].summary() == "5 cases (2 in progress, 3 complete); counted: the 3 complete"
    assert result.status_warnings == []


def test_status_in_the_figure_file_and_the_command_line_overrides_it(thematic_rubric):
    header = HEADER.replace("label: the thematic sample}", "label: the thematic sample, status: [in_progress]}")
    report = parse_report(header + ONE_QUESTION, "t.yaml")
    assert report.datasets["thematic"].statuses == ("in_progress",)
    store = status_store(thematic_rubric)
    assert cells(tabulate_report(report, {"thematic": store}).tables[0]) == {"Yes": ((1, 2, 50),), "No": ((1, 2, 50),)}
    assert cells(tabulate_report(report, {"thematic": store}, statuses=["complete,in_progress"]).tables[0]) == {
        "Yes": ((3, 5, 60),), "No": ((2, 5, 40),)}
    with pytest.raises(AuditError, match="--status: 'finished' is not a case status; use in_progress, complete, approved, returned"):
        tabulate_report(report, {"thematic": store}, statuses=["finished"])


def test_a_filter_and_a_not_applicable_row_see_only_the_selected_cases(core_rubric):
    answers = [{"iom_status": "yes", "planning_safety": "na"}, {"iom_status": "yes", "planning_safety": "yes"},
               {"iom_status": "no", "planning_safety": "na"}]
    store = make_store(core_rubric, answers, statuses=["in_progress", "complete", "complete"])
    figure = ('  - id: "1"\n    title: x\n    columns:\n      - {dataset: core, where: iom_status == "yes"}\n'
              "    rows: [{options: planning_safety, codes: [yes, na]}]\n")
    report = parse_report(HEADER + figure, "t.yaml")
    assert cells(tabulate_report(report, {"core": store}).tables[0]) == {"Yes": ((1, 1, 100),), "Not applicable": ((1, None, None),)}
    assert cells(tabulate_report(report, {"core": store}, statuses=["complete"]).tables[0]) == {
        "Yes": ((1, 1, 100),), "Not applicable": ((0, None, None),)}


def test_deleted_cases_never_count_and_are_stated(thematic_rubric):
    store = status_store(thematic_rubric)
    delete_case(store, "C000")  # complete, answered yes
    report = parse_report(HEADER + ONE_QUESTION, "t.yaml")
    result = tabulate_report(report, {"thematic": store})
    assert cells(result.tables[0]) == {"Yes": ((2, 4, 50),), "No": ((2, 4, 50),)}
    assert result.selections["thematic"].summary() == "4 cases (2 in progress, 2 complete); counted: all 4; 1 deleted case left out"
    table = tabulate_question(store, "reasons_explained", statuses=["complete"])
    assert cells(table)["Yes"] == ((1, 2, 50),)


def test_tabulate_command_states_which_cases_count(tmp_path, thematic_rubric, capsys):
    path = tmp_path / "t.db"
    store = Store.open(path)
    store.insert_cases([NewCase(case_ref=f"C{i}", site="s", rubric=thematic_rubric, status=status,
                                answers={"sentence_type": "community", "reasons_explained": value})
                        for i, (status, value) in enumerate(zip(STATUSES, EXPLAINED))], who="t", reason="t")
    store.close()
    assert main(["tabulate", str(path), "reasons_explained"]) == 0
    captured = capsys.readouterr()
    assert f"{path}: 5 cases (2 in progress, 3 complete); counted: all 5" in captured.out
    assert captured.err.strip() == ("warning: t.db: 2 of the 5 cases counted are in progress (not finished); "
                                    "use --status complete to count finished assessments only")
    assert main(["tabulate", str(path), "reasons_explained", "--status", "complete"]) == 0
    captured = capsys.readouterr()
    assert "counted: the 3 complete" in captured.out and captured.err == ""
    assert next(line for line in captured.out.splitlines() if line.startswith("Yes")).split()[:4] == ["Yes", "2", "67%", "3"]
    assert main(["tabulate", str(path), "reasons_explained", "--status", "done"]) == 1
    assert "error: --status: 'done' is not a case status" in capsys.readouterr().err


def test_the_advice_on_unfinished_cases_keeps_approved_ones_in(tmp_path, thematic_rubric, capsys):
    path = tmp_path / "t.db"
    with Store.open(path) as store:
        store.insert_cases([NewCase(case_ref=f"C{i}", site="s", rubric=thematic_rubric, status=status,
                                    answers={"sentence_type": "community", "reasons_explained": "yes"})
                            for i, status in enumerate(["in_progress", "complete", "approved"])], who="t", reason="t")
    assert main(["tabulate", str(path), "reasons_explained"]) == 0
    advice = capsys.readouterr().err
    assert "use --status complete,approved to count finished assessments only" in advice
    assert main(["tabulate", str(path), "reasons_explained", "--status", "complete,approved"]) == 0
    captured = capsys.readouterr()
    assert "counted: the 2 complete or approved" in captured.out and captured.err == ""
