"""The one way to write to a store: hold its writer lock, record each run, leave the vectors saved.

Every face and engine writes through a `Writer` (the CLI's ingest, delete and watch, scheduled
runs, HTTP and MCP requests, the Ray engine), so a run's life is written once:

    with open_writer(settings) as writer:          # the store, its writer lock held
        with writer.run("ingest", stop=stop) as run:  # a run recorded as running
            run.runner.feed(documents)             # micro-batches through the stages
    # the vector file saved; the run recorded as ok, partial, failed or interrupted

A long-lived writer (a server, a scheduler) keeps one `Writer` over an open store and takes the
lock per request (`with writer.locked():`) or for its whole life; its encoder is loaded by the
first run that has something to embed and kept for every later one.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from index.model import ModelInfo
from index.store import open_store
from index.store.base import Store, StoreError
from pipeline.report import RunReport
from pipeline.runner import Runner
from pipeline.settings import PipelineSettings
from pipeline.stages import EncoderFactory, Stages, build_stages, encoder_factory_for


@dataclass
class Run:
    """One recorded run: its runner while it goes, then how it ended."""

    job: str
    runner: Runner
    status: str = "running"  # then ok, partial, failed or interrupted
    error: str = ""

    @property
    def report(self) -> RunReport:
        return self.runner.report


class Writer:
    """Writes to one open store (which it does not close)."""

    def __init__(
        self,
        store: Store,
        settings: PipelineSettings,
        encoder_factory: EncoderFactory | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.encoder_factory = encoder_factory or encoder_factory_for(store, settings)

    @contextmanager
    def locked(self, wait: bool = False) -> Iterator[Writer]:
        """Hold the store's writer lock for the block (WriterBusy if another process has it)."""
        self.store.acquire_writer(wait=wait)
        try:
            yield self
        finally:
            self.store.release_writer()

    def stages(self, report: RunReport) -> Stages:
        """The local engine's stages for a run that counts into `report`."""
        return build_stages(self.store, self.settings, report, self.encoder_factory)

    @contextmanager
    def run(
        self,
        job: str,
        *,
        report: RunReport | None = None,
        stop: threading.Event | None = None,
        on_batch: Callable[[RunReport], None] | None = None,
        stages: Stages | None = None,
    ) -> Iterator[Run]:
        """A recorded run: whatever the block feeds or deletes through `run.runner` is in it.

        When the block ends the vector file is saved and the run recorded with its report:
        ok, partial (some documents failed), failed (the block raised, or every document
        failed) or interrupted (`stop` cut a feed short). An exception is recorded, then raised.
        """
        report = report or RunReport()
        started = time.perf_counter()
        run_id = self.store.start_run(job)
        run: Run | None = None
        status, error, raised = "failed", "", False
        try:
            check_model(self.store, self.settings)
            runner = Runner(
                self.store,
                stages or self.stages(report),
                self.settings.batch_documents,
                report,
                on_batch,
                stop,
            )
            run = Run(job, runner)
            yield run
            runner.save_vectors()
            status = run_status(report, interrupted=runner.interrupted)
            error = nothing_landed(report) if status == "failed" else ""
        except BaseException as err:
            raised = True
            error = str(err) or type(err).__name__
            if run is not None:
                _save_if_possible(run.runner)
            raise
        finally:
            report.seconds = round(report.seconds + time.perf_counter() - started, 3)
            try:
                self.store.finish_run(run_id, status, report.model_dump(), error)
            except StoreError:
                if not raised:
                    raise
                # The disk that failed the run fails its record too: the next writer marks
                # it crashed; the run's own error is the one to show.
            if run is not None:
                run.status, run.error = status, error


@contextmanager
def open_writer(
    settings: PipelineSettings, *, wait: bool = False, create: bool = True
) -> Iterator[Writer]:
    """The store that `settings` name, open, with its writer lock held until the block ends."""
    store = open_store(settings, create=create)
    try:
        writer = Writer(store, settings)
        with writer.locked(wait=wait):
            yield writer
    finally:
        store.close()


def check_model(store: Store, settings: PipelineSettings) -> None:
    """Refuse, before any work, to write to an index bound to another model."""
    recorded = store.model_id()
    configured = ModelInfo.from_setting(settings.model).model_id
    if recorded is not None and recorded != configured:
        store.bind_model(configured, 0)  # refuses, saying which model the index was built with


def run_status(report: RunReport, interrupted: bool = False) -> str:
    """ok; partial (some documents failed); failed (documents failed and none landed);
    interrupted (stopped by a signal after a committed micro-batch)."""
    if interrupted:
        return "interrupted"
    if not report.failed:
        return "ok"
    landed = report.added + report.updated + report.unchanged
    landed += report.duplicates + report.near_duplicates + report.deleted
    return "partial" if landed else "failed"


def nothing_landed(report: RunReport) -> str:
    """Why a run in which every document failed failed: the first failure and the count."""
    first = report.failures[0]
    more = f" (and {report.failed - 1} more)" if report.failed > 1 else ""
    return f"every document failed: {first.source}: {first.reason}{more}"


def _save_if_possible(runner: Runner) -> None:
    """After a failure, keep the vector file in step if that works: it is a derived view, so a
    second failure here (the disk that failed the run) changes nothing and hides nothing."""
    with contextlib.suppress(Exception):
        runner.save_vectors()
