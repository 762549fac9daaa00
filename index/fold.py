"""Folding results that say the same thing into one, listing the other sources in `also_in`.

Two results say the same when their passages share much of their wording (the same quote carried
by two articles, or two overlapping chunks of one document), or when their answer sentences do.
Wording is compared as sets of word 4-grams: the share of the smaller set found in the other.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

from index.records import StoredPassage

SHINGLE_WORDS = 4
ANSWER_OVERLAP = 0.5  # answer sentences sharing half their wording are the same answer
_WORD = re.compile(r"\w+")
# ASCII bytes to themselves lowered if `\w` matches them (letters, digits, "_"), else to a space.
_ASCII_WORD_BYTES = bytes(
    ord(chr(c).lower()) if c < 128 and (chr(c).isalnum() or chr(c) == "_") else ord(" ")
    for c in range(256)
)
_NON_ASCII_WORD_CHARACTER = re.compile(r"[^\x00-\x7f\W]")


def casefolded_words(text: str) -> list[str]:
    """The casefolded words (`\\w+`) of `text`. Text whose word characters are all ASCII (most
    text, even with typographic quotes and dashes) is split in bytes, four times faster than
    the regex and the same words; other text word by word, as casefolding may change what
    counts as a word character."""
    if text.isascii() or not _NON_ASCII_WORD_CHARACTER.search(text):
        # Every other character becomes "?", a separator like the rest.
        lowered = text.encode("ascii", "replace").translate(_ASCII_WORD_BYTES)
        return lowered.decode("ascii").split()
    return [word.casefold() for word in _WORD.findall(text)]


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
