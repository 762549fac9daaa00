"""How coarsely can sentence vectors be stored before answers change?

`python -m bench.sentence_codes`: the SQuAD documents of tests/data ingested with the real model
(into a temporary data dir), then every question of tests/data asked (hybrid, k = 5) with the
sentence vectors as stored (float16), and again with them rounded to signed integers of a few
bits and a float16 scale per vector (as a store would keep them), for each width. Reported per
width: the share of questions whose five results are the same, whose first result is, and of
results found both ways, the share with the same answer sentence.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from bench.corpora import EVAL_DOCUMENTS, EVAL_QUESTIONS

WIDTHS = (8, 6, 5, 4)


def rounded(vectors: np.ndarray, bits: int) -> np.ndarray:
    """`vectors` stored as `bits`-bit integers with a float16 scale each, read back as unit
    vectors."""
    top = 2 ** (bits - 1) - 1
    scale = (np.abs(vectors).max(axis=1, keepdims=True) / top).astype(np.float16)
    scale = np.maximum(scale.astype(np.float32), np.finfo(np.float16).tiny)
    back = np.clip(np.round(vectors / scale), -top, top) * scale
    return back / np.linalg.norm(back, axis=1, keepdims=True)


def answers(settings: object, questions: list[str]) -> list[list[tuple]]:
    from index.api import Index

    index = Index.open(settings=settings)  # type: ignore[arg-type]
    try:
        return [
            [
                (p.doc_id, p.start, p.answer.start if p.answer else None)
                for p in index.search(q, k=5)
            ]
            for q in questions
        ]
    finally:
        index.close()


def main() -> None:
    from index.store import sqlite_faiss
    from pipeline import ingest
    from riverbed.settings import Settings

    questions = [json.loads(line)["question"] for line in EVAL_QUESTIONS.open()]
    with tempfile.TemporaryDirectory(prefix="riverbed-sentence-codes-") as folder:
        settings = Settings(data_dir=Path(folder) / "data")
        ingest([EVAL_DOCUMENTS], settings=settings)
        stored = answers(settings, questions)
        catalog = sqlite_faiss.SqliteFaissStore(settings.data_dir, create=False)
        dim = catalog.dim() or 0
        catalog.close()
        decode = sqlite_faiss._float16_to_float32
        try:
            for bits in WIDTHS:

                def coarse(buffer: bytes, bits: int = bits) -> np.ndarray:
                    rows = decode(buffer).reshape(-1, dim)
                    return rounded(rows, bits).astype(np.float32).ravel()

                sqlite_faiss._float16_to_float32 = coarse
                got = answers(settings, questions)
                sqlite_faiss._float16_to_float32 = decode
                report(bits, stored, got)
        finally:
            sqlite_faiss._float16_to_float32 = decode


def report(bits: int, stored: list[list[tuple]], got: list[list[tuple]]) -> None:
    same_lists = np.mean([a == b for a, b in zip(stored, got, strict=True)])
    same_first = np.mean([a[0] == b[0] for a, b in zip(stored, got, strict=True) if a and b])
    both = []
    for before, after in zip(stored, got, strict=True):
        answered = {(doc, start): answer for doc, start, answer in after}
        both += [
            answer == answered[(doc, start)]
            for doc, start, answer in before
            if (doc, start) in answered
        ]
    size = (bits * 384 + 7) // 8 + 2
    print(
        f"{bits}-bit ({size} bytes a sentence, float16: 768): same five results {same_lists:.4f},"
        f" same first {same_first:.4f}, same answer sentence {np.mean(both):.4f} of {len(both)}"
    )


if __name__ == "__main__":
    main()
