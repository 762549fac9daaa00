"""`riverbed serve`: the HTTP API (riverbed/http/app.py) on uvicorn."""

from __future__ import annotations

import click

from riverbed.cli.common import ensure_port_free, friendly_errors, settings_from


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--log-level",
    default="info",
    show_default=True,
    type=click.Choice(["critical", "error", "warning", "info", "debug"]),
)
@click.pass_context
@friendly_errors
def serve(ctx: click.Context, host: str, port: int, log_level: str) -> None:
    """Serve search and ingestion over HTTP; the API is described at /docs.

    Writes need `Authorization: Bearer <key>` when RIVERBED_API_KEY is set.

    \b
    Example:
      RIVERBED_API_KEY=secret riverbed serve --port 8000
      curl 'http://127.0.0.1:8000/search?q=what+did+Zelensky+ask+of+NATO&k=3'
    """
    ensure_port_free(host, port)
    import uvicorn

    from riverbed.http.app import create_app

    app = create_app(settings_from(ctx))
    click.echo(f"riverbed serving {app.state.backend.store.label}", err=True)
    uvicorn.run(app, host=host, port=port, log_level=log_level)
