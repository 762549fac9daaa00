"""`riverbed eval`: retrieval quality on a question set, measured end to end.

The documents are ingested whole into a scratch index (the pipeline chunks them), every question
is asked, and a hit is a result whose passage contains one of the question's answer strings
(compared case-folded, whitespace and typographic marks normalised).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from pydantic import BaseModel, Field

from index.api import Index
from index.query import MODES, Mode
from pipeline.clean import normalize_for_match
from pipeline.ingestion import ingest
from riverbed.settings import Settings


class Question(BaseModel):
    id: str
    question: str
    answers: list[str] = Field(min_length=1)


class ModeScores(BaseModel):
    mode: str
    questions: int
    hit_at_1: float
    hit_at_5: float
    mrr_at_10: float
    latency_p50_ms: float
    latency_p99_ms: float


class EvalReport(BaseModel):
    documents: int
    passages: int
    mean_passage_tokens: float
    ingest_seconds: float
    modes: list[ModeScores]


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


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def score_mode(index: Index, questions: Sequence[Question], mode: Mode) -> ModeScores:
    hits1 = hits5 = 0
    reciprocal_ranks: list[float] = []
    latencies: list[float] = []
    index.search(questions[0].question, k=1, mode=mode)  # warm the encoder and caches
    for question in questions:
        started = time.perf_counter()
        results = index.search(question.question, k=10, mode=mode)
        latencies.append((time.perf_counter() - started) * 1000)
        answers = [normalize_for_match(answer) for answer in question.answers]
        rank = next(
            (
                position
                for position, passage in enumerate(results, start=1)
                if any(answer in normalize_for_match(passage.text) for answer in answers)
            ),
            None,
        )
        hits1 += rank == 1
        hits5 += rank is not None and rank <= 5
        reciprocal_ranks.append(1 / rank if rank else 0.0)
    count = len(questions)
    return ModeScores(
        mode=mode,
        questions=count,
        hit_at_1=round(hits1 / count, 4),
        hit_at_5=round(hits5 / count, 4),
        mrr_at_10=round(statistics.fmean(reciprocal_ranks), 4),
        latency_p50_ms=round(percentile(latencies, 0.50), 2),
        latency_p99_ms=round(percentile(latencies, 0.99), 2),
    )


def evaluate(
    documents: Path,
    questions: Path,
    settings: Settings | None = None,
    modes: Sequence[Mode] = MODES,
    data_dir: Path | None = None,
) -> EvalReport:
    """Ingest `documents` into a scratch index (or `data_dir`), ask every question per mode."""
    settings = settings or Settings()
    asked = list(read_questions(questions))
    if not asked:
        raise ValueError(f"{questions} has no answerable questions")
    with tempfile.TemporaryDirectory(prefix="riverbed-eval-") as scratch:
        settings = settings.model_copy(
            update={"data_dir": data_dir or Path(scratch), "store": None}
        )
        report = ingest([documents], settings=settings)
        if report.failed:
            reasons = "; ".join(f"{f.source}: {f.reason}" for f in report.failures[:3])
            raise ValueError(f"{report.failed} document(s) failed to ingest: {reasons}")
        with Index.open(settings=settings) as index:
            index.warm()
            stats = index.stats()
            scores = [score_mode(index, asked, mode) for mode in modes]
    return EvalReport(
        documents=stats["documents"],
        passages=stats["passages"],
        mean_passage_tokens=round(stats["tokens"] / max(1, stats["passages"]), 1),
        ingest_seconds=report.seconds,
        modes=scores,
    )
