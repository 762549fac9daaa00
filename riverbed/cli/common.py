"""What every command shares: settings from the environment and the global options, user
mistakes as one line, exit statuses, and stopping on signals."""

from __future__ import annotations

import functools
import signal
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from riverbed.settings import Settings

EXIT_SOME_FAILED = 3  # some documents failed; the rest landed
F = TypeVar("F", bound=Callable[..., Any])


class UserError(click.ClickException):
    exit_code = 1


def settings_from(ctx: click.Context) -> Settings:
    """The Settings: environment (RIVERBED_*), then the global command-line options."""
    from pydantic import ValidationError

    from riverbed.settings import Settings

    try:
        settings = Settings()
    except ValidationError as err:
        first = err.errors()[0]
        raise UserError(f"bad setting: {first['loc'][0]}: {first['msg']}") from err
    overrides = {k: v for k, v in ctx.find_root().params.items() if v is not None}
    return settings.model_copy(update=overrides) if overrides else settings


def friendly_errors(func: F) -> F:
    """Turn the library's user-facing errors into one line (bugs keep their traceback)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from index.model import ModelNotFound
        from index.store.base import StoreError

        try:
            return func(*args, **kwargs)
        except (StoreError, ModelNotFound, ValueError) as err:
            raise UserError(str(err)) from err
        except FileNotFoundError as err:
            raise UserError(f"no such file or folder: {err.filename or err}") from err

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
