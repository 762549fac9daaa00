"""The HTTP API's request and response bodies, and the limits they enforce."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from index.context import Context
from index.models import Filters, Passage

MAX_K = 100
QUESTION_PATTERN = r"[^\s\x1c-\x1f]"  # something that is not whitespace to Python's str.strip


def _not_a_number(value: Any) -> Any:
    """Dates come as ISO text: a number (which pydantic would read as a Unix time) is refused."""
    if isinstance(value, int | float) or (
        isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+(\.\d*)?\s*", value)
    ):
        raise ValueError("expected an ISO date or datetime, such as 2024-05-01")
    return value


IsoDatetime = Annotated[datetime, BeforeValidator(_not_a_number)]


META_PATTERN = r"^[^=]+="
MetaPair = Annotated[str, Field(pattern=META_PATTERN, examples=["team=ops"])]
PATTERN_MEANS = {
    QUESTION_PATTERN: "the question is empty",
    META_PATTERN: "expected KEY=VALUE",
}
MAX_FILTER_VALUES = 1000


class Problem(BaseModel):
    detail: str = Field(description="What is wrong, in one line.")


class Invalid(BaseModel):
    detail: list[dict[str, Any]] = Field(description="Each problem: loc, msg, type.")
    message: str = Field(description="The problems, in one line.")


class SearchFilters(Filters):
    published_after: IsoDatetime | None = Field(
        None, description="Published at or after this ISO datetime (a bare date is 00:00 UTC)."
    )
    published_before: IsoDatetime | None = Field(
        None, description="Published at or before this ISO datetime (a bare date is 00:00 UTC)."
    )


MIN_RELEVANCE_HELP = (
    "Leave out passages less relevant than this, in [0, 1] (default: the server's setting,"
    " normally 0.25); none left means nothing here answers. 0 keeps every passage."
)


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    q: str = Field(
        pattern=QUESTION_PATTERN, description="The question.", examples=["what did Zelensky say"]
    )
    k: int = Field(5, ge=1, le=MAX_K, description="How many passages.")
    mode: Literal["dense", "lexical", "hybrid"] | None = Field(
        None, description="Retrieval mode (default: the server's setting, normally hybrid)."
    )
    filters: SearchFilters | None = None
    context_tokens: int | None = Field(
        None, ge=1, description="Also return the passages as a cited prompt context this long."
    )
    min_relevance: float | None = Field(
        None, ge=0.0, le=1.0, description=MIN_RELEVANCE_HELP, examples=[0.25]
    )

    @field_validator("min_relevance", mode="before")
    @classmethod
    def _a_json_fraction(cls, value: Any) -> Any:
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ValueError("expected a number between 0 and 1")
        return value

    @field_validator("k", "context_tokens", mode="before")
    @classmethod
    def _a_json_number(cls, value: Any) -> Any:
        """Only a JSON number is a number (5 or 5.0): pydantic would also take true and "5"."""
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise ValueError("expected a whole number")
        return value


class SearchResponse(BaseModel):
    query: str
    results: list[Passage]
    context: Context | None = None


class DocumentRecord(BaseModel):
    """A document to ingest, as a line of a JSONL file holds it; other keys join the metadata."""

    model_config = ConfigDict(extra="allow")

    id: str | int = Field(description="Stable identity; re-sending it replaces the document.")
    text: str
    title: str = ""
    url: str | None = None
    published_at: str | None = Field(None, description="An ISO date or datetime.")
    metadata: dict[str, Any] = Field(default_factory=dict)


class StoredDocument(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: str
    source: str
    title: str = ""
    url: str | None = None
    published_at: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)
    text: str = Field(description="The cleaned text; passage offsets point into it.")
    duplicate_of: str | None = None
    duplicate_kind: str | None = None
    chunks: int = 0
    tokens: int = 0


class Deleted(BaseModel):
    deleted: str = Field(description="The id of the document that was removed.")


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    model: str | None = Field(description="The embedding model the index is bound to, if any.")
    generation: int = Field(description="Rises with every committed write.")


DOCUMENTS_DESCRIPTION = """Documents to ingest: a JSON list of records, or `{"documents": [...]}`.

A record is what a line of a JSONL file holds: `id` (required), `text` (required), and optionally
`title`, `url`, `published_at` (ISO date), `metadata` (an object); other keys join the metadata.
Each item is read on its own: one that is not such a record (not an object, no id, no text, a
field of the wrong type, a date that is not ISO) fails alone, is counted in the report's `failed`
and listed in its `failures` with the reason, and the rest lands. So any non-empty list is
accepted with 200, even one of which nothing lands: read the report.
Re-sending an id replaces that document; unchanged documents are skipped."""

DOCUMENTS_EXAMPLE = [
    {
        "id": "notes/1",
        "text": "The river rose two metres overnight. Roads near the bridge are closed.",
        "title": "Flood notes",
        "metadata": {"team": "ops"},
    }
]


def documents_body_schema() -> dict[str, Any]:
    """The OpenAPI request body of POST /documents (read by hand, so each record fails alone).

    An item is a DocumentRecord or anything else, which fails alone: the schema says what the
    server does, so a list with bad items is a valid request (answered 200 with its failures)."""
    record = DocumentRecord.model_json_schema()
    anything = {"description": "Any other item: it fails alone and is listed in `failures`."}
    listing = {"type": "array", "minItems": 1, "items": {"anyOf": [record, anything]}}
    batch = {"type": "object", "required": ["documents"], "properties": {"documents": listing}}
    return {
        "required": True,
        "description": DOCUMENTS_DESCRIPTION,
        "content": {
            "application/json": {
                "schema": {"anyOf": [listing, batch]},
                "example": DOCUMENTS_EXAMPLE,
            }
        },
    }
