"""The library face of ingestion: `ingest(paths_or_documents, data_dir=...)` → RunReport."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from index.encoder import Encoder, passage_encoder
from index.model import ModelInfo, load_tokenizer
from index.models import Document
from index.records import Chunk
from index.store import open_store
from index.store.base import Store
from pipeline.chunk import Chunker
from pipeline.clean import Cleaner
from pipeline.prune import gone_documents
from pipeline.report import RunReport
from pipeline.runner import Runner
from pipeline.settings import PipelineSettings
from pipeline.sources import Input, documents_from, read_paths

if TYPE_CHECKING:
    from pipeline.distributed import RayEngine

def passages_of(paths: Sequence[Path], settings: PipelineSettings) -> list[Chunk]:
    """The distinct passages ingest makes of the files at `paths`, read, cleaned and chunked as
    it does them, one per text (ingest embeds each distinct text once); nothing is stored."""
    info = ModelInfo.from_setting(settings.model)
    chunker = Chunker(
        load_tokenizer(info.path),
        chunk_tokens=settings.chunk_tokens,
        overlap_tokens=settings.chunk_overlap_tokens,
        max_tokens=info.max_tokens,
    )
    report = RunReport()
    documents = read_paths(list(paths), report, settings.max_document_bytes)
    distinct = {chunk.text_hash: chunk for chunk in chunker(Cleaner(report)(documents))}
    return list(distinct.values())


def encoder_factory_for(store: Store, settings: PipelineSettings) -> Callable[[], Encoder]:
    """Makes the passage encoder on first call (binding an empty store to its model), then
    returns that same encoder: a long-lived caller such as the server loads the model once."""
    info = ModelInfo.from_setting(settings.model)
    encoder: list[Encoder] = []
    lock = threading.Lock()

    def encoder_factory() -> Encoder:
        with lock:
            if not encoder:
                made = passage_encoder(
                    info, settings.ingest_encoder, settings.cache_dir, settings.embed_batch_size
                )
                store.bind_model(info.model_id, made.dim)
                encoder.append(made)
            return encoder[0]

    return encoder_factory


def make_runner(
    store: Store,
    settings: PipelineSettings,
    report: RunReport,
    on_batch: Callable[[RunReport], None] | None = None,
    stop: threading.Event | None = None,
    encoder_factory: Callable[[], Encoder] | None = None,
) -> Runner:
    """A Runner bound to the store's model (binding an empty store to the configured one)."""
    info = ModelInfo.from_setting(settings.model)
    encoder_factory = encoder_factory or encoder_factory_for(store, settings)
    recorded = store.model_id()
    if recorded is not None and recorded != info.model_id:
        store.bind_model(info.model_id, 0)  # raises ModelMismatch with the explanation
    chunker = Chunker(
        load_tokenizer(info.path),
        chunk_tokens=settings.chunk_tokens,
        overlap_tokens=settings.chunk_overlap_tokens,
        max_tokens=info.max_tokens,
    )
    return Runner(store, settings, encoder_factory, chunker, report, on_batch, stop)


def ingest(
    inputs: Input | Iterable[Input],
    data_dir: str | Path | None = None,
    settings: PipelineSettings | None = None,
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    job: str = "ingest",
    wait: bool = False,
    prune: Sequence[str | Path] = (),
    on_batch: Callable[[RunReport], None] | None = None,
    stop: threading.Event | None = None,
    engine: RayEngine | None = None,
) -> RunReport:
    """Ingest files, folders, Documents or dicts; return the run report.

    `prune` names folders whose indexed files are gone: their documents are deleted first
    (before anything is read, so a renamed file lands as an original, not as a copy).
    `engine` runs the stages on a cluster (`pipeline.distributed.RayEngine`); by default they
    run in this process. The decisions and the report are the same either way.

    >>> report = ingest(["seeds/"], data_dir="riverbed-data")  # doctest: +SKIP
    >>> report.added
    2
    """
    settings = settings or PipelineSettings()
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": Path(data_dir)})
    if isinstance(inputs, str | Path | Document | dict):
        inputs = [inputs]
    store = open_store(settings)
    try:
        if hasattr(store, "acquire_writer"):
            store.acquire_writer(wait=wait)
        return ingest_into(
            store,
            inputs,
            settings,
            include=include,
            exclude=exclude,
            job=job,
            prune=prune,
            on_batch=on_batch,
            stop=stop,
            engine=engine,
        )
    finally:
        store.close()


def ingest_into(
    store: Store,
    inputs: Iterable[Input],
    settings: PipelineSettings,
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    job: str = "ingest",
    prune: Sequence[str | Path] = (),
    on_batch: Callable[[RunReport], None] | None = None,
    stop: threading.Event | None = None,
    encoder_factory: Callable[[], Encoder] | None = None,
    report: RunReport | None = None,
    engine: RayEngine | None = None,
) -> RunReport:
    """One recorded run into an open store whose writer the caller already is.

    Pass the same `encoder_factory` (see `encoder_factory_for`) to every call to load the model
    once across runs; pass `report` when the inputs report their own failures into it.
    """
    report = report or RunReport()
    run_id = store.start_run(job)
    status, error = "failed", ""
    try:
        runner = make_runner(store, settings, report, on_batch, stop, encoder_factory)
        runner.delete(gone_documents(store, prune))
        if engine is None:
            runner.run(documents_from(inputs, report, settings.max_document_bytes, include, exclude))
        else:
            engine.run(runner, inputs, settings, include, exclude)
        status = run_status(report, interrupted=stop is not None and stop.is_set())
        error = nothing_landed(report) if status == "failed" else ""
    except BaseException as err:
        error = str(err) or type(err).__name__
        raise
    finally:
        store.finish_run(run_id, status, report.model_dump(), error)
    return report


def run_status(report: RunReport, interrupted: bool = False) -> str:
    """ok; partial (some documents failed); failed (documents failed and none landed);
    interrupted (stopped by a signal after a committed micro-batch)."""
    if interrupted:
        return "interrupted"
    if not report.failed:
        return "ok"
    landed = report.added + report.updated + report.unchanged
    landed += report.duplicates + report.near_duplicates
    return "partial" if landed else "failed"


def nothing_landed(report: RunReport) -> str:
    """Why a run in which every document failed failed: the first failure and the count."""
    first = report.failures[0]
    more = f" (and {report.failed - 1} more)" if report.failed > 1 else ""
    return f"every document failed: {first.source}: {first.reason}{more}"
