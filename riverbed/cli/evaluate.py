"""`riverbed eval`: retrieval quality on a question set, beside the plain baselines."""

from __future__ import annotations

from pathlib import Path

import click

from riverbed.cli.common import friendly_errors, settings_from

MODE_CHOICES = ("all", "hybrid", "dense", "lexical")


@click.command(name="eval")
@click.argument("documents", type=click.Path(exists=True, path_type=Path))
@click.argument(
    "questions", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--mode", type=click.Choice(MODE_CHOICES), default="all", show_default=True)
@click.option(
    "--split",
    default="test",
    show_default=True,
    help="BEIR folders: which qrels/SPLIT.tsv judges the documents (e.g. dev, test).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
@friendly_errors
def evaluate_command(
    ctx: click.Context,
    documents: Path,
    questions: Path | None,
    mode: str,
    split: str,
    as_json: bool,
) -> None:
    """Ingest DOCUMENTS into a scratch index, ask every question of riverbed's modes and of the
    plain baselines on the same index (dense alone, BM25 alone, RRF k=60 of the two).

    With QUESTIONS (JSONL of {id, question, answers}), DOCUMENTS is JSONL of {id, title, text}
    or files or a folder, and a hit is a passage containing an answer: hit@1, hit@5, MRR@10.
    Without, DOCUMENTS is a folder in BEIR's layout (corpus.jsonl, queries.jsonl,
    qrels/SPLIT.tsv, test by default), and documents are ranked at their best passage:
    nDCG@10, recall@100, MRR@10.

    \b
    Examples:
      riverbed eval tests/data/squad2-dev-5articles.docs.jsonl \\
                    tests/data/squad2-dev-5articles.questions.jsonl
      riverbed eval bench/sets/pydocs
      riverbed eval bench/sets/claims-squad --split dev
    """
    from riverbed.cli.output import emit_json, show
    from riverbed.evaluate import evaluate, evaluate_beir
    from riverbed.evaluate.beir import is_beir_dir
    from riverbed.evaluate.systems import BASELINE_SYSTEMS

    modes = ("dense", "lexical", "hybrid") if mode == "all" else (mode,)
    systems = (*modes, *BASELINE_SYSTEMS)
    settings = settings_from(ctx)
    if questions is not None:
        report = evaluate(documents, questions, settings, systems=systems)
    elif is_beir_dir(documents):
        report = evaluate_beir(documents, settings, systems=systems, split=split)
    else:
        raise click.UsageError(
            f"{documents} is not a BEIR folder (corpus.jsonl, queries.jsonl, qrels/test.tsv):"
            " give QUESTIONS too"
        )
    if as_json:
        emit_json(report)
        return
    from rich.table import Table

    title = (
        f"{report.documents} documents · {report.passages} passages · "
        f"{report.mean_passage_tokens} tokens per passage · ingest {report.ingest_seconds} s"
    )
    metrics = (
        [("hit@1", "hit_at_1"), ("hit@5", "hit_at_5"), ("MRR@10", "mrr_at_10")]
        if report.kind == "answers"
        else [("nDCG@10", "ndcg_at_10"), ("recall@100", "recall_at_100"), ("MRR@10", "mrr_at_10")]
    )
    table = Table("system", "questions", *(m for m, _ in metrics), "p50 ms", "p99 ms", title=title)
    for scores in report.systems:
        figures = scores.model_dump()
        table.add_row(
            scores.system,
            str(figures.get("questions", figures.get("queries"))),
            *(f"{figures[field]:.3f}" for _, field in metrics),
            f"{scores.latency_p50_ms:.1f}",
            f"{scores.latency_p99_ms:.1f}",
        )
    show(table)
