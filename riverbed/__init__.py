"""riverbed: stream documents into a search index and ask it questions.

The public API, importable from here:

    from riverbed import Index, ingest

    report = ingest(["seeds/"], data_dir="riverbed-data")
    with Index.open("riverbed-data") as index:
        passages = index.search("what did Zelensky ask of NATO", k=3)

`Index` and the types it returns come from the engine (`index/`), `ingest` and `RunReport` from
the pipeline (`pipeline/`); the faces (command line, HTTP, MCP, LangChain) live in this package.
Names are imported on first use, so `riverbed --help` does not load the engine.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from index import Answer, Citation, Context, Document, Filters, Index, Passage, build_context
    from pipeline import RunReport, ingest
    from riverbed.settings import Settings

_HOMES = {
    "Answer": "index",
    "Citation": "index",
    "Context": "index",
    "Document": "index",
    "Filters": "index",
    "Index": "index",
    "Passage": "index",
    "build_context": "index",
    "RunReport": "pipeline",
    "ingest": "pipeline",
    "Settings": "riverbed.settings",
}

__all__ = [
    "Answer",
    "Citation",
    "Context",
    "Document",
    "Filters",
    "Index",
    "Passage",
    "RunReport",
    "Settings",
    "build_context",
    "ingest",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'riverbed' has no attribute {name!r}")
    return getattr(import_module(home), name)
