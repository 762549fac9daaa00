"""Spherical k-means over a sample that stays on disk: the centroids of the inverted lists.

FAISS's k-means wants its points in memory; the writer's sample is 160·√n vectors (about 110 MB
in float16 at 850k passages), which would be held for as long as the training runs. Here the
sample is written once to an anonymous temporary file beside the vector files (not /tmp, which
may be memory) and every Lloyd iteration reads it back a block at a time with plain reads (a
mapping's pages would count in the resident set): only the centroids, their sums and one block
are held. Each block is assigned to its nearest centroid by a FAISS flat inner-product index
over the centroids, as FAISS's own k-means does; the sums of each list's vectors, normalised,
are the next centroids. A list left empty takes half of a large one, as FAISS splits them.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import faiss
import numpy as np

BLOCK = 4_096  # sample rows read and assigned at a time (3 MB in float16, 6 MB as float32)
SEED = 1234
SPLIT_EPS = 1 / 1024  # how far apart the two halves of a split list start


class SpilledSample:
    """Float16 rows written once to a file that has no name (it is gone with the process),
    read back a block at a time; closed by `close()` (or as a context manager)."""

    def __init__(self, directory: Path, dim: int) -> None:
        self.dim = dim
        self.rows = 0
        try:
            self._file = tempfile.TemporaryFile(dir=directory, prefix=".vectors-sample-")  # noqa: SIM115
        except OSError:  # a reader of a folder it may not write to: the system's temporary one
            self._file = tempfile.TemporaryFile(prefix="riverbed-sample-")  # noqa: SIM115

    def append(self, rows: np.ndarray) -> None:
        self._file.write(np.ascontiguousarray(rows, dtype=np.float16).tobytes())
        self.rows += len(rows)

    def blocks(self, size: int = BLOCK) -> Iterator[np.ndarray]:
        """The rows in order, `size` at a time, as float32."""
        self._file.flush()
        fd = self._file.fileno()
        row_bytes = 2 * self.dim
        buffer = np.empty((size, self.dim), dtype=np.float16)
        for start in range(0, self.rows, size):
            wanted = min(size, self.rows - start)
            view = memoryview(buffer[:wanted]).cast("B")
            done = 0
            while done < len(view):
                done += os.preadv(fd, [view[done:]], start * row_bytes + done)
            yield buffer[:wanted].astype(np.float32)

    def rows_at(self, indexes: np.ndarray) -> np.ndarray:
        """The rows at these (sorted) positions, float32, in one pass."""
        taken = np.empty((len(indexes), self.dim), dtype=np.float32)
        filled = 0
        for number, block in enumerate(self.blocks()):
            start = number * BLOCK
            inside = indexes[(indexes >= start) & (indexes < start + len(block))]
            taken[filled : filled + len(inside)] = block[inside - start]
            filled += len(inside)
        return taken

    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> SpilledSample:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def spill(directory: Path, dim: int, rows: Iterable[np.ndarray]) -> SpilledSample:
    """A SpilledSample of the row blocks given, written as they pass."""
    sample = SpilledSample(directory, dim)
    try:
        for block in rows:
            sample.append(block)
    except BaseException:
        sample.close()
        raise
    return sample


def spherical_kmeans(
    sample: SpilledSample, lists: int, iterations: int, seed: int = SEED
) -> tuple[np.ndarray, float]:
    """`lists` unit centroids (float32) of the sample's rows (unit vectors), and the objective
    of the last assignment: the sum of each row's inner product with its nearest centroid.

    Starts, as FAISS does, from distinct rows drawn at random with a fixed seed."""
    lists = min(lists, sample.rows)
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(sample.rows, size=lists, replace=False))
    centroids = _normalised(sample.rows_at(chosen))
    objective = 0.0
    for _ in range(iterations):
        sums, counts, objective = _assigned_sums(sample, centroids)
        _split_empty(sums, counts, rng)
        centroids = _normalised(sums)
    return centroids, objective


def _assigned_sums(
    sample: SpilledSample, centroids: np.ndarray
) -> tuple[np.ndarray, np.ndarray, float]:
    """Per centroid, the sum and number of the rows nearest it; and the objective."""
    nearest = faiss.IndexFlatIP(centroids.shape[1])
    nearest.add(centroids)
    sums = np.zeros_like(centroids, dtype=np.float64)
    counts = np.zeros(len(centroids), dtype=np.int64)
    objective = 0.0
    for block in sample.blocks():
        scores, assigned = nearest.search(block, 1)
        objective += float(scores.sum())
        order = np.argsort(assigned[:, 0], kind="stable")
        lists, starts, sizes = np.unique(assigned[order, 0], return_index=True, return_counts=True)
        sums[lists] += np.add.reduceat(block[order], starts, axis=0)
        counts[lists] += sizes
    return sums, counts, objective


def _split_empty(sums: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> None:
    """Give each empty list half of a list drawn by size, as FAISS does: the two start a little
    apart, each with half the rows."""
    for empty in np.flatnonzero(counts == 0):
        weights = np.maximum(counts - 1, 0).astype(np.float64)
        if weights.sum() == 0:
            return
        donor = rng.choice(len(counts), p=weights / weights.sum())
        direction = sums[donor] / counts[donor]
        nudge = np.where(np.arange(len(direction)) % 2 == 0, SPLIT_EPS, -SPLIT_EPS)
        sums[empty] = direction * (1 + nudge)
        sums[donor] = direction * (1 - nudge)
        counts[empty] = counts[donor] // 2
        counts[donor] -= counts[empty]


def _normalised(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)
