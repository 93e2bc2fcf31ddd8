"""Shared pieces of the quality-assurance tests: real databases of demo cases, and marking a copy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

from audit.demo import thematic_cases
from audit.store import Store


def audit_command() -> list[str]:
    script = Path(sys.executable).parent / "audit"
    return [str(script)] if script.exists() else [sys.executable, "-m", "audit.cli"]


def run_audit(*args: str, user: str = "lead", cwd: Path | None = None) -> subprocess.CompletedProcess:
    """The real console command, as a person at ``user``'s keyboard runs it."""
    import os

    env = {**os.environ, "AUDIT_USER": user}
    return subprocess.run([*audit_command(), *map(str, args)], capture_output=True, text=True, timeout=120, env=env, cwd=cwd)


def thematic_db(path: Path, rubric, *, count: int = 60) -> Path:
    """A real file holding the demo's thematic cases (57 complete, 3 in progress at 60)."""
    with Store.open(path) as store:
        store.insert_cases(thematic_cases(rubric)[:count], who="demo", reason="test data")
    return path


def mark(store: Store, case_uuid: str, answers: dict[str, Any], *, who: str, notes: dict[str, str] | None = None,
         complete: bool = True) -> None:
    """Answer a case (a moderation copy) question by question through the case service, as the UI does."""
    service = store.service(who)
    rubric = store.rubric_for(store.case(case_uuid))
    for qid in rubric.question_ids:
        if qid in answers and qid in service.load(case_uuid).evaluation.applicable:
            service.answer(case_uuid, qid, answers[qid], confirm_retire=True)
    for qid, note in (notes or {}).items():
        service.note(case_uuid, qid, note)
    if complete:
        service.set_status(case_uuid, "complete")
