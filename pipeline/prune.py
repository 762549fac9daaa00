"""Which indexed documents were read from files that are gone (`riverbed ingest --prune`, watch)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

from index.store.base import Store
from pipeline.sources.names import name_of, path_of


def documents_read_from(store: Store, path: Path) -> list[tuple[str, str]]:
    """(doc id, source) of documents read from the file `path` or from files below the folder
    `path`; `path` is absolute and resolved, as sources are stored."""
    here = name_of(path)
    below = here.rstrip(os.sep) + os.sep
    return [
        (doc_id, source)
        for doc_id, source in store.sources_under(here)
        if source == here or source.startswith(below)
    ]


def gone_documents(store: Store, folders: Iterable[str | Path]) -> Iterator[str]:
    """Ids of documents whose source file under one of `folders` no longer exists."""
    for folder in folders:
        for doc_id, source in documents_read_from(store, Path(folder).resolve()):
            if not os.path.lexists(path_of(source)):
                yield doc_id


def orphaned_copies(store: Store, folders: Iterable[Path]) -> list[Path]:
    """Files under `folders` whose documents were copies of a document since deleted.

    The store keeps such a copy without chunks and with its hashes cleared, so reading its file
    again indexes it as an original.
    """
    found: list[Path] = []
    for folder in folders:
        under = documents_read_from(store, folder)
        states = store.document_states([doc_id for doc_id, _ in under])
        for doc_id, source in under:
            state = states.get(doc_id)
            if state is not None and not state.raw_hash and os.path.isfile(path_of(source)):
                found.append(Path(path_of(source)))
    return list(dict.fromkeys(found))
