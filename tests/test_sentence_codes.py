"""Sentence vectors as the stores keep them (index/store/sentence_codes.py): 6-bit codes that
keep each sentence's direction, and indexes written before them (float16 sentence vectors and
float32 passage vectors) that open, answer as before and take new passages beside the old ones.
The real model answers here: the point is that answers do not change."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from index import Index
from index.store import sentence_codes, sqlite_faiss
from index.store.sentence_codes import CODES, FLOAT16, PACKED, WRITTEN
from index.store.sqlite_faiss import CATALOG, SCHEMA_VERSION
from pipeline import ingest
from riverbed.cli import main
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


@pytest.mark.parametrize(("bits", "cosine"), [(PACKED, 0.99), (CODES, 0.9999)])
def test_codes_take_their_bits_a_component_and_keep_each_direction(
    bits: int, cosine: float
) -> None:
    vectors = unit_rows(200, 384)
    blob, written = sentence_codes.encode(vectors, bits)
    assert (written, len(blob)) == (bits, 200 * 384 * bits // 8)
    (back,) = sentence_codes.decode([(blob, written)], 384)
    assert np.allclose(np.linalg.norm(back, axis=1), 1.0, atol=1e-6)
    assert np.einsum("ij,ij->i", back, vectors).min() > cosine


def test_a_width_that_does_not_pack_is_written_in_8_bit_codes() -> None:
    vectors = unit_rows(3, 10)
    blob, bits = sentence_codes.encode(vectors)
    assert (bits, len(blob)) == (CODES, 3 * 10)
    (back,) = sentence_codes.decode([(blob, bits)], 10)
    assert np.einsum("ij,ij->i", back, vectors).min() > 0.999


def test_a_zero_vector_and_a_passage_without_sentences_read_back_as_they_were() -> None:
    zero, bits = sentence_codes.encode(np.zeros((1, 8), dtype=np.float32))
    none, _ = sentence_codes.encode(np.zeros((0, 8), dtype=np.float32))
    first, second = sentence_codes.decode([(zero, bits), (none, bits)], 8)
    assert first.tolist() == [[0.0] * 8] and second.shape == (0, 8)


def test_rows_of_every_format_read_back_in_order() -> None:
    """An index written before gains passages in today's codes: one read holds every format."""
    old, new, older, coded = (
        unit_rows(3, 16, 1),
        unit_rows(2, 16, 2),
        unit_rows(1, 16, 3),
        unit_rows(2, 16, 4),
    )
    rows = [
        sentence_codes.encode(old, FLOAT16),
        sentence_codes.encode(new),
        sentence_codes.encode(older, FLOAT16),
        sentence_codes.encode(coded, CODES),
    ]
    first, second, third, fourth = sentence_codes.decode(rows, 16)
    assert first.tolist() == old.astype(np.float16).astype(np.float32).tolist()
    assert third.tolist() == older.astype(np.float16).astype(np.float32).tolist()
    assert second.shape == (2, 16) and np.einsum("ij,ij->i", second, new).min() > 0.99
    assert fourth.shape == (2, 16) and np.einsum("ij,ij->i", fourth, coded).min() > 0.999


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
        before_codes.setattr(sqlite_faiss, "PASSAGE_VECTOR", np.float32)
        before_codes.setattr(sqlite_faiss, "PAGE_SIZE", 4096)
        ingest([SEEDS], settings=Settings(data_dir=old))
    before = answers(old, questions)
    # What the catalog was before codes: schema 2, no column saying the format.
    with closing(sqlite3.connect(old / CATALOG)) as db, db:
        db.execute("ALTER TABLE passages DROP COLUMN sentence_bits")
        db.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")

    assert answers(old, questions) == before
    coded = answers(seeded_dir, questions)  # the same articles, ingested in codes
    assert [results[:1] for results in before] == [results[:1] for results in coded]

    lighthouse = tmp_path / "lighthouse.txt"
    lighthouse.write_text(LIGHTHOUSE)
    report = ingest([lighthouse], settings=Settings(data_dir=old))
    assert (report.added, report.failed) == (1, 0)
    with closing(sqlite3.connect(old / CATALOG)) as db, db:
        version = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        formats = dict(
            db.execute("SELECT sentence_bits, COUNT(*) FROM passages GROUP BY sentence_bits")
        )
        widths = {row[0] for row in db.execute("SELECT DISTINCT length(vector) FROM passages")}
    assert version == (str(SCHEMA_VERSION),) and set(formats) == {FLOAT16, WRITTEN}
    assert widths == {384 * 4, 384 * 2}  # passage vectors: float32 before, float16 now
    with Index.open(old) as index:
        (best, *_) = index.search("what did the keepers do at dusk", k=5)
        assert best.source == str(lighthouse) and best.answer is not None
        assert "lit the lamp" in best.answer.text
        assert index.check() == []
    assert answers(old, questions) == before

    # `riverbed compact` rewrites the old rows as new ones are written, in larger pages; the
    # first results and their answers are the same.
    logged = "SELECT COUNT(*) FROM changes"
    with closing(sqlite3.connect(old / CATALOG)) as db, db:
        changes_before = db.execute(logged).fetchone()
    result = CliRunner().invoke(main, ["--data-dir", str(old), "compact"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("compacted: ") and "in 64 KB pages" in result.output
    with closing(sqlite3.connect(old / CATALOG)) as db, db:
        formats = {row[0] for row in db.execute("SELECT DISTINCT sentence_bits FROM passages")}
        widths = {row[0] for row in db.execute("SELECT DISTINCT length(vector) FROM passages")}
        changes_after = db.execute(logged).fetchone()
    assert formats == {WRITTEN} and widths == {384 * 2}
    assert changes_after == changes_before  # ids and texts kept: no reader reads them again
    compacted = answers(old, questions)
    assert [results[:1] for results in compacted] == [results[:1] for results in before]
    with Index.open(old) as index:
        assert index.check() == []
