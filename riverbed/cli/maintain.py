"""Looking after the index: `riverbed stats`, `runs`, `check`, `compact` and `delete`."""

from __future__ import annotations

from pathlib import Path

import click

from riverbed.cli.common import friendly_errors, settings_from


@click.command()
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
    from riverbed.cli.output import emit_json, print_table

    with Index.open(settings=settings_from(ctx)) as index:
        counts = index.stats()
    if as_json:
        emit_json(counts)
    else:
        print_table("index", [(name.replace("_", " "), value) for name, value in counts.items()])


@click.command()
@click.argument("doc_ids", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print what was deleted as JSON.")
@click.pass_context
@friendly_errors
def delete(ctx: click.Context, doc_ids: tuple[str, ...], as_json: bool) -> None:
    """Remove documents (by id, or by the path they were ingested from); exit 1 if some
    were not there.

    \b
    Example:
      riverbed delete seeds/zelensky-bunker-interview.txt
    """
    from pipeline.writer import open_writer

    with open_writer(settings_from(ctx), wait=True, create=False) as writer:
        ids = [str(Path(d).resolve()) if Path(d).exists() else d for d in doc_ids]
        ids = [i if writer.store.document(i) else d for i, d in zip(ids, doc_ids, strict=True)]
        with writer.run("delete") as run:
            removed = run.runner.delete(ids)
    if as_json:
        from riverbed.cli.output import emit_json

        emit_json({"asked": len(doc_ids), "deleted": removed})
    else:
        click.echo(f"deleted {removed} of {len(doc_ids)} document(s)")
    if removed < len(doc_ids):
        ctx.exit(1)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the problems as JSON.")
@click.pass_context
@friendly_errors
def check(ctx: click.Context, as_json: bool) -> None:
    """Check that the catalog, its full-text index and the vectors agree (exit 1 if not).

    \b
    Example:
      riverbed check
    """
    from index.api import Index

    with Index.open(settings=settings_from(ctx)) as index:
        problems = index.check()
    if as_json:
        from riverbed.cli.output import emit_json

        emit_json({"ok": not problems, "problems": problems})
    else:
        for problem in problems:
            click.echo(f"problem: {problem}")
        if not problems:
            click.echo("ok: catalog, full-text index and vectors agree")
    if problems:
        ctx.exit(1)


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print what was done as JSON.")
@click.pass_context
@friendly_errors
def compact(ctx: click.Context, as_json: bool) -> None:
    """Rewrite what older versions wrote in today's smaller formats, and give the catalog's
    unused room back to the disk (docs/scale.md). Stop servers reading the index first to
    change its page size too.

    \b
    Example:
      riverbed compact
    """
    from pipeline.writer import open_writer

    with open_writer(settings_from(ctx), wait=True, create=False) as writer:
        done = writer.store.compact()
    if as_json:
        from riverbed.cli.output import emit_json

        emit_json(done)
        return
    line = f"compacted: {done['passages_rewritten']:,} passages rewritten in today's formats"
    if "catalog_bytes_after" in done:
        before, after = done["catalog_bytes_before"], done["catalog_bytes_after"]
        line += f"; catalog {before / 1e6:,.1f} MB -> {after / 1e6:,.1f} MB"
        line += f" in {done['page_size'] // 1024} KB pages"
    click.echo(line)


@click.command()
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
    from index.api import Index
    from riverbed.cli.output import emit_json, show

    with Index.open(settings=settings_from(ctx)) as index:
        history = index.runs(limit)
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
    show(table)
