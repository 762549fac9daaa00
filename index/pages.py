"""Pages of a passage: where the pages of its document start (offsets into the cleaned text),
and the passage's offsets, give the pages it spans."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence


def page_span(page_starts: Sequence[int] | None, start: int, end: int) -> tuple[int, int] | None:
    """(first page, last page), from 1, of the text at [start, end); None for a document that
    has no pages."""
    if not page_starts:
        return None
    first = bisect_right(page_starts, start)
    last = bisect_right(page_starts, max(start, end - 1))
    return max(first, 1), max(last, 1)


def page_of(page_starts: Sequence[int] | None, offset: int) -> int | None:
    """The page, from 1, of the character at `offset`; None for a document without pages."""
    span = page_span(page_starts, offset, offset + 1)
    return None if span is None else span[0]


def pages_label(page: int | None, last_page: int | None) -> str:
    """'p. 3', 'pp. 3-4', or '' without pages."""
    if page is None:
        return ""
    if last_page is None or last_page == page:
        return f"p. {page}"
    return f"pp. {page}-{last_page}"
