"""The run report: what one ingest run saw and did, counted as it streams."""

from __future__ import annotations

from pydantic import BaseModel, Field

from index.storable import without_surrogates


class Failure(BaseModel):
    """One document that could not be ingested, and why; the others of the run went on."""

    source: str = Field(
        description="Which document: its path, or `documents[i] (id)` for the i-th record sent."
    )
    reason: str = Field(description="Why it did not land, in one line.")


class RunReport(BaseModel):
    """What one run did. Every document counted in `failed` is listed in `failures`."""

    seen: int = Field(0, description="Documents read.")
    added: int = Field(0, description="New documents indexed.")
    updated: int = Field(0, description="Documents whose text changed, indexed again.")
    unchanged: int = Field(0, description="Documents already indexed with the same text.")
    duplicates: int = Field(0, description="Documents whose text repeats another one's.")
    near_duplicates: int = Field(0, description="Documents that nearly repeat another one.")
    deleted: int = Field(0, description="Documents removed (pruned).")
    failed: int = Field(0, description="Documents that did not land.")
    chunks: int = Field(0, description="Chunks made of the new and changed documents.")
    tokens_embedded: int = Field(0, description="Model tokens run through the encoder.")
    seconds: float = Field(0.0, description="How long the run took.")
    failures: list[Failure] = Field(default_factory=list, description="One entry per failure.")

    def fail(self, source: str, reason: str) -> None:
        """Record a document that did not land; the run goes on."""
        self.failed += 1
        self.failures.append(
            Failure(source=without_surrogates(source), reason=without_surrogates(reason))
        )

    def merge(self, other: RunReport) -> None:
        """Add another report's counts to this one (a run over several sources)."""
        for name in type(self).model_fields:
            mine, theirs = getattr(self, name), getattr(other, name)
            if isinstance(mine, list):
                mine.extend(theirs)
            else:
                setattr(self, name, mine + theirs)
