"""Stores behind one interface, chosen by a setting: the embedded default or Postgres."""

from __future__ import annotations

from index.settings import IndexSettings
from index.store.base import ModelMismatch, Store, StoreError, WriterBusy

__all__ = ["ModelMismatch", "Store", "StoreError", "WriterBusy", "open_store"]


def open_store(settings: IndexSettings, create: bool = True) -> Store:
    """The store named by `settings.store`, or the embedded one in `settings.data_dir`."""
    url = settings.store
    if url and url.startswith(("postgres://", "postgresql://")):
        from index.store.postgres import PostgresStore

        return PostgresStore(url, create=create)
    if url:
        raise StoreError(f"unknown store {url!r}: use a postgresql:// URL, or unset it")
    from index.store.sqlite_faiss import SqliteFaissStore

    return SqliteFaissStore(settings.data_dir, create=create)
