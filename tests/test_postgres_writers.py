"""Many writers on one Postgres: four ingest processes over overlapping sources end with every
document exactly once; a writer killed with SIGKILL leaves a consistent index that a re-run
completes; a passage removed by another writer between lookup and write is embedded again.

These tests are about concurrency and crash safety, not retrieval quality: the processes use the
fake encoder of riverbed/testing/encoder.py (hashed bags of words).
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from index.models import Document
from index.store.postgres import PostgresStore
from pipeline import ingest
from pipeline.writer import Writer
from riverbed.settings import Settings
from riverbed.testing import install
from tests.ingest_helpers import corpus_text, run, start, wait_until, write_corpus

DOCUMENTS = 48
SHARED = [
    "Every report ends with the same closing paragraph about harbour tides and lighthouses.",
    "A second closing paragraph names the archive, its keeper and the vault where it lies.",
]


def version(number: int, edition: int) -> str:
    """Document `number` as one writer or another has it: its own words, then a paragraph that
    many documents share (which one depends on the edition)."""
    return f"{corpus_text(number)}\n\n{SHARED[(number + edition) % 2]}"


@pytest.fixture
def overlapping_sources(tmp_path: Path) -> list[Path]:
    """Four JSONL files: every document is in two of them, in another order, and one of the two
    carries another edition of it (so writers replace each other's passages as they go)."""
    sources = []
    for writer in range(4):
        numbers = [(writer * DOCUMENTS // 4 + i) % DOCUMENTS for i in range(DOCUMENTS // 2)]
        random.Random(writer).shuffle(numbers)
        path = tmp_path / f"writer-{writer}.jsonl"
        with path.open("w") as handle:
            for number in numbers:
                record = {"id": f"doc-{number}", "text": version(number, writer % 2)}
                handle.write(json.dumps(record) + "\n")
        sources.append(path)
    return sources


def riverbed_env() -> dict[str, str]:
    """Small micro-batches and passages, a slow encoder: the writers' transactions interleave."""
    return {
        "RIVERBED_BATCH_DOCUMENTS": "3",
        "RIVERBED_CHUNK_TOKENS": "64",
        "RIVERBED_CHUNK_OVERLAP_TOKENS": "0",
        "FAKE_ENCODER_DELAY": "0.02",
    }


@pytest.fixture
def store(pg_url: str) -> Iterator[PostgresStore]:
    opened = PostgresStore(pg_url)
    yield opened
    opened.close()


def test_four_writers_over_overlapping_sources_lose_and_double_nothing(
    pg_url: str, store: PostgresStore, overlapping_sources: list[Path], tmp_path: Path
) -> None:
    writers = [
        start(
            tmp_path / "unused",
            "--store",
            pg_url,
            "ingest",
            str(source),
            "--json",
            **riverbed_env(),
        )
        for source in overlapping_sources
    ]
    for writer in writers:
        out, err = writer.communicate(timeout=300)
        assert writer.returncode == 0, err
        assert json.loads(out)["seen"] == DOCUMENTS // 2

    with store.connection() as conn:
        rows = conn.execute("SELECT id, text FROM documents").fetchall()
        shared = conn.execute(
            "SELECT count(*) FROM passages WHERE text = ANY(%s)", (SHARED,)
        ).fetchone()[0]
    assert len(rows) == DOCUMENTS
    assert {doc_id for doc_id, _ in rows} == {f"doc-{n}" for n in range(DOCUMENTS)}
    for doc_id, text in rows:
        number = int(doc_id.split("-")[1])
        assert text in (version(number, 0), version(number, 1))
    assert store.check() == []
    assert shared == len({text.split("\n\n")[-1] for _, text in rows})  # one passage per text
    for number in range(DOCUMENTS):
        (pid, _), *_ = store.lexical_search([f"marker{number}"], 1)
        assert store.passages([pid])[pid].doc_id == f"doc-{number}"
    assert [run["status"] for run in store.runs()] == ["ok"] * 4


def count(url: str, query: str) -> int:
    """One number from the database (0 while the schema is not there yet)."""
    try:
        with psycopg.connect(url) as conn:
            return int(conn.execute(query).fetchone()[0])
    except psycopg.errors.UndefinedTable:
        return 0


def test_kill_9_leaves_a_consistent_index_and_a_rerun_completes_it(
    pg_url: str, tmp_path: Path
) -> None:
    corpus = write_corpus(tmp_path / "corpus.jsonl", 200)
    env = {"RIVERBED_BATCH_DOCUMENTS": "4", "FAKE_ENCODER_DELAY": "0.05"}
    writer = start(tmp_path / "unused", "--store", pg_url, "ingest", str(corpus), **env)
    landed_query = "SELECT count(*) FROM riverbed.documents"
    wait_until(lambda: count(pg_url, landed_query) >= 20, writer)
    writer.kill()
    writer.wait()

    store = PostgresStore(pg_url, create=False)
    try:
        landed = store.stats()["documents"]
        assert 20 <= landed < 200 and landed % 4 == 0  # whole micro-batches only
        assert store.check() == []
        rerun = run(tmp_path / "unused", "--store", pg_url, "ingest", str(corpus), "--json")
        assert rerun.returncode == 0, rerun.stderr
        report = json.loads(rerun.stdout)
        assert (report["unchanged"], report["added"]) == (landed, 200 - landed)
        assert store.stats()["documents"] == 200 and store.check() == []
        assert [run["status"] for run in store.runs()] == ["ok", "crashed"]
    finally:
        store.close()


class RemovesAfterLookup:
    """The store, as seen by a writer racing another: right after this writer learns that a
    passage is known, the other writer deletes the only document that has it."""

    def __init__(self, store: PostgresStore, victim: str) -> None:
        self._store, self._victim = store, victim

    def known_passages(self, text_hashes: list[str]) -> set[str]:
        known = self._store.known_passages(text_hashes)
        if known and self._victim:
            self._store.delete([self._victim])
            self._victim = ""
        return known

    def __getattr__(self, name: str) -> object:
        return getattr(self._store, name)


def test_a_passage_removed_after_the_lookup_is_embedded_again(
    pg_url: str, store: PostgresStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(monkeypatch)
    settings = Settings(store=pg_url, chunk_tokens=24, chunk_overlap_tokens=0)  # a paragraph each
    ingest([Document(id="first", text=SHARED[0])], settings=settings)
    racing = RemovesAfterLookup(store, victim="first")
    with Writer(racing, settings).run("ingest") as run:  # type: ignore[arg-type]
        run.runner.feed([Document(id="second", text=f"{SHARED[1]}\n\n{SHARED[0]}")])
    report = run.report

    assert store.document("first") is None
    assert store.document("second") is not None and report.added == 1
    (pid, _), *_ = store.lexical_search(["harbour"], 1)
    assert store.passages([pid])[pid].doc_id == "second"
    assert store.check() == []
