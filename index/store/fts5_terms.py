"""The embedded store's lexical analysis, for a store that has no FTS5: the terms BM25 counts.

The embedded store ranks lexically with SQLite FTS5 (tokenizer `unicode61`, diacritics folded,
Porter stems). For Postgres to rank alike, it must count the same terms, which its own parser and
English dictionary do not quite do (other stop words, another stemmer, hyphenated words counted
thrice). So the text is run through FTS5's own tokenizer, in an in-memory SQLite database (the
standard library has it), and the terms are handed to Postgres as ready-made tsvectors and
tsqueries: its full-text index then matches exactly what FTS5 would.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Sequence

FTS5_TOKENIZE = "porter unicode61 remove_diacritics 2"  # as the embedded store's passages_fts
BM25_K1, BM25_B = 1.2, 0.75  # FTS5's bm25() constants, which the other BM25s use to rank alike
MAX_POSITION = 16383  # Postgres keeps word positions up to this
MAX_LEXEME_BYTES = 2046  # and words up to this long


class Fts5Terms:
    """`Fts5Terms().tokens(texts)`: each text's terms, in order, as FTS5 indexes them.
    Safe to share between threads."""

    def __init__(self) -> None:
        self._db = sqlite3.connect(":memory:", check_same_thread=False, isolation_level=None)
        self._db.executescript(
            f"CREATE VIRTUAL TABLE t USING fts5(text, tokenize='{FTS5_TOKENIZE}');"
            "CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance');"
        )
        self._lock = threading.Lock()

    def tokens(self, texts: Sequence[str]) -> list[list[str]]:
        found: list[list[str]] = [[] for _ in texts]
        if not texts:
            return found
        with self._lock:
            self._db.execute("BEGIN")
            try:
                self._db.executemany(
                    "INSERT INTO t(rowid, text) VALUES (?, ?)", enumerate(texts, start=1)
                )
                for term, row in self._db.execute("SELECT term, doc FROM v ORDER BY doc, offset"):
                    found[row - 1].append(term)
            finally:
                self._db.execute("ROLLBACK")
        return found


def _quoted(lexeme: str) -> str:
    return "'" + lexeme.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_literal(tokens: Sequence[str]) -> str:
    """A Postgres tsvector of these terms at their positions (its input syntax, no parsing)."""
    positions: dict[str, list[int]] = {}
    for position, token in enumerate(tokens, start=1):
        positions.setdefault(token, []).append(min(position, MAX_POSITION))
    return " ".join(
        f"{_quoted(token)}:{','.join(map(str, sorted(set(where))))}"
        for token, where in positions.items()
        if len(token.encode()) <= MAX_LEXEME_BYTES
    )


def tsquery_literal(tokens: Sequence[str]) -> str:
    """A Postgres tsquery for one query term: its terms as a phrase (FTS5's `"term"`)."""
    return " <-> ".join(_quoted(token) for token in tokens)
