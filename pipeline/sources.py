"""Sources: turn paths and streams into Documents, reporting bad input instead of raising.

Everything here is a generator. A file that cannot be read becomes one failure in the
run report; JSONL is read line by line, so a bad record fails alone and a large file is
never held in memory.
"""

from __future__ import annotations

import codecs
import fnmatch
import json
import os
import re
import stat
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Any, BinaryIO, TextIO

from pydantic import ValidationError

from index.models import Document
from pipeline.report import RunReport

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl")

_BINARY_SNIFF_BYTES = 8 * 1024
_SKIP_CHUNK_BYTES = 1024 * 1024
_RECORD_FIELDS = frozenset({"id", "text", "title", "url", "published_at", "metadata"})
_MD_HEADING = re.compile(r"^#[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$", re.MULTILINE)


# Finding files


def iter_files(
    paths: Iterable[Path],
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    *,
    report: RunReport | None = None,
) -> Iterator[Path]:
    """Yield the files to read: given files as they are, folders walked in sorted order.

    In folders, only supported suffixes are kept, hidden names are skipped and the
    include/exclude globs are matched against both the path relative to the folder and
    the file name. An exclude glob matching a sub-folder skips that whole sub-folder.
    A missing path raises FileNotFoundError. A sub-folder that cannot be listed is
    reported when `report` is given, and raises otherwise.
    """
    for path in paths:
        path = Path(path)
        if path.is_dir():
            yield from _walk(path, path, include, exclude, report)
        elif os.path.lexists(path):
            yield path
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")


def _walk(
    root: Path,
    folder: Path,
    include: Sequence[str],
    exclude: Sequence[str],
    report: RunReport | None,
) -> Iterator[Path]:
    try:
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
    except OSError as exc:
        if report is None:
            raise
        report.fail(str(folder), f"cannot list folder: {exc.strerror or exc}")
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        relative = path.relative_to(root).as_posix()
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        if is_dir:
            # Symlinked folders are not followed: they can loop.
            if not entry.is_symlink() and not _matches(relative, entry.name, exclude):
                yield from _walk(root, path, include, exclude, report)
            continue
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            continue
        if include and not _matches(relative, entry.name, include):
            continue
        if _matches(relative, entry.name, exclude):
            continue
        yield path


def _matches(relative: str, name: str, patterns: Sequence[str]) -> bool:
    for pattern in patterns:
        candidates = [pattern]
        if pattern.startswith("**/"):
            candidates.append(pattern[3:])
        for glob in candidates:
            if fnmatch.fnmatch(relative, glob) or fnmatch.fnmatch(name, glob):
                return True
    return False


def is_wanted(
    path: Path, root: Path, include: Sequence[str] = (), exclude: Sequence[str] = ()
) -> bool:
    """Whether walking `root` would yield `path` (a file below it), by the rules of iter_files."""
    parts = path.relative_to(root).parts
    if not parts or any(part.startswith(".") for part in parts):
        return False
    for depth in range(1, len(parts)):
        if _matches("/".join(parts[:depth]), parts[depth - 1], exclude):
            return False
    relative, name = "/".join(parts), parts[-1]
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        return False
    if include and not _matches(relative, name, include):
        return False
    return not _matches(relative, name, exclude)


# Reading files


def read_paths(
    paths: Iterable[Path],
    report: RunReport,
    max_bytes: int,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> Iterator[Document]:
    """Documents from every file under `paths`. Does not count `report.seen`."""
    for path in iter_files(paths, include, exclude, report=report):
        yield from read_file(path, report, max_bytes)


def read_file(path: Path, report: RunReport, max_bytes: int) -> Iterator[Document]:
    """Documents from one file; any problem with it becomes a failure in `report`.

    `max_bytes` bounds the whole file, except for .jsonl where it bounds each line.
    """
    path = Path(path)
    where = str(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        report.fail(where, "file not found (deleted during the run?)")
        return
    except PermissionError:
        report.fail(where, "permission denied")
        return
    except OSError as exc:
        report.fail(where, f"cannot read: {exc.strerror or exc}")
        return
    if stat.S_ISDIR(info.st_mode):
        report.fail(where, "is a directory, not a file")
        return
    if not stat.S_ISREG(info.st_mode):
        report.fail(where, "not a regular file")
        return

    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        shown = suffix or "(no suffix)"
        report.fail(
            where, f"unsupported file type {shown} (supported: {', '.join(SUPPORTED_SUFFIXES)})"
        )
        return

    if suffix == ".jsonl":
        yield from _read_jsonl_file(path, report, max_bytes)
        return

    if info.st_size > max_bytes:
        report.fail(where, _too_large(info.st_size, max_bytes))
        return
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        report.fail(where, _open_error(exc))
        return
    if len(data) > max_bytes:
        # The file grew after stat().
        report.fail(where, _too_large(len(data), max_bytes))
        return
    if b"\x00" in data[:_BINARY_SNIFF_BYTES]:
        report.fail(where, "binary file, not text")
        return
    text, error = _decode(data)
    if error:
        report.fail(where, error)
        return
    if not text.strip():
        report.fail(where, "empty file")
        return

    resolved = str(path.resolve())
    if suffix == ".json":
        yield from _read_json(text, path, resolved, report)
    elif suffix in (".html", ".htm"):
        doc = _html_document(text, path, resolved)
        if doc is None:
            report.fail(where, "no main text found in HTML")
        else:
            yield doc
    elif suffix in (".md", ".markdown"):
        text = _drop_front_matter(text)
        if not text.strip():
            report.fail(where, "empty file")
            return
        heading = _MD_HEADING.search(text)
        title = heading.group(1).strip() if heading else _title_from_name(path)
        yield Document(id=resolved, source=resolved, text=text, title=title)
    else:
        yield Document(id=resolved, source=resolved, text=text, title=_title_from_name(path))


def _too_large(size: int, limit: int) -> str:
    return f"too large: {size} bytes > limit {limit} (RIVERBED_MAX_DOCUMENT_BYTES)"


def _open_error(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "file not found (deleted during the run?)"
    if isinstance(exc, PermissionError):
        return "permission denied"
    if isinstance(exc, IsADirectoryError):
        return "is a directory, not a file"
    return f"cannot read: {exc.strerror or exc}"


def _decode(data: bytes, offset: int = 0) -> tuple[str, str | None]:
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


def _title_from_name(path: Path) -> str:
    return " ".join(path.stem.replace("-", " ").replace("_", " ").split())


def _drop_front_matter(text: str) -> str:
    if text.startswith("---\n"):
        end = text.find("\n---\n", 3)
        if end != -1:
            return text[end + len("\n---\n") :]
    return text


def _html_document(html: str, path: Path, resolved: str) -> Document | None:
    """The page's main text, without navigation and footers, via trafilatura."""
    import trafilatura  # slow to import; only needed for HTML

    extracted = trafilatura.bare_extraction(
        html,
        output_format="python",
        with_metadata=True,
        include_comments=False,
        include_tables=True,
        favor_recall=True,
    )
    if extracted is None or not (extracted.text or "").strip():
        return None
    # trafilatura puts one block (paragraph, heading, list item) per line; keep them
    # apart as paragraphs so the cleaner and the chunker see the page's structure.
    text = "\n\n".join(line for line in extracted.text.splitlines() if line.strip())
    published_at = None
    if extracted.date:
        try:
            published_at = datetime.fromisoformat(extracted.date)
        except ValueError:
            published_at = None
    url = extracted.url
    if not (url and url.startswith(("http://", "https://"))):
        url = None
    return Document(
        id=resolved,
        source=resolved,
        text=text,
        title=(extracted.title or "").strip() or _title_from_name(path),
        url=url,
        published_at=published_at,
    )


# JSON records


def _record_document(
    record: Any,
    *,
    default_id: str,
    default_source: str,
    where: str,
    report: RunReport,
) -> Document | None:
    """One JSON record as a Document, or None after reporting why it cannot be one.

    Shared by .json files, .jsonl files and JSONL streams.
    """
    if not isinstance(record, dict):
        report.fail(where, "record is not a JSON object")
        return None
    text = record.get("text")
    if text is None or (isinstance(text, str) and not text.strip()):
        report.fail(where, "record has no text")
        return None
    if not isinstance(text, str):
        report.fail(where, "invalid record: text must be a string")
        return None

    raw_id = record.get("id")
    if raw_id is None:
        doc_id = default_id
    elif isinstance(raw_id, str) or (isinstance(raw_id, int) and not isinstance(raw_id, bool)):
        doc_id = str(raw_id)
    else:
        report.fail(where, "invalid record: id must be a string or an integer")
        return None

    published_at = record.get("published_at")
    if published_at is not None and not isinstance(published_at, str):
        report.fail(where, "invalid record: published_at must be an ISO date string")
        return None

    metadata = record.get("metadata")
    if metadata is None:
        metadata = {}
    elif not isinstance(metadata, dict):
        report.fail(where, "invalid record: metadata must be an object")
        return None
    extra = {key: value for key, value in record.items() if key not in _RECORD_FIELDS}
    metadata = {**extra, **metadata}

    url = record.get("url")
    try:
        return Document(
            id=doc_id,
            text=text,
            title=record.get("title") or "",
            url=url,
            source=url if isinstance(url, str) and url else default_source,
            published_at=published_at or None,
            metadata=metadata,
        )
    except ValidationError as exc:
        report.fail(where, f"invalid record: {_short_validation_message(exc)}")
        return None


def read_records(records: Iterable[Any], report: RunReport) -> Iterator[Document]:
    """Documents from JSON records already parsed (an HTTP request body, say).

    The record format is that of JSONL files. A record has no line or file to name it by, so
    one without an id fails (reported by its position, `documents[i]`) instead of getting one.
    """
    for position, record in enumerate(records):
        where = f"documents[{position}]"
        raw_id = record.get("id") if isinstance(record, dict) else None
        if isinstance(record, dict) and (raw_id is None or raw_id == ""):
            report.fail(where, "record has no id")
            continue
        if isinstance(raw_id, str | int) and not isinstance(raw_id, bool):
            where = f"{where} ({raw_id})"
        document = _record_document(
            record, default_id="", default_source="", where=where, report=report
        )
        if document is not None:
            yield document


def _short_validation_message(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    first = errors[0]
    field = ".".join(str(part) for part in first["loc"]) or "record"
    message = f"{field}: {first['msg']}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more)"
    return message


def _read_json(text: str, path: Path, resolved: str, report: RunReport) -> Iterator[Document]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        report.fail(str(path), f"malformed JSON: {exc}")
        return
    if isinstance(data, dict):
        doc = _record_document(
            data, default_id=resolved, default_source=resolved, where=str(path), report=report
        )
        if doc is not None:
            yield doc
        return
    if not isinstance(data, list):
        report.fail(str(path), "malformed JSON: expected an object or a list of objects")
        return
    for index, record in enumerate(data, start=1):
        doc = _record_document(
            record,
            default_id=f"{resolved}#{index}",
            default_source=resolved,
            where=f"{path}:{index}",
            report=report,
        )
        if doc is not None:
            yield doc


def _read_jsonl_file(path: Path, report: RunReport, max_bytes: int) -> Iterator[Document]:
    where = str(path)
    try:
        handle = path.open("rb")
    except OSError as exc:
        report.fail(where, _open_error(exc))
        return
    with handle:
        try:
            head = handle.read(_BINARY_SNIFF_BYTES)
            handle.seek(0)
        except OSError as exc:
            report.fail(where, _open_error(exc))
            return
        if b"\x00" in head:
            report.fail(where, "binary file, not text")
            return
        resolved = str(path.resolve())
        records = 0
        for doc_or_none in _iter_jsonl(
            handle,
            report,
            origin=resolved,
            where=where,
            default_source=resolved,
            max_bytes=max_bytes,
        ):
            records += 1
            if doc_or_none is not None:
                yield doc_or_none
        if records == 0:
            report.fail(where, "empty file")


def read_jsonl_stream(
    stream: BinaryIO | TextIO,
    report: RunReport,
    origin: str = "<stdin>",
    *,
    max_bytes: int | None = None,
) -> Iterator[Document]:
    """Documents from a JSONL stream such as stdin, one line at a time.

    Ids default to `origin#line`; sources to the record's url, else its id. Prefer a
    binary stream (`sys.stdin.buffer`): each line is then decoded on its own, so one
    line that is not UTF-8 fails alone. `max_bytes`, when given, bounds each line.
    """
    for doc in _iter_jsonl(
        stream, report, origin=origin, where=origin, default_source="", max_bytes=max_bytes
    ):
        if doc is not None:
            yield doc


def _iter_jsonl(
    stream: IO[bytes] | IO[str],
    report: RunReport,
    *,
    origin: str,
    where: str,
    default_source: str,
    max_bytes: int | None,
) -> Iterator[Document | None]:
    """One item per non-blank line: its Document, or None once its failure is reported."""
    limit = -1 if max_bytes is None else max_bytes + 1
    offset = 0
    number = 0
    while True:
        try:
            raw: bytes | str = stream.readline(limit)
        except UnicodeDecodeError as exc:
            # A text stream cannot resume after a decoding error.
            report.fail(where, f"not valid UTF-8 (byte 0x{exc.object[exc.start]:02x})")
            return
        except OSError as exc:
            report.fail(where, _open_error(exc))
            return
        if not raw:
            return
        number += 1
        line_at = f"{where}:{number}"
        line_start = offset
        size = len(raw.encode("utf-8")) if isinstance(raw, str) else len(raw)
        offset += size
        if max_bytes is not None and len(raw) > max_bytes:
            size += _skip_rest_of_line(stream, raw)
            offset = line_start + size
            report.fail(line_at, _too_large(size, max_bytes))
            yield None
            continue

        if isinstance(raw, bytes):
            if number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
                line_start += len(codecs.BOM_UTF8)
            line, error = _decode(raw, line_start)
            if error:
                report.fail(line_at, error)
                yield None
                continue
        else:
            line = raw.removeprefix("\ufeff") if number == 1 else raw
        if not line.strip():
            continue

        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            report.fail(line_at, f"malformed JSON: {exc.msg} at column {exc.colno}")
            yield None
            continue
        yield _record_document(
            record,
            default_id=f"{origin}#{number}",
            default_source=default_source,
            where=line_at,
            report=report,
        )


def _skip_rest_of_line(stream: IO[bytes] | IO[str], head: bytes | str) -> int:
    """Consume the rest of an over-long line in bounded chunks; return the bytes skipped."""
    newline = b"\n" if isinstance(head, bytes) else "\n"
    skipped = 0
    chunk = head
    while chunk and not chunk.endswith(newline):
        chunk = stream.readline(_SKIP_CHUNK_BYTES)
        skipped += len(chunk.encode("utf-8")) if isinstance(chunk, str) else len(chunk)
    return skipped


__all__ = [
    "SUPPORTED_SUFFIXES",
    "is_wanted",
    "iter_files",
    "read_file",
    "read_jsonl_stream",
    "read_paths",
]
