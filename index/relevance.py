"""What a search result's scores mean: quantities with an absolute meaning, the same for every
question and every index, so one threshold can tell an answer from no answer.

- Cosine, against the model's own calibration: a model gives unrelated texts some cosine of its
  own (all-MiniLM-L6-v2 about 0.05, others far more), its `chance` level, measured once per
  encoder on a fixed set of unrelated sentences. A cosine counts by how far it rises from
  chance towards 1.
- BM25, against the most the question's terms could score: each term's IDF times (k1 + 1), the
  limit of its saturating term frequency. A share of 1 would be every term, each very often.
- Term coverage is a share already: the weighted part of the question's terms that the best
  sentence holds (answer.py).

A result's relevance is the mean of two views of those its mode uses (dense: the two cosines;
lexical: BM25 and coverage; hybrid: all four): the best cosine, and the mean of them all.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from functools import lru_cache

import numpy as np

from index.encoder import Encoder
from index.store.fts5_terms import BM25_K1

# Sentences on unrelated subjects: their cosines with each other are the model's chance level.
UNRELATED = (
    "The recipe calls for two cups of flour and a pinch of salt.",
    "Parliament passed the budget after a long debate.",
    "The striker scored twice in the second half.",
    "Mitochondria produce most of the cell's energy.",
    "Heavy rain is expected along the coast tonight.",
    "The novel follows three sisters in a small town.",
    "Install the package with the command below.",
    "The painting was sold at auction for a record price.",
    "Interest rates rose for the third month in a row.",
    "The hikers reached the summit before noon.",
    "Her violin concerto premiered in Vienna.",
    "The airport added four new gates last year.",
)


@lru_cache(maxsize=8)
def chance_cosine(encoder: Encoder) -> float:
    """The mean cosine this encoder gives two unrelated sentences (at least 0)."""
    vectors = np.asarray(encoder.embed_queries(list(UNRELATED)), dtype=np.float32)
    cosines = vectors @ vectors.T
    count = len(UNRELATED)
    return max(0.0, float((cosines.sum() - np.trace(cosines)) / (count * (count - 1))))


def calibrated_cosine(cosine: float, chance: float) -> float:
    """How far `cosine` rises from the model's chance level towards 1, in [0, 1]."""
    return min(1.0, max(0.0, (cosine - chance) / (1.0 - chance)))


def bm25_idf(document_count: int, total: int) -> float:
    """The IDF of the stores' BM25 (FTS5's: floored at 1e-6, never negative)."""
    return max(math.log((total - document_count + 0.5) / (document_count + 0.5)), 1e-6)


def bm25_ceiling(document_counts: Mapping[str, int], total: int) -> float:
    """The most BM25 a passage could score on these terms. A term no passage holds counts too
    (the question asked for it): a question half about words the index lacks scores at most
    half."""
    return sum(bm25_idf(count, total) * (BM25_K1 + 1) for count in document_counts.values())


def legible_share(document_counts: Mapping[str, int]) -> float:
    """The share of the question's terms that are words at all: known to English (wordfreq)
    or held by the index. A model still gives a string of letters it cannot read some cosine
    with everything; that cosine says nothing."""
    from index.word_frequency import zipf_frequency

    if not document_counts:
        return 1.0
    known = sum(count > 0 or zipf_frequency(term) > 0 for term, count in document_counts.items())
    return known / len(document_counts)


def relevance(evidence: Mapping[str, float], legible: float = 1.0) -> float:
    """A result's relevance in [0, 1] from its calibrated signals: the mean of two views, its
    best cosine (meaning alone can show an answer put in other words), counted for the share of
    the question that is legible, and the mean of all its signals (meaning and words agreeing).
    A mode without cosines has only the second."""
    if not evidence:
        return 0.0
    agreement = sum(evidence.values()) / len(evidence)
    cosines = [evidence[name] for name in ("dense", "sentence") if name in evidence]
    found = (legible * max(cosines) + agreement) / 2 if cosines else agreement
    return min(1.0, max(0.0, found))
