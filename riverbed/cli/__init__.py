"""`riverbed`: ingest documents, ask questions, look after the index.

Each command parses its options, calls the library (`riverbed.ingest`, `riverbed.Index`) and
formats the result; user mistakes become one line and a meaningful exit status:
0 ok, 1 error, 2 usage, 3 some documents failed (the rest landed). One module per command
family; they share `common.py` (settings, errors, signals) and `output.py` (what they print).
"""

from __future__ import annotations

import click

from riverbed.cli.common import global_options
from riverbed.cli.evaluate import evaluate_command
from riverbed.cli.ingest import ingest
from riverbed.cli.maintain import check, compact, delete, runs, stats
from riverbed.cli.mcp import mcp
from riverbed.cli.schedule import schedule
from riverbed.cli.search import ask
from riverbed.cli.serve import serve


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="riverbed")
def main() -> None:
    """riverbed: stream documents into a search index and ask it questions.

    \b
    Example:
      riverbed ingest seeds/
      riverbed ask "what did Zelensky ask of NATO"

    \b
    Shell completion, in ~/.bashrc (zsh and fish: docs/cli.md):
      eval "$(_RIVERBED_COMPLETE=bash_source riverbed)"
    """


main.params[:0] = global_options()
for command in (
    ingest,
    ask,
    stats,
    delete,
    check,
    compact,
    runs,
    mcp,
    schedule,
    serve,
    evaluate_command,
):
    command.params.extend(global_options())
    main.add_command(command)
