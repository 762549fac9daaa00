"""The chunk stage, with the model's own tokenizer."""

from __future__ import annotations

from itertools import pairwise

import pytest

from index.model import ModelInfo, load_tokenizer
from index.models import Document
from pipeline import chunk as chunk_stage
from pipeline.chunk import Chunker
from pipeline.clean import clean_text
from tests.conftest import CNN


@pytest.fixture(scope="module")
def tokenizer():  # type: ignore[no-untyped-def]
    return load_tokenizer(ModelInfo.from_setting("all-MiniLM-L6-v2").path)


def model_tokens(tokenizer, text: str) -> int:  # type: ignore[no-untyped-def]
    return len(tokenizer.encode(text).ids)  # with [CLS] and [SEP]


def sentence(n: int) -> str:
    return f"Sentence number {n} talks about the river and its many banks."


def test_chunks_fit_the_window_and_point_back_into_the_document(tokenizer) -> None:  # type: ignore[no-untyped-def]
    text = clean_text(CNN.read_text())
    document = Document(id="cnn", text=text)
    chunks = Chunker(tokenizer, chunk_tokens=120, overlap_tokens=20)([document])
    chunks = list(chunks)
    assert len(chunks) > 5
    for ordinal, chunk in enumerate(chunks):
        assert chunk.ordinal == ordinal
        assert text[chunk.start : chunk.end] == chunk.text
        assert model_tokens(tokenizer, chunk.text) <= 256
        assert chunk.n_tokens <= 120
        for start, end in chunk.sentences:
            assert 0 <= start < end <= len(chunk.text)
            assert chunk.text[start:end].strip() == chunk.text[start:end]
    covered = set()
    for chunk in chunks:
        covered.update(range(chunk.start, chunk.end))
    words = [i for i, ch in enumerate(text) if not ch.isspace()]
    assert all(i in covered for i in words), "every character of text is in some chunk"


def test_budget_never_exceeds_the_models_window(tokenizer) -> None:  # type: ignore[no-untyped-def]
    chunker = Chunker(tokenizer, chunk_tokens=10_000, overlap_tokens=0, max_tokens=256)
    assert chunker.budget == 254
    text = " ".join(sentence(n) for n in range(200))
    for chunk in chunker.chunk(Document(id="long", text=text)):
        assert model_tokens(tokenizer, chunk.text) <= 256


def test_neighbouring_chunks_overlap_by_whole_sentences(tokenizer) -> None:  # type: ignore[no-untyped-def]
    text = " ".join(sentence(n) for n in range(40))
    chunks = Chunker(tokenizer, chunk_tokens=60, overlap_tokens=20).chunk(
        Document(id="d", text=text)
    )
    assert len(chunks) > 3
    for before, after in pairwise(chunks):
        assert before.start < after.start < before.end, "the next chunk starts inside this one"
        overlap = text[after.start : before.end]
        assert overlap.startswith("Sentence number") and overlap.endswith("banks.")


def test_a_sentence_longer_than_the_budget_is_cut(tokenizer) -> None:  # type: ignore[no-untyped-def]
    words = " ".join(f"word{n}" for n in range(600))
    chunks = Chunker(tokenizer, chunk_tokens=100, overlap_tokens=0).chunk(
        Document(id="run-on", text=words)
    )
    assert len(chunks) >= 6
    assert all(model_tokens(tokenizer, c.text) <= 102 for c in chunks)
    assert chunks[0].start == 0 and chunks[-1].end == len(words)


def test_chunks_close_at_paragraph_breaks_once_half_full(tokenizer) -> None:  # type: ignore[no-untyped-def]
    first = " ".join(sentence(n) for n in range(9))  # over half the budget
    second = " ".join(sentence(n) for n in range(9, 12))  # both together fit the budget
    text = f"{first}\n\n{second}"
    chunks = Chunker(tokenizer, chunk_tokens=200, overlap_tokens=30).chunk(
        Document(id="paragraphs", text=text)
    )
    assert [c.text for c in chunks] == [first, second]


def test_equal_texts_hash_alike_across_case_and_typography(tokenizer) -> None:  # type: ignore[no-untyped-def]
    chunker = Chunker(tokenizer)
    one = chunker.chunk(Document(id="a", text="Zelensky’s request — a no-fly zone."))[0]
    two = chunker.chunk(Document(id="b", text="zelensky's  request - a NO-FLY zone."))[0]
    three = chunker.chunk(Document(id="c", text="Zelensky's request: boots on the ground."))[0]
    assert one.text_hash == two.text_hash != three.text_hash


def test_a_long_document_is_split_into_sentences_a_stretch_at_a_time_with_the_same_chunks(
    tokenizer, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    """sentencex sees a stretch of paragraphs at a time (a long document's sentences, as it
    returns them, would all be held at once); the chunks are those of the whole text."""
    headed = "\n\n".join(
        f"Part {n} of the report\n\n{sentence(n)} {sentence(n + 1)}" for n in range(40)
    )
    chunker = Chunker(tokenizer, chunk_tokens=60, overlap_tokens=10)
    for text in (clean_text(CNN.read_text()), headed):
        document = Document(id="long", text=text)
        monkeypatch.setattr(chunk_stage, "STRETCH_CHARS", 1 << 30)
        whole = [(c.start, c.end, c.sentences) for c in chunker.chunk(document)]
        monkeypatch.setattr(chunk_stage, "STRETCH_CHARS", 300)
        assert len(text) > 5 * chunk_stage.STRETCH_CHARS
        assert [(c.start, c.end, c.sentences) for c in chunker.chunk(document)] == whole
