"""Warm search latency, measured the same way by every benchmark that reports it."""

from __future__ import annotations

import time
from typing import Any

import numpy as np

WARM_UP = 20  # questions asked first, untimed: caches, connections, threads


def search_latency(
    store: Any, encoder: Any, questions: list[str], settings: Any, mode: str, k: int = 5
) -> tuple[float, float]:
    """p50 and p99 in milliseconds of `index.query.search` over `questions` (question encoding
    included), after WARM_UP of them untimed."""
    from index.query import search

    for question in questions[:WARM_UP]:
        search(store, encoder, question, settings, k=k, mode=mode)  # type: ignore[arg-type]
    took = []
    for question in questions:
        started = time.perf_counter()
        search(store, encoder, question, settings, k=k, mode=mode)  # type: ignore[arg-type]
        took.append((time.perf_counter() - started) * 1000)
    return round(float(np.percentile(took, 50)), 2), round(float(np.percentile(took, 99)), 2)


def encoding_p50(encoder: Any, questions: list[str]) -> float:
    """p50 in milliseconds of encoding one question."""
    took = []
    for question in questions:
        started = time.perf_counter()
        encoder.embed_queries([question])
        took.append((time.perf_counter() - started) * 1000)
    return round(float(np.percentile(took, 50)), 2)
