"""Ingest → index → ask, through the library and the CLI, with the real model."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from click.testing import CliRunner

from index import Index
from pipeline import ingest
from riverbed.cli import main
from riverbed.settings import Settings
from tests.conftest import BUNKER, CNN, QUESTION, SEEDS


def test_zelensky_question_is_answered_by_the_no_fly_zone_passage(seeded_dir: Path) -> None:
    with Index.open(seeded_dir) as index:
        results = index.search(QUESTION, k=3)
    first = results[0]
    assert "no-fly zone" in first.text
    assert first.source in (str(CNN), str(BUNKER))
    assert first.answer is not None and "no-fly zone" in first.answer.text
    assert first.text[first.answer.start : first.answer.end] == first.answer.text
    document = Index.open(seeded_dir).document(first.doc_id)
    assert document is not None
    assert document["text"][first.start : first.end] == first.text
    assert document["text"][first.answer.doc_start : first.answer.doc_end] == first.answer.text


def test_ask_json_has_the_documented_shape(seeded_dir: Path) -> None:
    result = CliRunner().invoke(main, ["--data-dir", str(seeded_dir), "ask", QUESTION, "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert payload["query"] == QUESTION
    assert len(payload["results"]) == 5
    for passage in payload["results"]:
        for key in ("text", "score", "doc_id", "source", "title", "start", "end", "also_in"):
            assert key in passage
        assert set(passage["answer"]) >= {"text", "start", "end"}
    assert "no-fly zone" in payload["results"][0]["text"]


def test_ask_marks_the_answer_for_people(seeded_dir: Path) -> None:
    result = CliRunner().invoke(main, ["--data-dir", str(seeded_dir), "ask", QUESTION, "-k", "2"])
    assert result.exit_code == 0, result.output
    first = result.output.split("\n2. ")[0]
    assert first.startswith("1. ")
    assert "cnn-zelensky-interview.txt" in first or "zelensky-bunker-interview.txt" in first
    marked = first[first.index("»") + 1 : first.index("«")]
    assert "no-fly zone" in " ".join(marked.split())


def test_second_ingest_embeds_and_adds_nothing(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["--data-dir", str(tmp_path / "data")]
    first = runner.invoke(main, [*args, "ingest", str(SEEDS), "--json"])
    assert first.exit_code == 0, first.output
    stats_before = runner.invoke(main, [*args, "stats", "--json"]).output
    second = runner.invoke(main, [*args, "ingest", str(SEEDS), "--json"])
    report = json.loads(second.output)
    assert report["seen"] == 2 and report["unchanged"] == 2
    assert report["added"] == 0 and report["updated"] == 0
    assert report["tokens_embedded"] == 0 and report["chunks"] == 0
    stats_after = json.loads(runner.invoke(main, [*args, "stats", "--json"]).output)
    before = json.loads(stats_before)
    for key in ("documents", "chunks", "passages", "tokens"):
        assert stats_after[key] == before[key]
    assert before["documents"] == 2


def test_an_index_refuses_another_models_vectors(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    ingest([CNN], settings=settings)
    with sqlite3.connect(settings.data_dir / "catalog.sqlite") as db:
        db.execute("UPDATE meta SET value = 'other-model@0123' WHERE key = 'model_id'")
    result = CliRunner().invoke(main, ["--data-dir", str(settings.data_dir), "ingest", str(BUNKER)])
    assert result.exit_code == 1
    assert "built with other-model@0123" in result.output
    assert "Traceback" not in result.output
    asked = CliRunner().invoke(main, ["--data-dir", str(settings.data_dir), "ask", QUESTION])
    assert asked.exit_code == 1 and "built with other-model@0123" in asked.output


def test_user_mistakes_are_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(main, ["--data-dir", str(tmp_path / "none"), "ask", QUESTION])
    assert missing.exit_code == 1
    assert "no index" in missing.output and len(missing.output.strip().splitlines()) == 1
    nothing = runner.invoke(main, ["--data-dir", str(tmp_path), "ingest", str(tmp_path / "nope")])
    assert nothing.exit_code == 1 and "no such file or folder" in nothing.output
