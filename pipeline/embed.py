"""Stage: give each chunk its vectors, embedding each distinct passage text once.

A chunk whose normalised text the store already holds a vector for (the cache, keyed by text
hash within an index bound to one model) is passed on without a vector: the store links it to
the existing passage. The rest are embedded in batches; equal texts within the batch share one
forward pass.

Sentence vectors are held as the stores keep them (index/store/sentence_codes.py: codes of their
directions, a byte a component, a quarter of float32's room) from the moment they are embedded: a long
document's chunks wait with all their vectors for the one transaction that writes them (86 MB of
float32 sentence vectors for a 2000-page PDF), and the store makes the same bytes of either.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np

from index.encoder import Encoder
from index.records import Chunk
from index.store import sentence_codes
from index.store.base import Store
from pipeline.report import RunReport


class Embedder:
    """`Embedder(encoder_factory, store, report)(chunks)` yields the chunks with vectors set.

    The encoder is made on first need, so a run with nothing new never loads the model.
    """

    def __init__(
        self,
        encoder_factory: Callable[[], Encoder],
        store: Store,
        report: RunReport,
        batch_size: int = 256,
    ) -> None:
        self._factory = encoder_factory
        self._encoder: Encoder | None = None
        self.store = store
        self.report = report
        self.batch_size = batch_size

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = self._factory()
        return self._encoder

    def __call__(self, chunks: Iterable[Chunk]) -> Iterator[Chunk]:
        pending: list[Chunk] = []
        for chunk in chunks:
            pending.append(chunk)
            if len(pending) >= self.batch_size:
                yield from self._embed(pending)
                pending = []
        yield from self._embed(pending)

    def embed_anew(self, chunks: list[Chunk]) -> None:
        """Give these chunks vectors whether or not the store knows their text (it did when
        they were embedded, but has lost it since)."""
        first_of: dict[str, Chunk] = {}
        for chunk in chunks:
            first_of.setdefault(chunk.text_hash, chunk)
        self._encode(list(first_of.values()))
        for chunk in chunks:
            leader = first_of[chunk.text_hash]
            chunk.vector, chunk.sentence_vectors = leader.vector, leader.sentence_vectors

    def _encode(self, todo: list[Chunk]) -> None:
        if not todo:
            return
        embedded = self.encoder.embed_passages([c.text for c in todo], [c.sentences for c in todo])
        self.report.tokens_embedded += embedded.tokens
        for chunk, vector, sentences in zip(
            todo, embedded.vectors, embedded.sentence_vectors, strict=True
        ):
            chunk.vector, chunk.sentence_vectors = vector, as_kept(sentences)

    def _embed(self, chunks: list[Chunk]) -> list[Chunk]:
        """Vectors for chunks whose text the store does not know: one encoding per distinct
        text, by its first chunk (or the first that came with a vector), shared with the rest."""
        if not chunks:
            return chunks
        known = self.store.known_passages([c.text_hash for c in chunks])
        leaders: dict[str, Chunk] = {}
        for chunk in chunks:
            if chunk.text_hash in known:
                continue
            leader = leaders.get(chunk.text_hash)
            if leader is None or (leader.vector is None and chunk.vector is not None):
                leaders[chunk.text_hash] = chunk
        for text_hash, leader in leaders.items():
            if leader.vector is not None:
                self.report.tokens_embedded += self._tokens_embedded_elsewhere(text_hash)
        self._encode([leader for leader in leaders.values() if leader.vector is None])
        for chunk in chunks:
            leader = leaders.get(chunk.text_hash)
            if leader is not None and chunk.vector is None:
                chunk.vector, chunk.sentence_vectors = leader.vector, leader.sentence_vectors
        return chunks

    def _tokens_embedded_elsewhere(self, text_hash: str) -> int:
        """Tokens spent on a vector that came with its chunk (none do here; see distributed)."""
        return 0


def as_kept(sentence_vectors: np.ndarray) -> np.ndarray:
    """Sentence vectors (n, dim) rounded as the stores write them (sentence_codes.rounded):
    encoding them again gives the same bytes."""
    return sentence_codes.rounded(sentence_vectors)
