"""Fusing retrieval signals into one ranking score.

`weighted_sum`: the signals are calibrated shares in [0, 1] that mean the same for every question
(see relevance.py), so they add up as they are: no min-max scaling within one question, which
would stretch a weak signal's noise (a few common words matched) to the full range and make the
best candidate score 1 even when nothing answers. A candidate a signal did not score gets 0 from
it. `reciprocal_rank_fusion` is the textbook hybrid the baselines use.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def weighted_sum(
    signals: Mapping[str, Mapping[int, float]], weights: Mapping[str, float]
) -> list[tuple[int, float]]:
    """(id, sum of weight x signal, over the weights' total) best first, ties by id."""
    total = sum(weights[name] for name in signals) or 1.0
    fused: dict[int, float] = {}
    for name, scores in signals.items():
        share = weights[name] / total
        for key, value in scores.items():
            fused[key] = fused.get(key, 0.0) + share * value
    return sorted(fused.items(), key=lambda pair: (-pair[1], pair[0]))


RRF_K = 60  # Cormack, Clarke and Buettcher (2009): the constant of reciprocal rank fusion


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[int]], k: int = RRF_K
) -> list[tuple[int, float]]:
    """(id, sum over the rankings of 1 / (k + rank)) best first, ties by id; rank starts at 1."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking, start=1):
            fused[key] = fused.get(key, 0.0) + 1.0 / (k + rank)
    return sorted(fused.items(), key=lambda pair: (-pair[1], pair[0]))
