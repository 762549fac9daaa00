"""wordfreq's Zipf frequencies of English words, without loading wordfreq on the query path.

Importing wordfreq and loading its English list takes about a second, longer than the rest of a
cold `riverbed ask`; a question needs a few words of it. So the list's plain lowercase words
(a-z only, 289k of them) are written once, with the Zipf frequency wordfreq itself gives each,
to a small SQLite table in the cache dir, and looked up there. wordfreq's English tokenizer
keeps such a word whole, so a plain word missing from the list has frequency 0 there as here.
Any other word (digits, accents, another language) is asked of wordfreq, which is then loaded.
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
    from index.settings import Settings

    return Settings().cache_dir / "wordfreq"


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


@lru_cache(maxsize=4)
def _table(language: str) -> sqlite3.Connection | None:
    path = table_path(language)
    try:
        if not path.is_file():
            build_table(language, path)
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    except OSError:
        return None  # no writable cache dir: wordfreq answers every word


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
