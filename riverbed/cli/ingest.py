"""`riverbed ingest`: files, folders and stdin into the index; `--watch` keeps at it."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from itertools import chain
from pathlib import Path
from typing import Any

import click

from riverbed.cli.common import (
    EXIT_SOME_FAILED,
    UserError,
    friendly_errors,
    settings_from,
    stop_on_signals,
)


@click.command()
@click.argument("paths", nargs=-1)
@click.option(
    "--feed", "feeds", multiple=True, metavar="URL", help="An RSS or Atom feed (repeatable)."
)
@click.option("--include", multiple=True, help="Only files matching this glob (repeatable).")
@click.option("--exclude", multiple=True, help="Skip files matching this glob (repeatable).")
@click.option("--wait", is_flag=True, help="Wait for another ingest to finish instead of failing.")
@click.option(
    "--prune", is_flag=True, help="Also remove documents whose file under the folders is gone."
)
@click.option(
    "--watch", is_flag=True, help="Keep ingesting the folders' changes until interrupted."
)
@click.option(
    "--engine",
    type=click.Choice(["local", "ray"]),
    default="local",
    show_default=True,
    help="Run the stages here, or on Ray (pip install 'riverbed[scale]').",
)
@click.option("--ray-address", metavar="ADDR", help="Ray cluster [default: start a local one].")
@click.option("--workers", type=click.IntRange(1), help="Ray embedding actors [default: 1/CPU].")
@click.option("--json", "as_json", is_flag=True, help="Print the run report as JSON.")
@click.pass_context
@friendly_errors
def ingest(
    ctx: click.Context,
    paths: tuple[str, ...],
    feeds: tuple[str, ...],
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    wait: bool,
    prune: bool,
    watch: bool,
    engine: str,
    ray_address: str | None,
    workers: int | None,
    as_json: bool,
) -> None:
    """Ingest files, folders, web pages and feeds; `-` reads JSONL from stdin.

    Files: .txt .md .html .json .jsonl .pdf .docx .pptx .eml .mbox (docs/formats.md).

    Unchanged documents are skipped, changed ones replaced, bad ones reported.

    \b
    Example:
      riverbed ingest seeds/ notes/ --exclude 'drafts/*'
      riverbed ingest report.pdf https://example.org/page.html
      riverbed ingest --feed https://example.org/news.rss
      cat docs.jsonl | riverbed ingest -
      riverbed ingest --watch --prune notes/
      riverbed --store postgresql://host/db ingest --engine ray --ray-address auto corpus/
    """
    from pipeline.ingestion import ingest as run_ingest
    from pipeline.report import RunReport
    from pipeline.sources import read_jsonl_stream
    from pipeline.sources.feeds import Feed
    from pipeline.sources.web import is_url
    from riverbed.cli.progress import IngestProgress

    settings = settings_from(ctx)
    if not paths and not feeds:
        raise click.UsageError("give files, folders, URLs, - (stdin) or --feed URL")
    for path in paths:
        if path != "-" and not is_url(path) and not Path(path).exists():
            raise UserError(f"no such file or folder: {path}")
    for feed in feeds:
        if not is_url(feed):
            raise click.BadParameter(f"{feed!r} is not an http(s) URL", param_hint="--feed")
    if watch and (feeds or any(is_url(path) for path in paths)):
        raise click.UsageError("--watch follows folders: schedule URLs and feeds instead")
    if engine == "ray" and (feeds or any(is_url(path) for path in paths)):
        raise click.UsageError("--engine ray reads files and folders: not URLs or feeds")
    ray_engine = _ray_engine(engine, ray_address, workers, stdin="-" in paths, watch=watch)
    if watch:
        from riverbed.cli.watch import watch_folders

        with _advise_wait():
            report = watch_folders(
                paths,
                settings,
                stop=stop_on_signals(),
                include=include,
                exclude=exclude,
                prune=prune,
                wait=wait,
            )
        print_report(report, as_json)
        ctx.exit(EXIT_SOME_FAILED if report.failed else 0)
    read_report = RunReport()  # what reading stdin or listing the files reports itself
    progress = IngestProgress() if sys.stderr.isatty() and not as_json else None
    only_files = not feeds and all(path != "-" and not is_url(path) for path in paths)
    inputs: list[Any]
    if progress is not None and ray_engine is None and only_files:
        inputs = [progress.files([Path(p) for p in paths], include, exclude, read_report)]
    else:
        inputs = [
            read_jsonl_stream(sys.stdin.buffer, read_report, max_bytes=settings.max_document_bytes)
            if path == "-"
            else [path if is_url(path) else Path(path)]
            for path in paths
        ]
        inputs.append([Feed(url) for url in feeds])
    on_batch = progress.on_batch if progress is not None else None
    stop = stop_on_signals()
    with progress or nullcontext(), _advise_wait():
        report = run_ingest(
            chain.from_iterable(inputs),
            settings=settings,
            include=include,
            exclude=exclude,
            wait=wait,
            prune=[p for p in paths if p != "-" and not is_url(p) and Path(p).is_dir()]
            if prune
            else (),
            on_batch=on_batch,
            stop=stop,
            engine=ray_engine,
        )
    report.merge(read_report)
    print_report(report, as_json)
    if report.failed:
        ctx.exit(EXIT_SOME_FAILED)


@contextmanager
def _advise_wait() -> Iterator[None]:
    from index.store.base import WriterBusy

    try:
        yield
    except WriterBusy as err:
        raise UserError(f"{err}; wait for it or pass --wait") from err


def _ray_engine(
    engine: str, address: str | None, workers: int | None, stdin: bool, watch: bool
) -> Any:
    """The Ray engine when asked for (Ray itself is imported only when the run starts)."""
    if engine != "ray":
        if address or workers:
            raise click.UsageError("--ray-address and --workers go with --engine ray")
        return None
    if stdin or watch:
        raise click.UsageError("--engine ray reads files and folders: not stdin (-) or --watch")
    from pipeline.distributed import RayEngine

    return RayEngine(address=address, workers=workers)


def print_report(report: Any, as_json: bool) -> None:
    from riverbed.cli.output import emit_json, print_table

    if as_json:
        emit_json(report)
        return
    counts = report.model_dump(exclude={"failures"})
    print_table("ingest", [(name.replace("_", " "), value) for name, value in counts.items()])
    for failure in report.failures:
        click.echo(f"failed: {failure.source}: {failure.reason}", err=True)
