"""Idempotence and change, with the real model: an edited document is replaced (its old text is
no longer found, its new text is), an unchanged one costs no embedding work at all, and a
deleted one is never returned again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

import pipeline.stages
from index import Index
from riverbed.cli import main
from tests.conftest import QUESTION

OLD = 'Asked if he felt Ukraine was wasting its time by talking with Russia, he said: "We\'ll see."'
NEW = (
    "Asked about the harvest, he said the sunflower fields of Kherson would feed Europe again"
    " by autumn."
)
MODES = ("dense", "lexical", "hybrid")


def _ingest(data: Path, folder: Path) -> dict:
    result = CliRunner().invoke(main, ["--data-dir", str(data), "ingest", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_edit_then_reingest_unchanged_then_delete(
    seeds_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One reader stays open throughout, as a server's would: it must follow every change."""
    data = tmp_path / "data"
    cnn = seeds_copy / "cnn-zelensky-interview.txt"
    old_question = "Was Ukraine wasting its time by talking with Russia?"
    new_question = "Which fields will feed Europe again by autumn?"
    assert _ingest(data, seeds_copy)["added"] == 2
    with Index.open(data) as index:

        def search(question: str, mode: str, k: int = 10) -> list:
            return index.search(question, k=k, mode=mode)  # type: ignore[arg-type]

        assert any("wasting its time" in p.text for p in search(old_question, "hybrid", k=3))

        text = cnn.read_text()
        assert OLD in text
        cnn.write_text(text.replace(OLD, NEW))
        report = _ingest(data, seeds_copy)
        assert (report["updated"], report["unchanged"], report["added"]) == (1, 1, 0)
        assert report["tokens_embedded"] > 0
        for mode in MODES:
            assert not any("wasting its time" in p.text for p in search(old_question, mode))
        best = search(new_question, "hybrid", k=1)[0]
        assert "sunflower fields of Kherson" in best.text
        assert best.source == str(cnn.resolve())

        def no_model(*_args: object, **_kwargs: object) -> None:
            raise AssertionError("an unchanged document must not load the model")

        monkeypatch.setattr(pipeline.stages, "passage_encoder", no_model)
        report = _ingest(data, seeds_copy)
        assert (report["unchanged"], report["tokens_embedded"], report["chunks"]) == (2, 0, 0)
        monkeypatch.undo()

        deleted = CliRunner().invoke(main, ["--data-dir", str(data), "delete", str(cnn)])
        assert deleted.exit_code == 0, deleted.output
        for mode in MODES:
            for question in (QUESTION, new_question, "Biden State of the Union speech"):
                for passage in search(question, mode):
                    assert passage.source != str(cnn.resolve())
                    assert str(cnn.resolve()) not in passage.also_in
                    assert "sunflower" not in passage.text
        kept = search("no-fly zone over Ukraine", "lexical", k=1)[0]  # the other one stays
        assert kept.source == str((seeds_copy / "zelensky-bunker-interview.txt").resolve())
