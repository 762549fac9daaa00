"""Warm query latency over an index of 10,000+ passages of real text: the Python 3.11 docs.

The index is the HTML of Debian's python3.11-doc, ingested once into bench/.cache and reused
(bench/corpora.py). Questions: a few written by hand plus the pages' own subtitles ("Container
datatypes", "Generate pseudo-random numbers"), shuffled with a fixed seed, all distinct; the
first WARM_UP are asked before measuring. `Index.search` in this process (k=5). Per mode: p50
and p99 in milliseconds. Then hybrid once more with each step timed, as means: on the caller's
thread, term counts (for the question's term weights), question encoding, the dense top-n,
reading passages, answer sentences, fusion and folding ("other": building the term matcher,
waiting for the lexical side, making results); on the lexical side's thread ("alongside"),
meanwhile, the BM25 top-n and reading BM25's candidates (their term coverage is the rest of
that thread's time).
"""

from __future__ import annotations

import random
import sqlite3
import statistics
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np

import index.query as index_query
from bench.corpora import PYDOCS_MIN_PASSAGES, pydocs_index
from index.api import Index

WARM_UP = 20
STORE_STEPS = ["dense_search", "lexical_search", "term_document_counts", "passages"]
QUERY_STEPS = ["best_sentences", "strongest_evidence", "weighted_sum", "fold"]  # index.query's own
MEASURED = 300
SMALLER_CHUNKS = 128  # tokens, if the default size makes fewer than PYDOCS_MIN_PASSAGES
HAND_WRITTEN = [
    "how do I read a file line by line",
    "what does the walrus operator do",
    "sort a list of dictionaries by a key",
    "difference between a list and a tuple",
    "how to run a subprocess and capture its output",
    "what is the global interpreter lock",
    "how are default argument values evaluated",
    "create a virtual environment",
    "format a float with two decimals in an f-string",
    "what does yield from do in a generator",
    "how do context managers work with the with statement",
    "parse command line arguments",
    "when is __init_subclass__ called",
    "how to make an HTTP request with urllib",
    "what is a dataclass frozen parameter",
    "exception groups and except star",
    "how does asyncio.gather handle exceptions",
    "match statement with class patterns",
    "how to measure execution time of small code snippets",
    "what happens when a module is imported twice",
]


def questions(data_dir: Any) -> list[str]:
    with sqlite3.connect(f"file:{data_dir / 'catalog.sqlite'}?mode=ro", uri=True) as db:
        titles = [row[0] for row in db.execute("SELECT title FROM documents ORDER BY id")]
    subtitles = {t.replace("¶", "").split(" — ", 1)[-1].strip() for t in titles}
    asked = sorted(s for s in subtitles if len(s) > 3) + HAND_WRITTEN
    random.Random(7).shuffle(asked)
    return list(dict.fromkeys(asked))


def percentile(values: list[float], share: float) -> float:
    return round(float(np.percentile(np.asarray(values) * 1000, share * 100)), 2)


def timed_calls(target: Any, names: list[str], spent: dict[str, list[float]]) -> None:
    """Wrap `target`'s methods `names` so each call's seconds are added to `spent[name]` when
    made on this thread, to `spent[name + "_alongside"]` on another (the lexical side's)."""
    caller = threading.get_ident()
    for name in names:
        method: Callable = getattr(target, name)

        def wrapper(
            *args: Any, _method: Callable = method, _name: str = name, **kwargs: Any
        ) -> Any:
            started = time.perf_counter()
            try:
                return _method(*args, **kwargs)
            finally:
                where = "" if threading.get_ident() == caller else "_alongside"
                spent[_name + where].append(time.perf_counter() - started)

        setattr(target, name, wrapper)


def measure(index: Index, asked: list[str], mode: str) -> list[float]:
    latencies = []
    for question in asked:
        started = time.perf_counter()
        index.search(question, k=5, mode=mode)  # type: ignore[arg-type]
        latencies.append(time.perf_counter() - started)
    return latencies


def breakdown(spent: dict[str, list[float]], latencies: list[float]) -> dict[str, float]:
    """Mean milliseconds per search of each step, and of the rest on the caller's thread."""
    count = len(latencies)
    mean = {step: sum(seconds) / count * 1000 for step, seconds in sorted(spent.items())}
    caller = [step for step in mean if not step.endswith("_alongside")]
    figures = {f"hybrid_mean_ms_{step}": round(mean[step], 2) for step in caller}
    total = statistics.fmean(latencies) * 1000
    figures["hybrid_mean_ms_other"] = round(total - sum(mean[step] for step in caller), 2)
    for step in mean:
        if step.endswith("_alongside"):
            figures[f"hybrid_mean_ms_{step}"] = round(mean[step], 2)
    figures["hybrid_mean_ms"] = round(total, 2)
    return figures


def run() -> dict[str, float | str]:
    data_dir, stats = pydocs_index()
    chunk_note = "default"
    if stats["passages"] < PYDOCS_MIN_PASSAGES:
        data_dir, stats = pydocs_index(SMALLER_CHUNKS)
        chunk_note = f"{SMALLER_CHUNKS} tokens (the default gives fewer than 10,000 passages)"
    asked = questions(data_dir)
    warm, measured = asked[:WARM_UP], asked[WARM_UP : WARM_UP + MEASURED]
    figures: dict[str, float | str] = {
        "index": f"Python 3.11 docs: {stats['documents']} pages, {stats['passages']} passages",
        "chunk_size": chunk_note,
        "questions": len(measured),
    }
    with Index.open(data_dir) as index:
        index.warm()  # as `riverbed serve` does at start
        for question in warm:
            index.search(question, k=5, mode="hybrid")
        encode = []
        for question in measured:
            started = time.perf_counter()
            index.encoder.embed_queries([question])
            encode.append(time.perf_counter() - started)
        figures["query_encoding_p50_ms"] = percentile(encode, 0.5)
        for mode in ("dense", "lexical", "hybrid"):
            latencies = measure(index, measured, mode)
            figures[f"{mode}_p50_ms"] = percentile(latencies, 0.5)
            figures[f"{mode}_p99_ms"] = percentile(latencies, 0.99)
        # Once more, hybrid, with every step timed (the timing itself costs a little).
        spent: dict[str, list[float]] = defaultdict(list)
        timed_calls(index.encoder, ["embed_queries"], spent)
        timed_calls(index.store, STORE_STEPS, spent)
        originals = {name: getattr(index_query, name) for name in QUERY_STEPS}
        timed_calls(index_query, QUERY_STEPS, spent)
        try:
            latencies = measure(index, measured, "hybrid")
        finally:
            for name, function in originals.items():
                setattr(index_query, name, function)
        figures.update(breakdown(spent, latencies))
    return figures
