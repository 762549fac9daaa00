"""What `ingest()` accepts, as one stream of Documents: paths (files and folders), Documents,
and records (dicts in the JSONL format)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

from index.models import Document
from pipeline.report import RunReport
from pipeline.sources.files import read_paths
from pipeline.sources.records import given_record

Input = str | Path | Document | dict[str, Any]


def documents_from(
    inputs: Iterable[Input],
    report: RunReport,
    max_bytes: int,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> Iterator[Document]:
    """Paths are read (folders walked), Documents pass as they are, anything else is a record
    (reported by its position among the inputs, `documents[i]`, when it is not a good one)."""
    for position, item in enumerate(inputs):
        if isinstance(item, str | Path):
            yield from read_paths([Path(item)], report, max_bytes, include, exclude)
        elif isinstance(item, Document):
            yield item
        else:
            document = given_record(item, position, report)
            if document is not None:
                yield document
