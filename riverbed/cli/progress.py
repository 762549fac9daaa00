"""The live progress line of `riverbed ingest`, on the terminal's stderr (stdout keeps the report).

When the input is files and folders, the files are listed first, so the line is a bar of files
read out of their total, with the time left (rich's estimate from the pace so far); reading
stdin, there is no total, and the bar only pulses. Either way it counts what the run did so far.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pipeline.report import RunReport


class IngestProgress:
    def __init__(self) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeRemainingColumn,
        )
        from rich.table import Column

        from riverbed.cli.output import console

        self.bar = Progress(
            SpinnerColumn(),
            BarColumn(bar_width=20),
            MofNCompleteColumn(),
            TextColumn("files · ETA"),
            TimeRemainingColumn(),
            # the counts wrap on a narrow terminal rather than push the rest off it
            TextColumn("{task.description}", table_column=Column(ratio=1, no_wrap=False)),
            transient=True,
            console=console(stderr=True),
        )
        self.task = self.bar.add_task("reading…", total=None)

    def __enter__(self) -> IngestProgress:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bar.__exit__(*exc)

    def files(
        self,
        paths: Sequence[Path],
        include: Sequence[str],
        exclude: Sequence[str],
        report: RunReport,
    ) -> Iterator[Path]:
        """The files under `paths` (as ingest would walk them), listed now to set the total;
        each one the reader takes counts the one before it as read."""
        from pipeline.sources.files import iter_files

        listed = list(iter_files(paths, include, exclude, report=report))
        self.bar.update(self.task, total=len(listed))
        for done, path in enumerate(listed):
            self.bar.update(self.task, completed=done)
            yield path
        self.bar.update(self.task, completed=len(listed))

    def on_batch(self, report: RunReport) -> None:
        self.bar.update(
            self.task,
            description=f"{report.seen} seen · {report.added} added · {report.updated} updated"
            f" · {report.unchanged} unchanged · {report.deleted} deleted · {report.failed} failed"
            f" · {report.chunks} chunks",
        )
