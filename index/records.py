"""What the pipeline hands the store: documents with their chunks and vectors, written atomically."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from index.models import Document

Span = tuple[int, int]


@dataclass(slots=True)
class Chunk:
    """A passage of a cleaned document, with its offsets and, once embedded, its vectors."""

    doc_id: str
    ordinal: int
    start: int  # offsets into the cleaned document
    end: int
    text: str
    text_hash: str  # of the normalised text: equal hashes share one vector
    n_tokens: int
    sentences: list[Span]  # sentence spans, relative to `text`
    vector: np.ndarray | None = None
    sentence_vectors: np.ndarray | None = None  # as the stores keep them (sentence_codes.py)


@dataclass(slots=True)
class DocumentRecord:
    """A document as stored: cleaned text, hashes for change and duplicate detection, chunks."""

    document: Document
    raw_hash: str  # of the text as read: unchanged input is skipped before any work
    content_hash: str  # of the cleaned text: exact duplicates share it
    signature: np.ndarray | None = None  # MinHash of word shingles (uint32)
    band_keys: list[int] = field(default_factory=list)  # LSH keys of the signature
    duplicate_of: str | None = None
    duplicate_kind: str | None = None  # "exact" | "near"
    chunks: list[Chunk] = field(default_factory=list)


@dataclass(slots=True)
class WriteBatch:
    """One micro-batch: written in one transaction, so readers see all of it or none."""

    upserts: list[DocumentRecord] = field(default_factory=list)
    deletes: list[str] = field(default_factory=list)


@dataclass(slots=True)
class DocumentState:
    raw_hash: str
    content_hash: str


@dataclass(slots=True)
class StoredPassage:
    """A passage read back for search results: where it occurs and its vectors."""

    passage_id: int
    text: str
    doc_id: str
    source: str
    title: str
    start: int
    end: int
    url: str | None
    published_at: str | None
    metadata: dict
    sentences: list[Span]
    sentence_vectors: np.ndarray
    vector: np.ndarray
    also_in: list[str]
    page_starts: list[int] | None = None  # of its home document, when that has pages
