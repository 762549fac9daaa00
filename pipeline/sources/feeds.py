"""RSS and Atom feeds (feedparser): each entry a Document, fetched only when it is new.

An entry's link is its document's id, source and url; its title, its published (else updated)
date and the feed's address go with it. An entry that carries its content is read from the
feed; one that carries only a summary has its linked page fetched and read (web.py); when that
page fails, the entry fails (and is tried again on the next run).

Nothing unchanged is fetched again. A feed's validators (ETag, Last-Modified) and the entries
it listed (each with its updated date) are kept in `feeds.json` in the data dir; the next run
asks the server with a conditional request, and an entry already seen with the same date is
not fetched. The catalog has the last word: the conditional request is made only when every
listed entry is in it, and a seen entry is skipped only while it is in it, so an entry whose
run was cut short, or whose page failed, is fetched again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from index.models import Document
from pipeline.report import RunReport
from pipeline.sources.html import fragment_text
from pipeline.sources.web import Fetched, Fetcher, FetchError, read_url

STATE_FILE = "feeds.json"
# How many of the ids the catalog knows: the entries a feed lists, asked in one call.
Known = Callable[[list[str]], set[str]]


@dataclass(frozen=True, slots=True)
class Feed:
    """An input of `ingest()`: the feed at `url`, read as its entries."""

    url: str


class FeedState:
    """The validators and seen entries of every feed ingested into one data dir."""

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            self.feeds: dict[str, dict[str, Any]] = json.loads(path.read_text())
        except (OSError, ValueError):
            self.feeds = {}

    def of(self, url: str) -> dict[str, Any]:
        return self.feeds.get(url, {})

    def remember(self, url: str, fetched: Fetched, entries: dict[str, str]) -> None:
        """Keep the feed's validators and listed entries; written at once (replacing the file)."""
        self.feeds[url] = {
            "etag": fetched.etag,
            "last_modified": fetched.last_modified,
            "entries": entries,
            "checked_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        spare = self.path.with_suffix(".json.tmp")
        spare.write_text(json.dumps(self.feeds, indent=1, sort_keys=True))
        os.replace(spare, self.path)


def read_feed(
    url: str, fetcher: Fetcher, state: FeedState, known: Known, report: RunReport
) -> Iterator[Document]:
    """The feed's new and changed entries as Documents; a feed that cannot be read is one
    failure, an entry that cannot be read is one failure."""
    import feedparser

    kept = state.of(url)
    listed: dict[str, str] = kept.get("entries", {})
    in_catalog = known(list(listed)) if listed else set()
    conditional = bool(listed) and in_catalog >= set(listed)
    try:
        if conditional:
            fetched = fetcher.get(url, kept.get("etag"), kept.get("last_modified"))
        else:
            fetched = fetcher.get(url)
    except FetchError as exc:
        report.fail(url, str(exc))
        return
    if fetched.status == 304:
        return
    parsed = feedparser.parse(fetched.body, response_headers={"content-location": fetched.url})
    if not parsed.entries:
        problem = parsed.get("bozo_exception")
        reason = f"not a feed: {' '.join(str(problem).split())[:120]}" if problem else "no entries"
        report.fail(url, reason if problem else "feed has no entries")
        return
    entries: dict[str, str] = {}
    ids = [_entry_id(entry) for entry in parsed.entries]
    present = known([i for i in ids if i])
    for entry, entry_id in zip(parsed.entries, ids, strict=True):
        if not entry_id:
            report.fail(url, f"entry without a link or id: {entry.get('title', '')[:60]!r}")
            continue
        stamp = dict.get(entry, "updated") or dict.get(entry, "published") or ""
        entries[entry_id] = stamp
        if entry_id in present and listed.get(entry_id) == stamp:
            continue  # seen, unchanged and in the catalog: not fetched
        yield from _entry_documents(entry, entry_id, url, fetcher, report)
    state.remember(url, fetched, entries)


def _entry_id(entry: Any) -> str:
    link = entry.get("link") or ""
    return link if link.startswith(("http://", "https://")) else (entry.get("id") or link)


def _entry_documents(
    entry: Any, entry_id: str, feed_url: str, fetcher: Fetcher, report: RunReport
) -> Iterator[Document]:
    link = entry.get("link") or entry_id
    fields: dict[str, Any] = {
        "title": " ".join((entry.get("title") or "").split()),
        "published_at": _date(entry),
        "metadata": {"feed": feed_url, **({"entry_id": entry["id"]} if entry.get("id") else {})},
    }
    content = entry.get("content") or []
    text = fragment_text(content[0].get("value", "")) if content else ""
    if text:  # the entry carries its content
        documents = [Document(id=entry_id, text=text)]
    else:  # a summary at most: the linked page is the entry's text
        documents = list(read_url(link, fetcher, report, doc_id=entry_id))
    for document in documents:
        update = {key: value for key, value in fields.items() if value}
        update["metadata"] = {**document.metadata, **fields["metadata"]}
        yield document.model_copy(update={**update, "source": link, "url": link})


def _date(entry: Any) -> datetime | None:
    # dict.get: feedparser's own get maps updated to published, with a warning
    parsed = dict.get(entry, "published_parsed") or dict.get(entry, "updated_parsed")
    if not parsed:
        return None
    return datetime(*parsed[:6], tzinfo=UTC)
