"""The Postgres store: pgvector (HNSW) for dense search, full-text search for lexical; many writers.

The data model is the embedded store's (documents, passages shared by equal text, chunks as
occurrences, runs), kept in the schema `riverbed` of the database the URL names. Every
`write(batch)` is one transaction. Several processes may write at once:

- A document's identity is its id (UNIQUE): `INSERT ... ON CONFLICT (id) DO UPDATE` makes two
  writers of one source end with one document, whichever commits last.
- A passage's identity is its text hash (UNIQUE): new passages are inserted with
  `ON CONFLICT DO NOTHING`, and every passage a batch links to is locked `FOR KEY SHARE` until
  commit, so no other writer can remove it meanwhile.
- Passages left without chunks are removed only once locked `FOR UPDATE SKIP LOCKED` (never one
  another writer is linking to), and re-checked under that lock.
- A chunk that came without a vector because its passage was known, but which another writer
  removed since, makes the write raise `MissingVectors`; the pipeline embeds those texts and
  writes again.
- Locks are taken in a fixed order (passages by hash, then existing documents by id); a
  deadlock that slips through, or a serialization failure, rolls the batch back and retries it.

Reads need no lock. Safe to use from many threads: each call borrows a connection from a pool
of at most POOL_SIZE, so many server threads (and processes) do not exhaust the database.
"""

from __future__ import annotations

import functools
import json
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np

from index.models import Filters
from index.records import Chunk, DocumentRecord, DocumentState, Span, StoredPassage, WriteBatch
from index.store import catalog_sql, sentence_codes
from index.store.base import MissingVectors, ModelMismatch, StoreBase, StoreError
from index.store.disk import CatalogDamaged, DiskFailed, translated
from index.store.fts5_terms import (
    BM25_B,
    BM25_K1,
    Fts5Terms,
    tsquery_literal,
    tsvector_literal,
)
from index.store.postgres_check import catalog_problems

try:
    import psycopg
    from pgvector.psycopg import register_vector
    from psycopg import errors, sql
    from psycopg.conninfo import conninfo_to_dict
    from psycopg.types.json import Jsonb
    from psycopg_pool import ConnectionPool
except ImportError as missing:  # pragma: no cover - depends on the install
    raise StoreError(
        "the Postgres store needs psycopg and pgvector: pip install 'riverbed[postgres]'"
    ) from missing

T = TypeVar("T")

SCHEMA = "riverbed"
COMPACT_PAGE = 4096  # passages rewritten a transaction at a time by compact()
WRITE_ATTEMPTS = 5
POOL_SIZE = 8  # connections per open store
SCHEMA_LOCK = 7_286_310_001  # advisory lock ids: creating the schema, binding the model
BIND_LOCK = 7_286_310_002
RUN_LOCK = 72_863  # (RUN_LOCK, run id): held by the process doing the run

# Migration n brings the schema from version n-1 to n; applied in order, each in the transaction
# that records it. Never edit a released one: append.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE meta(key text PRIMARY KEY, value text NOT NULL);
    CREATE TABLE state(
        one boolean PRIMARY KEY DEFAULT true CHECK (one),
        generation bigint NOT NULL DEFAULT 0,
        passages bigint NOT NULL DEFAULT 0,
        lexical_tokens bigint NOT NULL DEFAULT 0
    );
    INSERT INTO state DEFAULT VALUES;
    CREATE TABLE documents(
        pk bigserial PRIMARY KEY,
        id text NOT NULL UNIQUE,
        source text NOT NULL,
        title text NOT NULL DEFAULT '',
        url text,
        published_at timestamptz,
        metadata jsonb NOT NULL DEFAULT '{}',
        text text NOT NULL,
        raw_hash text NOT NULL,
        content_hash text NOT NULL,
        signature bytea,
        band_keys bigint[] NOT NULL DEFAULT '{}',
        duplicate_of text,
        duplicate_kind text,
        n_chunks integer NOT NULL DEFAULT 0,
        n_tokens integer NOT NULL DEFAULT 0,
        version integer NOT NULL DEFAULT 1,
        ingested_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX documents_content_hash ON documents(content_hash) WHERE duplicate_of IS NULL;
    CREATE INDEX documents_duplicate_of ON documents(duplicate_of);
    CREATE INDEX documents_source ON documents(source text_pattern_ops);
    CREATE INDEX documents_published_at ON documents(published_at);
    CREATE INDEX documents_band_keys ON documents USING gin(band_keys)
        WHERE duplicate_of IS NULL;
    CREATE TABLE passages(
        id bigserial PRIMARY KEY,
        text_hash text NOT NULL UNIQUE,
        text text NOT NULL,
        n_tokens integer NOT NULL,
        vector vector NOT NULL,
        sentences jsonb NOT NULL,
        sentence_vectors bytea NOT NULL
    );
    -- Apart from the wide passage rows, so that lexical scoring reads little.
    CREATE TABLE passage_terms(
        passage_id bigint PRIMARY KEY REFERENCES passages(id) ON DELETE CASCADE,
        tsv tsvector NOT NULL,
        length integer NOT NULL
    );
    ALTER TABLE passage_terms ALTER COLUMN tsv SET STORAGE MAIN;
    CREATE INDEX passage_terms_tsv ON passage_terms USING gin(tsv);
    CREATE TABLE chunks(
        doc_pk bigint NOT NULL REFERENCES documents(pk) ON DELETE CASCADE,
        ordinal integer NOT NULL,
        start integer NOT NULL,
        "end" integer NOT NULL,
        passage_id bigint NOT NULL REFERENCES passages(id),
        PRIMARY KEY(doc_pk, ordinal)
    );
    CREATE INDEX chunks_passage ON chunks(passage_id);
    CREATE TABLE runs(
        id bigserial PRIMARY KEY,
        job text NOT NULL,
        started_at timestamptz NOT NULL DEFAULT now(),
        ended_at timestamptz,
        status text NOT NULL,
        report jsonb NOT NULL DEFAULT '{}',
        error text NOT NULL DEFAULT ''
    );
    """,
    # where each page starts in a document's cleaned text, for paged formats
    """
    ALTER TABLE documents ADD COLUMN page_starts integer[];
    """,
    # the format of each passage's sentence vectors (sentence_codes.py): the passages written so
    # far hold float16 (16 bits), new ones 8-bit codes
    """
    ALTER TABLE passages ADD COLUMN sentence_bits smallint NOT NULL DEFAULT 16;
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)

DOCUMENT_FIELDS = (
    "source, title, url, published_at, metadata, text, raw_hash, content_hash, signature,"
    " band_keys, duplicate_of, duplicate_kind, n_chunks, n_tokens, page_starts"
)
RETRYABLE = (errors.DeadlockDetected, errors.SerializationFailure)


def describe(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://?"
    host = parts.get("host") or "localhost"
    port = f":{parts['port']}" if parts.get("port") else ""
    user = f"{parts['user']}@" if parts.get("user") else ""
    return f"postgresql://{user}{host}{port}/{parts.get('dbname', '')}"


def _decode_passages(rows: list[Sequence[Any]]) -> list[tuple[list[Span], np.ndarray, np.ndarray]]:
    if not rows:
        return []
    vectors = [row[4].to_numpy().astype(np.float32) for row in rows]
    sentence_vectors = sentence_codes.decode([(row[3], row[5]) for row in rows], len(vectors[0]))
    return [
        ([tuple(span) for span in row[2]], sentences, vector)
        for row, sentences, vector in zip(rows, sentence_vectors, vectors, strict=True)
    ]


DIALECT = catalog_sql.POSTGRES


def _failure(store: PostgresStore, err: Exception) -> StoreError | None:
    """What the server said of its disk or its data, as one line (disk.py); a connection lost
    mid-way too."""
    name = getattr(store, "name", "the database")
    sqlstate = getattr(err, "sqlstate", None) or ""
    diagnosis = getattr(err, "diag", None)
    said = (diagnosis.message_primary if diagnosis else None) or str(err).strip()
    said = said.splitlines()[0] if said else type(err).__name__
    if sqlstate.startswith("53"):  # insufficient resources: disk full, out of memory, ...
        return DiskFailed(f"{name}: the database server is out of room ({said}): free some space")
    if sqlstate in ("XX001", "XX002"):  # data or index corrupted
        return CatalogDamaged(
            f"the database {name} reports damaged data ({said}): restore it from a backup, or"
            " ingest the sources again into a new database"
        )
    if sqlstate == "25006":
        return DiskFailed(f"{name}: the database is read-only (a standby?)")
    if isinstance(err, psycopg.OperationalError) and not sqlstate.startswith("40"):
        return StoreError(f"{name}: lost the database server: {said}")
    return None


@translated(_failure)
class PostgresStore(StoreBase):
    """The store in a Postgres database with the pgvector extension (0.8 or newer)."""

    def __init__(self, url: str, create: bool = True) -> None:
        self.url = url
        self.name = describe(url)
        self._terms = Fts5Terms()
        self._prepare_schema(create)
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=POOL_SIZE,
            kwargs={"autocommit": True},
            configure=self._configure,
            name="riverbed",
            open=True,
        )
        self._run_connections: dict[int, psycopg.Connection] = {}
        self._runs_lock = threading.Lock()

    # -- connections and schema --------------------------------------------------------------

    def _connect(self) -> psycopg.Connection:
        try:
            conn = psycopg.connect(self.url, autocommit=True)
        except psycopg.OperationalError as err:
            lines = [line.strip() for line in str(err).splitlines() if line.strip()]
            reason = lines[0].split(" failed: ")[-1] if lines else type(err).__name__
            raise StoreError(f"cannot connect to {self.name}: {reason}") from err
        return conn

    def _configure(self, conn: psycopg.Connection) -> None:
        """Point the connection at the schema and the vector type, wherever it was installed."""
        row = conn.execute(
            "SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'vector'"
        ).fetchone()
        path = [SCHEMA, "public"] + ([row[0]] if row and row[0] not in ("public",) else [])
        conn.execute(
            sql.SQL("SET search_path = {}").format(sql.SQL(", ").join(map(sql.Identifier, path)))
        )
        register_vector(conn)

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A connection of the pool, set up for the schema (autocommit), for as long as needed."""
        with self._pool.connection() as conn:
            yield conn

    def _rows(self, query: str, params: Sequence[Any] = ()) -> list[tuple]:
        with self._pool.connection() as conn:
            return conn.execute(query, params).fetchall()

    def _prepare_schema(self, create: bool) -> None:
        conn = self._connect()
        try:
            version = self._schema_version(conn)
            if version is None and not create:
                raise StoreError(f"no index at {self.name} yet: run `riverbed ingest PATH` first")
            if version != SCHEMA_VERSION:
                self._migrate(conn)
        finally:
            conn.close()

    @staticmethod
    def _schema_version(conn: psycopg.Connection) -> int | None:
        if conn.execute("SELECT to_regclass(%s)", (f"{SCHEMA}.meta",)).fetchone()[0] is None:
            return None
        row = conn.execute(
            sql.SQL("SELECT value FROM {}.meta WHERE key = 'schema_version'").format(
                sql.Identifier(SCHEMA)
            )
        ).fetchone()
        return int(row[0]) if row else 0

    def _migrate(self, conn: psycopg.Connection) -> None:
        """Apply the migrations this database lacks, one writer at a time."""
        try:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (SCHEMA_LOCK,))
                conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
                conn.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(SCHEMA))
                )
                self._configure(conn)
                version = self._schema_version(conn) or 0
                if version > SCHEMA_VERSION:
                    raise StoreError(
                        f"the index at {self.name} has schema version {version}, newer than this"
                        f" riverbed's {SCHEMA_VERSION}: upgrade riverbed"
                    )
                for number in range(version + 1, SCHEMA_VERSION + 1):
                    conn.execute(MIGRATIONS[number - 1])
                    conn.execute(
                        "INSERT INTO meta VALUES ('schema_version', %s)"
                        " ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
                        (str(number),),
                    )
        except psycopg.errors.InsufficientPrivilege as err:
            raise StoreError(f"cannot create the index at {self.name}: {err}") from err
        except psycopg.errors.FeatureNotSupported as err:
            raise StoreError(f"{self.name}: {err} (riverbed needs pgvector 0.8 or newer)") from err

    def close(self) -> None:
        with self._runs_lock:
            self._run_connections.clear()
        self._pool.close()

    @contextmanager
    def _snapshot(self) -> Iterator[psycopg.Connection]:
        """A read-only transaction: every query inside sees the same committed state."""
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            yield conn

    def _retrying(self, work: Callable[[psycopg.Connection], T]) -> T:
        """Run `work` in one transaction, again (after a pause) if it lost a deadlock."""
        with self._pool.connection() as conn:
            for attempt in range(1, WRITE_ATTEMPTS + 1):
                try:
                    with conn.transaction():
                        return work(conn)
                except RETRYABLE as err:
                    if attempt == WRITE_ATTEMPTS:
                        raise StoreError(
                            f"{self.name}: gave up after {attempt} tries: {err}"
                        ) from err
                    time.sleep(random.uniform(0.01, 0.05) * 2**attempt)
        raise AssertionError("unreachable")

    def _meta(self, key: str) -> str | None:
        rows = self._rows("SELECT value FROM meta WHERE key = %s", (key,))
        return rows[0][0] if rows else None

    # -- writers -----------------------------------------------------------------------------

    def acquire_writer(self, wait: bool = False) -> None:
        """Nothing to hold: Postgres takes many writers (see the module's docstring). A run
        whose process died is marked crashed by the next `start_run`."""

    def release_writer(self) -> None:
        """Nothing held."""

    def save_vectors(self, wait: bool = True) -> None:
        """Nothing derived to save: the vector index is Postgres's own."""

    # -- the model ---------------------------------------------------------------------------

    def bind_model(self, model_id: str, dim: int) -> None:
        """Record the model of an empty index (typing the vector column and indexing it)."""
        recorded = self.model_id()
        if recorded is None:
            with self._pool.connection() as conn, conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (BIND_LOCK,))
                recorded = self._meta("model_id")
                if recorded is None:
                    conn.execute(
                        "INSERT INTO meta VALUES ('model_id', %s), ('dim', %s)",
                        (model_id, str(dim)),
                    )
                    conn.execute(
                        sql.SQL("ALTER TABLE passages ALTER COLUMN vector TYPE vector({})").format(
                            sql.Literal(int(dim))
                        )
                    )
                    conn.execute(
                        "CREATE INDEX passages_vector ON passages USING hnsw (vector vector_ip_ops)"
                    )
                    return
        if recorded != model_id:
            raise ModelMismatch(
                f"this index was built with {recorded}, not {model_id}: use that model "
                "(RIVERBED_MODEL) or another --store"
            )

    # -- questions the pipeline asks ---------------------------------------------------------

    def document_states(self, doc_ids: Sequence[str]) -> dict[str, DocumentState]:
        rows = self._rows(
            "SELECT id, raw_hash, content_hash FROM documents WHERE id = ANY(%s)", (list(doc_ids),)
        )
        return {doc_id: DocumentState(raw, content) for doc_id, raw, content in rows}

    def find_content(self, content_hashes: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for content, doc_id in self._rows(
            "SELECT content_hash, id FROM documents WHERE content_hash = ANY(%s)"
            " AND duplicate_of IS NULL ORDER BY pk DESC",
            (list(content_hashes),),
        ):
            found[content] = doc_id  # the earliest document wins
        return found

    def near_candidates(self, band_keys: Sequence[int]) -> list[tuple[str, np.ndarray]]:
        if not band_keys:
            return []
        rows = self._rows(
            "SELECT id, signature FROM documents WHERE band_keys && %s::bigint[]"
            " AND duplicate_of IS NULL AND signature IS NOT NULL ORDER BY pk",
            (list(band_keys),),
        )
        return [(doc_id, np.frombuffer(sig, dtype=np.uint32)) for doc_id, sig in rows]

    def known_passages(self, text_hashes: Sequence[str]) -> set[str]:
        rows = self._rows(
            "SELECT text_hash FROM passages WHERE text_hash = ANY(%s)", (list(text_hashes),)
        )
        return {row[0] for row in rows}

    def sources_under(self, prefix: str) -> list[tuple[str, str]]:
        rows = self._rows(
            "SELECT id, source FROM documents WHERE source LIKE %s ORDER BY pk",
            (catalog_sql.like_prefix(prefix),),
        )
        return [(doc_id, source) for doc_id, source in rows]

    # -- writes ------------------------------------------------------------------------------

    def write(self, batch: WriteBatch) -> int:
        """Apply one micro-batch in one transaction: all of it lands, or none."""
        if not batch.upserts and not batch.deletes:
            return 0
        return self._retrying(lambda conn: self._write(conn, batch))

    def _write(self, conn: psycopg.Connection, batch: WriteBatch) -> int:
        chunks = [chunk for record in batch.upserts for chunk in record.chunks]
        passage_ids, added = self._link_passages(conn, chunks)
        doc_ids = sorted({*batch.deletes, *(r.document.id for r in batch.upserts)})
        conn.execute(
            "SELECT 1 FROM documents WHERE id = ANY(%s) ORDER BY id FOR UPDATE", (doc_ids,)
        )
        deleted, touched = self._apply(
            conn, batch, lambda conn, record: self._upsert_document(conn, record, passage_ids)
        )
        removed = self._collect_orphans(conn, touched)
        self._bump_generation(conn, added - removed)
        return deleted

    def _link_passages(
        self, conn: psycopg.Connection, chunks: list[Chunk]
    ) -> tuple[dict[str, int], _Delta]:
        """text hash -> passage id for every chunk, inserting new passages; each linked passage
        stays locked against removal until commit. Raises MissingVectors for chunks without a
        vector whose passage is gone."""
        by_hash: dict[str, Chunk] = {}
        for chunk in chunks:
            if chunk.vector is not None or chunk.text_hash not in by_hash:
                by_hash[chunk.text_hash] = chunk
        hashes = sorted(by_hash)  # one lock order for every writer
        found: dict[str, int] = {}
        added = _Delta()
        for _ in range(WRITE_ATTEMPTS):
            new = [by_hash[h] for h in hashes if h not in found and by_hash[h].vector is not None]
            if new:
                added += self._insert_passages(conn, new)
            missing = [h for h in hashes if h not in found]
            for text_hash, pid in conn.execute(
                "SELECT text_hash, id FROM passages WHERE text_hash = ANY(%s)"
                " ORDER BY text_hash FOR KEY SHARE",
                (missing,),
            ):
                found[text_hash] = pid
            gone = {h for h in hashes if h not in found}
            if not gone:
                return found, added
            unembedded = {h for h in gone if by_hash[h].vector is None}
            if unembedded:
                raise MissingVectors(unembedded)
            # Inserted by another writer, then removed by a third before we could lock it: again.
        raise StoreError(f"{self.name}: passages keep disappearing under this write; try again")

    def _insert_passages(self, conn: psycopg.Connection, new: list[Chunk]) -> _Delta:
        """Insert the passages no other writer has inserted meanwhile, with their terms."""
        sentences = []
        for chunk in new:
            if chunk.sentence_vectors is None:
                raise StoreError("a new passage came without its sentence vectors")
            sentences.append(sentence_codes.encode(chunk.sentence_vectors))
        inserted = dict(
            conn.execute(
                "INSERT INTO passages(text_hash, text, n_tokens, vector, sentences,"
                " sentence_vectors, sentence_bits) SELECT * FROM unnest(%s::text[], %s::text[],"
                " %s::integer[], %s::vector[], %s::jsonb[], %s::bytea[], %s::smallint[])"
                " ON CONFLICT (text_hash) DO NOTHING RETURNING text_hash, id",
                (
                    [c.text_hash for c in new],
                    [c.text for c in new],
                    [c.n_tokens for c in new],
                    [np.asarray(c.vector, dtype=np.float32) for c in new],
                    [Jsonb([list(span) for span in c.sentences]) for c in new],
                    [blob for blob, _ in sentences],
                    [bits for _, bits in sentences],
                ),
            ).fetchall()
        )
        mine = [c for c in new if c.text_hash in inserted]
        terms = self._terms.tokens([c.text for c in mine])
        conn.execute(
            "INSERT INTO passage_terms(passage_id, tsv, length)"
            " SELECT * FROM unnest(%s::bigint[], %s::tsvector[], %s::integer[])",
            (
                [inserted[c.text_hash] for c in mine],
                [tsvector_literal(tokens) for tokens in terms],
                [len(tokens) for tokens in terms],
            ),
        )
        return _Delta(len(mine), sum(len(tokens) for tokens in terms))

    def _delete_document(self, conn: psycopg.Connection, doc_id: str) -> set[int] | None:
        """The passages the document had (None: there was no such document)."""
        row = conn.execute("SELECT pk FROM documents WHERE id = %s", (doc_id,)).fetchone()
        if row is None:
            return None
        touched = {
            r[0]
            for r in conn.execute("DELETE FROM chunks WHERE doc_pk = %s RETURNING passage_id", row)
        }
        conn.execute("DELETE FROM documents WHERE pk = %s", row)
        conn.execute(catalog_sql.forget_copies(DIALECT), (doc_id,))
        return touched

    def _upsert_document(
        self, conn: psycopg.Connection, record: DocumentRecord, passage_ids: dict[str, int]
    ) -> set[int]:
        doc = record.document
        signature = None if record.signature is None else _uint32(record.signature)
        fields = (
            doc.source,
            doc.title,
            doc.url,
            catalog_sql.aware_utc(doc.published_at),
            Jsonb(doc.metadata, dumps=_json),
            doc.text,
            record.raw_hash,
            record.content_hash,
            signature,
            list(record.band_keys),
            record.duplicate_of,
            record.duplicate_kind,
            len(record.chunks),
            sum(c.n_tokens for c in record.chunks),
            doc.page_starts,
        )
        columns = DOCUMENT_FIELDS.split(", ")
        updates = ", ".join(f"{name} = EXCLUDED.{name}" for name in columns)
        pk = conn.execute(
            f"INSERT INTO documents(id, {DOCUMENT_FIELDS}) VALUES ({', '.join(['%s'] * (len(fields) + 1))})"
            f" ON CONFLICT (id) DO UPDATE SET {updates}, version = documents.version + 1,"
            " updated_at = now() RETURNING pk",
            (doc.id, *fields),
        ).fetchone()[0]
        touched = {
            r[0]
            for r in conn.execute(
                "DELETE FROM chunks WHERE doc_pk = %s RETURNING passage_id", (pk,)
            )
        }
        if record.chunks:
            conn.execute(
                'INSERT INTO chunks(doc_pk, ordinal, start, "end", passage_id) SELECT %s, *'
                " FROM unnest(%s::integer[], %s::integer[], %s::integer[], %s::bigint[])",
                (
                    pk,
                    [c.ordinal for c in record.chunks],
                    [c.start for c in record.chunks],
                    [c.end for c in record.chunks],
                    [passage_ids[c.text_hash] for c in record.chunks],
                ),
            )
        return touched

    def _collect_orphans(self, conn: psycopg.Connection, touched: set[int]) -> _Delta:
        """Remove passages that no chunk refers to any more. A passage another writer holds
        (it is linking a chunk to it) is skipped: it will not be an orphan when that commits."""
        removed = _Delta()
        if not touched:
            return removed
        locked = [
            row[0]
            for row in conn.execute(
                "SELECT id FROM passages WHERE id = ANY(%s) ORDER BY id FOR UPDATE SKIP LOCKED",
                (sorted(touched),),
            )
        ]
        if not locked:
            return removed
        # Under these locks no chunk can come to point at them: this look is final.
        orphans = conn.execute(
            "SELECT p.id, t.length FROM passages p JOIN passage_terms t ON t.passage_id = p.id"
            " WHERE p.id = ANY(%s)"
            " AND NOT EXISTS (SELECT 1 FROM chunks c WHERE c.passage_id = p.id)",
            (locked,),
        ).fetchall()
        if orphans:
            conn.execute("DELETE FROM passages WHERE id = ANY(%s)", ([pid for pid, _ in orphans],))
        return _Delta(len(orphans), sum(length for _, length in orphans))

    def _bump_generation(self, conn: psycopg.Connection, delta: _Delta) -> None:
        """Last statement of every write: the one row all writers share is held only briefly."""
        conn.execute(
            "UPDATE state SET generation = generation + 1, passages = passages + %s,"
            " lexical_tokens = lexical_tokens + %s",
            (delta.passages, delta.tokens),
        )

    # -- search ------------------------------------------------------------------------------

    @property
    def label(self) -> str:
        return f"postgres:{self.name}"

    def warm(self) -> None:
        """Nothing to load: the vector and lexical indexes are the server's."""

    def generation(self) -> int:
        return int(self._rows("SELECT generation FROM state")[0][0])

    def dense_search(
        self, vector: np.ndarray, k: int, filters: Filters | None = None
    ) -> list[tuple[int, float]]:
        if k <= 0 or self.dim() is None:
            return []
        allowed, params = catalog_sql.allowed_passages(filters, DIALECT) or ("", [])
        where = f"WHERE id IN ({allowed})" if allowed else ""
        query = np.asarray(vector, dtype=np.float32)
        with self._pool.connection() as conn, conn.transaction():
            # The HNSW scan yields at most ef_search rows; with a filter it keeps scanning
            # (pgvector's iterative scan) until k rows pass or its tuple budget runs out.
            conn.execute(
                "SELECT set_config('hnsw.ef_search', %s, true),"
                " set_config('hnsw.iterative_scan', 'strict_order', true)",
                (str(min(1000, max(100, 2 * k))),),
            )
            rows = conn.execute(
                f"SELECT id, -(vector <#> %s) FROM passages {where}"
                " ORDER BY vector <#> %s, id LIMIT %s",
                (query, *params, query, k),
            ).fetchall()
        return [(int(pid), float(score)) for pid, score in rows]

    def lexical_search(
        self, terms: Sequence[str], k: int, filters: Filters | None = None
    ) -> list[tuple[int, float]]:
        """BM25 with FTS5's formula, constants and terms (see fts5_terms.py), so the scores are
        the embedded store's: any of the terms; a term's frequency in a passage is `ts_rank_cd`
        with unit weights; document frequencies count the whole index, filters only limit which
        passages come back."""
        queries = self._term_queries(terms)
        if not queries or k <= 0:
            return []
        allowed, params = catalog_sql.allowed_passages(filters, DIALECT) or ("", [])
        keep = f"WHERE m.id IN ({allowed})" if allowed else ""
        rows = self._rows(
            f"""
            WITH terms AS (
                SELECT q.query, q.term FROM unnest(%s::tsquery[]) WITH ORDINALITY AS q(query, term)
            ), matches AS MATERIALIZED (
                SELECT t.term, p.passage_id AS id, p.length::float8 AS length,
                    ts_rank_cd('{{1,1,1,1}}', p.tsv, t.query)::float8 AS tf
                FROM terms t JOIN passage_terms p ON p.tsv @@ t.query
            ), corpus AS (
                SELECT passages::float8 AS n,
                    greatest(lexical_tokens::float8 / greatest(passages, 1), 1e-9) AS average
                FROM state
            ), weights AS (
                SELECT m.term, greatest(ln((c.n - count(*) + 0.5) / (count(*) + 0.5)), 1e-6) AS idf
                FROM matches m CROSS JOIN corpus c GROUP BY m.term, c.n
            )
            SELECT m.id, sum(
                w.idf * m.tf * {BM25_K1 + 1}
                / (m.tf + {BM25_K1} * ({1 - BM25_B} + {BM25_B} * m.length / c.average))
            ) AS score
            FROM matches m JOIN weights w USING (term) CROSS JOIN corpus c
            {keep}
            GROUP BY m.id ORDER BY score DESC, m.id LIMIT %s
            """,
            (list(queries.values()), *params, k),
        )
        return [(int(pid), float(score)) for pid, score in rows]

    def _term_queries(self, terms: Sequence[str]) -> dict[str, str]:
        """term -> tsquery of its FTS5 terms (a phrase); terms with none are left out."""
        terms = list(terms)
        return {
            term: tsquery_literal(tokens)
            for term, tokens in zip(terms, self._terms.tokens(terms), strict=True)
            if tokens
        }

    def term_document_counts(self, terms: Sequence[str]) -> tuple[dict[str, int], int]:
        queries = self._term_queries(terms)
        ((total, counts),) = self._rows(  # one statement: one snapshot
            "SELECT (SELECT passages FROM state), ARRAY(SELECT (SELECT count(*) FROM"
            " passage_terms p WHERE p.tsv @@ q.query) FROM unnest(%s::tsquery[])"
            " WITH ORDINALITY AS q(query, n) ORDER BY q.n)",
            (list(queries.values()),),
        )
        found = dict(zip(queries, counts, strict=True))
        return {term: int(found.get(term, 0)) for term in terms}, int(total)

    def passages(self, passage_ids: Iterable[int]) -> dict[int, StoredPassage]:
        with self._snapshot() as conn:
            return catalog_sql.read_passages(passage_ids, conn.execute, DIALECT, _decode_passages)

    def document(self, doc_id: str) -> dict[str, Any] | None:
        rows = self._rows(catalog_sql.select_document(DIALECT), (doc_id,))
        if not rows:
            return None
        row = rows[0]
        document = catalog_sql.document_from_row(row)
        document["published_at"] = catalog_sql.iso_string(document["published_at"])
        for key in ("ingested_at", "updated_at"):
            document[key] = catalog_sql.iso_string(document[key], "seconds")
        return document

    def stats(self) -> dict[str, Any]:
        with self._snapshot() as conn:
            row = conn.execute(
                """
                SELECT
                    (SELECT count(*) FROM documents WHERE duplicate_of IS NULL),
                    (SELECT count(*) FROM documents WHERE duplicate_kind = 'exact'),
                    (SELECT count(*) FROM documents WHERE duplicate_kind = 'near'),
                    (SELECT count(*) FROM chunks),
                    (SELECT count(*) FROM passages),
                    (SELECT coalesce(sum(n_tokens), 0) FROM passages),
                    (SELECT generation FROM state),
                    (SELECT max(updated_at) FROM documents),
                    (SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c
                        WHERE c.relnamespace = %s::regnamespace AND c.relkind = 'r'),
                    (SELECT value FROM meta WHERE key = 'model_id')
                """,
                (SCHEMA,),
            ).fetchone()
        return {
            "store": self.label,
            "model": row[9],
            "documents": row[0],
            "duplicates": row[1],
            "near_duplicates": row[2],
            "chunks": row[3],
            "passages": row[4],
            "tokens": int(row[5]),
            "generation": row[6],
            "last_ingest": catalog_sql.iso_string(row[7], "seconds"),
            "bytes": int(row[8] or 0),
        }

    def check(self) -> list[str]:
        """Consistency problems, one line each (none: []); see postgres_check.py."""
        with self._snapshot() as conn:
            return catalog_problems(conn, DIALECT, self.dim(), self._terms)

    # -- compacting --------------------------------------------------------------------------

    def compact(self) -> dict[str, Any]:
        """Rewrite the sentence vectors that older versions wrote (float16, 8-bit codes) as new
        ones are written, a page at a time. Passage vectors stay pgvector's; the room given up
        is Postgres's to reuse (autovacuum, or `VACUUM FULL` by its administrator)."""
        dim = self.dim()
        if dim is None:
            return {"passages_rewritten": 0}
        written = sentence_codes.written_format(dim)
        rewritten, last = 0, 0
        recode = functools.partial(self._recode_page, dim=dim, written=written)
        while ids := self._retrying(functools.partial(recode, after=last)):
            rewritten, last = rewritten + len(ids), ids[-1]
        return {"passages_rewritten": rewritten, "sentence_format": written}

    def _recode_page(
        self, conn: psycopg.Connection, after: int, dim: int, written: int
    ) -> list[int]:
        """The next page of passages after id `after` whose sentence vectors are not in the
        format `written`, rewritten in it; their ids."""
        rows = conn.execute(
            "SELECT id, sentence_vectors, sentence_bits FROM passages WHERE id > %s"
            " AND sentence_bits != %s ORDER BY id LIMIT %s FOR UPDATE",
            (after, written, COMPACT_PAGE),
        ).fetchall()
        sentences = sentence_codes.recoded([(bytes(row[1]), row[2]) for row in rows], dim, written)
        conn.cursor().executemany(
            "UPDATE passages SET sentence_vectors = %s, sentence_bits = %s WHERE id = %s",
            [(*sentence, row[0]) for row, sentence in zip(rows, sentences, strict=True)],
        )
        return [row[0] for row in rows]

    # -- runs --------------------------------------------------------------------------------

    def start_run(self, job: str) -> int:
        """Record a run, holding a lock (on a connection kept for the run) for its life: a run
        marked running whose lock nobody holds belongs to a process that died: it is marked
        crashed."""
        conn = self._pool.getconn()
        try:
            with conn.transaction():
                conn.execute(
                    "UPDATE runs SET status = 'crashed', error = %s WHERE status = 'running'"
                    " AND NOT EXISTS (SELECT 1 FROM pg_locks l WHERE l.locktype = 'advisory'"
                    " AND l.database = (SELECT oid FROM pg_database"
                    " WHERE datname = current_database())"
                    " AND l.classid = %s AND l.objid = runs.id AND l.objsubid = 2)",
                    (catalog_sql.CRASHED, RUN_LOCK),
                )
                run_id = int(
                    conn.execute(
                        "INSERT INTO runs(job, status) VALUES (%s, 'running') RETURNING id", (job,)
                    ).fetchone()[0]
                )
                conn.execute("SELECT pg_advisory_lock(%s, %s)", (RUN_LOCK, run_id))
        except BaseException:
            self._pool.putconn(conn)
            raise
        with self._runs_lock:
            self._run_connections[run_id] = conn
        return run_id

    def finish_run(self, run_id: int, status: str, report: dict[str, Any], error: str = "") -> None:
        with self._runs_lock:
            conn = self._run_connections.pop(run_id, None)
        if conn is None:  # started by another store object: its lock goes with its connection
            with self._pool.connection() as other:
                self._record_end(other, run_id, status, report, error)
            return
        try:
            self._record_end(conn, run_id, status, report, error)
            conn.execute("SELECT pg_advisory_unlock(%s, %s)", (RUN_LOCK, run_id))
        finally:
            self._pool.putconn(conn)

    @staticmethod
    def _record_end(
        conn: psycopg.Connection, run_id: int, status: str, report: dict[str, Any], error: str
    ) -> None:
        conn.execute(
            "UPDATE runs SET ended_at = now(), status = %s, report = %s, error = %s WHERE id = %s",
            (status, Jsonb(report, dumps=_json), error, run_id),
        )

    def runs(self, limit: int = 50) -> list[dict[str, Any]]:
        runs = [
            catalog_sql.run_from_row(row)
            for row in self._rows(catalog_sql.select_runs(DIALECT), (limit,))
        ]
        for run in runs:
            run["started_at"] = catalog_sql.iso_string(run["started_at"], "seconds")
            run["ended_at"] = catalog_sql.iso_string(run["ended_at"], "seconds")
        return runs


class _Delta:
    """Passages (and their lexical tokens) a transaction added or removed: the BM25 statistics."""

    __slots__ = ("passages", "tokens")

    def __init__(self, passages: int = 0, tokens: int = 0) -> None:
        self.passages = passages
        self.tokens = tokens

    def __add__(self, other: _Delta) -> _Delta:
        return _Delta(self.passages + other.passages, self.tokens + other.tokens)

    def __sub__(self, other: _Delta) -> _Delta:
        return _Delta(self.passages - other.passages, self.tokens - other.tokens)


def _json(value: Any) -> str:
    return json.dumps(value, default=str)


def _uint32(array: np.ndarray) -> bytes:
    return np.ascontiguousarray(array, dtype=np.uint32).tobytes()
