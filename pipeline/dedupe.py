"""Stage: decide, per cleaned document, whether it is new text, an exact copy or a near copy.

Exact: the cleaned text's hash is already indexed (or earlier in this batch) under another id.
Near: MinHash over word shingles (datasketch), with LSH band keys kept in the store, finds
indexed documents whose estimated Jaccard similarity reaches the threshold. Copies are recorded
as duplicates of the first document, with no chunks of their own, so nothing is embedded twice;
their sources are listed with the original's passages.
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from collections.abc import Iterable, Iterator
from functools import cached_property
from itertools import islice
from typing import TYPE_CHECKING

import numpy as np

from index.records import DocumentRecord
from index.store.base import Store
from pipeline.clean import normalize_for_match
from pipeline.report import RunReport

if TYPE_CHECKING:
    from datasketch import MinHash


def content_hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


SHINGLES_PER_UPDATE = 4096
WORDS_STRETCH = 65_536  # characters normalised at once
_WORD = re.compile(r"\S+")  # a word as str.split finds it
_SPACE = re.compile(r"\s")


class MinHashSigner:
    """MinHash signatures of word shingles, and their LSH band keys (one per band)."""

    def __init__(
        self, threshold: float = 0.9, permutations: int = 128, shingle_words: int = 5
    ) -> None:
        if not 0 < threshold <= 1:
            raise ValueError("near-duplicate threshold must be in (0, 1]")
        self.threshold = threshold
        self.permutations = permutations
        self.shingle_words = shingle_words

    # datasketch takes over a second to import: only a run with new text needs it.
    @cached_property
    def _template(self) -> MinHash:
        from datasketch import MinHash

        return MinHash(num_perm=self.permutations, seed=1)

    @cached_property
    def _band_shape(self) -> tuple[int, int]:
        from datasketch import MinHashLSH

        bands = MinHashLSH(threshold=self.threshold, num_perm=self.permutations)
        return bands.b, bands.r

    def signature(self, text: str) -> np.ndarray:
        minhash = self._template.copy()
        # A slice at a time: datasketch hashes a batch as a permutations x shingles matrix, and
        # the words and shingles of a long document (a 2000-page PDF has a million) would take
        # hundreds of MB held at once. A shingle met twice is hashed twice: the minimum is the
        # same, so the signature is that of the set of shingles.
        shingles = self.shingles(text)
        while part := [shingle.encode() for shingle in islice(shingles, SHINGLES_PER_UPDATE)]:
            minhash.update_batch(part)
        return minhash.hashvalues.astype(np.uint32)

    def shingles(self, text: str) -> Iterator[str]:
        """The runs of `shingle_words` words of the text as matched, in order; a text with
        fewer words is one shingle (of no words, the empty one)."""
        window: deque[str] = deque(maxlen=self.shingle_words)
        whole = False
        for word in _words(text):
            window.append(word)
            if len(window) == self.shingle_words:
                whole = True
                yield " ".join(window)
        if not whole:
            yield " ".join(window)

    def band_keys(self, signature: np.ndarray) -> list[int]:
        """One 63-bit key per LSH band; documents sharing a key are near-duplicate candidates."""
        bands, rows = self._band_shape
        keys = []
        for band in range(bands):
            part = signature[band * rows : (band + 1) * rows]
            digest = hashlib.blake2b(band.to_bytes(2, "little") + part.tobytes(), digest_size=8)
            keys.append(int.from_bytes(digest.digest(), "little") >> 1)
        return keys


def _words(text: str) -> Iterator[str]:
    """The words of normalize_for_match(text), normalising a stretch at a time (each copy of a
    long text is 14 MB a 3.5M characters): stretches end at a space, which folding keeps."""
    start = 0
    while start < len(text):
        found = _SPACE.search(text, start + WORDS_STRETCH)
        end = found.end() if found else len(text)
        for word in _WORD.finditer(normalize_for_match(text[start:end])):
            yield word.group()
        start = end


def similarity(one: np.ndarray, other: np.ndarray) -> float:
    """Estimated Jaccard similarity of two documents' shingles, from their signatures."""
    return float(np.mean(one == other))


class Deduper:
    """`Deduper(store, report, signer)(records)` marks copies; it yields every record."""

    def __init__(self, store: Store, report: RunReport, signer: MinHashSigner) -> None:
        self.store = store
        self.report = report
        self.signer = signer

    def __call__(self, records: Iterable[DocumentRecord]) -> Iterator[DocumentRecord]:
        batch = list(records)
        by_content = self.store.find_content([r.content_hash for r in batch])
        earlier: list[DocumentRecord] = []  # originals met in this batch, not yet in the store
        for record in batch:
            record.signature = self.signer.signature(record.document.text)
            record.band_keys = self.signer.band_keys(record.signature)
            self._classify(record, by_content, earlier)
            if record.duplicate_of is None:
                by_content.setdefault(record.content_hash, record.document.id)
                earlier.append(record)
            yield record

    def _classify(
        self, record: DocumentRecord, by_content: dict[str, str], earlier: list[DocumentRecord]
    ) -> None:
        doc_id = record.document.id
        original = by_content.get(record.content_hash)
        if original is not None and original != doc_id:
            record.duplicate_of, record.duplicate_kind = original, "exact"
            self.report.duplicates += 1
            return
        keys = set(record.band_keys)
        candidates = self.store.near_candidates(record.band_keys) + [
            (other.document.id, other.signature) for other in earlier if keys & set(other.band_keys)
        ]
        best_id, best = None, 0.0
        for other_id, signature in candidates:
            if other_id == doc_id:
                continue
            score = similarity(signature, record.signature)
            if score > best:
                best_id, best = other_id, score
        if best_id is not None and best >= self.signer.threshold:
            record.duplicate_of, record.duplicate_kind = best_id, "near"
            self.report.near_duplicates += 1
