"""An ingest's cost must not grow with the index: every catalog query it runs finds its rows by
an index on what it looks up. Checked on SQLite's own query plans, so no timing is involved;
the fake encoder stands in for the model (this is about the catalog, not retrieval)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from index.store.sqlite_faiss import SqliteFaissStore
from pipeline import ingest
from riverbed.settings import Settings
from riverbed.testing import install

# Tables an ingest reads per batch, which grow with the index.
GROWING = ("documents", "passages", "lsh", "chunks")


def records(path: Path, prefix: str, count: int) -> Path:
    lines = [
        json.dumps({"id": f"{prefix}{n}", "text": f"{prefix} note {n} on rivers and hills. " * 30})
        for n in range(count)
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_an_ingest_reads_no_growing_table_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(monkeypatch)
    settings = Settings(data_dir=tmp_path / "data")
    ingest([records(tmp_path / "first.jsonl", "a", 40)], settings=settings)

    statements: list[str] = []
    opened = SqliteFaissStore.__init__

    def tracing(self: SqliteFaissStore, *args: object, **kwargs: object) -> None:
        opened(self, *args, **kwargs)  # type: ignore[arg-type]
        self.db.set_trace_callback(statements.append)

    monkeypatch.setattr(SqliteFaissStore, "__init__", tracing)
    report = ingest([records(tmp_path / "second.jsonl", "b", 5)], settings=settings)
    assert report.added == 5

    catalog = sqlite3.connect(tmp_path / "data" / "catalog.sqlite")
    selects = [s for s in dict.fromkeys(statements) if s.lstrip().upper().startswith("SELECT")]
    assert any("content_hash" in s for s in selects)  # the exact-duplicate lookup ran
    for statement in selects:
        if statement.upper().startswith("SELECT COUNT(*)"):
            continue  # a count walks the smallest index once per save, not per document
        plan = [row[3] for row in catalog.execute("EXPLAIN QUERY PLAN " + statement)]
        for step in plan:
            assert not any(step.startswith(f"SCAN {table}") for table in GROWING), (statement, plan)
            # `duplicate_of IS NULL` holds for nearly every document: an index on it finds them all.
            assert "INDEX documents_duplicate_of" not in step, (statement, plan)
