"""Do the stored sentence codes give the answers float16 gave, and what do they save?

`python -m bench.sentence_codes`, on two sets:

- SQuAD: the documents of tests/data ingested with the real model into a temporary data dir,
  their sentence vectors written as float16 (the format before codes); the set's questions.
- Python docs: a copy of bench/b_query.py's index (bench/.cache, built by `python -m bench query`
  if missing), which holds float16 if it was built before codes; bench/b_query.py's questions.

Every question is asked (hybrid, k = 5) of the float16 catalog, then again after its passages'
sentence vectors are rewritten in the stored format (index/store/sentence_codes.py), read back
through the same store, and again once its passage vectors are rewritten as new ones are
(float16, index/store/sqlite_faiss.py). Reported per set: the share of questions whose five results are the
same, whose first result is, and of the results found both ways, the share with the same answer
sentence; then sentence vector bytes per passage and the catalog's bytes per passage (after
VACUUM) in each format.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from bench.corpora import EVAL_DOCUMENTS, EVAL_QUESTIONS, pydocs_index
from index.store import sentence_codes
from index.store.sqlite_faiss import CATALOG, PASSAGE_VECTOR, passage_vector

Answers = list[list[tuple[str, int, int | None]]]


def answers(data_dir: Path, questions: list[str]) -> Answers:
    """For each question, its five results as (document, start, answer sentence's start)."""
    from index.api import Index

    with Index.open(data_dir) as index:
        return [
            [
                (p.doc_id, p.start, p.answer.start if p.answer else None)
                for p in index.search(q, k=5)
            ]
            for q in questions
        ]


@contextmanager
def written_as_float16() -> Iterator[None]:
    """New passages get float16 sentence vectors meanwhile, as before codes."""
    before = sentence_codes.WRITTEN
    sentence_codes.WRITTEN = sentence_codes.FLOAT16
    try:
        yield
    finally:
        sentence_codes.WRITTEN = before


def recode(data_dir: Path, bits: int) -> None:
    """Rewrite every passage's sentence vectors in the format `bits`, then VACUUM."""
    with sqlite3.connect(data_dir / CATALOG) as db:
        dim = int(db.execute("SELECT value FROM meta WHERE key = 'dim'").fetchone()[0])
        rows = db.execute("SELECT id, sentence_vectors, sentence_bits FROM passages").fetchall()
        recoded = sentence_codes.recoded([(blob, its) for _, blob, its in rows], dim, bits)
        db.executemany(
            "UPDATE passages SET sentence_vectors = ?, sentence_bits = ? WHERE id = ?",
            [(*sentence, pid) for (pid, _, _), sentence in zip(rows, recoded, strict=True)],
        )
    vacuum(data_dir)


def passage_vectors_as_written(data_dir: Path) -> None:
    """Rewrite every passage's vector as new passages get it (float16), then VACUUM."""
    with sqlite3.connect(data_dir / CATALOG) as db:
        dim = int(db.execute("SELECT value FROM meta WHERE key = 'dim'").fetchone()[0])
        db.executemany(
            "UPDATE passages SET vector = ? WHERE id = ?",
            [
                (passage_vector(blob, dim).astype(PASSAGE_VECTOR).tobytes(), pid)
                for pid, blob in db.execute("SELECT id, vector FROM passages").fetchall()
            ],
        )
    vacuum(data_dir)


def vacuum(data_dir: Path) -> None:
    db = sqlite3.connect(data_dir / CATALOG, isolation_level=None)
    try:
        db.execute("VACUUM")
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()


def sizes(data_dir: Path) -> dict[str, float]:
    """Sentence vector bytes and catalog bytes, per passage."""
    with sqlite3.connect(data_dir / CATALOG) as db:
        passages, sentences = db.execute(
            "SELECT COUNT(*), SUM(length(sentence_vectors)) FROM passages"
        ).fetchone()
    catalog = (data_dir / CATALOG).stat().st_size
    return {"sentence_bytes": sentences / passages, "catalog_bytes": catalog / passages}


def agreement(stored: Answers, got: Answers) -> dict[str, float]:
    pairs = list(zip(stored, got, strict=True))
    both = []
    for before, after in pairs:
        answered = {(doc, start): answer for doc, start, answer in after}
        both += [
            answer == answered[(doc, start)]
            for doc, start, answer in before
            if (doc, start) in answered
        ]
    return {
        "questions": len(pairs),
        "same_five": float(np.mean([a == b for a, b in pairs])),
        "same_first": float(np.mean([a[0] == b[0] for a, b in pairs if a and b])),
        "same_answer_sentence": float(np.mean(both)),
        "results_found_both_ways": len(both),
    }


def compare(name: str, data_dir: Path, questions: list[str]) -> dict[str, Any]:
    """The float16 catalog in `data_dir` against itself recoded in the written format, then
    with its passage vectors written as new ones are too."""
    vacuum(data_dir)
    float16 = sizes(data_dir)
    stored = answers(data_dir, questions)
    recode(data_dir, sentence_codes.WRITTEN)
    coded = sizes(data_dir)
    figures: dict[str, Any] = {"set": name, **agreement(stored, answers(data_dir, questions))}
    passage_vectors_as_written(data_dir)
    written = sizes(data_dir)
    also = agreement(stored, answers(data_dir, questions))
    figures |= {f"{key}_and_passage_vectors": value for key, value in also.items()}
    for part in ("sentence_bytes", "catalog_bytes"):
        figures[f"{part}_per_passage_float16"] = round(float16[part], 1)
        figures[f"{part}_per_passage_codes"] = round(coded[part], 1)
    figures["catalog_bytes_per_passage_as_written"] = round(written["catalog_bytes"], 1)
    return figures


def squad(folder: Path) -> dict[str, Any]:
    from pipeline import ingest
    from riverbed.settings import Settings

    data_dir = folder / "squad"
    with written_as_float16():
        ingest([EVAL_DOCUMENTS], settings=Settings(data_dir=data_dir))
    questions = [json.loads(line)["question"] for line in EVAL_QUESTIONS.open()]
    return compare("SQuAD (tests/data)", data_dir, questions)


def pydocs(folder: Path) -> dict[str, Any]:
    from bench.b_query import questions

    name = "Python docs (bench/b_query.py)"
    built, _ = pydocs_index()  # opened by riverbed: at the current schema
    with sqlite3.connect(built / CATALOG) as db:
        formats = {row[0] for row in db.execute("SELECT DISTINCT sentence_bits FROM passages")}
    if formats != {sentence_codes.FLOAT16}:
        return {"set": name, "skipped": f"{built} holds sentence codes: no float16 to compare"}
    data_dir = folder / "pydocs"
    shutil.copytree(built, data_dir, ignore=shutil.ignore_patterns("*.lock", "bm25-*"))
    return compare(name, data_dir, questions(data_dir))


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="riverbed-sentence-codes-") as folder:
        for measure in (squad, pydocs):
            print(json.dumps(measure(Path(folder))), flush=True)


if __name__ == "__main__":
    main()
