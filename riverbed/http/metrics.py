"""Prometheus metrics of `riverbed serve`, at GET /metrics (prometheus-client's text format).

- riverbed_http_requests_total{method, route, status}: requests answered; `route` is the
  route's template (/documents/{doc_id:path}), never the path asked for, so ids do not become
  series ("unmatched" when no route took the request);
- riverbed_http_request_duration_seconds{method, route}: the time to answer them (histogram);
- riverbed_searches_total{mode}: searches by the retrieval mode that ran;
- riverbed_ingest_runs_total{status}: the server's own ingest runs (POST /documents) by how
  they ended: ok, partial, failed, interrupted;
- riverbed_index_documents, _passages, _chunks, _tokens, _bytes, _generation: what the index
  holds, read from its statistics at each scrape (writes by other processes included).

Each app has its own registry, so several apps in one process (tests) count apart.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
)
from prometheus_client import generate_latest as exposition
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from index.store.base import StoreError

MODES = ("hybrid", "dense", "lexical")
RUN_STATUSES = ("ok", "partial", "failed", "interrupted")
INDEX_GAUGES = {
    "documents": "Documents in the index, not counting duplicates.",
    "passages": "Distinct passages in the index.",
    "chunks": "Chunks of the documents' text.",
    "tokens": "Model tokens over all passages.",
    "bytes": "Size of the index on disk.",
    "generation": "Rises with every committed write.",
}


class Metrics:
    def __init__(self, index_stats: Callable[[], dict[str, Any]]) -> None:
        disable_created_metrics()  # no *_created series beside each counter: this process's own
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "riverbed_http_requests",
            "HTTP requests answered, by method, route template and status.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "riverbed_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template.",
            ["method", "route"],
            registry=self.registry,
        )
        self.searches = Counter(
            "riverbed_searches", "Searches, by retrieval mode.", ["mode"], registry=self.registry
        )
        self.ingest_runs = Counter(
            "riverbed_ingest_runs",
            "Ingest runs of this server (POST /documents), by how they ended.",
            ["status"],
            registry=self.registry,
        )
        for mode in MODES:
            self.searches.labels(mode=mode)
        for status in RUN_STATUSES:
            self.ingest_runs.labels(status=status)
        self.registry.register(IndexCollector(index_stats))

    def page(self) -> Response:
        return Response(exposition(self.registry), media_type=CONTENT_TYPE_LATEST)


class IndexCollector(Collector):
    """The index's counts as gauges, read when Prometheus scrapes."""

    def __init__(self, index_stats: Callable[[], dict[str, Any]]) -> None:
        self.index_stats = index_stats

    def describe(self) -> list[Metric]:
        return []  # read at each scrape, not at registration

    def collect(self) -> Iterator[Metric]:
        try:
            stats = self.index_stats()
        except StoreError:
            return  # no index to count yet
        for name, meaning in INDEX_GAUGES.items():
            yield GaugeMetricFamily(f"riverbed_index_{name}", meaning, value=stats[name])


class RequestMetrics:
    """ASGI middleware: counts and times every HTTP request by its route's template."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless the app answers

        async def noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noting_status)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope["method"]
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)
