"""Synthetic English at any size, with the topical structure real collections have.

Documents drawn from random sentences of a fixed pool (bench/b_scale.py) are each a blend of
every topic at once: under the fake encoder (hashed bags of words) every passage is then about
as close to a question as every other, a flat neighbourhood no real collection has and no index
but an exhaustive scan can search. Real text clusters by subject. Here each document is about
one of TOPICS topics, a topic being a few hundred words of wordfreq's English list with Zipf
weights of their own; a sentence mixes the commonest English words (as English does: about
half of any text) with words of its document's topic. Questions are a few of a topic's words
with some common ones. Same seed, same text, so a cached corpus can be checked and reused.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

TOPICS = 5000
TOPIC_WORDS = 300
COMMON_WORDS = 200  # the commonest English words, shared by every topic
VOCABULARY = 50_000
SENTENCES_PER_DOCUMENT = (30, 50)
WORDS_PER_SENTENCE = (8, 24)
TOPIC_SHARE = 0.5  # of a sentence's words


class Language:
    """The words, topics and their weights for one seed."""

    def __init__(self, seed: int = 11) -> None:
        import wordfreq

        words = [w for w in wordfreq.top_n_list("en", VOCABULARY * 2) if w.isalpha()][:VOCABULARY]
        self.common = np.asarray(words[:COMMON_WORDS])
        self.rare = np.asarray(words[COMMON_WORDS:])
        rng = np.random.default_rng(seed)
        self.topics = np.stack(
            [rng.choice(len(self.rare), TOPIC_WORDS, replace=False) for _ in range(TOPICS)]
        )
        self.common_cumulative = np.cumsum(_zipf(COMMON_WORDS))
        self.topic_cumulative = np.cumsum(_zipf(TOPIC_WORDS))

    def words(self, rng: np.random.Generator, topic: int, count: int) -> list[str]:
        """`count` words of a text on `topic`, in order."""
        from_topic = rng.random(count) < TOPIC_SHARE
        common = self.common[_draw(rng, self.common_cumulative, count)]
        picked = self.topics[topic][_draw(rng, self.topic_cumulative, count)]
        return np.where(from_topic, self.rare[picked], common).tolist()

    def text(self, rng: np.random.Generator, topic: int, sentences: int) -> list[str]:
        """`sentences` sentences on `topic`."""
        lengths = rng.integers(*WORDS_PER_SENTENCE, size=sentences)
        words = self.words(rng, topic, int(lengths.sum()))
        ends = np.cumsum(lengths).tolist()
        return [
            " ".join(words[start:end]).capitalize() + "."
            for start, end in zip([0, *ends[:-1]], ends, strict=True)
        ]

    def question(self, rng: np.random.Generator) -> str:
        topic = int(rng.integers(TOPICS))
        return " ".join(self.words(rng, topic, 10)).capitalize() + "?"


def _draw(rng: np.random.Generator, cumulative: np.ndarray, count: int) -> np.ndarray:
    return np.minimum(np.searchsorted(cumulative, rng.random(count)), len(cumulative) - 1)


def _zipf(count: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, count + 1)
    return weights / weights.sum()


def documents(
    count: int, seed: int = 11, stream: Sequence[int] | None = None, prefix: str = "doc"
) -> Iterator[dict[str, str]]:
    """`count` documents as JSONL records ({"id", "text"}): paragraphs of five sentences.
    `stream` draws other documents of the same language (ids `<prefix>-<n>`)."""
    language = Language(seed)
    rng = np.random.default_rng(seed + 1 if stream is None else list(stream))
    for number in range(count):
        topic = int(rng.integers(TOPICS))
        sentences = language.text(rng, topic, int(rng.integers(*SENTENCES_PER_DOCUMENT)))
        paragraphs = [" ".join(sentences[i : i + 5]) for i in range(0, len(sentences), 5)]
        yield {"id": f"{prefix}-{number}", "text": "\n\n".join(paragraphs)}


def questions(count: int, seed: int = 11) -> list[str]:
    language = Language(seed)
    rng = np.random.default_rng(seed + 2)
    return [language.question(rng) for _ in range(count)]


def write_corpus(
    path: Path, count: int, seed: int = 11, stream: Sequence[int] | None = None, prefix: str = "doc"
) -> None:
    """The JSONL corpus of `count` documents (see `documents`), written through a temporary
    name."""
    partial = path.with_suffix(".partial")
    with partial.open("w") as handle:
        for record in documents(count, seed, stream, prefix):
            handle.write(json.dumps(record) + "\n")
    partial.replace(path)
