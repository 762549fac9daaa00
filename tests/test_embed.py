"""The embed stage holds a chunk's sentence vectors as the stores keep them, from the moment they
are embedded: the bytes a store writes are those of the encoder's float32 vectors, in a quarter
of the memory while a long document's chunks wait for their transaction.

About what the stage holds, not the model: the fake encoder (riverbed/testing/encoder.py).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from index.model import ModelInfo
from index.records import Chunk
from index.store import sentence_codes
from index.store.sqlite_faiss import SqliteFaissStore
from pipeline.embed import Embedder
from pipeline.report import RunReport
from riverbed.testing.encoder import FakeEncoder

TEXTS = [
    "The heron waits. It strikes at a fish. The river runs on.",
    "Mills stood on the bank. Their wheels turned.",
    "",
]


def _chunks() -> list[Chunk]:
    chunks = []
    for ordinal, text in enumerate(TEXTS):
        ends = [i + 1 for i, char in enumerate(text) if char == "."]
        starts = [0, *[end + 1 for end in ends]][: len(ends)]
        spans = list(zip(starts, ends, strict=True))
        chunks.append(Chunk("doc", ordinal, 0, len(text), text, f"h{ordinal}", 9, spans))
    return chunks


@pytest.mark.parametrize(
    "written", [sentence_codes.PACKED, sentence_codes.CODES, sentence_codes.FLOAT16]
)
def test_sentence_vectors_are_held_as_the_store_writes_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, written: int
) -> None:
    monkeypatch.setattr(sentence_codes, "WRITTEN", written)
    encoder = FakeEncoder(ModelInfo.from_setting("all-MiniLM-L6-v2"))
    store = SqliteFaissStore(tmp_path / "data")
    store.bind_model(encoder.model_id, encoder.dim)
    try:
        chunks = list(Embedder(lambda: encoder, store, RunReport())(_chunks()))
    finally:
        store.close()
    floats = encoder.embed_passages([c.text for c in chunks], [c.sentences for c in chunks])
    for chunk, vectors in zip(chunks, floats.sentence_vectors, strict=True):
        held = chunk.sentence_vectors
        assert held is not None and held.shape == vectors.shape
        assert sentence_codes.encode(held) == sentence_codes.encode(vectors)
        assert held.itemsize == (2 if written == sentence_codes.FLOAT16 else 1)
        assert chunk.vector is not None
        np.testing.assert_array_equal(
            chunk.vector, encoder.embed_passages([chunk.text], [[]]).vectors[0]
        )
