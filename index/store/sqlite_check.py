"""Consistency check of the embedded store: do the catalog, its FTS index and the FAISS view agree?

What a crash, a bug or a hand edit could break, each reported as one line:
- every chunk points at an existing document and passage; every passage has a chunk;
- each document's chunk count is right, and only duplicates (or copies whose original was
  deleted, waiting to be re-read) have no chunks; every duplicate's original exists;
- the FTS index matches the passages (FTS5 'integrity-check', and one FTS row per passage);
- the change log never runs ahead of the catalog generation;
- the saved vector file is not ahead of the catalog, and after catching up from it, the FAISS
  ids are exactly the passage ids (no orphan vector, none missing, none twice).
"""

from __future__ import annotations

import sqlite3
from typing import TYPE_CHECKING

from index.store.faiss_vectors import FaissVectors

if TYPE_CHECKING:
    from index.store.sqlite_faiss import SqliteFaissStore

# (what is wrong, a query counting the rows it is wrong for)
CATALOG_RULES = [
    (
        "chunk(s) point at a missing passage",
        "SELECT COUNT(*) FROM chunks c LEFT JOIN passages p ON p.id = c.passage_id"
        " WHERE p.id IS NULL",
    ),
    (
        "chunk(s) point at a missing document",
        "SELECT COUNT(*) FROM chunks c LEFT JOIN documents d ON d.rowid = c.doc_rowid"
        " WHERE d.rowid IS NULL",
    ),
    (
        "passage(s) have no chunk (orphans)",
        "SELECT COUNT(*) FROM passages p"
        " WHERE NOT EXISTS (SELECT 1 FROM chunks c WHERE c.passage_id = p.id)",
    ),
    (
        "document(s) have a chunk count that does not match their chunks",
        "SELECT COUNT(*) FROM documents d"
        " WHERE d.n_chunks != (SELECT COUNT(*) FROM chunks c WHERE c.doc_rowid = d.rowid)",
    ),
    (
        "document(s) are neither duplicates nor chunked (half-written)",
        "SELECT COUNT(*) FROM documents d WHERE d.duplicate_of IS NULL AND d.raw_hash != ''"
        " AND NOT EXISTS (SELECT 1 FROM chunks c WHERE c.doc_rowid = d.rowid)",
    ),
    (
        "duplicate(s) point at a missing original",
        "SELECT COUNT(*) FROM documents d WHERE d.duplicate_of IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM documents o WHERE o.id = d.duplicate_of)",
    ),
    (
        "FTS row(s) have no passage",
        "SELECT COUNT(*) FROM passages_fts_docsize f LEFT JOIN passages p ON p.id = f.id"
        " WHERE p.id IS NULL",
    ),
    (
        "passage(s) have no FTS row",
        "SELECT COUNT(*) FROM passages p LEFT JOIN passages_fts_docsize f ON f.id = p.id"
        " WHERE f.id IS NULL",
    ),
    (
        "change log entries are ahead of the catalog generation",
        "SELECT COUNT(*) FROM changes"
        " WHERE generation > (SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'generation')",
    ),
]


def check_store(store: SqliteFaissStore) -> list[str]:
    """The problems found, one line each; an empty list means the index is consistent."""
    problems = _fts_integrity(store.db)
    db = store.db
    db.execute("BEGIN")  # one snapshot: a concurrent writer cannot make rules disagree
    try:
        quick = db.execute("PRAGMA quick_check").fetchone()[0]
        if quick != "ok":
            problems.append(f"sqlite: {quick}")
        for what, query in CATALOG_RULES:
            count = db.execute(query).fetchone()[0]
            if count:
                problems.append(f"{count} {what}")
        dim = store.dim()
        if dim is not None:
            problems += _vector_problems(store, dim)
    finally:
        db.execute("COMMIT")
    return problems


def _fts_integrity(db: sqlite3.Connection) -> list[str]:
    """FTS5's own check of its index against the passages; it needs the write lock a moment."""
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("INSERT INTO passages_fts(passages_fts, rank) VALUES ('integrity-check', 1)")
    except sqlite3.DatabaseError as err:
        return [f"FTS index does not match the passages: {err}"]
    finally:
        db.execute("ROLLBACK")
    return []


def _vector_problems(store: SqliteFaissStore, dim: int) -> list[str]:
    problems = []
    generation = store.generation()
    bad_width = store.db.execute(
        "SELECT COUNT(*) FROM passages WHERE length(vector) != ?", (dim * 4,)
    ).fetchone()[0]
    if bad_width:
        problems.append(f"{bad_width} passage vector(s) are not {dim}-dimensional")
    vectors = FaissVectors(store.data_dir, dim)  # from disk, not the copy this process holds
    if vectors.generation > generation:
        problems.append(
            f"the vector file (generation {vectors.generation}) is ahead of the catalog"
            f" (generation {generation}): the catalog was replaced; delete the vectors-*"
            " files to rebuild them"
        )
    vectors.catch_up(generation, store._changes_since, store._vectors_of, store._all_vectors)
    ids = vectors.ids()
    unique = set(ids.tolist())
    if len(unique) != len(ids):
        problems.append(f"{len(ids) - len(unique)} passage id(s) appear twice in FAISS")
    passage_ids = {row[0] for row in store.db.execute("SELECT id FROM passages")}
    orphans, missing = unique - passage_ids, passage_ids - unique
    if orphans:
        problems.append(f"{len(orphans)} FAISS vector(s) have no passage (orphans)")
    if missing:
        problems.append(f"{len(missing)} passage(s) have no FAISS vector")
    return problems
