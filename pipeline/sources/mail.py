"""E-mail: a message (.eml) or a mailbox of them (.mbox), with the standard library.

Each message is a Document: its subject the title, its date `published_at`, from/to/cc and the
message id in metadata, its text body (else its HTML body, as text). An attachment in a format
riverbed reads becomes a Document of its own, `attached_to` its message. A mailbox is read a
message at a time, so its size does not matter; the size limit holds for each message.
"""

from __future__ import annotations

import email.policy
import io
import mailbox
import shutil
import tempfile
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

from index.models import Document
from pipeline.report import RunReport
from pipeline.sources.blob import Blob
from pipeline.sources.html import fragment_text
from pipeline.sources.text import too_large

# Reads an attachment by its name's suffix, leaving out quietly what riverbed does not read.
ReadAttachment = Callable[[Blob, RunReport, int], Iterator[Document]]
ADDRESS_HEADERS = ("from", "to", "cc")


def read_eml(
    blob: Blob, report: RunReport, max_bytes: int, *, read_attachment: ReadAttachment
) -> Iterator[Document]:
    """One message, and its readable attachments."""
    size = blob.size()
    if size > max_bytes:
        report.fail(blob.where, too_large(size, max_bytes))
        return
    with blob.open() as handle:
        raw = handle.read()
    yield from _message(raw, blob.doc_id, blob, blob.where, report, max_bytes, read_attachment)


def read_mbox(
    blob: Blob, report: RunReport, max_bytes: int, *, read_attachment: ReadAttachment
) -> Iterator[Document]:
    """Every message of a mailbox, one at a time; a bad message fails alone."""
    with _on_disk(blob) as path:
        box = mailbox.mbox(path, create=False)
        try:
            keys = box.keys()  # scans the file once for where messages start: offsets only
            if not keys:
                report.fail(blob.where, "empty mailbox")
                return
            for number, key in enumerate(keys, start=1):
                where = f"{blob.where}#{number}"
                with box.get_file(key) as handle:  # the message alone, unread if it is too large
                    handle.seek(0, io.SEEK_END)
                    size = handle.tell()
                    handle.seek(0)
                    raw = handle.read() if size <= max_bytes else b""
                if size > max_bytes:
                    report.fail(where, too_large(size, max_bytes) + " (one message)")
                    continue
                yield from _message(
                    raw, f"{blob.doc_id}#{number}", blob, where, report, max_bytes, read_attachment
                )
        finally:
            box.close()


class _on_disk:
    """The blob's path, or its bytes spooled to a temporary file (mailbox reads files only)."""

    def __init__(self, blob: Blob) -> None:
        self.blob = blob
        self.spooled: Path | None = None

    def __enter__(self) -> Path:
        if isinstance(self.blob.data, Path):
            return self.blob.data
        with tempfile.NamedTemporaryFile(suffix=".mbox", delete=False) as handle:
            shutil.copyfileobj(self.blob.open(), handle)
        self.spooled = Path(handle.name)
        return self.spooled

    def __exit__(self, *_: object) -> None:
        if self.spooled is not None:
            self.spooled.unlink(missing_ok=True)


def _message(
    raw: bytes,
    fallback_id: str,
    blob: Blob,
    where: str,
    report: RunReport,
    max_bytes: int,
    read_attachment: ReadAttachment,
) -> Iterator[Document]:
    try:
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        headers = _headers(message)
        text = _body_text(message)
        attachments = list(_attachments(message))
    except Exception as exc:  # the parser is lenient; what still breaks it breaks one message
        report.fail(where, f"malformed message: {' '.join(str(exc).split())[:160]}")
        return
    if not text.strip():
        problem = "; ".join(type(defect).__name__ for defect in message.defects[:3])
        report.fail(where, "message has no readable text" + (f" ({problem})" if problem else ""))
        return
    # In a mailbox, a message is known by its Message-ID (its place changes as others go).
    message_id = headers.get("message_id", "").strip("<>")
    doc_id = (
        f"{blob.doc_id}#{message_id}" if message_id and fallback_id != blob.doc_id else fallback_id
    )
    metadata: dict[str, Any] = {key: value for key, value in headers.items() if value}
    if attachments:
        metadata["attachments"] = [name for name, _ in attachments]
    subject = metadata.pop("subject", "")
    date = metadata.pop("date", None)
    yield Document(
        id=doc_id,
        source=blob.source,
        text=text,
        title=subject,
        published_at=date,
        metadata=metadata,
    )
    for name, data in attachments:
        attached = Blob(data, f"{doc_id}/{name}", blob.source, f"{where} > {name}", name)
        for document in read_attachment(attached, report, max_bytes):
            document.metadata = {**document.metadata, "attached_to": doc_id}
            if subject and not document.title:
                document.title = subject
            yield document


def _headers(message: EmailMessage) -> dict[str, Any]:
    headers: dict[str, Any] = {"subject": " ".join(str(message.get("subject", "")).split())}
    for name in ADDRESS_HEADERS:
        value = message.get(name)
        if value is not None:
            headers[name] = " ".join(str(value).split())
    if message.get("message-id"):
        headers["message_id"] = str(message["message-id"]).strip()
    try:
        headers["date"] = parsedate_to_datetime(str(message["date"])) if message["date"] else None
    except (TypeError, ValueError):
        headers["date"] = None
    return headers


def _body_text(message: EmailMessage) -> str:
    """The plain-text body, else the HTML one as text; '' when there is neither."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    content = part.get_content()
    if part.get_content_subtype() == "html":
        return fragment_text(content)
    return content


def _attachments(message: EmailMessage) -> Iterator[tuple[str, bytes]]:
    for part in message.iter_attachments():
        name = part.get_filename()
        if not name or part.is_multipart():
            continue
        data = part.get_payload(decode=True)
        if isinstance(data, bytes) and data:
            yield Path(name).name, data
