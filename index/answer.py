"""Sentence-level evidence: how well a passage's best sentence answers the question.

Two signals, both computed per sentence from what the store keeps:
- meaning: cosine of the question vector with the sentence's vector (pooled from the passage's
  token embeddings when it was embedded, so no model call at query time);
- coverage: the share of the question's information that the sentence contains. Each question
  term weighs its IDF in the index times its specificity in general English (wordfreq): in a
  small index IDF alone is noise ("ask" may be rarer than "NATO" among a dozen passages), and a
  word common everywhere says little about where the answer is.
An answer usually sits in one sentence, so the best sentence is also the answer shown.
"""

from __future__ import annotations

import bisect
import math
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import snowballstemmer

from index.records import StoredPassage

_STEMMER = snowballstemmer.stemmer("porter")
PREFIX_STEM = 4  # shorter stems must match a word's own stem exactly
COMMONEST_ZIPF = 7.0  # Zipf frequency of the commonest English words ("the" is 7.7)
MIN_SPECIFICITY = 0.5


@lru_cache(maxsize=200_000)
def stem(word: str) -> str:
    return _STEMMER.stemWord(word.casefold())


def idf(document_count: int, total: int) -> float:
    """BM25's inverse document frequency (never negative)."""
    return math.log(1 + (total - document_count + 0.5) / (document_count + 0.5))


@lru_cache(maxsize=100_000)
def specificity(term: str, language: str = "en") -> float:
    """How rare a word is in general use: 7 - its Zipf frequency (words unknown to wordfreq,
    like names, are the most specific)."""
    from index.word_frequency import zipf_frequency

    return max(MIN_SPECIFICITY, COMMONEST_ZIPF - zipf_frequency(term, language))


class TermMatcher:
    """Finds which of the question's (stemmed) terms a text contains, with their weights."""

    def __init__(self, terms: Sequence[str], weights: Mapping[str, float]) -> None:
        self.stems: dict[str, float] = {}
        for term in terms:
            weight = weights.get(term, 0.0) * specificity(term)
            self.stems[stem(term)] = max(self.stems.get(stem(term), 0.0), weight)
        self.total = sum(self.stems.values())
        # A regex finds candidate words by what each term shares with its stem (a stem may end
        # unlike its word: zelensky -> zelenski); only those words are stemmed to confirm.
        prefixes = {os.path.commonprefix([term.casefold(), stem(term)]) or term for term in terms}  # noqa: RUF071
        sorted_prefixes = sorted(prefixes, key=len, reverse=True)
        alternatives = "|".join(map(re.escape, sorted_prefixes))
        self._words = re.compile(rf"\b(?:{alternatives})\w*", re.IGNORECASE) if self.stems else None
        # For ASCII terms, a pattern that Python's re scans twice as fast, on the lowered text:
        # it starts with the terms, which lets re skip ahead on their first letters, and checks
        # the word start after each (`c(?<!\w{2})`), not before (see _term_words for when).
        if self.stems and alternatives.isascii():
            after_word_start = (f"{re.escape(p)}(?<!\\w{{{len(p) + 1}}})" for p in sorted_prefixes)
            self._ascii_words = re.compile(rf"(?:{'|'.join(after_word_start)})\w*")
        else:
            self._ascii_words = None
        self._carried: dict[str, str] = {}  # word -> _stem_of(word), for this question

    def coverage(self, text: str) -> float:
        """Weighted share of the question's terms found in `text`, in [0, 1]."""
        return self.coverages(text, [(0, len(text))])[0]

    def coverages(self, text: str, spans: Sequence[tuple[int, int]]) -> np.ndarray:
        """`coverage` of each span of `text`, in one pass over the text."""
        shares = np.zeros(len(spans), dtype=np.float32)
        if self._words is None or self.total <= 0 or not spans:
            return shares
        starts = [start for start, _ in spans]
        weights, carried_stems = self.stems, self._carried
        found: dict[int, set[str]] = {}
        for match in self._term_words(text):
            word = match.group()
            carried = carried_stems.get(word)
            if carried is None:
                carried = carried_stems[word] = self._stem_of(word)
            if not weights.get(carried):
                continue  # a word that only looks like a question term (c -> class)
            row = bisect.bisect_right(starts, match.start()) - 1
            if row >= 0 and match.end() <= spans[row][1]:
                found.setdefault(row, set()).add(carried)
        for row, stems in found.items():
            shares[row] = sum(weights[s] for s in stems) / self.total
        return shares

    def _term_words(self, text: str) -> Iterator[re.Match[str]]:
        """Words of `text` that start like one of the question's terms."""
        if self._ascii_words is not None:
            lowered = text.lower()
            # The case-blind pattern's words, when lowering kept each character one character
            # (so offsets hold; none changes from word to non-word) and there is neither of
            # the two letters re also matches to ASCII ones (ı to i, ſ to s).
            if text.isascii() or (
                len(lowered) == len(text) and "ı" not in text and "ſ" not in text
            ):
                return self._ascii_words.finditer(lowered)
        return self._words.finditer(text)

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
    meaning: float  # the highest cosine of a sentence with the question
    coverage: float  # the highest share of the question's terms in a sentence


def best_sentences(
    passages: Mapping[int, StoredPassage],
    query_vector: np.ndarray | None,
    matcher: TermMatcher,
    meaning_weight: float = 1.0,
    coverage_weight: float = 1.0,
    coverages: Mapping[int, np.ndarray] | None = None,
) -> dict[int, SentenceEvidence]:
    """Each passage's sentence with the highest weighted sum of meaning and coverage (the first
    of equals), with the highest of each; one product covers all the passages' sentences.

    `coverages` holds `matcher.coverages` of the passages that have them already."""
    coverages = coverages or {}
    found = {pid: SentenceEvidence(-1, 0.0, 0.0) for pid in passages}
    spoken = [(pid, p) for pid, p in passages.items() if p.sentences]
    if not spoken:
        return found
    counts = [len(p.sentences) for _, p in spoken]
    starts = np.cumsum([0, *counts[:-1]])
    if query_vector is not None:
        meaning = np.concatenate([p.sentence_vectors for _, p in spoken]) @ query_vector
    else:
        meaning = np.zeros(sum(counts), dtype=np.float32)
    coverage = np.concatenate(
        [
            known
            if (known := coverages.get(pid)) is not None
            else matcher.coverages(p.text, p.sentences)
            for pid, p in spoken
        ]
    )
    combined = meaning_weight * meaning + coverage_weight * coverage
    passage_of = np.repeat(np.arange(len(spoken)), counts)
    # Sorted by passage, then best first; the sort is stable, so the first of equals wins.
    best = np.lexsort((-combined, passage_of))[starts] - starts
    top_meaning = np.maximum.reduceat(meaning, starts).tolist()
    top_coverage = np.maximum.reduceat(coverage, starts).tolist()
    for (pid, _), row, most_meaning, most_coverage in zip(
        spoken, best.tolist(), top_meaning, top_coverage, strict=True
    ):
        found[pid] = SentenceEvidence(row, most_meaning, most_coverage)
    return found
