"""riverbed's ingestion pipeline: sources, the stages (clean, dedupe, chunk, embed), the runner and
the writer, and the ways to run them (ingest, watch, schedule, Ray).

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
