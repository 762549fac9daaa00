"""Fusing retrieval signals into one ranking score.

The signals are calibrated shares in [0, 1] that mean the same for every question (see
relevance.py), so they add up as they are: no min-max scaling within one question, which would
stretch a weak signal's noise (a few common words matched) to the full range and make the best
candidate score 1 even when nothing answers. A candidate a signal did not score gets 0 from it.

- `strongest_evidence` (hybrid and dense search): signals come in kinds, each kind one sort of
  evidence measured at two grains, the passage and its best sentence (meaning: the two cosines;
  words: BM25 and term coverage). A kind counts by its stronger grain: an answer stated in one
  sentence shows there, a passage about the subject throughout shows in the passage's own score,
  and neither should be averaged down by the other.
- `weighted_sum`: lexical search (BM25, refined by coverage).
- `reciprocal_rank_fusion`: the textbook hybrid the baselines use.
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


def strongest_evidence(
    signals: Mapping[str, Mapping[int, float]],
    kinds: Mapping[str, Sequence[str]],
    weights: Mapping[str, float],
) -> list[tuple[int, float]]:
    """(id, sum over the kinds of weight x the kind's strongest signal, over the weights' total)
    best first, ties by id. Kinds none of whose signals were computed are left out."""
    present = {kind: [signals[n] for n in names if n in signals] for kind, names in kinds.items()}
    present = {kind: scored for kind, scored in present.items() if scored}
    total = sum(weights[kind] for kind in present) or 1.0
    fused: dict[int, float] = {}
    for kind, scored in present.items():
        share = weights[kind] / total
        for key in {key for scores in scored for key in scores}:
            strongest = max(scores.get(key, 0.0) for scores in scored)
            fused[key] = fused.get(key, 0.0) + share * strongest
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
