"""Consistency check of the Postgres store: the rules of the embedded store's check, in SQL.

Foreign keys already guard some of them (a chunk cannot point at a missing passage); they are
checked all the same, since a check that trusts the schema finds nothing when the schema was
altered by hand. Added here: each passage's full-text terms against its text, the BM25
statistics kept in `state`, the vector width, and the HNSW index being valid.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from index.store.fts5_terms import tsvector_literal

if TYPE_CHECKING:
    from index.store.postgres import PostgresStore

# (what is wrong, a query counting the rows it is wrong for)
RULES = [
    (
        "chunk(s) point at a missing passage",
        "SELECT count(*) FROM chunks c LEFT JOIN passages p ON p.id = c.passage_id"
        " WHERE p.id IS NULL",
    ),
    (
        "chunk(s) point at a missing document",
        "SELECT count(*) FROM chunks c LEFT JOIN documents d ON d.pk = c.doc_pk WHERE d.pk IS NULL",
    ),
    (
        "passage(s) have no chunk (orphans)",
        "SELECT count(*) FROM passages p"
        " WHERE NOT EXISTS (SELECT 1 FROM chunks c WHERE c.passage_id = p.id)",
    ),
    (
        "document(s) have a chunk count that does not match their chunks",
        "SELECT count(*) FROM documents d"
        " WHERE d.n_chunks != (SELECT count(*) FROM chunks c WHERE c.doc_pk = d.pk)",
    ),
    (
        "document(s) are neither duplicates nor chunked (half-written)",
        "SELECT count(*) FROM documents d WHERE d.duplicate_of IS NULL AND d.raw_hash != ''"
        " AND NOT EXISTS (SELECT 1 FROM chunks c WHERE c.doc_pk = d.pk)",
    ),
    (
        "duplicate(s) point at a missing original",
        "SELECT count(*) FROM documents d WHERE d.duplicate_of IS NOT NULL"
        " AND NOT EXISTS (SELECT 1 FROM documents o WHERE o.id = d.duplicate_of)",
    ),
    (
        "passage count in the BM25 statistics is off by this many",
        "SELECT abs((SELECT passages FROM state) - (SELECT count(*) FROM passages))",
    ),
    (
        "lexical tokens in the BM25 statistics are off by this many",
        "SELECT abs((SELECT lexical_tokens FROM state)"
        " - (SELECT coalesce(sum(length), 0) FROM passage_terms))",
    ),
]


def check_store(store: PostgresStore) -> list[str]:
    """The problems found, one line each; an empty list means the index is consistent."""
    problems = []
    with store._snapshot() as conn:  # one snapshot: concurrent writers cannot make rules disagree
        for what, query in RULES:
            count = conn.execute(query).fetchone()[0]
            if count:
                problems.append(f"{count} {what}")
        dim = store.dim()
        if dim is not None:
            bad_width = conn.execute(
                "SELECT count(*) FROM passages WHERE vector_dims(vector) != %s", (dim,)
            ).fetchone()[0]
            if bad_width:
                problems.append(f"{bad_width} passage vector(s) are not {dim}-dimensional")
            valid = conn.execute(
                "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                " WHERE c.oid = to_regclass('passages_vector')"
            ).fetchone()
            if valid is None:
                problems.append("the HNSW index on passage vectors is missing")
            elif not valid[0]:
                problems.append("the HNSW index on passage vectors is invalid: REINDEX it")
        stale = _stale_terms(store, conn)
        if stale:
            problems.append(f"{stale} passage(s) have full-text terms that do not match their text")
    return problems


def _stale_terms(store: PostgresStore, conn: Any, page: int = 1000) -> int:
    """Passages whose stored terms are not their text's (read a page at a time)."""
    stale, last = 0, 0
    while rows := conn.execute(
        "SELECT id, text FROM passages WHERE id > %s ORDER BY id LIMIT %s", (last, page)
    ).fetchall():
        terms = store._terms.tokens([text for _, text in rows])
        stale += conn.execute(
            "SELECT count(*) FROM unnest(%s::bigint[], %s::tsvector[], %s::integer[])"
            " AS expected(passage_id, tsv, length) LEFT JOIN passage_terms t USING (passage_id)"
            " WHERE t.tsv IS DISTINCT FROM expected.tsv OR t.length IS DISTINCT FROM expected.length",
            (
                [pid for pid, _ in rows],
                [tsvector_literal(tokens) for tokens in terms],
                [len(tokens) for tokens in terms],
            ),
        ).fetchone()[0]
        last = rows[-1][0]
    return stale
