"""HTML pages: the main text, without navigation and footers (trafilatura)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from index.models import Document
from pipeline.sources.text import title_from_name


def html_document(html: str, path: Path, resolved: str) -> Document | None:
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
        title=(extracted.title or "").strip() or title_from_name(path),
        url=url,
        published_at=published_at,
    )
