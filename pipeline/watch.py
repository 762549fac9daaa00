"""Keep an index in step with folders: `riverbed ingest --watch DIR`.

The folders are ingested once; then every set of changes that watchfiles reports (debounced) is
applied through the same runner, in micro-batches: the documents of files or folders that went
away are deleted, and files that appeared or changed are read again (a file whose content did
not change is skipped by its hash). The watcher listens before the first pass starts, so nothing
written meanwhile is missed. The session is one recorded run ("watch") and holds the writer lock
throughout; it ends when `stop` is set (SIGINT/SIGTERM in the CLI), once the batch in flight
has committed: as ok (or partial) when it was waiting for changes, as interrupted when the stop
cut a pass short.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import chain
from pathlib import Path

from index.models import Document
from pipeline.prune import documents_read_from, gone_documents, orphaned_copies
from pipeline.report import RunReport
from pipeline.runner import Runner
from pipeline.settings import PipelineSettings
from pipeline.sources import is_wanted, iter_files, read_file, read_paths
from pipeline.writer import open_writer

HEARTBEAT_MS = 500  # the watcher hands back control this often while nothing changes


def watch(
    folders: Sequence[str | Path],
    settings: PipelineSettings | None = None,
    *,
    stop: threading.Event,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    prune: bool = False,
    wait: bool = False,
    debounce_ms: int = 1600,
    on_batch: Callable[[RunReport], None] | None = None,
    on_ready: Callable[[RunReport], None] | None = None,
    on_change: Callable[[RunReport], None] | None = None,
) -> RunReport:
    """Ingest `folders`, then apply their changes until `stop` is set; return the whole report.

    `on_ready(report)` is called once the first pass is done, `on_change(delta)` after each set
    of changes with what that set did. `prune` also deletes, on the first pass, documents whose
    files disappeared while nothing was watching.
    """
    import watchfiles

    roots = [Path(folder).resolve() for folder in folders]
    for root in roots:
        if not root.is_dir():
            raise ValueError(f"can only watch folders, and {root} is not one")
    settings = settings or PipelineSettings()
    changes = watchfiles.watch(
        *roots,
        stop_event=stop,
        debounce=debounce_ms,
        rust_timeout=HEARTBEAT_MS,
        yield_on_timeout=True,
        raise_interrupt=False,
    )
    with (
        open_writer(settings, wait=wait) as writer,
        writer.run("watch", stop=stop, on_batch=on_batch) as run,
    ):
        runner, report = run.runner, run.report
        try:
            first = next(changes, set())  # from here on, the watcher is listening
            if prune:
                runner.delete(gone_documents(writer.store, roots))
            runner.feed(read_paths(roots, report, settings.max_document_bytes, include, exclude))
            runner.save_vectors()
            if on_ready is not None and not stop.is_set():
                on_ready(report)
            for change_set in chain([first], changes):
                if stop.is_set():
                    break
                if not change_set:
                    continue
                before = report.model_copy(deep=True)
                apply_changes(change_set, roots, runner, settings, include, exclude)
                if on_change is not None:
                    on_change(_difference(report, before))
        finally:
            changes.close()
    return report


def apply_changes(
    changes: Iterable[tuple[object, str]],
    roots: Sequence[Path],
    runner: Runner,
    settings: PipelineSettings,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> None:
    """Delete what went away, then read what appeared or changed.

    What is on disk now decides, not the kind of event: a file written and removed within one
    debounce is simply gone. A folder that appears (moved in) is walked.
    """
    from watchfiles import Change

    kinds: dict[Path, set[object]] = {}
    for kind, path in changes:
        kinds.setdefault(Path(path), set()).add(kind)
    gone: list[Path] = []
    present: list[Path] = []
    for path in sorted(kinds):
        root = next((r for r in roots if path.is_relative_to(r)), None)
        if root is None:
            continue
        if not os.path.lexists(path):
            gone.append(path)
        elif path.is_dir():
            if Change.added in kinds[path]:
                walked = iter_files([path], report=runner.report)
                present += [f for f in walked if is_wanted(f, root, include, exclude)]
        elif is_wanted(path, root, include, exclude):
            present.append(path)
    if gone:
        store = runner.store
        runner.delete(doc_id for path in gone for doc_id, _ in documents_read_from(store, path))
        present += orphaned_copies(store, roots)
    runner.feed(_read(dict.fromkeys(present), runner.report, settings.max_document_bytes))


def _read(paths: Iterable[Path], report: RunReport, max_bytes: int) -> Iterator[Document]:
    for path in paths:
        yield from read_file(path, report, max_bytes)


def _difference(after: RunReport, before: RunReport) -> RunReport:
    counts = {
        name: getattr(after, name) - getattr(before, name)
        for name in RunReport.model_fields
        if name != "failures"
    }
    return RunReport(**counts, failures=after.failures[len(before.failures) :])
