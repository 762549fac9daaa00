"""Postgres for tests: one embedded server per session (started on first use), a fresh database
per test. Registered in conftest.py, so any test can ask for `pg_url`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql

from pipeline.pgdemo import database_url, local_postgres


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


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh, empty database for one test; dropped afterwards."""
    url = create_database(pg_server)
    yield url
    drop_database(pg_server, url)
