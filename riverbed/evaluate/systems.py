"""What an evaluation ranks with: riverbed's three modes and the three plain baselines, over one
index, each as a function from a question to its ranked passages (doc id and text)."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from index.api import Index
from index.baselines import BASELINES, baseline
from index.query import MODES
from pipeline.ingestion import ingest
from riverbed.settings import Settings

BASELINE_SYSTEMS = tuple(f"baseline:{name}" for name in BASELINES)
SYSTEMS = (*MODES, *BASELINE_SYSTEMS)


@dataclass(frozen=True, slots=True)
class Ranked:
    doc_id: str
    text: str
    relevance: float | None = None


Ranker = Callable[[str, int], list[Ranked]]


def ranker(index: Index, system: str) -> Ranker:
    """Question, depth -> the passages `system` ranks first (a mode, or `baseline:NAME`)."""
    if system in MODES:

        def search(question: str, depth: int) -> list[Ranked]:
            found = index.search(question, k=depth, mode=system, min_relevance=0.0)  # type: ignore[arg-type]
            return [Ranked(p.doc_id, p.text, p.relevance) for p in found]

        return search
    name = system.removeprefix("baseline:")
    ranking = baseline(name, index.store, index.encoder)

    def plain(question: str, depth: int) -> list[Ranked]:
        ids = [pid for pid, _ in ranking(question, depth)]
        read = index.store.passages(ids)
        return [Ranked(read[pid].doc_id, read[pid].text) for pid in ids if pid in read]

    return plain


@dataclass(slots=True)
class Scratch:
    index: Index
    stats: dict[str, Any]
    ingest_seconds: float


@contextmanager
def scratch_index(
    inputs: Iterable[Any], settings: Settings | None = None, data_dir: Path | None = None
) -> Iterator[Scratch]:
    """`inputs` ingested into a scratch index (or `data_dir`), opened and warmed."""
    settings = settings or Settings()
    with tempfile.TemporaryDirectory(prefix="riverbed-eval-") as scratch:
        settings = settings.model_copy(
            update={"data_dir": data_dir or Path(scratch), "store": None}
        )
        report = ingest(list(inputs), settings=settings)
        if report.failed:
            reasons = "; ".join(f"{f.source}: {f.reason}" for f in report.failures[:3])
            raise ValueError(f"{report.failed} document(s) failed to ingest: {reasons}")
        with Index.open(settings=settings) as index:
            index.warm()
            yield Scratch(index, index.stats(), report.seconds)


def check_systems(systems: Sequence[str]) -> None:
    unknown = [s for s in systems if s not in SYSTEMS]
    if unknown:
        raise ValueError(f"unknown system {unknown[0]!r}: one of {', '.join(SYSTEMS)}")
