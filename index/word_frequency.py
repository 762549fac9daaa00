"""wordfreq's Zipf frequencies of English words, without loading wordfreq on the query path.

Importing wordfreq and loading its English list takes a third of a second on a quiet machine,
a second on a busy one; a question needs a few words of it. So the list's plain lowercase words
(a-z only, 289k of them) are written once, each with the Zipf frequency wordfreq itself gives
it, to a small SQLite table in the cache dir (by the first ingest that loads the model, or else
by the first question), and looked up there. wordfreq's English tokenizer keeps such a word
whole, so a plain word missing from its list has frequency 0 there as here. Any other word
(digits, accents, another language) is asked of wordfreq, which is then loaded.
"""

from __future__ import annotations

import os
import re
import sqlite3
import tempfile
import threading
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

_PLAIN = re.compile(r"[a-z]+")
_LANGUAGES = ("en",)
_lock = threading.Lock()


@lru_cache(maxsize=1)
def table_dir() -> Path:
    """The cache dir of the environment's settings (RIVERBED_CACHE_DIR or its default)."""
    from index.settings import IndexSettings

    return IndexSettings().cache_dir / "wordfreq"


def table_path(language: str, directory: Path | None = None) -> Path:
    return (directory or table_dir()) / f"{language}-{version('wordfreq')}.sqlite"


def build_table(language: str, path: Path) -> Path:
    """Write the table of `language`'s plain words and their Zipf frequencies to `path`."""
    import wordfreq

    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".sqlite.tmp")
    os.close(handle)
    try:
        with sqlite3.connect(temporary) as db:
            db.execute("CREATE TABLE zipf(word TEXT PRIMARY KEY, zipf REAL NOT NULL) WITHOUT ROWID")
            db.executemany(
                "INSERT INTO zipf VALUES (?, ?)",
                (
                    (word, wordfreq.zipf_frequency(word, language))
                    for word in wordfreq.iter_wordlist(language)
                    if _PLAIN.fullmatch(word)
                ),
            )
        db.close()
        os.replace(temporary, path)
    finally:
        Path(temporary).unlink(missing_ok=True)
    return path


def ensure_table(language: str = "en") -> Path | None:
    """The table of `language`, made now if missing; None if it cannot be written."""
    path = table_path(language)
    try:
        return path if path.is_file() else build_table(language, path)
    except (OSError, sqlite3.Error):
        return None  # no writable cache dir: wordfreq answers every word


@lru_cache(maxsize=4)
def _table(language: str) -> sqlite3.Connection | None:
    path = ensure_table(language)
    if path is None:
        return None
    try:
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    except sqlite3.Error:
        return None


def zipf_frequency(word: str, language: str = "en") -> float:
    """`wordfreq.zipf_frequency(word, language)`, the same value, fast for plain words."""
    if language in _LANGUAGES and _PLAIN.fullmatch(word):
        with _lock:
            table = _table(language)
            row = (
                table.execute("SELECT zipf FROM zipf WHERE word = ?", (word,)).fetchone()
                if table is not None
                else None
            )
        if table is not None:
            return row[0] if row else 0.0
    import wordfreq

    return wordfreq.zipf_frequency(word, language)
