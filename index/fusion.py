"""Fusing retrieval signals: a weighted sum of min-max normalised scores over the candidate pool.

Each signal is scaled to [0, 1] across the candidates of one question, so BM25's unbounded
scores and cosine similarities add up without calibration; a candidate that a signal did not
score gets that signal's minimum. A signal weighted 0 does not move the score but still breaks
ties. The weights are settings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def normalise(scores: Mapping[int, float]) -> dict[int, float]:
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    span = high - low
    return {key: (value - low) / span if span > 0 else 1.0 for key, value in scores.items()}


def convex_fusion(
    signals: Mapping[str, Mapping[int, float]], weights: Mapping[str, float]
) -> list[tuple[int, float]]:
    """(id, fused score in [0, 1]) best first."""
    total = sum(weights[name] for name in signals) or 1.0
    fused: dict[int, float] = {}
    tiebreak: dict[int, float] = {}
    for name, scores in signals.items():
        for key, value in normalise(scores).items():
            if weights[name] > 0:
                fused[key] = fused.get(key, 0.0) + weights[name] * value / total
            else:
                tiebreak[key] = tiebreak.get(key, 0.0) + value
            fused.setdefault(key, 0.0)
    return sorted(fused.items(), key=lambda pair: (-pair[1], -tiebreak.get(pair[0], 0.0), pair[0]))


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
