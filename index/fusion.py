"""Fusing ranked lists from different retrievers: weighted reciprocal rank fusion.

RRF uses ranks, not scores, so BM25's unbounded scores and cosine similarities need no
calibration. Scores are scaled so that a passage ranked first by every retriever scores 1.0.
"""

from __future__ import annotations

from collections.abc import Sequence


def reciprocal_rank_fusion(
    rankings: Sequence[tuple[Sequence[tuple[int, float]], float]], k: int = 60
) -> list[tuple[int, float]]:
    """`rankings` is [(ranked (id, score) list, weight)]; returns (id, fused score), best first."""
    fused: dict[int, float] = {}
    for ranked, weight in rankings:
        for rank, (item, _score) in enumerate(ranked, start=1):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
    best_possible = sum(weight for _, weight in rankings) / (k + 1) or 1.0
    ordered = sorted(fused.items(), key=lambda pair: (-pair[1], pair[0]))
    return [(item, score / best_possible) for item, score in ordered]
