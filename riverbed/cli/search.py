"""`riverbed ask`: the best passages for a question, with their answer sentence marked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from riverbed.cli.common import friendly_errors, settings_from


@click.command()
@click.argument("question")
@click.option("-k", "--top", "k", default=5, show_default=True, type=click.IntRange(1, 100))
@click.option("--mode", type=click.Choice(["hybrid", "dense", "lexical"]), help="Retrieval mode.")
@click.option("--doc", "doc_ids", multiple=True, help="Only this document id (repeatable).")
@click.option("--source", "sources", multiple=True, help="Only this source (repeatable).")
@click.option(
    "--meta", multiple=True, metavar="KEY=VALUE", help="Only documents with this metadata."
)
@click.option("--after", type=click.DateTime(), help="Only documents published on/after this date.")
@click.option(
    "--before", type=click.DateTime(), help="Only documents published on/before this date."
)
@click.option(
    "--min-relevance",
    type=click.FloatRange(0.0, 1.0),
    help="Leave out passages less relevant than this (default 0.25; 0 keeps all).",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
@friendly_errors
def ask(
    ctx: click.Context,
    question: str,
    k: int,
    mode: str | None,
    doc_ids: tuple[str, ...],
    sources: tuple[str, ...],
    meta: tuple[str, ...],
    after: Any,
    before: Any,
    min_relevance: float | None,
    as_json: bool,
) -> None:
    """Ask a question; print the best passages with their answer sentence marked.

    \b
    Example:
      riverbed ask "what did Zelensky ask of NATO" -k 3
      riverbed ask "no-fly zone" --mode lexical --json
    """
    if not question.strip():
        raise click.UsageError("the question is empty: ask something, e.g. riverbed ask 'who'")
    from index.api import Index
    from index.models import Filters
    from riverbed.cli.output import emit_json, print_passages

    metadata = {}
    for pair in meta:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--meta")
        metadata[key] = value
    filters = Filters(
        doc_ids=list(doc_ids) or None,
        sources=[str(Path(s).resolve()) if Path(s).exists() else s for s in sources] or None,
        metadata=metadata or None,
        published_after=after,
        published_before=before,
    )
    settings = settings_from(ctx)
    if min_relevance is None:
        min_relevance = settings.min_relevance
    with Index.open(settings=settings) as index:
        passages = index.search(
            question,
            k=k,
            mode=mode,  # type: ignore[arg-type]
            filters=filters,
            min_relevance=min_relevance,
        )
    if as_json:
        emit_json({"query": question, "results": [p.model_dump(mode="json") for p in passages]})
    else:
        print_passages(question, passages, min_relevance)
