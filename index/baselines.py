"""The plain retrievers every change to search is measured against, over the same store.

- dense: the passages by cosine with the question (the store's vector index), nothing else;
- bm25: the passages by BM25 of the question's terms (the store's lexical index);
- rrf: reciprocal rank fusion (k = 60) of those two lists, the textbook hybrid.

They share the store, the model and the passages with `index.query.search`, so a comparison
measures the ranking alone. Results are (passage id, score), best first.
"""

from __future__ import annotations

from collections.abc import Callable

from index.encoder import Encoder
from index.fusion import reciprocal_rank_fusion
from index.lexical import query_terms
from index.store.base import Store

Ranking = list[tuple[int, float]]
BASELINES = ("dense", "bm25", "rrf")


def dense_ranking(store: Store, encoder: Encoder, question: str, depth: int) -> Ranking:
    return store.dense_search(encoder.embed_queries([question])[0], depth)


def bm25_ranking(store: Store, question: str, depth: int) -> Ranking:
    return store.lexical_search(query_terms(question), depth)


def rrf_ranking(store: Store, encoder: Encoder, question: str, depth: int) -> Ranking:
    lists = [dense_ranking(store, encoder, question, depth), bm25_ranking(store, question, depth)]
    return reciprocal_rank_fusion([[pid for pid, _ in ranked] for ranked in lists])[:depth]


def baseline(name: str, store: Store, encoder: Encoder) -> Callable[[str, int], Ranking]:
    """The ranking function of baseline `name` (one of BASELINES): question, depth -> ranking."""
    if name == "dense":
        return lambda question, depth: dense_ranking(store, encoder, question, depth)
    if name == "bm25":
        return lambda question, depth: bm25_ranking(store, question, depth)
    if name == "rrf":
        return lambda question, depth: rrf_ranking(store, encoder, question, depth)
    raise ValueError(f"baseline must be one of {', '.join(BASELINES)}, not {name!r}")
