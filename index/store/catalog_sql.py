"""The catalog's data model in SQL, written once for both stores (SQLite and Postgres).

Both stores keep the same tables — documents, passages (one per distinct text), chunks (a
passage's occurrences in documents), runs — and differ only in how they spell a few things,
which a `Dialect` says. Written here once:

- which passages a filter lets through, with the rule that a duplicate that passes lets its
  original's passages through (its text is indexed under the original);
- how passages are read back: each placed at its first occurrence (its home document), with the
  sources of its other occurrences and of exact copies in `also_in`;
- the consistency rules a check counts, documents as `document()` returns them, runs as
  `runs()` does, and the statements that are the same in both.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from index.models import Filters
from index.records import Span, StoredPassage

Rows = Callable[[str, list[Any]], Iterable[Sequence[Any]]]  # run a query, get its rows
# A passage row (id, text, sentences, sentence vectors, vector, sentence vectors' format: their
# bits, see sentence_codes.py) as the database holds it, to
# (sentence spans, sentence vectors, vector) as search reads it; all rows of a read at once.
DecodePassages = Callable[[list[Sequence[Any]]], list[tuple[list[Span], np.ndarray, np.ndarray]]]

PARTS = 500  # values per IN list (SQLite's limit on variables is far above)


@dataclass(frozen=True)
class Dialect:
    """How one database spells the data model: its placeholder, the key that chunks use to
    point at documents, a list match, a metadata match, instants."""

    param: str  # "?" or "%s"
    document_key: str  # documents' row key: "rowid" (SQLite) or "pk" (Postgres)
    chunk_document: str  # the chunks column that points at it
    lists_as_arrays: bool  # `col = ANY(%s)` with one array parameter, or `col IN (?, ?, …)`
    metadata_equals: str  # a condition on `d` with two parameters: key, value (as text)
    instant: Callable[[datetime], Any]  # a datetime as the published_at column compares it
    published: Callable[[Any], str | None]  # published_at as read, as an ISO string
    metadata: Callable[[Any], dict[str, Any]]  # metadata as read, as a dict
    page_starts: Callable[[Any], list[int] | None]  # page starts as read, as a list

    def any_of(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        if self.lists_as_arrays:
            return f"{column} = ANY({self.param})", [list(values)]
        return f"{column} IN ({', '.join([self.param] * len(values))})", list(values)

    def joined(self) -> str:
        """Chunks `c` with their documents `d`."""
        return f"chunks c JOIN documents d ON d.{self.document_key} = c.{self.chunk_document}"


def iso_utc(value: datetime | None) -> str | None:
    """An instant as SQLite keeps it: ISO 8601 in UTC (a naive one is taken as UTC)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC).isoformat()
    except OverflowError:  # within hours of year 1 or 9999: the nearest representable instant
        edge = datetime.min if value.year == 1 else datetime.max
        return edge.replace(tzinfo=UTC).isoformat()


def aware_utc(value: datetime | None) -> datetime | None:
    """An instant as Postgres compares it: timezone-aware (a naive one is taken as UTC)."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def iso_string(value: datetime | None, timespec: str = "auto") -> str | None:
    """A timestamptz read from Postgres as the ISO string the embedded store returns."""
    return None if value is None else value.astimezone(UTC).isoformat(timespec=timespec)


SQLITE = Dialect(
    param="?",
    document_key="rowid",
    chunk_document="doc_rowid",
    lists_as_arrays=False,
    # json_each compares keys as plain text: any key works, where a JSON path would break.
    metadata_equals="EXISTS (SELECT 1 FROM json_each(d.metadata) AS m"
    " WHERE m.key = ? AND CAST(m.value AS TEXT) = ?)",
    instant=iso_utc,
    published=lambda text: text,
    metadata=lambda text: json.loads(text) if text != "{}" else {},
    page_starts=lambda text: json.loads(text) if text else None,
)
POSTGRES = Dialect(
    param="%s",
    document_key="pk",
    chunk_document="doc_pk",
    lists_as_arrays=True,
    metadata_equals="d.metadata ->> %s = %s",
    instant=aware_utc,
    published=iso_string,
    metadata=lambda jsonb: jsonb,
    page_starts=lambda array: list(array) if array else None,
)


# -- filters -----------------------------------------------------------------------------------


def allowed_passages(filters: Filters | None, dialect: Dialect) -> tuple[str, list[Any]] | None:
    """A query of the ids of the passages of documents that pass `filters` (None: no filter).

    Every given field must hold; lists mean any of. A duplicate that passes lets its original's
    passages through: a copy has no chunks of its own."""
    if filters is None or filters.is_empty():
        return None
    conditions: list[str] = []
    params: list[Any] = []

    def add(condition: str, values: list[Any]) -> None:
        conditions.append(condition)
        params.extend(values)

    if filters.doc_ids:
        add(*dialect.any_of("d.id", filters.doc_ids))
    if filters.sources:
        add(*dialect.any_of("d.source", filters.sources))
    for key, value in (filters.metadata or {}).items():
        add(dialect.metadata_equals, [key, str(value)])
    if filters.published_after:
        add(f"d.published_at >= {dialect.param}", [dialect.instant(filters.published_after)])
    if filters.published_before:
        add(f"d.published_at <= {dialect.param}", [dialect.instant(filters.published_before)])
    where = " AND ".join(conditions)
    query = (
        f"SELECT DISTINCT c.passage_id FROM {dialect.joined()} WHERE ({where})"
        f" OR d.id IN (SELECT d.duplicate_of FROM documents d WHERE {where})"
    )
    return query, params + params


# -- reading passages --------------------------------------------------------------------------


def read_passages(
    passage_ids: Iterable[int], rows: Rows, dialect: Dialect, decode: DecodePassages
) -> dict[int, StoredPassage]:
    """The passages among `passage_ids` that exist, as search reads them. `rows` runs a query
    (the caller runs them all in one snapshot); `decode` turns the store's passage rows into
    vectors."""
    ids = list(dict.fromkeys(int(pid) for pid in passage_ids))
    if not ids:
        return {}
    occurrences: dict[int, list[Sequence[Any]]] = {}
    for part in parts(ids):
        condition, params = dialect.any_of("c.passage_id", part)
        for row in rows(
            f'SELECT c.passage_id, c.start, c."end", d.id, d.source, d.title, d.url,'
            f" d.published_at, d.metadata, d.page_starts FROM {dialect.joined()}"
            f" WHERE {condition}"
            f" ORDER BY d.{dialect.document_key}, c.ordinal",
            params,
        ):
            occurrences.setdefault(row[0], []).append(row[1:])
    copies: dict[str, list[str]] = {}
    for part in parts(sorted({occ[2] for occs in occurrences.values() for occ in occs})):
        condition, params = dialect.any_of("duplicate_of", part)
        for original, source in rows(
            f"SELECT duplicate_of, source FROM documents WHERE {condition}"
            f" ORDER BY {dialect.document_key}",
            params,
        ):
            copies.setdefault(original, []).append(source)
    found: list[Sequence[Any]] = []
    for part in parts(ids):
        condition, params = dialect.any_of("id", part)
        found += [
            row
            for row in rows(
                "SELECT id, text, sentences, sentence_vectors, vector, sentence_bits FROM passages"
                f" WHERE {condition}",
                params,
            )
            if occurrences.get(row[0])
        ]
    passages = {}
    for row, (spans, sentence_vectors, vector) in zip(found, decode(found), strict=True):
        pid, text = row[0], row[1]
        home = occurrences[pid][0]
        passages[pid] = passage_at_home(
            pid,
            text,
            occurrences[pid],
            copies,
            published_at=dialect.published(home[6]),
            metadata=dialect.metadata(home[7]),
            page_starts=dialect.page_starts(home[8]),
            sentences=spans,
            sentence_vectors=sentence_vectors,
            vector=vector,
        )
    return passages


def passage_at_home(
    passage_id: int,
    text: str,
    occurrences: Sequence[Sequence[Any]],
    copies: dict[str, list[str]],
    **fields: Any,
) -> StoredPassage:
    """A passage as search reads it, placed at its first occurrence (its home document).

    `occurrences` are (start, end, doc id, source, title, url, ...) in document order; `copies`
    maps a document id to the sources of its exact duplicates. `also_in` lists the sources of the
    other occurrences and of every such document's copies. `fields` gives the rest
    (published_at, metadata, sentences, sentence_vectors, vector), decoded by the store."""
    start, end, doc_id, source, title, url = occurrences[0][:6]
    also_in = [occurrence[3] for occurrence in occurrences[1:]] + copies.get(doc_id, [])
    for occurrence in occurrences[1:]:
        also_in += copies.get(occurrence[2], [])
    return StoredPassage(
        passage_id=passage_id,
        text=text,
        doc_id=doc_id,
        source=source,
        title=title,
        start=start,
        end=end,
        url=url,
        also_in=list(dict.fromkeys(s for s in also_in if s != source)),
        **fields,
    )


def parts(items: list[Any], size: int = PARTS) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# -- documents, runs and the statements both stores share ---------------------------------------

# A stored document as `Store.document()` returns it: field name -> column of `documents`.
DOCUMENT_FIELDS: dict[str, str] = {
    "id": "id",
    "source": "source",
    "title": "title",
    "url": "url",
    "published_at": "published_at",
    "metadata": "metadata",
    "text": "text",
    "duplicate_of": "duplicate_of",
    "duplicate_kind": "duplicate_kind",
    "chunks": "n_chunks",
    "tokens": "n_tokens",
    "version": "version",
    "ingested_at": "ingested_at",
    "updated_at": "updated_at",
}
RUN_FIELDS = ("id", "job", "started_at", "ended_at", "status", "report", "error")
CRASHED = "the process ended before the run did; the batches it committed are kept"


def select_document(dialect: Dialect) -> str:
    return f"SELECT {', '.join(DOCUMENT_FIELDS.values())} FROM documents WHERE id = {dialect.param}"


def document_from_row(row: Sequence[Any]) -> dict[str, Any]:
    return dict(zip(DOCUMENT_FIELDS, row, strict=True))


def select_runs(dialect: Dialect) -> str:
    return f"SELECT {', '.join(RUN_FIELDS)} FROM runs ORDER BY id DESC LIMIT {dialect.param}"


def run_from_row(row: Sequence[Any]) -> dict[str, Any]:
    return dict(zip(RUN_FIELDS, row, strict=True))


def forget_copies(dialect: Dialect) -> str:
    """A deleted document's copies lose their original: their hashes are forgotten, so the next
    ingest of their files indexes them as originals."""
    return (
        "UPDATE documents SET raw_hash = '', content_hash = '', duplicate_of = NULL,"
        f" duplicate_kind = NULL WHERE duplicate_of = {dialect.param}"
    )


def like_prefix(prefix: str) -> str:
    """A LIKE pattern (escape character: backslash) for values that start with `prefix`."""
    return prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


# -- consistency ---------------------------------------------------------------------------------


def catalog_rules(dialect: Dialect) -> list[tuple[str, str]]:
    """(what is wrong, a query counting the rows it is wrong for), for any store's catalog."""
    key, chunk_document = dialect.document_key, dialect.chunk_document
    return [
        (
            "chunk(s) point at a missing passage",
            "SELECT COUNT(*) FROM chunks c LEFT JOIN passages p ON p.id = c.passage_id"
            " WHERE p.id IS NULL",
        ),
        (
            "chunk(s) point at a missing document",
            f"SELECT COUNT(*) FROM chunks c LEFT JOIN documents d ON d.{key} = c.{chunk_document}"
            f" WHERE d.{key} IS NULL",
        ),
        (
            "passage(s) have no chunk (orphans)",
            "SELECT COUNT(*) FROM passages p"
            " WHERE NOT EXISTS (SELECT 1 FROM chunks c WHERE c.passage_id = p.id)",
        ),
        (
            "document(s) have a chunk count that does not match their chunks",
            "SELECT COUNT(*) FROM documents d WHERE d.n_chunks !="
            f" (SELECT COUNT(*) FROM chunks c WHERE c.{chunk_document} = d.{key})",
        ),
        (
            "document(s) are neither duplicates nor chunked (half-written)",
            "SELECT COUNT(*) FROM documents d WHERE d.duplicate_of IS NULL AND d.raw_hash != ''"
            f" AND NOT EXISTS (SELECT 1 FROM chunks c WHERE c.{chunk_document} = d.{key})",
        ),
        (
            "duplicate(s) point at a missing original",
            "SELECT COUNT(*) FROM documents d WHERE d.duplicate_of IS NOT NULL"
            " AND NOT EXISTS (SELECT 1 FROM documents o WHERE o.id = d.duplicate_of)",
        ),
    ]


def rule_problems(rules: Iterable[tuple[str, str]], count: Callable[[str], int]) -> list[str]:
    """One line per rule that some rows break: the count, then what is wrong."""
    problems = []
    for what, query in rules:
        broken = count(query)
        if broken:
            problems.append(f"{broken} {what}")
    return problems
