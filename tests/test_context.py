"""Prompt contexts: numbered, cited, within the token budget, counted with the model's tokenizer."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from index import Index, Passage, build_context
from index.context import model_token_counter
from index.settings import DEFAULT_MODEL
from tests.conftest import QUESTION


@pytest.fixture(scope="module")
def passages(seeded_dir: Path) -> list[Passage]:
    with Index.open(seeded_dir) as index:
        return index.search(QUESTION, k=5)


@pytest.fixture(scope="module")
def documents(seeded_dir: Path, passages: list[Passage]) -> dict[str, str]:
    with Index.open(seeded_dir) as index:
        return {p.doc_id: index.document(p.doc_id)["text"] for p in passages}  # type: ignore[index]


def test_a_large_budget_cites_every_passage_in_order(passages: list[Passage]) -> None:
    context = build_context(passages, max_tokens=5000)
    assert [c.number for c in context.citations] == [1, 2, 3, 4, 5]
    assert not any(c.truncated for c in context.citations)
    blocks = context.text.split("\n\n[")
    assert len(blocks) == 5
    for number, (block, passage) in enumerate(zip(blocks, passages, strict=True), start=1):
        assert block.lstrip("[").startswith(f"{number}] {passage.title}")
        assert block.endswith(passage.text)


@pytest.mark.parametrize("budget", [40, 90, 150, 260, 400, 700])
def test_the_budget_is_never_exceeded_and_cuts_fall_after_a_sentence(
    passages: list[Passage], documents: dict[str, str], budget: int
) -> None:
    count = model_token_counter(DEFAULT_MODEL)
    context = build_context(passages, max_tokens=budget)
    assert context.tokens == count(context.text) <= budget
    whole = build_context(passages, max_tokens=10_000)
    assert context.tokens <= whole.tokens
    for citation in context.citations:
        cited = documents[citation.doc_id][citation.start : citation.end]
        assert cited and cited in context.text
        passage = passages[citation.number - 1]
        assert passage.text.startswith(cited)
        assert citation.truncated == (cited != passage.text)
        if citation.truncated:
            assert re.search(r"[.!?…][\"'”’)\]]*$", cited), cited[-40:]
    assert all(not c.truncated for c in context.citations[:-1])


def test_too_small_a_budget_gives_an_empty_context(passages: list[Passage]) -> None:
    context = build_context(passages, max_tokens=5)
    assert context.text == "" and context.citations == [] and context.tokens == 0
    with pytest.raises(ValueError, match="max_tokens"):
        build_context(passages, max_tokens=0)


def test_a_callers_own_token_counter_sets_the_budget(passages: list[Passage]) -> None:
    def words(text: str) -> int:
        return len(text.split())

    context = build_context(passages, max_tokens=120, count_tokens=words)
    assert context.citations and words(context.text) == context.tokens <= 120


def test_index_context_is_search_then_build(seeded_dir: Path, passages: list[Passage]) -> None:
    with Index.open(seeded_dir) as index:
        context = index.context(QUESTION, k=5, max_tokens=300)
    assert context == build_context(passages, max_tokens=300)
