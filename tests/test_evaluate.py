"""`riverbed eval`: the metrics as BEIR defines them, and both kinds of question set end to end
(real model: the figures are retrieval quality), each beside the plain baselines."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from click.testing import CliRunner

from riverbed.cli import main
from riverbed.evaluate.beir import documents_in_order, read_queries
from riverbed.evaluate.metrics import auroc, first_relevant, ndcg_at, recall_at, reciprocal_rank
from riverbed.evaluate.systems import Ranked
from tests.conftest import SEEDS

BASELINES = ["baseline:dense", "baseline:bm25", "baseline:rrf"]


def test_ranking_metrics_by_hand() -> None:
    relevant = {"a": 1, "b": 2}
    assert ndcg_at(["b", "a", "x"], relevant) == pytest.approx(1.0)
    # b (gain 2) at rank 2, a (gain 1) missing; the ideal has b then a
    ideal = 2 + 1 / math.log2(3)
    assert ndcg_at(["x", "b"], relevant) == pytest.approx((2 / math.log2(3)) / ideal)
    assert ndcg_at(["x", "y"], relevant) == 0.0
    assert recall_at(["x", "a"], relevant) == 0.5
    assert recall_at(["x", "a"], relevant, k=1) == 0.0
    assert first_relevant(["x", "y", "a"], relevant) == 3
    assert reciprocal_rank(3) == pytest.approx(1 / 3)
    assert reciprocal_rank(11) == 0.0
    assert auroc([0.9, 0.8], [0.1, 0.8]) == pytest.approx(0.875)


def test_a_document_ranks_at_its_best_passage() -> None:
    passages = [Ranked("d2", "x"), Ranked("d1", "y"), Ranked("d2", "z"), Ranked("d3", "w")]
    assert documents_in_order(passages) == ["d2", "d1", "d3"]


@pytest.fixture(scope="module")
def beir_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("beir")
    corpus = [
        {"_id": "harbour", "title": "Storm", "text": "A winter storm closed the harbour for days."},
        {"_id": "budget", "title": "Council", "text": "The council approved the school budget."},
        {"_id": "match", "title": "Football", "text": "The home side won the cup final 2-1."},
    ]
    queries = [
        {"_id": "q1", "text": "bad weather shut the port"},
        {"_id": "q2", "text": "money for schools voted through"},
        {"_id": "q3", "text": "who won the final"},
        {"_id": "q4", "text": "a query no qrels line names"},
    ]
    (folder / "corpus.jsonl").write_text("".join(json.dumps(r) + "\n" for r in corpus))
    (folder / "queries.jsonl").write_text("".join(json.dumps(r) + "\n" for r in queries))
    (folder / "qrels").mkdir()
    (folder / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\nq1\tharbour\t1\nq2\tbudget\t1\nq3\tmatch\t1\n"
    )
    (folder / "qrels" / "dev.tsv").write_text("query-id\tcorpus-id\tscore\nq3\tmatch\t1\n")
    return folder


def test_beir_queries_are_those_with_a_relevant_document(beir_dir: Path) -> None:
    assert [q.id for q in read_queries(beir_dir)] == ["q1", "q2", "q3"]
    assert [q.id for q in read_queries(beir_dir, "dev")] == ["q3"]


def test_eval_judges_by_the_split_it_is_given(beir_dir: Path, tmp_path: Path) -> None:
    args = ["--data-dir", str(tmp_path / "unused"), "eval", str(beir_dir), "--mode", "hybrid"]
    result = CliRunner().invoke(main, [*args, "--split", "dev", "--json"])
    assert result.exit_code == 0, result.output
    assert {s["queries"] for s in json.loads(result.output)["systems"]} == {1}
    missing = CliRunner().invoke(main, [*args, "--split", "train"])
    assert missing.exit_code == 1
    assert "train.tsv is missing" in missing.output and "Traceback" not in missing.output


def test_eval_on_a_beir_folder_reports_every_system(beir_dir: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["--data-dir", str(tmp_path / "unused"), "eval", str(beir_dir), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["kind"] == "beir" and report["documents"] == 3
    systems = {s["system"]: s for s in report["systems"]}
    assert list(systems) == ["dense", "lexical", "hybrid", *BASELINES]
    # Three documents on three topics: the meaning of each query finds its own.
    for name in ("dense", "hybrid", "baseline:dense", "baseline:rrf"):
        assert systems[name]["ndcg_at_10"] == 1.0, name
        assert systems[name]["recall_at_100"] == 1.0, name
        assert systems[name]["queries"] == 3


def test_eval_with_answer_strings_prints_a_table_with_the_baselines(tmp_path: Path) -> None:
    questions = tmp_path / "questions.jsonl"
    questions.write_text(
        json.dumps({"id": "1", "question": "what did Zelensky ask of NATO", "answers": ["no-fly"]})
        + "\n"
    )
    result = CliRunner().invoke(main, ["eval", str(SEEDS), str(questions), "--mode", "hybrid"])
    assert result.exit_code == 0, result.output
    for name in ("hybrid", *BASELINES):
        assert name in result.output
    assert "hit@1" in result.output and "1.000" in result.output


def test_a_folder_that_is_not_beir_needs_questions(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["eval", str(tmp_path)])
    assert result.exit_code == 2
    assert "not a BEIR folder" in result.output
