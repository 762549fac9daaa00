"""riverbed over the Model Context Protocol: tools to search and read the index (and to feed it).

`build_server(settings)` returns an MCP server (the official SDK's MCPServer, with the fixes of
mcp_protocol.py) with the tools `search`, `get_document` and `stats`, plus `ingest` when
`allow_writes` is set. Each tool parses its arguments, calls the library and returns a typed
result (every tool declares its output schema); mistakes (bad arguments, no index, unknown
document, another ingest writing) come back as tool errors with one clear line, and the server
goes on answering.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from index.api import Index
from index.model import ModelNotFound
from index.models import Filters, IndexStats, Passage
from index.store.base import StoreError, WriterBusy
from pipeline.report import RunReport
from pipeline.writer import Writer
from riverbed.mcp_protocol import RiverbedMCPServer
from riverbed.settings import Settings
from riverbed.version import package_version

MAX_K = 50
MAX_DOCUMENTS_PER_CALL = 1000
DEFAULT_DOCUMENT_CHARS = 20_000
MAX_DOCUMENT_CHARS = 200_000

INSTRUCTIONS = """\
riverbed is a search index over a corpus of documents. Use `search` with a natural-language
question to get the best passages, each with its source and the sentence that answers it
(`answer.text`); cite the source. Use `get_document` with a passage's `doc_id` (and its `start`
offset) to read around it, and `stats` to see what the index holds."""


class SearchFilters(Filters):
    """Restrict a search; every given field must hold."""

    model_config = ConfigDict(extra="forbid")


class SearchResults(BaseModel):
    question: str
    mode: str = Field(description="The retrieval mode that was used.")
    passages: list[Passage] = Field(description="Best first; empty when nothing matches.")


class DocumentText(BaseModel):
    """A stored document with a window of its cleaned text."""

    id: str
    source: str
    title: str
    url: str | None
    published_at: str | None
    metadata: dict[str, Any]
    duplicate_of: str | None = Field(description="Set when this document repeats another one.")
    text: str = Field(description="The cleaned text from `start`, at most `max_chars` long.")
    start: int
    end: int
    length: int = Field(description="Length of the whole cleaned text, in characters.")
    truncated: bool = Field(description="True when the text goes on after `end`.")


class IngestRecord(BaseModel):
    """One document to add, in the JSONL record format; other keys join its metadata."""

    model_config = ConfigDict(extra="allow")

    id: str = Field(min_length=1, description="Stable identity; re-sending an id replaces it.")
    text: str = Field(min_length=1, description="The full text (plain text or HTML).")
    title: str = Field("", description="A human-readable title.")
    url: str | None = Field(None, description="Where it lives; also used as its source.")
    published_at: str | None = Field(None, description="ISO date or datetime.")
    metadata: dict[str, Any] = Field(
        default_factory=dict, description="Free key-value pairs; `search` can filter on them."
    )


# Advertised as IngestRecord but checked one by one by the pipeline, so a bad one fails alone.
DocumentRecord = Annotated[Any, WithJsonSchema(IngestRecord.model_json_schema())]

Question = Annotated[
    str,
    Field(
        min_length=1,
        description="What you want to know, in natural language, e.g. "
        "'what did Zelensky ask of NATO'.",
    ),
]
TopK = Annotated[int, Field(ge=1, le=MAX_K, description="How many passages to return.")]
ModeChoice = Annotated[
    Literal["hybrid", "dense", "lexical"] | None,
    Field(
        description="hybrid (meaning and words, best in general), dense (meaning only) or "
        "lexical (exact words only, for names and codes). Omit for the server's default."
    ),
]
MinRelevance = Annotated[
    float | None,
    Field(
        ge=0.0,
        le=1.0,
        description="Leave out passages less relevant than this, from 0 to 1 (omit for the "
        "server's default, normally 0.25). No passages back means nothing indexed answers.",
    ),
]
SearchFilter = Annotated[
    SearchFilters | None, Field(description="Restrict the search; omit to search everything.")
]

READ_ONLY = ToolAnnotations(read_only_hint=True, open_world_hint=False)
WRITES = ToolAnnotations(
    read_only_hint=False, destructive_hint=True, idempotent_hint=True, open_world_hint=False
)


@contextmanager
def tool_errors() -> Iterator[None]:
    """The library's user-facing errors become tool errors with their one-line message."""
    try:
        yield
    except (StoreError, ModelNotFound, ValueError) as err:
        raise ToolError(str(err)) from err


class Corpus:
    """The index behind the tools, opened at first use so the server starts before it exists.

    With writes allowed, one store serves searches and ingests through one writer, which keeps
    the passage encoder across ingest calls so the model loads once. Ingest calls run one at a
    time.
    """

    def __init__(self, settings: Settings, allow_writes: bool) -> None:
        self.settings = settings
        self.allow_writes = allow_writes
        self._index: Index | None = None
        self._writer: Writer | None = None
        self._lock = threading.Lock()
        self._one_writer = threading.Lock()

    def index(self) -> Index:
        with self._lock:
            if self._index is None:
                index = Index.open(settings=self.settings, create=self.allow_writes)
                index.store.warm()  # a server searches many times: BM25 from memory, FAISS
                self._index, self._writer = index, Writer(index.store, self.settings)
            return self._index

    def ingest(self, records: list[dict[str, Any]]) -> RunReport:
        from pipeline.ingestion import ingest_with
        from pipeline.sources import read_records

        self.index()
        assert self._writer is not None
        report = RunReport()
        with self._one_writer:
            try:
                with self._writer.locked(wait=False) as writer:
                    return ingest_with(
                        writer, read_records(records, report), job="mcp", report=report
                    ).report
            except WriterBusy as err:
                raise ToolError(
                    "another process is writing to this index: retry when it is done"
                ) from err

    def close(self) -> None:
        with self._lock:
            if self._index is not None:
                self._index.close()
                self._index = None


def check_writer_key(settings: Settings, headers: Mapping[str, str] | None) -> None:
    """Over HTTP, writes need `Authorization: Bearer <api_key>` when the settings have a key.

    Over stdio (no headers) the client is whoever started this process, so it may write.
    """
    if settings.api_key is None or headers is None:
        return
    scheme, _, given = (headers.get("authorization") or "").partition(" ")
    expected = settings.api_key.get_secret_value().encode()
    if scheme.lower() != "bearer" or not secrets.compare_digest(given.strip().encode(), expected):
        raise ToolError("ingest needs the API key: send Authorization: Bearer <RIVERBED_API_KEY>")


def build_server(settings: Settings, allow_writes: bool = False) -> MCPServer:
    """An MCP server over the index that `settings` names; `ingest` only with `allow_writes`."""
    corpus = Corpus(settings, allow_writes)

    @asynccontextmanager
    async def lifespan(_server: MCPServer) -> Any:
        try:
            yield {}
        finally:
            corpus.close()

    server = RiverbedMCPServer(
        "riverbed",
        title="riverbed search",
        instructions=INSTRUCTIONS,
        version=package_version(),
        lifespan=lifespan,
        log_level="WARNING",
    )

    @server.tool(annotations=READ_ONLY, title="Search the index")
    def search(
        question: Question,
        k: TopK = 5,
        mode: ModeChoice = None,
        filters: SearchFilter = None,
        min_relevance: MinRelevance = None,
    ) -> SearchResults:
        """Find the passages of the indexed documents that best answer a question.

        Returns up to k distinct passages, best first. Each passage has its `text`, `source`
        (path or URL) and `title`, `doc_id`, `start`/`end` (character offsets of the passage in
        the document's cleaned text), `answer` (the sentence that best answers the question:
        `text`, `start`/`end` in the passage, `doc_start`/`doc_end` in the document), `also_in`
        (other sources that carry the same passage), `relevance` (0 to 1, comparable between
        searches: below about 0.25 it does not answer), `score` (the ranking, within one search),
        `url`, `published_at` and `metadata`. An empty list: nothing indexed answers it.
        """
        chosen = mode or settings.mode
        with tool_errors():
            passages = corpus.index().search(
                question, k=k, mode=chosen, filters=filters, min_relevance=min_relevance
            )
        return SearchResults(question=question, mode=chosen, passages=passages)

    @server.tool(annotations=READ_ONLY, title="Read a document")
    def get_document(
        doc_id: Annotated[str, Field(min_length=1, description="The `doc_id` of a search result.")],
        start: Annotated[
            int, Field(ge=0, description="Character offset to read from (e.g. a passage's start).")
        ] = 0,
        max_chars: Annotated[
            int, Field(ge=1, le=MAX_DOCUMENT_CHARS, description="How many characters to return.")
        ] = DEFAULT_DOCUMENT_CHARS,
    ) -> DocumentText:
        """Read a stored document: its metadata and a window of its cleaned text.

        Offsets are those of `search` results, so `start` = a passage's `start` reads from that
        passage on. `truncated` says whether more text follows; call again from `end` to go on.
        """
        with tool_errors():
            document = corpus.index().document(doc_id)
        if document is None:
            raise ToolError(f"no document with id {doc_id!r}: use the doc_id of a search result")
        text = document["text"] or ""
        end = min(len(text), start + max_chars)
        return DocumentText(
            id=document["id"],
            source=document["source"],
            title=document["title"] or "",
            url=document["url"],
            published_at=document["published_at"],
            metadata=document["metadata"],
            duplicate_of=document["duplicate_of"],
            text=text[start:end],
            start=min(start, len(text)),
            end=end,
            length=len(text),
            truncated=end < len(text),
        )

    @server.tool(annotations=READ_ONLY, title="Index statistics")
    def stats() -> IndexStats:
        """Counts of the index: documents, duplicates, chunks, distinct passages, tokens, bytes
        on disk, the embedding model, and when the last document was ingested."""
        with tool_errors():
            return IndexStats.model_validate(corpus.index().stats())

    if allow_writes:

        @server.tool(annotations=WRITES, title="Add documents")
        def ingest(
            documents: Annotated[
                list[DocumentRecord],
                Field(
                    min_length=1,
                    max_length=MAX_DOCUMENTS_PER_CALL,
                    description="The documents to add, as objects with id, text and optionally "
                    "title, url, published_at, metadata.",
                ),
            ],
            ctx: Context,
        ) -> RunReport:
            """Add or replace documents in the index: they are cleaned, deduplicated, chunked and
            embedded, then searchable at once. A document whose id is already indexed with the
            same text is left as it is; with other text it is replaced.

            Returns the run report: counts (seen, added, updated, unchanged, duplicates, failed,
            chunks, ...) and `failures` (which document failed and why). A bad document fails
            alone; the others are still added.
            """
            check_writer_key(settings, ctx.headers)
            with tool_errors():
                return corpus.ingest(documents)

    return server
