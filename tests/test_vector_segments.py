"""The vector files are segments: a save writes what changed, segments merge, a reopened view
holds exactly the catalog's passages; past ANN_FROM passages the view is an inverted file whose
search finds the exact top k nearly always, and whose filtered search is the exact top k among
the passages that pass.

About the vector index, not the model: hashed bag-of-words vectors (those of
tests/test_store_contract.py) and random clustered unit vectors.
"""

from __future__ import annotations

import itertools
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from index.models import Filters
from index.records import WriteBatch
from index.store import faiss_vectors, vector_segments
from index.store.faiss_vectors import FaissVectors
from index.store.sqlite_faiss import SqliteFaissStore, passage_vector
from index.store.vector_segments import Manifest, newest_manifest
from tests.test_store_contract import DIM, MODEL, record, vector_of


def _paragraphs(number: int) -> list[str]:
    return [
        f"note {number} part {part} about topic {number % 7} and {part % 3}" for part in range(3)
    ]


def _store(tmp_path: Path, documents: int) -> SqliteFaissStore:
    store = SqliteFaissStore(tmp_path / "data")
    store.bind_model(MODEL, DIM)
    store.write(WriteBatch(upserts=[record(f"d{n}", _paragraphs(n)) for n in range(documents)]))
    return store


def _manifest(store: SqliteFaissStore) -> Manifest:
    manifest = newest_manifest(store.data_dir, DIM)
    assert manifest is not None
    return manifest


def _catalog_ids(store: SqliteFaissStore) -> list[int]:
    return sorted(row[0] for row in store.db.execute("SELECT id FROM passages"))


def _reopened_ids(store: SqliteFaissStore) -> list[int]:
    """What a process opening the files now holds, before any catching up."""
    view = FaissVectors(store.data_dir, DIM)
    assert view.generation == store.generation()
    return sorted(view.ids().tolist())


def test_a_save_writes_what_changed_and_segments_merge(tmp_path: Path) -> None:
    store = _store(tmp_path, 40)
    try:
        store.save_vectors()
        first = _manifest(store)
        assert [s.count for s in first.segments] == [120]
        store.write(WriteBatch(upserts=[record("new", ["a fresh note on pelicans"])]))
        store.save_vectors()
        grown = _manifest(store)
        assert [s.count for s in grown.segments] == [120, 1]  # the new passage alone
        assert grown.segments[0] == first.segments[0]  # the old segment is not rewritten
        assert grown.dead is None  # a new passage is no older segment's to hide
        # A replaced document: its old passages are tombstoned, its new one stated.
        store.write(WriteBatch(upserts=[record("d3", ["d3 says something else now"])]))
        store.write(WriteBatch(deletes=["d5"]))
        store.save_vectors()
        assert _manifest(store).dead is not None
        assert _reopened_ids(store) == _catalog_ids(store)
        # Equal sizes merge, as a binary counter does: never more than log2(n) + 1 segments.
        for number in range(16):
            store.write(WriteBatch(upserts=[record(f"x{number}", [f"extra {number} words"])]))
            store.save_vectors()
            counts = [s.count for s in _manifest(store).segments]
            assert len(counts) <= 1 + np.log2(sum(counts))
            assert all(a > vector_segments.MERGE_RATIO * b for a, b in itertools.pairwise(counts))
        assert _reopened_ids(store) == _catalog_ids(store)
        names = {path.name for path in store.data_dir.glob("vectors-*")}
        assert len([n for n in names if n.endswith(".json")]) == 2  # the newest two manifests
    finally:
        store.close()


def test_the_files_follow_deletes_of_everything(tmp_path: Path) -> None:
    store = _store(tmp_path, 5)
    try:
        store.save_vectors()
        store.delete([f"d{n}" for n in range(5)])
        store.save_vectors()
        assert _reopened_ids(store) == [] == _catalog_ids(store)
        assert store.dense_search(vector_of("note"), 5) == []
    finally:
        store.close()


def _clustered(count: int, dim: int, seed: int = 5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((40, dim))
    vectors = centres[rng.integers(0, 40, count)] + 0.6 * rng.standard_normal((count, dim))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def _exact(vectors: np.ndarray, ids: np.ndarray, query: np.ndarray, k: int) -> list[int]:
    scores = vectors @ query
    return ids[np.lexsort((ids, -scores))][:k].tolist()


@pytest.fixture
def inverted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SqliteFaissStore:
    """A store past a lowered ANN_FROM: its files and views are inverted lists."""
    monkeypatch.setattr(vector_segments, "ANN_FROM", 600)
    monkeypatch.setattr(faiss_vectors, "PROBED_SHARE", 0.25)
    store = _store(tmp_path, 300)  # 900 passages
    store.save_vectors()
    return store


def _catalog_vectors(store: SqliteFaissStore) -> tuple[np.ndarray, np.ndarray]:
    rows = store.db.execute("SELECT id, vector FROM passages ORDER BY id").fetchall()
    ids = np.asarray([pid for pid, _ in rows], dtype=np.int64)
    dim = store.dim()
    assert dim is not None
    return ids, np.stack([passage_vector(blob, dim) for _, blob in rows])


def test_past_ann_from_the_view_is_inverted_lists_and_finds_the_top_k(
    inverted: SqliteFaissStore,
) -> None:
    store = inverted
    try:
        manifest = _manifest(store)
        assert manifest.layout == "ivf" and manifest.centroids is not None
        assert store.vectors().layout == "ivf"
        ids, vectors = _catalog_vectors(store)
        questions = [vector_of(f"topic {n % 7} note {n} part {n % 3}") for n in range(0, 300, 9)]
        found = [
            len(set(dict(store.dense_search(q, 10))) & set(_exact(vectors, ids, q, 10)))
            for q in questions
        ]
        assert sum(found) / (10 * len(questions)) >= 0.95
        # Scores are the catalog's cosines, best first.
        for pid, score in store.dense_search(questions[0], 10):
            assert score == pytest.approx(float(vectors[ids == pid][0] @ questions[0]), abs=1e-6)
    finally:
        store.close()


def test_inverted_lists_hold_8_bit_codes_and_float16_ones_written_before_are_rewritten_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lists hold a byte a component; files written in float16 codes load and search as
    they are, and the next save writes them again in today's codes."""
    monkeypatch.setattr(vector_segments, "ANN_FROM", 600)
    monkeypatch.setattr(faiss_vectors, "PROBED_SHARE", 0.25)
    with monkeypatch.context() as before:
        before.setattr(vector_segments, "INVERTED_CODES", "float16")
        store = _store(tmp_path, 300)
        store.save_vectors()
    try:
        old = _manifest(store)
        assert (old.layout, old.codes) == ("ivf", "float16")
        questions = [vector_of(f"topic {n % 7} note {n}") for n in range(0, 300, 30)]
        loaded = FaissVectors(store.data_dir, DIM)
        assert loaded.codes == "float16"
        found_before = [store.dense_search(q, 10) for q in questions]

        store.write(WriteBatch(upserts=[record("late", _paragraphs(301))]))
        store.save_vectors()  # the codes differ from today's: every record anew, in 8 bits
        new = _manifest(store)
        assert (new.layout, new.codes, len(new.segments)) == ("ivf", "uint8", 1)
        (segment,) = new.segments
        records = np.load(store.data_dir / segment.name)
        assert records["vector"].dtype == np.uint8 and records["vector"].shape[1] == DIM
        assert _reopened_ids(store) == _catalog_ids(store)
        assert FaissVectors(store.data_dir, DIM).codes == "uint8"
        assert store.check() == []
        # The candidates come from the codes, the scores from the catalog: the same answers.
        found_after = [store.dense_search(q, 10) for q in questions]
        for before_q, after_q in zip(found_before, found_after, strict=True):
            assert len(set(dict(before_q)) & set(dict(after_q))) >= 9
    finally:
        store.close()


@pytest.mark.parametrize("share", [0.003, 0.05, 0.5])
def test_a_filtered_inverted_search_is_the_exact_top_k_of_what_passes(
    inverted: SqliteFaissStore, share: float
) -> None:
    """However selective the filter: scanned directly when few pass, probed through the filter
    when many do, and never fewer results than pass."""
    store = inverted
    try:
        ids, vectors = _catalog_vectors(store)
        rng = np.random.default_rng(1)
        documents = [f"d{n}" for n in rng.choice(300, max(1, int(300 * share)), replace=False)]
        allowed = np.asarray(sorted(store._allowed(Filters(doc_ids=documents))), dtype=np.int64)
        chosen = np.isin(ids, allowed)
        for question in (vector_of("topic 3 note part"), vector_of("about topic 5 and 1")):
            found = [pid for pid, _ in store.dense_search(question, 10, Filters(doc_ids=documents))]
            assert set(found) <= set(allowed.tolist())
            assert len(found) == min(10, len(allowed))
            expected = _exact(vectors[chosen], ids[chosen], question, 10)
            if share < 0.1:  # scanned directly: exact
                assert found == expected
            else:
                assert len(set(found) & set(expected)) >= 8
    finally:
        store.close()


def test_inverted_lists_follow_writes_and_deletes(inverted: SqliteFaissStore) -> None:
    store = inverted
    try:
        view = store.vectors()
        store.write(WriteBatch(upserts=[record("pelicans", ["pelicans nest on the delta"])]))
        store.delete([f"d{n}" for n in range(0, 300, 2)])
        assert sorted(store.vectors().ids().tolist()) == _catalog_ids(store)
        (top, _), *_ = store.dense_search(vector_of("pelicans nest on the delta"), 3)
        assert store.passages([top])[top].text == "pelicans nest on the delta"
        store.save_vectors()
        assert _reopened_ids(store) == _catalog_ids(store)
        assert view is store.vectors()
        assert store.check() == []
    finally:
        store.close()


def test_a_reader_follows_the_files_into_the_inverted_layout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader that opened a small (exact) index loads the writer's inverted lists once the
    index has grown past ANN_FROM, and is then caught up from the change log."""
    monkeypatch.setattr(vector_segments, "ANN_FROM", 600)
    writer = _store(tmp_path, 100)
    writer.save_vectors()
    reader = SqliteFaissStore(writer.data_dir, create=False)
    try:
        assert reader.vectors().layout == "flat"
        writer.write(WriteBatch(upserts=[record(f"e{n}", _paragraphs(n + 7)) for n in range(250)]))
        writer.save_vectors()
        writer.write(WriteBatch(upserts=[record("late", ["a late note on herons"])]))
        view = reader.vectors()
        assert view.layout == "ivf"
        assert sorted(view.ids().tolist()) == _catalog_ids(reader)
    finally:
        reader.close()
        writer.close()


def test_centroids_train_in_the_background_while_saves_go_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A save during a run that finds centroids due does not wait for them: the files keep their
    layout (and take what changed) until a later save lays them out by the trained centroids;
    the last save of a run waits for them."""
    monkeypatch.setattr(vector_segments, "ANN_FROM", 600)
    release = threading.Event()
    train = vector_segments.train_centroids

    def held_back(sample: np.ndarray, lists: int) -> np.ndarray:
        release.wait(60)
        return train(sample, lists)

    monkeypatch.setattr(vector_segments, "train_centroids", held_back)
    store = _store(tmp_path, 300)  # 900 passages
    try:
        store.save_vectors(wait=False)
        assert _manifest(store).layout == "flat"  # the centroids are still being trained
        store.write(WriteBatch(upserts=[record("late", ["a late note on herons"])]))
        store.save_vectors(wait=False)
        assert [s.count for s in _manifest(store).segments] == [900, 1]
        assert _reopened_ids(store) == _catalog_ids(store)
        release.set()
        for _ in range(600):  # until the training thread is done; no save waits for it
            store.save_vectors(wait=False)
            if _manifest(store).layout == "ivf":
                break
            time.sleep(0.05)
        manifest = _manifest(store)
        assert manifest.layout == "ivf"
        assert manifest.trained_at == 900  # the sample was drawn when training became due
        assert _reopened_ids(store) == _catalog_ids(store)
        (top, _), *_ = store.dense_search(vector_of("a late note on herons"), 3)
        assert store.passages([top])[top].text == "a late note on herons"
        # Due again (RETRAIN_GROWTH): a save that waits (a run's last) trains and uses them.
        monkeypatch.setattr(vector_segments, "RETRAIN_GROWTH", 1)
        store.write(WriteBatch(upserts=[record("later", ["a later note on egrets"])]))
        store.save_vectors()
        assert _manifest(store).trained_at == 902
        assert _reopened_ids(store) == _catalog_ids(store)
    finally:
        release.set()
        store.close()


def test_a_forked_child_trains_its_own_centroids(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A child forked while its parent's centroids are being trained (a thread it does not
    inherit) trains its own when its save waits, instead of waiting for those forever."""
    monkeypatch.setattr(vector_segments, "ANN_FROM", 600)
    release = threading.Event()
    train = vector_segments.train_centroids

    def held_back(sample: np.ndarray, lists: int) -> np.ndarray:
        if os.getpid() == parent:
            release.wait(60)
        return train(sample, lists)

    parent = os.getpid()
    monkeypatch.setattr(vector_segments, "train_centroids", held_back)
    store = _store(tmp_path, 300)
    try:
        store.save_vectors(wait=False)  # the parent's training is under way, held back
        child = os.fork()
        if child == 0:
            code = 1
            try:
                forked = SqliteFaissStore(store.data_dir, create=False)
                forked.save_vectors()
                code = 0 if _manifest(forked).layout == "ivf" else 2
            finally:
                os._exit(code)
        for _ in range(600):
            done, status = os.waitpid(child, os.WNOHANG)
            if done:
                break
            time.sleep(0.05)
        else:
            os.kill(child, signal.SIGKILL)
            os.waitpid(child, 0)
            pytest.fail("the child waited for its parent's training")
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        release.set()
        store.close()


def test_an_inverted_view_is_rebuilt_from_the_catalog_when_its_files_are_gone(
    inverted: SqliteFaissStore,
) -> None:
    store = inverted
    try:
        for path in store.data_dir.glob("vectors-*"):
            path.unlink()
        view = FaissVectors(store.data_dir, DIM)
        view.catch_up(
            store.generation(), store._changes_since, store._vectors_of, store._all_vectors
        )
        assert view.layout == "ivf"
        assert sorted(view.ids().tolist()) == _catalog_ids(store)
    finally:
        store.close()
