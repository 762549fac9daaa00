"""Consistency check of the embedded store: do the catalog, its FTS index and the FAISS view agree?

What a crash, a bug or a hand edit could break, each reported as one line:
- the catalog rules of every store (catalog_sql.py): chunks, passages, documents and duplicates
  that point at what exists, chunk counts, no half-written document;
- the FTS index matches the passages (FTS5 'integrity-check', and one FTS row per passage);
- the change log never runs ahead of the catalog generation;
- the saved vector files match their checksums and are not ahead of the catalog, and after
  catching up from them, the FAISS ids are exactly the passage ids (no orphan vector, none
  missing, none twice) and each vector is the catalog's own.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from index.store.catalog_sql import Dialect, catalog_rules, rule_problems
from index.store.disk import disk_refused
from index.store.faiss_vectors import FaissVectors
from index.store.vector_segments import Manifest, damaged_files, manifests

# (what is wrong, a query counting the rows it is wrong for): the embedded store's own rules
SQLITE_RULES = [
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


def fts_problems(db: sqlite3.Connection) -> list[str]:
    """FTS5's own check of its index against the passages; it needs the write lock a moment."""
    db.execute("BEGIN IMMEDIATE")
    try:
        db.execute("INSERT INTO passages_fts(passages_fts, rank) VALUES ('integrity-check', 1)")
    except sqlite3.DatabaseError as err:
        if disk_refused(err):  # a read-only or full disk, not a mismatch
            raise
        return [f"FTS index does not match the passages: {err}"]
    finally:
        db.execute("ROLLBACK")
    return []


def catalog_problems(db: sqlite3.Connection, dialect: Dialect) -> list[str]:
    """SQLite's own check of its pages, then every catalog rule (run in one snapshot, so a
    concurrent writer cannot make them disagree)."""
    problems = []
    quick = db.execute("PRAGMA quick_check").fetchone()[0]
    if quick != "ok":
        problems.append(f"sqlite: {quick}")
    rules = catalog_rules(dialect) + SQLITE_RULES
    return problems + rule_problems(rules, lambda query: db.execute(query).fetchone()[0])


def vector_problems(
    db: sqlite3.Connection,
    data_dir: Path,
    dim: int,
    generation: int,
    changes_since: Callable[[int], list[int] | None],
    vectors_of: Callable[[list[int]], Iterable[tuple[int, np.ndarray]]],
    all_vectors: Callable[[], Iterator[tuple[np.ndarray, np.ndarray]]],
) -> list[str]:
    """The saved vector file (not the copy a process holds), caught up, against the passages."""
    problems = []
    bad_width = db.execute(
        "SELECT COUNT(*) FROM passages WHERE length(vector) NOT IN (?, ?)",
        (dim * 2, dim * 4),  # float16 as written now, float32 as before
    ).fetchone()[0]
    if bad_width:
        problems.append(f"{bad_width} passage vector(s) are not {dim}-dimensional")
    problems += damaged_vector_files(data_dir)
    vectors = FaissVectors(data_dir, dim)
    if vectors.generation > generation:
        problems.append(
            f"the vector file (generation {vectors.generation}) is ahead of the catalog"
            f" (generation {generation}): the catalog was replaced; delete the vectors-*"
            " files to rebuild them"
        )
    vectors.catch_up(generation, changes_since, vectors_of, all_vectors)
    ids = vectors.ids()
    unique = set(ids.tolist())
    if len(unique) != len(ids):
        problems.append(f"{len(ids) - len(unique)} passage id(s) appear twice in FAISS")
    passage_ids = {row[0] for row in db.execute("SELECT id FROM passages")}
    orphans, missing = unique - passage_ids, passage_ids - unique
    if orphans:
        problems.append(f"{len(orphans)} FAISS vector(s) have no passage (orphans)")
    if missing:
        problems.append(f"{len(missing)} passage(s) have no FAISS vector")
    differing = differing_vectors(vectors, sorted(unique & passage_ids), vectors_of)
    if differing:
        problems.append(
            f"{differing} vector(s) in the vector files differ from the catalog's: delete the"
            " vectors-* files to write them anew from the catalog"
        )
    return problems


def damaged_vector_files(data_dir: Path) -> list[str]:
    """The newest saved vector files, read afresh against their checksums."""
    listed = manifests(data_dir)
    if not listed:
        return []
    path = listed[-1][1]
    try:
        manifest = Manifest.read(path)
    except (OSError, ValueError, TypeError, KeyError) as err:
        damaged = [f"{path.name} ({err})"]
    else:
        damaged = damaged_files(data_dir, manifest, fresh=True)
    if not damaged:
        return []
    return [
        f"vector file(s) {', '.join(damaged)} in {data_dir} are damaged: searches rebuild the"
        " vectors from the catalog; the next ingest writes them anew (or delete the vectors-*"
        " files)"
    ]


def differing_vectors(
    vectors: FaissVectors,
    ids: list[int],
    vectors_of: Callable[[list[int]], Iterable[tuple[int, np.ndarray]]],
    page: int = 4096,
) -> int:
    """How many of the held vectors of `ids` are not the catalog's (beyond the rounding of
    the codes the inverted lists hold: float16, or 8-bit steps of 2/255)."""
    tolerance = {"float32": 1e-6, "float16": 2e-3, "uint8": 4.5e-3}[vectors.codes]
    differing = 0
    for start in range(0, len(ids), page):
        part = ids[start : start + page]
        stored = dict(vectors_of(part))
        held = vectors.index.reconstruct_batch(np.asarray(part, dtype=np.int64))
        for row, pid in zip(held, part, strict=True):
            if not np.allclose(row, stored[pid], rtol=0, atol=tolerance):
                differing += 1
    return differing
