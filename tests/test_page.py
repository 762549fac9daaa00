"""The search page of `riverbed serve`, in a real browser: Debian's chromium, headless, driven by
Playwright, against a real server over the seeds index (real model)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from riverbed.cli.output import short_source
from riverbed.http.page import web_link
from riverbed.settings import Settings
from tests.conftest import BUNKER, CNN, QUESTION, ROOT
from tests.server_harness import copy_index, running_server

pytestmark = pytest.mark.slow  # a browser

# The README's screenshot is refreshed on request, not by every run:
# `SEARCH_PAGE_SCREENSHOT=docs/search-page.png .venv/bin/pytest tests/test_page.py`.
SCREENSHOT_TO = os.environ.get("SEARCH_PAGE_SCREENSHOT")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    found = shutil.which("chromium")
    if found is None:
        pytest.skip(
            "Debian's chromium is not installed and could not be: `make test` runs"
            " `apt-get install -y chromium` first"
        )
    return found


@pytest.fixture(scope="module")
def server(seeded_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("page")
    with running_server(copy_index(seeded_dir, root / "data"), root / "server.log") as base_url:
        yield base_url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def test_search_answers_the_question_and_runs_view_shows_the_ingest(
    server: str, browser: object, tmp_path: Path
) -> None:
    page = browser.new_page(viewport={"width": 1000, "height": 860})  # type: ignore[attr-defined]
    page.goto(server + "/")
    page.get_by_role("searchbox", name="Question").fill(QUESTION)
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/?q=*")

    results = page.locator("li.result")
    assert results.count() == 5
    first = results.first
    assert "no-fly zone" in first.locator("mark").inner_text()
    assert "no-fly zone" in first.locator(".passage").inner_text()
    assert first.locator(".source a").inner_text() == short_source(str(CNN))
    assert first.locator(".also li").all_inner_texts() == [short_source(str(BUNKER))]
    assert page.get_by_role("searchbox", name="Question").input_value() == QUESTION
    screenshot = ROOT / SCREENSHOT_TO if SCREENSHOT_TO else tmp_path / "search-page.png"
    page.screenshot(path=str(screenshot))
    assert screenshot.stat().st_size > 0

    page.get_by_role("link", name="Runs").click()
    page.wait_for_url("**/runs")
    stats = page.locator("dl.stats").inner_text()
    assert "Documents\n2" in stats
    run = page.locator("table.runs tbody tr").first.locator("td")
    columns = [cell.inner_text() for cell in run.all()]
    assert columns[1] == "ingest" and columns[4] == "ok"
    assert columns[5:7] == ["2", "2"]  # seen, added


def test_filters_narrow_and_the_page_fits_a_phone(server: str, browser: object) -> None:
    page = browser.new_page(viewport={"width": 360, "height": 740})  # type: ignore[attr-defined]
    page.goto(server + "/")
    page.get_by_role("searchbox", name="Question").fill(QUESTION)
    page.locator("summary", has_text="Filters").click()
    page.get_by_label("Source").fill(os.path.relpath(BUNKER))  # as the page shows sources
    page.get_by_label("Results").select_option("3")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/?q=*")

    sources = page.locator("li.result .source a").all_inner_texts()
    assert sources and len(sources) <= 3
    assert set(sources) == {short_source(str(BUNKER))}
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, "the results page scrolls sideways on a phone"


def test_mistakes_are_messages_on_the_page(server: str) -> None:
    with httpx.Client(base_url=server, timeout=120) as client:
        bad_date = client.get("/", params={"q": QUESTION, "after": "last tuesday"})
        assert bad_date.status_code == 400
        assert "is not a date: use YYYY-MM-DD" in bad_date.text
        assert 'value="last tuesday"' in bad_date.text  # the form keeps what was typed
        crossed = client.get(
            "/", params={"q": QUESTION, "after": "2024-02-01", "before": "2024-01-01"}
        )
        assert crossed.status_code == 400 and "after the &#39;to&#39; date" in crossed.text
        hostile = client.get("/", params={"q": "<script>alert(1)</script>", "source": '"><b>x'})
        assert hostile.status_code == 200
        assert "<script>alert" not in hostile.text and "<b>x" not in hostile.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in hostile.text


def test_only_web_addresses_become_links() -> None:
    """A document's url comes from the data: a script address in it must not become a link."""
    assert web_link("https://example.org/a?b=1") == "https://example.org/a?b=1"
    for hostile in ("javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,x", None, ""):
        assert web_link(hostile) == ""


def test_an_empty_index_says_how_to_fill_it(tmp_path: Path) -> None:
    """In-process app over a new data dir: no documents, no runs."""
    from riverbed.http.app import create_app

    with TestClient(create_app(Settings(data_dir=tmp_path / "data"))) as client:
        search = client.get("/", params={"q": QUESTION})
        assert search.status_code == 409
        assert "run `riverbed ingest PATH` first" in search.text
        runs = client.get("/runs")
        assert runs.status_code == 200
        assert "No runs yet" in runs.text
