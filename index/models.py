"""Public data types of the retrieval engine: what goes in (Document) and what comes out (Passage)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from index.storable import check_metadata, check_text


class Document(BaseModel):
    """One document to index. Its identity is `id`; re-ingesting the same id replaces it."""

    id: str = Field(min_length=1, description="Stable identity: a file path or a caller-given id.")
    text: str = Field(description="Full text; cleaned by the pipeline before chunking.")
    source: str = Field(
        default="", description="Where it came from: a path or URL. Defaults to id."
    )
    title: str = ""
    url: str | None = None
    published_at: datetime | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    page_starts: list[int] | None = Field(
        None,
        description="Where each page starts in the cleaned text (offsets), for paged formats; "
        "the cleaner sets it from the form feeds that separate pages in `text`.",
    )

    @field_validator("id", "text", "source", "title", "url", mode="before")
    @classmethod
    def _unicode(cls, value: Any, info: ValidationInfo) -> Any:
        return check_text(value, info.field_name or "text") if isinstance(value, str) else value

    @field_validator("metadata")
    @classmethod
    def _json(cls, value: dict[str, Any]) -> dict[str, Any]:
        return check_metadata(value)

    def model_post_init(self, _context: Any) -> None:
        if not self.source:
            self.source = self.url or self.id


class Answer(BaseModel):
    """The sentence of a passage that best answers the question."""

    text: str
    start: int = Field(description="Offset of the answer in the passage text.")
    end: int
    doc_start: int = Field(description="Offset of the answer in the cleaned document.")
    doc_end: int
    page: int | None = Field(None, description="The page the answer starts on, from 1.")


class Passage(BaseModel):
    """One search result: a passage of a document, with where it came from."""

    text: str
    score: float = Field(description="The ranking score: the weighted sum of the signals.")
    relevance: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="How well it answers, in [0, 1], comparable between questions and indexes.",
    )
    doc_id: str
    source: str
    title: str = ""
    start: int = Field(description="Offset of the passage in the cleaned document.")
    end: int
    answer: Answer | None = None
    also_in: list[str] = Field(
        default_factory=list, description="Other sources that carry the same passage."
    )
    url: str | None = None
    published_at: datetime | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    page: int | None = Field(None, description="The page (or slide) the passage starts on, from 1.")
    last_page: int | None = Field(None, description="The page it ends on (often `page`).")


class Filters(BaseModel):
    """Restrict a search. Every given field must hold (AND); lists mean any-of."""

    doc_ids: list[str] | None = Field(None, description="Only these document ids (any of).")
    sources: list[str] | None = Field(
        None, description="Only documents from these sources, spelled as in results (any of)."
    )
    metadata: dict[str, str] | None = Field(
        None, description="Only documents whose metadata has each of these key: value pairs."
    )
    published_after: datetime | None = Field(
        None, description="Published at or after this ISO datetime (a bare date is 00:00 UTC)."
    )
    published_before: datetime | None = Field(
        None, description="Published at or before this ISO datetime (a bare date is 00:00 UTC)."
    )

    @field_validator("doc_ids", "sources", "metadata")
    @classmethod
    def _unicode(cls, value: Any, info: ValidationInfo) -> Any:
        for text in value if isinstance(value, list) else [*(value or {}).items()]:
            for part in text if isinstance(text, tuple) else (text,):
                check_text(part, f"filters.{info.field_name}")
        return value

    def is_empty(self) -> bool:
        return not any(
            (self.doc_ids, self.sources, self.metadata, self.published_after, self.published_before)
        )


class IndexStats(BaseModel):
    """What an index holds: the counts every store reports (`Index.stats()`)."""

    store: str = Field(description="Which store: the data directory, or the Postgres database.")
    model: str | None = Field(description="The embedding model the index is bound to, if any.")
    documents: int = Field(description="Documents, not counting duplicates.")
    duplicates: int = Field(description="Documents whose text repeats another one's exactly.")
    near_duplicates: int = Field(description="Documents that nearly repeat another one.")
    chunks: int = Field(description="Chunks of the documents' text.")
    passages: int = Field(description="Distinct passages (a chunk found twice is one passage).")
    tokens: int = Field(description="Model tokens over all passages.")
    generation: int = Field(description="Rises with every committed write.")
    last_ingest: str | None = Field(description="When a document last changed (ISO), if ever.")
    bytes: int = Field(description="Size on disk.")
