"""BM25 from memory (a warmed store) ranks exactly as FTS5 does: the same passages, the same
scores to the last bit, the same order of ties, and it follows every write.

The records carry hashed bag-of-words vectors (tests/test_store_contract.py's), not the model's:
these tests are about lexical scores, which no vector enters.
"""

from __future__ import annotations

import itertools
import json
import random
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from index.lexical import query_terms
from index.models import Filters
from index.records import WriteBatch
from index.store import bm25_postings
from index.store.sqlite_faiss import SqliteFaissStore
from tests.conftest import ROOT
from tests.test_store_contract import DIM, MODEL, record

DATA = ROOT / "tests" / "data"
DEPTH = 40  # as many as a search asks of BM25


def articles() -> list[tuple[str, list[str]]]:
    with (DATA / "squad2-dev-5articles.docs.jsonl").open() as lines:
        docs = [json.loads(line) for line in lines]
    return [(doc["id"], [p for p in doc["text"].split("\n") if p.strip()]) for doc in docs]


def questions() -> list[list[str]]:
    with (DATA / "squad2-dev-5articles.questions.jsonl").open() as lines:
        asked = [query_terms(json.loads(line)["question"]) for line in lines]
    return [terms for terms in asked if terms]


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[SqliteFaissStore, SqliteFaissStore]]:
    """(writer, warmed reader) on one data dir: two processes' views of one index. The writer is
    never warmed, so it ranks with FTS5."""
    writer = SqliteFaissStore(tmp_path / "data")
    writer.bind_model(MODEL, DIM)
    writer.write(WriteBatch(upserts=[record(i, paragraphs) for i, paragraphs in articles()]))
    reader = SqliteFaissStore(tmp_path / "data", create=False)
    reader.warm()
    yield writer, reader
    reader.close()
    writer.close()


def assert_same_rankings(
    writer: SqliteFaissStore, reader: SqliteFaissStore, asked: list[list[str]]
) -> None:
    for terms in asked:
        assert reader.lexical_search(terms, DEPTH) == writer.lexical_search(terms, DEPTH), terms
        assert reader.term_document_counts(terms) == writer.term_document_counts(terms), terms


def test_every_eval_question_ranks_as_in_fts5(
    stores: tuple[SqliteFaissStore, SqliteFaissStore],
) -> None:
    writer, reader = stores
    asked = questions()
    assert len(asked) > 700
    assert reader._bm25 is not None and reader._bm25.generation == reader.generation()
    assert_same_rankings(writer, reader, asked)
    # Ties are broken by passage id, in both: one word that several passages hold once each.
    tied = reader.lexical_search(["the"], 400)
    assert [pid for pid, _ in tied] == [pid for pid, _ in writer.lexical_search(["the"], 400)]
    assert any(a[1] == b[1] and a[0] < b[0] for a, b in itertools.pairwise(tied))


def test_text_outside_ascii_and_phrase_terms(
    stores: tuple[SqliteFaissStore, SqliteFaissStore],
) -> None:
    writer, reader = stores
    writer.write(
        WriteBatch(
            upserts=[
                record(
                    "accents",
                    [
                        "Le café naïf de la Straße, à İstanbul et à Köln.",
                        "A naive cafe owner called init_subclass on his class twice.",
                        "Nothing but 42 and __dunder__ names: __init__ and __init_subclass__.",
                    ],
                )
            ]
        )
    )
    asked = [
        ["cafe"],
        ["café", "naif"],
        ["strasse", "straße", "istanbul", "köln", "koln"],
        ["init_subclass", "class"],  # a phrase of two terms to FTS5: FTS5 answers it
        ["__init__", "42"],
        ["_", "dunder"],  # a term with no FTS5 token at all
    ]
    assert_same_rankings(writer, reader, asked)


def test_filters_limit_the_passages_not_the_statistics(
    stores: tuple[SqliteFaissStore, SqliteFaissStore],
) -> None:
    writer, reader = stores
    only = Filters(doc_ids=["Normans", "Computational_complexity_theory"])
    for terms in questions()[::25]:
        found = reader.lexical_search(terms, DEPTH, only)
        assert found == writer.lexical_search(terms, DEPTH, only), terms
    assert reader.lexical_search(["normans"], DEPTH, Filters(doc_ids=["none"])) == []


def test_rankings_follow_writes_of_another_process(
    stores: tuple[SqliteFaissStore, SqliteFaissStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Added, replaced and deleted documents, a few at a time (caught up from the change log)
    and many at once (past the rebuild share); the reader is never reopened."""
    writer, reader = stores
    postings = reader._bm25
    assert postings is not None
    rebuilt = []
    build = bm25_postings._build
    monkeypatch.setattr(bm25_postings, "_build", lambda *args: rebuilt.append(1) or build(*args))
    asked = random.Random(3).sample(questions(), 120)
    corpus = dict(articles())
    normans = corpus["Normans"]

    writer.write(WriteBatch(upserts=[record("extra", ["Rollo sailed up the Seine twice."])]))
    assert_same_rankings(writer, reader, [*asked, ["rollo", "seine"]])
    writer.write(WriteBatch(upserts=[record("Normans", normans[: len(normans) // 2])]))
    assert_same_rankings(writer, reader, asked)
    writer.delete(["extra"])
    assert_same_rankings(writer, reader, [*asked, ["rollo", "seine"]])
    assert not rebuilt  # so far, caught up from the log

    writer.delete([doc_id for doc_id in corpus if doc_id != "Normans"])
    assert_same_rankings(writer, reader, asked)
    assert rebuilt  # most passages gone: built again from FTS5
    writer.write(WriteBatch(upserts=[record(i, paragraphs) for i, paragraphs in corpus.items()]))
    assert_same_rankings(writer, reader, asked)
    assert postings.generation == writer.generation()


def test_postings_read_in_ranges_and_apart_rank_as_in_fts5(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large index reads its postings a range of terms at a time, on a thread of their own
    (warm without waiting): FTS5 ranks until they are in, then they do, the same either way."""
    monkeypatch.setattr(bm25_postings, "BUILD_OCCURRENCES", 500)  # many ranges
    writer = SqliteFaissStore(tmp_path / "data")
    writer.bind_model(MODEL, DIM)
    writer.write(WriteBatch(upserts=[record(i, paragraphs) for i, paragraphs in articles()]))
    reader = SqliteFaissStore(tmp_path / "data", create=False)
    try:
        asked = questions()[::25]
        reader.warm(wait=False)
        assert_same_rankings(writer, reader, asked)  # while reading, or once read
        for thread in threading.enumerate():
            if thread.name == "riverbed-bm25":
                thread.join()
        assert reader._bm25 is not None and reader._bm25.generation == reader.generation()
        assert_same_rankings(writer, reader, asked)
    finally:
        reader.close()
        writer.close()


def test_postings_once_read_are_saved_and_opened_by_the_next_process(
    stores: tuple[SqliteFaissStore, SqliteFaissStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The warmed reader saved what it read; the next one opens that, reads nothing from FTS5,
    and follows later writes; a damaged folder is read from FTS5 again."""
    writer, _ = stores
    (saved,) = writer.data_dir.glob("bm25-*")
    asked = questions()[::20]

    def no_reading(*_: object) -> None:
        raise AssertionError("the postings were read from FTS5 again")

    with monkeypatch.context() as patched:
        patched.setattr(bm25_postings, "_build", no_reading)
        opened = SqliteFaissStore(writer.data_dir, create=False)
        try:
            opened.warm(wait=True)
            assert opened._bm25 is not None and opened._bm25.generation == opened.generation()
            assert_same_rankings(writer, opened, asked)
            writer.write(WriteBatch(upserts=[record("birds", ["Pelicans nest on the delta."])]))
            assert_same_rankings(writer, opened, [*asked, ["pelicans", "delta"]])
            writer.delete(["birds"])
            assert_same_rankings(writer, opened, [["pelicans", "delta"]])
        finally:
            opened.close()
    (saved / "docs.npy").write_bytes(b"not an array")
    damaged = SqliteFaissStore(writer.data_dir, create=False)
    try:
        damaged.warm(wait=True)
        assert_same_rankings(writer, damaged, asked)
    finally:
        damaged.close()
