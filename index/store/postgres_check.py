"""Consistency check of the Postgres store: the catalog rules of every store, in its SQL.

Foreign keys already guard some of them (a chunk cannot point at a missing passage); they are
checked all the same, since a check that trusts the schema finds nothing when the schema was
altered by hand. Added here: each passage's full-text terms against its text, the BM25
statistics kept in `state`, the vector width, and the HNSW index being valid.
"""

from __future__ import annotations

from typing import Any

from index.store.catalog_sql import Dialect, catalog_rules, rule_problems
from index.store.fts5_terms import Fts5Terms, tsvector_literal

# (what is wrong, a query counting the rows it is wrong for): Postgres's own rules
POSTGRES_RULES = [
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


def catalog_problems(conn: Any, dialect: Dialect, dim: int | None, terms: Fts5Terms) -> list[str]:
    """The problems found, one line each, in the snapshot `conn` is in (so that concurrent
    writers cannot make rules disagree); an empty list means the index is consistent."""
    rules = catalog_rules(dialect) + POSTGRES_RULES
    problems = rule_problems(rules, lambda query: conn.execute(query).fetchone()[0])
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
    stale = _stale_terms(conn, terms)
    if stale:
        problems.append(f"{stale} passage(s) have full-text terms that do not match their text")
    return problems


def _stale_terms(conn: Any, terms: Fts5Terms, page: int = 1000) -> int:
    """Passages whose stored terms are not their text's (read a page at a time)."""
    stale, last = 0, 0
    while rows := conn.execute(
        "SELECT id, text FROM passages WHERE id > %s ORDER BY id LIMIT %s", (last, page)
    ).fetchall():
        tokens = terms.tokens([text for _, text in rows])
        stale += conn.execute(
            "SELECT count(*) FROM unnest(%s::bigint[], %s::tsvector[], %s::integer[])"
            " AS expected(passage_id, tsv, length) LEFT JOIN passage_terms t USING (passage_id)"
            " WHERE t.tsv IS DISTINCT FROM expected.tsv OR t.length IS DISTINCT FROM expected.length",
            (
                [pid for pid, _ in rows],
                [tsvector_literal(each) for each in tokens],
                [len(each) for each in tokens],
            ),
        ).fetchone()[0]
        last = rows[-1][0]
    return stale
