"""GET /metrics: Prometheus metrics of the HTTP API, as prometheus-client's parser reads them.

The app runs in this process over a copy of the seeds index (real model: the searches and the
ingest are real; the test is about what gets counted).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from riverbed.http.app import create_app
from riverbed.settings import Settings


@pytest.fixture(scope="module")
def client(seeded_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    data_dir = tmp_path_factory.mktemp("metrics") / "data"
    shutil.copytree(seeded_dir, data_dir)
    with TestClient(create_app(Settings(data_dir=data_dir, ingest_encoder="onnx"))) as client:
        yield client


def scrape(client: TestClient) -> dict[tuple[str, frozenset], float]:
    page = client.get("/metrics")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(page.text)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, frozenset], float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_requests_searches_ingest_runs_and_the_index_are_counted(client: TestClient) -> None:
    before = scrape(client)
    assert value(before, "riverbed_index_documents") == 2
    assert value(before, "riverbed_index_passages") >= 3

    assert client.get("/search", params={"q": "what did Zelensky ask of NATO"}).status_code == 200
    assert client.get("/search", params={"q": "no-fly zone", "mode": "lexical"}).status_code == 200
    assert client.post("/search", json={"q": "NATO", "mode": "dense"}).status_code == 200
    assert client.get("/documents/no/such/id").status_code == 404
    records = [{"id": "metrics/1", "text": "Otters hold hands while they sleep."}, {"id": "x"}]
    assert client.post("/documents", json=records).json()["failed"] == 1

    after = scrape(client)
    searches = {
        mode: value(after, "riverbed_searches_total", mode=mode)
        for mode in ("hybrid", "dense", "lexical")
    }
    assert searches == {"hybrid": 1, "dense": 1, "lexical": 1}
    get_search = {"method": "GET", "route": "/search"}
    assert value(after, "riverbed_http_requests_total", **get_search, status="200") == 2
    assert value(after, "riverbed_http_request_duration_seconds_count", **get_search) == 2
    assert value(after, "riverbed_http_request_duration_seconds_sum", **get_search) > 0
    # the route's template, not the id asked for
    template = {"method": "GET", "route": "/documents/{doc_id:path}", "status": "404"}
    assert value(after, "riverbed_http_requests_total", **template) == 1
    assert not any("no/such/id" in str(labels) for _, labels in after)

    assert value(after, "riverbed_ingest_runs_total", status="partial") == 1
    assert value(after, "riverbed_ingest_runs_total", status="ok") == 0
    assert value(after, "riverbed_index_documents") == 3
    assert value(after, "riverbed_index_generation") > value(before, "riverbed_index_generation")
