"""One writer, many readers: a second ingest is refused (or waits with --wait); readers search
while an ingest runs and see each committed micro-batch; SIGINT/SIGTERM stop an ingest after the
batch in flight has committed.

The ingests run in subprocesses with the fake encoder of riverbed/testing/encoder.py, slowed down so
they are caught mid-run: these tests are about locking and visibility, not retrieval quality.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from index import Index
from index.store.sqlite_faiss import SqliteFaissStore
from riverbed.cli import main
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

CORPUS_SIZE = 200
BATCH = 4
SLOW = {"RIVERBED_BATCH_DOCUMENTS": str(BATCH), "FAKE_ENCODER_DELAY": "0.05"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_corpus(tmp_path_factory.mktemp("corpus") / "corpus.jsonl", CORPUS_SIZE)


def test_a_second_ingest_is_refused_with_one_line(corpus: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = start(data, "ingest", str(corpus), **SLOW)
    try:
        wait_until(lambda: generation(data) >= 1, first)
        second = run(data, "ingest", str(corpus))
    finally:
        first.kill()
        first.wait()
    assert second.returncode == 1
    assert second.stderr.strip().splitlines() == [
        f"Error: another riverbed is writing to {data}; wait for it or pass --wait"
    ]
    assert second.stdout == ""


def _has_open(pid: int, path: Path) -> bool:
    fds = Path(f"/proc/{pid}/fd")
    try:
        return any(os.path.realpath(fd) == str(path.resolve()) for fd in fds.iterdir())
    except OSError:
        return False


def test_a_second_ingest_with_wait_runs_once_the_writer_is_done(
    corpus: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    holder = SqliteFaissStore(data)
    holder.acquire_writer()
    waiting = start(data, "ingest", str(corpus), "--wait", "--json")
    try:
        wait_until(lambda: _has_open(waiting.pid, data / "catalog.sqlite"), waiting)
        time.sleep(0.5)  # it has opened the index and is at the lock: it must not get past it
        assert waiting.poll() is None
        assert document_count(data) == 0
    finally:
        holder.close()  # releases the lock
    out, err = waiting.communicate(timeout=120)
    assert waiting.returncode == 0, err
    assert json.loads(out)["added"] == CORPUS_SIZE


def test_readers_see_committed_batches_while_an_ingest_runs(
    corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    install(monkeypatch)
    data = tmp_path / "data"
    writer = start(data, "ingest", str(corpus), **SLOW)
    try:
        wait_until(lambda: generation(data) >= 2, writer)
        with Index.open(data) as index:
            seen_first = index.stats()["documents"]
            assert seen_first % BATCH == 0 and seen_first >= 2 * BATCH
            hits = index.search(corpus_text(seen_first - 1), k=1, mode="dense")
            assert hits[0].doc_id == f"doc-{seen_first - 1}"

            asked = CliRunner().invoke(
                main, ["--data-dir", str(data), "ask", f"marker{seen_first - 1}", "--json"]
            )
            assert asked.exit_code == 0, asked.output
            assert f"doc-{seen_first - 1}" in {
                r["doc_id"] for r in json.loads(asked.output)["results"]
            }

            target = generation(data) + 3
            wait_until(lambda: generation(data) >= target, writer)
            seen_later = index.stats()["documents"]  # the same open Index, not reopened
            assert seen_later > seen_first
            hits = index.search(corpus_text(seen_later - 1), k=1, mode="dense")
            assert hits[0].doc_id == f"doc-{seen_later - 1}"
            assert writer.poll() is None or seen_later == CORPUS_SIZE
    finally:
        writer.kill()
        writer.wait()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_the_ingest_after_the_batch_in_flight(
    corpus: Path, tmp_path: Path, signum: int
) -> None:
    data = tmp_path / "data"
    process = start(data, "ingest", str(corpus), "--json", **SLOW)
    wait_until(lambda: generation(data) >= 3, process)
    process.send_signal(signum)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert "stopping after the current batch" in err
    report = json.loads(out)
    landed = document_count(data)
    assert report["added"] == landed == BATCH * generation(data)
    assert landed < CORPUS_SIZE
    store = SqliteFaissStore(data, create=False)
    try:
        assert store.check() == []
        assert store.runs(1)[0]["status"] == "interrupted"
        assert (data / f"vectors-{generation(data):012d}.json").exists()  # vectors saved
    finally:
        store.close()
