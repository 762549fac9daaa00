"""A disk or a catalog file that fails, as one line that says what to do.

The stores turn what the operating system or SQLite raise (a full disk, a read-only file
system, a permission, a damaged catalog) into these errors, which every face shows as one line
with exit status 1. A write that fails this way has changed nothing: each batch is one
transaction, and the vector files are replaced whole (vector_segments.py).
"""

from __future__ import annotations

import errno
import functools
import inspect
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from index.store.base import StoreError

T = TypeVar("T", bound=type)
Translate = Callable[[Any, Exception], StoreError | None]


def translated(translate: Translate) -> Callable[[T], T]:
    """A class decorator for a store: opening it and every public method raise what
    `translate(store, error)` makes of an error (one of those below), else the error itself
    (a bug keeps its traceback)."""

    def wrap(method: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(method)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            except StoreError:
                raise
            except Exception as err:
                failure = translate(self, err)
                if failure is None:
                    raise
                raise failure from err

        return wrapper

    def decorate(cls: T) -> T:
        for name in dir(cls):  # its own methods and those it inherits (StoreBase's)
            member = getattr(cls, name)
            public = name == "__init__" or not name.startswith("_")
            static = isinstance(inspect.getattr_static(cls, name), staticmethod)
            if public and inspect.isfunction(member) and not static:
                setattr(cls, name, wrap(member))
        return cls

    return decorate


class DiskFailed(StoreError):
    """The disk refused a read or a write: full, read-only, not permitted, failing."""


class CatalogDamaged(StoreError):
    """The catalog file is not a readable SQLite database any more."""


_ERRNO_REASONS = {
    errno.ENOSPC: "the disk is full: free some space and run again",
    errno.EDQUOT: "the disk quota is used up: free some space and run again",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EIO: "input/output error: the disk may be failing",
}
# SQLite's primary result codes (`sqlite_errorname` up to its first `_` after SQLITE).
_SQLITE_REASONS = {
    "SQLITE_FULL": _ERRNO_REASONS[errno.ENOSPC],
    "SQLITE_READONLY": "cannot write: the file or its folder is read-only",
    "SQLITE_PERM": "permission denied",
    "SQLITE_CANTOPEN": "cannot open the file (missing folder, permissions or too many open files)",
    "SQLITE_IOERR": "input/output error: the disk may be full or failing",
}
_DAMAGED = ("SQLITE_CORRUPT", "SQLITE_NOTADB")


def disk_failure(err: OSError, where: Path | str) -> DiskFailed | None:
    """The one-line error for an OSError the disk raised, or None for any other OSError."""
    reason = _ERRNO_REASONS.get(err.errno or 0)
    if reason is None:
        return None
    return DiskFailed(f"{where}: {reason}")


def catalog_failure(err: sqlite3.Error, path: Path) -> StoreError | None:
    """The one-line error for what SQLite raised about the catalog at `path`, or None when it is
    not the disk's or the file's fault (a bug keeps its traceback)."""
    name = getattr(err, "sqlite_errorname", "") or ""
    primary = "_".join(name.split("_")[:2])
    if primary in _DAMAGED:
        return damaged(path, str(err))
    reason = _SQLITE_REASONS.get(primary)
    if reason is None:
        return None
    return DiskFailed(f"{path}: {_diagnosis(path.parent) or reason}")


def _diagnosis(folder: Path) -> str | None:
    """What the file system says is wrong with `folder`, where SQLite's code says less."""
    try:
        system = os.statvfs(folder)
    except OSError:
        return None
    if system.f_flag & os.ST_RDONLY:
        return _ERRNO_REASONS[errno.EROFS]
    if not os.access(folder, os.W_OK):
        return _ERRNO_REASONS[errno.EACCES]
    if system.f_bavail == 0:
        return _ERRNO_REASONS[errno.ENOSPC]
    return None


def disk_refused(err: sqlite3.Error) -> bool:
    """Whether SQLite failed because of the disk (full, read-only, permissions, I/O)."""
    name = getattr(err, "sqlite_errorname", "") or ""
    return "_".join(name.split("_")[:2]) in _SQLITE_REASONS


def damaged(path: Path, what: str) -> CatalogDamaged:
    return CatalogDamaged(
        f"the catalog {path} is damaged ({what}): restore it from a backup, or move its folder"
        " away and ingest the sources again"
    )
