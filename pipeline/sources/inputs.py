"""What `ingest()` accepts, as one stream of Documents: paths (files and folders), URLs of pages,
feeds (`Feed(url)`), Documents, and records (dicts in the JSONL format)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from index.models import Document
from pipeline.report import RunReport
from pipeline.settings import PipelineSettings
from pipeline.sources.feeds import STATE_FILE, Feed, FeedState, read_feed
from pipeline.sources.files import read_paths
from pipeline.sources.records import given_record
from pipeline.sources.web import Fetcher, is_url, read_url

Input = str | Path | Feed | Document | dict[str, Any]


class Web:
    """What reading URLs and feeds needs for one run: an HTTP client (made on first use), the
    feeds' state in the data dir, and which document ids the catalog has."""

    def __init__(self, settings: PipelineSettings, known: Callable[[list[str]], set[str]]) -> None:
        self.settings = settings
        self.known = known
        self._fetcher: Fetcher | None = None
        self._state: FeedState | None = None

    @property
    def fetcher(self) -> Fetcher:
        if self._fetcher is None:
            self._fetcher = Fetcher(self.settings)
        return self._fetcher

    @property
    def state(self) -> FeedState:
        if self._state is None:
            self._state = FeedState(self.settings.data_dir / STATE_FILE)
        return self._state

    def close(self) -> None:
        if self._fetcher is not None:
            self._fetcher.close()


def documents_from(
    inputs: Iterable[Input],
    report: RunReport,
    max_bytes: int,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    *,
    web: Web | None = None,
) -> Iterator[Document]:
    """Paths are read (folders walked), URLs fetched, feeds read (both need `web`), Documents
    pass as they are, anything else is a record (reported by its position among the inputs,
    `documents[i]`, when it is not a good one)."""
    try:
        for position, item in enumerate(inputs):
            if is_url(item) or isinstance(item, Feed):
                yield from _from_web(item, report, web)  # type: ignore[arg-type]
            elif isinstance(item, str | Path):
                yield from read_paths([Path(item)], report, max_bytes, include, exclude)
            elif isinstance(item, Document):
                yield item
            else:
                document = given_record(item, position, report)
                if document is not None:
                    yield document
    finally:
        if web is not None:
            web.close()


def _from_web(item: str | Feed, report: RunReport, web: Web | None) -> Iterator[Document]:
    url = item.url if isinstance(item, Feed) else item
    if web is None:
        report.fail(url, "URLs and feeds are read by ingest only")
        return
    if isinstance(item, Feed):
        yield from read_feed(url, web.fetcher, web.state, web.known, report)
    else:
        yield from read_url(url, web.fetcher, report)
