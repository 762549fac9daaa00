"""Files and folders: which files a walk yields, and the Documents each file holds.

A file that cannot be read becomes one failure in the run report; the walk goes on.
"""

from __future__ import annotations

import fnmatch
import os
import re
import stat
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from index.models import Document
from pipeline.report import RunReport
from pipeline.sources.html import html_document
from pipeline.sources.jsonl import read_json, read_jsonl_file
from pipeline.sources.text import SNIFF_BYTES, decode, open_error, title_from_name, too_large

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".json", ".jsonl")

_MD_HEADING = re.compile(r"^#[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$", re.MULTILINE)


# Finding files


def iter_files(
    paths: Iterable[Path],
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    *,
    report: RunReport | None = None,
) -> Iterator[Path]:
    """Yield the files to read: given files as they are, folders walked in sorted order.

    In folders, only supported suffixes are kept, hidden names are skipped and the
    include/exclude globs are matched against both the path relative to the folder and
    the file name. An exclude glob matching a sub-folder skips that whole sub-folder.
    A missing path raises FileNotFoundError. A sub-folder that cannot be listed is
    reported when `report` is given, and raises otherwise.
    """
    for path in paths:
        path = Path(path)
        if path.is_dir():
            yield from _walk(path, path, include, exclude, report)
        elif os.path.lexists(path):
            yield path
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")


def _walk(
    root: Path,
    folder: Path,
    include: Sequence[str],
    exclude: Sequence[str],
    report: RunReport | None,
) -> Iterator[Path]:
    try:
        with os.scandir(folder) as scan:
            entries = sorted(scan, key=lambda entry: entry.name)
    except OSError as exc:
        if report is None:
            raise
        report.fail(str(folder), f"cannot list folder: {exc.strerror or exc}")
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = Path(entry.path)
        relative = path.relative_to(root).as_posix()
        try:
            is_dir = entry.is_dir()
        except OSError:
            is_dir = False
        if is_dir:
            # Symlinked folders are not followed: they can loop.
            if not entry.is_symlink() and not _matches(relative, entry.name, exclude):
                yield from _walk(root, path, include, exclude, report)
            continue
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            continue
        if include and not _matches(relative, entry.name, include):
            continue
        if _matches(relative, entry.name, exclude):
            continue
        yield path


def _matches(relative: str, name: str, patterns: Sequence[str]) -> bool:
    for pattern in patterns:
        candidates = [pattern]
        if pattern.startswith("**/"):
            candidates.append(pattern[3:])
        for glob in candidates:
            if fnmatch.fnmatch(relative, glob) or fnmatch.fnmatch(name, glob):
                return True
    return False


def is_wanted(
    path: Path, root: Path, include: Sequence[str] = (), exclude: Sequence[str] = ()
) -> bool:
    """Whether walking `root` would yield `path` (a file below it), by the rules of iter_files."""
    parts = path.relative_to(root).parts
    if not parts or any(part.startswith(".") for part in parts):
        return False
    for depth in range(1, len(parts)):
        if _matches("/".join(parts[:depth]), parts[depth - 1], exclude):
            return False
    relative, name = "/".join(parts), parts[-1]
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        return False
    if include and not _matches(relative, name, include):
        return False
    return not _matches(relative, name, exclude)


# Reading files


def read_paths(
    paths: Iterable[Path],
    report: RunReport,
    max_bytes: int,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
) -> Iterator[Document]:
    """Documents from every file under `paths`. Does not count `report.seen`."""
    for path in iter_files(paths, include, exclude, report=report):
        yield from read_file(path, report, max_bytes)


def read_file(path: Path, report: RunReport, max_bytes: int) -> Iterator[Document]:
    """Documents from one file; any problem with it becomes a failure in `report`.

    `max_bytes` bounds the whole file, except for .jsonl where it bounds each line.
    """
    path = Path(path)
    where = str(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        report.fail(where, "file not found (deleted during the run?)")
        return
    except PermissionError:
        report.fail(where, "permission denied")
        return
    except OSError as exc:
        report.fail(where, f"cannot read: {exc.strerror or exc}")
        return
    if stat.S_ISDIR(info.st_mode):
        report.fail(where, "is a directory, not a file")
        return
    if not stat.S_ISREG(info.st_mode):
        report.fail(where, "not a regular file")
        return

    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        shown = suffix or "(no suffix)"
        report.fail(
            where, f"unsupported file type {shown} (supported: {', '.join(SUPPORTED_SUFFIXES)})"
        )
        return

    if suffix == ".jsonl":
        yield from read_jsonl_file(path, report, max_bytes)
        return

    if info.st_size > max_bytes:
        report.fail(where, too_large(info.st_size, max_bytes))
        return
    try:
        with path.open("rb") as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        report.fail(where, open_error(exc))
        return
    if len(data) > max_bytes:
        # The file grew after stat().
        report.fail(where, too_large(len(data), max_bytes))
        return
    if b"\x00" in data[:SNIFF_BYTES]:
        report.fail(where, "binary file, not text")
        return
    text, error = decode(data)
    if error:
        report.fail(where, error)
        return
    if not text.strip():
        report.fail(where, "empty file")
        return

    resolved = str(path.resolve())
    if suffix == ".json":
        yield from read_json(text, path, resolved, report)
    elif suffix in (".html", ".htm"):
        doc = html_document(text, path, resolved)
        if doc is None:
            report.fail(where, "no main text found in HTML")
        else:
            yield doc
    elif suffix in (".md", ".markdown"):
        text = _drop_front_matter(text)
        if not text.strip():
            report.fail(where, "empty file")
            return
        heading = _MD_HEADING.search(text)
        title = heading.group(1).strip() if heading else title_from_name(path)
        yield Document(id=resolved, source=resolved, text=text, title=title)
    else:
        yield Document(id=resolved, source=resolved, text=text, title=title_from_name(path))


def _drop_front_matter(text: str) -> str:
    if text.startswith("---\n"):
        end = text.find("\n---\n", 3)
        if end != -1:
            return text[end + len("\n---\n") :]
    return text
