"""The save at which a writer's vector files switch to inverted lists, and what the centroids cost.

`python -m bench.centroid_training [PASSAGES] [--no-stall] [--seeds 1,2,3]` (default 100,000)
reads the catalog that `python -m bench million` built in bench/.cache/million-<PASSAGES> (never
written: the files of each case go to a temporary folder) and reports, in one run:

- the seconds of that save when it waits for k-means (a run's last save), and when it trains on a
  thread of its own (the saves during a run): the save that finds the centroids due, the
  training meanwhile, and the later save that lays the files out by them (not with --no-stall);
- the k-means the writer runs (index/store/kmeans.py: its sample spilled to a file and read back
  a block at a time) against FAISS's (its sample in memory, float16 decoded a block at a time,
  as the writer trained before), on the same sample, from each seed: the objective reached
  (as the mean cosine of a row to its centroid), the seconds, and recall@10 of the store's dense
  search (b_million's 200 questions, against an exact float32 scan) with each one's centroids.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from bench import synthetic
from bench.b_million import RECALL_QUESTIONS, exact_top
from bench.corpora import CACHE
from index.store import vector_segments
from index.store.faiss_vectors import FaissVectors, _filled, _inverted
from index.store.kmeans import SEED, spherical_kmeans
from index.store.sqlite_faiss import SqliteFaissStore
from index.store.vector_segments import codes_of
from riverbed.testing.encoder import _bag


@contextmanager
def folder() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="riverbed-centroids-"))
    try:
        yield path
    finally:
        shutil.rmtree(path)


def timed_save(store: SqliteFaissStore, directory: Path, wait: bool) -> float:
    count = store.db.execute("SELECT COUNT(*) FROM passages").fetchone()[0]
    started = time.perf_counter()
    with store._snapshot():
        vector_segments.save_segments(
            directory,
            store.dim() or 0,
            store.generation(),
            count,
            store._changes_since,
            store._vectors_of,
            store._all_vectors,
            wait,
        )
    return time.perf_counter() - started


def flat_files(store: SqliteFaissStore, directory: Path) -> None:
    """The files as they are just before the switch: every vector in the flat layout."""
    threshold = vector_segments.ANN_FROM
    vector_segments.ANN_FROM = 1 << 62
    try:
        timed_save(store, directory, wait=True)
    finally:
        vector_segments.ANN_FROM = threshold


def layout(store: SqliteFaissStore, directory: Path) -> str:
    manifest = vector_segments.newest_manifest(directory, store.dim() or 0)
    assert manifest is not None
    return manifest.layout


def stall(store: SqliteFaissStore) -> dict[str, float]:
    figures = {}
    with folder() as directory:
        flat_files(store, directory)
        figures["switch_save_waiting_s"] = timed_save(store, directory, wait=True)
        assert layout(store, directory) == "ivf"
    with folder() as directory:
        flat_files(store, directory)
        figures["switch_save_background_s"] = timed_save(store, directory, wait=False)
        assert layout(store, directory) == "flat"
        training = vector_segments._TRAININGS[directory.resolve()]
        started = time.perf_counter()
        training.centroids.exception()  # until it is done
        figures["training_meanwhile_s"] = time.perf_counter() - started
        figures["save_taking_them_up_s"] = timed_save(store, directory, wait=False)
        assert layout(store, directory) == "ivf"
    return {name: round(value, 1) for name, value in figures.items()}


def recall(store: SqliteFaissStore, centroids: np.ndarray, exact: list[set[int]]) -> float:
    index, _ = _filled(_inverted(centroids, codes_of("ivf")), store._all_vectors())
    with folder() as directory:
        view = FaissVectors(directory, store.dim() or 0)
        view._use(index, "ivf", 0)
        found = [{pid for pid, _ in view.search(q, 10, None, store._vectors_of)} for q in asked()]
    hits = sum(len(a & b) for a, b in zip(found, exact, strict=True))
    return round(hits / (10 * len(exact)), 4)


def asked() -> np.ndarray:
    vectors = np.stack([_bag(question) for question in synthetic.questions(RECALL_QUESTIONS)])
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def faiss_centroids(sample: np.ndarray, lists: int, seed: int) -> tuple[np.ndarray, float]:
    """FAISS's spherical k-means on the float16 rows in memory, and its last objective."""
    import faiss

    dim = sample.shape[1]
    parameters = faiss.ClusteringParameters()
    parameters.niter = vector_segments.TRAIN_ITERATIONS
    parameters.spherical = True
    parameters.seed = seed
    parameters.min_points_per_centroid = 1
    parameters.decode_block_size = vector_segments.READ_PAGE
    clustering = faiss.Clustering(dim, lists, parameters)
    codes = np.ascontiguousarray(sample, dtype=np.float16).view(np.uint8)
    codec = faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_fp16)
    clustering.train_encoded(codes, codec, faiss.IndexFlatIP(dim))
    objective = clustering.iteration_stats.at(clustering.iteration_stats.size() - 1).obj
    return faiss.vector_to_array(clustering.centroids).reshape(lists, dim), float(objective)


def compared(
    store: SqliteFaissStore, count: int, exact: list[set[int]], seeds: list[int]
) -> dict[str, float]:
    """The writer's k-means against FAISS's on one sample, started from each seed."""
    lists = vector_segments.list_count(count)
    iterations = vector_segments.TRAIN_ITERATIONS
    figures: dict[str, float] = {}
    with folder() as directory:
        dim = store.dim() or 0
        with vector_segments.sample_of(directory, dim, store._all_vectors(), count) as sample:
            rows = np.concatenate(list(sample.blocks())).astype(np.float16)
            figures["sample_rows"] = sample.rows
            figures["sample_mb"] = round(rows.nbytes / 2**20, 1)
            for seed in seeds:
                started = time.perf_counter()
                streamed, objective = spherical_kmeans(sample, lists, iterations, seed)
                figures[f"streaming_seconds_seed_{seed}"] = round(time.perf_counter() - started, 1)
                figures[f"streaming_mean_cosine_seed_{seed}"] = round(objective / sample.rows, 5)
                figures[f"streaming_recall_at_10_seed_{seed}"] = recall(store, streamed, exact)
                started = time.perf_counter()
                in_memory, objective = faiss_centroids(rows, lists, seed)
                figures[f"faiss_seconds_seed_{seed}"] = round(time.perf_counter() - started, 1)
                figures[f"faiss_mean_cosine_seed_{seed}"] = round(objective / len(rows), 5)
                figures[f"faiss_recall_at_10_seed_{seed}"] = recall(store, in_memory, exact)
    return figures


def seeds() -> list[int]:
    """`--seeds 1,2,3`: the seeds each k-means starts from (kmeans.SEED, as the writer's)."""
    if "--seeds" not in sys.argv:
        return [SEED]
    return [int(seed) for seed in sys.argv[sys.argv.index("--seeds") + 1].split(",")]


def main(passages: int) -> dict[str, float | int]:
    data_dir = CACHE / f"million-{passages}" / "data"
    if not (data_dir / "catalog.sqlite").is_file():
        raise SystemExit(f"no catalog in {data_dir}: run `python -m bench million` first")
    store = SqliteFaissStore(data_dir, create=False)
    try:
        count = store.db.execute("SELECT COUNT(*) FROM passages").fetchone()[0]
        figures: dict[str, float | int] = {"passages": count}
        if "--no-stall" not in sys.argv:
            figures |= stall(store)
        with store._snapshot():
            figures |= compared(store, count, exact_top(store, asked(), 10), seeds())
    finally:
        store.close()
    return figures


if __name__ == "__main__":
    print(
        json.dumps(
            main(int(sys.argv[1]) if sys.argv[1:2] and sys.argv[1].isdigit() else 100_000), indent=1
        )
    )
