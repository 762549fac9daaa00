"""riverbed's ingestion pipeline and the product's entry points.

`from pipeline import ingest` is the library call; it is imported lazily so that the CLI's
query path does not pay for the ingestion stages.
"""

from typing import Any

__all__ = ["RunReport", "ingest"]


def __getattr__(name: str) -> Any:
    if name == "ingest":
        from pipeline.ingestion import ingest

        return ingest
    if name == "RunReport":
        from pipeline.report import RunReport

        return RunReport
    raise AttributeError(name)
