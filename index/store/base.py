"""The one interface every store implements; search logic above it is written once.

A store keeps documents, their chunks, one vector per distinct passage, a lexical index over
passage text, and the run history. Writes come as `WriteBatch`es, each applied atomically.
Implementations: `SqliteFaissStore` (embedded default) and `PostgresStore` (pgvector).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

import numpy as np

from index.models import Filters
from index.records import DocumentRecord, DocumentState, StoredPassage, WriteBatch


class StoreError(RuntimeError):
    """A problem the user can act on (wrong model, no index, locked); shown as one line."""


class ModelMismatch(StoreError):
    pass


class WriterBusy(StoreError):
    pass


class MissingVectors(StoreError):
    """Chunks came without vectors because their passages were known, but another writer has
    removed those passages since: embed these texts and write the batch again."""

    def __init__(self, text_hashes: set[str]) -> None:
        super().__init__(f"{len(text_hashes)} passage(s) vanished before the write; re-embed them")
        self.text_hashes = text_hashes


class StoreBase:
    """What every store does alike, written once over what each implements: the model an
    index is bound to (`model_id` and `dim` in its meta table, read with `_meta`), and deleting
    documents (a write of deletes)."""

    def _meta(self, key: str) -> str | None:
        raise NotImplementedError

    def write(self, batch: WriteBatch) -> int:
        raise NotImplementedError

    def model_id(self) -> str | None:
        return self._meta("model_id")

    def dim(self) -> int | None:
        value = self._meta("dim")
        return int(value) if value else None

    def delete(self, doc_ids: Sequence[str]) -> int:
        """Remove these documents (those that exist) in one write; how many there were."""
        return self.write(WriteBatch(deletes=list(dict.fromkeys(doc_ids))))

    def _delete_document(self, conn: Any, doc_id: str) -> set[int] | None:
        """Delete one document in `conn`'s transaction; the passages it had (None: none such)."""
        raise NotImplementedError

    def _apply(
        self, conn: Any, batch: WriteBatch, upsert: Callable[[Any, DocumentRecord], set[int]]
    ) -> tuple[int, set[int]]:
        """A batch's deletes, then its upserts, in `conn`'s transaction: how many documents were
        deleted, and the passages touched (whose orphans the store then collects)."""
        deleted, touched = 0, set()
        for doc_id in batch.deletes:
            passages = self._delete_document(conn, doc_id)
            if passages is not None:
                deleted += 1
                touched |= passages
        for record in batch.upserts:
            touched |= upsert(conn, record)
        return deleted, touched


class Store(Protocol):
    """What the pipeline, the query logic and the faces may ask of a store, and nothing else.

    A store is safe to read from many threads. Writes come from a writer: one process at a time
    holds an embedded store's writer lock; Postgres takes many writers at once (its lock methods
    do nothing) and keeps each write consistent itself."""

    def bind_model(self, model_id: str, dim: int) -> None:
        """Record the model of an empty index, or refuse one that differs from the recorded one."""

    def model_id(self) -> str | None: ...

    def dim(self) -> int | None: ...

    # -- what the pipeline asks before writing
    def document_states(self, doc_ids: Sequence[str]) -> dict[str, DocumentState]: ...

    def find_content(self, content_hashes: Sequence[str]) -> dict[str, str]:
        """content hash -> id of an indexed (non-duplicate) document with that cleaned text."""

    def near_candidates(self, band_keys: Sequence[int]) -> list[tuple[str, np.ndarray]]:
        """(doc id, MinHash signature) of indexed documents sharing an LSH band key."""

    def known_passages(self, text_hashes: Sequence[str]) -> set[str]:
        """Passage hashes that already have a vector: their text is never embedded again."""

    def sources_under(self, prefix: str) -> list[tuple[str, str]]:
        """(doc id, source) of documents whose source path starts with `prefix`."""

    # -- writing (see pipeline/writer.py, the one place that writes)
    def acquire_writer(self, wait: bool = False) -> None:
        """Become this index's writer, or raise WriterBusy (`wait`: block until it is free).

        A run still marked running by a writer that died is marked crashed."""

    def release_writer(self) -> None: ...

    def write(self, batch: WriteBatch) -> int:
        """Apply one micro-batch atomically; the number of documents it deleted."""

    def delete(self, doc_ids: Sequence[str]) -> int:
        """`write` of deletes alone; how many of these documents there were."""

    def save_vectors(self, wait: bool = True) -> None:
        """Persist what the store derives from its catalog (the embedded store's FAISS file), so
        the next process to open it need not catch up; nothing to do for Postgres. Without
        `wait`, work that can go on in the background (training centroids) does."""

    def check(self) -> list[str]:
        """Consistency problems of the index, one line each; none: []."""

    def compact(self) -> dict[str, Any]:
        """Rewrite what older versions wrote in today's formats and give back the room they
        took, where the store can (writer only); what was done, as counts."""

    # -- reads
    def dense_search(
        self, vector: np.ndarray, k: int, filters: Filters | None = None
    ) -> list[tuple[int, float]]: ...

    def lexical_search(
        self, terms: Sequence[str], k: int, filters: Filters | None = None
    ) -> list[tuple[int, float]]: ...

    def term_document_counts(self, terms: Sequence[str]) -> tuple[dict[str, int], int]:
        """How many passages match each term lexically, and how many passages there are."""

    def passages(self, passage_ids: Iterable[int]) -> dict[int, StoredPassage]: ...

    @property
    def label(self) -> str:
        """Which store this is, for people: `sqlite+faiss:DIR` or `postgres:NAME`."""

    def warm(self) -> None:
        """Make ready what searches read, in a process that will search many times."""

    def document(self, doc_id: str) -> dict[str, Any] | None: ...

    def generation(self) -> int: ...

    def stats(self) -> dict[str, Any]: ...

    # -- run history
    def start_run(self, job: str) -> int: ...

    def finish_run(
        self, run_id: int, status: str, report: dict[str, Any], error: str = ""
    ) -> None: ...

    def runs(self, limit: int = 50) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...
