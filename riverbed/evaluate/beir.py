"""BEIR-layout evaluation: `corpus.jsonl` ({_id, title, text}), `queries.jsonl` ({_id, text}) and
`qrels/test.tsv` (query-id, corpus-id, score, with a header line). Documents are ranked, not
passages: a document ranks at its best passage, and its other passages are passed over."""

from __future__ import annotations

import csv
import json
import statistics
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from riverbed.evaluate.metrics import (
    first_relevant,
    ndcg_at,
    percentile,
    recall_at,
    reciprocal_rank,
)
from riverbed.evaluate.systems import Ranked, Ranker

DEPTH = 100  # passages asked per query: recall@100 counts the documents among them


class BeirQuery(BaseModel):
    id: str
    text: str
    relevant: dict[str, int]


class BeirScores(BaseModel):
    system: str
    queries: int
    ndcg_at_10: float
    recall_at_100: float
    mrr_at_10: float
    latency_p50_ms: float
    latency_p99_ms: float


def is_beir_dir(path: Path) -> bool:
    return path.is_dir() and (path / "corpus.jsonl").is_file()


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if line.strip():
                try:
                    yield json.loads(line)
                except json.JSONDecodeError as err:
                    raise ValueError(f"{path}:{number}: malformed JSON: {err.msg}") from err


def read_corpus(directory: Path) -> Iterator[dict[str, Any]]:
    """The corpus as riverbed records (id, title, text)."""
    for record in _jsonl(directory / "corpus.jsonl"):
        yield {"id": str(record["_id"]), "title": record.get("title", ""), "text": record["text"]}


def read_queries(directory: Path, split: str = "test") -> list[BeirQuery]:
    """The queries that have at least one relevant document in `qrels/SPLIT.tsv`."""
    qrels = directory / "qrels" / f"{split}.tsv"
    if not qrels.is_file():
        raise ValueError(f"{qrels} is missing")
    relevant: dict[str, dict[str, int]] = {}
    with qrels.open(encoding="utf-8", newline="") as rows:
        for row in csv.reader(rows, delimiter="\t"):
            if len(row) < 3 or not row[2].strip().lstrip("-").isdigit():
                continue  # the header, or a blank line
            relevant.setdefault(row[0], {})[row[1]] = int(row[2])
    texts = {str(r["_id"]): r["text"] for r in _jsonl(directory / "queries.jsonl")}
    return [
        BeirQuery(id=qid, text=texts[qid], relevant=docs)
        for qid, docs in relevant.items()
        if qid in texts and any(grade > 0 for grade in docs.values())
    ]


def documents_in_order(results: Sequence[Ranked]) -> list[str]:
    """Each document once, at its best passage."""
    return list(dict.fromkeys(result.doc_id for result in results))


def score_beir(system: str, rank: Ranker, queries: Sequence[BeirQuery]) -> BeirScores:
    rank(queries[0].text, 1)  # warm the encoder and caches
    ndcg, recall, mrr, latencies = [], [], [], []
    for query in queries:
        started = time.perf_counter()
        results = rank(query.text, DEPTH)
        latencies.append((time.perf_counter() - started) * 1000)
        ranked = documents_in_order(results)
        ndcg.append(ndcg_at(ranked, query.relevant, 10))
        recall.append(recall_at(ranked, query.relevant, 100))
        mrr.append(reciprocal_rank(first_relevant(ranked, query.relevant), 10))
    return BeirScores(
        system=system,
        queries=len(queries),
        ndcg_at_10=round(statistics.fmean(ndcg), 4),
        recall_at_100=round(statistics.fmean(recall), 4),
        mrr_at_10=round(statistics.fmean(mrr), 4),
        latency_p50_ms=round(percentile(latencies, 0.50), 2),
        latency_p99_ms=round(percentile(latencies, 0.99), 2),
    )
