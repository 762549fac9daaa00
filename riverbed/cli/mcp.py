"""`riverbed mcp`: serve the index to MCP clients (stdio, or streamable HTTP with --http).

The MCP SDK is imported only when the command runs, so the rest of the CLI stays quick.
"""

from __future__ import annotations

import click

from riverbed.cli.common import ensure_port_free, friendly_errors, settings_from


@click.command()
@click.option("--http", "use_http", is_flag=True, help="Serve streamable HTTP instead of stdio.")
@click.option("--host", default="127.0.0.1", show_default=True, help="HTTP address to bind.")
@click.option(
    "--port", default=8765, show_default=True, type=click.IntRange(1, 65535), help="HTTP port."
)
@click.option("--allow-writes", is_flag=True, help="Offer the `ingest` tool, which adds documents.")
@click.pass_context
@friendly_errors
def mcp(ctx: click.Context, use_http: bool, host: str, port: int, allow_writes: bool) -> None:
    """Serve the index over the Model Context Protocol: tools search, get_document, stats.

    Speaks MCP on stdin/stdout for a client that launches it; with --http, serves streamable
    HTTP at http://HOST:PORT/mcp. The index is opened at the first call.

    \b
    Example:
      riverbed --data-dir ~/corpus/riverbed-data mcp
      riverbed mcp --http --port 8765 --allow-writes
    """
    if use_http:
        ensure_port_free(host, port)
    from riverbed.mcp import build_server

    settings = settings_from(ctx)
    server = build_server(settings, allow_writes=allow_writes)
    if not use_http:
        server.run("stdio")
        return
    index = "the configured store" if settings.store else settings.data_dir
    click.echo(f"riverbed MCP server on http://{host}:{port}/mcp (index: {index})", err=True)
    server.run(
        "streamable-http",
        host=host,
        port=port,
        max_request_body_size=settings.max_request_bytes,
    )
