"""`riverbed`: ingest documents, ask questions, look after the index.

Each command parses its options, calls the library (`riverbed.ingest`, `riverbed.Index`) and
formats the result; user mistakes become one line and a meaningful exit status:
0 ok, 1 error, 2 usage, 3 some documents failed (the rest landed). One module per command
family; they share `common.py` (settings, errors, signals) and `output.py` (what they print).
"""

from __future__ import annotations

from pathlib import Path

import click

from riverbed.cli.evaluate import evaluate_command
from riverbed.cli.ingest import ingest
from riverbed.cli.maintain import check, delete, runs, stats
from riverbed.cli.mcp import mcp
from riverbed.cli.schedule import schedule
from riverbed.cli.search import ask
from riverbed.cli.serve import serve


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Index directory [env RIVERBED_DATA_DIR; default ./riverbed-data].",
)
@click.option("--store", help="Store URL, e.g. postgresql://... [env RIVERBED_STORE].")
@click.option("--model", help="sentence-transformers model directory [env RIVERBED_MODEL].")
@click.version_option(package_name="riverbed")
def main(data_dir: Path | None, store: str | None, model: str | None) -> None:
    """riverbed: stream documents into a search index and ask it questions.

    \b
    Example:
      riverbed ingest seeds/
      riverbed ask "what did Zelensky ask of NATO"
    """


for command in (ingest, ask, stats, delete, check, runs, mcp, schedule, serve, evaluate_command):
    main.add_command(command)
