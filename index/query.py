"""Search above the store: gather candidates, score them on four signals, fuse, fold.

1. Candidates: the top passages by dense similarity (the store's vector index) and by BM25 (its
   lexical index), as the mode asks.
2. Signals per candidate, each a calibrated share in [0, 1] (relevance.py): passage cosine
   (dense) and its best sentence's cosine (sentence), both against the model's chance level;
   BM25 against the most the question's terms could score (lexical); its best sentence's share
   of the question's terms (coverage; see answer.py). Mode dense uses the first two, lexical the
   last two (BM25 leads, coverage refines it), hybrid all four.
3. Fusion (fusion.py): meaning and words, each the stronger of its passage and sentence
   signals, weighted by the settings (hybrid; dense has meaning only); lexical mode is BM25
   refined by coverage. Each result's relevance comes from the same signals, unweighted
   (relevance.py); results below `min_relevance` are dropped.
4. Folding: results that say the same become one, with the others' sources in `also_in`.

The same logic serves every store: a store only answers dense and lexical top-n lists, term
counts, and reads passages back.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Literal

from index.answer import TermMatcher, best_sentences, idf
from index.encoder import Encoder
from index.fold import Candidate, fold
from index.fusion import strongest_evidence, weighted_sum
from index.lexical import query_terms
from index.models import Answer, Filters, Passage
from index.pages import page_of, page_span
from index.relevance import (
    bm25_ceiling,
    calibrated_cosine,
    chance_cosine,
    legible_share,
    relevance,
)
from index.settings import IndexSettings
from index.store.base import Store

Mode = Literal["dense", "lexical", "hybrid"]
DIGITS = 4  # of the scores and relevances results carry
MODES: tuple[Mode, ...] = ("dense", "lexical", "hybrid")
# Each kind of evidence, at the passage's grain and at its best sentence's.
KINDS = {"meaning": ("dense", "sentence"), "words": ("lexical", "coverage")}
# The signals each mode computes: its kinds of evidence.
SIGNALS: dict[str, tuple[str, ...]] = {
    "dense": KINDS["meaning"],
    "lexical": KINDS["words"],
    "hybrid": KINDS["meaning"] + KINDS["words"],
}
# Lexical mode is BM25, refined by the best sentence's term coverage at less than half its weight.
LEXICAL_WEIGHTS = {"lexical": 1.0, "coverage": 0.4}
# The answer shown is the sentence that holds most of the question's terms, meaning breaking
# near-ties: the same in every mode.
ANSWER_MEANING, ANSWER_COVERAGE = 0.1, 0.4
# The lexical side of a search (BM25's top-n, the question's term weights, reading BM25's
# candidates, their term coverage) runs here while the caller's thread encodes the question and
# searches the vectors: encoding waits in C (ONNX Runtime) with the GIL released, so on two
# cores the two overlap.
_LEXICAL_SIDE = ThreadPoolExecutor(max_workers=4, thread_name_prefix="riverbed-lexical")


def search(
    store: Store,
    encoder: Encoder | None,
    question: str,
    settings: IndexSettings,
    k: int = 5,
    mode: Mode | None = None,
    filters: Filters | None = None,
    min_relevance: float | None = None,
) -> list[Passage]:
    """The top `k` distinct passages for `question` whose relevance is at least `min_relevance`
    (default: the settings'), best first; none when nothing here answers it.

    `encoder` may be None in lexical mode; answers are then chosen on term coverage alone.
    """
    if min_relevance is None:
        min_relevance = settings.min_relevance
    mode = mode or settings.mode
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if k < 1:
        raise ValueError("k must be at least 1")
    question = question.strip()
    if not question:
        raise ValueError("the question is empty")
    if encoder is None and mode != "lexical":
        raise ValueError(f"{mode} search needs the model")

    terms = query_terms(question)
    depth = max(settings.candidates, 2 * k)

    def lexical_side() -> tuple[dict[int, float], TermMatcher, dict, dict, float]:
        """BM25's candidates (as shares of the most the question's terms could score), the
        question's weighted terms, BM25's candidates read with their sentences' term coverage:
        none of it needs the question's vector."""
        counts, total = store.term_document_counts(terms)
        ceiling = bm25_ceiling(counts, total) or 1.0
        found = (
            {pid: bm25 / ceiling for pid, bm25 in store.lexical_search(terms, depth, filters)}
            if mode != "dense"
            else {}
        )
        matcher = TermMatcher(terms, {term: idf(count, total) for term, count in counts.items()})
        read = store.passages(list(found))
        coverage = {pid: matcher.coverages(p.text, p.sentences) for pid, p in read.items()}
        return found, matcher, read, coverage, legible_share(counts)

    pending = _LEXICAL_SIDE.submit(lexical_side)
    query_vector = encoder.embed_queries([question])[0] if encoder is not None else None
    dense = store.dense_search(query_vector, depth, filters) if mode != "lexical" else []
    lexical, matcher, pool, coverage, legible = pending.result()
    pool.update(store.passages([pid for pid, _ in dense if pid not in pool]))
    if not pool:
        return []

    evidence = best_sentences(
        pool, query_vector, matcher, ANSWER_MEANING, ANSWER_COVERAGE, coverage
    )
    chance = chance_cosine(encoder) if query_vector is not None else 0.0
    available = {
        "dense": lambda: {
            pid: calibrated_cosine(float(p.vector @ query_vector), chance)
            for pid, p in pool.items()
        },
        "sentence": lambda: {
            pid: calibrated_cosine(e.meaning, chance) for pid, e in evidence.items()
        },
        "lexical": lambda: {pid: share for pid, share in lexical.items() if pid in pool},
        "coverage": lambda: {pid: e.coverage for pid, e in evidence.items()},
    }
    signals = {name: available[name]() for name in SIGNALS[mode]}
    if mode == "lexical":
        ranked = weighted_sum(signals, LEXICAL_WEIGHTS)
    else:
        weights = {"meaning": settings.meaning_weight, "words": settings.words_weight}
        ranked = strongest_evidence(signals, KINDS, weights)
    # Folding looks a little past the k results for sources that say the same; not the whole pool.
    ranked = ranked[: max(3 * k, k + 10)]
    candidates = []
    for pid, score in ranked:
        # Compared as reported, so a threshold equal to a result's relevance keeps that result.
        evidence_of = {name: found.get(pid, 0.0) for name, found in signals.items()}
        passage_relevance = round(relevance(evidence_of, legible), DIGITS)
        if passage_relevance >= min_relevance:
            candidates.append(Candidate(pool[pid], score, evidence[pid].row, passage_relevance))
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
            page=page_of(stored.page_starts, stored.start + start),
        )
    also_in = [s for s in dict.fromkeys(stored.also_in + candidate.folded) if s != stored.source]
    page, last_page = page_span(stored.page_starts, stored.start, stored.end) or (None, None)
    return Passage(
        text=stored.text,
        score=round(candidate.score, DIGITS),
        relevance=candidate.relevance,
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
        page=page,
        last_page=last_page,
    )
