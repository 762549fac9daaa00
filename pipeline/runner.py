"""Runs the stages over micro-batches: source → unchanged? → clean → dedupe → chunk → embed → store.

Each micro-batch of documents is committed in one store transaction, so memory is bounded by the
batch and a crash loses at most the batch in flight. Unchanged input (same raw text for the
same id) is skipped before any work; a run with nothing new never loads the model.
"""

from __future__ import annotations

import hashlib
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from itertools import islice
from typing import TypeVar

import numpy as np

from index.models import Document
from index.records import DocumentRecord, WriteBatch
from index.store.base import MissingVectors, Store
from pipeline.dedupe import content_hash
from pipeline.report import RunReport
from pipeline.stages import Stages

T = TypeVar("T")

SAVE_VECTORS_EVERY = 30.0  # seconds between FAISS snapshots during a long run…
SAVE_VECTORS_SHARE = 0.1  # …and at most this share of the time spent writing them
MISSING_VECTORS_RETRIES = 3
DELETES_PER_BATCH = 500
SEEN_MERGE = 65_536  # ids met before they join the sorted array of digests


def raw_hash(document: Document) -> str:
    """Hash of everything read for a document: any change to it means re-processing."""
    digest = hashlib.sha256(document.text.encode())
    digest.update(
        f"\0{document.title}\0{document.url}\0{document.published_at}\0{document.metadata}".encode()
    )
    return digest.hexdigest()


def batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


class SeenIds:
    """The document ids an input has brought, each kept as a 16-byte digest, two uint64 halves
    in arrays sorted by the first (the latest in a set, merged in every SEEN_MERGE): a set of
    the ids themselves takes ~140 bytes an id, 38.5 MB for a mailbox of 284k messages."""

    def __init__(self) -> None:
        self._first = np.zeros(0, dtype=np.uint64)
        self._second = np.zeros(0, dtype=np.uint64)
        self._latest: set[tuple[int, int]] = set()

    def first_time(self, doc_id: str) -> bool:
        """Whether `doc_id` is new here; it is kept either way."""
        halves = struct.unpack("<QQ", hashlib.blake2b(doc_id.encode(), digest_size=16).digest())
        if halves in self._latest:
            return False
        first = np.uint64(halves[0])
        start = np.searchsorted(self._first, first, "left")
        end = np.searchsorted(self._first, first, "right")
        if (self._second[start:end] == halves[1]).any():
            return False
        self._latest.add(halves)
        if len(self._latest) >= SEEN_MERGE:
            first, second = np.array(sorted(self._latest), dtype=np.uint64).T
            first = np.concatenate([self._first, first])
            # Two sorted runs: the stable sort (a timsort) merges them in linear time.
            order = np.argsort(first, kind="stable")
            self._first = first[order]
            self._second = np.concatenate([self._second, second])[order]
            self._latest.clear()
        return True


class Runner:
    """Runs documents through its stages into a store, counting everything in a RunReport.

    A Runner belongs to one recorded run (see writer.py, which makes it). `interrupted` says
    whether `stop` cut a feed short."""

    def __init__(
        self,
        store: Store,
        stages: Stages,
        batch_documents: int,
        report: RunReport,
        on_batch: Callable[[RunReport], None] | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.store = store
        self.stages = stages
        self.batch_documents = batch_documents
        self.report = report
        self.on_batch = on_batch
        self.stop = stop or threading.Event()
        self.interrupted = False
        self._last_save = time.perf_counter()
        self._save_seconds = 0.0

    def feed(self, documents: Iterable[Document]) -> None:
        """Process documents in micro-batches until they run out or `stop` is set, saving the
        vector file now and then (a long-lived caller, the watcher, feeds many times).

        An id that comes again in the same feed fails there: the first copy is kept."""
        for batch in batched(self._first_of_each_id(documents), self.batch_documents):
            self.process(batch)
            self._after_batch()
            pause = max(SAVE_VECTORS_EVERY, self._save_seconds / SAVE_VECTORS_SHARE)
            if time.perf_counter() - self._last_save > pause:
                self.save_vectors(wait=False)
            if self.stop.is_set():
                self.interrupted = True
                break

    def _first_of_each_id(self, documents: Iterable[Document]) -> Iterator[Document]:
        seen = SeenIds()
        for document in documents:
            if not seen.first_time(document.id):
                where = document.source if document.source != document.id else document.id
                self.report.fail(
                    where, f"the id {document.id} came earlier in this input: the first is kept"
                )
                continue
            yield document

    def delete(self, doc_ids: Iterable[str]) -> int:
        """Remove the documents that exist among `doc_ids`, a micro-batch per transaction; how
        many there were."""
        removed = 0
        for part in batched(doc_ids, DELETES_PER_BATCH):
            existing = list(self.store.document_states(part))
            self.store.write(WriteBatch(deletes=existing))
            removed += len(existing)
            self.report.deleted += len(existing)
            self._after_batch()
        return removed

    def save_vectors(self, wait: bool = True) -> None:
        """Persist what the store keeps beside its catalog (the FAISS view), once it has a model.
        The saves during a run do not `wait` for centroids being trained; the last one does."""
        started = time.perf_counter()
        if self.store.model_id() is not None:
            self.store.save_vectors(wait)
        self._last_save = time.perf_counter()
        self._save_seconds = self._last_save - started

    def _after_batch(self) -> None:
        if self.on_batch:
            self.on_batch(self.report)

    def _write(self, batch: WriteBatch) -> None:
        """Write the batch; if passages it links to were removed meanwhile by another writer
        (their chunks came without vectors), embed those texts and write again."""
        for _ in range(MISSING_VECTORS_RETRIES):
            try:
                self.store.write(batch)
                return
            except MissingVectors as missing:
                gone = missing.text_hashes
                self.stages.embed.embed_anew(
                    [c for r in batch.upserts for c in r.chunks if c.text_hash in gone]
                )
        self.store.write(batch)

    def process(self, batch: list[Document]) -> None:
        """One micro-batch, from read documents to one committed transaction."""
        self.report.seen += len(batch)
        latest = {document.id: document for document in batch}  # ids are distinct (see feed)
        states = self.store.document_states(list(latest))
        raw = {doc_id: raw_hash(document) for doc_id, document in latest.items()}
        fresh = []
        for doc_id, document in latest.items():
            state = states.get(doc_id)
            if state is not None and state.raw_hash == raw[doc_id]:
                self.report.unchanged += 1
            else:
                fresh.append(document)
        records = []
        for document in self.stages.clean(fresh):
            record = DocumentRecord(document, raw[document.id], content_hash(document.text))
            state = states.get(document.id)
            if state is not None and state.content_hash == record.content_hash:
                self.report.unchanged += 1  # only the raw form changed: nothing to redo
                continue
            records.append(record)
        records = list(self.stages.dedupe(records))
        originals = [r for r in records if r.duplicate_of is None]
        by_id = {r.document.id: r for r in originals}
        for chunk in self.stages.embed(self.stages.chunk(r.document for r in originals)):
            by_id[chunk.doc_id].chunks.append(chunk)
        self._write(WriteBatch(upserts=records))
        for record in records:
            if record.duplicate_of is not None:
                continue  # counted by the deduper
            if record.document.id in states:
                self.report.updated += 1
            else:
                self.report.added += 1
            self.report.chunks += len(record.chunks)
