"""Which approximate index for the vectors: FAISS's HNSW or its inverted file (IVF)?

`python -m bench.ann_choice [PASSAGES]` (default 100,000): passages of bench/synthetic.py's
English (two paragraphs each, about a chunk) embedded by the fake encoder, 300 synthetic
questions; for each index, the build rate on two threads, and per question (one thread) the
milliseconds and recall@10 against an exact scan when 36 candidates (2 k + 16 for k = 10) are
rescored exactly, as the store does. Both store float16 codes, as the store's view does.
"""

from __future__ import annotations

import sys
import time

import faiss
import numpy as np

from bench import synthetic
from riverbed.testing.encoder import _bag

CANDIDATES = 36


def corpus(passages: int) -> tuple[np.ndarray, np.ndarray]:
    texts: list[str] = []
    for document in synthetic.documents(passages // 4 + 1):
        paragraphs = document["text"].split("\n\n")
        texts += [" ".join(paragraphs[i : i + 2]) for i in range(0, len(paragraphs), 2)]
    vectors = np.stack([_bag(text) for text in texts[:passages]])
    asked = np.stack([_bag(question) for question in synthetic.questions(300)])
    return _unit(vectors), _unit(asked)


def _unit(rows: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(rows / np.linalg.norm(rows, axis=1, keepdims=True), np.float32)


def recall(vectors: np.ndarray, asked: np.ndarray, found: np.ndarray, exact: np.ndarray) -> float:
    hits = 0
    for query, candidates, truth in zip(asked, found, exact, strict=True):
        candidates = candidates[candidates >= 0]
        best = candidates[np.argsort(-(vectors[candidates] @ query))[:10]]
        hits += len(set(best.tolist()) & set(truth.tolist()))
    return hits / (10 * len(asked))


def timed_search(index: faiss.Index, asked: np.ndarray, params: object) -> tuple[np.ndarray, float]:
    faiss.omp_set_num_threads(1)
    started = time.perf_counter()
    _, found = index.search(asked, CANDIDATES, params=params)
    faiss.omp_set_num_threads(2)
    return found, (time.perf_counter() - started) / len(asked) * 1000


def main(passages: int) -> None:
    vectors, asked = corpus(passages)
    _, exact = faiss.knn(asked, vectors, 10, metric=faiss.METRIC_INNER_PRODUCT)
    print(f"{len(vectors)} passages, {len(asked)} questions")
    faiss.omp_set_num_threads(2)
    for links in (16, 32):
        index = faiss.IndexHNSWSQ(
            vectors.shape[1], faiss.ScalarQuantizer.QT_fp16, links, faiss.METRIC_INNER_PRODUCT
        )
        index.hnsw.efConstruction = 64
        started = time.perf_counter()
        index.add(vectors)
        rate = len(vectors) / (time.perf_counter() - started)
        for ef in (64, 128, 256, 512):
            found, ms = timed_search(index, asked, faiss.SearchParametersHNSW(efSearch=ef))
            print(
                f"HNSW M={links} efSearch={ef}: build {rate:.0f}/s, {ms:.2f} ms,"
                f" recall@10 {recall(vectors, asked, found, exact):.4f}"
            )
    for per_root in (2, 4):
        inverted_file(vectors, asked, exact, round(per_root * np.sqrt(len(vectors))))


def inverted_file(vectors: np.ndarray, asked: np.ndarray, exact: np.ndarray, lists: int) -> None:
    quantizer = faiss.IndexFlatIP(vectors.shape[1])
    index = faiss.IndexIVFScalarQuantizer(
        quantizer,
        vectors.shape[1],
        lists,
        faiss.ScalarQuantizer.QT_fp16,
        faiss.METRIC_INNER_PRODUCT,
        False,
    )
    started = time.perf_counter()
    sample = vectors[np.random.default_rng(0).choice(len(vectors), 40 * lists, replace=False)]
    index.train(sample)
    index.add(vectors)
    rate = len(vectors) / (time.perf_counter() - started)
    for share in (0.03, 0.06, 0.12, 0.24):
        probes = max(1, round(share * lists))
        found, ms = timed_search(index, asked, faiss.SearchParametersIVF(nprobe=probes))
        print(
            f"IVF {lists} lists, {probes} probed: build {rate:.0f}/s (training included),"
            f" {ms:.2f} ms, recall@10 {recall(vectors, asked, found, exact):.4f}"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
