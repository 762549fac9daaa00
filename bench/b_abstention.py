"""Abstention, leave one article out: the five SQuAD 2.0 dev articles of tests/data, four indexed
and the fifth's questions asked as unanswerable, rotated (riverbed/evaluate/abstention.py).
Figures: AUROC of the top result's relevance, answerable and unanswerable; at the default
min_relevance, the share of answerable questions that keep their answer and of unanswerable ones
that return nothing; whether gibberish returns nothing."""

from __future__ import annotations

from bench.corpora import EVAL_DOCUMENTS, EVAL_QUESTIONS
from riverbed.evaluate.abstention import leave_one_out


def run() -> dict[str, float | str]:
    report = leave_one_out(EVAL_DOCUMENTS, EVAL_QUESTIONS)
    figures: dict[str, float | str] = {
        key: value for key, value in report.model_dump().items() if key != "tradeoff"
    }
    for threshold, (kept, empty) in report.tradeoff.items():
        figures[f"at_{threshold}_answerable_kept"] = kept
        figures[f"at_{threshold}_unanswerable_empty"] = empty
    return figures
