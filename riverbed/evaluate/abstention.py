"""Telling an answer from no answer, leave one document out: index all documents but one, ask
every question; those written from the left-out document have no answer here. Rotate.

Figures: the AUROC of the top result's relevance between answerable and unanswerable questions,
and at a threshold, the share of answerable questions that keep their answer (their first
passage with an answer in the top 5 is at least that relevant) and the share of unanswerable
ones that get no result at all.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel

from riverbed.evaluate.answers import Question, answer_rank, read_questions
from riverbed.evaluate.metrics import auroc
from riverbed.evaluate.systems import scratch_index
from riverbed.settings import Settings

DEPTH = 5
GIBBERISH = ("zzzqqqxx blorf", "qwv xkcdzz plumf")
TRADEOFF = (0.2, 0.25, 0.3, 0.35)


class Asked(BaseModel):
    answerable: bool
    top_relevance: float
    answer_relevance: float | None  # of the first passage with an answer in the top DEPTH


class AbstentionReport(BaseModel):
    documents: int
    answerable: int
    unanswerable: int
    auroc: float
    threshold: float
    answerable_kept: float
    unanswerable_empty: float
    gibberish_empty: bool
    gibberish_top_relevance: float
    # The same two shares at other thresholds: threshold -> (answerable kept, unanswerable empty)
    tradeoff: dict[str, tuple[float, float]]


def leave_one_out(
    documents: Path,
    questions: Path,
    settings: Settings | None = None,
    threshold: float | None = None,
) -> AbstentionReport:
    """Rotate over the documents of a JSONL file whose questions name their `doc`."""
    settings = settings or Settings()
    threshold = settings.min_relevance if threshold is None else threshold
    records = [json.loads(line) for line in documents.read_text("utf-8").splitlines() if line]
    asked = [q for q in read_questions(questions) if q.doc is not None]
    ids = [str(record["id"]) for record in records]
    found: list[Asked] = []
    gibberish = 0.0
    for held in ids:
        kept = [record for record in records if str(record["id"]) != held]
        with scratch_index(kept, settings) as built:
            found += [_ask(built.index, q, answerable=q.doc != held) for q in asked]
            for text in GIBBERISH:
                closest = built.index.search(text, k=1, min_relevance=0.0)
                gibberish = max([gibberish, *(p.relevance for p in closest)])
    return summarise(found, threshold, len(ids), gibberish)


def _ask(index: object, question: Question, answerable: bool) -> Asked:
    results = index.search(question.question, k=DEPTH, min_relevance=0.0)  # type: ignore[attr-defined]
    rank = answer_rank([p.text for p in results], question.answers) if answerable else None
    return Asked(
        answerable=answerable,
        top_relevance=results[0].relevance if results else 0.0,
        answer_relevance=results[rank - 1].relevance if rank else None,
    )


def summarise(
    found: Sequence[Asked], threshold: float, documents: int, gibberish: float
) -> AbstentionReport:
    answerable = [a for a in found if a.answerable]
    unanswerable = [a for a in found if not a.answerable]
    with_answer = [a for a in answerable if a.answer_relevance is not None]

    def shares(at: float) -> tuple[float, float]:
        kept = sum(a.answer_relevance >= at for a in with_answer) / max(1, len(with_answer))  # type: ignore[operator]
        empty = sum(a.top_relevance < at for a in unanswerable) / max(1, len(unanswerable))
        return round(kept, 4), round(empty, 4)

    kept, empty = shares(threshold)
    return AbstentionReport(
        documents=documents,
        answerable=len(answerable),
        unanswerable=len(unanswerable),
        auroc=round(
            auroc([a.top_relevance for a in answerable], [a.top_relevance for a in unanswerable]),
            4,
        ),
        threshold=threshold,
        answerable_kept=kept,
        unanswerable_empty=empty,
        gibberish_empty=gibberish < threshold,
        gibberish_top_relevance=round(gibberish, 4),
        tradeoff={f"{at:.2f}": shares(at) for at in TRADEOFF},
    )
