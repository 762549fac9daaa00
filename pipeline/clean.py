"""The cleaning stage: repair and tidy document text before it is deduplicated and chunked."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator

from index.models import Document
from pipeline.report import RunReport

PAGE_BREAK = "\f"  # how readers separate pages: the cleaner records where each starts
PARAGRAPH_BREAK = "\n\n"

_LINE_BREAK = re.compile(r"\r\n?|[\u2028\x85]")
_PARAGRAPH_SEPARATOR = re.compile("\u2029")
# C0/C1 control characters, except tab and newline.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")

# A link target: anything up to the closing parenthesis, allowing one level of
# nested parentheses as in https://en.wikipedia.org/wiki/Foo_(bar).
_TARGET = r"\((?:[^()\n]|\([^()\n]*\))*\)"
_MD_IMAGE = re.compile(r"!\[([^\]\n]*)\]" + _TARGET)
_MD_LINK = re.compile(r"\[([^\]\n]*)\]" + _TARGET)
_AUTOLINK = re.compile(r"<((?:https?|ftp)://[^\s<>]+|www\.[^\s<>]+)>", re.IGNORECASE)

_URL_ONLY_LINE = re.compile(r"<?(?:(?:https?|ftp)://|www\.)\S+?>?", re.IGNORECASE)
_INLINE_SPACE = re.compile(r"[^\S\n]+")

_MATCH_FOLDING = str.maketrans(
    {
        "‘": "'",
        "’": "'",
        "‚": "'",
        "‛": "'",
        "′": "'",
        "“": '"',
        "”": '"',
        "„": '"',
        "″": '"',
        "–": "-",
        "—": "-",
        "‒": "-",
        "―": "-",
        "−": "-",
        "…": "...",
    }
)
_ANY_SPACE = re.compile(r"\s+")


def clean_text(text: str) -> str:
    """Repair, de-markdown and tidy `text`; paragraphs stay separated by one blank line."""
    import ftfy  # slow to import: only when there is text to clean

    text = ftfy.fix_text(text, uncurl_quotes=False)
    text = unicodedata.normalize("NFKC", text)
    text = _LINE_BREAK.sub("\n", text)
    text = _PARAGRAPH_SEPARATOR.sub("\n\n", text)
    text = _CONTROL.sub("", text)

    text = _MD_IMAGE.sub(r"\1", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _AUTOLINK.sub(r"\1", text)

    paragraphs: list[list[str]] = [[]]
    for raw in text.split("\n"):
        line = _INLINE_SPACE.sub(" ", raw).strip()
        if not line:
            # A blank line ends the paragraph; runs of blank lines count once.
            if paragraphs[-1]:
                paragraphs.append([])
            continue
        if _URL_ONLY_LINE.fullmatch(line):
            # Dropped without ending the paragraph it sits in.
            continue
        paragraphs[-1].append(line)
    return PARAGRAPH_BREAK.join("\n".join(lines) for lines in paragraphs if lines)


def normalize_for_match(text: str) -> str:
    """Fold case, typographic quotes, dashes and whitespace, so equal passages hash equal."""
    text = text.casefold().translate(_MATCH_FOLDING)
    return _ANY_SPACE.sub(" ", text).strip()


def clean_pages(text: str) -> tuple[str, list[int] | None]:
    """`clean_text` of a text whose pages are separated by form feeds: the pages cleaned one by
    one and joined as paragraphs, with the offset where each starts (an empty page starts where
    the next one does). A text without form feeds has no page starts."""
    if PAGE_BREAK not in text:
        return clean_text(text), None
    cleaned: list[str] = []
    starts: list[int] = []
    length = 0
    for page in text.split(PAGE_BREAK):
        page_text = clean_text(page)
        if page_text and cleaned:
            length += len(PARAGRAPH_BREAK)
        starts.append(length)
        if page_text:
            cleaned.append(page_text)
            length += len(page_text)
    return PARAGRAPH_BREAK.join(cleaned), starts


class Cleaner:
    """Pipeline stage: yields documents with cleaned text and title; drops empty ones."""

    def __init__(self, report: RunReport) -> None:
        self.report = report

    def __call__(self, documents: Iterable[Document]) -> Iterator[Document]:
        for doc in documents:
            cleaned, page_starts = clean_pages(doc.text)
            if not cleaned:
                self.report.fail(doc.source, "no text after cleaning")
                continue
            title = " ".join(clean_text(doc.title).split())
            yield doc.model_copy(
                update={"text": cleaned, "title": title, "page_starts": page_starts}
            )
