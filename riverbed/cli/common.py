"""What every command shares: settings from the environment and the global options, user
mistakes as one line, exit statuses, a free port before a server loads, and stopping on
signals."""

from __future__ import annotations

import errno
import functools
import signal
import socket
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from riverbed.settings import Settings

EXIT_SOME_FAILED = 3  # some documents failed; the rest landed
F = TypeVar("F", bound=Callable[..., Any])


class UserError(click.ClickException):
    exit_code = 1


OVERRIDES = "riverbed.overrides"  # where the global options' values wait, in the root's meta


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    if value is not None and param.name:
        ctx.find_root().meta.setdefault(OVERRIDES, {})[param.name] = value
    return value


def global_options() -> list[click.Option]:
    """--data-dir, --store and --model, for the group and again for each command, so they may
    come before or after the command's name (after wins)."""
    common = {"expose_value": False, "callback": _remember}
    return [
        click.Option(
            ["--data-dir"],
            type=click.Path(path_type=Path, file_okay=False),
            help="Index directory [env RIVERBED_DATA_DIR; default ./riverbed-data].",
            **common,
        ),
        click.Option(
            ["--store"], help="Store URL, e.g. postgresql://... [env RIVERBED_STORE].", **common
        ),
        click.Option(
            ["--model"],
            help="sentence-transformers model directory [env RIVERBED_MODEL].",
            **common,
        ),
    ]


def settings_from(ctx: click.Context) -> Settings:
    """The Settings: environment (RIVERBED_*), then the global command-line options."""
    from pydantic import ValidationError

    from riverbed.settings import Settings

    try:
        settings = Settings()
    except ValidationError as err:
        first = err.errors()[0]
        raise UserError(f"bad setting: {first['loc'][0]}: {first['msg']}") from err
    overrides = ctx.find_root().meta.get(OVERRIDES, {})
    return settings.model_copy(update=overrides) if overrides else settings


def ensure_port_free(host: str, port: int) -> None:
    """Refuse, in one line, a port another process listens on: before the server loads
    anything (the model, the index), not after, in uvicorn's words. Bound as uvicorn binds it
    (SO_REUSEADDR), so a port that uvicorn could take passes."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except socket.gaierror as err:
        raise UserError(f"cannot listen on {host}: {err.strerror}") from err
    except OSError as err:
        if err.errno == errno.EADDRINUSE:
            raise UserError(
                f"port {port} on {host} is in use: stop what listens there or pass --port"
            ) from err
        raise UserError(f"cannot listen on {host}:{port}: {err.strerror or err}") from err


def friendly_errors(func: F) -> F:
    """Turn the library's user-facing errors into one line (bugs keep their traceback)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from pydantic import ValidationError

        from index.model import ModelNotFound
        from index.store.base import StoreError
        from index.store.disk import disk_failure
        from pipeline.sources.records import short_validation_message

        try:
            return func(*args, **kwargs)
        except ValidationError as err:
            raise UserError(short_validation_message(err)) from err
        except (StoreError, ModelNotFound, ValueError) as err:
            raise UserError(str(err)) from err
        except FileNotFoundError as err:
            raise UserError(f"no such file or folder: {err.filename or err}") from err
        except OSError as err:
            failure = disk_failure(err, err.filename or "")
            if failure is None:
                raise
            raise UserError(str(failure)) from err

    return wrapper  # type: ignore[return-value]


def stop_on_signals() -> threading.Event:
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
