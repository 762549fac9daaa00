"""Postgres for tests: one embedded server per session (started on first use), a fresh database
per test, and the seed articles ingested once. Registered in conftest.py, so any test can ask
for `pg_url` or `seeded_postgres`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from pipeline.pgdemo import database_url, local_postgres

SEEDS = Path(__file__).resolve().parent.parent / "seeds"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """The URL of a running Postgres 18 with pgvector, stopped and deleted after the session."""
    with local_postgres() as url:
        yield url


def create_database(server_url: str) -> str:
    """A new empty database on the server; its URL."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return database_url(server_url, name)


def drop_database(server_url: str, url: str) -> None:
    name = url.split("?")[0].rsplit("/", 1)[1]
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="session")
def seeded_postgres(pg_server: str) -> Iterator[str]:
    """A database with the seed articles ingested with the real model; tests must not write."""
    from index.settings import Settings
    from pipeline import ingest

    url = create_database(pg_server)
    report = ingest([SEEDS], settings=Settings(store=url))
    assert report.added == 2 and report.failed == 0
    yield url
    drop_database(pg_server, url)


def copy_database(server_url: str, template_url: str) -> str:
    """A new database with the contents of another (that nobody is connected to)."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    template = template_url.split("?")[0].rsplit("/", 1)[1]
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
    return database_url(server_url, name)


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh, empty database for one test; dropped afterwards."""
    url = create_database(pg_server)
    yield url
    drop_database(pg_server, url)
