"""What a document may hold so that the catalog can keep it and every search can return it.

Text is Unicode without lone surrogates (a `"\\ud800"` escape in JSON, a file name's undecodable
byte as Python spells it): neither SQLite nor Postgres nor a JSON response can encode one.
Metadata is JSON that every reader parses back: finite numbers (no NaN or Infinity), keys
that JSON can spell, at most MAX_METADATA_DEPTH levels of objects and lists. Each rule fails
with a one-line reason that names where it broke (`metadata.a.b[3]`).
"""

from __future__ import annotations

import math
import re
from typing import Any

MAX_METADATA_DEPTH = 32  # levels of objects and lists; real metadata has two or three
_SURROGATE = re.compile("[\ud800-\udfff]")
_JSON_KEYS = (str, int, float, bool, type(None))


def check_text(value: str, field: str) -> str:
    """`value` if it is Unicode text; a ValueError naming `field` if it holds a lone surrogate."""
    found = _SURROGATE.search(value)
    if found is not None:
        raise ValueError(
            f"{field} holds a lone surrogate (U+{ord(found.group()):04X} at character"
            f" {found.start()}), which is not Unicode text"
        )
    return value


def check_metadata(metadata: dict[str, Any]) -> dict[str, Any]:
    """`metadata` if JSON can hold it and give it back; a ValueError saying where it cannot.

    Walked without recursion, so any depth is reported, never a RecursionError."""
    pending: list[tuple[Any, str, int]] = [(metadata, "metadata", 1)]
    while pending:
        value, where, depth = pending.pop()
        if isinstance(value, dict | list | tuple):
            if depth > MAX_METADATA_DEPTH:
                raise ValueError(f"metadata is nested deeper than {MAX_METADATA_DEPTH} levels")
            if isinstance(value, dict):
                for key, item in value.items():
                    if not isinstance(key, _JSON_KEYS):
                        raise ValueError(f"{where}: key {key!r} is not a string")
                    name = f"{where}.{key}"
                    if isinstance(key, str):
                        check_text(key, f"{where} key {key!r}")
                    pending.append((item, name, depth + 1))
            else:
                pending.extend((item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value))
        elif isinstance(value, float) and not math.isfinite(value):
            spelled = "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"
            raise ValueError(f"{where} is {spelled}, which JSON cannot hold")
        elif isinstance(value, str):
            check_text(value, where)
    return metadata


def without_surrogates(text: str) -> str:
    """`text` with each lone surrogate spelled out: a byte that Python decoded as one (a file
    name's `\\udcff`) as `\\xff`, any other as `\\ud800`. For names and messages, which must be
    text whatever they came from."""
    if _SURROGATE.search(text) is None:
        return text
    try:
        raw = text.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return raw.decode("utf-8", "backslashreplace")
