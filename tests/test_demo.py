"""``audit demo DIR``: two real demo databases, every answer applicable, never overwritten by accident."""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from audit.cli import main
from audit.counting import percent
from audit.demo import yes_count_for
from audit.engine import evaluate
from audit.store import Store

SITES = {"waltham_forest", "sheffield", "stockport", "colwyn_bay", "cumbria", "surrey", "warwickshire"}


def audit_command() -> list[str]:
    script = Path(sys.executable).parent / "audit"
    return [str(script)] if script.exists() else [sys.executable, "-m", "audit.cli"]


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory) -> Path:
    """One demo written by the real console command, into a folder that does not exist yet."""
    folder = tmp_path_factory.mktemp("demo") / "nested" / "demo"
    result = subprocess.run([*audit_command(), "demo", str(folder)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    folder.joinpath("stdout.txt").write_text(result.stdout)
    return folder


def all_cases(store: Store) -> list:
    """The demo's cases, without the moderation copies its quality demo adds (docs/quality.md)."""
    return [case for case in store.list_cases(order_by="case_ref", descending=False, limit=10_000) if case.copy_of is None]


def snapshot(path: Path) -> dict:
    """Every case and every answer row of a database, keyed by site and case reference."""
    with Store.open(path) as store:
        out = {}
        for case in all_cases(store):
            rows = store.answer_rows(case.uuid)
            out[(case.site, case.case_ref)] = (
                case.uuid, case.inspector, case.status, case.rubric_id,
                {qid: (row["value"], row["state"], row["applies"], row["counted"], row["answered_by"]) for qid, row in rows.items()},
            )
        return out


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_writes_both_databases_private_and_says_how_to_open_them(demo_dir):
    for name in ("thematic.db", "core.db", "survey.db"):
        path = demo_dir / name
        assert path.is_file()
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    out = (demo_dir / "stdout.txt").read_text()
    assert f"audit tui {demo_dir}/thematic.db" in out
    export_line = (
        f"audit export iom-thematic-2019 --data thematic={demo_dir}/thematic.db "
        f"--data core={demo_dir}/core.db --data survey={demo_dir}/survey.db -o figures.xlsx"
    )
    assert export_line in out
    # the printed command works from any folder, not only the project's
    elsewhere = demo_dir / "elsewhere"
    elsewhere.mkdir()
    args = export_line.split()[1:]
    args[args.index("figures.xlsx")] = str(elsewhere / "figures.csv")
    ran = subprocess.run([*audit_command(), *args], cwd=elsewhere, capture_output=True, text=True)
    assert ran.returncode == 0, ran.stderr
    assert (elsewhere / "figures.csv").read_text(encoding="utf-8-sig").startswith("figure,title,section,row,column,count,base,percent")
    shutil.rmtree(elsewhere)
    assert not [p for p in demo_dir.iterdir() if p.name.startswith(".")], "temporary files left behind"


def test_thematic_has_60_cases_over_the_seven_sites(demo_dir):
    with Store.open(demo_dir / "thematic.db") as store:
        cases = all_cases(store)
        assert len(cases) == 60
        assert set(store.sites()) == SITES
        assert {case.rubric_id for case in cases} == {"iom-thematic-2019"}
        assert all(case.inspector and case.inspector.isalpha() and len(case.inspector) == 2 for case in cases)
        per_site = {site: sum(1 for case in cases if case.site == site) for site in SITES}
        assert all(8 <= n <= 9 for n in per_site.values()), per_site


def test_core_has_3308_cases(demo_dir):
    with Store.open(demo_dir / "core.db") as store:
        assert store.case_count() == 3308
        assert {r["rubric_id"] for r in store.rubrics()} == {"hmip-core-2018"}


@pytest.mark.parametrize("name", ["thematic.db", "core.db"])
def test_every_answer_applies_and_only_gapless_cases_are_complete(demo_dir, name):
    with Store.open(demo_dir / name) as store:
        statuses = set()
        for case in all_cases(store):
            rubric = store.rubric_for(case)
            answers = store.answers(case.uuid)
            evaluation = evaluate(rubric, answers)
            assert evaluation.stale == [], f"{case.case_ref}: answers to inapplicable questions {evaluation.stale}"
            assert set(answers) <= evaluation.applicable
            rows = store.answer_rows(case.uuid)
            assert all(row["state"] == "current" and row["applies"] for row in rows.values()), case.case_ref
            # a finished case may since have been approved or returned by the quality demo
            expected = ("in_progress",) if evaluation.missing_required else ("complete", "approved", "returned")
            assert case.status in expected, case.case_ref
            statuses.add(case.status)
        # the report's missing data leaves some cases in progress; the rest are complete (or reviewed, in thematic.db)
        assert statuses == ({"complete", "in_progress", "approved", "returned"} if name == "thematic.db"
                            else {"complete", "in_progress"})


def test_refuses_to_overwrite_without_force(demo_dir, capsys):
    before = {name: digest(demo_dir / name) for name in ("thematic.db", "core.db", "survey.db")}
    assert main(["demo", str(demo_dir)]) == 1
    err = capsys.readouterr().err
    assert "already exist" in err and "--force" in err
    assert "Traceback" not in err
    assert {name: digest(demo_dir / name) for name in before} == before


def test_refuses_when_only_one_database_exists(tmp_path, capsys):
    (tmp_path / "core.db").write_bytes(b"someone's data")
    assert main(["demo", str(tmp_path)]) == 1
    assert "core.db already exists" in capsys.readouterr().err
    assert (tmp_path / "core.db").read_bytes() == b"someone's data"
    assert not (tmp_path / "thematic.db").exists()


def test_a_file_is_not_a_folder(tmp_path, capsys):
    target = tmp_path / "afile"
    target.write_text("x")
    assert main(["demo", str(target)]) == 2
    assert "Traceback" not in capsys.readouterr().err
    assert target.read_text() == "x"


def test_deterministic_and_force_replaces(demo_dir, tmp_path, capsys):
    """A second run writes the same cases and answers; --force rewrites a folder with the same result."""
    first = snapshot(demo_dir / "thematic.db"), snapshot(demo_dir / "core.db"), snapshot(demo_dir / "survey.db")
    assert main(["demo", str(tmp_path)]) == 0
    second = snapshot(tmp_path / "thematic.db"), snapshot(tmp_path / "core.db"), snapshot(tmp_path / "survey.db")
    assert second == first
    with Store.open(tmp_path / "thematic.db") as store:  # a change that --force must undo
        case = all_cases(store)[0]
        if case.status != "in_progress":
            store.set_status(case.uuid, "in_progress")  # a complete case is read-only until reopened
        store.set_answer(case.uuid, "complied", "yes" if store.answers(case.uuid)["complied"] == "no" else "no")
    assert snapshot(tmp_path / "thematic.db") != first[0]
    assert main(["demo", str(tmp_path), "--force"]) == 0
    assert snapshot(tmp_path / "thematic.db") == first[0]
    assert stat.S_IMODE(os.stat(tmp_path / "thematic.db").st_mode) == 0o600
    capsys.readouterr()


@pytest.mark.parametrize("base", [20, 58, 59, 166, 267, 2976])
def test_yes_count_for_gives_the_printed_percentage(base):
    for printed in range(0, 101):
        try:
            count = yes_count_for(printed, base)
        except ValueError:
            assert all(percent(n, base) != printed for n in range(base + 1))
            continue
        assert percent(count, base) == printed


def test_yes_count_for_refuses_an_impossible_percentage():
    # the report's 72 per cent cannot be a count out of 59
    with pytest.raises(ValueError):
        yes_count_for(72, 59)
