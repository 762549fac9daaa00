"""Scaling out: what each stage does per second, ingestion local vs Ray, and queries on Postgres
vs the embedded store.

1. Stage rates, in this process, on the SQuAD paragraphs (tests/data, one document each, the
   real model): read, clean, dedupe (MinHash), chunk, embed with 1 and 2 torch threads.
2. Ingest throughput of the same corpus with the real model: the local engine into SQLite+FAISS
   and into Postgres, and Ray with 1 and 2 embedding actors into Postgres (one local Ray
   instance, started once; its start-up is given apart). Every run loads the model afresh (Ray:
   once per actor), as a real run does.
3. Writes and queries at 10k+ passages: a corpus of real sentences (from SQuAD, the seeds and
   the docstrings of Python's standard library, drawn at random into ~40-sentence documents;
   ~11k distinct sentences, so a term matches more passages than in natural text, which is hard
   on lexical search) ingested into each store with the fake encoder of
   riverbed/testing/encoder.py (384-dimensional hashed bags of words: the store's cost depends on how
   many vectors there are and how wide, not on what they mean; the real model would take most
   of an hour here). Then 300 SQuAD questions through `index.query.search` in each mode: p50
   and p99 in milliseconds, question encoding excluded (the real ONNX encoder's p50 is given).

A local embedded Postgres (pipeline/pgdemo.py) serves parts 2 and 3. The machine's load
average before and after is recorded: on a shared machine it says how far to trust the rest.
"""

from __future__ import annotations

import ast
import json
import os
import random
import re
import shutil
import sysconfig
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.timing import encoding_p50, search_latency

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"
QUERY_CORPUS_DOCUMENTS = 2200
SENTENCES_PER_DOCUMENT = 40
QUESTIONS = 300


def squad_paragraphs(path: Path) -> int:
    """The SQuAD articles' paragraphs as JSONL documents; how many."""
    count = 0
    with path.open("w") as handle:
        for line in (DATA / "squad2-dev-5articles.docs.jsonl").read_text().splitlines():
            article = json.loads(line)
            for number, paragraph in enumerate(article["text"].split("\n\n")):
                if paragraph.strip():
                    record = {"id": f"{article['id']}-{number}", "text": paragraph}
                    handle.write(json.dumps(record) + "\n")
                    count += 1
    return count


def docstrings() -> list[str]:
    """The longer docstrings of Python's standard library (tests excluded), in a stable order."""
    found = []
    for path in sorted(Path(sysconfig.get_paths()["stdlib"]).rglob("*.py")):
        if {"test", "tests", "site-packages"} & set(path.parts):
            continue
        try:
            tree = ast.parse(path.read_text(errors="replace"))
        except (SyntaxError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
                text = ast.get_docstring(node)
                if text and len(text) > 200:
                    found.append(" ".join(text.split()))
    return found


def sentence_corpus(path: Path) -> None:
    """Documents of real sentences drawn at random: prose to chunk and to match lexically."""
    texts = [json.loads(line)["text"] for line in (DATA / "squad2-dev-5articles.docs.jsonl").open()]
    texts += [p.read_text() for p in sorted((ROOT / "seeds").glob("*.txt"))]
    texts += docstrings()
    sentences = [s for t in texts for s in re.split(r"(?<=[.!?])\s+", t) if len(s) > 20]
    rng = random.Random(7)
    with path.open("w") as handle:
        for number in range(QUERY_CORPUS_DOCUMENTS):
            picked = rng.choices(sentences, k=SENTENCES_PER_DOCUMENT)
            paragraphs = [" ".join(picked[i : i + 5]) for i in range(0, len(picked), 5)]
            record = {"id": f"doc-{number}", "text": "\n\n".join(paragraphs)}
            handle.write(json.dumps(record) + "\n")


def per_second(count: float, seconds: float) -> float:
    return round(count / seconds, 1) if seconds > 0 else 0.0


def timed(work: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = work()
    return result, time.perf_counter() - started


# -- 1. stage rates ----------------------------------------------------------------------------


def stage_rates(corpus: Path) -> dict[str, float | str]:
    import torch

    from index.encoder import SentenceTransformerEncoder
    from index.model import ModelInfo
    from pipeline.clean import Cleaner
    from pipeline.report import RunReport
    from pipeline.sources import read_file
    from pipeline.stages import make_chunker, make_signer
    from riverbed.settings import Settings

    settings = Settings()
    report = RunReport()
    documents, read_seconds = timed(lambda: list(read_file(corpus, report, 10**9)))
    cleaned, clean_seconds = timed(lambda: list(Cleaner(report)(documents)))
    signer = make_signer(settings)
    _, dedupe_seconds = timed(lambda: [signer.band_keys(signer.signature(d.text)) for d in cleaned])
    info = ModelInfo.from_setting(settings.model)
    chunker = make_chunker(settings)
    chunks, chunk_seconds = timed(lambda: list(chunker(cleaned)))
    figures: dict[str, float | str] = {
        "stage_corpus": f"{len(documents)} SQuAD paragraphs, {len(chunks)} passages",
        "stage_read_docs_per_s": per_second(len(documents), read_seconds),
        "stage_clean_docs_per_s": per_second(len(documents), clean_seconds),
        "stage_dedupe_docs_per_s": per_second(len(documents), dedupe_seconds),
        "stage_chunk_passages_per_s": per_second(len(chunks), chunk_seconds),
    }
    encoder = SentenceTransformerEncoder(info)
    threads_before = torch.get_num_threads()
    for threads in (1, 2):
        torch.set_num_threads(threads)
        embedded, seconds = timed(
            lambda: encoder.embed_passages([c.text for c in chunks], [c.sentences for c in chunks])
        )
        figures[f"stage_embed_passages_per_s_{threads}_thread"] = per_second(len(chunks), seconds)
        figures[f"stage_embed_tokens_per_s_{threads}_thread"] = per_second(embedded.tokens, seconds)
    torch.set_num_threads(threads_before)
    figures["tokens_per_passage"] = round(embedded.tokens / len(chunks), 1)
    return figures


# -- 2. ingest throughput ----------------------------------------------------------------------


def ingest_throughput(server: str, corpus: Path, folder: Path) -> dict[str, float | str]:
    from pipeline import ingest
    from pipeline.distributed import RayEngine, _start_ray
    from riverbed.settings import Settings
    from riverbed.testing.postgres import create_database

    figures: dict[str, float | str] = {}

    def measure(name: str, settings: Settings, engine: RayEngine | None = None) -> None:
        report, seconds = timed(lambda: ingest([corpus], settings=settings, engine=engine))
        figures[f"ingest_{name}_passages_per_s"] = per_second(report.chunks, seconds)
        figures[f"ingest_{name}_seconds"] = round(seconds, 1)

    measure("local_sqlite", Settings(data_dir=folder / "local"))
    measure("local_postgres", Settings(store=create_database(server)))
    (ray, started), seconds = timed(lambda: _start_ray(None))
    figures["ray_local_start_seconds"] = round(seconds, 1)
    try:
        for workers in (1, 2):
            settings = Settings(store=create_database(server))
            measure(f"ray_{workers}_worker_postgres", settings, RayEngine(workers=workers))
    finally:
        if started:
            ray.shutdown()
    return figures


# -- 3. writes and queries at 10k passages -----------------------------------------------------


def fake_encoder_factory(store: Any, settings: Any) -> Callable[[], Any]:
    from index.model import ModelInfo
    from riverbed.testing import FakeEncoder

    info = ModelInfo.from_setting(settings.model)
    encoder = FakeEncoder(info)

    def factory() -> FakeEncoder:
        store.bind_model(info.model_id, encoder.dim)
        return encoder

    return factory


def query_latency(server: str, folder: Path) -> dict[str, float | str]:
    from index.encoder import query_encoder
    from index.model import ModelInfo
    from index.store.postgres import PostgresStore
    from index.store.sqlite_faiss import SqliteFaissStore
    from pipeline.ingestion import ingest_with
    from pipeline.writer import Writer
    from riverbed.settings import Settings
    from riverbed.testing import FakeEncoder
    from riverbed.testing.postgres import create_database

    corpus = folder / "sentences.jsonl"
    sentence_corpus(corpus)
    settings = Settings()
    stores = {
        "sqlite": SqliteFaissStore(folder / "query-sqlite"),
        "postgres": PostgresStore(create_database(server)),
    }
    lines = (DATA / "squad2-dev-5articles.questions.jsonl").read_text().splitlines()
    questions = [json.loads(line)["question"] for line in lines[:: max(1, len(lines) // QUESTIONS)]]
    encoder = FakeEncoder(ModelInfo.from_setting(settings.model))
    figures: dict[str, float | str] = {}
    try:
        for name, store in stores.items():
            writer = Writer(store, settings, encoder_factory=fake_encoder_factory(store, settings))
            with writer.locked():
                report, seconds = timed(lambda writer=writer: ingest_with(writer, [corpus]).report)
            figures[f"write_{name}_passages_per_s"] = per_second(report.chunks, seconds)
            stats = store.stats()
            figures["query_corpus_passages"] = stats["passages"]
            figures[f"size_{name}_mb"] = round(stats["bytes"] / 2**20, 1)
            if name == "postgres":
                with store.connection() as conn:
                    hnsw = conn.execute("SELECT pg_relation_size('passages_vector')").fetchone()[0]
                figures["size_postgres_hnsw_mb"] = round(hnsw / 2**20, 1)
            store.warm()  # as `riverbed serve` does
            for mode in ("dense", "lexical", "hybrid"):
                p50, p99 = search_latency(store, encoder, questions, settings, mode)
                figures[f"query_{name}_{mode}_p50_ms"] = p50
                figures[f"query_{name}_{mode}_p99_ms"] = p99
    finally:
        for store in stores.values():
            store.close()
    onnx = query_encoder(ModelInfo.from_setting(settings.model), "auto", settings.cache_dir)
    figures["query_encoding_onnx_p50_ms"] = encoding_p50(onnx, questions[:100])
    return figures


def run() -> dict[str, float | str]:
    from riverbed.testing.postgres import local_postgres

    folder = Path(tempfile.mkdtemp(prefix="riverbed-bench-scale-"))
    try:
        corpus = folder / "squad-paragraphs.jsonl"
        squad_paragraphs(corpus)
        figures: dict[str, float | str] = {"load_average_before": round(os.getloadavg()[0], 1)}
        figures |= stage_rates(corpus)
        with local_postgres() as server:
            figures |= ingest_throughput(server, corpus, folder)
            figures |= query_latency(server, folder)
        figures["load_average_after"] = round(os.getloadavg()[0], 1)
        return figures
    finally:
        shutil.rmtree(folder, ignore_errors=True)
