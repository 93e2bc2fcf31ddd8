"""XLSForm round trips and agreement with pyxform, the reference XLSForm converter.

* export -> import gives a rubric that evaluates identically (hypothesis, over
  generated rubrics and answer sets);
* every form `rubric export` writes converts with pyxform without a warning;
* for forms pyxform accepts, our reading of names, types, labels, hints,
  choices, required and relevant agrees with pyxform's JSON.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pyxform.errors import PyXFormError
from pyxform.parsing.sheet_headers import clean_text_values
from pyxform.xls2xform import convert

from audit.counting import count_case
from audit.engine import evaluate
from audit.rubric import Rubric, load_rubric_by_id
from audit.xlsform.reader import YES, FormGroup, import_form, read_form
from audit.xlsform.writer import write_form
from tests.rubric_strategies import answer_sets, rubrics
from tests.xlsform_support import write_xlsform

PROPERTY = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def exported(rubric: Rubric, folder: str) -> Path:
    path = Path(folder) / "form.xlsx"
    write_form(rubric, path)
    return path


def structure(rubric: Rubric) -> dict[str, Any]:
    """Everything but the rules' wording (rules are compared by what they decide)."""
    return rubric.model_dump(exclude={"sections": {"__all__": {"applies_if": True, "questions": {"__all__": {"applies_if"}}}}})


@PROPERTY
@given(rubric=rubrics(), data=st.data())
def test_export_then_import_evaluates_identically(rubric, data):
    with tempfile.TemporaryDirectory() as folder:
        back = import_form(exported(rubric, folder)).rubric
    assert structure(back) == structure(rubric)
    assert [(q.id, q.section_id) for q in back.questions] == [(q.id, q.section_id) for q in rubric.questions]
    for _ in range(8):
        answers = data.draw(answer_sets(rubric))
        original, again = count_case(rubric, answers), count_case(back, answers)
        assert again.evaluation.applicable == original.evaluation.applicable, (answers, [q.applies_if for q in back.questions])
        assert again.counted == original.counted


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(rubric=rubrics())
def test_every_exported_form_converts_cleanly_with_pyxform(rubric):
    with tempfile.TemporaryDirectory() as folder:
        path = exported(rubric, folder)
        result = convert(str(path))
        assert result.warnings == []
        assert_reading_agrees(path, result._pyxform)


@pytest.mark.parametrize("rubric_id", ["iom-thematic-2019", "hmip-core-2018"])
def test_the_shipped_forms_convert_cleanly_with_pyxform(rubric_id):
    path = Path(__file__).resolve().parent.parent / "rubrics" / "xlsform" / f"{rubric_id}.xlsx"
    result = convert(str(path))
    assert result.warnings == []
    assert_reading_agrees(path, result._pyxform)
    # and every question is in the XForm, with its rule
    rubric = load_rubric_by_id(rubric_id)
    for question in rubric.questions:
        assert f"/{question.id}\"" in result.xform


# --- our reading against pyxform's ------------------------------------------------------------------

PYXFORM_TYPES = {"select_one": "select one", "select_multiple": "select all that apply"}


def _label(value: Any) -> str:
    if isinstance(value, dict):  # a form with one language: {"English (en)": "..."}
        (value,) = value.values()
    return value or ""


def _as_pyxform_shows(text: str) -> str:
    """pyxform straightens curly quotes and runs of spaces in labels and hints; audit keeps them as written."""
    return clean_text_values(text, strip_whitespace=True)


def ours(form) -> list:
    def walk(children) -> list:
        out = []
        for child in children:
            if isinstance(child, FormGroup):
                out.append(("group", child.name, _as_pyxform_shows(child.label), _as_pyxform_shows(child.hint),
                            child.relevant, walk(child.children)))
                continue
            choices = [(c.name, _as_pyxform_shows(c.label)) for c in form.choices[child.list_name]] if child.list_name else []
            out.append((PYXFORM_TYPES.get(child.kind, child.kind), child.name, _as_pyxform_shows(child.label),
                        _as_pyxform_shows(child.hint), child.relevant,
                        child.required.lower() in YES, child.constraint, choices))
        return out

    return walk(form.children)


def theirs(pyxform_json: dict) -> list:
    def walk(children) -> list:
        out = []
        for child in children:
            if child.get("name") == "meta" or child["type"] in ("start", "end", "today", "deviceid", "username"):
                continue
            bind = child.get("bind", {})
            if child["type"] == "group":
                out.append(("group", child["name"], _label(child.get("label")), _label(child.get("hint")),
                            bind.get("relevant", ""), walk(child.get("children", []))))
                continue
            choices = [(c["name"], _label(c.get("label"))) for c in child.get("choices", [])]
            required = str(bind.get("required", "")).lower() in YES
            out.append((child["type"], child["name"], _label(child.get("label")), _label(child.get("hint")),
                        bind.get("relevant", ""), required, bind.get("constraint", ""), choices))
        return out

    return walk(pyxform_json["children"])


def assert_reading_agrees(path: Path, pyxform_json: dict) -> None:
    form = read_form(path)
    assert form.problems == []
    assert ours(form) == theirs(pyxform_json)
    assert form.settings["form_id"].value == pyxform_json["id_string"]
    assert form.settings["form_title"].value == pyxform_json["title"]
    assert form.settings["version"].value == pyxform_json["version"]


# --- forms written by hand, the way teams write them ---------------------------------------------------

KOBO = dict(
    survey=[
        ["type", "name", "label::English (en)", "hint::English (en)", "required", "relevant", "constraint"],
        ["start", "start", None, None, None, None, None],
        ["note", "intro", "Read the case file first.", None, None, None, None],
        ["select_one site_list", "site_type", "Which kind of site?", None, "true", None, None],
        ["integer", "age", "Age", "In whole years", "yes", None, ". >= 18 and . <= 99"],
        ["begin_group", "history", "History", None, None, "${age} >= 21", None],
        ["select_multiple factor_list", "factors", "Factors", None, "TRUE", None, None],
        ["begin group", "drugs", "Drugs", None, None, "selected( ${factors} , 'drugs' )", None],
        ["select_one yn", "treated", "Treated?", None, "no", "${site_type}=1", None],
        ["end group", None, None, None, None, None, None],
        ["date", "seen", "Last seen", None, "false()", "count-selected(${factors}) >= 2 and not(${treated} = 'no')", None],
        ["end_group", None, None, None, None, None, None],
        ["text", "comments", "Comments", "Anything\nelse", None, "${seen} > date(‘2019-01-01’) or ${age}>30", None],
    ],
    choices=[
        ["list_name", "name", "label::English (en)"],
        ["site_list", 1, "Urban"], ["site_list", 2, "Rural"],
        ["factor_list", "drugs", "Drug misuse"], ["factor_list", "alcohol", "Alcohol"], ["factor_list", "other", "Other"],
        ["yn", "yes", "Yes"], ["yn", "no", "No"],
    ],
    settings=[["form_title", "form_id", "version", "default_language"], ["Kobo audit", "kobo_audit", "2024061201", "English (en)"]],
)

ODK = dict(
    survey=[
        ["type", "name", "label", "hint", "required", "relevant", "constraint"],
        ["begin group", "case", "The case", "About the person", None, None, None],
        ["select_one sentence", "sentence_type", "Sentence", None, "yes", None, None],
        ["select_one yesno", "on_licence", "On licence?", None, "yes", "${sentence_type} != 'non_statutory'", None],
        ["end group", None, None, None, None, None, None],
        ["begin group", "licence", "Licence", None, None, "${on_licence} = 'yes'", None],
        ["integer", "recalls", "Recalls", None, None, None, ". >= 0 and . <= 20"],
        ["select_one yesno_na", "safety", "Safety", None, None, "${recalls} > 0 or ${sentence_type} = \"post_release\"", None],
        ["end group", None, None, None, None, None, None],
    ],
    choices=[
        ["list_name", "name", "label", "counts"],
        ["sentence", "community", "Community", None], ["sentence", "post_release", "Post-release", None],
        ["sentence", "non_statutory", "Non-statutory", None],
        ["yesno", "yes", "Yes", None], ["yesno", "no", "No", None],
        ["yesno_na", "yes", "Yes", None], ["yesno_na", "no", "No", None], ["yesno_na", "na", "Not applicable", "no"],
    ],
    settings=[["form_id", "form_title", "version"], ["odk-audit", "ODK audit", "3"]],
)


@pytest.mark.parametrize("form", [KOBO, ODK], ids=["kobo", "odk"])
def test_our_reading_of_hand_written_forms_agrees_with_pyxform(tmp_path, form):
    path = write_xlsform(tmp_path / "form.xlsx", **form)
    result = convert(str(path))
    form_read = read_form(path)
    assert ours(form_read) == theirs(result._pyxform)
    assert form_read.problems == []
    import_form(path)  # and it imports


def test_the_odk_form_means_what_it_says(tmp_path):
    rubric = import_form(write_xlsform(tmp_path / "form.xlsx", **ODK)).rubric
    assert rubric.question("on_licence").type == "yes_no" and rubric.question("safety").type == "yes_no_na"
    assert rubric.sections[1].applies_if == 'on_licence == "yes"'
    assert rubric.question("safety").applies_if == 'recalls > 0 or sentence_type == "post_release"'
    applies = lambda answers: evaluate(rubric, answers).applicable  # noqa: E731
    assert "recalls" in applies({"sentence_type": "community", "on_licence": "yes"})
    assert "recalls" not in applies({"sentence_type": "non_statutory", "on_licence": "yes"})  # on_licence does not apply
    assert "safety" in applies({"sentence_type": "post_release", "on_licence": "yes"})


# --- generated raw forms: whatever pyxform accepts, we read the same way ---------------------------------


@st.composite
def spaced(draw, *parts: str) -> str:
    """Join parts with random (possibly no) spaces, as people type expressions."""
    return "".join(part + draw(st.sampled_from(["", " ", "  "])) for part in parts).strip()


@st.composite
def raw_forms(draw):
    lists = {"yn": [("yes", "Yes"), ("no", "No")], "colour": [("red", "Red"), ("1", "One"), ("x.y", "X Y")]}
    survey = [["type", "name", "label", "hint", "required", "relevant", "constraint"]]
    asked: list[tuple[str, str, str | None]] = []  # (name, kind, list)
    depth = 0
    for index in range(draw(st.integers(1, 10))):
        kind = draw(st.sampled_from(["select_one", "select_multiple", "integer", "text", "date", "note", "begin group", "end group"]))
        if kind == "end group":
            if depth == 0:
                continue
            depth -= 1
            survey.append([draw(st.sampled_from(["end group", "end_group"])), None, None, None, None, None, None])
            continue
        name = f"n{index}"
        relevant = draw(relevant_text(asked)) if asked and draw(st.booleans()) else None
        label = draw(st.sampled_from(["Label", "What is it?", "Café – “quoted”", "A: b"]))
        hint = draw(st.sampled_from([None, "A hint", "Two\nlines"]))
        if kind == "begin group":
            depth += 1
            survey.append([draw(st.sampled_from(["begin group", "begin_group"])), name, label, hint, None, relevant, None])
            continue
        list_name = draw(st.sampled_from(sorted(lists))) if kind.startswith("select") else None
        required = draw(st.sampled_from([None, "yes", "true", "TRUE", "no", "false()"])) if kind != "note" else None
        constraint = ". >= 0 and . <= 100" if kind == "integer" else None
        survey.append([f"{kind} {list_name}" if list_name else kind, name, label, hint, required, relevant, constraint])
        if kind != "note":
            asked.append((name, kind, list_name))
    survey += [["end group", None, None, None, None, None, None]] * depth
    choices = [["list_name", "name", "label"]] + [[ln, n, label] for ln, items in lists.items() for n, label in items]
    return dict(survey=survey, choices=choices, settings=[["form_id", "form_title", "version"], ["gen", "Generated", "1"]])


@st.composite
def relevant_text(draw, asked):
    name, kind, list_name = draw(st.sampled_from(asked))
    ref = f"${{{name}}}"
    if kind == "select_one":
        code = draw(st.sampled_from(["yes", "no"] if list_name == "yn" else ["red", "1", "x.y"]))
        quote = draw(st.sampled_from(["'", '"']))
        text = draw(st.sampled_from([spaced(ref, "=", f"{quote}{code}{quote}"), spaced(ref, "!=", f"{quote}{code}{quote}"),
                                     spaced("selected(", ref, ",", f"'{code}'", ")")]))
    elif kind == "select_multiple":
        code = draw(st.sampled_from(["yes", "no"] if list_name == "yn" else ["red", "1", "x.y"]))
        text = draw(st.sampled_from([spaced("selected(", ref, ",", f"'{code}'", ")"),
                                     spaced("count-selected(", ref, ")", ">", "0")]))
    elif kind == "integer":
        text = spaced(ref, draw(st.sampled_from(["<", "<=", ">", ">=", "=", "!="])), str(draw(st.integers(0, 100))))
    elif kind == "date":
        text = spaced(ref, ">=", "date('2019-01-01')")
    else:
        text = spaced(ref, "!=", "''")
    text = draw(text) if not isinstance(text, str) else text
    if draw(st.integers(0, 3)) == 0:
        text = f"not({text})"
    return text


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(form=raw_forms())
def test_for_generated_forms_pyxform_accepts_our_reading_agrees(form):
    with tempfile.TemporaryDirectory() as folder:
        path = write_xlsform(Path(folder) / "form.xlsx", **form)
        try:
            result = convert(str(path))
        except PyXFormError:
            assume(False)
        form_read = read_form(path)
        assert ours(form_read) == theirs(result._pyxform)
        # a form pyxform accepts is refused by us only with located errors, never a crash
        try:
            import_form(path)
        except Exception as exc:  # noqa: BLE001 - checked just below
            from audit.errors import Problems

            assert isinstance(exc, Problems), repr(exc)
            assert all(p.where.startswith(f"{path}:") for p in exc.problems)
