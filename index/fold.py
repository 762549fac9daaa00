"""Folding results that say the same thing into one, listing the other sources in `also_in`.

Two results say the same when their passages share much of their wording (the same quote carried
by two articles, or two overlapping chunks of one document), or when their answer sentences do.
Wording is compared as sets of word 4-grams: the share of the smaller set found in the other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

from index.lexical import casefolded_words
from index.records import StoredPassage

SHINGLE_WORDS = 4
ANSWER_OVERLAP = 0.5  # answer sentences sharing half their wording are the same answer


def shingles(text: str, size: int = SHINGLE_WORDS) -> frozenset[tuple[str, ...]]:
    words = casefolded_words(text)
    if len(words) <= size:
        return frozenset([tuple(words)])
    return frozenset(zip(*(words[i:] for i in range(size)), strict=False))


def overlap(first: frozenset, second: frozenset) -> float:
    """Share of the smaller shingle set that the other contains."""
    if not first or not second:
        return 0.0
    return len(first & second) / min(len(first), len(second))


@dataclass(eq=False)
class Candidate:
    """A fused search candidate with its answer sentence, before folding."""

    passage: StoredPassage
    score: float
    answer_row: int
    relevance: float = 0.0
    folded: list[str] = field(default_factory=list)

    @property
    def answer_text(self) -> str:
        if self.answer_row < 0:
            return ""
        start, end = self.passage.sentences[self.answer_row]
        return self.passage.text[start:end]

    @cached_property
    def passage_shingles(self) -> frozenset:
        return shingles(self.passage.text)

    @cached_property
    def answer_shingles(self) -> frozenset:
        return shingles(self.answer_text)

    def says_the_same_as(self, other: Candidate, passage_overlap: float) -> bool:
        if self.passage.passage_id == other.passage.passage_id:
            return True
        if overlap(self.answer_shingles, other.answer_shingles) >= ANSWER_OVERLAP:
            return True
        return overlap(self.passage_shingles, other.passage_shingles) >= passage_overlap


def fold(candidates: Sequence[Candidate], k: int, passage_overlap: float) -> list[Candidate]:
    """The first `k` distinct candidates; each later one that says the same as a kept one lends
    its sources to it."""
    kept: list[Candidate] = []
    for candidate in candidates:
        same = next((c for c in kept if candidate.says_the_same_as(c, passage_overlap)), None)
        if same is not None:
            same.folded += [candidate.passage.source, *candidate.passage.also_in]
        elif len(kept) < k:
            kept.append(candidate)
    return kept
