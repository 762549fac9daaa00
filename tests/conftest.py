"""Shared fixtures. The real model runs wherever retrieval is the point."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from riverbed.settings import Settings
from tests.pg_fixtures import pg_server, pg_url, seeded_postgres  # noqa: F401  (fixtures)
from tests.web_fixtures import site  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
CNN = SEEDS / "cnn-zelensky-interview.txt"
BUNKER = SEEDS / "zelensky-bunker-interview.txt"
QUESTION = "what did Zelensky ask of NATO"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test that needs Postgres is slow: it starts a server once per session and makes a
    database of its own (`pytest -m "not slow"` leaves them out)."""
    for item in items:
        if "pg_server" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture(scope="session")
def seeded_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of the two seed articles, built once for the session; tests must not write."""
    from pipeline import ingest

    data_dir = tmp_path_factory.mktemp("seeded") / "data"
    report = ingest([SEEDS], settings=Settings(data_dir=data_dir))
    assert report.added == 2 and report.failed == 0
    return data_dir


@pytest.fixture
def seeds_copy(tmp_path: Path) -> Path:
    """A private copy of the seed folder that a test may edit."""
    target = tmp_path / "seeds"
    shutil.copytree(SEEDS, target)
    return target
