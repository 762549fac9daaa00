"""The library face of the engine: `Index.open(data_dir).search(question)`.

An open Index is safe to search from many threads, and sees documents that another process
commits without being reopened (each search catches the vectors up with the catalog).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from index.context import Context, build_context
from index.encoder import Encoder, query_encoder
from index.model import ModelInfo
from index.models import Filters, Passage
from index.query import Mode, search
from index.settings import IndexSettings
from index.storable import check_text
from index.store import open_store
from index.store.base import ModelMismatch, Store


class Index:
    def __init__(self, store: Store, settings: IndexSettings) -> None:
        self.store = store
        self.settings = settings
        self._encoder: Encoder | None = None
        self._encoder_lock = threading.Lock()

    @classmethod
    def open(
        cls,
        data_dir: str | Path | None = None,
        settings: IndexSettings | None = None,
        *,
        create: bool = False,
        **overrides: Any,
    ) -> Index:
        """Open the index in `data_dir` (or the settings' store); `create` makes an empty one
        when there is none yet (for a server that will also be written to)."""
        settings = settings or IndexSettings()
        if data_dir is not None:
            overrides["data_dir"] = Path(data_dir)
        if overrides:
            settings = settings.model_copy(update=overrides)
        return cls(open_store(settings, create=create), settings)

    @property
    def encoder(self) -> Encoder:
        with self._encoder_lock:
            if self._encoder is None:
                info = ModelInfo.from_setting(self.settings.model)
                recorded = self.store.model_id()
                if recorded is not None and recorded != info.model_id:
                    raise ModelMismatch(
                        f"this index was built with {recorded}, not {info.model_id}: "
                        "set RIVERBED_MODEL to that model"
                    )
                self._encoder = query_encoder(
                    info, self.settings.query_encoder, self.settings.cache_dir
                )
            return self._encoder

    def search(
        self,
        question: str,
        k: int = 5,
        mode: Mode | None = None,
        filters: Filters | dict[str, Any] | None = None,
        min_relevance: float | None = None,
    ) -> list[Passage]:
        """The `k` best distinct passages for `question`; see `Passage` for the fields.

        Passages less relevant than `min_relevance` (default: the settings', 0.25) are left out,
        so a question that nothing here answers gets an empty list; 0 keeps every passage."""
        check_text(question, "the question")
        if isinstance(filters, dict):
            filters = Filters.model_validate(filters)
        if min_relevance is not None and not 0.0 <= min_relevance <= 1.0:
            raise ValueError("min_relevance must be between 0 and 1")
        mode = mode or self.settings.mode
        encoder = self.encoder if mode != "lexical" else self._encoder_if_cheap()
        return search(
            self.store,
            encoder,
            question,
            self.settings,
            k=k,
            mode=mode,
            filters=filters,
            min_relevance=min_relevance,
        )

    def warm(self) -> Index:
        """Load the question encoder and what the store searches from (the FAISS index, BM25's
        postings in memory) now: for a process that will search many times (a server, a
        chatbot backend). Without it the first search loads them, and BM25 runs in FTS5."""
        self.encoder.embed_queries(["warm up"])
        self.store.warm()
        return self

    def context(
        self,
        question: str,
        k: int = 5,
        max_tokens: int = 1500,
        mode: Mode | None = None,
        filters: Filters | dict[str, Any] | None = None,
        min_relevance: float | None = None,
    ) -> Context:
        """The best passages for `question` as a numbered, cited prompt context (see context.py)."""
        passages = self.search(
            question, k=k, mode=mode, filters=filters, min_relevance=min_relevance
        )
        return build_context(passages, max_tokens, model=self.settings.model)

    def _encoder_if_cheap(self) -> Encoder | None:
        """Lexical search needs no model; use it for answer sentences only if it loads fast."""
        try:
            return self.encoder
        except Exception:
            return None

    def document(self, doc_id: str) -> dict[str, Any] | None:
        return self.store.document(doc_id)

    def stats(self) -> dict[str, Any]:
        return self.store.stats()

    def runs(self, limit: int = 50) -> list[dict[str, Any]]:
        return self.store.runs(limit)

    def check(self) -> list[str]:
        """Consistency problems of the index (catalog, full-text index, vectors), one line
        each; none: []."""
        return self.store.check()

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()
