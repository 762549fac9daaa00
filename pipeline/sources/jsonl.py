"""JSON and JSONL: a .json file (one record or a list), .jsonl files and JSONL streams (stdin),
read a line at a time so a bad line fails alone and a large file is never held in memory."""

from __future__ import annotations

import codecs
import io
import json
from collections.abc import Iterator
from typing import IO, BinaryIO, TextIO

from index.models import Document
from pipeline.report import RunReport
from pipeline.sources.blob import Blob
from pipeline.sources.records import document_from_record
from pipeline.sources.text import (
    SNIFF_BYTES,
    decode,
    encoding_of,
    open_error,
    read_text,
    too_large,
)

SKIP_CHUNK_BYTES = 1024 * 1024
TOO_DEEP = "malformed JSON: nested too deeply to read"


def read_json_blob(blob: Blob, report: RunReport, max_bytes: int) -> Iterator[Document]:
    """A .json file: one record, or a list of them (ids default to `file#n`)."""
    text = read_text(blob, report, max_bytes)
    if text is None:
        return
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        report.fail(blob.where, f"malformed JSON: {exc}")
        return
    except RecursionError:
        report.fail(blob.where, TOO_DEEP)
        return
    if isinstance(data, dict):
        doc = document_from_record(
            data,
            default_id=blob.doc_id,
            default_source=blob.source,
            where=blob.where,
            report=report,
        )
        if doc is not None:
            yield doc
        return
    if not isinstance(data, list):
        report.fail(blob.where, "malformed JSON: expected an object or a list of objects")
        return
    for index, record in enumerate(data, start=1):
        doc = document_from_record(
            record,
            default_id=f"{blob.doc_id}#{index}",
            default_source=blob.source,
            where=f"{blob.where}:{index}",
            report=report,
        )
        if doc is not None:
            yield doc


def read_jsonl_blob(blob: Blob, report: RunReport, max_bytes: int) -> Iterator[Document]:
    """A .jsonl file, a line at a time: `max_bytes` bounds each line."""
    where = blob.where
    try:
        handle = blob.open()
    except OSError as exc:
        report.fail(where, open_error(exc))
        return
    with handle:
        try:
            head = handle.read(SNIFF_BYTES)
            handle.seek(0)
        except OSError as exc:
            report.fail(where, open_error(exc))
            return
        encoding, bom = encoding_of(head)
        stream: IO[bytes] | IO[str] = handle
        if encoding != "utf-8":  # read as text: a decoding error then ends the file
            handle.seek(bom)
            stream = io.TextIOWrapper(handle, encoding=encoding, newline="")
        elif b"\x00" in head:
            report.fail(where, "binary file, not text")
            return
        records = 0
        for doc_or_none in _iter_jsonl(
            stream,
            report,
            origin=blob.doc_id,
            where=where,
            default_source=blob.source,
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
            report.fail(where, open_error(exc))
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
            report.fail(line_at, too_large(size, max_bytes))
            yield None
            continue

        if isinstance(raw, bytes):
            if number == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
                line_start += len(codecs.BOM_UTF8)
            line, error = decode(raw, line_start)
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
        except RecursionError:
            report.fail(line_at, TOO_DEEP)
            yield None
            continue
        yield document_from_record(
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
        chunk = stream.readline(SKIP_CHUNK_BYTES)
        skipped += len(chunk.encode("utf-8")) if isinstance(chunk, str) else len(chunk)
    return skipped
