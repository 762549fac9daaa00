"""The embedded store's BM25 held in memory: FTS5's postings in numpy arrays, FTS5's scores.

FTS5 runs its bm25() function on every passage that holds any of a question's terms: ~3,500
rows and ~4 ms for a typical question over 18k passages, nearly all of it the function called
row by row. This view holds the same postings (for every term FTS5 indexed, the passages that
hold it and how often) and every passage's length in tokens, and evaluates FTS5's formula over
them with numpy in a fraction of that. The floating-point operations are FTS5's, in its order
(per passage, the query's terms in turn; IDF floored at 1e-6; k1 = 1.2, b = 0.75), so the scores
are equal to the last bit and ties are broken alike, by passage id.

It is a derived view, like the vector files: built from FTS5's own index (fts5vocab), saved
once built (bm25_files.py) for the next process to open, caught up from the catalog's change log
(added passages are split into terms by FTS5's tokenizer; removed ones are masked), rebuilt when
the additions or removals outgrow a share of what was built, or the log does not reach back to
it. A store answers from it only at the catalog's generation. A question term that FTS5 reads as a
phrase of several tokens (`init_subclass`) is left to FTS5 (`search` returns None).
"""

from __future__ import annotations

import math
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from index.store import bm25_files
from index.store.fts5_terms import BM25_B, BM25_K1, Fts5Terms

REBUILD_SHARE = 0.2  # rebuild once added or removed passages reach this share of the rows
_TOKENS_REMEMBERED = 100_000  # question terms whose FTS5 tokens are kept

# Postings are held compact, 6 bytes each (a million passages hold ~150 million): passage ids
# fit 32 bits, and a term occurs fewer than 65,536 times in one passage (chunks are a few
# hundred tokens; more is clipped, which changes no score: BM25 saturates long before).
DOC_TYPE = np.int32
FREQ_TYPE = np.uint16
# The postings are read this many term occurrences at a time: each range's parsing holds the
# GIL for some tens of milliseconds, so a server reading them apart still answers in between.
BUILD_OCCURRENCES = 1_000_000

# Per term (in the given range), every occurrence's passage id, in term order then passage
# order: one row per term.
_VOCABULARY = (
    "SELECT term, count(*), group_concat(doc) FROM temp.{vocab}"
    " WHERE term >= ? AND term <= ? GROUP BY term"
)


@dataclass(frozen=True, slots=True)
class _Postings:
    """One consistent state; replaced, never changed, so searches need no lock."""

    generation: int
    terms: dict[str, int]  # term -> its row in `offsets`
    offsets: np.ndarray  # postings of term row r: docs[offsets[r]:offsets[r + 1]]
    docs: np.ndarray  # passage ids (DOC_TYPE)
    freqs: np.ndarray  # how often the term occurs in each (FREQ_TYPE; float64 when scored)
    added: dict[str, tuple[np.ndarray, np.ndarray]]  # postings of passages added since the build
    lengths: np.ndarray  # tokens per passage id (float64)
    alive: np.ndarray  # passage id -> in the index (bool)
    rows: int  # passages
    tokens: float  # tokens in all passages
    removed: int  # passages removed since the build (their postings masked by `alive`)
    built_rows: int

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        row = self.terms.get(term)
        docs, freqs = (
            (
                self.docs[self.offsets[row] : self.offsets[row + 1]],
                self.freqs[self.offsets[row] : self.offsets[row + 1]],
            )
            if row is not None
            else (self.docs[:0], self.freqs[:0])
        )
        if term in self.added:
            more_docs, more_freqs = self.added[term]
            docs, freqs = np.concatenate([docs, more_docs]), np.concatenate([freqs, more_freqs])
        if self.removed:
            keep = self.alive[docs]
            docs, freqs = docs[keep], freqs[keep]
        return docs, freqs


class Bm25Postings:
    """`search(terms, k)`: FTS5's BM25 top-k, from memory. Safe to share between threads."""

    def __init__(self, terms: Fts5Terms | None = None, saved_in: Path | None = None) -> None:
        """`saved_in`: the folder whose saved postings (bm25_files.py) are opened instead of
        reading FTS5, and where a fresh reading is saved."""
        self._state: _Postings | None = None
        self._saved_in = saved_in
        self._lock = threading.Lock()  # one catch-up at a time
        self._fts5_terms = terms or Fts5Terms()
        self._tokens: dict[str, tuple[str, ...]] = {}

    @property
    def generation(self) -> int | None:
        return None if self._state is None else self._state.generation

    def catch_up(
        self,
        db: sqlite3.Connection,
        generation: int,
        changes_since: Callable[[int], list[int] | None],
        texts_of: Callable[[list[int]], Iterable[tuple[int, str]]],
    ) -> None:
        """Bring the postings to `generation`, read through `db` (in the caller's snapshot).

        `changes_since(g)` lists passage ids touched after generation g, or None when the log no
        longer reaches back that far; `texts_of(ids)` gives the texts of those that exist."""
        with self._lock:
            state = self._state
            if state is not None and state.generation == generation:
                return
            if state is None and self._saved_in is not None:
                state = _opened(self._saved_in, generation)
            touched = (
                changes_since(state.generation)
                if state is not None and state.generation <= generation
                else None
            )
            if touched is not None and state is not None:
                state = self._apply(state, generation, touched, texts_of)
            if state is None or touched is None or _outgrown(state):
                state = _build(db, generation)
                if self._saved_in is not None:
                    _save(self._saved_in, state)
            self._state = state

    def search(
        self, terms: Sequence[str], k: int, allowed: Sequence[int] | None = None
    ) -> list[tuple[int, float]] | None:
        """(passage id, BM25) best first, ties by id; None when a term is a phrase to FTS5."""
        state = self._state
        tokens = self.tokens_of(terms)
        if state is None or tokens is None:
            return None
        average = state.tokens / state.rows if state.rows else 0.0
        found = [state.postings(token[0]) for token in tokens if token]
        if not found:
            return []
        ids, where = np.unique(np.concatenate([docs for docs, _ in found]), return_inverse=True)
        scores = np.zeros(len(ids))
        start = 0
        for docs, counts in found:  # FTS5's sum: the query's terms in turn
            hits = len(docs)
            freqs = counts.astype(np.float64)
            idf = math.log((state.rows - hits + 0.5) / (hits + 0.5))
            if idf <= 0.0:
                idf = 1e-6
            lengths = state.lengths[docs]
            scores[where[start : start + hits]] += idf * (
                (freqs * (BM25_K1 + 1.0))
                / (freqs + BM25_K1 * (1 - BM25_B + BM25_B * lengths / average))
            )
            start += hits
        if allowed is not None:
            keep = np.isin(ids, np.asarray(allowed, dtype=np.int64))
            ids, scores = ids[keep], scores[keep]
        return _top(ids, scores, k)

    def document_counts(self, terms: Sequence[str]) -> tuple[dict[str, int], int] | None:
        """Passages holding each term, and all passages (FTS5's counts); None as `search`."""
        state = self._state
        tokens = self.tokens_of(terms)
        if state is None or tokens is None:
            return None
        counts = {
            term: len(state.postings(token[0])[0]) if token else 0
            for term, token in zip(terms, tokens, strict=True)
        }
        return counts, state.rows

    def tokens_of(self, terms: Sequence[str]) -> list[tuple[str, ...]] | None:
        """Each term's FTS5 tokens (none or one each), or None if a term has several."""
        known = self._tokens  # this call's own reference: another thread may start a new dict
        unknown = [term for term in dict.fromkeys(terms) if term not in known]
        if unknown:
            found = self._fts5_terms.tokens(unknown)
            if len(known) > _TOKENS_REMEMBERED:
                known = {}
            known.update((term, tuple(tokens)) for term, tokens in zip(unknown, found, strict=True))
            self._tokens = known
        tokens = [known[term] for term in terms]
        return None if any(len(token) > 1 for token in tokens) else tokens

    def _apply(
        self,
        state: _Postings,
        generation: int,
        touched: list[int],
        texts_of: Callable[[list[int]], Iterable[tuple[int, str]]],
    ) -> _Postings:
        """The state with the touched passages' changes: the new ones added, the gone masked."""
        texts = dict(texts_of(touched))
        gone = [pid for pid in touched if pid not in texts and _known(state, pid)]
        new = [(pid, text) for pid, text in texts.items() if not _known(state, pid)]
        if not gone and not new:
            return replace(state, generation=generation)
        size = max([len(state.alive), *(pid + 1 for pid, _ in new)])
        alive, lengths = _grown(state.alive, size), _grown(state.lengths, size)
        alive[gone] = False
        tokens = state.tokens - float(lengths[gone].sum())
        additions: dict[str, tuple[list[int], list[int]]] = {}
        split = self._fts5_terms.tokens([text for _, text in new])
        for (pid, _), passage_tokens in zip(new, split, strict=True):
            alive[pid], lengths[pid] = True, len(passage_tokens)
            tokens += len(passage_tokens)
            counts: dict[str, int] = {}
            for token in passage_tokens:
                counts[token] = counts.get(token, 0) + 1
            for token, count in counts.items():
                docs, freqs = additions.setdefault(token, ([], []))
                docs.append(pid)
                freqs.append(count)
        added = dict(state.added)
        for token, (docs, freqs) in additions.items():
            old_docs, old_freqs = added.get(token, (state.docs[:0], state.freqs[:0]))
            added[token] = (
                np.concatenate([old_docs, np.asarray(docs, dtype=DOC_TYPE)]),
                np.concatenate([old_freqs, _counts(freqs)]),
            )
        return replace(
            state,
            generation=generation,
            added=added,
            lengths=lengths,
            alive=alive,
            rows=state.rows - len(gone) + len(new),
            tokens=tokens,
            removed=state.removed + len(gone),
        )


def _build(db: sqlite3.Connection, generation: int) -> _Postings:
    """Every posting of the catalog's FTS5 index, read through temporary fts5vocab tables a
    range of terms at a time (BUILD_OCCURRENCES), so reading holds one range's text at once."""
    db.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.riverbed_passage_terms USING"
        " fts5vocab(main, passages_fts, instance)"
    )
    db.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.riverbed_term_counts USING"
        " fts5vocab(main, passages_fts, row)"
    )
    # FTS5's own row list (the rows bm25() counts), a narrow table: the passages table's pages
    # are left unread.
    passage_ids = np.fromiter(
        (row[0] for row in db.execute("SELECT id FROM passages_fts_docsize")), np.int64
    )
    terms: dict[str, int] = {}
    docs_parts, freqs_parts, counts_parts = [], [], []
    for first, last in _term_ranges(db):
        rows = db.execute(
            _VOCABULARY.format(vocab="riverbed_passage_terms"), (first, last)
        ).fetchall()
        terms.update((row[0], len(terms)) for row in rows)
        occurrences = np.fromiter((row[1] for row in rows), dtype=np.int64, count=len(rows))
        # Each occurrence's passage, grouped by term, in passage order within a term.
        text = ",".join(row[2] for row in rows)
        occurrence_docs = np.fromstring(text, dtype=np.int64, sep=",")
        del text, rows
        occurrence_terms = np.repeat(np.arange(len(occurrences)), occurrences)
        first_of_run = np.ones(len(occurrence_docs), dtype=bool)
        first_of_run[1:] = (occurrence_docs[1:] != occurrence_docs[:-1]) | (
            occurrence_terms[1:] != occurrence_terms[:-1]
        )
        starts = np.flatnonzero(first_of_run)
        docs_parts.append(occurrence_docs[starts].astype(DOC_TYPE))
        freqs_parts.append(_counts(np.diff(np.append(starts, len(occurrence_docs)))))
        counts_parts.append(np.bincount(occurrence_terms[starts], minlength=len(occurrences)))
        time.sleep(0)  # let other threads have the GIL between ranges
    docs = np.concatenate(docs_parts) if docs_parts else np.zeros(0, DOC_TYPE)
    freqs = np.concatenate(freqs_parts) if freqs_parts else np.zeros(0, FREQ_TYPE)
    per_term = np.concatenate(counts_parts) if counts_parts else np.zeros(0, np.int64)
    offsets = np.concatenate([[0], np.cumsum(per_term)]).astype(np.int64)
    size = int(max(passage_ids.max(initial=0), docs.max(initial=0))) + 1
    lengths = np.bincount(docs, weights=freqs, minlength=size).astype(np.float64)
    alive = np.zeros(size, dtype=bool)
    alive[passage_ids] = True
    return _Postings(
        generation=generation,
        terms=terms,
        offsets=offsets,
        docs=docs,
        freqs=freqs,
        added={},
        lengths=lengths,
        alive=alive,
        rows=len(passage_ids),
        tokens=float(lengths.sum()),
        removed=0,
        built_rows=len(passage_ids),
    )


def _save(directory: Path, state: _Postings) -> None:
    """Save a state as read from FTS5 (nothing added or removed since)."""
    arrays = {
        name: getattr(state, name) for name in ("offsets", "docs", "freqs", "lengths", "alive")
    }
    sizes = {"rows": state.rows, "tokens": state.tokens, "built_rows": state.built_rows}
    bm25_files.save(directory, state.generation, arrays, list(state.terms), sizes)


def _opened(directory: Path, generation: int) -> _Postings | None:
    """The newest saved state no newer than `generation`, its arrays mapped, not read."""
    saved = bm25_files.load(directory, generation)
    if saved is None:
        return None
    arrays, terms, sizes = saved
    return _Postings(
        generation=int(sizes["generation"]),
        terms={term: row for row, term in enumerate(terms)},
        added={},
        rows=int(sizes["rows"]),
        tokens=float(sizes["tokens"]),
        removed=0,
        built_rows=int(sizes["built_rows"]),
        **arrays,
    )


def _term_ranges(db: sqlite3.Connection) -> list[tuple[str, str]]:
    """Ranges of FTS5's terms (first, last; in its order) of about BUILD_OCCURRENCES each."""
    ranges, first, held, previous = [], None, 0, None
    for term, occurrences in db.execute("SELECT term, cnt FROM temp.riverbed_term_counts"):
        if first is None:
            first = term
        held += occurrences
        previous = term
        if held >= BUILD_OCCURRENCES:
            ranges.append((first, term))
            first, held = None, 0
    if first is not None and previous is not None:
        ranges.append((first, previous))
    return ranges


def _counts(counts: np.ndarray | list[int]) -> np.ndarray:
    """Occurrence counts as FREQ_TYPE, clipped to its range."""
    return np.minimum(np.asarray(counts), np.iinfo(FREQ_TYPE).max).astype(FREQ_TYPE)


def _known(state: _Postings, passage_id: int) -> bool:
    return passage_id < len(state.alive) and bool(state.alive[passage_id])


def _grown(array: np.ndarray, size: int) -> np.ndarray:
    """A copy of `array`, zero-padded to `size`."""
    grown = np.zeros(size, dtype=array.dtype)
    grown[: len(array)] = array
    return grown


def _outgrown(state: _Postings) -> bool:
    added = sum(len(docs) for docs, _ in state.added.values())
    return state.removed > REBUILD_SHARE * max(state.built_rows, 1) or added > REBUILD_SHARE * max(
        len(state.docs), 1
    )


def _top(ids: np.ndarray, scores: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The `k` best (id, score): highest score first, then lowest id."""
    if k <= 0 or len(ids) == 0:
        return []
    if len(ids) > k:
        # Everything that scores at least the k-th best, ties included, then sorted.
        threshold = np.partition(scores, len(scores) - k)[len(scores) - k]
        keep = scores >= threshold
        ids, scores = ids[keep], scores[keep]
    order = np.lexsort((ids, -scores))[:k]
    return [(int(i), float(s)) for i, s in zip(ids[order], scores[order], strict=True)]
