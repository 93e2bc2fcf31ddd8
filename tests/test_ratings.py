"""Rating schemes (ratings/*.yaml) and ratings computed from counted answers."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.cli import main
from audit.demo import write_demo
from audit.errors import AuditError, Problems
from audit.ratings import load_scheme, parse_scheme, rate_counts, rate_standard
from tests.test_regression import run

PROJECT = Path(__file__).resolve().parents[1]
SCHEME_PATH = PROJECT / "ratings" / "hmip-2018.yaml"
CASE_STANDARDS = {
    "2.1": ("Assessment", ["assessment_engaging", "assessment_desistance", "assessment_safety"]),
    "2.2": ("Planning", ["planning_engaging", "planning_reoffending", "planning_safety"]),
    "2.3": ("Implementation and delivery", ["delivery_engaging", "delivery_desistance", "delivery_safety"]),
    "2.4": ("Reviewing", ["review_compliance", "review_desistance", "review_safety"]),
}
JUDGED = ["1.1", "1.2", "1.3", "1.4", "3.1", "3.2"]


@pytest.fixture(scope="module")
def scheme():
    return load_scheme(SCHEME_PATH)


def standard(scheme, standard_id):
    return scheme.standard(standard_id)


def counts_for(standard_id: str, *pairs: tuple[int, int]) -> dict[str, tuple[int, int]]:
    return dict(zip(CASE_STANDARDS[standard_id][1], pairs))


# --- the shipped scheme --------------------------------------------------------------------


def test_the_shipped_scheme_is_the_2018_rules(scheme):
    text = SCHEME_PATH.read_text()
    assert "HM Inspectorate of Probation" in text and "2018 to 2021" in text  # the cited source
    assert scheme.rubric == "hmip-core-2018"
    assert [(r.label, r.score) for r in scheme.ratings] == [
        ("Inadequate", 0), ("Requires improvement", 1), ("Good", 2), ("Outstanding", 3)]
    assert [(b.from_, b.rating) for b in scheme.percent_bands] == [
        (0, "inadequate"), (50, "requires_improvement"), (65, "good"), (80, "outstanding")]
    assert [(b.from_, b.rating) for b in scheme.overall_bands] == [
        (0, "inadequate"), (6, "requires_improvement"), (16, "good"), (26, "outstanding")]
    by_id = {s.id: s for s in scheme.standards}
    for standard_id, (title, questions) in CASE_STANDARDS.items():
        assert (by_id[standard_id].title, list(by_id[standard_id].key_questions)) == (title, questions)
    assert [s.id for s in scheme.standards if s.judged] == JUDGED
    assert scheme.max_total == 30
    assert scheme.describe_bands() == "under 50% Inadequate; 50-64% Requires improvement; 65-79% Good; 80% and over Outstanding"


def test_audit_ratings_check_accepts_every_shipped_scheme(capsys):
    files = sorted(str(p) for p in (PROJECT / "ratings").glob("*.yaml"))
    assert main(["ratings", "check", *files]) == 0
    assert "ok, rating scheme 'hmip-2018' for rubric hmip-core-2018 (10 standards)" in capsys.readouterr().out


# --- rating a standard ---------------------------------------------------------------------


@pytest.mark.parametrize("count, base, whole, rating", [
    (99, 200, 50, "Requires improvement"),   # 49.5% is published as 50%
    (247, 500, 49, "Inadequate"),            # 49.4% is 49%
    (98, 200, 49, "Inadequate"),
    (129, 200, 65, "Good"),                  # 64.5% -> 65%
    (321, 500, 64, "Requires improvement"),  # 64.2%
    (159, 200, 80, "Outstanding"),           # 79.5% -> 80%
    (397, 500, 79, "Good"),                  # 79.4%
    (0, 40, 0, "Inadequate"),
    (40, 40, 100, "Outstanding"),
])
def test_boundaries_apply_to_the_published_whole_percentage(scheme, count, base, whole, rating):
    result = rate_standard(scheme, standard(scheme, "2.1"), counts_for("2.1", (count, base), (base, base), (base, base)))
    assert (result.percent, result.rating.label) == (whole, rating)


def test_the_lowest_key_question_decides(scheme):
    result = rate_standard(scheme, standard(scheme, "2.2"), counts_for("2.2", (90, 100), (60, 100), (85, 100)))
    assert result.rating.label == "Requires improvement" and result.percent == 60
    assert [q.lowest for q in result.questions] == [False, True, False]
    assert result.lowest.question_id == "planning_reoffending"
    # an exact tie marks both; the rating is the same
    tied = rate_standard(scheme, standard(scheme, "2.2"), counts_for("2.2", (30, 40), (60, 80), (85, 100)))
    assert [q.lowest for q in tied.questions] == [True, True, False] and tied.rating.label == "Good"


def test_a_key_question_without_answers_is_left_out_and_said(scheme):
    result = rate_standard(scheme, standard(scheme, "2.4"), counts_for("2.4", (90, 100), (70, 100), (0, 0)))
    assert result.rating.label == "Good" and "no counted answers to review_safety" in result.note
    nothing = rate_standard(scheme, standard(scheme, "2.4"), {})
    assert nothing.rating is None


def test_small_bases_carry_a_caution_and_the_bands_their_interval_spans(scheme):
    result = rate_standard(scheme, standard(scheme, "2.1"), counts_for("2.1", (9, 12), (11, 12), (12, 12)))
    assert result.rating.label == "Good"  # 75%
    assert result.band_range[0].label == "Inadequate" and result.band_range[1].label == "Outstanding"
    assert result.caution.startswith("small base (assessment_engaging 12, assessment_desistance 12, assessment_safety 12 cases, under 20)")
    assert "spans Inadequate to Outstanding" in result.caution
    large = rate_standard(scheme, standard(scheme, "2.1"), counts_for("2.1", (900, 1200), (1100, 1200), (1200, 1200)))
    assert large.caution == "" and large.band_range[0] == large.band_range[1] == large.rating


# --- aggregation and judgements ------------------------------------------------------------


def case_counts(percentages: dict[str, int]) -> dict[str, tuple[int, int]]:
    return {q: (percentages[s], 100) for s, (_, questions) in CASE_STANDARDS.items() for q in questions}


@pytest.mark.parametrize("scores, overall", [
    ([0] * 10, "Inadequate"), ([1] * 5 + [0] * 5, "Inadequate"), ([1] * 6 + [0] * 4, "Requires improvement"),
    ([2] * 5 + [1] * 5, "Requires improvement"), ([2] * 6 + [1] * 4, "Good"), ([3] * 5 + [2] * 5, "Good"),
    ([3] * 6 + [2] * 4, "Outstanding"), ([3] * 10, "Outstanding"),
])
def test_overall_bands_of_the_total(scheme, scores, overall):
    percent_for = {0: 40, 1: 55, 2: 70, 3: 90}
    labels = {0: "inadequate", 1: "requires_improvement", 2: "good", 3: "outstanding"}
    case_scores, judged_scores = scores[:4], scores[4:]
    result = rate_counts(scheme, case_counts(dict(zip(CASE_STANDARDS, (percent_for[s] for s in case_scores)))),
                         judgements={s: labels[v] for s, v in zip(JUDGED, judged_scores)})
    assert [r.rating.score for r in result.standards if not r.judged] == case_scores
    assert result.total == sum(scores) and result.overall.label == overall


def test_no_overall_rating_until_every_judgement_is_given(scheme):
    counts = case_counts({"2.1": 70, "2.2": 70, "2.3": 70, "2.4": 70})
    partial = rate_counts(scheme, counts, judgements={"1.1": "Good", "1.2": "outstanding"})
    assert partial.overall is None and partial.unrated == ("1.3", "1.4", "3.1", "3.2")
    assert [r.rating.label for r in partial.standards[:2]] == ["Good", "Outstanding"]  # labels or ids, any case


@pytest.mark.parametrize("judgements, message", [
    ({"2.1": "good"}, "judgement for '2.1': Assessment is rated from its key questions, not by judgement"),
    ({"1.9": "good"}, "judgement for '1.9': no such standard in hmip-2018"),
    ({"1.1": "excellent"}, "judgement for '1.1': 'excellent' is not a rating"),
])
def test_bad_judgements_are_refused(scheme, judgements, message):
    with pytest.raises(AuditError, match=message.replace("(", r"\(").replace(")", r"\)")):
        rate_counts(scheme, {}, judgements=judgements)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 60), st.integers(1, 60)), min_size=12, max_size=12),
    st.integers(0, 11), st.integers(1, 60),
    st.lists(st.sampled_from(["inadequate", "requires_improvement", "good", "outstanding"]), min_size=6, max_size=6),
)
def test_raising_a_key_question_never_lowers_a_rating(scheme, cells, which, extra, judged):
    questions = [q for _, qs in CASE_STANDARDS.values() for q in qs]
    counts = {q: (min(count, base), base) for q, (count, base) in zip(questions, cells)}
    before = rate_counts(scheme, counts, judgements=dict(zip(JUDGED, judged)))
    count, base = counts[questions[which]]
    raised = dict(counts)
    raised[questions[which]] = (min(base, count + extra), base)
    after = rate_counts(scheme, raised, judgements=dict(zip(JUDGED, judged)))
    for one, other in zip(before.standards, after.standards):
        assert other.rating.score >= one.rating.score
    assert after.total >= before.total and after.overall.score >= before.overall.score


# --- located errors in a scheme ------------------------------------------------------------


def scheme_text(**changes: str) -> str:
    text = SCHEME_PATH.read_text()
    for old, new in changes.items():
        old = old.replace("__", " ")
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def problems(text: str) -> list[str]:
    with pytest.raises(Problems) as caught:
        parse_scheme(text, "s.yaml")
    return [str(p) for p in caught.value.problems]


def line_of(text: str, fragment: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


@pytest.mark.parametrize("old, new, where, message", [
    ("caution_below: 20", "caution_belw: 20", "caution_belw", "unknown key 'caution_belw' (did you mean 'caution_below'?)"),
    ("{from: 65, rating: good}", "{from: 65, rating: godo}", "rating: godo", "percent_bands: unknown rating 'godo' (did you mean 'good'?)"),
    ("{from: 65, rating: good}", "{from: 45, rating: good}", "from: 45", "percent_bands: bands must be listed by rising 'from' (45 follows 50)"),
    ("{from: 80, rating: outstanding}", "{from: 80, rating: inadequate}", "from: 80, rating: inadequate",
     "percent_bands: 'inadequate' from 80 is worse than 'good' below it; a higher percentage must never give a lower rating"),
    ("{from: 80, rating: outstanding}", "{from: 101, rating: outstanding}", "from: 101", "above the highest possible percentage (100)"),
    ("{from: 26, rating: outstanding}", "{from: 31, rating: outstanding}", "from: 31", "above the highest possible total (30)"),
    ("  - {from: 0, rating: inadequate}\n  - {from: 50", "  - {from: 10, rating: inadequate}\n  - {from: 50", "from: 10",
     "percent_bands: the first band must start from 0"),
    ("[assessment_engaging, assessment_desistance", "[assessment_engagin, assessment_desistance", "assessment_engagin",
     "standard '2.1': no question 'assessment_engagin' in rubric hmip-core-2018 (did you mean 'assessment_engaging'?)"),
    ("[planning_engaging, planning_reoffending, planning_safety]", "[planning_engaging, principal_offence]", "principal_offence",
     "standard '2.2': key question 'principal_offence' is a single question; key questions are yes/no questions"),
    ("title: Leadership, domain: Organisational delivery, judged: true", "title: Leadership, domain: Organisational delivery",
     "title: Leadership", "standard '1.1': give either key_questions (rated from the cases) or judged: true"),
    ("rubric: hmip-core-2018", "rubric: hmip-core-2081", "rubric: hmip", "rubric 'hmip-core-2081': no rubric with id 'hmip-core-2081'"),
    ("{id: good, label: Good, score: 2}", "{id: good, label: Good, score: 0}", "score: 0}\n", "rating 'good': scores must rise"),
])
def test_scheme_errors_are_located(old, new, where, message):
    text = scheme_text(**{old: new})
    found = problems(text)
    assert any(p.startswith(f"s.yaml:{line_of(text, where) if not where.endswith(chr(10)) else line_of(text, new)}:") and message in p
               for p in found), found


def test_a_scheme_file_that_is_not_one(tmp_path, capsys):
    big = tmp_path / "big.yaml"
    big.write_bytes(b"# " + b"x" * 1_100_000 + b"\n")
    binary = tmp_path / "latin1.yaml"
    binary.write_bytes("id: caf\xe9\n".encode("latin-1"))
    broken = tmp_path / "broken.yaml"
    broken.write_text("id: [unclosed\n")
    assert main(["ratings", "check", str(big), str(binary), str(broken), str(tmp_path / "missing.yaml")]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err[0] == f"error: {big}: is 1,100,003 bytes; a rating scheme is at most 1,000,000; check the path"
    assert err[1] == f"error: {binary}:1: is not UTF-8 text; save it as UTF-8"
    assert err[2].startswith(f"error: {broken}:2: YAML syntax error")  # the unclosed [ is found at the end
    assert err[3] == f"error: {tmp_path / 'missing.yaml'}: file not found; check the path"


# --- the command on real data --------------------------------------------------------------


@pytest.fixture(scope="module")
def core_db(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("ratings")
    write_demo(folder)
    return folder / "core.db"


def test_ratings_of_the_demo_core_programme(core_db, tmp_path):
    out = tmp_path / "ratings.csv"
    result = run("ratings", str(core_db), "--scheme", str(SCHEME_PATH), "--ci", "-o", str(out))
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "(a whole number, rounded half up): under 50% Inadequate; 50-64% Requires improvement;" in text
    assert "  2.1 Assessment" in text and "> assessment_safety" in text and "lowest" in text
    assert "95% CI" in text and "the interval of the lowest spans:" in text
    assert "Overall: not rated (1.1, 1.2, 1.3, 1.4, 3.1, 3.2 are rated by judgement" in text
    with open(out, newline="", encoding="utf-8-sig") as handle:
        rows = list(csv.DictReader(handle))
    safety = next(r for r in rows if r["question"] == "assessment_safety")
    count, base = int(safety["count"]), int(safety["base"])
    assert base > 3000 and safety["lowest"] == "yes"
    assert float(safety["ci_low"]) < count / base < float(safety["ci_high"])
    standard_row = next(r for r in rows if r["standard"] == "2.1" and not r["question"])
    assert standard_row["percent"] == safety["percent"]
    expected = "Requires improvement" if 50 <= int(safety["percent"]) < 65 else None
    assert standard_row["rating"] == expected


def test_ratings_by_site_with_judgements(core_db):
    judgements = [f"--judgement={s}=good" for s in JUDGED]
    result = run("ratings", str(core_db), "--scheme", str(SCHEME_PATH), "--by", "site", *judgements)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("Overall: ") == 28  # one per CRC and NPS division
    assert "Site crc_bench (" in result.stdout and "Site nps_wales (" in result.stdout
    assert "Overall: not rated" not in result.stdout


def test_a_small_site_is_rated_with_a_caution(tmp_path):
    cases = [{"case_ref": f"S{i:02d}", "site": "tiny", "answers": {
        "iom_status": "yes", **{q: ("yes" if i < 10 else "no") for _, qs in CASE_STANDARDS.values() for q in qs}}}
        for i in range(12)]
    source = tmp_path / "tiny.jsonl"
    source.write_text("".join(json.dumps(c) + "\n" for c in cases))
    db = tmp_path / "tiny.db"
    assert run("import", str(db), str(source), "--rubric", "hmip-core-2018").returncode == 0
    result = run("ratings", str(db), "--scheme", str(SCHEME_PATH))
    assert result.returncode == 0, result.stderr
    assert "2.1 Assessment" in result.stdout and "Outstanding (lowest 83%)" in result.stdout
    assert "caution: small base" in result.stdout and "interval spans Requires improvement to Outstanding" in result.stdout


@pytest.mark.parametrize("args, message", [
    (["--scheme", "nope.yaml"], "nope.yaml: file not found"),
    (["--scheme", str(SCHEME_PATH), "--judgement", "1.1"], "--judgement '1.1': write STANDARD=RATING"),
    (["--scheme", str(SCHEME_PATH), "--judgement", "2.1=good"], "2.1': Assessment is rated from its key questions"),
    (["--scheme", str(SCHEME_PATH), "-o", "r.xlsx"], "r.xlsx: write the ratings as .csv"),
])
def test_bad_requests_are_one_line(core_db, tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    assert main(["ratings", str(core_db), *args]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1


def test_a_scheme_for_another_rubric_is_refused(tmp_path, capsys):
    thematic = tmp_path / "t"
    write_demo(thematic)
    assert main(["ratings", str(thematic / "thematic.db"), "--scheme", str(SCHEME_PATH)]) == 1
    assert "rates rubric hmip-core-2018, but" in capsys.readouterr().err
