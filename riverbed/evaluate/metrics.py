"""Ranking metrics, as BEIR (pytrec_eval) defines them, and the few statistics a report needs."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


def ndcg_at(ranked: Sequence[str], relevant: Mapping[str, int], k: int = 10) -> float:
    """Normalised discounted cumulative gain of the first `k` (gain = the graded relevance)."""
    gains = sum(
        relevant.get(doc, 0) / math.log2(rank + 1) for rank, doc in enumerate(ranked[:k], 1)
    )
    ideal = sorted((grade for grade in relevant.values() if grade > 0), reverse=True)[:k]
    best = sum(grade / math.log2(rank + 1) for rank, grade in enumerate(ideal, 1))
    return gains / best if best > 0 else 0.0


def recall_at(ranked: Sequence[str], relevant: Mapping[str, int], k: int = 100) -> float:
    wanted = {doc for doc, grade in relevant.items() if grade > 0}
    return len(wanted.intersection(ranked[:k])) / len(wanted) if wanted else 0.0


def reciprocal_rank(first_hit: int | None, k: int = 10) -> float:
    """1 / rank of the first relevant result if it is within the first `k`, else 0."""
    return 1.0 / first_hit if first_hit is not None and first_hit <= k else 0.0


def first_relevant(ranked: Sequence[str], relevant: Mapping[str, int]) -> int | None:
    return next((rank for rank, doc in enumerate(ranked, 1) if relevant.get(doc, 0) > 0), None)


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else 0.0


def auroc(positives: Sequence[float], negatives: Sequence[float]) -> float:
    """The chance that a random positive scores above a random negative (ties count half)."""
    if not positives or not negatives:
        return float("nan")
    wins = sum((p > n) + 0.5 * (p == n) for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))
