"""Office files: Word (.docx, python-docx) and PowerPoint (.pptx, python-pptx).

Headings stay structure: each is a paragraph of its own (chunks close at paragraph breaks), and
the document's title is its own title property, else its first heading. A slide is a page (the
cleaner records where each starts, so passages know their slides). Both formats are zip
archives: one that unzips to more than the size limit (a zip bomb) fails before it is parsed.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from index.models import Document
from pipeline.clean import PAGE_BREAK
from pipeline.report import RunReport
from pipeline.sources.blob import Blob
from pipeline.sources.text import open_error, title_from_name

MEDIA_FOLDERS = ("word/media/", "ppt/media/", "docProps/thumbnail")


def read_docx(blob: Blob, report: RunReport, max_bytes: int) -> Iterator[Document]:
    """A Word file as one Document: headings, paragraphs and tables in their order."""
    import docx

    if not _zip_fits(blob, report, max_bytes, "Word"):
        return
    try:
        with blob.open() as handle:
            word = docx.Document(handle)
        blocks = list(_docx_blocks(word.iter_inner_content()))
    except Exception as exc:  # python-docx raises many kinds on a damaged part
        report.fail(blob.where, f"corrupt Word file: {_reason(exc)}")
        return
    yield from _document(blob, report, word.core_properties, blocks, paged=False)


def read_pptx(blob: Blob, report: RunReport, max_bytes: int) -> Iterator[Document]:
    """A PowerPoint file as one Document, a page per slide."""
    import pptx

    if not _zip_fits(blob, report, max_bytes, "PowerPoint"):
        return
    try:
        with blob.open() as handle:
            deck = pptx.Presentation(handle)
        slides = [list(_slide_blocks(slide)) for slide in deck.slides]
    except Exception as exc:  # python-pptx raises many kinds on a damaged part
        report.fail(blob.where, f"corrupt PowerPoint file: {_reason(exc)}")
        return
    yield from _document(blob, report, deck.core_properties, slides, paged=True)


def _document(
    blob: Blob, report: RunReport, properties: Any, blocks: list, paged: bool
) -> Iterator[Document]:
    """blocks: (is_heading, text) pairs, or a list of them per page when `paged`."""
    pages = blocks if paged else [blocks]
    texts = ["\n\n".join(text for _, text in page) for page in pages]
    if not any(text.strip() for text in texts):
        report.fail(blob.where, "no text in the file")
        return
    headings = (text for page in pages for heading, text in page if heading)
    title = (
        (properties.title or "").strip() or next(headings, "") or title_from_name(Path(blob.name))
    )
    metadata: dict[str, Any] = {}
    if (properties.author or "").strip():
        metadata["author"] = properties.author.strip()
    if paged:
        metadata["pages"] = len(pages)
    yield Document(
        id=blob.doc_id,
        source=blob.source,
        text=PAGE_BREAK.join(texts),
        title=title,
        published_at=_utc(properties.created),
        metadata=metadata,
    )


def _docx_blocks(items: Iterable[Any]) -> Iterator[tuple[bool, str]]:
    from docx.table import Table

    for item in items:
        if isinstance(item, Table):
            yield from ((False, row) for row in _table_rows(item))
            continue
        text = item.text.strip()
        if not text:
            continue
        style = (item.style.name if item.style is not None else "") or ""
        yield style.startswith(("Heading", "Title")), text


def _slide_blocks(slide: Any) -> Iterator[tuple[bool, str]]:
    title = slide.shapes.title
    if title is not None and title.text.strip():
        yield True, title.text.strip()
    for shape in slide.shapes:
        if title is not None and shape.shape_id == title.shape_id:
            continue
        if shape.has_text_frame and shape.text_frame.text.strip():
            for paragraph in shape.text_frame.paragraphs:
                text = "".join(run.text for run in paragraph.runs).strip()
                if text:
                    yield False, text
        elif getattr(shape, "has_table", False) and shape.has_table:
            yield from ((False, row) for row in _table_rows(shape.table))
    if slide.has_notes_slide:
        notes = slide.notes_slide.notes_text_frame
        if notes is not None and notes.text.strip():
            yield False, notes.text.strip()


def _table_rows(table: Any) -> Iterator[str]:
    for row in table.rows:
        cells = []
        for cell in row.cells:
            text = " ".join(cell.text.split())
            if text and (not cells or cells[-1] != text):  # a merged cell repeats
                cells.append(text)
        if cells:
            yield " | ".join(cells)


def _zip_fits(blob: Blob, report: RunReport, max_bytes: int, kind: str) -> bool:
    """Whether the archive opens and its text parts unzip to at most `max_bytes`."""
    try:
        with blob.open() as handle, zipfile.ZipFile(handle) as archive:
            unzipped = sum(
                member.file_size
                for member in archive.infolist()
                if not member.filename.startswith(MEDIA_FOLDERS)
            )
    except OSError as exc:
        report.fail(blob.where, open_error(exc))
        return False
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, EOFError) as exc:
        report.fail(blob.where, f"corrupt {kind} file: not a zip archive ({_reason(exc)})")
        return False
    if unzipped > max_bytes:
        report.fail(
            blob.where,
            f"too large unzipped (a zip bomb?): {unzipped} bytes > limit {max_bytes}"
            " (RIVERBED_MAX_DOCUMENT_BYTES)",
        )
        return False
    return True


def _reason(exc: Exception) -> str:
    text = " ".join(str(exc).split())
    return (text[:160] or type(exc).__name__) if text else type(exc).__name__


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)
