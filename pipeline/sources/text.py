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

SNIFF_BYTES = 8 * 1024  # a NUL byte this early means a binary file, unless it is UTF-16
# Byte order marks, the longest first (UTF-32 LE's starts with UTF-16 LE's).
BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
UTF16_ZEROS = 0.9  # share of zero bytes in one byte position of each pair that means UTF-16


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


def encoding_of(head: bytes) -> tuple[str, int]:
    """The encoding of text starting with `head`, and the length of its byte order mark.

    A BOM says it; without one, text whose every other byte is zero (the high bytes of Latin
    text in UTF-16) is UTF-16 of that byte order; anything else is read as UTF-8."""
    for bom, encoding in BOMS:
        if head.startswith(bom):
            return encoding, len(bom)
    pairs = len(head) // 2
    if pairs >= 2 and b"\x00" in head:
        even = head[0 : 2 * pairs : 2].count(0) / pairs
        odd = head[1 : 2 * pairs : 2].count(0) / pairs
        if odd >= UTF16_ZEROS and even <= 1 - UTF16_ZEROS:
            return "utf-16-le", 0
        if even >= UTF16_ZEROS and odd <= 1 - UTF16_ZEROS:
            return "utf-16-be", 0
    return "utf-8", 0


def decode_text(data: bytes) -> tuple[str, str | None]:
    """A file's bytes as text in the encoding `encoding_of` finds, or why they are not text."""
    encoding, bom = encoding_of(data[:SNIFF_BYTES])
    if encoding == "utf-8":
        if b"\x00" in data[:SNIFF_BYTES]:
            return "", "binary file, not text"
        return decode(data)
    try:
        return data[bom:].decode(encoding), None
    except UnicodeDecodeError as exc:
        name = encoding.upper().removesuffix("-LE").removesuffix("-BE")
        return "", f"not valid {name} (at offset {bom + exc.start})"


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
    text, error = decode_text(data)
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
