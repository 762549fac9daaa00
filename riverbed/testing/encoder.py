"""A tiny deterministic stand-in for the embedding model, for tests and benchmarks that are about
something other than retrieval quality (crash safety, locking, memory, bad input, scale).

Vectors are hashed bags of words: texts that share words get similar vectors, so a dense search
for a document's own words still finds it. Loading it takes no time, where the real model takes
seconds per process. It is not a user feature: nothing in `index/`, `pipeline/` or the faces knows about it.

    python -m riverbed.testing [riverbed arguments]     # the riverbed CLI with the fake model

`FAKE_ENCODER_DELAY` (seconds, default 0) makes every passage batch take at least that long, so
a test can catch an ingest in the middle of its work.
"""

from __future__ import annotations

import os
import re
import time
import zlib
from collections.abc import Sequence

import numpy as np

from index.encoder import EmbeddedPassages, normalize_rows
from index.model import ModelInfo

DIM = 384  # the real model's width, so vector files and catalog rows have realistic sizes
_WORD = re.compile(r"\w+")


def _bag(text: str) -> np.ndarray:
    vector = np.zeros(DIM, dtype=np.float32)
    for word in _WORD.findall(text.lower()):
        bucket = zlib.crc32(word.encode())
        vector[bucket % DIM] += 1.0 if bucket & 0x80000000 else -1.0
    if not vector.any():
        vector[0] = 1.0
    return vector


class FakeEncoder:
    """Same interface as the real encoders; `model_id` is the configured model's, so an index it
    builds opens with the default settings."""

    def __init__(self, info: ModelInfo) -> None:
        self.model_id = info.model_id
        self.dim = DIM
        self.delay = float(os.environ.get("FAKE_ENCODER_DELAY", "0") or 0)

    def embed_passages(
        self, texts: Sequence[str], sentence_spans: Sequence[Sequence[tuple[int, int]]]
    ) -> EmbeddedPassages:
        if self.delay:
            time.sleep(self.delay)
        if not texts:
            return EmbeddedPassages(np.zeros((0, DIM), np.float32), [], 0)
        vectors = normalize_rows(np.stack([_bag(text) for text in texts]))
        sentences = [
            normalize_rows(np.stack([_bag(text[s:e]) for s, e in spans]))
            if spans
            else np.zeros((0, DIM), np.float32)
            for text, spans in zip(texts, sentence_spans, strict=True)
        ]
        tokens = sum(len(_WORD.findall(text)) for text in texts)
        return EmbeddedPassages(vectors, sentences, tokens)

    def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
        return normalize_rows(np.stack([_bag(text) for text in texts]))


def fake_encoder(info: ModelInfo, *_args: object, **_kwargs: object) -> FakeEncoder:
    """Drop-in for `passage_encoder` and `query_encoder`."""
    return FakeEncoder(info)


def install(monkeypatch: object | None = None) -> None:
    """Put the fake in place of the model for ingestion and queries (via pytest's monkeypatch
    when given, so it is undone after the test)."""
    import index.api
    import pipeline.stages

    targets = [(pipeline.stages, "passage_encoder"), (index.api, "query_encoder")]
    for module, name in targets:
        if monkeypatch is not None:
            monkeypatch.setattr(module, name, fake_encoder)  # type: ignore[attr-defined]
        else:
            setattr(module, name, fake_encoder)
