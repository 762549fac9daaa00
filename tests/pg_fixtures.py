"""Postgres for tests: one embedded server per session (started on first use), a fresh database
per test, and the seed articles ingested once. Registered in conftest.py, so any test can ask
for `pg_url` or `seeded_postgres`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from riverbed.testing.postgres import create_database, drop_database, local_postgres

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """The URL of a running Postgres 18 with pgvector, stopped and deleted after the session."""
    with local_postgres() as url:
        yield url


@pytest.fixture(scope="session")
def seeded_postgres(pg_server: str) -> Iterator[str]:
    """A database with the seed articles ingested with the real model; tests must not write."""
    from pipeline import ingest
    from riverbed.settings import Settings

    url = create_database(pg_server)
    report = ingest([SEEDS], settings=Settings(store=url))
    assert report.added == 2 and report.failed == 0
    yield url
    drop_database(pg_server, url)


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh, empty database for one test; dropped afterwards."""
    url = create_database(pg_server)
    yield url
    drop_database(pg_server, url)
