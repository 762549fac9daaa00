"""The library face of ingestion: `ingest(paths_or_documents, data_dir=...)` → RunReport.

A run goes through a `Writer` (writer.py) on an engine (engine.py: this process by default, or
Ray), so it is recorded, decided and reported the same way wherever its stages run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from index.models import Document
from index.records import Chunk
from pipeline.clean import Cleaner
from pipeline.engine import Engine, LocalEngine, RunInputs
from pipeline.prune import gone_documents
from pipeline.report import RunReport
from pipeline.settings import PipelineSettings
from pipeline.sources import Input, read_paths
from pipeline.sources.inputs import Web
from pipeline.stages import make_chunker
from pipeline.writer import Run, Writer, open_writer


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
    engine: Engine | None = None,
) -> RunReport:
    """Ingest files, folders, Documents or records (dicts); return the run report.

    `prune` names folders whose indexed files are gone: their documents are deleted first
    (before anything is read, so a renamed file lands as an original, not as a copy).
    `engine` runs the stages elsewhere (`pipeline.distributed.RayEngine`); by default they run
    in this process. The decisions and the report are the same either way.

    >>> report = ingest(["seeds/"], data_dir="riverbed-data")  # doctest: +SKIP
    >>> report.added
    2
    """
    settings = settings or PipelineSettings()
    if data_dir is not None:
        settings = settings.model_copy(update={"data_dir": Path(data_dir)})
    if isinstance(inputs, str | Path | Document | dict):
        inputs = [inputs]
    with open_writer(settings, wait=wait) as writer:
        run = ingest_with(
            writer,
            inputs,
            include=include,
            exclude=exclude,
            job=job,
            prune=prune,
            on_batch=on_batch,
            stop=stop,
            engine=engine,
        )
    return run.report


def ingest_with(
    writer: Writer,
    inputs: Iterable[Input],
    *,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    job: str = "ingest",
    prune: Sequence[str | Path] = (),
    on_batch: Callable[[RunReport], None] | None = None,
    stop: threading.Event | None = None,
    report: RunReport | None = None,
    engine: Engine | None = None,
) -> Run:
    """One recorded run through `writer`, whose lock the caller holds.

    Pass `report` when the inputs report their own failures into it (records read from a
    request, say)."""
    report = report or RunReport()
    given = RunInputs(inputs, writer.settings, report, include, exclude)
    session = (engine or LocalEngine(web_of(writer))).session(given)
    stages = session.stages(writer.stages(report))
    with writer.run(job, report=report, stop=stop, on_batch=on_batch, stages=stages) as run:
        run.runner.delete(gone_documents(writer.store, prune))
        run.runner.feed(session.documents())
    return run


def web_of(writer: Writer) -> Web:
    """Reading URLs and feeds for a run through `writer` (whose catalog says what was seen)."""
    return Web(writer.settings, known=lambda ids: set(writer.store.document_states(ids)))


def passages_of(paths: Sequence[Path], settings: PipelineSettings) -> list[Chunk]:
    """The distinct passages ingest makes of the files at `paths`, read, cleaned and chunked as
    it does them, one per text (ingest embeds each distinct text once); nothing is stored."""
    report = RunReport()
    documents = read_paths(list(paths), report, settings.max_document_bytes)
    chunker = make_chunker(settings)
    distinct = {chunk.text_hash: chunk for chunk in chunker(Cleaner(report)(documents))}
    return list(distinct.values())
