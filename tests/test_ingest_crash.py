"""Crash safety: `kill -9` at any moment of an ingest leaves an index that opens, answers and is
consistent (catalog, FTS and FAISS agree; no half-written document, no orphan vector), and
re-running the ingest completes the work. The vector file is a derived view: missing, unreadable
or behind the catalog, it is rebuilt or caught up on open.

These tests are about storage, not retrieval quality: they use the fake encoder of
riverbed/testing/encoder.py (hashed bags of words), in the subprocesses and in this process.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from index import Index
from index.store import sqlite_faiss
from index.store.sqlite_faiss import SqliteFaissStore
from pipeline import ingest
from riverbed.settings import Settings
from riverbed.testing import install
from tests.ingest_helpers import (
    corpus_text,
    document_count,
    generation,
    run,
    start,
    wait_until,
    write_corpus,
)

pytestmark = pytest.mark.slow  # processes killed mid-run

CORPUS_SIZE = 300
BATCH = 4
BATCHES = CORPUS_SIZE // BATCH


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("corpus") / "corpus.jsonl", CORPUS_SIZE)


@pytest.fixture(scope="module")
def clean_stats(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The index the corpus makes when nothing goes wrong."""
    data = tmp_path_factory.mktemp("clean") / "data"
    result = run(data, "ingest", str(corpus), RIVERBED_BATCH_DOCUMENTS="32")
    assert result.returncode == 0, result.stderr
    return _stats(data)


def _stats(data: Path) -> dict:
    store = SqliteFaissStore(data, create=False)
    try:
        stats = store.stats()
        return {key: stats[key] for key in ("documents", "chunks", "passages", "tokens")}
    finally:
        store.close()


def _problems(data: Path) -> list[str]:
    store = SqliteFaissStore(data, create=False)
    try:
        return store.check()
    finally:
        store.close()


def _finds_itself(data: Path, number: int) -> bool:
    with Index.open(data) as index:
        hits = index.search(corpus_text(number), k=1, mode="dense")
    return bool(hits) and hits[0].doc_id == f"doc-{number}"


@pytest.mark.parametrize("committed", [1, 30, BATCHES])
def test_kill_9_leaves_a_consistent_index_and_a_rerun_completes_it(
    corpus: Path, clean_stats: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, committed: int
) -> None:
    """Killed after `committed` micro-batches (the last case: around the final vector save)."""
    install(monkeypatch)
    data = tmp_path / "data"
    process = start(
        data,
        "ingest",
        str(corpus),
        RIVERBED_BATCH_DOCUMENTS=str(BATCH),
        FAKE_ENCODER_DELAY="0.05",
    )
    wait_until(lambda: generation(data) >= committed, process)
    process.kill()
    process.wait()

    landed = document_count(data)
    assert landed == BATCH * generation(data)  # whole micro-batches only
    assert committed * BATCH <= landed
    if committed < BATCHES:
        assert landed < CORPUS_SIZE
    assert _problems(data) == []
    assert _finds_itself(data, landed - 1)

    rerun = run(data, "ingest", str(corpus), "--json", RIVERBED_BATCH_DOCUMENTS="32")
    assert rerun.returncode == 0, rerun.stderr
    report = json.loads(rerun.stdout)
    assert report["unchanged"] == landed
    assert report["added"] == CORPUS_SIZE - landed
    assert _problems(data) == []
    assert _stats(data) == clean_stats
    assert _finds_itself(data, CORPUS_SIZE - 1)
    store = SqliteFaissStore(data, create=False)
    try:
        rerun_status, killed_status = (run["status"] for run in store.runs())
        assert rerun_status == "ok"
        # Killed after its last batch, the first run may have finished before the signal came.
        assert killed_status == "crashed" or (committed == BATCHES and killed_status == "ok")
    finally:
        store.close()


def _vector_files(data: Path) -> list[Path]:
    """The vector view's files: manifests, segments, tombstones, centroids."""
    return sorted(data.glob("vectors-*"))


def _keep_vector_files(data: Path, folder: Path) -> Path:
    folder.mkdir()
    for path in _vector_files(data):
        shutil.copy(path, folder / path.name)
    return folder


def _restore_vector_files(data: Path, folder: Path) -> None:
    for path in _vector_files(data):
        path.unlink()
    for path in folder.iterdir():
        shutil.copy(path, data / path.name)


@pytest.fixture
def two_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    """An index of part one whose vector files are saved, then part two ingested on top;
    returns (data dir, a folder with the vector files of part one alone, part two's corpus)."""
    install(monkeypatch)
    lines = write_corpus(tmp_path / "all.jsonl", 40).read_text().splitlines(keepends=True)
    first, second = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    first.write_text("".join(lines[:20]))
    second.write_text("".join(lines[20:]))
    data = tmp_path / "data"
    settings = Settings(data_dir=data, batch_documents=8)
    ingest(first, settings=settings)
    kept = _keep_vector_files(data, tmp_path / "part-one")
    ingest(second, settings=settings)
    return data, kept, second


def test_missing_vector_files_are_rebuilt_from_the_catalog(
    two_parts: tuple[Path, Path, Path],
) -> None:
    data, _, _ = two_parts
    for path in _vector_files(data):
        path.unlink()
    assert _problems(data) == []
    assert _finds_itself(data, 3) and _finds_itself(data, 33)


def test_an_unreadable_vector_file_is_rebuilt(two_parts: tuple[Path, Path, Path]) -> None:
    data, _, _ = two_parts
    segments = list(data.glob("vectors-seg-*.npy"))
    assert segments
    for segment in segments:
        segment.write_bytes(b"not a vector segment")
    # check says so, in one line; searches rebuild the vectors from the catalog meanwhile
    [problem] = _problems(data)
    assert problem.startswith("vector file(s) vectors-seg-") and "are damaged" in problem
    assert _finds_itself(data, 3) and _finds_itself(data, 33)


def test_a_vector_file_behind_the_catalog_is_caught_up(
    two_parts: tuple[Path, Path, Path],
) -> None:
    data, behind, _ = two_parts
    _restore_vector_files(data, behind)
    assert _problems(data) == []
    assert _finds_itself(data, 33)  # only in the catalog's change log, not in the file


def test_a_vector_file_older_than_the_change_log_is_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sqlite_faiss, "CHANGE_LOG_KEEP", 0)  # keep no log behind the saved file
    install(monkeypatch)
    write_corpus(tmp_path / "all.jsonl", 16)
    lines = (tmp_path / "all.jsonl").read_text().splitlines(keepends=True)
    (tmp_path / "one.jsonl").write_text("".join(lines[:8]))
    (tmp_path / "two.jsonl").write_text("".join(lines[8:]))
    data = tmp_path / "data"
    ingest(tmp_path / "one.jsonl", settings=Settings(data_dir=data))
    old = _keep_vector_files(data, tmp_path / "part-one")
    ingest(tmp_path / "two.jsonl", settings=Settings(data_dir=data))
    _restore_vector_files(data, old)
    assert _problems(data) == []
    assert _finds_itself(data, 12)


def test_check_reports_what_is_broken(two_parts: tuple[Path, Path, Path]) -> None:
    """The check is not vacuous: damage of each kind it looks for is named."""
    data, _, _ = two_parts
    with sqlite3.connect(data / "catalog.sqlite") as db:
        db.execute("PRAGMA foreign_keys=OFF")
        db.execute(
            "DELETE FROM chunks WHERE (doc_rowid, ordinal) ="
            " (SELECT doc_rowid, ordinal FROM chunks LIMIT 1)"
        )
        db.execute(
            "INSERT INTO documents(id, source, text, raw_hash, content_hash, ingested_at,"
            " updated_at) VALUES ('half', 'half', 'text', 'r', 'c', '', '')"
        )
        db.execute("INSERT INTO passages_fts(rowid, text) VALUES (987654, 'ghost row')")
        db.execute("UPDATE meta SET value = '1' WHERE key = 'generation'")
    problems = "\n".join(_problems(data))
    assert "passage(s) have no chunk" in problems
    assert "chunk count that does not match" in problems
    assert "neither duplicates nor chunked (half-written)" in problems
    assert "FTS row(s) have no passage" in problems
    assert "FTS index does not match" in problems
    assert "change log entries are ahead of the catalog generation" in problems
    assert "vector file (generation" in problems and "is ahead of the catalog" in problems
