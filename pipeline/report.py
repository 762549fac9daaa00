"""The run report: what one ingest run saw and did, counted as it streams."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Failure(BaseModel):
    """One document that could not be ingested, and why."""

    source: str
    reason: str


class RunReport(BaseModel):
    seen: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    near_duplicates: int = 0
    deleted: int = 0
    failed: int = 0
    chunks: int = 0
    tokens_embedded: int = 0
    seconds: float = 0.0
    failures: list[Failure] = Field(default_factory=list)

    def fail(self, source: str, reason: str) -> None:
        """Record a document that did not land; the run goes on."""
        self.failed += 1
        self.failures.append(Failure(source=source, reason=reason))

    def merge(self, other: RunReport) -> None:
        """Add another report's counts to this one (a run over several sources)."""
        for name in type(self).model_fields:
            mine, theirs = getattr(self, name), getattr(other, name)
            if isinstance(mine, list):
                mine.extend(theirs)
            else:
                setattr(self, name, mine + theirs)
