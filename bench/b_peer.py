"""Warm hybrid search against a well-known peer with the same model, in one process, as a ratio.

The peer is LangChain's usual hybrid recipe: an EnsembleRetriever fusing a BM25Retriever
(rank_bm25 over whitespace tokens) and a FAISS vector store retriever (flat inner product) by
weighted reciprocal ranks, the question encoded by sentence-transformers with the same model
(PyTorch, its default threads). It holds the same passages as riverbed's Python docs index
(bench/corpora.py) and their stored vectors, so neither side embeds passages here; k=5 for each
retriever and for riverbed. The two take turns, ROUNDS times, over b_query's questions; the
figures are the medians of each turn's p50 and p99. The peer returns passages only: riverbed's
figure also pays for its answer sentences, folding and filters.
"""

from __future__ import annotations

import sqlite3
import statistics
import time
import warnings
from collections.abc import Callable, Sequence

import numpy as np

from bench.b_query import MEASURED, WARM_UP, percentile, questions
from bench.corpora import pydocs_index
from index.api import Index
from index.model import ModelInfo

ROUNDS = 3
K = 5


def peer_retriever(data_dir: object, model_dir: str) -> Callable[[str], object]:
    """The peer over the index's passages and vectors; returns its search function."""
    warnings.filterwarnings("ignore", category=DeprecationWarning)  # langchain-community's notice
    from langchain_classic.retrievers import EnsembleRetriever
    from langchain_community.retrievers import BM25Retriever
    from langchain_community.vectorstores import FAISS
    from langchain_core.embeddings import Embeddings
    from sentence_transformers import SentenceTransformer

    class SentenceTransformerEmbeddings(Embeddings):
        """What langchain-huggingface's HuggingFaceEmbeddings does, without its pins."""

        def __init__(self) -> None:
            self.model = SentenceTransformer(model_dir, device="cpu")

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return self.model.encode(texts, normalize_embeddings=True).tolist()

        def embed_query(self, text: str) -> list[float]:
            return self.model.encode(text, normalize_embeddings=True).tolist()

    with sqlite3.connect(f"file:{data_dir}/catalog.sqlite?mode=ro", uri=True) as db:
        rows = db.execute("SELECT text, vector FROM passages ORDER BY id").fetchall()
    pairs = [(text, np.frombuffer(blob, dtype=np.float32).tolist()) for text, blob in rows]
    vectors = FAISS.from_embeddings(pairs, SentenceTransformerEmbeddings())
    lexical = BM25Retriever.from_texts([text for text, _ in pairs], k=K)
    both = EnsembleRetriever(
        retrievers=[lexical, vectors.as_retriever(search_kwargs={"k": K})], weights=[0.5, 0.5]
    )
    return both.invoke


def latencies(search: Callable[[str], object], asked: Sequence[str]) -> list[float]:
    found = []
    for question in asked:
        started = time.perf_counter()
        search(question)
        found.append(time.perf_counter() - started)
    return found


def run() -> dict[str, float | str]:
    data_dir, stats = pydocs_index()
    asked = questions(data_dir)
    warm, measured = asked[:WARM_UP], asked[WARM_UP : WARM_UP + MEASURED]
    with Index.open(data_dir) as index:
        index.warm()
        sides: dict[str, Callable[[str], object]] = {
            "riverbed": lambda question: index.search(question, k=K, mode="hybrid"),
            "peer": peer_retriever(
                data_dir, str(ModelInfo.from_setting(index.settings.model).path)
            ),
        }
        for search in sides.values():
            latencies(search, warm)
        p50: dict[str, list[float]] = {name: [] for name in sides}
        p99: dict[str, list[float]] = {name: [] for name in sides}
        for _ in range(ROUNDS):
            for name, search in sides.items():
                found = latencies(search, measured)
                p50[name].append(percentile(found, 0.5))
                p99[name].append(percentile(found, 0.99))
    figures: dict[str, float | str] = {
        "index": f"Python 3.11 docs: {stats['passages']} passages",
        "questions": len(measured),
        "rounds": ROUNDS,
    }
    for name in sides:
        figures[f"{name}_hybrid_p50_ms"] = statistics.median(p50[name])
        figures[f"{name}_hybrid_p99_ms"] = statistics.median(p99[name])
    figures["riverbed_over_peer_p50"] = round(
        figures["riverbed_hybrid_p50_ms"] / figures["peer_hybrid_p50_ms"],
        3,  # type: ignore[operator]
    )
    return figures
