"""The HTTP API: `create_app(settings)` is a FastAPI app over one index; `riverbed serve` runs it.

Reads (search, documents, stats, health) are open. Writes (POST /documents, DELETE
/documents/{id}) need `Authorization: Bearer <key>` when `RIVERBED_API_KEY` is set, and the
OpenAPI document declares that security only then. Operations are named for generated clients
(`search`, `add_documents`, ...), and `/metrics` serves Prometheus metrics (metrics.py).

Concurrency: search endpoints are plain functions, so FastAPI runs each in its threadpool; they
share one `Index` whose ONNX query encoder is loaded when the app is made. Writes run one at a
time in a worker thread of their own (a capacity limiter of one), so a write waiting for another
holds no thread a search could use. Each write takes the data dir's writer lock for the length of
the request: between requests a `riverbed ingest` may write to the same index; while one does, a
write answers 409. Every micro-batch commits in one transaction, so a search sees a document with
all of its passages or not at all. The passage encoder is loaded by the first write that needs it
and kept for every later one.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Annotated, Any, Literal, TypeVar

import anyio
from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.responses import PlainTextResponse, Response
from pydantic import SecretStr

from index.api import Index
from index.context import build_context
from index.models import Filters, IndexStats
from index.store.base import WriterBusy
from pipeline.ingestion import ingest_with
from pipeline.report import RunReport
from pipeline.sources import read_records
from pipeline.writer import Run, Writer
from riverbed.http.guards import BodySizeLimit, WriterKey
from riverbed.http.methods import answer_other_methods
from riverbed.http.metrics import Metrics, RequestMetrics
from riverbed.http.page import router as page_router
from riverbed.http.problems import add_problem_handlers, invalid
from riverbed.http.schemas import (
    MAX_FILTER_VALUES,
    MAX_K,
    MIN_RELEVANCE_HELP,
    QUESTION_PATTERN,
    Deleted,
    Health,
    Invalid,
    IsoDatetime,
    MetaPair,
    Problem,
    SearchRequest,
    SearchResponse,
    StoredDocument,
    documents_body_schema,
)
from riverbed.settings import Settings
from riverbed.version import package_version

Result = TypeVar("Result")

# -- the backend the endpoints call ------------------------------------------------------------


class Backend:
    """One open index: the shared searcher, and one writer kept across requests (its passage
    encoder loaded by the first write that needs it)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.index = Index.open(settings=settings, create=True)
        self.store = self.index.store
        self.writer = Writer(self.store, settings)

    @contextmanager
    def writing(self) -> Iterator[Writer]:
        """The writer, holding the writer lock for one request (409 while another process
        holds it)."""
        try:
            with self.writer.locked(wait=False) as writer:
                yield writer
        except WriterBusy as err:
            raise HTTPException(
                409, "another process is writing to this index: retry when it is done"
            ) from err

    def ingest(self, records: list[Any]) -> Run:
        report = RunReport()
        with self.writing() as writer:
            return ingest_with(writer, read_records(records, report), job="http", report=report)

    def delete(self, doc_id: str) -> bool:
        with self.writing() as writer, writer.run("http") as run:
            return run.runner.delete([doc_id]) == 1

    def close(self) -> None:
        self.index.close()


# -- the app -----------------------------------------------------------------------------------


def create_app(settings: Settings | None = None) -> FastAPI:
    """The HTTP API over the index of `settings`, with its query encoder already loaded."""
    settings = settings or Settings()
    backend = Backend(settings)
    backend.index.warm()  # the query encoder (checking the index's model), FAISS, BM25

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.write_slot = anyio.CapacityLimiter(1)
        try:
            yield
        finally:
            backend.close()

    app = FastAPI(
        title="riverbed",
        version=package_version(),
        description="Search an index of documents and feed it new ones.",
        lifespan=lifespan,
        generate_unique_id_function=lambda route: route.name,  # operationId: the function's name
    )
    app.state.backend = backend
    metrics = Metrics(backend.index.stats)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    answer_other_methods(app)
    app.add_middleware(RequestMetrics, metrics=metrics)  # outermost: every request counts
    add_problem_handlers(app)
    _add_routes(app, backend, settings.api_key, metrics)
    app.include_router(page_router)
    app.openapi = lambda: _openapi_document(app)  # type: ignore[method-assign]
    return app


def _openapi_document(app: FastAPI) -> dict[str, Any]:
    """FastAPI's OpenAPI document, with query parameters as a query string can carry them.

    An optional parameter is typed "X or null", but a query string has no null: leaving the
    parameter out is how a client says it, so the null alternative is dropped (a client
    generated from the document then sends no `doc_id=None`)."""
    if app.openapi_schema is None:
        from fastapi.openapi.utils import get_openapi

        document = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        for operation in (op for path in document["paths"].values() for op in path.values()):
            for parameter in operation.get("parameters", []):
                choices = parameter["schema"].get("anyOf")
                if parameter["in"] == "query" and choices:
                    kept = [choice for choice in choices if choice.get("type") != "null"]
                    parameter["schema"].pop("anyOf")
                    parameter["schema"].update(kept[0] if len(kept) == 1 else {"anyOf": kept})
        app.openapi_schema = document
    return app.openapi_schema


async def run_write(request: Request, work: Callable[[], Result]) -> Result:
    """Run a write in a worker thread, one write at a time, without holding a search's thread."""
    return await anyio.to_thread.run_sync(work, limiter=request.app.state.write_slot)


Responses = dict[int | str, dict[str, Any]]
INVALID: Responses = {
    422: {"model": Invalid, "description": "A parameter or the body is not valid."},
}


def _add_routes(
    app: FastAPI, backend: Backend, api_key: SecretStr | None, metrics: Metrics
) -> None:
    errors: Responses = {
        400: {"model": Problem, "description": "The question or a filter is not valid."},
        409: {"model": Problem, "description": "The index cannot answer yet (empty)."},
        **INVALID,
    }
    write_errors: Responses = {
        409: {"model": Problem, "description": "Another process is writing to the index."},
        413: {"model": Problem, "description": "The request body is too large."},
        **INVALID,
    }
    # Writes declare (and check) the bearer key only when the server has one.
    write_guard = [] if api_key is None else [Depends(WriterKey(api_key))]
    if api_key is not None:
        write_errors[401] = {"model": Problem, "description": "Missing or wrong API key."}

    @app.get("/search", response_model=SearchResponse, responses=errors, tags=["search"])
    def search(
        q: Annotated[str, Query(pattern=QUESTION_PATTERN, description="The question.")],
        k: Annotated[int, Query(ge=1, le=MAX_K, description="How many passages.")] = 5,
        mode: Literal["dense", "lexical", "hybrid"] | None = None,
        doc_id: Annotated[list[str] | None, Query(description="Only this document id.")] = None,
        source: Annotated[list[str] | None, Query(description="Only this source.")] = None,
        meta: Annotated[
            list[MetaPair] | None, Query(description="Only documents with metadata KEY=VALUE.")
        ] = None,
        after: Annotated[IsoDatetime | None, Query(description="Published on/after.")] = None,
        before: Annotated[IsoDatetime | None, Query(description="Published on/before.")] = None,
        context_tokens: Annotated[
            int | None, Query(ge=1, description="Also return a cited prompt context this long.")
        ] = None,
        min_relevance: Annotated[
            float | None, Query(ge=0.0, le=1.0, description=MIN_RELEVANCE_HELP)
        ] = None,
    ) -> SearchResponse:
        """The best passages for a question, with sources, offsets and answer sentences."""
        metadata = dict(pair.split("=", 1) for pair in meta or [])
        filters = Filters(
            doc_ids=doc_id,
            sources=source,
            metadata=metadata or None,
            published_after=after,
            published_before=before,
        )
        return _search(backend, metrics, q, k, mode, filters, context_tokens, min_relevance)

    @app.post("/search", response_model=SearchResponse, responses=errors, tags=["search"])
    def search_with_body(request: SearchRequest) -> SearchResponse:
        """The same search with the filters in a JSON body."""
        return _search(
            backend,
            metrics,
            request.q,
            request.k,
            request.mode,
            request.filters,
            request.context_tokens,
            request.min_relevance,
        )

    @app.post(
        "/documents",
        response_model=RunReport,
        responses=write_errors,
        dependencies=write_guard,
        tags=["documents"],
        openapi_extra={"requestBody": documents_body_schema()},
    )
    async def add_documents(request: Request) -> RunReport:
        """Ingest documents; the run report says what landed and what failed, per document."""
        records = _records_in(await _json_body(request))
        try:
            run = await run_write(request, lambda: backend.ingest(records))
        except HTTPException:
            raise  # refused before any run began (busy)
        except Exception:
            metrics.ingest_runs.labels(status="failed").inc()
            raise
        metrics.ingest_runs.labels(status=run.status).inc()
        return run.report

    @app.get(
        "/documents/{doc_id:path}",
        response_model=StoredDocument,
        responses={404: {"model": Problem}, **INVALID},
        tags=["documents"],
    )
    def get_document(doc_id: Annotated[str, Path(description="The document id.")]) -> Any:
        """One document with its cleaned text (passage offsets point into it)."""
        document = backend.index.document(doc_id)
        if document is None:
            raise HTTPException(404, f"no document with id {doc_id!r}")
        return document

    @app.delete(
        "/documents/{doc_id:path}",
        response_model=Deleted,
        responses={**write_errors, 404: {"model": Problem}},
        dependencies=write_guard,
        tags=["documents"],
    )
    async def delete_document(
        request: Request, doc_id: Annotated[str, Path(description="The document id.")]
    ) -> Deleted:
        """Remove a document and its passages."""
        if not await run_write(request, lambda: backend.delete(doc_id)):
            raise HTTPException(404, f"no document with id {doc_id!r}")
        return Deleted(deleted=doc_id)

    @app.get("/stats", response_model=IndexStats, tags=["index"])
    def stats() -> IndexStats:
        """Counts of the index: documents, duplicates, chunks, passages, tokens, size."""
        return IndexStats.model_validate(backend.index.stats())

    @app.get(
        "/metrics",
        response_class=PlainTextResponse,
        responses={200: {"description": "Prometheus's text format (docs/http.md lists them)."}},
        tags=["index"],
        name="metrics",
    )
    def metrics_page() -> Response:
        """Prometheus metrics: requests and latency by route, searches by mode, the server's
        ingest runs by status, what the index holds."""
        return metrics.page()

    @app.get("/health", response_model=Health, tags=["index"])
    def health() -> Health:
        """Cheap liveness: the model the index is bound to and its generation."""
        return Health(model=backend.store.model_id(), generation=backend.store.generation())


async def _json_body(request: Request) -> Any:
    body = await request.body()
    try:
        return json.loads(body)
    except UnicodeDecodeError as err:
        raise invalid(("body",), "the body is not UTF-8 text", "json_invalid") from err
    except json.JSONDecodeError as err:
        raise invalid(("body", err.pos), "JSON decode error", "json_invalid", err.msg) from err
    except RecursionError as err:
        raise invalid(("body",), "the body is nested too deeply to read", "json_too_deep") from err


def _records_in(body: Any) -> list[Any]:
    """The records of a POST /documents body: a list, or {"documents": [...]}."""
    records = body.get("documents") if isinstance(body, dict) else body
    if not isinstance(records, list) or not records:
        raise invalid(
            ("body",),
            'expected a non-empty list of documents, or {"documents": [...]}',
            "documents_expected",
        )
    return records


def _search(
    backend: Backend,
    metrics: Metrics,
    question: str,
    k: int,
    mode: Any,
    filters: Filters | None,
    context_tokens: int | None,
    min_relevance: float | None = None,
) -> SearchResponse:
    if filters is not None:
        for name in ("doc_ids", "sources"):
            if len(getattr(filters, name) or ()) > MAX_FILTER_VALUES:
                raise HTTPException(400, f"at most {MAX_FILTER_VALUES} {name} per search")
    passages = backend.index.search(
        question, k=k, mode=mode, filters=filters, min_relevance=min_relevance
    )
    metrics.searches.labels(mode=mode or backend.settings.mode).inc()
    context = None
    if context_tokens is not None:
        context = build_context(passages, context_tokens, model=backend.settings.model)
    return SearchResponse(query=question, results=passages, context=context)
