"""What durable writes cost: one ingest with the catalog at synchronous=FULL (each commit on the
disk before it returns, riverbed's setting) against the same ingest at NORMAL (SQLite's default
for WAL, which a power loss may take the last commits back from), in one run, as a ratio.

The fake encoder embeds (no model time hides the commits); 600 short documents in micro-batches
of 8, so 75 commits, each followed by nothing else; the vector files are fsynced in both.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from index.store import sqlite_faiss
from pipeline import ingest
from riverbed.settings import Settings
from riverbed.testing import install

DOCUMENTS = 600
BATCH = 8
ROUNDS = 5


def _records(round_: int) -> list[dict[str, Any]]:
    return [
        {"id": f"d{n}", "text": f"Round {round_} document {n}: otters, herons and swifts {n % 7}."}
        for n in range(DOCUMENTS)
    ]


def _ingest_seconds(synchronous: str, round_: int) -> float:
    patch = pytest.MonkeyPatch()
    real = sqlite_faiss.SqliteFaissStore.db.fget

    def db(store: sqlite_faiss.SqliteFaissStore) -> Any:
        connection = real(store)
        if not connection.in_transaction:
            connection.execute(f"PRAGMA synchronous={synchronous}")
        return connection

    patch.setattr(sqlite_faiss.SqliteFaissStore, "db", property(db))
    try:
        with tempfile.TemporaryDirectory(dir=Path.cwd()) as home:
            settings = Settings(data_dir=Path(home) / "data", batch_documents=BATCH)
            started = time.perf_counter()
            ingest(_records(round_), settings=settings)
            return time.perf_counter() - started
    finally:
        patch.undo()


def run() -> dict[str, float | str]:
    patch = pytest.MonkeyPatch()
    install(patch)
    ratios = []
    for round_ in range(ROUNDS):  # FULL and NORMAL in turn, so drift hits both alike
        full = _ingest_seconds("FULL", round_)
        normal = _ingest_seconds("NORMAL", round_)
        ratios.append(full / normal)
    patch.undo()
    ratios.sort()
    return {
        "documents": DOCUMENTS,
        "commits": DOCUMENTS // BATCH,
        "full_over_normal_median": round(ratios[len(ratios) // 2], 3),
        "full_over_normal_min": round(ratios[0], 3),
        "full_over_normal_max": round(ratios[-1], 3),
    }
