"""Pages over HTTP: `riverbed ingest https://…` fetches a page (or a PDF, an office file…) and
reads it by its content type with the reader of that format.

One httpx client for the run: redirects followed (up to a limit), timeouts on connecting and on
each read, a deadline for the whole body (a server that never finishes is cut off), a size limit
read as the body streams in (a page over it is dropped unread past the limit), a User-Agent, and
conditional requests (ETag / Last-Modified) for those who keep validators (feeds.py). Every
problem is one line for that URL.
"""

from __future__ import annotations

import codecs
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import urlsplit

import httpx

from index.models import Document
from pipeline.report import RunReport
from pipeline.settings import PipelineSettings
from pipeline.sources.blob import Blob
from pipeline.sources.files import READERS, read_blob
from pipeline.sources.html import NO_MAIN_TEXT, html_document

# Content types riverbed reads, as the suffix of the format that reads them.
CONTENT_TYPES = {
    "text/html": ".html",
    "application/xhtml+xml": ".html",
    "text/plain": ".txt",
    "text/markdown": ".md",
    "application/json": ".json",
    "application/pdf": ".pdf",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
    "message/rfc822": ".eml",
}


def is_url(value: object) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://"))


class FetchError(Exception):
    """Why a URL gave nothing to read, in one line."""


@dataclass(frozen=True, slots=True)
class Fetched:
    url: str  # after redirects
    status: int  # 200, or 304 when a conditional request found nothing new
    content_type: str
    charset: str | None
    body: bytes
    etag: str | None
    last_modified: str | None


class Fetcher:
    """The run's HTTP client, with riverbed's limits; close it (or use `with`) when done."""

    def __init__(self, settings: PipelineSettings) -> None:
        self.max_bytes = settings.max_document_bytes
        self.deadline = settings.http_deadline
        self.client = httpx.Client(
            follow_redirects=True,
            max_redirects=settings.http_max_redirects,
            timeout=httpx.Timeout(settings.http_timeout),
            headers={"User-Agent": settings.user_agent},
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self.client.close()

    def get(self, url: str, etag: str | None = None, last_modified: str | None = None) -> Fetched:
        """The body at `url` (status 304 and no body when the validators still hold)."""
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        started = time.monotonic()
        try:
            with self.client.stream("GET", url, headers=headers) as response:
                if response.status_code == 304:
                    return Fetched(str(response.url), 304, "", None, b"", etag, last_modified)
                if response.status_code >= 400:
                    raise FetchError(f"HTTP {response.status_code} {response.reason_phrase}")
                body = self._body(response, started)
                return Fetched(
                    str(response.url),
                    response.status_code,
                    response.headers.get("content-type", "").split(";")[0].strip().lower(),
                    _known_charset(response.charset_encoding),
                    body,
                    response.headers.get("etag"),
                    response.headers.get("last-modified"),
                )
        except httpx.TooManyRedirects as exc:
            raise FetchError(f"too many redirects (a loop?): {exc}") from exc
        except httpx.TimeoutException as exc:
            raise FetchError(
                f"timed out ({type(exc).__name__}, {self.client.timeout.read}s)"
            ) from exc
        except httpx.InvalidURL as exc:
            raise FetchError(f"not a URL riverbed can fetch: {exc}") from exc
        except httpx.HTTPError as exc:
            raise FetchError(f"cannot fetch: {type(exc).__name__}: {exc}") from exc

    def _body(self, response: httpx.Response, started: float) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchError(
                f"too large: {declared} bytes > limit {self.max_bytes} (RIVERBED_MAX_DOCUMENT_BYTES)"
            )
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise FetchError(
                    f"too large: the body passed the limit of {self.max_bytes} bytes"
                    " (RIVERBED_MAX_DOCUMENT_BYTES)"
                )
            if time.monotonic() - started > self.deadline:
                raise FetchError(f"the body did not finish within {self.deadline:g}s")
            chunks.append(chunk)
        return b"".join(chunks)


def read_url(
    url: str, fetcher: Fetcher, report: RunReport, doc_id: str | None = None
) -> Iterator[Document]:
    """The Documents of the page (or file) at `url`; its id is `doc_id` or the URL as given,
    its source and url the address it was found at (after redirects)."""
    try:
        fetched = fetcher.get(url)
    except FetchError as exc:
        report.fail(url, str(exc))
        return
    yield from documents_of(fetched, doc_id or url, report, fetcher.max_bytes, where=url)


def documents_of(
    fetched: Fetched, doc_id: str, report: RunReport, max_bytes: int, where: str
) -> Iterator[Document]:
    """A fetched body read by the format its content type (or else its URL's suffix) names."""
    suffix = CONTENT_TYPES.get(fetched.content_type)
    if suffix is None:
        suffix = PurePosixPath(urlsplit(fetched.url).path).suffix.lower()
        if suffix not in READERS:
            shown = fetched.content_type or "none given"
            report.fail(where, f"unsupported content type ({shown})")
            return
    if suffix == ".html":
        # Decoded by the charset the server named, else sniffed from the bytes by trafilatura.
        page = (
            fetched.body.decode(fetched.charset, errors="replace")
            if fetched.charset
            else fetched.body
        )
        document = html_document(page, doc_id, fetched.url, fetched.url, url=fetched.url)
        if document is None:
            report.fail(where, NO_MAIN_TEXT)
            return
        yield document
        return
    blob = Blob(fetched.body, doc_id, fetched.url, where, f"page{suffix}")
    for document in read_blob(blob, report, max_bytes):
        yield document.model_copy(update={"url": document.url or fetched.url})


def _known_charset(name: str | None) -> str | None:
    try:
        return codecs.lookup(name).name if name else None
    except LookupError:
        return None
