"""Bytes to text, and the one-line reasons a file or a line cannot be read."""

from __future__ import annotations

import codecs
from pathlib import Path

SNIFF_BYTES = 8 * 1024  # a NUL byte this early means a binary file


def too_large(size: int, limit: int) -> str:
    return f"too large: {size} bytes > limit {limit} (RIVERBED_MAX_DOCUMENT_BYTES)"


def open_error(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "file not found (deleted during the run?)"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, IsADirectoryError):
        return "is a directory, not a file"
    return f"cannot read: {exc.strerror or exc}"


def decode(data: bytes, offset: int = 0) -> tuple[str, str | None]:
    """UTF-8 text (a leading BOM accepted), or an error naming the first bad byte.

    `offset` is where `data` starts in its file, so the reported offset is the file's.
    """
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
        offset += len(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        bad = data[exc.start]
        return "", f"not valid UTF-8 (byte 0x{bad:02x} at offset {offset + exc.start})"


def title_from_name(path: Path) -> str:
    return " ".join(path.stem.replace("-", " ").replace("_", " ").split())
