"""Sentence-level evidence: how well a passage's best sentence answers the question.

Two signals, both computed per sentence from what the store keeps:
- meaning: cosine of the question vector with the sentence's vector (pooled from the passage's
  token embeddings when it was embedded, so no model call at query time);
- coverage: the share of the question's information (IDF-weighted terms, stemmed) that the
  sentence contains.
An answer usually sits in one sentence, so a passage is as good as its best sentence; the best
sentence is also the answer shown to the user.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import snowballstemmer

from index.records import StoredPassage

_STEMMER = snowballstemmer.stemmer("porter")
PREFIX_STEM = 4  # shorter stems must match a word's own stem exactly


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    return _STEMMER.stemWord(word.casefold())


def idf(document_count: int, total: int) -> float:
    """BM25's inverse document frequency (never negative)."""
    return math.log(1 + (total - document_count + 0.5) / (document_count + 0.5))


class TermMatcher:
    """Finds which of the question's (stemmed) terms a text contains, with their IDF weights."""

    def __init__(self, terms: Sequence[str], weights: Mapping[str, float]) -> None:
        self.stems: dict[str, float] = {}
        for term in terms:
            self.stems[stem(term)] = max(self.stems.get(stem(term), 0.0), weights.get(term, 0.0))
        self.total = sum(self.stems.values())
        # Stems are (nearly always) prefixes of the words they come from: a regex finds the
        # candidate words, and only those are stemmed to confirm.
        alternatives = "|".join(sorted(map(re.escape, self.stems), key=len, reverse=True))
        self._words = re.compile(rf"\b(?:{alternatives})\w*", re.IGNORECASE) if self.stems else None

    def coverage(self, text: str) -> float:
        """IDF-weighted share of the question's terms found in `text`, in [0, 1]."""
        if self._words is None or self.total <= 0:
            return 0.0
        found = {self._stem_of(word) for word in self._words.findall(text)}
        return sum(self.stems.get(s, 0.0) for s in found) / self.total

    def _stem_of(self, word: str) -> str:
        """The question stem this word carries: its own stem, or a stem of at least
        `PREFIX_STEM` letters that it starts with (settl → settlement, govern → government)."""
        own = stem(word)
        if own in self.stems:
            return own
        lowered = word.casefold()
        for candidate in self.stems:
            if len(candidate) >= PREFIX_STEM and lowered.startswith(candidate):
                return candidate
        return own


@dataclass(slots=True)
class SentenceEvidence:
    row: int  # index of the best sentence, -1 if the passage has none
    meaning: float  # its cosine with the question
    coverage: float  # its share of the question's terms


def best_sentence(
    passage: StoredPassage,
    query_vector: np.ndarray | None,
    matcher: TermMatcher,
    meaning_weight: float = 1.0,
    coverage_weight: float = 1.0,
) -> SentenceEvidence:
    """The sentence with the highest weighted sum of meaning and coverage."""
    if not passage.sentences:
        return SentenceEvidence(-1, 0.0, 0.0)
    if query_vector is not None:
        meaning = passage.sentence_vectors @ query_vector
    else:
        meaning = np.zeros(len(passage.sentences), dtype=np.float32)
    coverage = np.fromiter(
        (matcher.coverage(passage.text[start:end]) for start, end in passage.sentences),
        dtype=np.float32,
        count=len(passage.sentences),
    )
    row = int(np.argmax(meaning_weight * meaning + coverage_weight * coverage))
    return SentenceEvidence(row, float(meaning.max()), float(coverage.max()))
