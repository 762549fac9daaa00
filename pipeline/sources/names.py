"""File paths as the names documents carry (ids and sources), and back.

A Linux file name is bytes; Python spells a byte that is not UTF-8 as a lone surrogate
(`bad\\udcff.txt`), which no catalog can store. Such a byte is written `\\xff` in the name
instead, so the name is text, stays one per file, and still reads as the path it came from.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from index.storable import without_surrogates

_ESCAPED = re.compile(rb"\\x([0-9a-f]{2})")


def name_of(path: str | Path) -> str:
    """The text a path is named by in the catalog: the path itself when it is UTF-8."""
    return without_surrogates(os.fspath(path))


def path_of(name: str) -> str:
    """The path a catalog name was made from (the inverse of `name_of`)."""
    if "\\x" not in name or os.path.lexists(name):
        return name
    raw = _ESCAPED.sub(lambda match: bytes([int(match.group(1), 16)]), name.encode("utf-8"))
    return os.fsdecode(raw)
