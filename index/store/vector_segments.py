"""The vector files on disk: immutable segments named by a manifest, appended and merged.

The catalog is the source of truth; these files are a derived view that a reader loads instead
of reading every vector back from SQLite. A save costs what changed since the last one:

- a **segment** (`vectors-seg-<seq>-<token>.npy`) is one NumPy array of records (passage id,
  inverted list, vector), written once, never changed. Its `seq` is the catalog generation it
  was saved at;
- **tombstones** (`vectors-dead-<token>.npy`): (passage id, before) pairs. A record of that id
  in a segment whose seq is below `before` is dead: the passage was removed, or stated again in
  a newer segment (a re-ingested document touches its passages; their vectors never change,
  since a passage's id is its text's);
- the **manifest** (`vectors-<generation>.json`) names the segments, the tombstones and the
  vectors' layout at one catalog generation. It is written last, through a temporary file
  renamed into place, so a crash at any moment leaves the previous manifest whole.

Saving appends one segment of the passages changed since the newest manifest (read from the
catalog's change log; when they are REWRITE_SHARE of the index or more, it writes every vector
anew instead of tombstones over the old ones) and merges the newest segments while the older of
the last two is no more than MERGE_RATIO times the newer: segment sizes stay roughly geometric,
so there are O(log n) of them and each vector is rewritten O(log n) times over its life, as in
an LSM tree. Files of the newest two manifests are kept (a reader may be opening the previous
one); older ones go.

Below ANN_FROM passages the layout is `flat`: float32 vectors, scanned exactly. From ANN_FROM on
it is `ivf`: 8-bit codes of the vectors (INVERTED_CODES), each in the inverted list of its
nearest centroid (k-means on a sample of the catalog, LISTS_PER_ROOT * sqrt(n) lists), searched
by probing the lists nearest a question (faiss_vectors.py). The centroids are trained again, and
every vector rewritten, when the index has grown RETRAIN_GROWTH times since they were; back
below ANN_FROM / 2 it is flat again. Each change of layout rewrites everything once; growth is
geometric, so that is O(1) per vector.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import tempfile
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import BinaryIO

import faiss
import numpy as np

from index.store.kmeans import SpilledSample, spherical_kmeans, spill

ANN_FROM = 50_000  # passages from which the inverted-list layout is used
LISTS_PER_ROOT = 4  # inverted lists: this many times the square root of the passages
TRAIN_PER_LIST = 40  # k-means sample: this many vectors per list
TRAIN_ITERATIONS = 10
RETRAIN_GROWTH = 4
MERGE_RATIO = 2
REWRITE_SHARE = 0.5  # a save that changes this share of the passages writes them all anew
PAGE = 65_536  # vectors read, converted or written at a time
READ_PAGE = 4_096  # records read from a segment file or the catalog at a time (3-6 MB)

UNKNOWN_TOP_ID = 1 << 62  # a manifest that does not say: any touched id may be held already
_MANIFEST = re.compile(r"^vectors-(\d{12})\.json$")
DEAD = np.dtype([("id", "<i8"), ("before", "<i8")])

Pages = Iterable[tuple[np.ndarray, np.ndarray]]  # (ids, float32 vectors)


# How the inverted lists hold vectors: 8-bit codes over [-1, 1] (FAISS's uniform scalar
# quantizer: every component of a unit vector lies there, so nothing is clipped and nothing is
# trained), written now; float16, as written before (a manifest that does not say). A search
# scores its candidates again on the catalog's vectors, so codes only choose the candidates.
INVERTED_CODES = "uint8"
CODE_TYPES = {"float32": "<f4", "float16": "<f2", "uint8": "u1"}


def record_type(dim: int, codes: str) -> np.dtype:
    return np.dtype([("id", "<i8"), ("list", "<i4"), ("vector", CODE_TYPES[codes], (dim,))])


def codes_of(layout: str) -> str:
    """The codes a new manifest of `layout` holds: float32 when flat."""
    return "float32" if layout == "flat" else INVERTED_CODES


@lru_cache(maxsize=8)
def uint8_quantizer(dim: int) -> faiss.ScalarQuantizer:
    """FAISS's 8-bit uniform scalar quantizer over [-1, 1], for `dim` components."""
    quantizer = faiss.ScalarQuantizer(dim, faiss.ScalarQuantizer.QT_8bit_uniform)
    quantizer.trained = faiss.Float32Vector()
    for value in (-1.0, 2.0):  # vmin, vdiff
        quantizer.trained.push_back(value)
    return quantizer


def encoded(vectors: np.ndarray, codes: str) -> np.ndarray:
    """float32 `vectors` as the records of manifests holding `codes` keep them."""
    if codes != "uint8":
        return vectors
    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    return uint8_quantizer(vectors.shape[1]).compute_codes(vectors)


@dataclass(frozen=True)
class Segment:
    name: str
    seq: int
    count: int


@dataclass(frozen=True)
class Manifest:
    generation: int
    dim: int
    layout: str  # "flat" or "ivf"
    codes: str = "float16"  # how its records hold vectors (CODE_TYPES; float16 if unsaid)
    segments: tuple[Segment, ...] = ()
    dead: str | None = None  # the tombstones' file
    centroids: str | None = None  # ivf: the centroids' file
    trained_at: int = 0  # ivf: passages when the centroids were trained
    top_id: int = 0  # the highest passage id any segment has held: ids above it are new
    checksums: dict[str, int] = field(default_factory=dict)  # file name -> CRC-32 (durability)
    path: Path | None = field(default=None, compare=False)

    @property
    def count(self) -> int:
        """Records in the segments, dead ones included."""
        return sum(segment.count for segment in self.segments)

    def files(self) -> set[str]:
        names = {segment.name for segment in self.segments}
        return names | {name for name in (self.dead, self.centroids) if name}

    def to_json(self) -> str:
        fields = {
            "generation": self.generation,
            "dim": self.dim,
            "layout": self.layout,
            "codes": self.codes,
            "segments": [[s.name, s.seq, s.count] for s in self.segments],
            "dead": self.dead,
            "centroids": self.centroids,
            "trained_at": self.trained_at,
            "top_id": self.top_id,
            "checksums": self.checksums,
        }
        return json.dumps(fields, indent=1)

    @classmethod
    def read(cls, path: Path) -> Manifest:
        fields = json.loads(path.read_text())
        segments = tuple(Segment(name, seq, count) for name, seq, count in fields.pop("segments"))
        fields.setdefault("top_id", UNKNOWN_TOP_ID)
        fields.setdefault("checksums", {})  # saved before files had checksums
        fields.setdefault("codes", "float32" if fields.get("layout") == "flat" else "float16")
        manifest = cls(segments=segments, path=path, **fields)
        missing = [name for name in manifest.files() if not (path.parent / name).is_file()]
        if missing or manifest.layout not in ("flat", "ivf") or manifest.codes not in CODE_TYPES:
            raise ValueError(f"{path.name} names missing files: {', '.join(missing)}")
        return manifest


def manifests(directory: Path) -> list[tuple[int, Path]]:
    """The manifests in `directory`, oldest first."""
    found = []
    for path in directory.glob("vectors-*.json"):
        match = _MANIFEST.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def readable_manifests(directory: Path, dim: int, at_most: int | None = None) -> Iterator[Manifest]:
    """Manifests that can be read and whose files are all there and sound, newest first."""
    for generation, path in reversed(manifests(directory)):
        if at_most is not None and generation > at_most:
            continue
        try:
            manifest = Manifest.read(path)
        except (OSError, ValueError, TypeError, KeyError):
            continue
        if manifest.dim == dim and not damaged_files(directory, manifest):
            yield manifest


def newest_manifest(directory: Path, dim: int, at_most: int | None = None) -> Manifest | None:
    return next(readable_manifests(directory, dim, at_most), None)


# -- reading -------------------------------------------------------------------------------------


def record_pages(directory: Path, name: str, page: int = READ_PAGE) -> Iterator[np.ndarray]:
    """A segment's records, `page` at a time. Read, not mapped: a page read is the process's
    own memory only until it is let go, where the pages of a mapping touched once would stay
    in its resident set for as long as the mapping lives."""
    with (directory / name).open("rb") as handle:
        version = np.lib.format.read_magic(handle)
        if version == (1, 0):
            shape, fortran_order, kind = np.lib.format.read_array_header_1_0(handle)
        else:
            shape, fortran_order, kind = np.lib.format.read_array_header_2_0(handle)
        if fortran_order or len(shape) != 1:
            raise ValueError(f"{name} is not a segment's list of records")
        left = shape[0]
        while left:
            records = np.fromfile(handle, dtype=kind, count=min(page, left))
            if not len(records):
                raise ValueError(f"{name} ends early")
            left -= len(records)
            yield records


def read_dead(directory: Path, manifest: Manifest) -> np.ndarray:
    if manifest.dead is None:
        return np.zeros(0, DEAD)
    return np.load(directory / manifest.dead)


def live_mask(records: np.ndarray, seq: int, dead: np.ndarray) -> np.ndarray:
    """Which of a segment's records are alive: no tombstone of their id from after `seq`."""
    killing = dead["id"][dead["before"] > seq]
    if not len(killing):
        return np.ones(len(records), dtype=bool)
    return ~np.isin(records["id"], killing)


def live_pages(directory: Path, manifest: Manifest) -> Iterator[np.ndarray]:
    """The live records of every segment, oldest segment first, a page at a time."""
    return live_records(directory, manifest.segments, read_dead(directory, manifest))


def live_records(
    directory: Path, segments: Iterable[Segment], dead: np.ndarray
) -> Iterator[np.ndarray]:
    """The records of `segments` that `dead` does not hide, in order, a page at a time."""
    for segment in segments:
        for page in record_pages(directory, segment.name):
            yield page[live_mask(page, segment.seq, dead)]


def read_centroids(directory: Path, manifest: Manifest) -> np.ndarray | None:
    if manifest.centroids is None:
        return None
    return np.load(directory / manifest.centroids)


# -- the inverted lists --------------------------------------------------------------------------


def list_count(passages: int) -> int:
    return max(1, round(LISTS_PER_ROOT * math.sqrt(passages)))


def train_centroids(sample: SpilledSample, lists: int) -> np.ndarray:
    """Spherical k-means centroids of `sample` (unit vectors), float32: read from its file a
    block at a time, so only the centroids are held while they train (kmeans.py)."""
    return spherical_kmeans(sample, lists, TRAIN_ITERATIONS)[0]


def nearest_lists(centroids: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    quantizer = faiss.IndexFlatIP(centroids.shape[1])
    quantizer.add(centroids)
    _, lists = quantizer.search(np.ascontiguousarray(vectors, dtype=np.float32), 1)
    return lists[:, 0].astype(np.int32)


def sample_rows(pages: Pages, count: int, wanted: int) -> Iterator[np.ndarray]:
    """About `wanted` of the `count` vectors given as pages, spread evenly (every stride-th),
    a page's share at a time."""
    stride = max(1, count // max(1, wanted))
    left, seen = -(-count // stride), 0
    for _, vectors in pages:
        rows = vectors[np.arange(-seen % stride, len(vectors), stride)][:left]
        left, seen = left - len(rows), seen + len(vectors)
        if len(rows):
            yield rows


def sample_of(directory: Path, dim: int, pages: Pages, count: int) -> SpilledSample:
    """The training sample for `count` passages (TRAIN_PER_LIST a list), drawn from `pages`
    and spilled, in float16 as the inverted lists hold vectors, to a file in `directory`:
    nothing but a page is held while it is drawn (float16 rounds a cosine by < 1e-3)."""
    return spill(directory, dim, sample_rows(pages, count, TRAIN_PER_LIST * list_count(count)))


def centroids_for(
    directory: Path, dim: int, all_vectors: Callable[[], Pages], count: int
) -> np.ndarray:
    """Centroids for `count` passages, trained on a sample read from `all_vectors()`."""
    with sample_of(directory, dim, all_vectors(), count) as sample:
        return train_centroids(sample, list_count(count))


# -- writing -------------------------------------------------------------------------------------


def _temporary(directory: Path, suffix: str) -> Path:
    handle, name = tempfile.mkstemp(dir=directory, prefix=".vectors-", suffix=suffix + ".tmp")
    os.close(handle)
    return Path(name)


def _write_array(directory: Path, prefix: str, array: np.ndarray) -> str:
    name = f"{prefix}-{secrets.token_hex(6)}.npy"
    temporary = _temporary(directory, ".npy")
    try:
        with temporary.open("wb") as handle:
            np.save(handle, array)
        durable_replace(temporary, directory / name)
    finally:
        temporary.unlink(missing_ok=True)
    return name


def write_segment(
    directory: Path, seq: int, dim: int, codes: str, pages: Iterable[np.ndarray]
) -> Segment:
    """A segment of the records in `pages`, written page by page through a temporary file:
    nothing but a page is held, and the file is written, not mapped (the dirty pages of a
    mapping count in the process's resident set). The header is written again at the end with
    the number of records, in place: NumPy leaves room in it for the length to grow."""
    kind = record_type(dim, codes)
    name = f"vectors-seg-{seq:012d}-{secrets.token_hex(6)}.npy"
    temporary = _temporary(directory, ".npy")
    try:
        with temporary.open("wb") as handle:
            _write_header(handle, kind, 0)
            start, written = handle.tell(), 0
            for page in pages:
                handle.write(np.ascontiguousarray(page, kind).tobytes())
                written += len(page)
            handle.seek(0)
            _write_header(handle, kind, written)
            if handle.tell() != start:
                raise RuntimeError(f"the header of {written} records is longer than room was left")
        durable_replace(temporary, directory / name)
    finally:
        temporary.unlink(missing_ok=True)
    return Segment(name, seq, written)


def _write_header(handle: BinaryIO, kind: np.dtype, count: int) -> None:
    header = {"descr": np.lib.format.dtype_to_descr(kind), "fortran_order": False}
    np.lib.format.write_array_header_1_0(handle, {**header, "shape": (count,)})


def records_of(
    ids: np.ndarray, vectors: np.ndarray, codes: str, centroids: np.ndarray | None
) -> np.ndarray:
    """Records (id, list, vector) of float32 `vectors`, holding them as `codes`."""
    records = np.zeros(len(ids), record_type(vectors.shape[1], codes))
    records["id"] = ids
    records["vector"] = encoded(vectors, codes)
    records["list"] = nearest_lists(centroids, vectors) if centroids is not None else -1
    return records


def publish(directory: Path, manifest: Manifest) -> Path:
    """Write `manifest` through a temporary file renamed into place, then drop what neither it
    nor the previous manifest names, and temporaries left by a crash."""
    target = directory / f"vectors-{manifest.generation:012d}.json"
    manifest = with_checksums(directory, manifest)
    temporary = _temporary(directory, ".json")
    try:
        temporary.write_text(manifest.to_json())
        durable_replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    kept = [replace(manifest, path=target)]
    for older in readable_manifests(directory, manifest.dim, manifest.generation - 1):
        kept.append(older)
        break
    keep = (
        {target.name}
        | {m.path.name for m in kept if m.path}
        | set().union(*(m.files() for m in kept))
    )
    for path in directory.glob("vectors-*"):
        if path.name not in keep:
            path.unlink(missing_ok=True)
    for stale in directory.glob(".vectors-*.tmp"):
        stale.unlink(missing_ok=True)
    return target


# -- durability: files on the disk before their names, checksums to trust them by --------------


def durable_replace(temporary: Path, target: Path) -> None:
    """Rename a written file into place so that a power loss leaves the old file or the whole
    new one: its data reaches the disk before the rename, and the rename before returning."""
    with temporary.open("rb") as handle:
        os.fsync(handle.fileno())
    os.replace(temporary, target)
    folder = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def file_checksum(path: Path) -> int:
    """CRC-32 of a file's bytes, read a megabyte at a time."""
    checksum = 0
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            checksum = zlib.crc32(block, checksum)
    return checksum


def with_checksums(directory: Path, manifest: Manifest) -> Manifest:
    """`manifest` with a checksum for each file it names (those it carried over are kept)."""
    known = manifest.checksums
    checksums = {
        name: known[name] if name in known else file_checksum(directory / name)
        for name in sorted(manifest.files())
    }
    return replace(manifest, checksums=checksums)


def damaged_files(directory: Path, manifest: Manifest, *, fresh: bool = False) -> list[str]:
    """The files of `manifest` whose bytes do not match their checksums. A file already found
    sound in this process is not read again while its size and time are the same (files are
    never changed in place), unless `fresh`."""
    damaged = []
    for name in sorted(manifest.files()):
        checksum = manifest.checksums.get(name)
        if checksum is None:  # saved before checksums: trusted no more than a damaged file
            damaged.append(f"{name} (no checksum)")
            continue
        path = directory / name
        try:
            info = path.stat()
            key = (str(path), info.st_size, info.st_mtime_ns, info.st_ino)
            if fresh or key not in _SOUND:
                if file_checksum(path) != checksum:
                    damaged.append(name)
                    continue
                _SOUND.add(key)
        except OSError:
            damaged.append(name)
    return damaged


_SOUND: set[tuple[str, int, int, int]] = set()


# -- saving: what a writer does -------------------------------------------------------------------


def wanted_layout(count: int, manifest: Manifest | None) -> tuple[str, bool]:
    """The layout for `count` passages, and whether the centroids must be trained (again)."""
    layout = manifest.layout if manifest else "flat"
    if layout == "flat" and count >= ANN_FROM:
        return "ivf", True
    if layout == "ivf" and count < ANN_FROM // 2:
        return "flat", False
    if layout == "ivf" and manifest is not None:
        return "ivf", count >= RETRAIN_GROWTH * manifest.trained_at
    return layout, False


def save_segments(
    directory: Path,
    dim: int,
    generation: int,
    count: int,
    changes_since: Callable[[int], list[int] | None],
    vectors_of: Callable[[list[int]], Iterable[tuple[int, np.ndarray]]],
    all_vectors: Callable[[], Pages],
    wait: bool = True,
    rewrite: bool = False,
) -> Path:
    """Bring the files to the catalog's `generation` (the caller holds a read snapshot in which
    there are `count` passages): a segment of what changed, or everything anew.

    When the centroids are due to be trained, they are trained on a thread of their own; until
    they are ready, saves keep the layout the files have. With `wait` this save waits for them
    (the last save of a run does), else a later save takes them up. With `rewrite`, every
    vector is written anew (`riverbed compact`)."""
    manifest = newest_manifest(directory, dim, generation)
    layout, train = wanted_layout(count, manifest)
    trained = _trained_centroids(directory, dim, count, all_vectors, wait) if train else None
    if train and trained is None:
        layout = manifest.layout if manifest is not None else "flat"
    if not train:
        _drop_training(directory)  # one under way is stale: the index shrank meanwhile
    if (
        manifest is not None
        and manifest.generation == generation
        and trained is None
        and not rewrite
    ):
        return publish(directory, manifest)
    touched = changes_since(manifest.generation) if manifest is not None else None
    if (
        rewrite
        or manifest is None
        or touched is None
        or len(touched) >= REWRITE_SHARE * count  # cheaper whole than as tombstones over it
        or trained is not None
        or layout != manifest.layout
        or manifest.codes != codes_of(layout)  # written before today's codes: all anew, once
    ):
        return publish(
            directory, _rewrite(directory, dim, generation, layout, manifest, trained, all_vectors)
        )
    centroids = read_centroids(directory, manifest)
    segments = list(manifest.segments)
    dead = read_dead(directory, manifest)
    top = _TopId(manifest.top_id)
    if touched:
        changed_pages = top.records(_vector_pages(touched, vectors_of), manifest.codes, centroids)
        fresh = write_segment(directory, generation, dim, manifest.codes, changed_pages)
        if fresh.count:
            segments.append(fresh)
        else:
            (directory / fresh.name).unlink()
    top_id = top.value
    # Only ids an older segment may hold need a tombstone: new passages' ids are above top_id.
    stated_before = np.asarray([pid for pid in touched if pid <= manifest.top_id], dtype=np.int64)
    changed = len(stated_before) > 0
    if changed:
        dead = _with_tombstones(dead, stated_before, generation)
    segments, kept = _merged(directory, dim, manifest.codes, segments, dead)
    dead_name = manifest.dead
    if changed or len(kept) != len(dead):
        dead_name = _write_array(directory, "vectors-dead", kept) if len(kept) else None
    saved = replace(
        manifest, generation=generation, segments=tuple(segments), dead=dead_name, top_id=top_id
    )
    return publish(directory, saved)


def _rewrite(
    directory: Path,
    dim: int,
    generation: int,
    layout: str,
    manifest: Manifest | None,
    trained: tuple[np.ndarray, int] | None,
    all_vectors: Callable[[], Pages],
) -> Manifest:
    """Every vector of the catalog in one segment, page by page; in inverted lists, those of
    the centroids just `trained` (and the passages they were trained at), else the files'."""
    centroids, centroids_name, trained_at = None, None, 0
    if layout == "ivf":
        if trained is not None:
            centroids, trained_at = trained
            centroids_name = _write_array(directory, "vectors-centroids", centroids)
        else:
            centroids = read_centroids(directory, manifest)
            centroids_name, trained_at = manifest.centroids, manifest.trained_at
    top, codes = _TopId(), codes_of(layout)
    pages = top.records(all_vectors(), codes, centroids)
    segment = write_segment(directory, generation, dim, codes, pages)
    return Manifest(
        generation,
        dim,
        layout,
        codes,
        (segment,),
        None,
        centroids_name,
        trained_at,
        top_id=top.value,
    )


@dataclass
class _Training:
    passages: int  # the catalog's when the sample was drawn
    centroids: Future[np.ndarray]


_TRAININGS: dict[Path, _Training] = {}  # folder -> centroids being trained for its files
_TRAININGS_LOCK = threading.Lock()


def _forget_trainings() -> None:
    """In a forked child, which has none of its parent's threads: their centroids would never
    come, and the lock may have been held by another thread at the fork."""
    global _TRAININGS_LOCK
    _TRAININGS.clear()
    _TRAININGS_LOCK = threading.Lock()


os.register_at_fork(after_in_child=_forget_trainings)


def _trained_centroids(
    directory: Path, dim: int, count: int, all_vectors: Callable[[], Pages], wait: bool
) -> tuple[np.ndarray, int] | None:
    """Centroids for the files of `directory` and the passages they were trained at, once
    trained on a thread of their own (started here, on a sample drawn now, if none is under
    way); None while they are not ready and not waited for. K-means is most of the time of a
    save that trains (39 of 48 s at 100k passages), and the writer goes on meanwhile."""
    key = directory.resolve()
    with _TRAININGS_LOCK:
        training = _TRAININGS.get(key)
        if training is None:
            sample = sample_of(directory, dim, all_vectors(), count)
            training = _TRAININGS[key] = _Training(count, _in_background(sample, list_count(count)))
        if not wait and not training.centroids.done():
            return None
        del _TRAININGS[key]
    return training.centroids.result(), training.passages


def _drop_training(directory: Path) -> None:
    with _TRAININGS_LOCK:
        _TRAININGS.pop(directory.resolve(), None)


def _in_background(sample: SpilledSample, lists: int) -> Future[np.ndarray]:
    """train_centroids on a daemon thread (FAISS and NumPy let the GIL go while they work): a
    process that ends meanwhile does not wait for it. The sample's file goes when it is done."""
    centroids: Future[np.ndarray] = Future()

    def train() -> None:
        try:
            centroids.set_result(train_centroids(sample, lists))
        except BaseException as error:  # handed to the save that takes the centroids up
            centroids.set_exception(error)
        finally:
            sample.close()

    threading.Thread(target=train, name="riverbed-train", daemon=True).start()
    return centroids


class _TopId:
    """The highest passage id among the pages made into records through it."""

    def __init__(self, value: int = 0) -> None:
        self.value = value

    def records(
        self, pages: Pages, codes: str, centroids: np.ndarray | None
    ) -> Iterator[np.ndarray]:
        for ids, vectors in pages:
            self.value = max(self.value, int(ids.max(initial=0)))
            yield records_of(ids, vectors, codes, centroids)


def _vector_pages(
    ids: list[int], vectors_of: Callable[[list[int]], Iterable[tuple[int, np.ndarray]]]
) -> Pages:
    """(ids, vectors) of the passages among `ids` that exist, a page of ids at a time."""
    for start in range(0, len(ids), READ_PAGE):
        found = list(vectors_of(ids[start : start + READ_PAGE]))
        if found:
            yield (
                np.asarray([pid for pid, _ in found], dtype=np.int64),
                np.stack([vector for _, vector in found]),
            )


def _with_tombstones(dead: np.ndarray, ids: np.ndarray, before: int) -> np.ndarray:
    fresh = np.zeros(len(ids), DEAD)
    fresh["id"], fresh["before"] = ids, before
    kept = dead[~np.isin(dead["id"], ids)]
    return np.concatenate([kept, fresh])


def _merged(
    directory: Path, dim: int, codes: str, segments: list[Segment], dead: np.ndarray
) -> tuple[list[Segment], np.ndarray]:
    """Merge the newest two segments while the older is at most MERGE_RATIO times the newer;
    drop tombstones that no segment is old enough to hold any more."""
    while len(segments) >= 2 and segments[-2].count <= MERGE_RATIO * segments[-1].count:
        live = live_records(directory, segments[-2:], dead)
        segments[-2:] = [write_segment(directory, segments[-1].seq, dim, codes, live)]
    oldest = min((segment.seq for segment in segments), default=None)
    if oldest is None:
        return segments, dead[:0]
    return segments, dead[dead["before"] > oldest]
