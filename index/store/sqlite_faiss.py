"""The embedded store: a SQLite catalog (documents, chunks, passages, FTS5, runs) + FAISS vectors.

One writer, many readers. Every write is one SQLite transaction that covers documents, chunks,
passage vectors, the FTS5 index and the change log together; the FAISS file is a derived view
(see faiss_vectors.py), so a crash at any moment leaves a consistent catalog and a vector file
that is caught up on the next open. Safe to read from many threads; writes come from one.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock, Timeout

from index.lexical import fts5_match
from index.models import Filters
from index.records import DocumentRecord, DocumentState, Span, StoredPassage, WriteBatch
from index.store import catalog_sql, sentence_codes
from index.store.base import MissingVectors, ModelMismatch, StoreBase, StoreError, WriterBusy
from index.store.bm25_postings import Bm25Postings
from index.store.disk import catalog_failure, damaged, disk_failure, translated
from index.store.faiss_vectors import FaissVectors
from index.store.sqlite_check import catalog_problems, fts_problems, vector_problems
from index.store.vector_segments import manifests, save_segments

CATALOG = "catalog.sqlite"
MMAP_BYTES = 1 << 30
# A new catalog's page size. A passage row (text, vectors, sentence codes: 3-6 KB) does not fit
# a 4 KB page well: rows spill to overflow pages and leave a quarter of the leaf pages unused. In
# 64 KB pages a dozen rows share a page (docs/scale.md: page sizes measured).
PAGE_SIZE = 65_536
# SQLite's page cache a connection of a warmed store (one that serves searches; a writer keeps
# SQLite's default, so an ingest's memory does not grow with the catalog): the default is 2 MB
# whatever the page size, 31 pages of 64 KB, too few to keep the B-trees' upper pages while a
# search reads a hundred rows (hybrid p50 at a million passages: 25 ms with 2 MB, 20 ms with
# 64 MB, docs/scale.md).
PAGE_CACHE_BYTES = 64 << 20
PASSAGE_VECTOR = np.float16  # how passage vectors are written (float32 before: both are read)
COMPACT_PAGE = 4096  # passages rewritten a transaction at a time by compact()
CHANGE_LOG_KEEP = 1000  # generations of change log kept behind the saved vector file
BM25_IN_BACKGROUND_FROM = 50_000  # passages from which warm() reads BM25's postings apart

# Migration n brings the catalog from schema version n-1 to n; applied in order, all in the
# transaction that records the version. Never edit one that has landed: append.
MIGRATIONS: list[str] = [
    """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents(
    rowid INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT NOT NULL UNIQUE,
    source TEXT NOT NULL,
    title TEXT NOT NULL DEFAULT '',
    url TEXT,
    published_at TEXT,
    metadata TEXT NOT NULL DEFAULT '{}',
    text TEXT NOT NULL,
    raw_hash TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    signature BLOB,
    duplicate_of TEXT,
    duplicate_kind TEXT,
    n_chunks INTEGER NOT NULL DEFAULT 0,
    n_tokens INTEGER NOT NULL DEFAULT 0,
    version INTEGER NOT NULL DEFAULT 1,
    ingested_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS documents_content_hash ON documents(content_hash);
CREATE INDEX IF NOT EXISTS documents_duplicate_of ON documents(duplicate_of);
CREATE INDEX IF NOT EXISTS documents_source ON documents(source);
-- For stats(): counted and summed from these small indexes, not by reading every row.
CREATE INDEX IF NOT EXISTS documents_duplicate_kind ON documents(duplicate_kind);
CREATE INDEX IF NOT EXISTS documents_updated_at ON documents(updated_at);
CREATE TABLE IF NOT EXISTS passages(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    text_hash TEXT NOT NULL UNIQUE,
    text TEXT NOT NULL,
    n_tokens INTEGER NOT NULL,
    vector BLOB NOT NULL,
    sentences TEXT NOT NULL,
    sentence_vectors BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS passages_tokens ON passages(n_tokens);
-- A chunk is one occurrence of a passage in a document: its place there, and its offsets
-- into the document's cleaned text.
CREATE TABLE IF NOT EXISTS chunks(
    doc_rowid INTEGER NOT NULL REFERENCES documents(rowid) ON DELETE CASCADE,
    ordinal INTEGER NOT NULL,  -- its place among the document's chunks
    start INTEGER NOT NULL,  -- character offsets into documents.text
    "end" INTEGER NOT NULL,
    passage_id INTEGER NOT NULL REFERENCES passages(id),
    PRIMARY KEY(doc_rowid, ordinal)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS chunks_passage ON chunks(passage_id);
CREATE VIRTUAL TABLE IF NOT EXISTS passages_fts USING fts5(
    text, content='passages', content_rowid='id', tokenize='porter unicode61 remove_diacritics 2'
);
CREATE TABLE IF NOT EXISTS lsh(
    key INTEGER NOT NULL,
    doc_rowid INTEGER NOT NULL REFERENCES documents(rowid) ON DELETE CASCADE
);
CREATE INDEX IF NOT EXISTS lsh_key ON lsh(key);
CREATE INDEX IF NOT EXISTS lsh_doc ON lsh(doc_rowid);
CREATE TABLE IF NOT EXISTS changes(generation INTEGER NOT NULL, passage_id INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS changes_generation ON changes(generation);
CREATE TABLE IF NOT EXISTS runs(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    status TEXT NOT NULL,
    report TEXT NOT NULL DEFAULT '{}',
    error TEXT NOT NULL DEFAULT ''
);
INSERT OR IGNORE INTO meta VALUES ('generation', '0'), ('changes_floor', '0');
    """,
    # 2: where each page starts in a document's cleaned text (a JSON list), for paged formats.
    """
ALTER TABLE documents ADD COLUMN page_starts TEXT;
    """,
    # 3: the format of each passage's sentence vectors (sentence_codes.py): the passages written
    # so far hold float16 (16 bits), new ones 8-bit codes.
    """
ALTER TABLE passages ADD COLUMN sentence_bits INTEGER NOT NULL DEFAULT 16;
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _blob(array: np.ndarray, dtype: type) -> bytes:
    return np.ascontiguousarray(array, dtype=dtype).tobytes()


def _statements(script: str) -> Iterator[str]:
    """The SQL statements of a script, one at a time (executescript would commit first)."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            yield statement.strip()
            statement = ""
    if statement.strip():
        raise ValueError(f"incomplete SQL statement: {statement.strip()[:60]}")


def passage_vector(blob: bytes, dim: int) -> np.ndarray:
    """A passage's vector as the catalog holds it: float16, as written now (a cosine moves by
    less than 1e-4: docs/scale.md), or float32, as written before."""
    if len(blob) == 2 * dim:
        return sentence_codes.float16_to_float32(blob)
    return np.frombuffer(blob, dtype=np.float32)


def _decode_passages(
    rows: list[Sequence[Any]], dim: int
) -> list[tuple[list[Span], np.ndarray, np.ndarray]]:
    """Every passage's sentence spans and vectors decoded in one go, then handed out by row."""
    if not rows:
        return []
    spans = json.loads("[" + ",".join(row[2] for row in rows) + "]")  # one parse for all
    sentence_vectors = sentence_codes.decode([(row[3], row[5]) for row in rows], dim)
    return [
        ([tuple(span) for span in sentences], vectors, passage_vector(row[4], dim))
        for row, sentences, vectors in zip(rows, spans, sentence_vectors, strict=True)
    ]


DIALECT = catalog_sql.SQLITE


def _failure(store: SqliteFaissStore, err: Exception) -> StoreError | None:
    """What SQLite or the OS raised about the store's files, as one line (disk.py)."""
    if isinstance(err, sqlite3.Error):
        return catalog_failure(err, store.path)
    if isinstance(err, OSError):
        return disk_failure(err, store.data_dir)
    return None


@translated(_failure)
class SqliteFaissStore(StoreBase):
    """The embedded default store in one data dir."""

    def __init__(self, data_dir: Path, create: bool = True) -> None:
        self.data_dir = data_dir
        self.path = data_dir / CATALOG
        if not self.path.exists() and not create:
            raise StoreError(f"no index at {data_dir} yet: run `riverbed ingest PATH` first")
        if self.path.exists() and self.path.stat().st_size == 0 and manifests(data_dir):
            raise damaged(self.path, "empty, beside saved vectors")
        data_dir.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []  # every thread's, for close()
        self._connections_lock = threading.Lock()
        self._writer_lock: FileLock | None = None
        self._vectors: FaissVectors | None = None
        self._vectors_lock = threading.Lock()
        self._dim: int | None = None  # the vectors' width, once asked (see _vector_dim)
        # Passages per query term, valid for one generation of the catalog (see
        # term_document_counts): {"generation": g, "total": n, "terms": {term: count}}.
        self._term_counts: dict[str, Any] = {"generation": None}
        self._term_counts_lock = threading.Lock()
        self._bm25: Bm25Postings | None = None  # BM25 from memory, once warmed (see warm)
        self._mmap_bytes = 0  # read through mmap, once warmed
        if self._schema_version() != SCHEMA_VERSION:
            self._migrate()

    # -- connections -------------------------------------------------------------------------

    @property
    def db(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            # One for each thread (a query's lexical side runs on a thread of its own), not
            # bound to it only so that close() can close them all.
            connection = sqlite3.connect(
                self.path, timeout=30, isolation_level=None, check_same_thread=False
            )
            with self._connections_lock:
                self._connections.append(connection)
            if connection.execute("PRAGMA page_count").fetchone()[0] == 0:
                connection.execute(f"PRAGMA page_size={PAGE_SIZE}")  # new: before WAL fixes it
            connection.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit is on the disk when it returns (WAL synced at each commit), so a
            # power loss never takes back a generation the vector files were saved at.
            connection.execute("PRAGMA synchronous=FULL")
            connection.execute("PRAGMA foreign_keys=ON")
            connection.execute("PRAGMA busy_timeout=30000")
            self._local.connection = connection
            self._local.mmap_bytes = 0
        if self._local.mmap_bytes != self._mmap_bytes:  # warmed: tuned for searching
            connection.execute(f"PRAGMA mmap_size={self._mmap_bytes}")
            connection.execute(f"PRAGMA cache_size=-{PAGE_CACHE_BYTES // 1024}")
            self._local.mmap_bytes = self._mmap_bytes
        return connection

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            if db.in_transaction:  # SQLite has rolled back itself after some errors (disk full)
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
            raise
        try:
            db.execute("COMMIT")
        except sqlite3.Error:
            if db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
            raise

    @contextmanager
    def _snapshot(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: every query inside sees the same committed state."""
        db = self.db
        db.execute("BEGIN")
        try:
            yield db
        finally:
            db.execute("COMMIT")

    def _schema_version(self) -> int:
        exists = self.db.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone()
        return int(self._meta("schema_version") or 0) if exists else 0

    def _migrate(self) -> None:
        """Apply the migrations this catalog lacks, one process at a time."""
        with self._transaction() as db:
            version = self._schema_version()  # again, now that no other writer can migrate
            if version > SCHEMA_VERSION:
                raise StoreError(
                    f"the index at {self.data_dir} has schema version {version}, newer than this"
                    f" riverbed's {SCHEMA_VERSION}: upgrade riverbed"
                )
            for number in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _statements(MIGRATIONS[number - 1]):
                    db.execute(statement)
                db.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(number),)
                )

    def _meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def close(self) -> None:
        """Close every thread's connection, and release the writer lock if held."""
        with self._connections_lock:
            connections, self._connections = self._connections, []
            self._local = threading.local()
        for connection in connections:
            connection.close()
        self.release_writer()

    # -- the writer lock -----------------------------------------------------------------------

    def acquire_writer(self, wait: bool = False) -> None:
        """Become the one writer of this data dir, or fail with a clear message.

        Runs are only started by the writer, so a run still marked running now belongs to a
        process that died (killed, out of memory): it is marked crashed.
        """
        lock = FileLock(self.data_dir / "writer.lock")
        try:
            lock.acquire(timeout=-1 if wait else 0)
        except Timeout as err:
            raise WriterBusy(f"another riverbed is writing to {self.data_dir}") from err
        self._writer_lock = lock
        with self._transaction() as db:
            db.execute(
                "UPDATE runs SET status = 'crashed', error = ? WHERE status = 'running'",
                (catalog_sql.CRASHED,),
            )

    def release_writer(self) -> None:
        if self._writer_lock is not None:
            self._writer_lock.release()
            self._writer_lock = None

    # -- the model ---------------------------------------------------------------------------

    def bind_model(self, model_id: str, dim: int) -> None:
        recorded = self.model_id()
        if recorded is None:
            with self._transaction() as db:
                db.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('model_id', ?), ('dim', ?)",
                    (model_id, str(dim)),
                )
        elif recorded != model_id:
            raise ModelMismatch(
                f"this index was built with {recorded}, not {model_id}: use that model "
                "(RIVERBED_MODEL) or another --data-dir"
            )

    # -- questions the pipeline asks ---------------------------------------------------------

    def document_states(self, doc_ids: Sequence[str]) -> dict[str, DocumentState]:
        states = {}
        for part in catalog_sql.parts(list(doc_ids)):
            marks = ",".join("?" * len(part))
            for doc_id, raw, content in self.db.execute(
                f"SELECT id, raw_hash, content_hash FROM documents WHERE id IN ({marks})", part
            ):
                states[doc_id] = DocumentState(raw, content)
        return states

    def find_content(self, content_hashes: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for part in catalog_sql.parts(list(content_hashes)):
            marks = ",".join("?" * len(part))
            # `+duplicate_of` keeps SQLite off the duplicate_of index, which it would otherwise
            # pick for `IS NULL` and so read nearly every document per batch (0.4 s at 200k).
            for content, doc_id in self.db.execute(
                f"SELECT content_hash, id FROM documents WHERE content_hash IN ({marks})"
                " AND +duplicate_of IS NULL ORDER BY rowid DESC",
                part,
            ):
                found[content] = doc_id
        return found

    def near_candidates(self, band_keys: Sequence[int]) -> list[tuple[str, np.ndarray]]:
        if not band_keys:
            return []
        marks = ",".join("?" * len(band_keys))
        rows = self.db.execute(
            f"SELECT DISTINCT d.id, d.signature FROM lsh JOIN documents d ON d.rowid = lsh.doc_rowid"
            f" WHERE lsh.key IN ({marks}) AND d.duplicate_of IS NULL AND d.signature IS NOT NULL",
            list(band_keys),
        ).fetchall()
        return [(doc_id, np.frombuffer(sig, dtype=np.uint32)) for doc_id, sig in rows]

    def known_passages(self, text_hashes: Sequence[str]) -> set[str]:
        known: set[str] = set()
        for part in catalog_sql.parts(list(text_hashes)):
            marks = ",".join("?" * len(part))
            known.update(
                row[0]
                for row in self.db.execute(
                    f"SELECT text_hash FROM passages WHERE text_hash IN ({marks})", part
                )
            )
        return known

    def sources_under(self, prefix: str) -> list[tuple[str, str]]:
        return self.db.execute(
            "SELECT id, source FROM documents WHERE source LIKE ? ESCAPE '\\' ORDER BY rowid",
            (catalog_sql.like_prefix(prefix),),
        ).fetchall()

    # -- writes ------------------------------------------------------------------------------

    def write(self, batch: WriteBatch) -> int:
        """Apply one micro-batch in one transaction: all of it lands, or none."""
        if not batch.upserts and not batch.deletes:
            return 0
        with self._transaction() as db:
            deleted, touched = self._apply(db, batch, self._upsert_document)
            self._collect_orphans(db, touched)
            self._bump_generation(db, touched)
        return deleted

    def _delete_document(self, db: sqlite3.Connection, doc_id: str) -> set[int] | None:
        """The passages the document had (None: there was no such document)."""
        row = db.execute("SELECT rowid FROM documents WHERE id = ?", (doc_id,)).fetchone()
        if row is None:
            return None
        touched = {
            r[0] for r in db.execute("SELECT passage_id FROM chunks WHERE doc_rowid = ?", (row[0],))
        }
        db.execute("DELETE FROM documents WHERE rowid = ?", (row[0],))
        db.execute(catalog_sql.forget_copies(DIALECT), (doc_id,))
        return touched

    def _upsert_document(self, db: sqlite3.Connection, record: DocumentRecord) -> set[int]:
        doc = record.document
        stamp = now()
        signature = None if record.signature is None else _blob(record.signature, np.uint32)
        fields = (
            doc.source,
            doc.title,
            doc.url,
            catalog_sql.iso_utc(doc.published_at),
            json.dumps(doc.metadata, default=str),
            doc.text,
            record.raw_hash,
            record.content_hash,
            signature,
            record.duplicate_of,
            record.duplicate_kind,
            len(record.chunks),
            sum(c.n_tokens for c in record.chunks),
            None if doc.page_starts is None else json.dumps(doc.page_starts),
        )
        row = db.execute("SELECT rowid FROM documents WHERE id = ?", (doc.id,)).fetchone()
        touched: set[int] = set()
        if row is None:
            rowid = db.execute(
                "INSERT INTO documents(id, source, title, url, published_at, metadata, text,"
                " raw_hash, content_hash, signature, duplicate_of, duplicate_kind, n_chunks,"
                " n_tokens, page_starts, ingested_at, updated_at)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (doc.id, *fields, stamp, stamp),
            ).lastrowid
        else:
            rowid = row[0]
            touched = {
                r[0]
                for r in db.execute("SELECT passage_id FROM chunks WHERE doc_rowid = ?", (rowid,))
            }
            db.execute("DELETE FROM chunks WHERE doc_rowid = ?", (rowid,))
            db.execute("DELETE FROM lsh WHERE doc_rowid = ?", (rowid,))
            db.execute(
                "UPDATE documents SET source=?, title=?, url=?, published_at=?, metadata=?, text=?,"
                " raw_hash=?, content_hash=?, signature=?, duplicate_of=?, duplicate_kind=?,"
                " n_chunks=?, n_tokens=?, page_starts=?, version = version + 1, updated_at=?"
                " WHERE rowid = ?",
                (*fields, stamp, rowid),
            )
        db.executemany(
            "INSERT INTO lsh(key, doc_rowid) VALUES (?, ?)",
            [(key, rowid) for key in record.band_keys],
        )
        for chunk in record.chunks:
            passage = db.execute(
                "SELECT id FROM passages WHERE text_hash = ?", (chunk.text_hash,)
            ).fetchone()
            if passage is None:
                if chunk.vector is None or chunk.sentence_vectors is None:
                    raise MissingVectors({chunk.text_hash})
                passage_id = db.execute(
                    "INSERT INTO passages(text_hash, text, n_tokens, vector, sentences,"
                    " sentence_vectors, sentence_bits) VALUES (?,?,?,?,?,?,?)",
                    (
                        chunk.text_hash,
                        chunk.text,
                        chunk.n_tokens,
                        _blob(chunk.vector, PASSAGE_VECTOR),
                        json.dumps(chunk.sentences),
                        *sentence_codes.encode(chunk.sentence_vectors),
                    ),
                ).lastrowid
                db.execute(
                    "INSERT INTO passages_fts(rowid, text) VALUES (?, ?)", (passage_id, chunk.text)
                )
                touched.add(passage_id)
            else:
                passage_id = passage[0]
            db.execute(
                'INSERT INTO chunks(doc_rowid, ordinal, start, "end", passage_id) VALUES (?,?,?,?,?)',
                (rowid, chunk.ordinal, chunk.start, chunk.end, passage_id),
            )
        return touched

    def _collect_orphans(self, db: sqlite3.Connection, touched: set[int]) -> None:
        """Drop passages that no chunk refers to any more, with their FTS rows."""
        for part in catalog_sql.parts(sorted(touched)):
            marks = ",".join("?" * len(part))
            orphans = db.execute(
                f"SELECT id, text FROM passages WHERE id IN ({marks})"
                " AND NOT EXISTS (SELECT 1 FROM chunks WHERE chunks.passage_id = passages.id)",
                part,
            ).fetchall()
            db.executemany(
                "INSERT INTO passages_fts(passages_fts, rowid, text) VALUES ('delete', ?, ?)",
                orphans,
            )
            db.executemany("DELETE FROM passages WHERE id = ?", [(pid,) for pid, _ in orphans])

    def _bump_generation(self, db: sqlite3.Connection, touched: set[int]) -> None:
        generation = int(db.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0])
        generation += 1
        db.execute("UPDATE meta SET value = ? WHERE key = 'generation'", (str(generation),))
        db.executemany(
            "INSERT INTO changes(generation, passage_id) VALUES (?, ?)",
            [(generation, pid) for pid in touched],
        )

    # -- vectors -----------------------------------------------------------------------------

    def generation(self) -> int:
        return int(self._meta("generation") or 0)

    def _changes_since(self, generation: int) -> list[int] | None:
        if generation < int(self._meta("changes_floor") or 0):
            return None
        return [
            row[0]
            for row in self.db.execute(
                "SELECT DISTINCT passage_id FROM changes WHERE generation > ?", (generation,)
            )
        ]

    def _passage_column(self, column: str, passage_ids: list[int]) -> Iterator[tuple[int, Any]]:
        """(id, `column`) of the passages among `passage_ids` that exist."""
        for part in catalog_sql.parts(passage_ids):
            marks = ",".join("?" * len(part))
            yield from self.db.execute(
                f"SELECT id, {column} FROM passages WHERE id IN ({marks})", part
            )

    def _vectors_of(self, passage_ids: list[int]) -> Iterator[tuple[int, np.ndarray]]:
        dim = self._vector_dim()
        for pid, blob in self._passage_column("vector", passage_ids):
            yield pid, passage_vector(blob, dim)

    def _all_vectors(self, page: int = 4096) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        dim, last = self._vector_dim(), 0
        while True:
            rows = self.db.execute(
                "SELECT id, vector FROM passages WHERE id > ? ORDER BY id LIMIT ?", (last, page)
            ).fetchall()
            if not rows:
                return
            yield (
                np.asarray([r[0] for r in rows], dtype=np.int64),
                np.stack([passage_vector(r[1], dim) for r in rows]),
            )
            last = rows[-1][0]

    def _vector_dim(self) -> int:
        """The vectors' width (bound with the model, never changed after: asked once)."""
        if self._dim is None:
            self._dim = self.dim()
            if self._dim is None:
                raise StoreError("this index has no model bound yet")
        return self._dim

    def vectors(self) -> FaissVectors:
        """The FAISS index, caught up with every committed write."""
        with self._vectors_lock:
            if self._vectors is None:
                dim = self.dim()
                if dim is None:
                    raise StoreError("the index is empty: run `riverbed ingest PATH` first")
                self._vectors = FaissVectors(self.data_dir, dim)
            vectors = self._vectors
        with self._snapshot():
            vectors.catch_up(
                self.generation(), self._changes_since, self._vectors_of, self._all_vectors
            )
        return vectors

    def save_vectors(self, wait: bool = True, rewrite: bool = False) -> None:
        """Bring the vector files up to the catalog (writer only) and trim the change log they
        no longer need. A save writes what changed since the last one (vector_segments.py),
        read from the catalog, so a process that only writes never holds the index in memory
        and an ingest's memory does not grow with it. Without `wait`, centroids due to be
        trained are trained in the background, and a later save lays the files out by them;
        with `rewrite`, every vector is written anew."""
        dim = self.dim()
        if dim is None:
            raise StoreError("the index is empty: run `riverbed ingest PATH` first")
        with self._snapshot() as db:
            generation = self.generation()
            count = db.execute("SELECT COUNT(*) FROM passages").fetchone()[0]
            save_segments(
                self.data_dir,
                dim,
                generation,
                count,
                self._changes_since,
                self._vectors_of,
                self._all_vectors,
                wait,
                rewrite,
            )
        floor = max(0, generation - CHANGE_LOG_KEEP)
        with self._transaction() as db:
            db.execute("DELETE FROM changes WHERE generation <= ?", (floor,))
            db.execute("UPDATE meta SET value = ? WHERE key = 'changes_floor'", (str(floor),))

    def check(self) -> list[str]:
        """Consistency problems between catalog, FTS and FAISS, one line each (none: [])."""
        problems = fts_problems(self.db)
        with self._snapshot() as db:
            problems += catalog_problems(db, DIALECT)
            dim = self.dim()
            if dim is not None:
                problems += vector_problems(
                    db,
                    self.data_dir,
                    dim,
                    self.generation(),
                    self._changes_since,
                    self._vectors_of,
                    self._all_vectors,
                )
        return problems

    # -- search ------------------------------------------------------------------------------

    def _allowed(self, filters: Filters | None) -> list[int] | None:
        """Passage ids of documents that pass the filters (None: no filter)."""
        allowed = catalog_sql.allowed_passages(filters, DIALECT)
        if allowed is None:
            return None
        return [row[0] for row in self.db.execute(*allowed)]

    @property
    def label(self) -> str:
        return f"sqlite+faiss:{self.data_dir}"

    def warm(self, wait: bool | None = None) -> None:
        """Make this store quick for a process that searches many times: load the FAISS index
        now, hold BM25's postings in memory (bm25_postings.py; without them FTS5 ranks), and
        read the catalog through mmap, without a copy per page (a search reads ~80 passages of
        a few pages each: ~12 % quicker), with a page cache of PAGE_CACHE_BYTES. Mapped pages
        count in the process's resident set as file pages, shared with the OS page cache, which
        is why a writer does neither: an ingest's memory stays flat however large the catalog
        grows.

        From BM25_IN_BACKGROUND_FROM passages (or with `wait` False) the postings are read on a
        thread of their own, a minute or more at a million passages, and FTS5 ranks the
        questions asked meanwhile (the same scores, slower): the index answers within seconds of
        opening."""
        self._mmap_bytes = MMAP_BYTES
        if self.dim() is not None:  # an empty index has no vectors yet
            self.vectors()
        with self._vectors_lock:
            if self._bm25 is None:
                self._bm25 = Bm25Postings(saved_in=self.data_dir)
        if wait is None:
            passages = self.db.execute("SELECT COUNT(*) FROM passages").fetchone()[0]
            wait = passages < BM25_IN_BACKGROUND_FROM
        if wait:
            self._caught_up_postings(build=True)
        else:
            threading.Thread(
                target=self._caught_up_postings, args=(True,), name="riverbed-bm25", daemon=True
            ).start()

    def _caught_up_postings(self, build: bool = False) -> Bm25Postings | None:
        """BM25's postings caught up with the catalog; None when the store was not warmed, or
        while their first reading (`build`) is still under way."""
        postings = self._bm25
        if postings is None or (postings.generation is None and not build):
            return None
        with self._snapshot() as db:
            postings.catch_up(db, self.generation(), self._changes_since, self._texts_of)
        return postings

    def _texts_of(self, passage_ids: list[int]) -> Iterator[tuple[int, str]]:
        return self._passage_column("text", passage_ids)

    def dense_search(
        self, vector: np.ndarray, k: int, filters: Filters | None = None
    ) -> list[tuple[int, float]]:
        vectors = self.vectors()
        return vectors.search(vector, k, self._allowed(filters), self._vectors_of)

    def lexical_search(
        self, terms: Sequence[str], k: int, filters: Filters | None = None
    ) -> list[tuple[int, float]]:
        """FTS5's BM25 top-k (ties by id), from memory when warmed."""
        if not terms:
            return []
        allowed = self._allowed(filters)
        if allowed is not None and not allowed:
            return []
        postings = self._caught_up_postings()
        found = postings.search(terms, k, allowed) if postings is not None else None
        if found is not None:
            return found
        query = "SELECT rowid, -bm25(passages_fts) FROM passages_fts WHERE passages_fts MATCH ?"
        params: list[Any] = [fts5_match(list(terms))]
        if allowed is not None:  # one parameter, however many passages pass
            query += " AND rowid IN (SELECT value FROM json_each(?))"
            params.append(json.dumps(allowed))
        query += " ORDER BY bm25(passages_fts), rowid LIMIT ?"
        return [(int(r[0]), float(r[1])) for r in self.db.execute(query, [*params, k])]

    def term_document_counts(self, terms: Sequence[str]) -> tuple[dict[str, int], int]:
        """Counted once per catalog generation: every write that changes passages bumps it."""
        postings = self._caught_up_postings()
        counted = postings.document_counts(terms) if postings is not None else None
        if counted is not None:
            return counted
        with self._snapshot() as db:
            generation = self.generation()
            with self._term_counts_lock:
                cache = self._term_counts
                if cache["generation"] != generation or len(cache["terms"]) > 100_000:
                    cache = {"generation": generation, "total": None, "terms": {}}
                    self._term_counts = cache
                known = dict(cache["terms"])
                total = cache["total"]
            counted = {
                term: db.execute(
                    "SELECT COUNT(*) FROM passages_fts WHERE passages_fts MATCH ?",
                    (fts5_match([term]),),
                ).fetchone()[0]
                for term in terms
                if term not in known
            }
            if total is None:
                total = db.execute("SELECT COUNT(*) FROM passages").fetchone()[0]
        with self._term_counts_lock:
            if self._term_counts is cache:
                cache["terms"].update(counted)
                cache["total"] = total
        known.update(counted)
        return {term: known[term] for term in terms}, total

    def passages(self, passage_ids: Iterable[int]) -> dict[int, StoredPassage]:
        with self._snapshot() as db:
            return catalog_sql.read_passages(passage_ids, db.execute, DIALECT, self._decoded)

    def _decoded(
        self, rows: list[Sequence[Any]]
    ) -> list[tuple[list[Span], np.ndarray, np.ndarray]]:
        return _decode_passages(rows, self._vector_dim()) if rows else []

    def document(self, doc_id: str) -> dict[str, Any] | None:
        row = self.db.execute(catalog_sql.select_document(DIALECT), (doc_id,)).fetchone()
        if row is None:
            return None
        document = catalog_sql.document_from_row(row)
        document["metadata"] = json.loads(document["metadata"])
        return document

    def stats(self) -> dict[str, Any]:
        with self._snapshot() as db:
            one = lambda sql: db.execute(sql).fetchone()[0]  # noqa: E731
            stats = {
                "store": self.label,
                "model": self.model_id(),
                "documents": one("SELECT COUNT(*) FROM documents WHERE duplicate_of IS NULL"),
                "duplicates": one("SELECT COUNT(*) FROM documents WHERE duplicate_kind='exact'"),
                "near_duplicates": one(
                    "SELECT COUNT(*) FROM documents WHERE duplicate_kind='near'"
                ),
                "chunks": one("SELECT COUNT(*) FROM chunks"),
                "passages": one("SELECT COUNT(*) FROM passages"),
                "tokens": one("SELECT COALESCE(SUM(n_tokens), 0) FROM passages"),
                "generation": self.generation(),
                "last_ingest": one("SELECT MAX(updated_at) FROM documents"),
            }
        stats["bytes"] = sum(p.stat().st_size for p in self.data_dir.rglob("*") if p.is_file())
        return stats

    # -- compacting --------------------------------------------------------------------------

    def compact(self) -> dict[str, Any]:
        """Rewrite the passages that older versions wrote (float32 passage vectors, float16 or
        8-bit sentence vectors) as new ones are written, a page at a time, then give the
        catalog's unused room back to the disk: VACUUM, into PAGE_SIZE pages unless another
        process has the catalog open (then its page size stays), and writes the vector files
        anew from it. Writer only. The passages keep their ids and texts, so the change log
        names none of them (a reader's BM25 and vectors need not read them again); a process
        that holds the vectors from before keeps them, as precise as the new ones or more."""
        dim = self._vector_dim()
        vector_bytes = dim * np.dtype(PASSAGE_VECTOR).itemsize
        sentence_format = sentence_codes.written_format(dim)
        before, rewritten, last = self.path.stat().st_size, 0, 0
        while True:
            with self._transaction() as db:
                rows = db.execute(
                    "SELECT id, vector, sentence_vectors, sentence_bits FROM passages WHERE id > ?"
                    " AND (sentence_bits != ? OR length(vector) != ?) ORDER BY id LIMIT ?",
                    (last, sentence_format, vector_bytes, COMPACT_PAGE),
                ).fetchall()
                if not rows:
                    break
                sentences = sentence_codes.recoded(
                    [(row[2], row[3]) for row in rows], dim, sentence_format
                )
                db.executemany(
                    "UPDATE passages SET vector = ?, sentence_vectors = ?, sentence_bits = ?"
                    " WHERE id = ?",
                    [
                        (_blob(passage_vector(row[1], dim), PASSAGE_VECTOR), *sentence, row[0])
                        for row, sentence in zip(rows, sentences, strict=True)
                    ],
                )
            rewritten += len(rows)
            last = rows[-1][0]
        with self._transaction() as db:
            self._bump_generation(db, set())  # the files below are a new generation's
        page_size = self._vacuum()
        self.save_vectors(rewrite=True)
        return {
            "passages_rewritten": rewritten,
            "catalog_bytes_before": before,
            "catalog_bytes_after": self.path.stat().st_size,
            "page_size": page_size,
        }

    def _vacuum(self) -> int:
        """VACUUM the catalog, into PAGE_SIZE pages if it can leave WAL mode for it (no other
        process has it open); its page size after."""
        db = self.db
        try:
            alone = db.execute("PRAGMA journal_mode=DELETE").fetchone()[0] == "delete"
        except sqlite3.OperationalError:  # "database is locked": another connection has it
            alone = False
        try:
            if alone:
                db.execute(f"PRAGMA page_size={PAGE_SIZE}")
            db.execute("VACUUM")
        finally:
            if alone:
                db.execute("PRAGMA journal_mode=WAL")
        return int(db.execute("PRAGMA page_size").fetchone()[0])

    # -- runs --------------------------------------------------------------------------------

    def start_run(self, job: str) -> int:
        with self._transaction() as db:
            return int(
                db.execute(
                    "INSERT INTO runs(job, started_at, status) VALUES (?, ?, 'running')",
                    (job, now()),
                ).lastrowid
            )

    def finish_run(self, run_id: int, status: str, report: dict[str, Any], error: str = "") -> None:
        with self._transaction() as db:
            db.execute(
                "UPDATE runs SET ended_at = ?, status = ?, report = ?, error = ? WHERE id = ?",
                (now(), status, json.dumps(report, default=str), error, run_id),
            )

    def runs(self, limit: int = 50) -> list[dict[str, Any]]:
        runs = [
            catalog_sql.run_from_row(row)
            for row in self.db.execute(catalog_sql.select_runs(DIALECT), (limit,))
        ]
        for run in runs:
            run["report"] = json.loads(run["report"])
        return runs
