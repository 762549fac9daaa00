"""The one door for records: a JSON object (a JSONL line, an HTTP body's item, a Python dict)
becomes a Document here, or one failure in the run report."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from pydantic import ValidationError

from index.models import Document
from pipeline.report import RunReport

RECORD_FIELDS = frozenset({"id", "text", "title", "url", "published_at", "metadata"})


def document_from_record(
    record: Any,
    *,
    default_id: str,
    default_source: str,
    where: str,
    report: RunReport,
) -> Document | None:
    """One JSON record as a Document, or None after reporting why it cannot be one.

    Every path that takes records comes here: .json and .jsonl files, JSONL streams, Python
    dicts, HTTP, MCP and the Ray engine; so a record lands or fails alike on each.
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
    extra = {key: value for key, value in record.items() if key not in RECORD_FIELDS}
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
        report.fail(where, f"invalid record: {short_validation_message(exc)}")
        return None


def read_records(records: Iterable[Any], report: RunReport) -> Iterator[Document]:
    """Documents from records already parsed (an HTTP request body, Python dicts), in the
    format of JSONL lines; each bad one is reported by its position, `documents[i]`."""
    for position, record in enumerate(records):
        document = given_record(record, position, report)
        if document is not None:
            yield document


def given_record(record: Any, position: int, report: RunReport) -> Document | None:
    """One record handed over as such: it has no line or file to name it by, so one without an
    id fails instead of getting one."""
    where = f"documents[{position}]"
    raw_id = record.get("id") if isinstance(record, dict) else None
    if isinstance(record, dict) and (raw_id is None or raw_id == ""):
        report.fail(where, "record has no id")
        return None
    if isinstance(raw_id, str | int) and not isinstance(raw_id, bool):
        where = f"{where} ({raw_id})"
    return document_from_record(
        record, default_id="", default_source="", where=where, report=report
    )


def short_validation_message(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    first = errors[0]
    field = ".".join(str(part) for part in first["loc"]) or "record"
    reason = first["msg"].removeprefix("Value error, ")
    message = reason if reason.startswith(field) else f"{field}: {reason}"
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more)"
    return message
