"""Files and folders: which files a walk yields, and the Documents each file holds.

A file that cannot be read becomes one failure in the run report; the walk goes on.
"""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from index.models import Document
from pipeline.report import RunReport
from pipeline.sources import mail, office, pdf
from pipeline.sources.blob import Blob
from pipeline.sources.html import read_html
from pipeline.sources.jsonl import read_json_blob, read_jsonl_blob
from pipeline.sources.names import name_of
from pipeline.sources.text import read_markdown, read_plain

Reader = Callable[[Blob, RunReport, int], Iterator[Document]]


@dataclass(frozen=True, slots=True)
class Format:
    """A kind of file riverbed reads: its suffixes, its reader and what of it is kept."""

    name: str
    suffixes: tuple[str, ...]
    read: Reader
    library: str
    kept: str


def read_blob(blob: Blob, report: RunReport, max_bytes: int) -> Iterator[Document]:
    """The Documents of a file or of bytes named like one (an attachment), by its suffix."""
    suffix = Path(blob.name).suffix.lower()
    format_ = READERS.get(suffix)
    if format_ is None:
        shown = suffix or "(no suffix)"
        report.fail(
            blob.where,
            f"unsupported file type {shown} (supported: {', '.join(SUPPORTED_SUFFIXES)})",
        )
        return
    yield from format_.read(blob, report, max_bytes)


def read_attachment(blob: Blob, report: RunReport, max_bytes: int) -> Iterator[Document]:
    """An attachment's Documents; one in a format riverbed does not read is left out quietly."""
    if Path(blob.name).suffix.lower() in READERS:
        yield from read_blob(blob, report, max_bytes)


# The formats, in the order the docs list them; each module reads its own.
FORMATS: tuple[Format, ...] = (
    Format(
        "Plain text",
        (".txt",),
        read_plain,
        "standard library",
        "the text; the title from the file name",
    ),
    Format(
        "Markdown",
        (".md", ".markdown"),
        read_markdown,
        "standard library",
        "the text without front matter and link targets; the title from the first # heading",
    ),
    Format(
        "HTML",
        (".html", ".htm"),
        read_html,
        "trafilatura",
        "the main text (no navigation, footers, comments), tables; title, date, canonical URL",
    ),
    Format(
        "JSON",
        (".json",),
        read_json_blob,
        "standard library",
        "one record or a list of records (id, text, title, url, published_at, metadata)",
    ),
    Format(
        "JSON Lines",
        (".jsonl",),
        read_jsonl_blob,
        "standard library",
        "a record a line, streamed; the size limit is per line",
    ),
    Format(
        "PDF",
        (".pdf",),
        pdf.read_pdf,
        "pypdfium2 (PDFium)",
        "the text layer in reading order, a page apart (passages know their pages), hyphens "
        "at line ends repaired, running headers and footers dropped; title, creation date",
    ),
    Format(
        "Word",
        (".docx",),
        office.read_docx,
        "python-docx",
        "paragraphs, headings (as paragraphs of their own; the first is the title unless "
        "the file has one), lists, tables a row a line; author, created date",
    ),
    Format(
        "PowerPoint",
        (".pptx",),
        office.read_pptx,
        "python-pptx",
        "a page per slide: its title, text frames, tables and notes; author, created date",
    ),
    Format(
        "E-mail",
        (".eml",),
        partial(mail.read_eml, read_attachment=read_attachment),
        "email (standard library)",
        "a document per message: subject as title, date, from/to/cc and message id in "
        "metadata, the text body (else the HTML one); readable attachments as documents",
    ),
    Format(
        "Mailbox",
        (".mbox",),
        partial(mail.read_mbox, read_attachment=read_attachment),
        "mailbox (standard library)",
        "each message as for .eml, streamed; the size limit is per message",
    ),
)
READERS: dict[str, Format] = {suffix: f for f in FORMATS for suffix in f.suffixes}
SUPPORTED_SUFFIXES = tuple(READERS)


def formats_table() -> str:
    """The formats as a Markdown table (docs/formats.md shows it; a test keeps them equal)."""
    rows = ["| suffix | library | what is kept |", "| --- | --- | --- |"]
    for f in FORMATS:
        suffixes = " ".join(f"`{suffix}`" for suffix in f.suffixes)
        rows.append(f"| {suffixes} | {f.library} | {f.kept} |")
    return "\n".join(rows)


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

    `max_bytes` bounds the whole file or, for formats that hold many documents (.jsonl,
    .mbox), each one of them; for PDF and office files, the text read out of them.
    """
    path = Path(path)
    where = name_of(path)
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
    yield from read_blob(Blob.of_file(path), report, max_bytes)
