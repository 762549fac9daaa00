"""Which feed parser: feedparser against fastfeedparser on real feeds.

chardet's test files (its source distribution on PyPI; `make bench` fetches it) are pages and
feeds saved from real sites in many languages and encodings; the RSS, RDF and Atom ones among
them are parsed by each library in turn. Figures: feeds that gave entries, entries, entries with
a title and with an http(s) link, titles with a replacement character or UTF-8 read as Latin-1
(mojibake), and feeds per second.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

FEEDS = Path(__file__).resolve().parent / ".cache" / "chardet" / "tests"
FEED_START = re.compile(rb"<rss|<feed|<rdf:RDF")
MOJIBAKE = re.compile("\ufffd|Ã.|Â.")


def feeds() -> list[bytes]:
    found = [path.read_bytes() for path in sorted(FEEDS.glob("*/*.xml"))]
    return [data for data in found if FEED_START.search(data[:3000])]


def parse_feedparser(data: bytes) -> list[Any]:
    import feedparser

    return feedparser.parse(data).entries


def parse_fastfeedparser(data: bytes) -> list[Any]:
    import fastfeedparser

    return fastfeedparser.parse(data)["entries"]


def run() -> dict[str, float | str]:
    corpus = feeds()
    figures: dict[str, float | str] = {"feeds": len(corpus)}
    for name, parse in (("feedparser", parse_feedparser), ("fastfeedparser", parse_fastfeedparser)):
        with_entries = entries = titled = linked = garbled = errors = 0
        started = time.perf_counter()
        for data in corpus:
            try:
                found = parse(data)
            except Exception:  # a parser that raises on a feed has read nothing of it
                errors += 1
                continue
            with_entries += bool(found)
            entries += len(found)
            titles = [(entry.get("title") or "").strip() for entry in found]
            titled += sum(1 for title in titles if title)
            garbled += sum(1 for title in titles if MOJIBAKE.search(title))
            linked += sum(1 for e in found if (e.get("link") or "").startswith("http"))
        seconds = time.perf_counter() - started
        figures[f"{name}_feeds_with_entries"] = with_entries
        figures[f"{name}_entries"] = entries
        figures[f"{name}_titled"] = titled
        figures[f"{name}_linked"] = linked
        figures[f"{name}_garbled_titles"] = garbled
        figures[f"{name}_errors"] = errors
        figures[f"{name}_feeds_per_s"] = round(len(corpus) / seconds, 1)
    return figures
