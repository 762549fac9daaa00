"""Bytes to text, the one-line reasons a file or a line cannot be read, and the text formats
(plain text, Markdown)."""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from pathlib import Path

from index.models import Document
from pipeline.report import RunReport
from pipeline.sources.blob import Blob

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


def read_text(blob: Blob, report: RunReport, max_bytes: int) -> str | None:
    """The blob as text, or None after reporting why not (too large, binary, not UTF-8, empty)."""
    try:
        size = blob.size()
        if size > max_bytes:
            report.fail(blob.where, too_large(size, max_bytes))
            return None
        with blob.open() as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        report.fail(blob.where, open_error(exc))
        return None
    if len(data) > max_bytes:  # the file grew after stat()
        report.fail(blob.where, too_large(len(data), max_bytes))
        return None
    if b"\x00" in data[:SNIFF_BYTES]:
        report.fail(blob.where, "binary file, not text")
        return None
    text, error = decode(data)
    if error:
        report.fail(blob.where, error)
        return None
    if not text.strip():
        report.fail(blob.where, "empty file")
        return None
    return text


def read_plain(blob: Blob, report: RunReport, max_bytes: int) -> Iterator[Document]:
    text = read_text(blob, report, max_bytes)
    if text is not None:
        title = title_from_name(Path(blob.name))
        yield Document(id=blob.doc_id, source=blob.source, text=text, title=title)


_MD_HEADING = re.compile(r"^#[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$", re.MULTILINE)


def read_markdown(blob: Blob, report: RunReport, max_bytes: int) -> Iterator[Document]:
    text = read_text(blob, report, max_bytes)
    if text is None:
        return
    text = _drop_front_matter(text)
    if not text.strip():
        report.fail(blob.where, "empty file")
        return
    heading = _MD_HEADING.search(text)
    title = heading.group(1).strip() if heading else title_from_name(Path(blob.name))
    yield Document(id=blob.doc_id, source=blob.source, text=text, title=title)


def _drop_front_matter(text: str) -> str:
    if text.startswith("---\n"):
        end = text.find("\n---\n", 3)
        if end != -1:
            return text[end + len("\n---\n") :]
    return text
