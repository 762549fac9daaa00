"""Retrieval behaviour a user relies on: folding, answer sentences, filters, modes (real model)."""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path

import pytest
from click.testing import CliRunner

from index import Index
from index.fold import overlap, shingles
from pipeline import ingest
from riverbed.cli import main
from riverbed.settings import Settings
from tests.conftest import BUNKER, CNN, QUESTION


def test_the_same_quote_in_two_articles_is_one_result(seeded_dir: Path) -> None:
    with Index.open(seeded_dir) as index:
        top = index.search(QUESTION, k=3)
    assert "no-fly zone" in top[0].answer.text
    assert {top[0].source, *top[0].also_in} == {str(CNN), str(BUNKER)}
    for first, second in combinations(top, 2):
        assert overlap(shingles(first.text), shingles(second.text)) < 0.25
        assert first.answer.text != second.answer.text


@pytest.mark.parametrize("mode", ["dense", "lexical", "hybrid"])
def test_every_mode_answers_from_the_source_text(seeded_dir: Path, mode: str) -> None:
    with Index.open(seeded_dir) as index:
        results = index.search("Which countries could the conflict spread to?", k=3, mode=mode)
    assert results, mode
    assert any("Poland" in p.text and "Lithuania" in p.text for p in results)
    with Index.open(seeded_dir) as index:
        first = index.search(QUESTION, k=1, mode=mode)[0]
    if mode != "lexical":  # lexical mode finds words, not the meaning of "ask"
        assert "no-fly zone" in first.answer.text
    for passage in results:
        assert passage.text[passage.answer.start : passage.answer.end] == passage.answer.text


@pytest.fixture(scope="module")
def news_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("news")
    records = [
        {
            "id": "storm-2021",
            "title": "Storm closes harbour",
            "text": "A winter storm closed the harbour for three days and flooded the quay.",
            "published_at": "2021-01-10",
            "metadata": {"desk": "weather", "lang": "en"},
        },
        {
            "id": "storm-2023",
            "title": "Storm damages pier",
            "text": "A spring storm damaged the old pier and closed the harbour for a day.",
            "published_at": "2023-04-02",
            "metadata": {"desk": "weather", "lang": "en"},
        },
        {
            "id": "budget-2023",
            "title": "Harbour budget approved",
            "text": "The council approved the harbour budget, including repairs to the pier.",
            "published_at": "2023-06-20",
            "metadata": {"desk": "politics", "lang": "en"},
            "url": "https://example.org/budget",
        },
    ]
    source = folder / "news.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    data_dir = folder / "data"
    report = ingest([source], settings=Settings(data_dir=data_dir))
    assert report.added == 3
    return data_dir


def ask_ids(data_dir: Path, *options: str) -> list[str]:
    """Every document the filters let through (`--min-relevance 0`: this is about filters)."""
    result = CliRunner().invoke(
        main,
        [
            *("--data-dir", str(data_dir), "ask", "storm closed the harbour", "--json"),
            *("--min-relevance", "0", *options),
        ],
    )
    assert result.exit_code == 0, result.output
    return [p["doc_id"] for p in json.loads(result.output)["results"]]


def test_filters_on_the_command_line(news_dir: Path) -> None:
    assert set(ask_ids(news_dir)) == {"storm-2021", "storm-2023", "budget-2023"}
    assert ask_ids(news_dir, "--doc", "budget-2023") == ["budget-2023"]
    assert ask_ids(news_dir, "--source", "https://example.org/budget") == ["budget-2023"]
    assert set(ask_ids(news_dir, "--meta", "desk=weather")) == {"storm-2021", "storm-2023"}
    assert ask_ids(news_dir, "--after", "2022-01-01", "--meta", "desk=weather") == ["storm-2023"]
    assert ask_ids(news_dir, "--before", "2022-01-01") == ["storm-2021"]
    assert ask_ids(news_dir, "--meta", "desk=sport") == []


def test_filters_in_the_python_api(news_dir: Path) -> None:
    with Index.open(news_dir) as index:
        hits = index.search(
            "harbour", k=5, filters={"metadata": {"desk": "politics"}, "doc_ids": ["budget-2023"]}
        )
        assert [p.doc_id for p in hits] == ["budget-2023"]
        assert hits[0].url == "https://example.org/budget"
        assert hits[0].published_at is not None and hits[0].published_at.year == 2023
        assert hits[0].metadata["desk"] == "politics"
