"""Relevance that means the same across questions, and `min_relevance` on every face: an answer
keeps its passages, a question nothing here answers gets none (real model: the seeds index)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from index import Index
from index.fusion import reciprocal_rank_fusion, strongest_evidence, weighted_sum
from index.relevance import (
    bm25_ceiling,
    bm25_idf,
    calibrated_cosine,
    legible_share,
    relevance,
)
from index.settings import IndexSettings
from riverbed.cli import main
from riverbed.http.app import create_app
from riverbed.settings import Settings
from tests.conftest import QUESTION

GIBBERISH = "zzzqqqxx blorf"
DEFAULT = IndexSettings().min_relevance
OFF_TOPIC = "how long should sourdough bread proof before baking"


def test_signals_add_up_as_they_are_and_rrf_counts_ranks() -> None:
    signals = {"dense": {1: 0.9, 2: 0.2}, "lexical": {2: 0.4}}
    fused = weighted_sum(signals, {"dense": 0.5, "lexical": 0.5})
    assert fused == [(1, pytest.approx(0.45)), (2, pytest.approx(0.3))]
    assert reciprocal_rank_fusion([[1, 2], [2, 3]]) == [
        (2, pytest.approx(1 / 62 + 1 / 61)),
        (1, pytest.approx(1 / 61)),
        (3, pytest.approx(1 / 62)),
    ]


def test_each_kind_of_evidence_counts_by_its_stronger_grain() -> None:
    kinds = {"meaning": ("dense", "sentence"), "words": ("lexical", "coverage")}
    signals = {
        "dense": {1: 0.6, 2: 0.3},  # 2: a passage on another subject, but one sentence answers
        "sentence": {1: 0.5, 2: 0.7},
        "lexical": {1: 0.1},
        "coverage": {1: 0.2, 2: 0.4},
    }
    fused = strongest_evidence(signals, kinds, {"meaning": 0.5, "words": 0.5})
    assert fused == [(2, pytest.approx((0.7 + 0.4) / 2)), (1, pytest.approx((0.6 + 0.2) / 2))]
    # Dense search computes no word signals: meaning alone ranks, on the same scale.
    meaning_only = {name: signals[name] for name in kinds["meaning"]}
    assert strongest_evidence(meaning_only, kinds, {"meaning": 0.5, "words": 0.5}) == [
        (2, pytest.approx(0.7)),
        (1, pytest.approx(0.6)),
    ]


def test_bm25_is_measured_against_the_most_the_terms_could_score() -> None:
    assert bm25_idf(1, 100) == pytest.approx(math.log(99.5 / 1.5))
    assert bm25_idf(90, 100) == 1e-6  # a term in most passages says nothing
    # A term no passage holds still counts: the question asked for it.
    assert bm25_ceiling({"rare": 1, "absent": 0}, 100) == pytest.approx(
        2.2 * (math.log(99.5 / 1.5) + math.log(100.5 / 0.5))
    )
    assert calibrated_cosine(0.1, 0.1) == 0.0 and calibrated_cosine(1.0, 0.1) == 1.0
    assert calibrated_cosine(0.55, 0.1) == pytest.approx(0.5)


def test_relevance_is_the_best_cosine_beside_all_the_signals_agreeing() -> None:
    put_in_other_words = {"dense": 0.4, "sentence": 0.6, "lexical": 0.0, "coverage": 0.0}
    assert relevance(put_in_other_words) == pytest.approx((0.6 + 0.25) / 2)
    assert relevance({"lexical": 0.2, "coverage": 0.6}) == pytest.approx(0.4)  # no cosines
    # A question half made of strings that are no words: its cosines count half.
    assert relevance(put_in_other_words, legible=0.5) == pytest.approx((0.3 + 0.25) / 2)
    assert legible_share({"zzzqqqxx": 0, "blorf": 0}) == 0.0
    assert legible_share({"harbour": 0, "zelensky": 3, "blorf": 0}) == pytest.approx(2 / 3)
    assert relevance({}) == 0.0


def test_an_answer_is_relevant_and_no_answer_returns_nothing(seeded_dir: Path) -> None:
    with Index.open(seeded_dir) as index:
        answered = index.search(QUESTION, k=3)
        assert answered and "no-fly zone" in answered[0].answer.text
        assert all(DEFAULT <= p.relevance <= 1.0 for p in answered)
        for mode in ("hybrid", "dense", "lexical"):
            assert index.search(GIBBERISH, mode=mode) == [], mode
        assert index.search(OFF_TOPIC) == []
        closest = index.search(OFF_TOPIC, k=3, min_relevance=0.0)
        assert len(closest) == 3 and all(p.relevance < DEFAULT for p in closest)
        # The same threshold means the same on another question: relevance is not min-max
        # scaled within a question, so the best of a bad lot is not 1.
        assert max(p.relevance for p in closest) < answered[0].relevance
        most = max(p.relevance for p in answered)
        strict = index.search(QUESTION, k=3, min_relevance=most)
        assert [p.text for p in strict] == [p.text for p in answered if p.relevance >= most]
        with pytest.raises(ValueError, match="min_relevance"):
            index.search(QUESTION, min_relevance=1.5)


def test_the_command_line_says_in_one_line_that_nothing_answers(seeded_dir: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(main, ["--data-dir", str(seeded_dir), "ask", GIBBERISH])
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines() == [
        f"Nothing here answers '{GIBBERISH}' (no passage reaches relevance {DEFAULT:.2f})."
    ]
    shown = runner.invoke(
        main, ["--data-dir", str(seeded_dir), "ask", GIBBERISH, "--min-relevance", "0", "--json"]
    )
    assert shown.exit_code == 0 and json.loads(shown.output)["results"]
    wrong = runner.invoke(main, ["--data-dir", str(seeded_dir), "ask", "x", "--min-relevance", "2"])
    assert wrong.exit_code == 2 and "min-relevance" in wrong.output


def test_http_search_and_page_take_min_relevance(seeded_dir: Path) -> None:
    with TestClient(create_app(Settings(data_dir=seeded_dir))) as client:
        assert client.get("/search", params={"q": GIBBERISH}).json()["results"] == []
        kept = client.get("/search", params={"q": GIBBERISH, "min_relevance": 0}).json()
        assert kept["results"] and all(0 <= p["relevance"] < DEFAULT for p in kept["results"])
        posted = client.post("/search", json={"q": QUESTION, "min_relevance": DEFAULT}).json()
        assert "no-fly zone" in posted["results"][0]["answer"]["text"]
        assert client.post("/search", json={"q": QUESTION, "min_relevance": 2}).status_code == 422
        assert client.post("/search", json={"q": "x", "min_relevance": "0"}).status_code == 422
        page = client.get("/", params={"q": GIBBERISH})
        assert page.status_code == 200 and "Nothing here answers this question" in page.text
