"""Search above the store: retrieve, fuse, pick answer sentences, fold results that say the same.

The same logic serves every store: a store only answers dense and lexical top-n lists and reads
passages back.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from index.answer import best_sentence
from index.encoder import Encoder
from index.fold import Candidate, fold
from index.fusion import reciprocal_rank_fusion
from index.lexical import query_terms
from index.models import Answer, Filters, Passage
from index.settings import Settings
from index.store.base import Store

Mode = Literal["dense", "lexical", "hybrid"]
MODES: tuple[Mode, ...] = ("dense", "lexical", "hybrid")


def search(
    store: Store,
    encoder: Encoder | None,
    question: str,
    settings: Settings,
    k: int = 5,
    mode: Mode | None = None,
    filters: Filters | None = None,
) -> list[Passage]:
    """The top `k` distinct passages for `question`, best first."""
    mode = mode or settings.mode
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if k < 1:
        raise ValueError("k must be at least 1")
    question = question.strip()
    if not question:
        raise ValueError("the question is empty")
    terms = query_terms(question)
    query_vector = encoder.embed_queries([question])[0] if encoder is not None else None
    depth = max(settings.candidates, 4 * k)
    rankings = []
    if mode in ("dense", "hybrid") and query_vector is not None:
        rankings.append((store.dense_search(query_vector, depth, filters), settings.dense_weight))
    if mode in ("lexical", "hybrid"):
        rankings.append((store.lexical_search(terms, depth, filters), settings.lexical_weight))
    if len(rankings) == 1:
        fused = list(rankings[0][0])
    else:
        fused = reciprocal_rank_fusion(rankings, k=settings.rrf_k)
    shortlist = fused[: max(3 * k, 10)]
    stored = store.passages(pid for pid, _ in shortlist)
    candidates = []
    for pid, score in shortlist:
        passage = stored.get(pid)
        if passage is None:
            continue  # removed since the ranking was made
        row = best_sentence(query_vector, passage, terms)[0] if query_vector is not None else -1
        candidates.append(Candidate(passage, score, row))
    return [to_passage(c) for c in fold(candidates, k, settings.fold_overlap)]


def to_passage(candidate: Candidate) -> Passage:
    stored = candidate.passage
    answer = None
    if candidate.answer_row >= 0:
        start, end = stored.sentences[candidate.answer_row]
        answer = Answer(
            text=candidate.answer_text,
            start=start,
            end=end,
            doc_start=stored.start + start,
            doc_end=stored.start + end,
        )
    also_in = [s for s in dict.fromkeys(stored.also_in + candidate.folded) if s != stored.source]
    return Passage(
        text=stored.text,
        score=round(candidate.score, 4),
        doc_id=stored.doc_id,
        source=stored.source,
        title=stored.title,
        start=stored.start,
        end=stored.end,
        answer=answer,
        also_in=also_in,
        url=stored.url,
        published_at=datetime.fromisoformat(stored.published_at) if stored.published_at else None,
        metadata=stored.metadata,
    )
