"""The library API chatbot backends embed: one open Index, many threads, other processes' writes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from index import Index
from pipeline import ingest
from riverbed.settings import Settings
from tests.conftest import QUESTION
from tests.server_harness import copy_index

QUESTIONS = [
    QUESTION,
    "no-fly zone",
    "where was the interview recorded",
    "what did Zelensky say about Poland and Lithuania",
    "how often does he see his family",
]


def riverbed(data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
    """The riverbed CLI in its own process (passage encoder: the ONNX export of the model)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIVERBED_")}
    env["RIVERBED_INGEST_ENCODER"] = "onnx"
    command = [sys.executable, "-c", "from riverbed.cli import main; main()"]
    return subprocess.run(
        [*command, "--data-dir", str(data_dir), *args],
        input=stdin.encode(),
        env=env,
        capture_output=True,
        timeout=300,
    )


# Cold: BM25 in FTS5, the catalog read through SQLite's cache; warm: BM25 from memory, mmap.
WARMTH = pytest.mark.parametrize("warm", [False, True], ids=["cold", "warm"])


@WARMTH
def test_many_threads_share_one_index_and_get_what_one_thread_gets(
    seeded_dir: Path, warm: bool
) -> None:
    cases = [(q, mode) for q in QUESTIONS for mode in ("hybrid", "dense", "lexical")] * 3
    with Index.open(seeded_dir) as index:
        if warm:
            index.warm()

        def ask(case: tuple[str, str]) -> list[dict]:
            question, mode = case
            # Every passage, relevant or not (min_relevance 0): this is about threads.
            found = index.search(question, k=3, mode=mode, min_relevance=0.0)
            return [p.model_dump() for p in found]

        with ThreadPoolExecutor(max_workers=8) as pool:
            together = list(pool.map(ask, cases))
        alone = [ask(case) for case in cases]
    assert together == alone
    assert all(results for results in together)


@WARMTH
def test_an_open_index_sees_another_process_add_and_delete(
    seeded_dir: Path, tmp_path: Path, warm: bool
) -> None:
    data_dir = copy_index(seeded_dir, tmp_path / "data")
    question = "how do wildebeest cross the Mara river"
    record = {
        "id": "notes/migration",
        "text": "Each July the wildebeest herds cross the Mara river, where crocodiles wait.",
    }
    with Index.open(data_dir) as index:
        if warm:
            index.warm()
        before = index.search(question, k=3, mode="dense")
        assert record["id"] not in {p.doc_id for p in before}

        added = riverbed(data_dir, "ingest", "-", "--json", stdin=json.dumps(record))
        assert added.returncode == 0, added.stderr.decode()
        for mode in ("dense", "lexical", "hybrid"):
            assert index.search(question, k=3, mode=mode)[0].doc_id == record["id"]

        removed = riverbed(data_dir, "delete", record["id"])
        assert removed.returncode == 0, removed.stderr.decode()
        for mode in ("dense", "lexical", "hybrid"):
            assert record["id"] not in {p.doc_id for p in index.search(question, k=3, mode=mode)}


def test_ingest_reports_a_bad_document_and_lands_the_rest(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", ingest_encoder="onnx")
    report = ingest(
        [
            {"id": "good", "text": "Herons stand still in shallow water, waiting for fish."},
            {"id": "bad", "text": ["not", "a", "string"]},
        ],
        settings=settings,
    )
    assert report.added == 1 and report.failed == 1
    assert report.failures[0].source == "documents[1] (bad)"
    assert "text" in report.failures[0].reason
    with Index.open(settings=settings) as index:
        assert index.document("good") is not None and index.document("bad") is None
