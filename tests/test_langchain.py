"""The LangChain retriever: riverbed passages as LangChain Documents (real model, seeds index)."""

from __future__ import annotations

from pathlib import Path

import anyio
from langchain_core.documents import Document

from index import Index
from index.models import Answer, Passage
from riverbed.langchain import RiverbedRetriever, to_document
from tests.conftest import BUNKER, CNN, QUESTION

RIVERBED_FIELDS = {
    "source",
    "title",
    "doc_id",
    "start",
    "end",
    "score",
    "relevance",
    "answer",
    "also_in",
    "url",
    "published_at",
}


def test_retriever_returns_documents_with_riverbed_metadata(seeded_dir: Path) -> None:
    retriever = RiverbedRetriever.from_data_dir(seeded_dir, k=3)
    try:
        documents = retriever.invoke(QUESTION)
        assert len(documents) == 3
        assert all(isinstance(document, Document) for document in documents)
        first = documents[0]
        assert "no-fly zone" in first.page_content
        assert set(first.metadata) >= RIVERBED_FIELDS
        meta = first.metadata
        assert meta["source"] in (str(CNN), str(BUNKER)) and meta["title"]
        answer = meta["answer"]
        assert "no-fly zone" in answer["text"]
        assert first.page_content[answer["start"] : answer["end"]] == answer["text"]
        stored = retriever.index.document(meta["doc_id"])
        assert stored is not None
        assert stored["text"][meta["start"] : meta["end"]] == first.page_content
        assert [d.metadata["score"] for d in documents] == sorted(
            (d.metadata["score"] for d in documents), reverse=True
        )

        asynchronous = anyio.run(retriever.ainvoke, QUESTION)
        assert [d.id for d in asynchronous] == [d.id for d in documents]
    finally:
        retriever.index.close()


def test_retriever_filters_restrict_every_search(seeded_dir: Path) -> None:
    with Index.open(seeded_dir) as index:
        retriever = RiverbedRetriever(index=index, k=5, filters={"sources": [str(BUNKER)]})
        documents = retriever.invoke(QUESTION)
    assert documents and {d.metadata["source"] for d in documents} == {str(BUNKER)}


def test_document_metadata_is_flat_and_riverbed_fields_win_a_clash() -> None:
    """Pure conversion; no model involved."""
    passage = Passage(
        text="Beavers build dams.",
        score=0.5,
        doc_id="beavers",
        source="https://example.org/beavers",
        title="Beavers",
        start=10,
        end=29,
        answer=Answer(text="Beavers build dams.", start=0, end=19, doc_start=10, doc_end=29),
        published_at="2024-05-01T00:00:00Z",
        metadata={"topic": "animals", "source": "the user's own"},
    )
    document = to_document(passage)
    assert document.metadata["topic"] == "animals"
    assert document.metadata["source"] == "https://example.org/beavers"
    assert document.metadata["published_at"].startswith("2024-05-01T00:00:00")
    assert document.id == "beavers:10-29"


def test_retriever_returns_nothing_when_nothing_answers(seeded_dir: Path) -> None:
    with Index.open(seeded_dir) as index:
        assert RiverbedRetriever(index=index).invoke("zzzqqqxx blorf") == []
        kept = RiverbedRetriever(index=index, min_relevance=0.0).invoke("zzzqqqxx blorf")
        assert kept and all(d.metadata["relevance"] < index.settings.min_relevance for d in kept)
