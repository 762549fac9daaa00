"""The centroids of the inverted lists train on a sample that stays on disk: its rows come back
as they were written, the k-means reaches what FAISS's reaches on the same rows, and a list
left empty is given half of another instead of a meaningless centroid.

About the vector index, not the model: random clustered unit vectors.
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from index.store import kmeans
from index.store.kmeans import SpilledSample, spherical_kmeans, spill


def _clustered(count: int, dim: int, clusters: int, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((clusters, dim))
    vectors = centres[rng.integers(0, clusters, count)] + 0.7 * rng.standard_normal((count, dim))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def _spilled(tmp_path: Path, rows: np.ndarray) -> SpilledSample:
    return spill(tmp_path, rows.shape[1], (rows[i : i + 1000] for i in range(0, len(rows), 1000)))


def test_a_spilled_sample_reads_back_its_rows_in_float16_and_leaves_no_file(
    tmp_path: Path,
) -> None:
    rows = _clustered(kmeans.BLOCK * 2 + 17, 24, 5)
    with _spilled(tmp_path, rows) as sample:
        assert list(tmp_path.iterdir()) == []  # the file has no name: a crash leaves nothing
        back = np.concatenate(list(sample.blocks()))
        assert back.dtype == np.float32
        np.testing.assert_array_equal(back, rows.astype(np.float16).astype(np.float32))
        picked = np.array([0, kmeans.BLOCK - 1, kmeans.BLOCK, len(rows) - 1])
        np.testing.assert_array_equal(sample.rows_at(picked), back[picked])


def _faiss_objective(rows: np.ndarray, lists: int, iterations: int) -> float:
    parameters = faiss.ClusteringParameters()
    parameters.niter, parameters.spherical, parameters.seed = iterations, True, 1234
    clustering = faiss.Clustering(rows.shape[1], lists, parameters)
    clustering.train(rows, faiss.IndexFlatIP(rows.shape[1]))
    return clustering.iteration_stats.at(iterations - 1).obj


def test_the_streamed_kmeans_reaches_faiss_on_the_same_sample(tmp_path: Path) -> None:
    rows = _clustered(12_000, 48, 60)
    with _spilled(tmp_path, rows) as sample:
        centroids, objective = spherical_kmeans(sample, 60, 10)
    assert centroids.shape == (60, 48)
    np.testing.assert_allclose(np.linalg.norm(centroids, axis=1), 1, atol=1e-5)
    exact = rows.astype(np.float16).astype(np.float32)
    assert np.isfinite(objective)
    assert objective >= 0.995 * _faiss_objective(exact, 60, 10)
    # The objective reported is that of the centroids' rows: each row's best cosine, summed.
    best = (exact @ centroids.T).max(axis=1).sum()
    assert best >= objective * 0.999  # the last update only improves on it


def test_a_list_left_empty_takes_half_of_a_large_one(tmp_path: Path) -> None:
    """Ten lists over rows that are copies of four points: the k-means starts from rows drawn
    at random, so copies of one point start several lists, and all but one go empty."""
    points = _clustered(4, 16, 4, seed=9)
    rows = np.repeat(points, [40, 30, 20, 10], axis=0)
    with _spilled(tmp_path, rows) as sample:
        centroids, objective = spherical_kmeans(sample, 10, 5)
    assert np.isfinite(centroids).all()
    np.testing.assert_allclose(np.linalg.norm(centroids, axis=1), 1, atol=1e-5)
    nearest = (points @ centroids.T).max(axis=1)
    assert (nearest > 0.999).all()  # every point has a centroid of its own
    assert objective > 0.999 * len(rows)
