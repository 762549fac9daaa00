"""`riverbed ingest --engine ray`: the same stages on Ray Data, with the local engine's decisions.

Ray does the work that parallelises; the driver keeps every decision that depends on order:

- reading and cleaning run as Ray tasks, one file at a time (`flat_map`), with the hashes and the
  MinHash signature of each document;
- chunking and embedding run in an actor pool (`map_batches` with `ChunkAndEmbed`, which loads
  the model once per actor); an actor skips documents the store already holds unchanged or as a
  copy, and passages the store already has a vector for;
- the driver feeds the results, in input order, to the local engine's own `Runner`: unchanged?,
  exact and near duplicates, the write of each micro-batch, the run report. Its stages only look
  up what Ray prepared; anything Ray skipped that the driver needs after all (a document that
  stopped being a copy meanwhile) is cleaned, chunked or embedded on the driver.

So a Ray run decides and reports exactly as a local run over the same input would, and writes
through the same store interface. Ray is imported only here, only when `--engine ray` is asked
for (`pip install 'riverbed[scale]'`). With an embedded store the workers must see its folder
(a local Ray); with Postgres they may run anywhere that reaches the database.
"""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from index.encoder import Encoder
from index.model import ModelInfo
from index.models import Document
from index.records import Chunk
from index.store import open_store
from pipeline.clean import Cleaner
from pipeline.dedupe import MinHashSigner, content_hash, similarity
from pipeline.embed import Embedder
from pipeline.engine import RunInputs
from pipeline.report import Failure, RunReport
from pipeline.runner import raw_hash
from pipeline.settings import PipelineSettings
from pipeline.sources import Input, given_record, iter_files, read_file
from pipeline.stages import Stages, make_chunker, make_encoder, make_signer

# Ray's CPUs are scheduling slots. One is kept free of embedding actors for the reading tasks
# (and Ray Data's block splitting, which takes a whole slot): else reading could starve.
READING_CPUS = 1.0
DOCUMENTS_PER_ACTOR_CALL = 8


@dataclass(slots=True)
class Prepared:
    """One document as read, with what Ray did to it; or one input that failed to read."""

    document: Document | None = None  # as read
    raw_hash: str = ""
    cleaned: Document | None = None  # None: no text after cleaning
    content_hash: str = ""
    signature: np.ndarray | None = None
    band_keys: list[int] = field(default_factory=list)
    chunks: list[Chunk] | None = None  # None: not chunked (the store already had it)
    tokens: dict[str, int] = field(default_factory=dict)  # model tokens per embedded passage
    failure: Failure | None = None


# -- on the workers ----------------------------------------------------------------------------


def _prepare(document: Document, signer: MinHashSigner) -> Prepared:
    cleaned = next(iter(Cleaner(RunReport())([document])), None)
    item = Prepared(document=document, raw_hash=raw_hash(document), cleaned=cleaned)
    if cleaned is not None:
        item.content_hash = content_hash(cleaned.text)
        item.signature = signer.signature(cleaned.text)
        item.band_keys = signer.band_keys(item.signature)
    return item


def read_and_clean(
    row: dict[str, Any], settings: PipelineSettings, signer: MinHashSigner
) -> list[dict[str, Prepared]]:
    """Ray task: the documents of one input (a file, or a document given as such), cleaned and
    hashed, with the input's failures in the place the local engine would report them."""
    source = row["input"]
    if isinstance(source, Document):
        return [{"item": _prepare(source, signer)}]
    report = RunReport()
    items: list[dict[str, Prepared]] = []
    reported = 0
    for document in read_file(Path(source), report, settings.max_document_bytes):
        items += [{"item": Prepared(failure=f)} for f in report.failures[reported:]]
        reported = len(report.failures)
        items.append({"item": _prepare(document, signer)})
    items += [{"item": Prepared(failure=f)} for f in report.failures[reported:]]
    return items


class ChunkAndEmbed:
    """Ray actor: chunks and embeds documents, loading the model once, when first needed."""

    def __init__(self, settings: PipelineSettings, threads: int) -> None:
        self.settings = settings
        self.threads = threads
        self.max_tokens = ModelInfo.from_setting(settings.model).max_tokens
        self.chunker = make_chunker(settings)
        self.store = open_store(settings, create=False)
        self._encoder: Encoder | None = None
        self.embedder = Embedder(lambda: self.encoder, self.store, RunReport())

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            import torch

            torch.set_num_threads(self.threads)
            self._encoder = make_encoder(self.settings)
            self.store.bind_model(self._encoder.model_id, self._encoder.dim)
        return self._encoder

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        items: list[Prepared] = list(batch["item"])
        todo = self._worth_chunking([i for i in items if i.cleaned is not None])
        chunks: list[Chunk] = []
        for item in todo:
            assert item.cleaned is not None
            item.chunks = self.chunker.chunk(item.cleaned)
            chunks += item.chunks
        self._embed(chunks, {id(item): item for item in todo})
        return {"item": np.array(items, dtype=object)}

    def _worth_chunking(self, items: list[Prepared]) -> list[Prepared]:
        """Leave out what the store already holds unchanged, or as the original of a copy: the
        driver decides again, and does the work itself should it disagree."""
        states = self.store.document_states([i.cleaned.id for i in items if i.cleaned])
        originals = self.store.find_content([i.content_hash for i in items])
        threshold = self.settings.near_duplicate_threshold
        worth = []
        for item in items:
            assert item.cleaned is not None and item.signature is not None
            doc_id = item.cleaned.id
            state = states.get(doc_id)
            if state is not None and item.content_hash == state.content_hash:
                continue
            if originals.get(item.content_hash, doc_id) != doc_id:
                continue
            if any(
                other != doc_id and similarity(signature, item.signature) >= threshold
                for other, signature in self.store.near_candidates(item.band_keys)
            ):
                continue
            worth.append(item)
        return worth

    def _embed(self, chunks: list[Chunk], owners: dict[int, Prepared]) -> None:
        """Vectors for the chunks whose text the store does not know, by the local engine's
        embed stage; the tokens each new passage took, for the driver's report."""
        for _ in self.embedder(chunks):
            pass
        tokens = {c.text_hash: self._model_tokens(c.text) for c in chunks if c.vector is not None}
        for item in owners.values():
            for chunk in item.chunks or ():
                if chunk.text_hash in tokens:
                    item.tokens[chunk.text_hash] = tokens[chunk.text_hash]

    def _model_tokens(self, text: str) -> int:
        """Tokens the model reads for a passage (special tokens in, past its window out), as the
        encoders count them for the run report."""
        return min(len(self.chunker.tokenizer.encode(text).ids), self.max_tokens)


# -- on the driver -----------------------------------------------------------------------------


class PreparedWork:
    """What Ray prepared for the documents of the micro-batch the driver is on."""

    def __init__(self) -> None:
        self.by_raw: dict[tuple[str, str], Prepared] = {}
        self.by_content: dict[str, Prepared] = {}
        self.by_document: dict[tuple[str, str], Prepared] = {}
        self.tokens: dict[str, int] = {}

    def add(self, item: Prepared) -> None:
        assert item.document is not None
        self.by_raw[(item.document.id, item.raw_hash)] = item
        if item.cleaned is not None:
            self.by_content.setdefault(item.content_hash, item)
            self.by_document[(item.cleaned.id, item.content_hash)] = item
        self.tokens.update(item.tokens)

    def clear(self) -> None:
        self.by_raw.clear()
        self.by_content.clear()
        self.by_document.clear()
        self.tokens.clear()


class PreparedCleaner:
    """The clean stage, taking the cleaned document Ray prepared where there is one."""

    def __init__(
        self, cleaner: Callable[[Iterable[Document]], Iterator[Document]], work: PreparedWork
    ) -> None:
        self.cleaner = cleaner
        self.work = work

    def __call__(self, documents: Iterable[Document]) -> Iterator[Document]:
        for document in documents:
            item = self.work.by_raw.get((document.id, raw_hash(document)))
            if item is not None and item.cleaned is not None:
                yield item.cleaned
            else:  # not prepared, or nothing left after cleaning: the failure is reported here
                yield from self.cleaner([document])


class PreparedSigner(MinHashSigner):
    """The MinHash signer, taking the signature Ray computed where there is one."""

    def __init__(self, signer: MinHashSigner, work: PreparedWork) -> None:
        super().__init__(signer.threshold, signer.permutations, signer.shingle_words)
        self.work = work

    def signature(self, text: str) -> np.ndarray:
        item = self.work.by_content.get(content_hash(text))
        if item is not None and item.signature is not None:
            return item.signature
        return super().signature(text)


class PreparedChunker:
    """The chunk stage, taking the chunks (with vectors) Ray made where there are some."""

    def __init__(
        self, chunk: Callable[[Iterable[Document]], Iterator[Chunk]], work: PreparedWork
    ) -> None:
        self.chunk = chunk
        self.work = work

    def __call__(self, documents: Iterable[Document]) -> Iterator[Chunk]:
        for document in documents:
            item = self.work.by_document.get((document.id, content_hash(document.text)))
            if item is not None and item.chunks is not None:
                yield from item.chunks
            else:
                yield from self.chunk([document])


class PreparedEmbedder(Embedder):
    """The embed stage over chunks that mostly carry their vectors already: it counts them as
    the local stage would, and embeds (on the driver) only what came without."""

    def __init__(self, original: Embedder, work: PreparedWork) -> None:
        super().__init__(lambda: original.encoder, original.store, original.report)
        self.work = work

    def _tokens_embedded_elsewhere(self, text_hash: str) -> int:
        return self.work.tokens.get(text_hash, 0)


def prepared_stages(local: Stages, work: PreparedWork) -> Stages:
    """The local engine's stages, each looking up Ray's work first."""
    local.dedupe.signer = PreparedSigner(local.dedupe.signer, work)
    return Stages(
        clean=PreparedCleaner(local.clean, work),
        dedupe=local.dedupe,
        chunk=PreparedChunker(local.chunk, work),
        embed=PreparedEmbedder(local.embed, work),
    )


@dataclass
class RayEngine:
    """Runs ingestion on Ray: a cluster at `address`, or a local instance sized to the machine."""

    address: str | None = None
    workers: int | None = None  # embed actors; default: one per CPU of the cluster

    def session(self, given: RunInputs) -> RaySession:
        return RaySession(self, given)


class RaySession:
    """One run on Ray: the prepared-work stages, and the documents Ray read, in input order."""

    def __init__(self, engine: RayEngine, given: RunInputs) -> None:
        self.engine = engine
        self.given = given
        settings = given.settings
        self.settings = settings.model_copy(update={"data_dir": settings.data_dir.resolve()})
        self.work = PreparedWork()

    def stages(self, local: Stages) -> Stages:
        return prepared_stages(local, self.work)

    def documents(self) -> Iterator[Document]:
        """Ray is started when the run first asks for a document and stopped when it is done.

        The runner takes a micro-batch, processes it, then asks for the next: what was prepared
        for a batch is forgotten when the next one begins, so memory stays bounded."""
        given = self.given
        rows = list(_rows(given.inputs, given.report, given.include, given.exclude))
        if not rows:
            return
        ray, started = _start_ray(self.engine.address)
        try:
            with warnings.catch_warnings():  # Ray's notes to its own developers
                warnings.simplefilter("ignore", DeprecationWarning)
                prepared = _prepared(self._dataset(rows), given.report)
                for given, item in enumerate(prepared):
                    if given % self.settings.batch_documents == 0:
                        self.work.clear()  # the runner is done with the previous batch
                    self.work.add(item)
                    assert item.document is not None
                    yield item.document
        finally:
            if started:
                ray.shutdown()

    def _dataset(self, rows: list[dict[str, Any]]) -> Any:
        import ray
        import ray.data

        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True  # the driver decides in input order
        context.enable_progress_bars = False
        context.print_on_execution_start = False
        cpus = float(ray.cluster_resources().get("CPU", os.cpu_count() or 1))
        settings = self.settings
        workers = max(1, self.engine.workers or int(cpus))
        actor_cpus = min(1.0, max(0.1, (cpus - READING_CPUS) / workers))
        threads = max(1, int(cpus // workers))
        blocks = min(len(rows), max(8, 4 * int(cpus)))
        return (
            ray.data.from_items(rows, override_num_blocks=blocks)
            .flat_map(
                read_and_clean,
                fn_kwargs={"settings": settings, "signer": make_signer(settings)},
                num_cpus=READING_CPUS,
            )
            # A file of many documents (JSONL) is one block: split it, or one actor gets it all.
            .repartition(target_num_rows_per_block=DOCUMENTS_PER_ACTOR_CALL)
            .map_batches(
                ChunkAndEmbed,
                fn_constructor_kwargs={"settings": settings, "threads": threads},
                batch_size=DOCUMENTS_PER_ACTOR_CALL,
                batch_format="numpy",
                compute=ray.data.ActorPoolStrategy(size=workers),
                num_cpus=actor_cpus,
                # A lost actor fails the run rather than being restarted: a re-run finishes it
                # (what landed is skipped as unchanged).
                max_restarts=0,
            )
            .iter_rows()
        )


def _rows(
    inputs: Iterable[Input], report: RunReport, include: Sequence[str], exclude: Sequence[str]
) -> Iterator[dict[str, Any]]:
    """One row per file to read (folders are listed here, on the driver) or document given;
    records (dicts) become Documents through the one door, a bad one reported as locally."""
    for position, item in enumerate(inputs):
        if isinstance(item, str | Path):
            for path in iter_files([Path(item)], include, exclude, report=report):
                yield {"input": str(path)}
        elif isinstance(item, Document):
            yield {"input": item}
        elif (document := given_record(item, position, report)) is not None:
            yield {"input": document}


def _prepared(rows: Iterable[dict[str, Any]], report: RunReport) -> Iterator[Prepared]:
    """What Ray prepared for each document it read, in input order; failures reported."""
    for row in rows:
        item: Prepared = row["item"]
        if item.failure is not None:
            report.fail(item.failure.source, item.failure.reason)
        else:
            yield item


def _start_ray(address: str | None) -> tuple[Any, bool]:
    """Ray, connected to `address` or to a new local instance; whether this call started it."""
    os.environ.setdefault("RAY_DATA_LOG_LEVEL", "ERROR")  # a CLI prints its own progress
    try:
        import ray
    except ImportError as err:
        raise ValueError("--engine ray needs Ray: pip install 'riverbed[scale]'") from err
    if ray.is_initialized():
        return ray, False
    quiet = {"logging_level": logging.ERROR, "log_to_driver": False}
    if address:
        ray.init(address=address, **quiet)
    else:
        ray.init(num_cpus=os.cpu_count() or 1, include_dashboard=False, **quiet)
    return ray, True
