"""The FAISS view of the stored vectors: derived from the catalog, saved atomically, caught up.

The catalog holds every passage vector and a log of which passage ids changed at which
generation. This file keeps a FAISS index in step with it: on open it loads the newest saved file
(`vectors-<generation>.faiss`, written to a temporary name and renamed, so a crash never leaves a
torn file) and replays the changes logged since; a missing or unreadable file is rebuilt.
A process that only writes never needs the index in memory: `write_streamed` writes the same
file from the catalog page by page.

A search scans a float16 copy of the vectors (made in memory when a process first searches,
kept in step with every change) for more candidates than asked, then scores those on the float32
vectors: half the memory to stream per question, and the same top k as scanning the float32
vectors whenever the float16 rounding (< 1e-3 of a cosine) does not move a passage across the
margin (on 300 questions over 18k passages it never did). The copy is split in shards by id, one
per core (up to SCAN_SHARDS), scanned side by side: a scan is bound by one core's memory
bandwidth, and the other cores are idle by then (a search's lexical side is done).
"""

from __future__ import annotations

import os
import re
import struct
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import faiss
import numpy as np

_FILE = re.compile(r"^vectors-(\d{12})\.faiss$")
SCAN_MARGIN = 16  # a search scans the float16 copy for 2 k + this many candidates
SCAN_SHARDS = max(1, min(os.cpu_count() or 1, 4))
# Scans the float16 shards but the first (which the searching thread scans itself). Each thread
# tells OpenMP it works alone, as searching threads do (see FaissVectors.search).
_SCAN_THREADS = ThreadPoolExecutor(
    max_workers=SCAN_SHARDS,
    thread_name_prefix="riverbed-scan",
    initializer=faiss.omp_set_num_threads,
    initargs=(1,),
)


class FaissVectors:
    """A FAISS IndexIDMap2 over inner product on unit vectors (cosine), keyed by passage id."""

    def __init__(self, directory: Path, dim: int) -> None:
        self.directory = directory
        self.dim = dim
        self.generation = 0
        self.index = self._empty()
        self._scanned: list[faiss.IndexIDMap2] | None = None  # the float16 shards, once searched
        self.lock = threading.RLock()
        self._load_newest()

    def _empty(self) -> faiss.IndexIDMap2:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))

    def _float16_shards(self) -> list[faiss.IndexIDMap2]:
        if self._scanned is None:
            self._scanned = [
                faiss.IndexIDMap2(
                    faiss.IndexScalarQuantizer(
                        self.dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
                    )
                )
                for _ in range(SCAN_SHARDS)
            ]
            if self.index.ntotal:
                _add_to_shards(
                    self._scanned,
                    self.index.index.reconstruct_n(0, self.index.ntotal),
                    faiss.vector_to_array(self.index.id_map),
                )
        return self._scanned

    def _scan(
        self, query: np.ndarray, wanted: int, selector: faiss.IDSelector | None
    ) -> np.ndarray:
        """The ids of the `wanted` best float16 scores, best first, over all shards.

        Each shard's search gets its own SearchParameters: an IndexIDMap swaps the selector in
        the parameters it is given for one that translates its own ids while it searches, so
        parameters shared by two shards searched at once would filter one by the other's ids."""

        def scan(shard: faiss.IndexIDMap2) -> tuple[np.ndarray, np.ndarray]:
            params = faiss.SearchParameters(sel=selector) if selector is not None else None
            scores, ids = shard.search(query, min(wanted, shard.ntotal), params=params)
            return scores[0], ids[0]

        shards = [shard for shard in self._float16_shards() if shard.ntotal]
        pending = [_SCAN_THREADS.submit(scan, shard) for shard in shards[1:]]
        found = [scan(shards[0]), *(future.result() for future in pending)]
        scores = np.concatenate([scores for scores, _ in found])
        ids = np.concatenate([ids for _, ids in found])
        ids, scores = ids[ids >= 0], scores[ids >= 0]
        return ids[np.argsort(-scores, kind="stable")[:wanted]]

    def _saved_files(self) -> list[tuple[int, Path]]:
        found = []
        for path in self.directory.glob("vectors-*.faiss"):
            match = _FILE.match(path.name)
            if match:
                found.append((int(match.group(1)), path))
        return sorted(found)

    def _load_newest(self) -> None:
        for generation, path in reversed(self._saved_files()):
            try:
                index = faiss.read_index(str(path))
            except RuntimeError:
                continue  # unreadable: fall back to an older file, or a rebuild
            if index.d == self.dim:
                self.index, self.generation, self._scanned = index, generation, None
                return

    def catch_up(
        self,
        catalog_generation: int,
        changes_since: Callable[[int], list[int] | None],
        vectors_of: Callable[[list[int]], Iterable[tuple[int, np.ndarray]]],
        all_vectors: Callable[[], Iterator[tuple[np.ndarray, np.ndarray]]],
    ) -> None:
        """Bring the index to `catalog_generation`.

        `changes_since(g)` lists passage ids touched after generation g, or None when the log no
        longer reaches back that far (then everything is rebuilt from `all_vectors`).
        """
        with self.lock:
            if self.generation == catalog_generation:
                return
            touched = (
                changes_since(self.generation) if self.generation <= catalog_generation else None
            )
            if touched is None:
                self.index, self._scanned = self._empty(), None
                for ids, vectors in all_vectors():
                    self.index.add_with_ids(vectors, ids)
            elif touched:
                ids = np.asarray(touched, dtype=np.int64)
                for index in [self.index, *(self._scanned or [])]:
                    index.remove_ids(ids)
                rows = list(vectors_of(touched))
                if rows:
                    vectors = np.stack([vector for _, vector in rows])
                    added = np.asarray([pid for pid, _ in rows], dtype=np.int64)
                    self.index.add_with_ids(vectors, added)
                    if self._scanned is not None:
                        _add_to_shards(self._scanned, vectors, added)
            self.generation = catalog_generation

    def search(
        self, vector: np.ndarray, k: int, allowed: list[int] | None = None
    ) -> list[tuple[int, float]]:
        # One question is one row: OpenMP's threads only add start-up and contention (a 15k-vector
        # search on a busy 2-core machine: ~50 ms with 2 threads, ~1.5 ms with 1). The setting
        # belongs to the calling thread (libgomp), so each searching thread makes it itself.
        faiss.omp_set_num_threads(1)
        query = np.ascontiguousarray(vector, dtype=np.float32)
        with self.lock:
            if self.index.ntotal == 0 or k <= 0 or (allowed is not None and not allowed):
                return []
            selector = None
            if allowed is not None:
                selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
            wanted = min(2 * k + SCAN_MARGIN, self.index.ntotal)
            ids = self._scan(query.reshape(1, -1), wanted, selector)
            if not len(ids):
                return []
            scores = self.index.reconstruct_batch(ids) @ query
        best = np.lexsort((ids, -scores))[:k]  # highest first, ties by id
        return [(int(i), float(s)) for i, s in zip(ids[best], scores[best], strict=True)]

    def save(self) -> Path:
        """Write the index for its generation atomically, then drop older files."""
        with self.lock:
            return _publish(
                self.directory, self.generation, lambda path: faiss.write_index(self.index, path)
            )

    @property
    def count(self) -> int:
        return int(self.index.ntotal)


def _add_to_shards(shards: list[faiss.IndexIDMap2], vectors: np.ndarray, ids: np.ndarray) -> None:
    """Add each vector to the shard its id falls in: id modulo the number of shards."""
    home = ids % len(shards)
    for number, shard in enumerate(shards):
        chosen = home == number
        if chosen.any():
            shard.add_with_ids(vectors[chosen], ids[chosen])


def write_streamed(
    directory: Path,
    generation: int,
    dim: int,
    count: int,
    pages: Iterable[tuple[np.ndarray, np.ndarray]],
) -> Path:
    """Write the vector file of `generation` from `count` vectors given as (ids, vectors) pages,
    holding one page at a time.

    The bytes are those `faiss.write_index` writes for an IndexIDMap2 over an IndexFlatIP (a
    test holds them equal): the two headers, the vectors, then the ids.
    """
    header = struct.pack("<iqqq?i", dim, count, 1 << 20, 1 << 20, True, faiss.METRIC_INNER_PRODUCT)
    prefix = b"IxM2" + header + b"IxFI" + header + struct.pack("<Q", count * dim)
    ids_at = len(prefix) + count * dim * 4 + 8

    def write(path: str) -> None:
        written = 0
        with open(path, "r+b") as handle:
            handle.write(prefix)
            handle.seek(ids_at - 8)
            handle.write(struct.pack("<Q", count))
            for ids, vectors in pages:
                if written + len(ids) > count:
                    break
                handle.seek(len(prefix) + written * dim * 4)
                handle.write(np.ascontiguousarray(vectors, dtype="<f4").tobytes())
                handle.seek(ids_at + written * 8)
                handle.write(np.ascontiguousarray(ids, dtype="<i8").tobytes())
                written += len(ids)
        if written != count:
            raise RuntimeError(f"expected {count} vectors, got {written} or more")

    return _publish(directory, generation, write)


def _publish(directory: Path, generation: int, write: Callable[[str], None]) -> Path:
    """Write `vectors-<generation>.faiss` through a temporary file renamed into place, then
    drop older files and temporaries left by a crash."""
    target = directory / f"vectors-{generation:012d}.faiss"
    if not target.exists():
        handle, temporary = tempfile.mkstemp(dir=directory, suffix=".faiss.tmp")
        os.close(handle)
        try:
            write(temporary)
            os.replace(temporary, target)
        finally:
            Path(temporary).unlink(missing_ok=True)
    for path in directory.glob("vectors-*.faiss"):
        match = _FILE.match(path.name)
        if match and int(match.group(1)) < generation:
            path.unlink(missing_ok=True)
    for stale in directory.glob("*.faiss.tmp"):
        stale.unlink(missing_ok=True)
    return target
