"""The fast paths give what the plain ones gave: word frequencies, fold shingles, sentence vectors,
cached term counts; and re-ingesting an unchanged corpus loads none of the heavy libraries."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from index.fold import shingles
from index.lexical import casefolded_words
from index.store.sentence_codes import float16_to_float32
from index.store.sqlite_faiss import SqliteFaissStore, passage_vector
from index.word_frequency import zipf_frequency
from riverbed.settings import Settings
from riverbed.testing import install
from tests.conftest import ROOT, SEEDS


@pytest.mark.parametrize(
    "word",
    ["the", "nato", "zelensky", "asked", "fly", "xyzzyqv", "a", "3rd", "café", "list_append", "İ"],
)
def test_word_frequency_is_wordfreqs(word: str) -> None:
    import wordfreq

    assert zipf_frequency(word, "en") == wordfreq.zipf_frequency(word, "en")


@pytest.mark.parametrize(
    "text",
    [
        "Zelensky asked NATO to close the sky over Ukraine, a no-fly zone.",
        "İstanbul'da KELVIN straße ﬁnal Straße — one two",
        "two words",
        "",
        "snake_case x2 a\tb\x1cc\x7fd [e]{f}: g.h-i/j\\k 'l' \"m\" ~n~ @o#p",
        "ASCII, then non-ASCII: déjà vu, ÉCOLE",
        "only “typographic” punctuation — like this ¶ … and ½ or ²",
    ],
)
def test_fold_shingles_are_casefolded_word_4grams(text: str) -> None:
    import re

    words = [w.casefold() for w in re.findall(r"\w+", text)]
    assert casefolded_words(text) == words  # also the words of query_terms
    expected = frozenset(tuple(words[i : i + 4]) for i in range(max(1, len(words) - 3)))
    assert shingles(text) == expected


def test_sentence_vectors_decode_like_numpy() -> None:
    every_half = np.arange(1 << 16, dtype=np.uint32).astype(np.uint16).tobytes()
    fast = float16_to_float32(every_half)
    plain = np.frombuffer(every_half, dtype=np.float16).astype(np.float32)
    assert fast.view(np.uint32).tolist() == plain.view(np.uint32).tolist()


def test_term_counts_follow_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cached counts are dropped when a write changes the catalog. The fake encoder of
    riverbed/testing/encoder.py stands in for the model: this is about the store's cache."""
    from pipeline import ingest

    install(monkeypatch)
    settings = Settings(data_dir=tmp_path / "data")
    ingest([SEEDS], settings=settings)
    store = SqliteFaissStore(settings.data_dir, create=False)
    try:
        before, total = store.term_document_counts(["pelicans", "zelensky"])
        assert before["pelicans"] == 0 and before["zelensky"] > 0
        note = tmp_path / "birds.txt"
        note.write_text("Pelicans nest on the delta every spring.")
        ingest([note], settings=settings)
        after, grown = store.term_document_counts(["pelicans", "zelensky"])
        assert after == {"pelicans": 1, "zelensky": before["zelensky"]}
        assert grown == total + 1
    finally:
        store.close()


def test_unchanged_reingest_loads_no_model_or_text_libraries(tmp_path: Path) -> None:
    """With the fake encoder of riverbed/testing/encoder.py: this is about what a run with nothing new
    imports, not about the model."""
    report = (
        "import atexit, sys; atexit.register(lambda: print('LOADED', *sorted(m for m in"
        " ('torch', 'onnxruntime', 'datasketch', 'ftfy', 'trafilatura') if m in sys.modules),"
        " file=sys.stderr))"
    )
    command = [
        sys.executable,
        "-c",
        f"{report}; import riverbed.testing.__main__",
        "--data-dir",
        str(tmp_path / "data"),
        "ingest",
        str(SEEDS),
    ]
    first = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    assert "datasketch" in first.stderr.rsplit("LOADED", 1)[1]  # new text was deduplicated
    again = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    assert again.stderr.rsplit("LOADED", 1)[1].split() == []


@pytest.mark.parametrize("shards", [1, 3])
def test_dense_search_is_the_exact_top_k_through_writes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shards: int
) -> None:
    """The float16 scan with float32 rescoring returns what scoring every stored vector in
    float32 returns, and follows additions and removals, however many shards the scan is split
    into (one per core). Hashed bag-of-words vectors (those of tests/test_store_contract.py),
    not the model: this is about the vector index."""
    from index.models import Filters
    from index.records import WriteBatch
    from index.store import faiss_vectors
    from tests.test_bm25_postings import articles, questions
    from tests.test_store_contract import DIM, MODEL, record, vector_of

    monkeypatch.setattr(faiss_vectors, "SCAN_SHARDS", shards)

    store = SqliteFaissStore(tmp_path / "data")
    store.bind_model(MODEL, DIM)
    corpus = dict(articles())
    store.write(WriteBatch(upserts=[record(i, paragraphs) for i, paragraphs in corpus.items()]))
    asked = [vector_of(" ".join(terms)) for terms in questions()[::7]]

    def exact(query: np.ndarray, k: int, doc_id: str | None = None) -> list[int]:
        rows = store.db.execute(
            "SELECT p.id, p.vector FROM passages p WHERE ? IS NULL OR p.id IN (SELECT passage_id"
            " FROM chunks c JOIN documents d ON d.rowid = c.doc_rowid WHERE d.id = ?)",
            (doc_id, doc_id),
        ).fetchall()
        if not rows:
            return []
        ids = np.asarray([pid for pid, _ in rows])
        scores = np.stack([passage_vector(blob, DIM) for _, blob in rows]) @ query
        return ids[np.lexsort((ids, -scores))][:k].tolist()

    def assert_exact() -> None:
        for query in asked:
            for k in (1, 5, 40):
                assert [pid for pid, _ in store.dense_search(query, k)] == exact(query, k)
            # Filtered: the shards are searched at once, each with the same filter.
            for doc_id in corpus:
                filters = Filters(doc_ids=[doc_id])
                found = [pid for pid, _ in store.dense_search(query, 5, filters)]
                assert found == exact(query, 5, doc_id)

    try:
        assert_exact()
        normans = corpus["Normans"]
        store.write(
            WriteBatch(upserts=[record("Normans", normans[::2])], deletes=["Southern_California"])
        )
        assert_exact()
        store.delete(["Normans"])
        assert_exact()
    finally:
        store.close()


@pytest.mark.parametrize("shards", [2, 3])
def test_filtered_dense_search_is_exact_with_shards_scanned_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shards: int
) -> None:
    """Shards are scanned side by side, each through the same filter: each must keep to the
    allowed passages. Random unit vectors, enough that the scans overlap in time; this is
    about the vector index, not the model."""
    from index.store import faiss_vectors

    monkeypatch.setattr(faiss_vectors, "SCAN_SHARDS", shards)
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((20_000, 64)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = np.arange(1, len(vectors) + 1, dtype=np.int64)
    index = faiss_vectors.FaissVectors(tmp_path, 64)
    index.catch_up(1, lambda _: None, lambda _: iter(()), lambda: iter([(ids, vectors)]))
    for query in vectors[:: len(vectors) // 40]:
        allowed = rng.choice(ids, size=50, replace=False)
        scores = vectors[allowed - 1] @ query
        expected = allowed[np.lexsort((allowed, -scores))][:5].tolist()
        assert [pid for pid, _ in index.search(query, 5, allowed.tolist())] == expected
