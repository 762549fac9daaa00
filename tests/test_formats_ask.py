"""`riverbed ask` answering from real documents, with the real model: a PDF with its page, a
mail with its subject, a feed entry with its link."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipeline import ingest
from pipeline.sources.feeds import Feed
from riverbed.cli import main
from riverbed.settings import Settings
from tests.conftest import ROOT
from tests.web_fixtures import Site, article, rss

DATA = ROOT / "tests" / "data" / "formats"


@pytest.fixture
def indexed(tmp_path: Path, site: Site) -> tuple[Path, Site]:
    """report.pdf, the mail files and the slides, and a feed of one summary-only entry."""
    folder = tmp_path / "files"
    folder.mkdir()
    for name in ("report.pdf", "patches.mbox", "newsletter.eml", "talk.pptx"):
        shutil.copy(DATA / name, folder / name)
    site.pages["/articles/ferry.html"] = (
        "text/html",
        article(
            "Late ferry on Fridays",
            "The ferry committee agreed to add a late ferry on Fridays, leaving Harwick at 23:10.",
            "The new sailing runs from June to September and needs a second crew.",
        ),
    )
    site.pages["/news.rss"] = (
        "application/rss+xml",
        rss(
            [
                (
                    "Late ferry on Fridays",
                    site.url("/articles/ferry.html"),
                    "Tue, 04 Mar 2025 10:00:00 GMT",
                    "Ferries.",
                )
            ]
        ),
    )
    data = tmp_path / "data"
    report = ingest([folder, Feed(site.url("/news.rss"))], settings=Settings(data_dir=data))
    assert report.failed == 0, report.failures
    return data, site


def ask(data: Path, question: str, *options: str) -> tuple[str, dict]:
    runner = CliRunner()
    base = ["--data-dir", str(data), "ask", question, "-k", "1", *options]
    shown = runner.invoke(main, base)
    assert shown.exit_code == 0, shown.output
    payload = runner.invoke(main, [*base, "--json"])
    assert payload.exit_code == 0, payload.output
    return shown.output, json.loads(payload.output)["results"][0]


def test_ask_answers_from_a_pdf_with_its_page(indexed: tuple[Path, Site]) -> None:
    data, _ = indexed
    shown, first = ask(data, "when was the lighthouse lamp given an electric motor")
    assert first["source"].endswith("report.pdf")
    assert "electric motor" in first["answer"]["text"]
    # The passage runs from the end of page 2 (a short page) into page 3, where its answer is.
    assert (first["page"], first["last_page"], first["answer"]["page"]) == (2, 3, 3)
    assert "report.pdf  pp. 2-3  Harbour survey 2025" in shown


def test_ask_answers_from_a_mail_with_its_subject(indexed: tuple[Path, Site]) -> None:
    data, _ = indexed
    shown, first = ask(data, "what did the ferry timetable committee notice about the neap tides")
    assert first["title"] == "[PATCH 2/2] Tide tables: correct the neap tide heights"
    assert first["metadata"]["from"] == "Mara Quill <mara@example.org>"
    assert first["page"] is None
    assert "[PATCH 2/2] Tide tables: correct the neap tide heights" in shown


def test_ask_answers_from_a_feed_entry_with_its_link(indexed: tuple[Path, Site]) -> None:
    data, site = indexed
    shown, first = ask(data, "what time does the late Friday ferry leave Harwick")
    link = site.url("/articles/ferry.html")
    assert (first["url"], first["source"], first["title"]) == (
        link,
        link,
        "Late ferry on Fridays",
    )
    assert "23:10" in first["answer"]["text"]
    assert link in shown
