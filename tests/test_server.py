"""The HTTP API, driven over HTTP against a real `riverbed serve` on 127.0.0.1 (real model)."""

from __future__ import annotations

import random
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from tests.conftest import BUNKER, QUESTION
from tests.server_harness import API_KEY, AUTH, copy_index, running_server

MAX_REQUEST_BYTES = 64 * 1024
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def server(seeded_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server over a copy of the seeds index; one committed transaction per document."""
    root = tmp_path_factory.mktemp("server")
    data_dir = copy_index(seeded_dir, root / "data")
    with running_server(
        data_dir,
        root / "server.log",
        max_request_bytes=str(MAX_REQUEST_BYTES),
        batch_documents="1",
    ) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=120) as client:
        yield client


def document_url(doc_id: str) -> str:
    return f"/documents/{quote(doc_id, safe='')}"


def test_get_and_post_search_answer_the_seed_question(client: httpx.Client) -> None:
    got = client.get("/search", params={"q": QUESTION, "k": 3})
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["query"] == QUESTION and len(body["results"]) == 3
    first = body["results"][0]
    assert "no-fly zone" in first["text"]
    assert "no-fly zone" in first["answer"]["text"]
    posted = client.post("/search", json={"q": QUESTION, "k": 3.0})  # JSON's 3.0 is 3
    assert posted.status_code == 200, posted.text
    assert posted.json()["results"] == body["results"]


def test_search_filters_and_prompt_context(client: httpx.Client) -> None:
    bunker = str(BUNKER)
    posted = client.post(
        "/search",
        json={"q": QUESTION, "k": 4, "filters": {"doc_ids": [bunker]}, "context_tokens": 120},
    )
    assert posted.status_code == 200, posted.text
    body = posted.json()
    assert body["results"] and {r["doc_id"] for r in body["results"]} == {bunker}
    context = body["context"]
    assert 0 < context["tokens"] <= 120
    assert context["text"].startswith("[1] ")
    assert [c["number"] for c in context["citations"]] == list(
        range(1, len(context["citations"]) + 1)
    )
    got = client.get("/search", params={"q": QUESTION, "k": 4, "doc_id": bunker})
    assert got.status_code == 200
    assert [r["text"] for r in got.json()["results"]] == [r["text"] for r in body["results"]]
    nothing = client.get("/search", params={"q": QUESTION, "meta": "team=nobody"})
    assert nothing.status_code == 200 and nothing.json()["results"] == []


def test_odd_but_valid_filters_are_answered(client: httpx.Client) -> None:
    odd_key = {"q": QUESTION, "filters": {"metadata": {'a\x00\\b."c': "x"}}}
    assert client.post("/search", json=odd_key).json()["results"] == []
    edge_dates = {"before": "0001-01-01T00:00:00+00:11", "after": "9999-12-31T23:00:00-02:00"}
    response = client.get("/search", params={"q": QUESTION, **edge_dates})
    assert response.status_code == 200 and response.json()["results"] == []
    since_year_one = client.get(
        "/search", params={"q": QUESTION, "after": "0001-01-01T00:00+01:00"}
    )
    assert since_year_one.status_code == 200


def test_documents_are_ingested_fetched_found_and_deleted(client: httpx.Client) -> None:
    doc_id = "notes/2024/otters.md"
    text = "Sea otters hold hands while they sleep, so that the current does not part them."
    posted = client.post(
        "/documents",
        json={"documents": [{"id": doc_id, "text": text, "title": "Otters", "team": "zoo"}]},
        headers=AUTH,
    )
    assert posted.status_code == 200, posted.text
    report = posted.json()
    assert report["added"] == 1 and report["failed"] == 0 and report["chunks"] == 1
    fetched = client.get(f"/documents/{doc_id}")  # the id's slashes, as they are
    assert fetched.status_code == 200, fetched.text
    assert fetched.json()["text"] == text and fetched.json()["metadata"] == {"team": "zoo"}
    assert client.get(document_url(doc_id)).json()["id"] == doc_id  # and percent-encoded
    found = client.get("/search", params={"q": "why do otters hold hands", "k": 1})
    assert found.json()["results"][0]["doc_id"] == doc_id
    by_meta = client.get("/search", params={"q": "otters", "meta": "team=zoo"}).json()
    assert [r["doc_id"] for r in by_meta["results"]] == [doc_id]

    deleted = client.delete(f"/documents/{doc_id}", headers=AUTH)
    assert deleted.status_code == 200 and deleted.json() == {"deleted": doc_id}
    assert client.get(f"/documents/{doc_id}").status_code == 404
    again = client.delete(f"/documents/{doc_id}", headers=AUTH)
    assert again.status_code == 404 and doc_id in again.json()["detail"]
    after = client.get("/search", params={"q": "why do otters hold hands", "k": 5})
    assert doc_id not in {r["doc_id"] for r in after.json()["results"]}


def test_writes_need_the_api_key_and_reads_do_not(client: httpx.Client) -> None:
    record = {"id": "auth/1", "text": "A record sent without the key must not land."}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": API_KEY}):
        refused = client.post("/documents", json=[record], headers=headers)
        assert refused.status_code == 401, refused.text
        assert "API key" in refused.json()["detail"]
        assert refused.headers["www-authenticate"] == "Bearer"
    assert client.get("/documents/auth/1").status_code == 404

    assert client.post("/documents", json=[record], headers=AUTH).json()["added"] == 1
    assert client.delete("/documents/auth/1").status_code == 401
    assert client.get("/documents/auth/1").status_code == 200
    assert client.delete("/documents/auth/1", headers=AUTH).status_code == 200


def test_a_bad_document_is_reported_and_the_rest_lands(client: httpx.Client) -> None:
    records = [
        {"id": "batch/good", "text": "Kingfishers dive for small fish in clear streams."},
        {"id": "batch/no-text"},
        {"text": "a record without an id"},
        {"id": "batch/bad-date", "text": "Dated badly.", "published_at": "yesterday"},
        "not an object",
    ]
    response = client.post("/documents", json=records, headers=AUTH)
    assert response.status_code == 200, response.text
    report = response.json()
    assert report["added"] == 1 and report["failed"] == 4
    reasons = {failure["source"]: failure["reason"] for failure in report["failures"]}
    assert reasons["documents[1] (batch/no-text)"] == "record has no text"
    assert reasons["documents[2]"] == "record has no id"
    assert "published_at" in reasons["documents[3] (batch/bad-date)"]
    assert reasons["documents[4]"] == "record is not a JSON object"
    assert client.get("/documents/batch/good").status_code == 200
    assert client.get("/documents/batch/bad-date").status_code == 404


def test_oversized_bodies_are_refused_and_nothing_lands(client: httpx.Client) -> None:
    big = [{"id": "big/1", "text": "word " * (MAX_REQUEST_BYTES // 5)}]
    declared = client.post("/documents", json=big, headers=AUTH)
    assert declared.status_code == 413
    assert str(MAX_REQUEST_BYTES) in declared.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server counts as it reads
        yield b'[{"id": "big/2", "text": "'
        for _ in range(MAX_REQUEST_BYTES // 1000 + 1):
            yield b"x" * 1000
        yield b'"}]'

    streamed = client.post(
        "/documents",
        content=chunks(),
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert streamed.status_code == 413, streamed.text
    for doc_id in ("big/1", "big/2"):
        assert client.get(f"/documents/{doc_id}").status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "request_args", "status", "says"),
    [
        (
            "post",
            "/search",
            {"content": b'{"q": "unfinished', "headers": JSON},
            422,
            "not valid JSON",
        ),
        (
            "post",
            "/documents",
            {"content": b"[{", "headers": {**AUTH, **JSON}},
            422,
            "not valid JSON",
        ),
        ("post", "/search", {"json": {"q": "x", "k": 0}}, 422, "k: "),
        ("post", "/search", {"json": {"q": "x", "mode": "fuzzy"}}, 422, "mode: "),
        ("post", "/search", {"json": {"q": "x", "k": True}}, 422, "k: expected a whole number"),
        ("post", "/search", {"json": {"q": "x", "context_tokens": "9"}}, 422, "context_tokens: "),
        ("post", "/search", {"json": {"question": "x"}}, 422, "q: Field required"),
        ("post", "/search", {"json": {"q": " \t\n"}}, 422, "q: the question is empty"),
        ("get", "/search", {"params": {"q": "x", "k": "many"}}, 422, "k: "),
        ("get", "/search", {"params": {"q": "x", "meta": "novalue"}}, 422, "KEY=VALUE"),
        ("post", "/documents", {"json": 42, "headers": AUTH}, 422, "list of documents"),
        ("post", "/documents", {"json": [], "headers": AUTH}, 422, "non-empty list"),
        ("post", "/documents", {"json": {"docs": []}, "headers": AUTH}, 422, '{"documents"'),
    ],
)
def test_malformed_requests_are_refused_with_what_is_wrong(
    client: httpx.Client,
    method: str,
    path: str,
    request_args: dict,
    status: int,
    says: str,
) -> None:
    response = client.request(method.upper(), path, **request_args)
    assert response.status_code == status, response.text
    body = response.json()
    assert says in (body["message"] if status == 422 else body["detail"])


def test_stats_health_and_openapi(client: httpx.Client) -> None:
    stats = client.get("/stats").json()
    assert stats["documents"] >= 2 and stats["passages"] > 0
    health = client.get("/health").json()
    assert health["status"] == "ok" and health["model"] == stats["model"]
    spec = client.get("/openapi.json").json()
    assert {"/search", "/documents", "/documents/{doc_id}", "/stats", "/health"} <= set(
        spec["paths"]
    )
    assert client.get("/docs").status_code == 200


PARAGRAPHS = 4
DOCUMENTS = 12


def marked_document(number: int) -> dict[str, str]:
    """PARAGRAPHS paragraphs of made-up words, several passages' worth, every paragraph
    carrying the document's marker word and sharing little other wording."""
    rng = random.Random(number)
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    marker = f"marker{number}q"
    paragraphs = []
    for _ in range(PARAGRAPHS):
        words = ["".join(rng.choices(syllables, k=3)) for _ in range(45)]
        paragraphs.append(f"{marker} {' '.join(words)}.")
    return {"id": f"concurrent/{number}", "text": "\n\n".join(paragraphs), "marker": marker}


def test_searches_answer_during_ingestion_and_never_see_half_a_document(server: str) -> None:
    """Each document commits in its own transaction (batch_documents=1) while four threads
    search, each search filtered to one document: it must see all of its passages or none
    (as many as the document has once the ingest is over)."""
    documents = [marked_document(n) for n in range(DOCUMENTS)]
    observed: list[tuple[str, int, int, bool]] = []  # (doc id, status, passages, during a write)
    final: dict[str, int] = {}
    writing, written = threading.Event(), threading.Event()
    first_round = threading.Barrier(5, timeout=120)

    def search(client: httpx.Client, document: dict, mode: str) -> tuple[int, int]:
        response = client.get(
            "/search",
            params={
                "q": document["marker"],
                "k": 20,
                "mode": mode,
                "doc_id": document["id"],
                "min_relevance": 0,  # every passage of the document: this is about writes
            },
        )
        passages = len(response.json()["results"]) if response.status_code == 200 else -1
        return response.status_code, passages

    def searcher(seed: int) -> None:
        rng = random.Random(seed)
        with httpx.Client(base_url=server, timeout=120) as client:
            for round_number in range(10_000):
                if round_number == 1:
                    first_round.wait()
                if written.is_set():
                    return
                began_during = writing.is_set()
                document = rng.choice(documents)
                status, passages = search(client, document, rng.choice(["dense", "hybrid"]))
                during = began_during and not written.is_set()
                observed.append((document["id"], status, passages, during))

    threads = [threading.Thread(target=searcher, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    first_round.wait()
    writing.set()
    with httpx.Client(base_url=server, timeout=300) as client:
        response = client.post("/documents", json=documents, headers=AUTH)
        written.set()
        for thread in threads:
            thread.join()
        assert response.status_code == 200, response.text
        assert response.json()["added"] == DOCUMENTS
        for document in documents:
            final[document["id"]] = client.get(f"/documents/{document['id']}").json()["chunks"]
            assert final[document["id"]] >= 2
            assert search(client, document, "hybrid") == (200, final[document["id"]])

    assert all(status == 200 for _, status, _, _ in observed)
    for doc_id, _, passages, _ in observed:
        assert passages in (0, final[doc_id]), f"{doc_id}: {passages} of {final[doc_id]} passages"
    assert any(during for *_, during in observed), "no search ran while the ingest did"
