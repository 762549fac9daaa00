"""HTML pages: the main text, without navigation and footers (trafilatura)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from index.models import Document
from pipeline.report import RunReport
from pipeline.sources.blob import Blob
from pipeline.sources.text import read_text, title_from_name

NO_MAIN_TEXT = "no main text found in HTML"


def read_html(blob: Blob, report: RunReport, max_bytes: int) -> Iterator[Document]:
    text = read_text(blob, report, max_bytes)
    if text is None:
        return
    doc = html_document(text, blob.doc_id, blob.source, title_from_name(Path(blob.name)))
    if doc is None:
        report.fail(blob.where, NO_MAIN_TEXT)
    else:
        yield doc


def html_document(
    html: str | bytes, doc_id: str, source: str, fallback_title: str, url: str | None = None
) -> Document | None:
    """The page's main text, without navigation and footers, via trafilatura; `url` is the
    page's address when it was fetched (else the page's canonical URL, if it names one)."""
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
    if url is None:
        url = extracted.url
        if not (url and url.startswith(("http://", "https://"))):
            url = None
    return Document(
        id=doc_id,
        source=source,
        text=text,
        title=(extracted.title or "").strip() or fallback_title,
        url=url,
        published_at=published_at,
    )


_BLOCKS = (
    "p",
    "div",
    "section",
    "article",
    "header",
    "footer",
    "blockquote",
    "pre",
    "table",
    "tr",
    "ul",
    "ol",
    "li",
    "dl",
    "dt",
    "dd",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "br",
    "hr",
)
_BLANK_LINE = re.compile(r"\n\s*\n")


def fragment_text(markup: str) -> str:
    """All the text of an HTML fragment that is content through and through (a feed entry's
    content, a mail's HTML body), a paragraph per block; '' when there is none."""
    import lxml.etree
    import lxml.html

    try:
        root = lxml.html.fromstring(markup)
    except (lxml.etree.ParserError, ValueError):
        return ""
    for hidden in root.xpath("//script | //style | //head"):
        hidden.drop_tree()
    for block in root.iter(*_BLOCKS):
        block.tail = "\n\n" + (block.tail or "")
    paragraphs = (" ".join(part.split()) for part in _BLANK_LINE.split(root.text_content()))
    return "\n\n".join(paragraph for paragraph in paragraphs if paragraph)
