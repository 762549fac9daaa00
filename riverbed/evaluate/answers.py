"""Answer-string evaluation: a hit is a result whose passage contains one of the question's
answers (compared case-folded, whitespace and typographic marks normalised)."""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from pydantic import BaseModel, Field

from pipeline.clean import normalize_for_match
from riverbed.evaluate.metrics import percentile, reciprocal_rank
from riverbed.evaluate.systems import Ranker

DEPTH = 10


class Question(BaseModel):
    id: str
    question: str
    answers: list[str] = Field(min_length=1)
    doc: str | None = Field(None, description="The document the question was written from.")


class AnswerScores(BaseModel):
    system: str
    questions: int
    hit_at_1: float
    hit_at_5: float
    mrr_at_10: float
    latency_p50_ms: float
    latency_p99_ms: float


def read_questions(path: Path) -> Iterator[Question]:
    """Answerable questions (those with at least one answer string)."""
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path}:{number}: malformed JSON: {err.msg}") from err
            if record.get("answers"):
                yield Question.model_validate(record)


def answer_rank(texts: Sequence[str], answers: Sequence[str]) -> int | None:
    """The rank (from 1) of the first text that contains one of `answers`, or None."""
    wanted = [normalize_for_match(answer) for answer in answers]
    for rank, text in enumerate(texts, start=1):
        normalised = normalize_for_match(text)
        if any(answer in normalised for answer in wanted):
            return rank
    return None


def score_answers(system: str, rank: Ranker, questions: Sequence[Question]) -> AnswerScores:
    rank(questions[0].question, 1)  # warm the encoder and caches
    ranks: list[int | None] = []
    latencies: list[float] = []
    for question in questions:
        started = time.perf_counter()
        results = rank(question.question, DEPTH)
        latencies.append((time.perf_counter() - started) * 1000)
        ranks.append(answer_rank([r.text for r in results], question.answers))
    count = len(questions)
    return AnswerScores(
        system=system,
        questions=count,
        hit_at_1=round(sum(r == 1 for r in ranks) / count, 4),
        hit_at_5=round(sum(r is not None and r <= 5 for r in ranks) / count, 4),
        mrr_at_10=round(statistics.fmean(reciprocal_rank(r, DEPTH) for r in ranks), 4),
        latency_p50_ms=round(percentile(latencies, 0.50), 2),
        latency_p99_ms=round(percentile(latencies, 0.99), 2),
    )
