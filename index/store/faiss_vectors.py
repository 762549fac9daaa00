"""The FAISS view of the stored vectors: derived from the catalog, saved atomically, caught up.

The catalog holds every passage vector and a log of which passage ids changed at which
generation. This file keeps a FAISS index in step with it: on open it loads the newest saved file
(`vectors-<generation>.faiss`, written to a temporary name and renamed, so a crash never leaves a
torn file) and replays the changes logged since; a missing or unreadable file is rebuilt.
"""

from __future__ import annotations

import os
import re
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import faiss
import numpy as np

_FILE = re.compile(r"^vectors-(\d{12})\.faiss$")


class FaissVectors:
    """A FAISS IndexIDMap2 over inner product on unit vectors (cosine), keyed by passage id."""

    def __init__(self, directory: Path, dim: int) -> None:
        self.directory = directory
        self.dim = dim
        self.generation = 0
        self.index = self._empty()
        self.lock = threading.RLock()
        self._load_newest()

    def _empty(self) -> faiss.IndexIDMap2:
        return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))

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
                self.index, self.generation = index, generation
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
                self.index = self._empty()
                for ids, vectors in all_vectors():
                    self.index.add_with_ids(vectors, ids)
            elif touched:
                ids = np.asarray(touched, dtype=np.int64)
                self.index.remove_ids(ids)
                rows = list(vectors_of(touched))
                if rows:
                    self.index.add_with_ids(
                        np.stack([vector for _, vector in rows]),
                        np.asarray([pid for pid, _ in rows], dtype=np.int64),
                    )
            self.generation = catalog_generation

    def search(
        self, vector: np.ndarray, k: int, allowed: list[int] | None = None
    ) -> list[tuple[int, float]]:
        with self.lock:
            if self.index.ntotal == 0 or k <= 0 or (allowed is not None and not allowed):
                return []
            params = None
            if allowed is not None:
                selector = faiss.IDSelectorBatch(np.asarray(allowed, dtype=np.int64))
                params = faiss.SearchParameters(sel=selector)
            scores, ids = self.index.search(
                vector.reshape(1, -1).astype(np.float32), min(k, self.index.ntotal), params=params
            )
        return [(int(i), float(s)) for i, s in zip(ids[0], scores[0], strict=True) if i >= 0]

    def save(self) -> Path:
        """Write the index for its generation atomically, then drop older files."""
        with self.lock:
            target = self.directory / f"vectors-{self.generation:012d}.faiss"
            if not target.exists():
                handle, temporary = tempfile.mkstemp(dir=self.directory, suffix=".faiss.tmp")
                os.close(handle)
                try:
                    faiss.write_index(self.index, temporary)
                    os.replace(temporary, target)
                finally:
                    Path(temporary).unlink(missing_ok=True)
            for generation, path in self._saved_files():
                if generation < self.generation:
                    path.unlink(missing_ok=True)
            for stale in self.directory.glob("*.faiss.tmp"):
                stale.unlink(missing_ok=True)
            return target

    @property
    def count(self) -> int:
        return int(self.index.ntotal)
