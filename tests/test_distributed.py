"""Ray with two local workers ingesting into Postgres gives what a local ingest into the embedded
store gives: the same report, documents, chunks, vectors (cosine >= 0.9999) and top-5 answers.

The real model runs on both sides. One Ray instance serves the whole module.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from index.encoder import query_encoder
from index.model import ModelInfo
from index.query import search
from index.relevance import UNRELATED
from index.store.postgres import PostgresStore
from index.store.sqlite_faiss import SqliteFaissStore, passage_vector
from pipeline import ingest
from pipeline.distributed import _start_ray
from riverbed.cli import main
from riverbed.settings import Settings
from riverbed.testing.postgres import create_database, drop_database
from tests.conftest import CNN, SEEDS

pytestmark = pytest.mark.slow  # Ray

DATA = Path(__file__).resolve().parent / "data"
SQUAD_DOCS = DATA / "squad2-dev-5articles.docs.jsonl"
SQUAD_QUESTIONS = DATA / "squad2-dev-5articles.questions.jsonl"
ARTICLES = {"Sky_(United_Kingdom)", "Victoria_(Australia)"}  # two of the five, for time


@pytest.fixture(scope="module")
def ray_instance() -> Iterator[None]:
    ray, started = _start_ray(None)
    yield
    if started:
        ray.shutdown()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two SQuAD articles and the seeds, plus an exact copy, a near copy and an empty file."""
    folder = tmp_path_factory.mktemp("corpus")
    articles = [line for line in SQUAD_DOCS.open() if json.loads(line)["id"] in ARTICLES]
    (folder / "squad.jsonl").write_text("".join(articles))
    for seed in SEEDS.iterdir():
        shutil.copy(seed, folder)
    shutil.copy(CNN, folder / "z-exact-copy.txt")
    text = CNN.read_text()
    (folder / "z-near-copy.txt").write_text(text.replace("Zelensky", "Zelenskyy", 1))
    (folder / "z-empty.md").write_text("   \n")
    return folder


@pytest.fixture(scope="module")
def local_run(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    data_dir = tmp_path_factory.mktemp("local") / "data"
    report = ingest([corpus], settings=Settings(data_dir=data_dir))
    return report.model_dump(), data_dir


@pytest.fixture(scope="module")
def ray_run(corpus: Path, pg_server: str, ray_instance: None) -> Iterator[tuple[dict, str]]:
    url = create_database(pg_server)
    result = CliRunner().invoke(
        main,
        ["--store", url, "ingest", str(corpus), "--engine", "ray", "--workers", "2", "--json"],
    )
    assert result.exit_code == 3, result.output  # the empty file failed, the rest landed
    yield json.loads(result.stdout), url
    drop_database(pg_server, url)


def without_time(report: dict) -> dict:
    return {key: value for key, value in report.items() if key != "seconds"}


def test_the_ray_run_reports_what_the_local_run_reports(
    local_run: tuple[dict, Path], ray_run: tuple[dict, str]
) -> None:
    local, ray = without_time(local_run[0]), without_time(ray_run[0])
    assert ray == local
    assert (ray["added"], ray["duplicates"], ray["near_duplicates"], ray["failed"]) == (4, 1, 1, 1)


def sqlite_contents(data_dir: Path) -> tuple[dict, dict]:
    with sqlite3.connect(data_dir / "catalog.sqlite") as db:
        documents = {
            row[0]: row[1:]
            for row in db.execute("SELECT id, text, duplicate_of, duplicate_kind FROM documents")
        }
        chunks = {
            (doc_id, ordinal): (start, end, text, passage_vector(vector, 384))
            for doc_id, ordinal, start, end, text, vector in db.execute(
                'SELECT d.id, c.ordinal, c.start, c."end", p.text, p.vector FROM chunks c'
                " JOIN documents d ON d.rowid = c.doc_rowid JOIN passages p ON p.id = c.passage_id"
            )
        }
    return documents, chunks


def postgres_contents(url: str) -> tuple[dict, dict]:
    store = PostgresStore(url, create=False)
    try:
        with store.connection() as conn:
            documents = {
                row[0]: row[1:]
                for row in conn.execute(
                    "SELECT id, text, duplicate_of, duplicate_kind FROM documents"
                )
            }
            chunks = {
                (doc_id, ordinal): (start, end, text, vector.to_numpy())
                for doc_id, ordinal, start, end, text, vector in conn.execute(
                    'SELECT d.id, c.ordinal, c.start, c."end", p.text, p.vector FROM chunks c'
                    " JOIN documents d ON d.pk = c.doc_pk JOIN passages p ON p.id = c.passage_id"
                )
            }
        assert store.check() == []
    finally:
        store.close()
    return documents, chunks


def test_the_same_documents_chunks_and_vectors(
    local_run: tuple[dict, Path], ray_run: tuple[dict, str]
) -> None:
    local_documents, local_chunks = sqlite_contents(local_run[1])
    ray_documents, ray_chunks = postgres_contents(ray_run[1])
    assert ray_documents == local_documents
    assert ray_chunks.keys() == local_chunks.keys() and len(ray_chunks) > 40
    for key, (start, end, text, vector) in local_chunks.items():
        ray_start, ray_end, ray_text, ray_vector = ray_chunks[key]
        assert (ray_start, ray_end, ray_text) == (start, end, text)
        assert float(vector @ ray_vector) >= 0.9999, key


class CachedQueries:
    """The query encoder with every question embedded once, up front, for both stores (and the
    sentences search calibrates cosines on)."""

    def __init__(self, questions: list[str]) -> None:
        questions = [*questions, *UNRELATED]
        settings = Settings()
        encoder = query_encoder(ModelInfo.from_setting(settings.model), "auto", settings.cache_dir)
        self.model_id, self.dim = encoder.model_id, encoder.dim
        self.vectors = dict(zip(questions, encoder.embed_queries(questions), strict=True))

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return np.stack([self.vectors[text] for text in texts])

    def embed_passages(self, *_args: Any) -> Any:
        raise NotImplementedError


def top5(store: Any, encoder: Any, question: str, mode: str) -> list[tuple]:
    results = search(store, encoder, question, Settings(), k=5, mode=mode)  # type: ignore[arg-type]
    return [((p.doc_id, p.start, p.end, p.answer), p.score) for p in results]


def same_ranking(first: list[tuple], second: list[tuple], tie: float = 1e-3) -> bool:
    """Equal, except where results swap places with scores within `tie` of each other."""
    return len(first) == len(second) and all(
        a == b or abs(score_a - score_b) <= tie
        for (a, score_a), (b, score_b) in zip(first, second, strict=True)
    )


def test_the_same_top5_for_the_squad_questions(
    local_run: tuple[dict, Path], ray_run: tuple[dict, str]
) -> None:
    """Every other question on the two articles (116), dense and hybrid."""
    records = [json.loads(line) for line in SQUAD_QUESTIONS.read_text().splitlines()]
    questions = [r["question"].strip() for r in records if r["doc"] in ARTICLES][::2]
    encoder = CachedQueries(questions)
    embedded = SqliteFaissStore(local_run[1], create=False)
    postgres = PostgresStore(ray_run[1], create=False)
    try:
        for mode in ("dense", "hybrid"):
            differing = [
                question
                for question in questions
                if not same_ranking(
                    top5(embedded, encoder, question, mode), top5(postgres, encoder, question, mode)
                )
            ]
            assert differing == [], mode
    finally:
        embedded.close()
        postgres.close()


def test_a_second_ray_run_finds_everything_unchanged(
    corpus: Path, ray_run: tuple[dict, str], ray_instance: None
) -> None:
    result = CliRunner().invoke(
        main, ["--store", ray_run[1], "ingest", str(corpus), "--engine", "ray", "--json"]
    )
    report = json.loads(result.stdout)
    assert report["unchanged"] == report["seen"] == ray_run[0]["seen"]
    assert report["tokens_embedded"] == 0 and report["added"] == report["chunks"] == 0
