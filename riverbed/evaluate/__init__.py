"""`riverbed eval`: retrieval quality on a question set, measured end to end.

The documents are ingested whole into a scratch index (the pipeline chunks them) and every
question is asked of each system: riverbed's modes (dense, lexical, hybrid) and, on the same
index in the same run, the plain baselines (dense alone, BM25 alone, RRF of the two; see
index/baselines.py), so every figure stands beside the obvious alternative.

Two kinds of question set:
- answer strings (`evaluate`): DOCS (JSONL of {id, title, text}, or files or a folder) and
  QUESTIONS (JSONL of {id, question, answers}); hit@1, hit@5 and MRR@10 over passages;
- BEIR's layout (`evaluate_beir`): a folder with corpus.jsonl, queries.jsonl, qrels/test.tsv;
  nDCG@10, recall@100 and MRR@10 over documents, a document ranking at its best passage.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel

from riverbed.evaluate.answers import AnswerScores, read_questions, score_answers
from riverbed.evaluate.beir import BeirScores, read_corpus, read_queries, score_beir
from riverbed.evaluate.systems import SYSTEMS, check_systems, ranker, scratch_index
from riverbed.settings import Settings

__all__ = ["SYSTEMS", "EvalReport", "evaluate", "evaluate_beir"]


class EvalReport(BaseModel):
    kind: str  # "answers" or "beir"
    documents: int
    passages: int
    mean_passage_tokens: float
    ingest_seconds: float
    systems: list[AnswerScores] | list[BeirScores]


def evaluate(
    documents: Path,
    questions: Path,
    settings: Settings | None = None,
    systems: Sequence[str] = SYSTEMS,
    data_dir: Path | None = None,
) -> EvalReport:
    """Ingest `documents` into a scratch index (or `data_dir`), ask every question per system."""
    check_systems(systems)
    asked = list(read_questions(questions))
    if not asked:
        raise ValueError(f"{questions} has no answerable questions")
    with scratch_index([documents], settings, data_dir) as built:
        scores = [score_answers(s, ranker(built.index, s), asked) for s in systems]
    return _report("answers", built.stats, built.ingest_seconds, scores)


def evaluate_beir(
    directory: Path,
    settings: Settings | None = None,
    systems: Sequence[str] = SYSTEMS,
    data_dir: Path | None = None,
    split: str = "test",
) -> EvalReport:
    """Ingest a BEIR-layout corpus into a scratch index (or `data_dir`), rank every query's
    documents per system; the relevant documents are those of `qrels/SPLIT.tsv`."""
    check_systems(systems)
    queries = read_queries(directory, split)
    if not queries:
        raise ValueError(f"{directory} has no query with a relevant document in {split}.tsv")
    with scratch_index(read_corpus(directory), settings, data_dir) as built:
        scores = [score_beir(s, ranker(built.index, s), queries) for s in systems]
    return _report("beir", built.stats, built.ingest_seconds, scores)


def _report(kind: str, stats: dict, seconds: float, scores: list) -> EvalReport:
    return EvalReport(
        kind=kind,
        documents=stats["documents"],
        passages=stats["passages"],
        mean_passage_tokens=round(stats["tokens"] / max(1, stats["passages"]), 1),
        ingest_seconds=seconds,
        systems=scores,
    )
