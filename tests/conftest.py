"""Shared fixtures. Keep them small and stable: other test files rely on them.

* ``thematic_rubric`` / ``core_rubric``: the two shipped rubrics, loaded the way
  the CLI loads them (``audit.rubric.load_rubric_by_id``).
* ``tmp_db_path``: a path for a new database file in a fresh folder (not created).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.rubric import Rubric, load_rubric_by_id

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def thematic_rubric() -> Rubric:
    return load_rubric_by_id("iom-thematic-2019")


@pytest.fixture(scope="session")
def core_rubric() -> Rubric:
    return load_rubric_by_id("hmip-core-2018")


@pytest.fixture
def tmp_db_path(tmp_path: Path) -> Path:
    return tmp_path / "audit.db"
