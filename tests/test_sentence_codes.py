"""Sentence vectors as the stores keep them (index/store/sentence_codes.py): 8-bit codes that
keep each sentence's direction, and indexes written before them (float16) that open, answer as
before and take new passages beside the old ones. The real model answers here: the point is
that answers do not change."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from index import Index
from index.store import sentence_codes
from index.store.sentence_codes import CODES, FLOAT16
from index.store.sqlite_faiss import CATALOG, SCHEMA_VERSION
from pipeline import ingest
from riverbed.settings import Settings
from tests.conftest import ROOT, SEEDS

QUESTIONS = ROOT / "tests" / "data" / "seeds-paraphrased.questions.jsonl"
LIGHTHOUSE = (
    "Skerryvore is a lighthouse on a reef off the west coast of Scotland. Its keepers lit the "
    "lamp at dusk and trimmed the wick through the night. The tower was finished in 1844."
)


def unit_rows(count: int, dim: int, seed: int = 3) -> np.ndarray:
    rows = np.random.default_rng(seed).standard_normal((count, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_codes_take_a_byte_a_component_and_keep_each_direction() -> None:
    vectors = unit_rows(200, 384)
    blob, bits = sentence_codes.encode(vectors)
    assert (bits, len(blob)) == (CODES, 200 * 384)
    (back,) = sentence_codes.decode([(blob, bits)], 384)
    assert np.allclose(np.linalg.norm(back, axis=1), 1.0, atol=1e-6)
    assert np.einsum("ij,ij->i", back, vectors).min() > 0.9999


def test_a_zero_vector_and_a_passage_without_sentences_read_back_as_they_were() -> None:
    zero, bits = sentence_codes.encode(np.zeros((1, 8), dtype=np.float32))
    none, _ = sentence_codes.encode(np.zeros((0, 8), dtype=np.float32))
    first, second = sentence_codes.decode([(zero, bits), (none, bits)], 8)
    assert first.tolist() == [[0.0] * 8] and second.shape == (0, 8)


def test_rows_of_both_formats_read_back_in_order() -> None:
    """An index written before codes gains coded passages: one read holds both."""
    old, new, older = unit_rows(3, 16, 1), unit_rows(2, 16, 2), unit_rows(1, 16, 3)
    rows = [
        sentence_codes.encode(old, FLOAT16),
        sentence_codes.encode(new),
        sentence_codes.encode(older, FLOAT16),
    ]
    first, second, third = sentence_codes.decode(rows, 16)
    assert first.tolist() == old.astype(np.float16).astype(np.float32).tolist()
    assert third.tolist() == older.astype(np.float16).astype(np.float32).tolist()
    assert second.shape == (2, 16) and np.einsum("ij,ij->i", second, new).min() > 0.999


def answers(data_dir: Path, questions: list[str]) -> list[list[tuple[str, int, int | None]]]:
    """Each question's five results as (document, passage start, answer sentence start)."""
    with Index.open(data_dir) as index:
        return [
            [
                (p.doc_id, p.start, p.answer.start if p.answer else None)
                for p in index.search(q, k=5)
            ]
            for q in questions
        ]


def test_an_index_written_in_float16_opens_answers_as_before_and_takes_new_passages(
    tmp_path: Path, seeded_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    questions = [json.loads(line)["question"] for line in QUESTIONS.open()]
    old = tmp_path / "old"
    with monkeypatch.context() as before_codes:
        before_codes.setattr(sentence_codes, "WRITTEN", FLOAT16)
        ingest([SEEDS], settings=Settings(data_dir=old))
    before = answers(old, questions)
    # What the catalog was before codes: schema 2, no column saying the format.
    with sqlite3.connect(old / CATALOG) as db:
        db.execute("ALTER TABLE passages DROP COLUMN sentence_bits")
        db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")

    assert answers(old, questions) == before
    coded = answers(seeded_dir, questions)  # the same articles, ingested in codes
    assert [results[:1] for results in before] == [results[:1] for results in coded]

    lighthouse = tmp_path / "lighthouse.txt"
    lighthouse.write_text(LIGHTHOUSE)
    report = ingest([lighthouse], settings=Settings(data_dir=old))
    assert (report.added, report.failed) == (1, 0)
    with sqlite3.connect(old / CATALOG) as db:
        version = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        formats = dict(
            db.execute("SELECT sentence_bits, COUNT(*) FROM passages GROUP BY sentence_bits")
        )
    assert version == (str(SCHEMA_VERSION),) and set(formats) == {FLOAT16, CODES}
    with Index.open(old) as index:
        (best, *_) = index.search("what did the keepers do at dusk", k=5)
        assert best.source == str(lighthouse) and best.answer is not None
        assert "lit the lamp" in best.answer.text
        assert index.check() == []
    assert answers(old, questions) == before
