"""`riverbed`: ingest documents, ask questions, look after the index.

Each command parses its options, calls the library (pipeline.ingest, index.Index) and formats
the result; user mistakes become one line and a meaningful exit status:
0 ok, 1 error, 2 usage, 3 some documents failed (the rest landed).
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click

EXIT_SOME_FAILED = 3


class UserError(click.ClickException):
    exit_code = 1


def settings_from(ctx: click.Context):  # type: ignore[no-untyped-def]
    """The Settings: environment (RIVERBED_*), then the global command-line options."""
    from pydantic import ValidationError

    from index.settings import Settings

    try:
        settings = Settings()
    except ValidationError as err:
        raise UserError(
            f"bad setting: {err.errors()[0]['loc'][0]}: {err.errors()[0]['msg']}"
        ) from err
    overrides = {k: v for k, v in ctx.find_root().params.items() if v is not None}
    return settings.model_copy(update=overrides) if overrides else settings


def friendly_errors(func):  # type: ignore[no-untyped-def]
    """Turn the library's user-facing errors into one line (bugs keep their traceback)."""
    import functools

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from index.encoder import ModelNotFound
        from index.store.base import StoreError

        try:
            return func(*args, **kwargs)
        except (StoreError, ModelNotFound, ValueError) as err:
            raise UserError(str(err)) from err
        except FileNotFoundError as err:
            raise UserError(f"no such file or folder: {err.filename or err}") from err

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--data-dir",
    type=click.Path(path_type=Path, file_okay=False),
    help="Index directory [env RIVERBED_DATA_DIR; default ./riverbed-data].",
)
@click.option("--store", help="Store URL, e.g. postgresql://... [env RIVERBED_STORE].")
@click.option("--model", help="sentence-transformers model directory [env RIVERBED_MODEL].")
@click.version_option(package_name="riverbed")
def main(data_dir: Path | None, store: str | None, model: str | None) -> None:
    """riverbed: stream documents into a search index and ask it questions.

    \b
    Example:
      riverbed ingest seeds/
      riverbed ask "what did Zelensky ask of NATO"
    """


def _stop_on_signals() -> threading.Event:
    """SIGINT/SIGTERM let the batch in flight commit, then stop; a second SIGINT aborts."""
    stop = threading.Event()

    def handle(signum: int, _frame: object) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()
        click.echo("stopping after the current batch…", err=True)

    signal.signal(signal.SIGINT, handle)
    signal.signal(signal.SIGTERM, handle)
    return stop


def _progress(enabled: bool):  # type: ignore[no-untyped-def]
    """A live progress line on the terminal (stderr, so stdout stays the report); nothing when
    stderr is piped."""
    if not enabled:
        return None, None
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from pipeline.output import console

    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        transient=True,
        console=console(stderr=True),
    )
    task = progress.add_task("reading…", total=None)

    def on_batch(report: Any) -> None:
        progress.update(
            task,
            description=f"{report.seen} seen · {report.added} added · {report.updated} updated"
            f" · {report.unchanged} unchanged · {report.deleted} deleted · {report.failed} failed"
            f" · {report.chunks} chunks",
        )

    return progress, on_batch


def print_report(report: Any, as_json: bool) -> None:
    from pipeline.output import emit_json, print_table

    if as_json:
        emit_json(report)
        return
    counts = report.model_dump(exclude={"failures"})
    print_table("ingest", [(name.replace("_", " "), value) for name, value in counts.items()])
    for failure in report.failures:
        click.echo(f"failed: {failure.source}: {failure.reason}", err=True)


@main.command()
@click.argument("paths", nargs=-1, required=True)
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
    """Ingest files and folders (.txt .md .html .json .jsonl); `-` reads JSONL from stdin.

    Unchanged documents are skipped, changed ones replaced, bad ones reported.

    \b
    Example:
      riverbed ingest seeds/ notes/ --exclude 'drafts/*'
      cat docs.jsonl | riverbed ingest -
      riverbed ingest --watch --prune notes/
      riverbed --store postgresql://host/db ingest --engine ray --ray-address auto corpus/
    """
    from pipeline.ingestion import ingest as run_ingest
    from pipeline.report import RunReport
    from pipeline.sources import read_jsonl_stream

    settings = settings_from(ctx)
    for path in paths:
        if path != "-" and not Path(path).exists():
            raise UserError(f"no such file or folder: {path}")
    ray_engine = _ray_engine(engine, ray_address, workers, stdin="-" in paths, watch=watch)
    if watch:
        from pipeline.watch_cli import watch_folders

        report = watch_folders(
            paths,
            settings,
            stop=_stop_on_signals(),
            include=include,
            exclude=exclude,
            prune=prune,
            wait=wait,
        )
        print_report(report, as_json)
        ctx.exit(EXIT_SOME_FAILED if report.failed else 0)
    stdin_report = RunReport()
    inputs: list[Any] = []
    for path in paths:
        if path == "-":
            inputs.append(
                read_jsonl_stream(
                    sys.stdin.buffer, stdin_report, max_bytes=settings.max_document_bytes
                )
            )
        else:
            inputs.append([Path(path)])
    progress, on_batch = _progress(sys.stderr.isatty() and not as_json)
    stop = _stop_on_signals()
    from itertools import chain

    with progress or _Nothing():
        report = run_ingest(
            chain.from_iterable(inputs),
            settings=settings,
            include=include,
            exclude=exclude,
            wait=wait,
            prune=[path for path in paths if path != "-" and Path(path).is_dir()] if prune else (),
            on_batch=on_batch,
            stop=stop,
            engine=ray_engine,
        )
    report.merge(stdin_report)
    print_report(report, as_json)
    if report.failed:
        ctx.exit(EXIT_SOME_FAILED)


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


class _Nothing:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *_: object) -> None:
        return None


@main.command()
@click.argument("question")
@click.option("-k", "--top", "k", default=5, show_default=True, type=click.IntRange(1, 100))
@click.option("--mode", type=click.Choice(["hybrid", "dense", "lexical"]), help="Retrieval mode.")
@click.option("--doc", "doc_ids", multiple=True, help="Only this document id (repeatable).")
@click.option("--source", "sources", multiple=True, help="Only this source (repeatable).")
@click.option(
    "--meta", multiple=True, metavar="KEY=VALUE", help="Only documents with this metadata."
)
@click.option("--after", type=click.DateTime(), help="Only documents published on/after this date.")
@click.option(
    "--before", type=click.DateTime(), help="Only documents published on/before this date."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
@friendly_errors
def ask(
    ctx: click.Context,
    question: str,
    k: int,
    mode: str | None,
    doc_ids: tuple[str, ...],
    sources: tuple[str, ...],
    meta: tuple[str, ...],
    after: Any,
    before: Any,
    as_json: bool,
) -> None:
    """Ask a question; print the best passages with their answer sentence marked.

    \b
    Example:
      riverbed ask "what did Zelensky ask of NATO" -k 3
      riverbed ask "no-fly zone" --mode lexical --json
    """
    from index.api import Index
    from index.models import Filters
    from pipeline.output import emit_json, print_passages

    metadata = {}
    for pair in meta:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--meta")
        metadata[key] = value
    filters = Filters(
        doc_ids=list(doc_ids) or None,
        sources=[str(Path(s).resolve()) if Path(s).exists() else s for s in sources] or None,
        metadata=metadata or None,
        published_after=after,
        published_before=before,
    )
    with Index.open(settings=settings_from(ctx)) as index:
        passages = index.search(question, k=k, mode=mode, filters=filters)  # type: ignore[arg-type]
    if as_json:
        emit_json({"query": question, "results": [p.model_dump(mode="json") for p in passages]})
    else:
        print_passages(question, passages)


@main.command()
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@friendly_errors
def stats(ctx: click.Context, as_json: bool) -> None:
    """Counts of the index: documents, duplicates, chunks, passages, tokens, size.

    \b
    Example:
      riverbed stats --json
    """
    from index.api import Index
    from pipeline.output import emit_json, print_table

    with Index.open(settings=settings_from(ctx)) as index:
        counts = index.stats()
    if as_json:
        emit_json(counts)
    else:
        print_table("index", [(name.replace("_", " "), value) for name, value in counts.items()])


@main.command()
@click.argument("doc_ids", nargs=-1, required=True)
@click.pass_context
@friendly_errors
def delete(ctx: click.Context, doc_ids: tuple[str, ...]) -> None:
    """Remove documents (by id, or by the path they were ingested from).

    \b
    Example:
      riverbed delete seeds/zelensky-bunker-interview.txt
    """
    from index.store import open_store

    store = open_store(settings_from(ctx), create=False)
    try:
        store.acquire_writer(wait=True) if hasattr(store, "acquire_writer") else None
        ids = [str(Path(d).resolve()) if Path(d).exists() else d for d in doc_ids]
        ids = [i if store.document(i) else d for i, d in zip(ids, doc_ids, strict=True)]
        removed = store.delete(ids)
        if hasattr(store, "save_vectors") and removed:
            store.save_vectors()
    finally:
        store.close()
    click.echo(f"deleted {removed} of {len(doc_ids)} document(s)")
    if removed < len(doc_ids):
        ctx.exit(1)


@main.command()
@click.pass_context
@friendly_errors
def check(ctx: click.Context) -> None:
    """Check that the catalog, its full-text index and the vectors agree (exit 1 if not).

    \b
    Example:
      riverbed check
    """
    from index.store import open_store

    store = open_store(settings_from(ctx), create=False)
    try:
        if not hasattr(store, "check"):
            raise UserError("this store has no consistency check")
        problems = store.check()
    finally:
        store.close()
    for problem in problems:
        click.echo(f"problem: {problem}")
    if problems:
        ctx.exit(1)
    click.echo("ok: catalog, full-text index and vectors agree")


@main.command()
@click.option("-n", "--limit", default=20, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
@friendly_errors
def runs(ctx: click.Context, limit: int, as_json: bool) -> None:
    """The history of ingest runs, newest first.

    \b
    Example:
      riverbed runs -n 5 --json
    """
    from index.store import open_store
    from pipeline.output import console, emit_json

    store = open_store(settings_from(ctx), create=False)
    try:
        history = store.runs(limit)
    finally:
        store.close()
    if as_json:
        emit_json(history)
        return
    from rich.table import Table

    table = Table("id", "job", "started", "ended", "status", "counts", "errors")
    counted = ("seen", "added", "updated", "unchanged", "deleted", "failed", "chunks")
    for run in history:
        report = run["report"] or {}
        counts = ", ".join(f"{name} {report[name]}" for name in counted if report.get(name))
        failures = [f"{f['source']}: {f['reason']}" for f in report.get("failures", [])[:3]]
        table.add_row(
            str(run["id"]),
            run["job"],
            run["started_at"],
            run["ended_at"] or "",
            run["status"],
            counts,
            "\n".join(([run["error"]] if run["error"] else []) + failures),
        )
    console().print(table)


from pipeline.mcp_cli import mcp  # noqa: E402

main.add_command(mcp)

from pipeline.schedule_cli import schedule  # noqa: E402

main.add_command(schedule)

from pipeline.serve_cli import serve  # noqa: E402

main.add_command(serve)

from pipeline.eval_cli import evaluate_command  # noqa: E402

main.add_command(evaluate_command)
