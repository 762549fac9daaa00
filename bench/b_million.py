"""The embedded store at 10k, 100k and 1M passages: does cost stay flat as the index grows?

Corpus: synthetic English with topics (bench/synthetic.py), ingested through the real pipeline
(clean, dedupe, chunk with the model's tokenizer, write) with the fake encoder of
riverbed/testing/encoder.py: hashed bags of words, whose vectors cost the store what the
model's do (same width) and have neighbours by shared words. Each size is ingested once into
bench/.cache/million-<size> (the largest takes hours on 2 cores) in two runs: nine tenths, then
the last tenth, whose rate is the ingest rate *at* that size. Then, per size:

- bytes per passage on disk: all files, and beyond the text (documents' and passages' text);
  and the share of each part (passage vectors in the catalog, sentence vectors, vector files);
- dense recall@10 of the store's dense search against an exact float32 scan of every vector;
- seconds to load the vectors (the files of vector_segments.py), then BM25's postings;
- warm dense and hybrid p50/p99 of `index.query.search` (question encoding included: the fake
  encoder's; the real ONNX encoder's p50 is given beside it), once both are in memory;
- `riverbed serve` (the fake encoder's CLI, `python -m riverbed.testing`): seconds from start
  to its first answer (from 50k passages BM25's postings are still being read then, and FTS5
  ranks), and its resident set after SERVE_SEARCHES searches.

RIVERBED_BENCH_SIZES (comma-separated passages, e.g. "10000,100000") limits the sizes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from bench import synthetic
from bench.b_serve import free_port
from bench.corpora import CACHE, ROOT, clean_env
from bench.timing import encoding_p50, search_latency

SIZES = (10_000, 100_000, 1_000_000)
PASSAGES_PER_DOCUMENT = 5.0  # about, at the default chunks (3333 documents: 16,783)
QUESTIONS = 300
RECALL_QUESTIONS = 200
SERVE_SEARCHES = 100


def sizes() -> list[int]:
    chosen = os.environ.get("RIVERBED_BENCH_SIZES")
    return [int(size) for size in chosen.split(",")] if chosen else list(SIZES)


# -- building ------------------------------------------------------------------------------------


def build(size: int) -> tuple[Path, dict[str, Any]]:
    """The data dir of `size` passages (built now if missing) and its ingest figures."""
    folder = CACHE / f"million-{size}"
    done = folder / "bench-built.json"
    if done.is_file():
        return folder / "data", json.loads(done.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    documents = round(size / PASSAGES_PER_DOCUMENT)
    corpus = folder / "corpus.jsonl"
    if not corpus.is_file():
        synthetic.write_corpus(corpus, documents)
    lines = corpus.read_text().splitlines(keepends=True)
    head, tail = folder / "head.jsonl", folder / "tail.jsonl"
    head.write_text("".join(lines[: len(lines) * 9 // 10]))
    tail.write_text("".join(lines[len(lines) * 9 // 10 :]))
    # An interrupted build resumes (ingest skips what landed); its head rate is then not one.
    figures: dict[str, Any] = {"documents": len(lines), "resumed": (folder / "data").exists()}
    for part, path in (("head", head), ("tail", tail)):
        report, seconds = timed_ingest(folder / "data", path)
        figures[f"{part}_passages"] = report["chunks"]
        figures[f"{part}_seconds"] = round(seconds, 1)
        figures[f"{part}_passages_per_s"] = round(report["chunks"] / seconds, 1)
    head.unlink()
    tail.unlink()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True)
    figures["built_at_commit"] = commit.stdout.decode().strip()
    done.write_text(json.dumps(figures, indent=2) + "\n")
    return folder / "data", figures


def timed_ingest(data_dir: Path, corpus: Path) -> tuple[dict, float]:
    """`riverbed ingest CORPUS --json` with the fake encoder, in a fresh process."""
    return timed_riverbed(data_dir, "ingest", str(corpus), succeeded=(0, 3))


def timed_riverbed(
    data_dir: Path, *args: str, succeeded: tuple[int, ...] = (0,)
) -> tuple[dict, float]:
    """`riverbed ARGS --json` on `data_dir` with the fake encoder, in a fresh process: its
    JSON and its seconds (exit codes other than `succeeded` raise)."""
    command = [sys.executable, "-m", "riverbed.testing", "--data-dir", str(data_dir)]
    started = time.perf_counter()
    done = subprocess.run(
        [*command, *args, "--json"], cwd=ROOT, env=clean_env(), capture_output=True, check=False
    )
    seconds = time.perf_counter() - started
    if done.returncode not in succeeded:
        raise RuntimeError(f"{args[0]} failed: {done.stderr.decode()[-2000:]}")
    return json.loads(done.stdout), seconds


# -- measuring -----------------------------------------------------------------------------------


def disk(store: Any) -> dict[str, float]:
    """Bytes per passage on disk, in all and by part."""
    files = sum(path.stat().st_size for path in store.data_dir.rglob("*") if path.is_file())
    one = lambda sql: store.db.execute(sql).fetchone()[0] or 0  # noqa: E731
    passages = one("SELECT COUNT(*) FROM passages")
    text = one("SELECT SUM(length(CAST(text AS BLOB))) FROM passages")
    text += one("SELECT SUM(length(CAST(text AS BLOB))) FROM documents")
    vector_files = sum(p.stat().st_size for p in store.data_dir.glob("vectors-*"))
    bm25_files = sum(p.stat().st_size for p in store.data_dir.glob("bm25-*/*"))
    per = lambda count: round(count / passages, 1)  # noqa: E731
    return {
        "passages": passages,
        "bytes_per_passage": per(files),
        "bytes_per_passage_beyond_text": per(files - text),
        "text_bytes_per_passage": per(text),
        "passage_vector_bytes_per_passage": per(one("SELECT SUM(length(vector)) FROM passages")),
        "sentence_vector_bytes_per_passage": per(
            one("SELECT SUM(length(sentence_vectors)) FROM passages")
        ),
        "vector_file_bytes_per_passage": per(vector_files),
        "bm25_file_bytes_per_passage": per(bm25_files),
    }


def exact_top(store: Any, questions: np.ndarray, k: int) -> list[set[int]]:
    """The exact float32 top k of each question over every vector in the catalog."""
    best_scores = np.full((len(questions), k), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(questions), k), dtype=np.int64)
    for ids, vectors in store._all_vectors(page=65_536):
        scores = np.concatenate([best_scores, (vectors @ questions.T).T], axis=1)
        every = np.concatenate([best_ids, np.broadcast_to(ids, (len(questions), len(ids)))], axis=1)
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        best_scores = np.take_along_axis(scores, order, axis=1)
        best_ids = np.take_along_axis(every, order, axis=1)
    return [set(row.tolist()) for row in best_ids]


def latency(store: Any, asked: list[str]) -> dict[str, float]:
    from index.model import ModelInfo
    from riverbed.settings import Settings
    from riverbed.testing import FakeEncoder

    settings = Settings()
    encoder = FakeEncoder(ModelInfo.from_setting(settings.model))
    figures = {}
    for mode in ("dense", "hybrid"):
        p50, p99 = search_latency(store, encoder, asked, settings, mode)
        figures[f"{mode}_p50_ms"], figures[f"{mode}_p99_ms"] = p50, p99
    return figures


def serve(data_dir: Path, asked: list[str], log: Path) -> dict[str, float]:
    """`riverbed serve` with the fake encoder: start to first answer, then RSS after searches."""
    from bench.b_memory import resident

    port = free_port()
    command = [sys.executable, "-m", "riverbed.testing", "--data-dir", str(data_dir)]
    command += ["serve", "--port", str(port), "--log-level", "warning"]
    started = time.perf_counter()
    with log.open("wb") as output:
        server = subprocess.Popen(
            command, cwd=ROOT, env=clean_env(), stdout=output, stderr=subprocess.STDOUT
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client(base_url=base_url, timeout=120) as http:
            while True:
                if server.poll() is not None:
                    raise RuntimeError(f"riverbed serve exited: {log.read_text()[-2000:]}")
                try:
                    http.get("/search", params={"q": asked[0], "k": 5}).raise_for_status()
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
            first_answer = time.perf_counter() - started
            for question in asked[:SERVE_SEARCHES]:
                http.get("/search", params={"q": question, "k": 5}).raise_for_status()
        fields = resident(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=60)
    return {
        "serve_first_answer_s": round(first_answer, 2),
        "serve_rss_mb": round(fields["VmRSS"], 1),
        "serve_rss_anon_mb": round(fields["RssAnon"], 1),
        "serve_peak_rss_mb": round(fields["VmHWM"], 1),
    }


def measure(size: int) -> dict[str, Any]:
    from index.store.sqlite_faiss import SqliteFaissStore
    from riverbed.testing.encoder import _bag

    data_dir, built = build(size)
    figures: dict[str, Any] = {f"ingest_{key}": value for key, value in built.items()}
    asked = synthetic.questions(QUESTIONS)
    store = SqliteFaissStore(data_dir, create=False)
    try:
        figures |= disk(store)
        started = time.perf_counter()
        store.vectors()
        figures["vectors_load_s"] = round(time.perf_counter() - started, 2)
        started = time.perf_counter()
        store.warm(wait=True)  # BM25's postings too, before the timed questions
        figures["bm25_load_s"] = round(time.perf_counter() - started, 2)
        figures["vector_layout"] = store.vectors().layout
        vectors = np.stack([_bag(question) for question in asked[:RECALL_QUESTIONS]])
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        exact = exact_top(store, vectors, 10)
        found = [{pid for pid, _ in store.dense_search(v, 10)} for v in vectors]
        hits = sum(len(a & b) for a, b in zip(found, exact, strict=True))
        figures["dense_recall_at_10"] = round(hits / (10 * len(exact)), 4)
        figures |= latency(store, asked)
    finally:
        store.close()
    figures |= serve(data_dir, asked, data_dir.parent / "serve.log")
    return figures


def run() -> dict[str, float | str]:
    from index.encoder import query_encoder
    from index.model import ModelInfo
    from riverbed.settings import Settings

    figures: dict[str, float | str] = {"load_average_before": round(os.getloadavg()[0], 1)}
    for size in sizes():
        for key, value in measure(size).items():
            figures[f"{size}_{key}"] = value
    settings = Settings()
    onnx = query_encoder(ModelInfo.from_setting(settings.model), "auto", settings.cache_dir)
    figures["query_encoding_onnx_p50_ms"] = encoding_p50(onnx, synthetic.questions(100))
    figures["load_average_after"] = round(os.getloadavg()[0], 1)
    return figures
