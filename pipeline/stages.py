"""The stages of a run, built in one place from the settings: clean, dedupe, chunk, embed.

`build_stages` makes the stages the local engine runs; another engine (Ray) builds these and
wraps them in its own (distributed.py). The chunker, the MinHash signer and the passage encoder
are also made here for whoever needs one alone (a Ray actor, `passages_of`, benchmarks).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from index.encoder import Encoder, passage_encoder
from index.encoder_choice import ingest_backend
from index.model import ModelInfo, load_tokenizer
from index.models import Document
from index.records import Chunk
from index.store.base import Store
from pipeline.chunk import Chunker
from pipeline.clean import Cleaner
from pipeline.dedupe import Deduper, MinHashSigner
from pipeline.embed import Embedder
from pipeline.report import RunReport
from pipeline.settings import PipelineSettings

EncoderFactory = Callable[[], Encoder]


@dataclass(slots=True)
class Stages:
    """What a Runner calls, in this order, on each micro-batch."""

    clean: Callable[[Iterable[Document]], Iterator[Document]]
    dedupe: Deduper
    chunk: Callable[[Iterable[Document]], Iterator[Chunk]]
    embed: Embedder


def build_stages(
    store: Store, settings: PipelineSettings, report: RunReport, encoder_factory: EncoderFactory
) -> Stages:
    """The stages of one run into `store`, counting into `report`."""
    return Stages(
        clean=Cleaner(report),
        dedupe=Deduper(store, report, make_signer(settings)),
        chunk=make_chunker(settings),
        embed=Embedder(encoder_factory, store, report),
    )


def make_chunker(settings: PipelineSettings) -> Chunker:
    """The chunker of the configured model: its tokenizer, its window, the chunk settings."""
    info = ModelInfo.from_setting(settings.model)
    return Chunker(
        load_tokenizer(info.path),
        chunk_tokens=settings.chunk_tokens,
        overlap_tokens=settings.chunk_overlap_tokens,
        max_tokens=info.max_tokens,
    )


def make_signer(settings: PipelineSettings) -> MinHashSigner:
    return MinHashSigner(
        threshold=settings.near_duplicate_threshold,
        permutations=settings.minhash_permutations,
        shingle_words=settings.shingle_words,
    )


def make_encoder(settings: PipelineSettings) -> Encoder:
    """The passage encoder the settings ask for (loading the model takes seconds)."""
    info = ModelInfo.from_setting(settings.model)
    backend = ingest_backend(settings.ingest_encoder, info, settings.cache_dir)
    return passage_encoder(info, backend, settings.cache_dir, settings.embed_batch_size)


def encoder_factory_for(store: Store, settings: PipelineSettings) -> EncoderFactory:
    """Makes the passage encoder on first call (binding an empty store to its model), then
    returns that same encoder: a long-lived writer (a server, a scheduler) loads the model once,
    and a run with nothing new to embed never loads it."""
    made: list[Encoder] = []
    lock = threading.Lock()

    def encoder() -> Encoder:
        with lock:
            if not made:
                made.append(make_encoder(settings))
                store.bind_model(made[0].model_id, made[0].dim)
            return made[0]

    return encoder
