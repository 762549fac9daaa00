"""Pages and feeds over HTTP, from a real server on 127.0.0.1 (tests/web_fixtures.py): what is
read, what a second run does not fetch again (the server's log says), and one failure line per
bad URL. The fake encoder stands in for the model: these tests are about fetching and reading."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest

from pipeline.ingestion import ingest
from pipeline.schedule import load_jobs, run_once
from pipeline.settings import PipelineSettings
from pipeline.sources.feeds import Feed
from riverbed.testing import install
from tests.ingest_helpers import riverbed, subprocess_env
from tests.web_fixtures import PDF, Site, article, atom, rss

FERRY = article(
    "Late ferry on Fridays",
    "The ferry committee agreed to add a late ferry on Fridays, leaving Harwick at 23:10.",
    "The new sailing runs from June to September and needs a second crew.",
)
MILL = article(
    "The old mill reopens",
    "The old water mill on the river reopened as a bakery after ten years of repairs.",
)
DAM = article(
    "Beavers build a dam",
    "A family of beavers has built a dam across the mill stream above the village.",
)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PipelineSettings:
    install(monkeypatch)
    return PipelineSettings(data_dir=tmp_path / "data", http_timeout=1.0, http_deadline=2.0)


def documents(settings: PipelineSettings) -> dict[str, tuple[str, str, str | None, str | None]]:
    """id -> (title, source, url, published_at) of every stored document."""
    with sqlite3.connect(settings.data_dir / "catalog.sqlite") as catalog:
        rows = catalog.execute("SELECT id, title, source, url, published_at FROM documents")
        return {row[0]: row[1:] for row in rows}


def news(site: Site, *items: tuple[str, str, str]) -> None:
    """The RSS feed at /news.rss listing `items` (title, path, date): summaries only."""
    site.pages["/news.rss"] = (
        "application/rss+xml",
        rss([(t, site.url(p), d, "A short summary.") for t, p, d in items]),
    )


def test_a_page_and_a_pdf_by_url_and_redirects_followed(
    site: Site, settings: PipelineSettings
) -> None:
    site.pages["/articles/ferry.html"] = ("text/html; charset=utf-8", FERRY)
    site.pages["/files/report"] = ("application/pdf", PDF)
    report = ingest([site.url("/moved"), site.url("/files/report")], settings=settings)
    assert (report.added, report.failed) == (2, 0), report.failures
    stored = documents(settings)
    title, source, url, _ = stored[site.url("/moved")]
    assert title == "Late ferry on Fridays"
    assert source == url == site.url("/articles/ferry.html")  # where it was found
    assert stored[site.url("/files/report")][:3] == (
        "Harbour survey 2025",
        site.url("/files/report"),
        site.url("/files/report"),
    )
    agents = {r.user_agent for r in site.log}
    assert agents == {settings.user_agent}


def test_feed_entries_become_documents_and_a_second_run_fetches_nothing(
    site: Site, settings: PipelineSettings
) -> None:
    site.pages["/articles/ferry.html"] = ("text/html", FERRY)
    site.pages["/articles/mill.html"] = ("text/html", MILL)
    news(
        site,
        ("Late ferry on Fridays", "/articles/ferry.html", "Tue, 04 Mar 2025 10:00:00 GMT"),
        ("The old mill reopens", "/articles/mill.html", "Wed, 05 Mar 2025 09:00:00 GMT"),
    )
    feed = Feed(site.url("/news.rss"))
    first = ingest([feed], settings=settings)
    assert (first.added, first.failed) == (2, 0), first.failures
    stored = documents(settings)
    ferry = site.url("/articles/ferry.html")
    assert stored[ferry] == ("Late ferry on Fridays", ferry, ferry, "2025-03-04T10:00:00+00:00")
    assert [r.status for r in site.requests("/articles/mill.html")] == [200]

    site.clear_log()
    second = ingest([feed], settings=settings)
    assert (second.seen, second.added, second.failed) == (0, 0, 0)
    [asked] = site.log  # the feed only, asked conditionally, and nothing had changed
    assert (asked.path, asked.status) == ("/news.rss", 304)
    assert asked.if_none_match and asked.if_modified_since

    # A new entry: the feed is fetched again, and only the new entry's page.
    site.pages["/articles/dam.html"] = ("text/html", DAM)
    news(
        site,
        ("Beavers build a dam", "/articles/dam.html", "Thu, 06 Mar 2025 08:00:00 GMT"),
        ("Late ferry on Fridays", "/articles/ferry.html", "Tue, 04 Mar 2025 10:00:00 GMT"),
        ("The old mill reopens", "/articles/mill.html", "Wed, 05 Mar 2025 09:00:00 GMT"),
    )
    site.clear_log()
    third = ingest([feed], settings=settings)
    assert (third.added, third.failed) == (1, 0)
    assert sorted(r.path for r in site.log) == ["/articles/dam.html", "/news.rss"]


def test_an_entry_whose_page_failed_is_fetched_again(
    site: Site, settings: PipelineSettings
) -> None:
    site.pages["/articles/ferry.html"] = ("text/html", FERRY)
    news(
        site,
        ("Late ferry on Fridays", "/articles/ferry.html", "Tue, 04 Mar 2025 10:00:00 GMT"),
        ("The old mill reopens", "/articles/mill.html", "Wed, 05 Mar 2025 09:00:00 GMT"),
    )
    feed = Feed(site.url("/news.rss"))
    first = ingest([feed], settings=settings)
    assert (first.added, [f.reason for f in first.failures]) == (1, ["HTTP 404 Not Found"])
    site.pages["/articles/mill.html"] = ("text/html", MILL)
    site.clear_log()
    second = ingest([feed], settings=settings)
    assert (second.added, second.failed) == (1, 0)
    assert sorted((r.path, r.status) for r in site.log) == [
        ("/articles/mill.html", 200),
        ("/news.rss", 200),  # not conditional: an entry it lists was missing from the catalog
    ]


def test_atom_entries_with_content_are_read_from_the_feed(
    site: Site, settings: PipelineSettings
) -> None:
    site.pages["/journal.atom"] = (
        "application/atom+xml",
        atom(
            [
                (
                    "Swarm season",
                    site.url("/journal/swarms"),
                    "2025-05-12T07:00:00Z",
                    "Swarms are most likely in the second half of May.",
                )
            ]
        ),
    )
    report = ingest([Feed(site.url("/journal.atom"))], settings=settings)
    assert (report.added, report.failed) == (1, 0), report.failures
    assert [r.path for r in site.log] == ["/journal.atom"]  # the entry's page is not fetched
    [(title, source, url, published)] = documents(settings).values()
    assert (title, source, url) == ("Swarm season", site.url("/journal/swarms"), source)
    assert published == "2025-05-12T07:00:00+00:00"


def test_each_bad_url_is_one_failure_and_the_rest_lands(
    site: Site, settings: PipelineSettings
) -> None:
    site.pages["/articles/ferry.html"] = ("text/html", FERRY)
    site.pages["/notxml.rss"] = ("application/rss+xml", b"this is { not xml at all")
    site.pages["/image.png"] = ("image/png", b"\x89PNG\r\n\x1a\n")
    settings = settings.model_copy(update={"max_document_bytes": 64 * 1024})
    bad = ["/missing.html", "/error", "/slow", "/endless", "/loop", "/huge", "/image.png"]
    inputs = [site.url(path) for path in bad]
    inputs += [Feed(site.url("/notxml.rss")), Feed(site.url("/error")), site.url("/moved")]
    report = ingest(inputs, settings=settings)
    assert report.added == 1
    reasons = {f.source.removeprefix(site.base): f.reason for f in report.failures}
    assert len(report.failures) == 9  # /error twice: as a page and as a feed
    assert reasons["/missing.html"] == "HTTP 404 Not Found"
    assert reasons["/error"] == "HTTP 500 Internal Server Error"  # the page and the feed
    assert reasons["/slow"].startswith("timed out")
    assert reasons["/endless"].startswith(("the body did not finish within 2s", "timed out"))
    assert reasons["/loop"].startswith("too many redirects (a loop?)")
    assert reasons["/huge"].startswith("too large: the body passed the limit of 65536 bytes")
    assert reasons["/image.png"] == "unsupported content type (image/png)"
    assert reasons["/notxml.rss"].startswith("not a feed")


def test_a_scheduled_job_reads_its_feeds_and_its_second_run_fetches_nothing(
    site: Site, settings: PipelineSettings, tmp_path: Path
) -> None:
    site.pages["/articles/ferry.html"] = ("text/html", FERRY)
    news(site, ("Late ferry on Fridays", "/articles/ferry.html", "Tue, 04 Mar 2025 10:00:00 GMT"))
    config = tmp_path / "riverbed.toml"
    config.write_text(f'[jobs.news]\nfeeds = ["{site.url("/news.rss")}"]\nevery = "1h"\n')
    [job] = load_jobs(config)
    [first] = run_once([job], settings)
    assert (first.status, first.report.added) == ("ok", 1)
    site.clear_log()
    [second] = run_once([job], settings)
    assert (second.status, second.report.seen) == ("ok", 0)
    assert [(r.path, r.status) for r in site.log] == [("/news.rss", 304)]


def test_riverbed_ingest_a_url_and_a_feed(site: Site, tmp_path: Path) -> None:
    site.pages["/articles/ferry.html"] = ("text/html", FERRY)
    site.pages["/articles/mill.html"] = ("text/html", MILL)
    news(site, ("The old mill reopens", "/articles/mill.html", "Wed, 05 Mar 2025 09:00:00 GMT"))
    data = tmp_path / "data"
    command = [site.url("/articles/ferry.html"), "--feed", site.url("/news.rss"), "--json"]
    done = subprocess.run(
        riverbed(data, "ingest", *command), capture_output=True, text=True, env=subprocess_env()
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["added"] == 2
    bad = subprocess.run(
        riverbed(data, "ingest", "--feed", "news.rss"), capture_output=True, text=True
    )
    assert bad.returncode == 2 and "is not an http(s) URL" in bad.stderr
    missing = subprocess.run(
        riverbed(data, "ingest", site.url("/gone.html")), capture_output=True, text=True
    )
    assert missing.returncode == 3
    assert f"failed: {site.url('/gone.html')}: HTTP 404 Not Found" in missing.stderr
