"""The demo against a throwaway local Postgres with pgvector (`make demo-postgres`): no Docker.

    python -m riverbed.pgdemo [--engine ray] [QUESTION]

starts one (riverbed/testing/postgres.py), ingests seeds/ into it, asks the question, and stops it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from riverbed.testing.postgres import local_postgres

DEMO_QUESTION = "what did Zelensky ask of NATO"


def main(argv: list[str]) -> int:
    from riverbed.cli import main as riverbed

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
