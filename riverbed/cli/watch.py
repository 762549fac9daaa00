"""The face of `riverbed ingest --watch`: one line per set of changes, the report at the end."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from pipeline.report import RunReport


def watch_folders(
    paths: Sequence[str],
    settings: Any,
    *,
    stop: threading.Event,
    include: Sequence[str],
    exclude: Sequence[str],
    prune: bool,
    wait: bool,
) -> RunReport:
    """Run the watcher; say when it is listening and what each set of changes did (on stderr,
    so stdout keeps only the final report)."""
    from pipeline.watch import watch

    for path in paths:
        if path == "-" or not Path(path).is_dir():
            raise click.UsageError(f"--watch needs folders, and {path!r} is not one")

    def ready(report: RunReport) -> None:
        click.echo(
            f"watching {', '.join(paths)} ({report.added} added, {report.updated} updated,"
            f" {report.unchanged} unchanged, {report.deleted} deleted, {report.failed} failed);"
            " Ctrl-C to stop",
            err=True,
        )
        for failure in report.failures:
            click.echo(f"failed: {failure.source}: {failure.reason}", err=True)

    def changed(delta: RunReport) -> None:
        click.echo(
            f"changes: {delta.added} added, {delta.updated} updated, {delta.unchanged} unchanged,"
            f" {delta.deleted} deleted, {delta.failed} failed",
            err=True,
        )
        for failure in delta.failures:
            click.echo(f"failed: {failure.source}: {failure.reason}", err=True)

    return watch(
        paths,
        settings,
        stop=stop,
        include=include,
        exclude=exclude,
        prune=prune,
        wait=wait,
        on_ready=ready,
        on_change=changed,
    )
