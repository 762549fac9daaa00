"""riverbed's retrieval engine: stores, the encoder, and search. Imports nothing from pipeline."""

from index.api import Index
from index.context import Citation, Context, build_context
from index.models import Answer, Document, Filters, Passage

__all__ = [
    "Answer",
    "Citation",
    "Context",
    "Document",
    "Filters",
    "Index",
    "Passage",
    "build_context",
]
