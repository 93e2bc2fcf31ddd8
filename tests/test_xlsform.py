"""`audit rubric import` / `export`: XLSForm in and out, on real workbooks read back with openpyxl."""

from __future__ import annotations

import zipfile
from pathlib import Path

import openpyxl
import pytest
import yaml

from audit.cli import main
from audit.engine import evaluate
from audit.rubric import QUESTION_TYPES, load_rubric, load_rubric_by_id, parse_rubric
from audit.rubric_writer import QUESTION_KEYS, SECTION_KEYS
from audit.xlsform import workbook as workbook_module
from audit.xlsform.reader import import_form
from audit.xlsform.writer import form_cells
from tests.xlsform_support import sheet_values, write_xlsform

PROJECT = Path(__file__).resolve().parent.parent
SHIPPED = ("iom-thematic-2019", "hmip-core-2018")

YN = [["yn", "yes", "Yes"], ["yn", "no", "No"]]
CHOICES_HEADER = ["list_name", "name", "label"]


def run(*args: str) -> int:
    return main(list(args))


def errors_of(capsys) -> list[str]:
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("error: ")]


# --- the shipped rubrics: export, import, the same rubric --------------------------------------


@pytest.mark.parametrize("rubric_id", SHIPPED)
def test_a_shipped_rubric_comes_back_from_its_xlsform_unchanged(rubric_id, tmp_path, capsys):
    form, back = tmp_path / "form.xlsx", tmp_path / "back.yaml"
    assert run("rubric", "export", rubric_id, "-o", str(form)) == 0
    assert run("rubric", "import", str(form), "-o", str(back)) == 0
    assert "warning" not in capsys.readouterr().err
    original, imported = load_rubric_by_id(rubric_id), load_rubric(back)
    dump = lambda r: r.model_dump(exclude={"sections": {"__all__": {"questions": {"__all__": {"applies_if"}}, "applies_if": True}}})  # noqa: E731
    assert dump(imported) == dump(original)
    # rules are written in our language again; these rubrics' rules come back word for word
    assert [q.applies_if for q in imported.questions] == [q.applies_if for q in original.questions]
    assert [s.applies_if for s in imported.sections] == [s.applies_if for s in original.sections]
    assert run("rubric", "check", str(back)) == 0


def test_imported_yaml_is_written_in_the_documented_key_order(tmp_path):
    form = tmp_path / "form.xlsx"
    assert run("rubric", "export", "iom-thematic-2019", "-o", str(form)) == 0
    text = import_form(form).text
    data = yaml.safe_load(text)
    assert list(data) == ["id", "version", "title", "sections"]
    assert isinstance(data["version"], int)  # version: 1, as people write it
    for section in data["sections"]:
        assert list(section) == [k for k in SECTION_KEYS if k in section]
        for question in section["questions"]:
            assert list(question) == [k for k in QUESTION_KEYS if k in question]
    assert "      - id: age\n        type: integer\n        text: How old is the service user?\n        range: [10, 120]\n" in text
    assert "          na: {label: Not applicable, counts: false}\n" in text
    assert "required: true" not in text  # the default is not written


def test_exported_form_cells_say_what_the_rubric_says(thematic_rubric):
    cells = form_cells(thematic_rubric)
    survey = {row[1]: row for row in cells["survey"][1:] if row[1]}
    header = cells["survey"][0]
    col = {name: header.index(name) for name in header}
    assert survey["planning"][col["type"]] == "begin group"
    assert survey["planning"][col["relevant"]] == "${sentence_type} != 'non_statutory'"
    assert survey["age"][col["constraint"]] == ". >= 10 and . <= 120"
    assert survey["age"][col["type"]] == "integer"
    assert survey["factors"][col["type"]] == "select_multiple factors"
    assert survey["services_drugs"][col["relevant"]] == "selected(${factors}, 'drugs')"
    assert survey["planning_safety"][col["type"]] == "select_one yes_no_na"
    assert survey["lead_professional"][col["type"]] == "select_one yes_no"
    assert survey["sentence_type"][col["hint"]].startswith("Non-statutory cases")
    assert survey["profile"][col["hint"]] == "Annex 2's case profile. Not recorded for non-statutory cases."
    choices = cells["choices"]
    assert choices[0] == ["list_name", "name", "label", "counts"]
    assert ["yes_no_na", "na", "Not applicable", "no"] in choices
    assert ["reoffending_frequency", "na", "Not applicable", "no"] in choices
    assert cells["settings"] == [["form_id", "form_title", "version"],
                                 ["iom-thematic-2019", "IOM joint thematic inspection 2019 - case assessment", "1"]]


def test_export_writes_text_cells_never_formulas(tmp_path):
    rubric = parse_rubric(
        "id: r\nversion: 1\ntitle: '=HYPERLINK(\"http://x\")'\nsections:\n  - id: s\n    title: '@SUM(A1)'\n    questions:\n"
        "      - {id: q, type: text, text: '=1+1', prompts: ['-2+3']}\n",
        "r.yaml",
    )
    from audit.xlsform.writer import write_form

    write_form(rubric, tmp_path / "f.xlsx")
    sheet = openpyxl.load_workbook(tmp_path / "f.xlsx")["survey"]
    cells = {c.value: c.data_type for row in sheet.iter_rows() for c in row if c.value}
    assert cells["=1+1"] == "s" and cells["-2+3"] == "s" and cells["@SUM(A1)"] == "s"
    assert import_form(tmp_path / "f.xlsx").rubric.questions[0].text == "=1+1"


def test_shipped_xlsforms_are_in_sync_with_their_rubrics(tmp_path):
    """rubrics/xlsform/*.xlsx are `audit rubric export` of rubrics/*.yaml (cell values, not bytes)."""
    for rubric_id in SHIPPED:
        shipped = PROJECT / "rubrics" / "xlsform" / f"{rubric_id}.xlsx"
        fresh = tmp_path / f"{rubric_id}.xlsx"
        assert run("rubric", "export", str(PROJECT / "rubrics" / f"{rubric_id}.yaml"), "-o", str(fresh)) == 0
        assert shipped.exists(), f"missing {shipped}; regenerate it as docs/xlsform.md says"
        assert sheet_values(shipped) == sheet_values(fresh), (
            f"{shipped} is out of date; regenerate it: audit rubric export rubrics/{rubric_id}.yaml -o {shipped.relative_to(PROJECT)}"
        )


# --- reading forms as ODK and Kobo teams write them ------------------------------------------------


def test_a_kobo_style_form_imports(tmp_path, capsys):
    survey = [
        ["type", "name", "label::English (en)", "hint::English (en)", "required", "relevant", "constraint", "appearance"],
        ["start", "start", None, None, None, None, None, None],
        ["end", "end", None, None, None, None, None, None],
        ["note", "intro", "Read the case file first.", None, None, None, None, None],
        ["select_one site_list", "site_type", "Which kind of site?", None, "true", None, None, "minimal"],
        ["integer", "age", "Age", "In whole years", "yes", None, ". >= 18 and . <= 99", None],
        ["begin_group", "history", "History", "Previous convictions and custody", None, "${age} >= 21", None, None],
        ["select_multiple factor_list", "factors", "Factors", None, None, None, None, None],
        ["begin group", "drugs", "Drugs", None, None, "selected(${factors}, 'drugs')", None, None],
        ["select_one yn", "treated", "Treated?", None, None, None, None, None],
        ["note", "after", "Check the treatment record.", None, None, None, None, None],
        ["end group", None, None, None, None, None, None, None],
        ["date", "seen", "Last seen", None, "no", "count-selected(${factors}) > 1", None, None],
        ["end_group", None, None, None, None, None, None, None],
        ["text", "comments", "Comments", None, None, "${site_type} = 2", None, None],
    ]
    choices = [
        ["list_name", "name", "label::English (en)", "counts"],
        ["site_list", 1, "Urban", None], ["site_list", 2, "Rural", None],
        ["factor_list", "drugs", "Drug misuse", None], ["factor_list", "alcohol", "Alcohol", None],
        ["factor_list", "none", "None of these", "no"],
        ["yn", "yes", "Yes", None], ["yn", "no", "No", None],
    ]
    settings = [["form_title", "form_id", "version", "default_language", "style"],
                ["Kobo audit", "kobo_audit", 2024061201, "English (en)", "pages"]]
    form = write_xlsform(tmp_path / "kobo.xlsx", survey, choices, settings)
    out = tmp_path / "kobo.yaml"
    assert run("rubric", "import", str(form), "-o", str(out)) == 0
    err = capsys.readouterr().err
    assert "kobo.xlsx:survey!A2: 'start' row ignored" in err and "kobo.xlsx:survey!A3: 'end' row ignored" in err
    assert "kobo.xlsx:survey!H5: column 'appearance' ignored (1 cells)" in err
    assert "kobo.xlsx:settings!E2: settings column 'style' ignored" in err
    rubric = load_rubric(out)
    assert (rubric.id, rubric.title, rubric.version) == ("kobo_audit", "Kobo audit", "2024061201")
    assert [(s.id, s.title, s.applies_if) for s in rubric.sections] == [
        ("main", "Kobo audit", None),
        ("history", "History", "age >= 21"),
        ("drugs", "Drugs", 'age >= 21 and "drugs" in factors'),
        ("history_2", "History", "age >= 21"),
        ("main_2", "Kobo audit", None),
    ]
    assert rubric.sections[1].description == "Previous convictions and custody"
    site = rubric.question("site_type")
    assert (site.type, site.required, site.option_codes, site.prompts) == ("single", True, ["1", "2"], ["Read the case file first."])
    assert rubric.question("age").range == (18, 99) and rubric.question("age").prompts == ["In whole years"]
    treated = rubric.question("treated")
    assert (treated.type, treated.required, treated.prompts) == ("yes_no", False, ["Check the treatment record."])
    assert rubric.question("factors").options["none"].counts is False
    assert rubric.question("seen").applies_if == '("drugs" in factors and "alcohol" in factors) or ("drugs" in factors and "none" in factors) ' \
        'or ("alcohol" in factors and "none" in factors)'
    assert rubric.question("comments").applies_if == 'site_type == "2"'
    # the rules mean what the form meant
    applies = lambda answers: set(evaluate(rubric, answers).applicable)  # noqa: E731
    assert "treated" in applies({"age": 30, "factors": ["drugs"]})
    assert "treated" not in applies({"age": 20, "factors": ["drugs"]})
    assert "seen" in applies({"age": 30, "factors": ["drugs", "alcohol"]}) and "seen" not in applies({"age": 30, "factors": ["drugs"]})


def test_every_problem_is_listed_at_once_with_its_cell_and_nothing_is_written(tmp_path, capsys):
    survey = [
        ["type", "name", "label", "relevant", "constraint", "calculation", "label::French (fr)"],
        ["begin repeat", "visits", "Visits", None, None, None, None],  # 2
        ["calculate", "total", None, None, None, "1 + 1", None],  # 3
        ["decimal", "weight", "Weight", None, None, None, None],  # 4
        ["select_one yn", "Q5", "Bad name", None, None, None, None],  # 5
        ["select_one missing_list", "q6", "No list", None, None, None, None],  # 6
        ["select_one yn", "q7", "OK", None, None, None, None],  # 7
        ["text", "q8", "Bad rule", "${q7} = 'maybe' or ${nope} = 'x'", None, None, None],  # 8
        ["text", "q9", "Constraint on text", None, "regex(., '^a')", None, None],  # 9
        ["integer", "q10", "No range", None, None, None, None],  # 10
        ["geopoint", "q11", "Where", None, None, None, "Où"],  # 11
        ["text", "q7", "Duplicate", "${q7} != 'no'", None, None, None],  # 12
        ["select_one yn or_other", "q13", "Or other", None, None, None, None],  # 13
        ["integer", "q14", "Arithmetic", "${q10} + 1 > 3", ". >= 0 and . <= 5", None, None],  # 14
        ["end repeat", None, None, None, None, None, None],  # 15
    ]
    form = write_xlsform(tmp_path / "bad.xlsx", survey, [CHOICES_HEADER, *YN])
    out = tmp_path / "out.yaml"
    assert run("rubric", "import", str(form), "-o", str(out)) == 1
    errors = errors_of(capsys)
    expected = [
        "bad.xlsx:survey!G1: the form is in several languages ((no language), French (fr))",
        "bad.xlsx:survey!F3: column 'calculation' is not supported (used in F3)",
        "bad.xlsx:survey!A2: type 'begin repeat': repeats are not supported",
        "bad.xlsx:survey!A3: type 'calculate': audit has no calculated questions",
        "bad.xlsx:survey!A4: type 'decimal': audit has no decimal questions yet",
        "bad.xlsx:survey!B5: name 'Q5' must be lowercase letters, digits and _, starting with a letter (e.g. q5)",
        "bad.xlsx:survey!A6: no choice list 'missing_list' on the choices sheet",
        "bad.xlsx:survey!A11: type 'geopoint' is not supported",
        "bad.xlsx:survey!B12: name 'q7' is used twice (first in row 7)",
        "bad.xlsx:survey!A13: type 'select_one yn or_other': 'or_other' adds a free-text Other",
        "bad.xlsx:survey!A15: type 'end repeat': repeats are not supported",
        "bad.xlsx:survey!D8: relevant `${q7} = 'maybe' or ${nope} = 'x'` at column 9: 'maybe' is not a choice name of ${q7} (choices: yes, no)",
        "bad.xlsx:survey!E9: a constraint is read only on integer questions",
        "bad.xlsx:survey!A10: an integer question needs a constraint giving its range; write it as . >= MIN and . <= MAX",
        "bad.xlsx:survey!D14: relevant `${q10} + 1 > 3` at column 8: arithmetic is not supported",
    ]
    for start in expected:
        assert any(line.startswith(f"error: {tmp_path / start}") for line in errors), f"missing: {start}\n" + "\n".join(errors)
    assert errors[-1] == f"error: {form}: {len(errors) - 1} problems; nothing was written"
    assert not out.exists()


@pytest.mark.parametrize(("relevant", "message"), [
    ("${q1} = 'yes' and", "at column 18: the expression ends too early"),
    ("${q1} = 'yes", "at column 9: the string starting here has no closing '"),
    ("${q1} = 'yes' AND ${q1} = 'no'", "at column 15: operators are lowercase: and"),
    ("/data/q1 = 'yes'", "at column 1: paths such as /data/q are not supported; write ${q}"),
    ("position(..) > 1", "at column 1: function position() is not supported"),
    ("${q1}", "at column 1: ${q1} alone is not a condition; compare it, e.g. ${q1} = 'yes'"),
    ("${q1} = ''", "tests for no answer, which a rule cannot"),
    ("${q1} < 'yes'", "is a select_one question; compare it with = or !=, not <"),
    ("count-selected(${q1}) > 0", "count-selected() needs a select_multiple question; ${q1} is yes_no"),
    ("${intro} = 'x'", "${intro} is a note, not a question; relevant reads answers"),
    ("${q1} = 'yes' = 'no'", "chained comparisons are not supported"),
    ("(" * 60 + "${q1} = 'yes'" + ")" * 60, "nested more than 50 levels deep"),
])
def test_a_relevant_outside_the_subset_is_refused_at_its_cell_and_column(tmp_path, capsys, relevant, message):
    survey = [["type", "name", "label", "relevant"],
              ["note", "intro", "Intro", None],
              ["select_one yn", "q1", "First", None],
              ["text", "q2", "Second", relevant]]
    form = write_xlsform(tmp_path / "f.xlsx", survey, [CHOICES_HEADER, *YN])
    assert run("rubric", "import", str(form), "-o", str(tmp_path / "out.yaml")) == 1
    errors = errors_of(capsys)
    assert errors[0].startswith(f"error: {form}:survey!D4: relevant `"), errors
    assert message in errors[0]
    assert len(errors) == 2


def test_cycles_and_group_rules_reading_their_own_questions_are_located(tmp_path, capsys):
    survey = [["type", "name", "label", "relevant"],
              ["begin group", "g", "G", "${a} = 'yes'"],
              ["select_one yn", "a", "A", None],
              ["end group", None, None, None],
              ["select_one yn", "b", "B", "${c} = 'yes'"],
              ["select_one yn", "c", "C", "${b} = 'yes'"],
              ["select_one yn", "d", "D", "${d} = 'yes'"]]
    form = write_xlsform(tmp_path / "f.xlsx", survey, [CHOICES_HEADER, *YN])
    assert run("rubric", "import", str(form), "-o", str(tmp_path / "o.yaml")) == 1
    errors = errors_of(capsys)
    assert errors[0].startswith("error: ") and any("survey!D2: group 'g': relevant reads ${a}, a question inside the group" in e for e in errors)
    assert any("survey!D7: relevant `${d} = 'yes'` at column 1: reads ${d} itself" in e for e in errors)
    # fix those two; the b <-> c cycle is found by the rubric loader and still reported at a relevant cell
    survey[1][3] = None
    survey[6][3] = None
    write_xlsform(form, survey, [CHOICES_HEADER, *YN])
    assert run("rubric", "import", str(form), "-o", str(tmp_path / "o.yaml")) == 1
    errors = errors_of(capsys)
    assert any(e.startswith(f"error: {form}:survey!D5: question 'b': rules depend on each other in a cycle: b -> c -> b") for e in errors), errors


def test_choices_and_settings_problems_are_located(tmp_path, capsys):
    choices = [["list_name", "name", "label", "counts", "image"],
               ["yn", "yes", "Yes", None, None],
               ["yn", "yes", "Yes again", None, None],
               ["yn", "n o", "No", None, None],
               ["yn", "maybe", "YES", None, None],
               ["yn", "never", "Never", "sometimes", None],
               [None, "orphan", "Orphan", None, None],
               ["one", "only", "Only", None, "only.png"]]
    survey = [["type", "name", "label"], ["select_one yn", "q1", "Q1"], ["select_one one", "q2", "Q2"]]
    settings = [["form_id", "form_title"], ["My Form", "T"]]
    form = write_xlsform(tmp_path / "f.xlsx", survey, choices, settings)
    assert run("rubric", "import", str(form), "-o", str(tmp_path / "o.yaml")) == 1
    errors = errors_of(capsys)
    for start in [
        "f.xlsx:choices!E8: choices column 'image' is not supported",
        "f.xlsx:choices!B3: choice 'yes' appears twice in list 'yn' (first in row 2)",
        "f.xlsx:choices!B4: choice name 'n o' must be letters, digits, _ . or -",
        "f.xlsx:choices!C5: choices 'yes' and 'maybe' of list 'yn' have the same label",
        "f.xlsx:choices!D6: counts is 'sometimes'",
        "f.xlsx:choices!A7: choice has no list_name",
        "f.xlsx:settings: settings has no version",
        "f.xlsx:settings!A2: form_id 'My Form' must be lowercase letters, digits, _ . or -, starting with a letter or digit (e.g. my-form)",
        "f.xlsx:survey!A3: list 'one' has 1 choice; a question needs at least two",
    ]:
        assert any(line.startswith(f"error: {tmp_path / start}") for line in errors), f"missing: {start}\n" + "\n".join(errors)


def test_invisible_characters_in_a_cell_never_reach_the_terminal(tmp_path, capsys):
    # an xlsx cannot hold most control characters, but bidi overrides and zero-width characters are legal XML
    survey = [["type", "name", "label", "relevant"], ["text", "bad\u202ename", "Label", None],
              ["text", "q2", "Q2", "${q\u200b1} = 'x'"]]
    form = write_xlsform(tmp_path / "f.xlsx", survey)
    assert run("rubric", "import", str(form), "-o", str(tmp_path / "o.yaml")) == 1
    err = capsys.readouterr().err
    assert "\u202e" not in err and "\u200b" not in err
    assert "bad\\u202ename" in err and "q\\u200b1" in err


# --- files that are not forms ----------------------------------------------------------------------


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@pytest.mark.parametrize(("make", "message"), [
    (lambda p: p.write_text("type,name,label\ntext,q1,Q\n"), "is not an .xlsx workbook; save the form as .xlsx"),
    (lambda p: p.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600)), "is an old-style .xls workbook"),
    (lambda p: p.write_bytes(b""), "is not an .xlsx workbook"),
    (lambda p: _zip(p, {"hello.txt": b"hi"}), "is a zip file but not an .xlsx workbook"),
    (lambda p: p.write_bytes(b"PK\x03\x04" + bytes(100)), "is a damaged .xlsx file"),
    (lambda p: _zip(p, {"xl/workbook.xml": b"<not-a-workbook/>"}), "cannot be read as an .xlsx workbook"),
    (lambda p: write_xlsform(p, [["type", "name", "label"]]), "survey!A1: the survey sheet has no questions"),
])
def test_a_file_that_is_not_a_form_gets_one_line(tmp_path, capsys, make, message):
    path = tmp_path / "form.xlsx"
    make(path)
    code = run("rubric", "import", str(path), "-o", str(tmp_path / "o.yaml"))
    err = capsys.readouterr().err
    assert code == 1
    first = err.splitlines()[0]
    assert first.startswith(f"error: {path}") and message in first, err
    assert "Traceback" not in err


def test_missing_sheets_and_folders(tmp_path, capsys):
    no_survey = write_xlsform(tmp_path / "a.xlsx", None, [CHOICES_HEADER, *YN])
    assert run("rubric", "import", str(no_survey), "-o", str(tmp_path / "o.yaml")) == 1
    assert capsys.readouterr().err == f"error: {no_survey}: has no 'survey' sheet; an XLSForm lists its questions on a sheet named survey\n"
    no_settings = write_xlsform(tmp_path / "b.xlsx", [["type", "name", "label"], ["text", "q", "Q"]], settings=None)
    assert run("rubric", "import", str(no_settings), "-o", str(tmp_path / "o.yaml")) == 1
    assert "no settings row; add a settings sheet with form_id, form_title and version" in capsys.readouterr().err
    assert run("rubric", "import", str(tmp_path / "missing.xlsx"), "-o", str(tmp_path / "o.yaml")) == 1
    assert "missing.xlsx: file not found" in capsys.readouterr().err
    assert run("rubric", "import", str(tmp_path), "-o", str(tmp_path / "o.yaml")) in (1, 2)
    ok = write_xlsform(tmp_path / "c.xlsx", [["type", "name", "label"], ["text", "q", "Q"]])
    assert run("rubric", "import", str(ok), "-o", str(tmp_path / "nofolder" / "o.yaml")) == 1
    assert "folder" in capsys.readouterr().err


def test_huge_sheets_and_files_are_refused_before_they_are_read(tmp_path, capsys, monkeypatch):
    rows = [["type", "name", "label"]] + [["text", f"q{i}", f"Q{i}"] for i in range(30)]
    form = write_xlsform(tmp_path / "f.xlsx", rows)
    monkeypatch.setitem(workbook_module.MAX_ROWS, "survey", 20)
    assert run("rubric", "import", str(form), "-o", str(tmp_path / "o.yaml")) == 1
    assert f"error: {form}:survey: has more than 20 rows" in capsys.readouterr().err
    monkeypatch.setattr(workbook_module, "MAX_UNPACKED_BYTES", 1000)
    assert run("rubric", "import", str(form), "-o", str(tmp_path / "o.yaml")) == 1
    assert "far more than any XLSForm" in capsys.readouterr().err
    monkeypatch.setattr(workbook_module, "MAX_FILE_BYTES", 100)
    assert run("rubric", "import", str(form), "-o", str(tmp_path / "o.yaml")) == 1
    assert "an XLSForm is far smaller" in capsys.readouterr().err


def test_content_where_odk_stops_reading_is_refused(tmp_path, capsys):
    rows = [["type", "name", "label"], ["text", "q1", "Q1"]] + [[None, None, None]] * 61 + [["text", "q2", "Q2"]]
    form = write_xlsform(tmp_path / "f.xlsx", rows)
    assert run("rubric", "import", str(form), "-o", str(tmp_path / "o.yaml")) == 1
    assert f"error: {form}:survey!A64: row 64 comes after 61 empty rows, where ODK tools stop reading" in capsys.readouterr().err


def test_export_refuses_what_xlsform_cannot_say_and_names_the_line(tmp_path, capsys):
    path = tmp_path / "r.yaml"
    path.write_text(
        "id: r\nversion: 1\ntitle: T\nsections:\n  - id: s\n    title: S\n    questions:\n"
        "      - {id: a, type: text, text: A}\n"
        "      - id: b\n        type: text\n        text: B\n        applies_if: a == \"it's \\\"both\\\"\"\n"
        "      - {id: c, type: text, text: C, applies_if: a == \"\"}\n"
    )
    assert run("rubric", "export", str(path), "-o", str(tmp_path / "f.xlsx")) == 1
    errors = errors_of(capsys)
    assert errors[0].startswith(f"error: {path}:12: question 'b': rule `a == \"it's \\\"both\\\"\"`: the text")
    assert "holds both ' and \", which an XLSForm expression cannot quote" in errors[0]
    assert errors[1].startswith(f"error: {path}:13: question 'c': rule `a == \"\"`: `a == \"\"` compares with empty text")
    assert not (tmp_path / "f.xlsx").exists()


def test_output_suffixes_are_checked(tmp_path, capsys):
    assert run("rubric", "export", "iom-thematic-2019", "-o", str(tmp_path / "f.xls")) == 1
    assert "an XLSForm is written to a file ending in .xlsx" in capsys.readouterr().err
    assert run("rubric", "export", "no-such-rubric", "-o", str(tmp_path / "f.xlsx")) == 1
    assert "no rubric with id 'no-such-rubric'" in capsys.readouterr().err


def test_every_question_type_has_a_way_through(tmp_path):
    """Each rubric type is written and read back as itself."""
    questions = "\n".join(
        f"      - {{id: q_{kind}, type: {kind}, text: {kind}"
        + (", options: {a: A, b: B}" if kind in ("single", "multi") else "")
        + (", range: [0, 9]" if kind == "integer" else "") + "}"
        for kind in QUESTION_TYPES
    )
    path = tmp_path / "r.yaml"
    path.write_text(f"id: r\nversion: 1\ntitle: T\nsections:\n  - id: s\n    title: S\n    questions:\n{questions}\n")
    assert run("rubric", "export", str(path), "-o", str(tmp_path / "f.xlsx")) == 0
    back = import_form(tmp_path / "f.xlsx").rubric
    assert [q.type for q in back.questions] == list(QUESTION_TYPES)


# --- fuzz: whatever the file holds, one located line per problem and never a traceback ------------------

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
CELL = st.one_of(st.none(), st.integers(-3, 3), st.booleans(), st.sampled_from([
    "text", "integer", "select_one yn", "select_multiple yn", "begin group", "end group", "note", "date", "calculate",
    "q1", "q2", "g", "yes", "no", "${q1} = 'yes'", "selected(${q2}, 'no')", ". >= 0 and . <= 9", "count-selected(${q2}) > 1",
    "Label", "", "  ", "label::fr", "=1+1", "\u202e", "${", "'", "(", "not(", "yn",
]))


@FUZZ
@given(st.binary(max_size=300), st.sampled_from([b"", b"PK\x03\x04", b"\xd0\xcf\x11\xe0"]))
def test_random_bytes_are_refused_in_one_line(tmp_path, data, head):
    path = tmp_path / "fuzz.xlsx"
    path.write_bytes(head + data)
    assert main(["rubric", "import", str(path), "-o", str(tmp_path / "o.yaml")]) == 1
    assert not (tmp_path / "o.yaml").exists()


@FUZZ
@given(survey=st.lists(st.lists(CELL, min_size=4, max_size=4), max_size=8), choices=st.lists(st.lists(CELL, min_size=3, max_size=3), max_size=5))
def test_random_cells_import_or_are_refused_cell_by_cell(tmp_path, capsys, survey, choices):
    path = write_xlsform(tmp_path / "fuzz.xlsx", [["type", "name", "label", "relevant"], *survey],
                         [CHOICES_HEADER, *YN, *choices])
    code = main(["rubric", "import", str(path), "-o", str(tmp_path / "o.yaml")])
    err = capsys.readouterr().err
    assert "Traceback" not in err and "internal error" not in err
    if code == 0:
        assert main(["rubric", "check", str(tmp_path / "o.yaml")]) == 0
    else:
        assert code == 1
        assert all(line.startswith(f"error: {path}") for line in err.splitlines() if line.startswith("error"))
