"""Engines: where a run's stages run. `LocalEngine` runs them in this process; another engine
(`pipeline.distributed.RayEngine`) runs them elsewhere and hands the results to the same
runner, so the run is decided, recorded and reported alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from index.models import Document
from pipeline.report import RunReport
from pipeline.settings import PipelineSettings
from pipeline.sources import Input, documents_from
from pipeline.sources.inputs import Web
from pipeline.stages import Stages


@dataclass(frozen=True)
class RunInputs:
    """What one run reads (paths, Documents, records), with the walk's globs, and the report
    that its failures go to."""

    inputs: Iterable[Input]
    settings: PipelineSettings
    report: RunReport
    include: Sequence[str] = ()
    exclude: Sequence[str] = ()


class EngineSession(Protocol):
    """One run's work on an engine: the stages it wants, and the documents it reads (a
    generator that starts what the engine needs when the run first pulls from it, and stops it
    when it is closed)."""

    def stages(self, local: Stages) -> Stages: ...

    def documents(self) -> Iterator[Document]: ...


class Engine(Protocol):
    def session(self, given: RunInputs) -> EngineSession: ...


class LocalEngine:
    """The stages in this process, over documents read here (URLs and feeds through `web`)."""

    def __init__(self, web: Web | None = None) -> None:
        self.web = web

    def session(self, given: RunInputs) -> EngineSession:
        return _LocalSession(given, self.web)


@dataclass(frozen=True)
class _LocalSession:
    given: RunInputs
    web: Web | None

    def stages(self, local: Stages) -> Stages:
        return local

    def documents(self) -> Iterator[Document]:
        given = self.given
        return documents_from(
            given.inputs,
            given.report,
            given.settings.max_document_bytes,
            given.include,
            given.exclude,
            web=self.web,
        )
