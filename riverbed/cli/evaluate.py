"""`riverbed eval DOCS.jsonl QUESTIONS.jsonl`: retrieval quality on a question set."""

from __future__ import annotations

from pathlib import Path

import click

from riverbed.cli.common import friendly_errors, settings_from

MODE_CHOICES = ("all", "hybrid", "dense", "lexical")


@click.command(name="eval")
@click.argument("documents", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("questions", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--mode", type=click.Choice(MODE_CHOICES), default="all", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@click.pass_context
@friendly_errors
def evaluate_command(
    ctx: click.Context, documents: Path, questions: Path, mode: str, as_json: bool
) -> None:
    """Ingest DOCUMENTS whole into a scratch index, ask every question, report
    answer-string hit@1, hit@5, MRR@10, mean passage tokens and query latency.

    DOCUMENTS is JSONL of {id, title, text}; QUESTIONS is JSONL of {id, question, answers}.

    \b
    Example:
      riverbed eval tests/data/squad2-dev-5articles.docs.jsonl \\
                    tests/data/squad2-dev-5articles.questions.jsonl
    """
    from riverbed.cli.output import console, emit_json
    from riverbed.evaluate import evaluate

    modes = ("dense", "lexical", "hybrid") if mode == "all" else (mode,)
    report = evaluate(documents, questions, settings_from(ctx), modes=modes)  # type: ignore[arg-type]
    if as_json:
        emit_json(report)
        return
    from rich.table import Table

    title = (
        f"{report.documents} documents · {report.passages} passages · "
        f"{report.mean_passage_tokens} tokens per passage · ingest {report.ingest_seconds} s"
    )
    table = Table("mode", "questions", "hit@1", "hit@5", "MRR@10", "p50 ms", "p99 ms", title=title)
    for scores in report.modes:
        table.add_row(
            scores.mode,
            str(scores.questions),
            f"{scores.hit_at_1:.3f}",
            f"{scores.hit_at_5:.3f}",
            f"{scores.mrr_at_10:.3f}",
            f"{scores.latency_p50_ms:.1f}",
            f"{scores.latency_p99_ms:.1f}",
        )
    console().print(table)
