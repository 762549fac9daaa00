"""riverbed's retrieval engine: stores, the encoder, and search. Imports nothing from pipeline."""

from index.api import Index
from index.models import Answer, Document, Filters, Passage

__all__ = ["Answer", "Document", "Filters", "Index", "Passage"]
