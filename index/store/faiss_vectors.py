"""The FAISS view of the stored vectors, in memory: loaded from the segment files, caught up.

The catalog holds every passage vector and a log of which passage ids changed at which
generation; vector_segments.py keeps the files on disk (immutable segments named by a manifest,
appended and merged as the catalog changes). This class loads the newest readable manifest's
live records and replays the changes logged since; missing or unreadable files are rebuilt from
the catalog.

Two layouts, chosen by the files (vector_segments.ANN_FROM):
- `flat`, below ANN_FROM passages: exact. A search scans a float16 copy of the vectors for more
  candidates than asked, then scores those on the float32 vectors: half the memory to stream
  per question, and the same top k as scanning the float32 vectors whenever the float16 rounding
  (< 1e-3 of a cosine) does not move a passage across the margin (on 300 questions over 18k
  passages it never did). The copy is split in shards by id, one per core (up to SCAN_SHARDS),
  scanned side by side: a scan is bound by one core's memory bandwidth, and the other cores are
  idle by then (a search's lexical side is done).
- `ivf`: an inverted file (FAISS IndexIVFScalarQuantizer: 8-bit codes over [-1, 1], or float16
  ones in files written before; and a hash table from id to code, so a removal costs what it
  removes). A search probes the PROBED_SHARE of lists whose
  centroids are nearest the question for 2 k + SCAN_MARGIN candidates, then scores those on the
  catalog's vectors; no full-precision copy is held (at a million passages it would be 1.5 GB).
  A filter is applied while probing, with more lists probed the fewer passages it lets through;
  when that would read more vectors than the filter allows, or the probe finds fewer than asked,
  the allowed vectors themselves are scanned: the top k among the passages that pass, never
  fewer than exist.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import faiss
import numpy as np

from index.store import vector_segments
from index.store.vector_segments import (
    PAGE,
    Manifest,
    Pages,
    centroids_for,
    codes_of,
    live_pages,
    manifests,
    newest_manifest,
    read_centroids,
    readable_manifests,
    uint8_quantizer,
)

SCAN_MARGIN = 16  # a search scores 2 k + this many candidates exactly
SCAN_SHARDS = max(1, min(os.cpu_count() or 1, 4))
PROBED_SHARE = 0.06  # of the inverted lists, probed per question (ivf): recall 0.99 at 100k
# Scans the float16 shards but the first (which the searching thread scans itself). Each thread
# tells OpenMP it works alone, as searching threads do (see FaissVectors.search).
_SCAN_THREADS = ThreadPoolExecutor(
    max_workers=SCAN_SHARDS,
    thread_name_prefix="riverbed-scan",
    initializer=faiss.omp_set_num_threads,
    initargs=(1,),
)

VectorsOf = Callable[[list[int]], Iterable[tuple[int, np.ndarray]]]


class FaissVectors:
    """Passage vectors by passage id, searched by inner product on unit vectors (cosine)."""

    def __init__(self, directory: Path, dim: int) -> None:
        self.directory = directory
        self.dim = dim
        self.generation = 0
        self.layout = "flat"
        self.index: faiss.Index = _flat(dim)
        self._scanned: list[faiss.IndexIDMap2] | None = None  # flat: float16 shards, once searched
        self._centroids: str | None = None  # ivf: the file of the centroids in use
        self._codes = "float32"  # how the index holds vectors (vector_segments.CODE_TYPES)
        self._trained_at = 0
        self._present = np.zeros(0, dtype=bool)  # ivf: passage id -> held
        self._seen_manifest: str | None = None  # the newest manifest's name at the last look
        self.lock = threading.RLock()
        for manifest in readable_manifests(directory, dim):
            try:
                self._load(manifest)
                break
            except (OSError, ValueError, RuntimeError):
                continue  # unreadable: fall back to an older manifest, or a rebuild

    # -- the two layouts -----------------------------------------------------------------------

    def _load(self, manifest: Manifest) -> None:
        if manifest.layout == "flat":
            index = _flat(self.dim)
            for page in live_pages(self.directory, manifest):
                index.add_with_ids(np.ascontiguousarray(page["vector"]), page["id"])
            self._use(index, "flat", manifest.generation)
        else:
            centroids = read_centroids(self.directory, manifest)
            index = _inverted(centroids, manifest.codes, mapped=False)
            for page in live_pages(self.directory, manifest):
                _add_codes(index, page)
            index.set_direct_map_type(faiss.DirectMap.Hashtable)
            self._use(
                index,
                "ivf",
                manifest.generation,
                manifest.centroids,
                manifest.trained_at,
                manifest.codes,
            )

    def _use(
        self,
        index: faiss.Index,
        layout: str,
        generation: int,
        centroids: str | None = None,
        trained_at: int = 0,
        codes: str | None = None,
    ) -> None:
        """Hold `index`, whose vectors are `codes` (today's for `layout` unless given)."""
        self.index, self.layout, self.generation = index, layout, generation
        self._scanned = None
        self._centroids, self._trained_at = centroids, trained_at
        self._codes = codes or codes_of(layout)
        self._present = np.zeros(0, dtype=bool)
        if layout == "ivf":
            self._mark(self.ids(), True)

    def _mark(self, ids: np.ndarray, held: bool) -> None:
        if not len(ids):
            return
        top = int(ids.max()) + 1
        if top > len(self._present):
            grown = np.zeros(max(top, 2 * len(self._present)), dtype=bool)
            grown[: len(self._present)] = self._present
            self._present = grown
        self._present[ids] = held

    def _held(self, ids: np.ndarray) -> np.ndarray:
        inside = ids < len(self._present)
        held = np.zeros(len(ids), dtype=bool)
        held[inside] = self._present[ids[inside]]
        return held

    def ids(self) -> np.ndarray:
        """Every passage id held (once per vector held)."""
        if self.layout == "flat":
            return faiss.vector_to_array(self.index.id_map)
        lists = self.index.invlists
        found = [
            faiss.rev_swig_ptr(lists.get_ids(number), lists.list_size(number)).copy()
            for number in range(lists.nlist)
            if lists.list_size(number)
        ]
        return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)

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

    # -- catching up ---------------------------------------------------------------------------

    def catch_up(
        self,
        catalog_generation: int,
        changes_since: Callable[[int], list[int] | None],
        vectors_of: VectorsOf,
        all_vectors: Callable[[], Iterator[tuple[np.ndarray, np.ndarray]]],
    ) -> None:
        """Bring the index to `catalog_generation`.

        `changes_since(g)` lists passage ids touched after generation g, or None when the log no
        longer reaches back that far: then everything is rebuilt from `all_vectors`, as it is
        when the log names more passages than are held (and than ANN_FROM). When the saved
        files have changed layout (the index grew past ANN_FROM, or its centroids were trained
        again), they are loaded first.
        """
        with self.lock:
            if self.generation == catalog_generation:
                return
            self._follow_the_files(catalog_generation)
            touched = (
                changes_since(self.generation) if self.generation <= catalog_generation else None
            )
            if touched is None or len(touched) > max(
                vector_segments.ANN_FROM, 2 * self.index.ntotal
            ):
                self._rebuild(all_vectors)  # no log, or more to replay than to read afresh
            elif touched:
                self._replace(np.asarray(touched, dtype=np.int64), vectors_of(touched))
            self.generation = catalog_generation

    def _follow_the_files(self, catalog_generation: int) -> None:
        """Load the newest manifest if its layout or centroids are not the ones held."""
        listed = manifests(self.directory)
        newest = listed[-1][1].name if listed else None
        if newest == self._seen_manifest:
            return  # nothing saved since the last look: one directory listing per catch-up
        self._seen_manifest = newest
        manifest = newest_manifest(self.directory, self.dim, catalog_generation)
        if (
            manifest is not None
            and manifest.generation > self.generation
            and (manifest.layout, manifest.centroids, manifest.codes)
            != (self.layout, self._centroids, self._codes)
        ):
            with contextlib.suppress(OSError, ValueError, RuntimeError):
                self._load(manifest)  # if it fails, what is held is caught up from the log

    def _replace(self, ids: np.ndarray, rows: Iterable[tuple[int, np.ndarray]]) -> None:
        """Remove `ids`, then add those of them that still exist (`rows`)."""
        if self.layout == "flat":
            for index in [self.index, *(self._scanned or [])]:
                index.remove_ids(ids)
        else:
            self.index.remove_ids(faiss.IDSelectorArray(ids))
            self._mark(ids, False)
        rows = list(rows)
        if not rows:
            return
        vectors = np.stack([vector for _, vector in rows])
        added = np.asarray([pid for pid, _ in rows], dtype=np.int64)
        self.index.add_with_ids(vectors, added)
        if self.layout == "flat" and self._scanned is not None:
            _add_to_shards(self._scanned, vectors, added)
        if self.layout == "ivf":
            self._mark(added, True)

    def _rebuild(self, all_vectors: Callable[[], Pages]) -> None:
        """Everything from the catalog: exact below ANN_FROM passages, else inverted lists (the
        saved centroids when there are any, else trained on a sample now).

        Each page read goes into the index being built and is let go, so no more than one copy
        of the vectors is held; the catalog is read again when the layout turns out to be the
        other one (a second time, to draw the training sample, when there are no centroids)."""
        manifest = newest_manifest(self.directory, self.dim)
        if manifest is not None and manifest.layout == "ivf":
            centroids = read_centroids(self.directory, manifest)
            if centroids is not None:
                index, count = _filled(_inverted(centroids, codes_of("ivf")), all_vectors())
                if count >= vector_segments.ANN_FROM:
                    name, trained = manifest.centroids, manifest.trained_at
                    self._use(index, "ivf", self.generation, name, trained)
                    return
                del index
        index, count = _filled(_flat(self.dim), all_vectors(), vector_segments.ANN_FROM)
        if count < vector_segments.ANN_FROM:
            self._use(index, "flat", self.generation)
            return
        del index  # past ANN_FROM: counted only, since the sample needs the count
        centroids = centroids_for(self.directory, self.dim, all_vectors, count)
        index, _ = _filled(_inverted(centroids, codes_of("ivf")), all_vectors())
        self._use(index, "ivf", self.generation, None, count)

    # -- searching -----------------------------------------------------------------------------

    def search(
        self,
        vector: np.ndarray,
        k: int,
        allowed: list[int] | None = None,
        exact_vectors: VectorsOf | None = None,
    ) -> list[tuple[int, float]]:
        """The `k` passages nearest `vector` among `allowed` (all when None), best first, ties
        by id. `exact_vectors` reads the catalog's vectors by id for the final scores (the
        inverted lists hold codes); without it the codes are."""
        # One question is one row: OpenMP's threads only add start-up and contention (a 15k-vector
        # search on a busy 2-core machine: ~50 ms with 2 threads, ~1.5 ms with 1). The setting
        # belongs to the calling thread (libgomp), so each searching thread makes it itself.
        faiss.omp_set_num_threads(1)
        query = np.ascontiguousarray(vector, dtype=np.float32)
        with self.lock:
            if self.index.ntotal == 0 or k <= 0 or (allowed is not None and not allowed):
                return []
            wanted = min(2 * k + SCAN_MARGIN, self.index.ntotal)
            if self.layout == "flat":
                selector = None
                if allowed is not None:
                    selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
                ids = self._scan(query.reshape(1, -1), wanted, selector)
                scores = self.index.reconstruct_batch(ids) @ query if len(ids) else None
            else:
                ids = self._probe(query, wanted, allowed)
                scores = None if exact_vectors else self.index.reconstruct_batch(ids) @ query
        if not len(ids):
            return []
        if scores is None:  # ivf: exact scores from the catalog, outside the lock
            exact = dict(exact_vectors(ids.tolist()))
            ids = np.asarray([pid for pid in ids.tolist() if pid in exact], dtype=np.int64)
            if not len(ids):
                return []
            scores = np.stack([exact[pid] for pid in ids.tolist()]) @ query
        best = np.lexsort((ids, -scores))[:k]  # highest first, ties by id
        return [(int(i), float(s)) for i, s in zip(ids[best], scores[best], strict=True)]

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

    def _probe(self, query: np.ndarray, wanted: int, allowed: list[int] | None) -> np.ndarray:
        """Candidates from the inverted lists: the nearest lists' best, or the allowed ones'."""
        total, lists = self.index.ntotal, self.index.nlist
        probes = max(1, math.ceil(PROBED_SHARE * lists))
        if allowed is None:
            params = faiss.SearchParametersIVF(nprobe=probes)
            _, ids = self.index.search(query.reshape(1, -1), wanted, params=params)
            return ids[0][ids[0] >= 0]
        chosen = np.unique(np.asarray(allowed, dtype=np.int64))
        chosen = chosen[self._held(chosen)]
        if not len(chosen):
            return chosen
        probed = min(lists, math.ceil(probes * total / len(chosen)))
        if len(chosen) <= probed * total / lists:  # fewer allowed than the lists would read
            return self._scan_allowed(query, chosen, wanted)
        selector = faiss.IDSelectorBatch(chosen)
        params = faiss.SearchParametersIVF(nprobe=probed, sel=selector)
        _, ids = self.index.search(query.reshape(1, -1), wanted, params=params)
        ids = ids[0][ids[0] >= 0]
        if len(ids) < min(wanted, len(chosen)):
            return self._scan_allowed(query, chosen, wanted)
        return ids

    def _scan_allowed(self, query: np.ndarray, allowed: np.ndarray, wanted: int) -> np.ndarray:
        """The `wanted` best of `allowed` by their float16 codes, read one by one."""
        scores = np.concatenate(
            [
                self.index.reconstruct_batch(allowed[start : start + PAGE]) @ query
                for start in range(0, len(allowed), PAGE)
            ]
        )
        return allowed[np.lexsort((allowed, -scores))[:wanted]]

    @property
    def count(self) -> int:
        return int(self.index.ntotal)

    @property
    def codes(self) -> str:
        """How the index holds vectors: float32 (flat), float16 or uint8 (inverted lists)."""
        return self._codes


def _flat(dim: int) -> faiss.IndexIDMap2:
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


def _inverted(
    centroids: np.ndarray, codes: str, mapped: bool = True
) -> faiss.IndexIVFScalarQuantizer:
    """Empty inverted lists over `centroids` whose codes are the vectors (not their
    residuals) as `codes` says, float16 or 8-bit (vector_segments.INVERTED_CODES), so a
    segment's records are codes as they are; `mapped`: with the hash table from id to code
    already (else set once the lists are filled)."""
    quantizer = faiss.IndexFlatIP(centroids.shape[1])
    quantizer.add(np.ascontiguousarray(centroids, dtype=np.float32))
    index = faiss.IndexIVFScalarQuantizer(
        quantizer,
        centroids.shape[1],
        len(centroids),
        faiss.ScalarQuantizer.QT_fp16
        if codes == "float16"
        else faiss.ScalarQuantizer.QT_8bit_uniform,
        faiss.METRIC_INNER_PRODUCT,
        False,  # by_residual
    )
    if codes == "uint8":
        index.sq = uint8_quantizer(centroids.shape[1])  # over [-1, 1]: nothing to train
    index.referenced_objects = [quantizer]  # the index only points at it: keep it alive
    index.is_trained = True  # no codes need training here; the centroids are given
    if mapped:
        index.set_direct_map_type(faiss.DirectMap.Hashtable)
    return index


def _filled(
    index: faiss.Index, pages: Pages, stop_at: int | None = None
) -> tuple[faiss.Index, int]:
    """`index` with every page added (an inverted file puts each vector in the list of its
    nearest centroid), and how many vectors there were. From `stop_at` vectors on, pages are
    counted, no longer added: the index is not the one wanted."""
    count = 0
    for ids, vectors in pages:
        count += len(ids)
        if stop_at is not None and count >= stop_at:
            index.reset()
            continue
        index.add_with_ids(
            np.ascontiguousarray(vectors, dtype=np.float32),
            np.ascontiguousarray(ids, dtype=np.int64),
        )
    return index, count


def _add_codes(index: faiss.IndexIVF, records: np.ndarray) -> None:
    """Put a segment's records into their lists as they are: their vectors are the codes
    (no conversion, no encoding). The id-to-code map is the caller's to set after."""
    order = np.argsort(records["list"], kind="stable")
    lists = records["list"][order]
    ids = np.ascontiguousarray(records["id"][order])
    codes = np.ascontiguousarray(records["vector"][order]).view(np.uint8)
    bounds = np.searchsorted(lists, np.arange(index.nlist + 1))
    for number in np.flatnonzero(np.diff(bounds)).tolist():
        start, end = int(bounds[number]), int(bounds[number + 1])
        index.invlists.add_entries(
            number, end - start, faiss.swig_ptr(ids[start:end]), faiss.swig_ptr(codes[start:end])
        )
    index.ntotal += len(records)


def _add_to_shards(shards: list[faiss.IndexIDMap2], vectors: np.ndarray, ids: np.ndarray) -> None:
    """Add each vector to the shard its id falls in: id modulo the number of shards."""
    home = ids % len(shards)
    for number, shard in enumerate(shards):
        chosen = home == number
        if chosen.any():
            shard.add_with_ids(vectors[chosen], ids[chosen])
