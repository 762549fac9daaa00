"""PDF: the text layer of each page in reading order (PDFium, through pypdfium2), pages apart.

Pages are read one at a time and joined with form feeds, which the cleaner turns into paragraph
breaks while it records where each page starts (so every passage knows its pages). On the way:
words hyphenated across lines are joined again, lines are reflowed into paragraphs, and running
headers and footers (a line that tops or tails most pages nearby, page numbers aside) are dropped.
"""

from __future__ import annotations

import re
import threading
from collections import Counter, deque
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path

from index.models import Document
from pipeline.clean import PAGE_BREAK
from pipeline.report import RunReport
from pipeline.sources.blob import Blob
from pipeline.sources.text import title_from_name, too_large

NO_TEXT_LAYER = "no text layer (scanned?): no OCR here"
# PDFium is not thread-safe: one page at a time in this process.
_PDFIUM = threading.Lock()

# Running headers and footers: the first and last lines of a page are compared with those of the
# pages around it (digits masked, so page numbers match); one seen on enough of them is dropped.
EDGE_LINES = 2
NEIGHBOURS = 4  # pages on each side
REPEATS = 2  # other pages within NEIGHBOURS on which the same edge line appears
MAX_RUNNING_LINE = 120  # characters: a longer line is text, not a header or a footer

_DIGITS = re.compile(r"\d+")
_EDGE_NUMBER = re.compile(r"^(\d{1,5})\b|\b(\d{1,5})$")
_LINE_END_HYPHEN = "\x02"  # PDFium's mark for a hyphen that ends a line: the lines are joined
_WORD_END = re.compile(r"(\w+)\x02(\w+)")
_SENTENCE_END = (".", "!", "?", ":", '"', "”", "’", ")")
SHORT_LINE = 0.75  # a line shorter than this share of the page's long lines ends its paragraph


def read_pdf(blob: Blob, report: RunReport, max_bytes: int) -> Iterator[Document]:
    """The PDF as one Document, pages separated by form feeds; a PDF that cannot be read (or
    has no text) is one failure."""
    import pypdfium2 as pdfium

    try:
        with _PDFIUM:
            pdf = pdfium.PdfDocument(blob.data if isinstance(blob.data, bytes) else str(blob.data))
    except pdfium.PdfiumError as exc:
        report.fail(blob.where, _open_error(exc))
        return
    try:
        pages: list[str] = []
        size = 0
        for text in _without_running_lines(_page_lines(pdf)):
            size += len(text.encode())
            if size > max_bytes:
                report.fail(blob.where, too_large(size, max_bytes) + " (text of the PDF)")
                return
            pages.append(text)
        if not any(page.strip() for page in pages):
            report.fail(blob.where, NO_TEXT_LAYER)
            return
        title, published_at = _metadata(pdf)
    except pdfium.PdfiumError as exc:
        report.fail(blob.where, f"corrupt PDF: {exc}")
        return
    finally:
        with _PDFIUM:
            pdf.close()
    yield Document(
        id=blob.doc_id,
        source=blob.source,
        text=PAGE_BREAK.join(pages),
        title=title or _first_line(pages) or title_from_name(Path(blob.name)),
        published_at=published_at,
        metadata={"pages": len(pages)},
    )


def _open_error(exc: Exception) -> str:
    code = getattr(exc, "err_code", None)
    if code in (4, 5):  # FPDF_ERR_PASSWORD, FPDF_ERR_SECURITY
        return "encrypted PDF: it needs a password"
    return f"not a readable PDF (corrupt or truncated): {exc}"


def _page_lines(pdf) -> Iterator[list[str]]:  # type: ignore[no-untyped-def]
    """Each page's lines, with line-end hyphens resolved."""
    for number in range(len(pdf)):
        with _PDFIUM:
            page = pdf[number]
            textpage = page.get_textpage()
            try:
                raw = textpage.get_text_bounded()
            finally:
                textpage.close()
                page.close()
        text = _WORD_END.sub(_rejoin, raw).replace(_LINE_END_HYPHEN, "-")
        yield [line.strip() for line in text.splitlines() if line.strip()]


def _rejoin(match: re.Match[str]) -> str:
    """A word split by a line-end hyphen: joined when the joined word is a word, else the hyphen
    stays (S-Plus, well-known)."""
    from wordfreq import zipf_frequency

    first, second = match.group(1), match.group(2)
    joined, hyphenated = first + second, f"{first}-{second}"
    if zipf_frequency(joined, "en") > 0:
        return joined
    if zipf_frequency(hyphenated, "en") > 0 or second[:1].isupper():
        return hyphenated
    return joined


def _without_running_lines(pages: Iterable[list[str]]) -> Iterator[str]:
    """Pages as paragraphs, without lines repeated at the top or bottom of nearby pages; a window
    of 2 x NEIGHBOURS + 1 pages is held at a time."""
    window: deque[list[str]] = deque()
    position = 0  # index in the window of the next page to yield
    for lines in pages:
        window.append(lines)
        if len(window) > 2 * NEIGHBOURS + 1:
            window.popleft()
            position -= 1
        while position < len(window) and len(window) - 1 - position >= NEIGHBOURS:
            yield _paragraphs(_drop_running(window, position))
            position += 1
    while position < len(window):
        yield _paragraphs(_drop_running(window, position))
        position += 1


def _edge_lines(lines: list[str]) -> list[str]:
    return lines[:EDGE_LINES] + lines[EDGE_LINES:][-EDGE_LINES:]


def _signature(line: str) -> str:
    return _DIGITS.sub("#", line.casefold())


def _numbers(line: str) -> set[int]:
    """The numbers that open or close a short line: where headers and footers put page numbers."""
    if len(line) > MAX_RUNNING_LINE:
        return set()
    return {int(a or b) for a, b in _EDGE_NUMBER.findall(line)}


def _drop_running(window: deque[list[str]], position: int) -> list[str]:
    """The page at `position` without its running lines: an edge line that the edges of other
    pages in the window repeat (digits aside), or that carries the page's number (another page
    at distance d has an edge line with that number + d)."""
    lines = window[position]
    repeated: Counter[str] = Counter()
    numbered: set[int] = set()  # a number that would be this page's, from another page's edges
    for other, page in enumerate(window):
        if other == position:
            continue
        for line in _edge_lines(page):
            repeated[_signature(line)] += 1
            numbered.update(number + position - other for number in _numbers(line))
    edges = set(range(min(EDGE_LINES, len(lines)))) | set(
        range(max(EDGE_LINES, len(lines) - EDGE_LINES), len(lines))
    )
    return [
        line
        for index, line in enumerate(lines)
        if index not in edges
        or (repeated[_signature(line)] < REPEATS and not _numbers(line) & numbered)
    ]


def _paragraphs(lines: list[str]) -> str:
    """Lines reflowed into paragraphs. A short line ends one (a heading, a paragraph's last line),
    and so does a sentence's end short of the margin; a short line after a sentence's end opens
    one (a heading after a full last line)."""
    if not lines:
        return ""
    lengths = sorted(len(line) for line in lines)
    long_line = lengths[int(len(lengths) * 0.8)]
    paragraphs: list[list[str]] = [[]]
    for line in lines:
        short = len(line) < SHORT_LINE * long_line
        current = paragraphs[-1]
        if current and short and current[-1].endswith(_SENTENCE_END):
            paragraphs.append(current := [])
        current.append(line)
        if short or (line.endswith(_SENTENCE_END) and len(line) < 0.9 * long_line):
            paragraphs.append([])
    return "\n\n".join(" ".join(lines) for lines in paragraphs if lines)


def _metadata(pdf) -> tuple[str, datetime | None]:  # type: ignore[no-untyped-def]
    with _PDFIUM:
        info = pdf.get_metadata_dict(skip_empty=True)
    return info.get("Title", "").strip(), _pdf_date(info.get("CreationDate", ""))


_PDF_DATE = re.compile(r"D:(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?")


def _pdf_date(value: str) -> datetime | None:
    """A PDF date (D:YYYYMMDDHHmmSS...), read as UTC; None when there is none."""
    match = _PDF_DATE.match(value)
    if not match:
        return None
    defaults = (0, 1, 1, 0, 0, 0)
    parts = [
        int(part) if part else default
        for part, default in zip(match.groups(), defaults, strict=True)
    ]
    try:
        return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]
    except ValueError:
        return None


def _first_line(pages: list[str]) -> str:
    """The first paragraph, when it is short enough to be a title."""
    for page in pages:
        for paragraph in page.split("\n\n"):
            if paragraph.strip():
                return paragraph.strip() if len(paragraph) <= 120 else ""
    return ""
