"""A LangChain retriever over a riverbed index (the optional extra `riverbed[langchain]`).

Nothing else in riverbed imports this module, so the core never needs LangChain.

    from riverbed.langchain import RiverbedRetriever

    retriever = RiverbedRetriever.from_data_dir("riverbed-data", k=3)
    documents = retriever.invoke("what did Zelensky ask of NATO")
    documents[0].metadata["answer"]["text"]  # the sentence that answers the question
    retriever.invoke("who is Zelensky", k=1)  # k, mode and filters can be set per call
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any, Literal

from index.api import Index
from index.models import Filters, Passage
from riverbed.settings import Settings

try:
    from langchain_core.callbacks import (
        AsyncCallbackManagerForRetrieverRun,
        CallbackManagerForRetrieverRun,
    )
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever
    from langchain_core.runnables.config import run_in_executor
except ImportError as err:  # pragma: no cover - depends on the environment
    raise ImportError(
        "the LangChain retriever needs langchain-core: pip install 'riverbed[langchain]'"
    ) from err
from pydantic import Field

Mode = Literal["hybrid", "dense", "lexical"]


class RiverbedRetriever(BaseRetriever):
    """Retrieves riverbed passages as LangChain Documents.

    Each Document's `page_content` is the passage text; its `metadata` holds the source
    document's own metadata, then riverbed's fields (which win on a clash): `source`, `title`,
    `doc_id`, `start`/`end` (offsets of the passage in the cleaned document), `score` (the
    ranking), `relevance` (0 to 1, comparable between questions), `answer`
    (`text`, `start`/`end` in the passage, `doc_start`/`doc_end` in the document, or None),
    `also_in` (other sources with the same passage), `url` and `published_at` (ISO string).
    """

    index: Index
    k: int = Field(4, ge=1, le=100, description="How many passages to return.")
    mode: Mode | None = Field(
        None, description="Retrieval mode; None uses the index settings' default."
    )
    filters: Filters | None = Field(None, description="Restrict every search.")
    min_relevance: float | None = Field(
        None,
        ge=0.0,
        le=1.0,
        description="Leave out passages less relevant than this; None uses the index settings'.",
    )

    @classmethod
    def from_data_dir(
        cls,
        data_dir: str | Path | None = None,
        settings: Settings | None = None,
        **fields: Any,
    ) -> RiverbedRetriever:
        """Open the index in `data_dir` (or the settings' store) and retrieve from it."""
        return cls(index=Index.open(data_dir, settings=settings).warm(), **fields)

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        mode: Mode | None = None,
        filters: Filters | dict[str, Any] | None = None,
        min_relevance: float | None = None,
    ) -> list[Document]:
        """`invoke(query, k=..., mode=..., filters=..., min_relevance=...)` overrides the
        retriever's own fields for that one call."""
        passages = self.index.search(
            query,
            k=self.k if k is None else k,
            mode=mode or self.mode,
            filters=self.filters if filters is None else Filters.model_validate(filters),
            min_relevance=self.min_relevance if min_relevance is None else min_relevance,
        )
        return [to_document(passage) for passage in passages]

    async def _aget_relevant_documents(
        self,
        query: str,
        *,
        run_manager: AsyncCallbackManagerForRetrieverRun,
        **overrides: Any,
    ) -> list[Document]:
        """The search in a worker thread, with the same per-call overrides as the sync path."""
        return await run_in_executor(
            None,
            partial(self._get_relevant_documents, run_manager=run_manager.get_sync()),
            query,
            **overrides,
        )


def to_document(passage: Passage) -> Document:
    """A passage as a LangChain Document, riverbed's fields flat in its metadata."""
    fields = passage.model_dump(mode="json", exclude={"text", "metadata"})
    return Document(
        id=f"{passage.doc_id}:{passage.start}-{passage.end}",
        page_content=passage.text,
        metadata={**passage.metadata, **fields},
    )
