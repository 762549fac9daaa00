"""The store contract: one suite, run against the embedded store and Postgres alike.

Most tests write hand-made records whose vectors are hashed bags of words (no model): they are
about what a store keeps and returns, not about retrieval quality. The last test runs the real
model through the whole pipeline into both stores and asks the seed question of each.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from index.encoder import query_encoder
from index.model import ModelInfo
from index.models import Document, Filters
from index.query import search
from index.records import Chunk, DocumentRecord, WriteBatch
from index.store import sentence_codes
from index.store.base import MissingVectors, ModelMismatch, Store, StoreError
from index.store.postgres import SCHEMA_VERSION as POSTGRES_SCHEMA_VERSION
from index.store.postgres import PostgresStore
from index.store.sqlite_faiss import SqliteFaissStore
from pipeline.chunk import passage_hash
from riverbed.settings import Settings
from tests.conftest import QUESTION

DIM = 32
MODEL = "fake-bag-of-words@0"
_WORD = re.compile(r"\w+")


def vector_of(text: str) -> np.ndarray:
    vector = np.zeros(DIM, dtype=np.float32)
    for word in _WORD.findall(text.lower()):
        vector[zlib.crc32(word.encode()) % DIM] += 1.0
    return vector / max(float(np.linalg.norm(vector)), 1e-9)


def record(
    doc_id: str,
    paragraphs: list[str],
    *,
    duplicate_of: str | None = None,
    embedded: bool = True,
    **fields: object,
) -> DocumentRecord:
    """A document as the pipeline would hand it over: one chunk per paragraph."""
    text = "\n\n".join(paragraphs)
    document = Document(id=doc_id, text=text, **fields)  # type: ignore[arg-type]
    chunks, position = [], 0
    for ordinal, paragraph in enumerate(paragraphs if duplicate_of is None else []):
        start = text.index(paragraph, position)
        position = start + len(paragraph)
        vector = vector_of(paragraph)
        chunks.append(
            Chunk(
                doc_id=doc_id,
                ordinal=ordinal,
                start=start,
                end=position,
                text=paragraph,
                text_hash=passage_hash(paragraph),
                n_tokens=len(_WORD.findall(paragraph)),
                sentences=[(0, len(paragraph))],
                vector=vector if embedded else None,
                sentence_vectors=vector[None, :] if embedded else None,
            )
        )
    digest = hashlib.sha256(text.encode()).hexdigest()
    seed = zlib.crc32(text.encode())
    return DocumentRecord(
        document=document,
        raw_hash="raw-" + digest,
        content_hash=digest,
        signature=np.arange(seed, seed + 16, dtype=np.uint32),
        band_keys=[seed % 1000, 1000 + seed % 7],
        duplicate_of=duplicate_of,
        duplicate_kind="exact" if duplicate_of else None,
        chunks=chunks,
    )


NORMANS = "The Normans gave their name to Normandy, a region in France."
ROLLO = "Their leader Rollo swore fealty to King Charles III of West Francia."
VIKINGS = "Norse raiders and pirates came from Denmark, Iceland and Norway."
CASTLES = "Norman castles of stone rose across England after the conquest."


@pytest.fixture(params=["sqlite", "sqlite-warm", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """The embedded store cold (BM25 in FTS5) and warmed (BM25 from memory), and Postgres."""
    if request.param.startswith("sqlite"):
        opened: Store = SqliteFaissStore(tmp_path / "data")
    else:
        opened = PostgresStore(request.getfixturevalue("pg_url"))
    opened.bind_model(MODEL, DIM)
    if request.param == "sqlite-warm":
        opened.warm()
    yield opened
    opened.close()


def write(store: Store, *records: DocumentRecord, deletes: tuple[str, ...] = ()) -> None:
    store.write(WriteBatch(upserts=list(records), deletes=list(deletes)))


def ids(results: list[tuple[int, float]], store: Store) -> list[str]:
    """The passage texts of a ranking, best first."""
    found = store.passages(pid for pid, _ in results)
    return [found[pid].text for pid, _ in results]


def test_a_written_batch_reads_back(store: Store) -> None:
    published = datetime(2022, 3, 1, 12, 30, tzinfo=UTC)
    first = record(
        "normans",
        [NORMANS, ROLLO],
        source="wiki/normans.txt",
        title="Normans",
        url="https://example.org/normans",
        published_at=published,
        metadata={"lang": "en", "year": 2022},
    )
    write(store, first, record("vikings", [VIKINGS], source="wiki/vikings.txt"))

    document = store.document("normans")
    assert document is not None
    assert document["text"] == first.document.text and document["title"] == "Normans"
    assert document["metadata"] == {"lang": "en", "year": 2022}
    assert datetime.fromisoformat(document["published_at"]) == published
    assert (document["chunks"], document["version"], document["duplicate_of"]) == (2, 1, None)
    assert store.document("nobody") is None

    states = store.document_states(["normans", "vikings", "nobody"])
    assert set(states) == {"normans", "vikings"}
    assert states["normans"].raw_hash == first.raw_hash
    assert store.find_content([first.content_hash, "other"]) == {first.content_hash: "normans"}
    assert store.known_passages([passage_hash(ROLLO), passage_hash(CASTLES)]) == {
        passage_hash(ROLLO)
    }
    assert sorted(store.sources_under("wiki/")) == [
        ("normans", "wiki/normans.txt"),
        ("vikings", "wiki/vikings.txt"),
    ]
    assert store.sources_under("wiki/n") == [("normans", "wiki/normans.txt")]

    (pid, score), *_ = store.dense_search(vector_of(ROLLO), 3)
    passage = store.passages([pid])[pid]
    # (the embedded catalog keeps passage vectors in float16: a cosine rounds by < 1e-3)
    assert passage.text == ROLLO and score == pytest.approx(1.0, abs=1e-3)
    assert document["text"][passage.start : passage.end] == ROLLO
    assert (passage.doc_id, passage.source, passage.url) == (
        "normans",
        "wiki/normans.txt",
        "https://example.org/normans",
    )
    assert passage.sentences == [(0, len(ROLLO))]
    assert np.allclose(
        passage.vector, vector_of(ROLLO), atol=1e-3
    )  # float16 in the embedded catalog
    assert np.allclose(passage.sentence_vectors[0], vector_of(ROLLO), atol=2e-2)  # 6-bit codes

    stats = store.stats()
    assert (stats["documents"], stats["chunks"], stats["passages"]) == (2, 3, 3)
    assert stats["model"] == MODEL
    assert store.check() == []  # type: ignore[attr-defined]


def test_a_paged_document_keeps_where_its_pages_start(store: Store) -> None:
    paged = record("manual", [NORMANS, ROLLO, CASTLES])
    starts = [0, paged.chunks[1].start, paged.chunks[2].start]
    paged.document.page_starts = starts
    write(store, paged, record("vikings", [VIKINGS]))
    (pid, _), *_ = store.dense_search(vector_of(CASTLES), 1)
    assert store.passages([pid])[pid].page_starts == starts
    (other, _), *_ = store.dense_search(vector_of(VIKINGS), 1)
    assert store.passages([other])[other].page_starts is None
    paged.document.page_starts = starts[:2]  # replaced: the new starts are kept
    write(store, paged)
    assert store.passages([pid])[pid].page_starts == starts[:2]


def test_a_batch_that_fails_leaves_nothing_behind(store: Store) -> None:
    generation = store.generation()
    good = record("normans", [NORMANS])
    unembedded = record("vikings", [VIKINGS], embedded=False)  # its passage is not stored either
    with pytest.raises(MissingVectors) as raised:
        write(store, good, unembedded)
    assert raised.value.text_hashes == {passage_hash(VIKINGS)}
    assert store.document("normans") is None
    assert store.generation() == generation
    assert store.stats()["passages"] == 0
    write(store, record("vikings", [VIKINGS]))  # with its vector it lands
    assert store.document("vikings") is not None


def test_a_chunk_without_vector_links_to_the_known_passage(store: Store) -> None:
    write(store, record("normans", [NORMANS, ROLLO]))
    write(store, record("copy", [ROLLO], embedded=False))  # the embed stage found ROLLO known
    assert store.stats()["passages"] == 2
    (pid, _), *_ = store.dense_search(vector_of(ROLLO), 1)
    assert store.passages([pid])[pid].also_in == ["copy"]


def test_replacing_a_document_swaps_its_chunks_and_drops_orphans(store: Store) -> None:
    write(store, record("normans", [NORMANS, ROLLO]))
    write(store, record("normans", [NORMANS, CASTLES]))
    document = store.document("normans")
    assert document is not None and document["version"] == 2
    assert document["text"] == f"{NORMANS}\n\n{CASTLES}"
    assert store.known_passages([passage_hash(ROLLO)]) == set()
    assert store.lexical_search(["rollo"], 5) == []
    assert ids(store.dense_search(vector_of(CASTLES), 5), store)[0] == CASTLES
    stats = store.stats()
    assert (stats["documents"], stats["chunks"], stats["passages"]) == (1, 2, 2)
    assert store.check() == []  # type: ignore[attr-defined]


def test_equal_passages_are_shared_and_keep_every_source(store: Store) -> None:
    write(
        store,
        record("a", [NORMANS, ROLLO], source="a.txt"),
        record("b", [NORMANS, VIKINGS], source="b.txt"),
    )
    assert store.stats()["passages"] == 3 and store.stats()["chunks"] == 4
    (pid, _), *_ = store.dense_search(vector_of(NORMANS), 1)
    shared = store.passages([pid])[pid]
    assert (shared.source, shared.also_in) == ("a.txt", ["b.txt"])

    assert store.delete(["a", "nobody"]) == 1
    assert store.delete(["nobody"]) == 0
    remaining = store.passages([pid])[pid]
    assert (remaining.source, remaining.also_in) == ("b.txt", [])
    assert store.known_passages([passage_hash(ROLLO)]) == set()
    assert store.stats()["passages"] == 2
    assert store.check() == []  # type: ignore[attr-defined]


def test_a_duplicate_lists_its_source_with_the_original(store: Store) -> None:
    original = record("a", [NORMANS], source="a.txt")
    copy = record("b", [NORMANS], source="b.txt", duplicate_of="a")
    write(store, original, copy)
    (pid, _), *_ = store.dense_search(vector_of(NORMANS), 1)
    assert store.passages([pid])[pid].also_in == ["b.txt"]
    stats = store.stats()
    assert (stats["documents"], stats["duplicates"], stats["chunks"]) == (1, 1, 1)
    assert store.find_content([original.content_hash]) == {original.content_hash: "a"}
    store.delete(["a"])  # the copy loses its original: its hashes are forgotten, to re-read
    assert store.document_states(["b"])["b"].raw_hash == ""
    assert store.check() == []  # type: ignore[attr-defined]


def test_dense_search_ranks_by_cosine(store: Store) -> None:
    write(store, record("normans", [NORMANS, ROLLO, VIKINGS, CASTLES]))
    query = vector_of("Norse raiders came from Denmark")
    results = store.dense_search(query, 10)
    texts = ids(results, store)
    assert texts[0] == VIKINGS and len(texts) == 4
    scores = [score for _, score in results]
    assert scores == sorted(scores, reverse=True)
    expected = sorted((float(vector_of(t) @ query) for t in texts), reverse=True)
    assert scores == pytest.approx(expected, abs=1e-3)  # float16 in the embedded catalog
    assert len(store.dense_search(query, 2)) == 2


def test_lexical_search_ranks_like_bm25(store: Store) -> None:
    write(
        store,
        record(
            "doc",
            [
                "Normandy is in France.",
                "Rollo ruled Normandy; Rollo was a Viking.",
                "France and Normandy and France again.",
                "Nothing to see here.",
            ],
        ),
    )
    results = store.lexical_search(["rollo", "normandy"], 10)
    texts = ids(results, store)
    assert texts[0] == "Rollo ruled Normandy; Rollo was a Viking."  # the rare term, twice
    assert "Nothing to see here." not in texts and len(texts) == 3
    scores = [score for _, score in results]
    assert all(score > 0 for score in scores) and scores == sorted(scores, reverse=True)
    assert store.lexical_search(["absent"], 10) == []
    counts, total = store.term_document_counts(["normandy", "rollo", "absent"])
    assert counts == {"normandy": 3, "rollo": 1, "absent": 0} and total == 4


def test_filters_apply_to_both_searches(store: Store) -> None:
    write(
        store,
        record(
            "old",
            [NORMANS],
            source="old.txt",
            metadata={"lang": "en"},
            published_at=datetime(2001, 1, 1, tzinfo=UTC),
        ),
        record(
            "new",
            ["The Normans built castles in Normandy and England."],
            source="new.txt",
            metadata={"lang": "fr"},
            published_at=datetime(2021, 1, 1, tzinfo=UTC),
        ),
        record("copy", [NORMANS], source="copy.txt", duplicate_of="old", metadata={"lang": "de"}),
    )
    query, terms = vector_of("Normans Normandy"), ["normans", "normandy"]

    def sources(filters: Filters) -> tuple[set[str], set[str]]:
        dense = store.passages(pid for pid, _ in store.dense_search(query, 10, filters))
        lexical = store.passages(pid for pid, _ in store.lexical_search(terms, 10, filters))
        return {p.doc_id for p in dense.values()}, {p.doc_id for p in lexical.values()}

    assert sources(Filters()) == ({"old", "new"}, {"old", "new"})
    assert sources(Filters(doc_ids=["new"])) == ({"new"}, {"new"})
    assert sources(Filters(sources=["old.txt"])) == ({"old"}, {"old"})
    assert sources(Filters(metadata={"lang": "fr"})) == ({"new"}, {"new"})
    after = Filters(published_after=datetime(2010, 1, 1))
    assert sources(after) == ({"new"}, {"new"})
    before = Filters(published_before=datetime(2010, 1, 1, tzinfo=UTC))
    assert sources(before) == ({"old"}, {"old"})
    # A duplicate that passes a filter lets its original's passages through.
    assert sources(Filters(sources=["copy.txt"])) == ({"old"}, {"old"})
    assert sources(Filters(metadata={"lang": "xx"})) == (set(), set())


def test_generation_grows_with_every_write(store: Store) -> None:
    seen = [store.generation()]
    write(store, record("a", [NORMANS]))
    seen.append(store.generation())
    write(store, record("a", [ROLLO]))
    seen.append(store.generation())
    store.delete(["a"])
    seen.append(store.generation())
    assert seen == sorted(set(seen))


def test_near_candidates_share_a_band_key(store: Store) -> None:
    first = record("a", [NORMANS])
    write(store, first)
    found = store.near_candidates([first.band_keys[0], 999_999])
    assert [doc_id for doc_id, _ in found] == ["a"]
    assert np.array_equal(found[0][1], first.signature)
    assert store.near_candidates([999_999]) == []


def test_runs_are_recorded_newest_first(store: Store) -> None:
    first = store.start_run("nightly")
    store.finish_run(first, "ok", {"added": 2, "failures": []})
    second = store.start_run("manual")
    history = store.runs(10)
    assert [run["id"] for run in history] == [second, first]
    assert history[0]["status"] == "running" and history[0]["ended_at"] is None
    assert history[1]["report"] == {"added": 2, "failures": []}
    assert history[1]["job"] == "nightly" and history[1]["ended_at"] is not None
    store.finish_run(second, "failed", {}, error="disk full")
    assert store.runs(1)[0]["error"] == "disk full"


def test_an_index_refuses_another_model(store: Store) -> None:
    store.bind_model(MODEL, DIM)  # the same model again is fine
    with pytest.raises(ModelMismatch, match=f"built with {MODEL}"):
        store.bind_model("another-model@1", DIM)
    assert store.model_id() == MODEL


def test_opening_without_create_needs_an_index(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    with pytest.raises(StoreError, match="no index"):
        SqliteFaissStore(tmp_path / "none", create=False)
    with pytest.raises(StoreError, match="no index"):
        PostgresStore(request.getfixturevalue("pg_url"), create=False)


def test_a_catalog_of_the_first_schema_gains_page_starts_on_open(tmp_path: Path) -> None:
    from index.store import sqlite_faiss

    data = tmp_path / "old"
    data.mkdir()
    with sqlite3.connect(data / sqlite_faiss.CATALOG) as old:
        old.executescript(sqlite_faiss.MIGRATIONS[0])
        old.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    store = SqliteFaissStore(data)
    try:
        store.bind_model(MODEL, DIM)
        paged = record("manual", [NORMANS, ROLLO])
        paged.document.page_starts = [0, paged.chunks[1].start]
        write(store, paged)
        (pid, _), *_ = store.dense_search(vector_of(ROLLO), 1)
        assert store.passages([pid])[pid].page_starts == [0, paged.chunks[1].start]
    finally:
        store.close()
    with sqlite3.connect(data / sqlite_faiss.CATALOG) as catalog:
        version = catalog.execute("SELECT value FROM meta WHERE key = 'schema_version'")
        assert version.fetchone() == (str(sqlite_faiss.SCHEMA_VERSION),)


@pytest.mark.parametrize("kind", ["sqlite", "postgres"])
def test_float16_sentence_vectors_of_an_older_schema_read_back_beside_codes(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Passages written before sentence codes (float16, schema 2) read back as they were once
    the store has migrated, and new passages beside them get codes."""
    url = request.getfixturevalue("pg_url") if kind == "postgres" else ""

    def opened() -> Store:
        return SqliteFaissStore(tmp_path / "data") if kind == "sqlite" else PostgresStore(url)

    store = opened()
    store.bind_model(MODEL, DIM)
    with monkeypatch.context() as before_codes:
        before_codes.setattr(sentence_codes, "WRITTEN", sentence_codes.FLOAT16)
        write(store, record("normans", [NORMANS, ROLLO]))
    demote = [
        "ALTER TABLE passages DROP COLUMN sentence_bits",
        "UPDATE meta SET value = '2' WHERE key = 'schema_version'",
    ]
    if kind == "postgres":
        with store.connection() as conn:  # type: ignore[attr-defined]
            for statement in demote:
                conn.execute(statement)
    store.close()
    if kind == "sqlite":
        with sqlite3.connect(tmp_path / "data" / "catalog.sqlite") as db:
            for statement in demote:
                db.execute(statement)

    store = opened()
    try:
        write(store, record("vikings", [VIKINGS]))
        found = {}
        for text in (ROLLO, VIKINGS):
            (pid, _), *_ = store.dense_search(vector_of(text), 1)
            found[text] = store.passages([pid])[pid]
            assert found[text].text == text
        as_float16 = vector_of(ROLLO).astype(np.float16).astype(np.float32)
        assert found[ROLLO].sentence_vectors.tolist() == [as_float16.tolist()]
        (coded,) = found[VIKINGS].sentence_vectors
        assert float(coded @ vector_of(VIKINGS)) > 0.99
        assert float(np.linalg.norm(coded)) == pytest.approx(1.0, abs=1e-6)
        assert store.check() == []  # type: ignore[attr-defined]

        # compact() rewrites the older rows as new ones are written: they read back the same.
        assert store.compact()["passages_rewritten"] == 2  # NORMANS and ROLLO
        assert store.compact()["passages_rewritten"] == 0
        store.save_vectors()
        (pid, _), *_ = store.dense_search(vector_of(ROLLO), 1)
        (recoded,) = store.passages([pid])[pid].sentence_vectors
        assert store.passages([pid])[pid].text == ROLLO
        assert float(recoded @ vector_of(ROLLO)) > 0.99
        assert store.check() == []  # type: ignore[attr-defined]
    finally:
        store.close()


def test_postgres_schema_is_created_once_and_versioned(pg_url: str) -> None:
    first = PostgresStore(pg_url)
    first.bind_model(MODEL, DIM)
    write(first, record("a", [NORMANS]))
    again = PostgresStore(pg_url, create=False)  # opening again migrates nothing, loses nothing
    assert again.document("a") is not None and again.model_id() == MODEL
    with again.connection() as conn:
        version = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        assert version == (str(POSTGRES_SCHEMA_VERSION),)
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StoreError, match="newer than this riverbed"):
        PostgresStore(pg_url)
    first.close()
    again.close()


def test_the_seed_question_gets_the_same_answers_from_both_stores(
    seeded_dir: Path, seeded_postgres: str
) -> None:
    settings = Settings()
    encoder = query_encoder(ModelInfo.from_setting(settings.model), "auto", settings.cache_dir)
    embedded, postgres = SqliteFaissStore(seeded_dir, create=False), PostgresStore(seeded_postgres)
    try:
        for mode in ("hybrid", "dense", "lexical"):
            results = [
                search(store, encoder, QUESTION, settings, k=5, mode=mode)
                for store in (embedded, postgres)
            ]
            assert len(results[0]) == 5
            shown = [[(p.text, p.start, p.end, p.answer, p.score) for p in r] for r in results]
            assert shown[0] == shown[1], mode
        assert postgres.check() == [] and postgres.stats()["chunks"] == embedded.stats()["chunks"]
    finally:
        embedded.close()
        postgres.close()
