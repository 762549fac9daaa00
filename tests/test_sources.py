from __future__ import annotations

import io
import json
import os
from datetime import datetime
from pathlib import Path

import pytest

from index.models import Document
from pipeline import sources
from pipeline.report import RunReport
from pipeline.sources import (
    SUPPORTED_SUFFIXES,
    iter_files,
    read_file,
    read_jsonl_stream,
    read_paths,
)

MAX = 32 * 1024 * 1024

ARTICLE = (
    "Ukrainian President Volodymyr Zelensky urged the United States to send a strong "
    "message about the invasion during a rare interview from his bunker in Kyiv."
)
ARTICLE_2 = (
    "He said that as long as attacks on Ukrainian cities continued, little progress "
    "could be made in the talks between the two nations, and asked for help."
)
HTML_PAGE = f"""<!doctype html>
<html><head><meta charset="utf-8"><title>Kyiv bunker interview | Daily News</title>
<meta property="article:published_time" content="2022-03-01T10:00:00Z">
</head><body>
<nav><ul><li><a href="/">Home</a></li><li><a href="/world">World desk</a></li>
<li><a href="/sport">Sport scores and fixtures</a></li></ul></nav>
<article><h1>Kyiv bunker interview</h1><p>{ARTICLE}</p><p>{ARTICLE_2}</p></article>
<footer><p>Copyright 2022 Daily News. All rights reserved. Cookie settings.</p></footer>
</body></html>
"""


def _write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def _failures(report: RunReport) -> list[tuple[str, str]]:
    return [(f.source, f.reason) for f in report.failures]


def _read_one(path: Path, max_bytes: int = MAX) -> tuple[list[Document], RunReport]:
    report = RunReport()
    return list(read_file(path, report, max_bytes)), report


# iter_files


def test_iter_files_walks_sorted_skips_hidden_and_unsupported(tmp_path: Path) -> None:
    for name in [
        "b.txt",
        "a.md",
        "sub/c.html",
        "sub/deeper/d.jsonl",
        "notes.odg",
        ".hidden.txt",
        ".git/config.txt",
        "sub/.cache/e.txt",
        "UPPER.TXT",
    ]:
        _write(tmp_path / name, "x")

    found = [p.relative_to(tmp_path).as_posix() for p in iter_files([tmp_path])]

    assert found == ["UPPER.TXT", "a.md", "b.txt", "sub/c.html", "sub/deeper/d.jsonl"]


def test_iter_files_yields_a_given_file_as_is(tmp_path: Path) -> None:
    odd = _write(tmp_path / "report.odg", "x")
    hidden = _write(tmp_path / ".env.txt", "x")
    assert list(iter_files([odd, hidden])) == [odd, hidden]


def test_iter_files_include_and_exclude_globs(tmp_path: Path) -> None:
    for name in ["a.md", "b.txt", "drafts/c.md", "drafts/d.txt", "news/e.md", "news/f.txt"]:
        _write(tmp_path / name, "x")

    def rel(include=(), exclude=()):
        paths = iter_files([tmp_path], include=include, exclude=exclude)
        return [p.relative_to(tmp_path).as_posix() for p in paths]

    assert rel(include=["*.md"]) == ["a.md", "drafts/c.md", "news/e.md"]
    assert rel(include=["news/*"]) == ["news/e.md", "news/f.txt"]
    assert rel(exclude=["drafts/*"]) == ["a.md", "b.txt", "news/e.md", "news/f.txt"]
    assert rel(exclude=["drafts"]) == ["a.md", "b.txt", "news/e.md", "news/f.txt"]
    assert rel(include=["*.md"], exclude=["e.md"]) == ["a.md", "drafts/c.md"]
    assert rel(include=["**/*.txt"]) == ["b.txt", "drafts/d.txt", "news/f.txt"]


def test_iter_files_missing_path_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nope"):
        list(iter_files([tmp_path / "nope"]))


# plain files


def test_txt_markdown_and_html_documents(tmp_path: Path) -> None:
    txt = _write(tmp_path / "kyiv-bunker_interview.txt", "Plain text.\n")
    md = _write(
        tmp_path / "notes.md",
        "---\ntitle: ignored\ntags: [a]\n---\nIntro line\n\n# The Heading #\n\nBody text.\n",
    )
    md_untitled = _write(tmp_path / "no_heading.markdown", "## Only a subheading\n\nBody.\n")
    html = _write(tmp_path / "page.html", HTML_PAGE)

    docs = {Path(d.id).name: d for d in read_paths([tmp_path], RunReport(), MAX)}

    assert docs["kyiv-bunker_interview.txt"].title == "kyiv bunker interview"
    assert docs["kyiv-bunker_interview.txt"].text == "Plain text.\n"
    assert docs["kyiv-bunker_interview.txt"].id == str(txt.resolve())
    assert docs["kyiv-bunker_interview.txt"].source == str(txt.resolve())

    assert docs["notes.md"].title == "The Heading"
    assert docs["notes.md"].text.startswith("Intro line")
    assert "ignored" not in docs["notes.md"].text
    assert docs["notes.md"].id == str(md.resolve())
    assert docs["no_heading.markdown"].title == "no heading"
    assert docs["no_heading.markdown"].id == str(md_untitled.resolve())

    page = docs["page.html"]
    assert page.id == page.source == str(html.resolve())
    assert ARTICLE in page.text
    assert ARTICLE_2 in page.text
    assert "Sport scores" not in page.text
    assert "World desk" not in page.text
    assert "All rights reserved" not in page.text
    assert page.title.startswith("Kyiv bunker interview")
    assert page.published_at is not None
    assert page.published_at.date().isoformat() == "2022-03-01"
    # Paragraphs of the page stay paragraphs.
    assert f"{ARTICLE}\n\n{ARTICLE_2}" in page.text


def test_html_without_main_text_is_reported(tmp_path: Path) -> None:
    # A client-side rendered page: nothing but a script and an empty mount point.
    page = _write(
        tmp_path / "app.htm",
        '<html><head><title>Loading</title><script>render("#root")</script></head>'
        '<body><div id="root"></div></body></html>',
    )
    docs, report = _read_one(page)
    assert docs == []
    assert _failures(report) == [(str(page), "no main text found in HTML")]


def test_utf8_bom_is_accepted(tmp_path: Path) -> None:
    path = _write(tmp_path / "bom.txt", "\ufeffHello".encode())
    docs, report = _read_one(path)
    assert [d.text for d in docs] == ["Hello"]
    assert report.failed == 0


def test_each_bad_file_fails_once_and_good_files_still_come_out(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    good = [
        _write(folder / "a-good.txt", "First good file."),
        _write(folder / "m-good.md", "# Title\n\nSecond good file."),
        _write(folder / "z-good.txt", "Third good file."),
    ]
    binary = _write(folder / "binary.txt", b"PK\x03\x04\x00\x00garbage")
    bad_utf8 = _write(folder / "latin1.txt", "café".encode("latin-1"))
    empty = _write(folder / "empty.md", " \n\t\n")
    zero = _write(folder / "zero.txt", b"")
    big = folder / "big.txt"
    with big.open("wb") as handle:
        handle.truncate(100 * 1024 * 1024)
    os.mkfifo(folder / "pipe.txt")
    unsupported = _write(tmp_path / "slides.xyz", "x")

    report = RunReport()
    docs = list(read_paths([folder, unsupported], report, MAX))

    assert sorted(d.id for d in docs) == sorted(str(p.resolve()) for p in good)
    supported = ", ".join(SUPPORTED_SUFFIXES)
    assert sorted(_failures(report)) == sorted(
        [
            (str(binary), "binary file, not text"),
            (str(bad_utf8), "not valid UTF-8 (byte 0xe9 at offset 3)"),
            (str(empty), "empty file"),
            (str(zero), "empty file"),
            (str(big), "too large: 104857600 bytes > limit 33554432 (RIVERBED_MAX_DOCUMENT_BYTES)"),
            (str(folder / "pipe.txt"), "not a regular file"),
            (str(unsupported), f"unsupported file type .xyz (supported: {supported})"),
        ]
    )
    assert report.failed == 7
    assert report.seen == 0


def test_33_megabyte_file_is_too_large_for_32_mib(tmp_path: Path) -> None:
    big = tmp_path / "big.md"
    with big.open("wb") as handle:
        handle.truncate(33 * 1024 * 1024)
    docs, report = _read_one(big, max_bytes=32 * 1024 * 1024)
    assert docs == []
    assert _failures(report) == [
        (str(big), "too large: 34603008 bytes > limit 33554432 (RIVERBED_MAX_DOCUMENT_BYTES)")
    ]


def test_invalid_utf8_offset_counts_the_bom(tmp_path: Path) -> None:
    path = _write(tmp_path / "bad.txt", b"\xef\xbb\xbfok \xff rest")
    _, report = _read_one(path)
    assert _failures(report) == [(str(path), "not valid UTF-8 (byte 0xff at offset 6)")]


def test_directory_given_to_read_file(tmp_path: Path) -> None:
    folder = tmp_path / "looks-like.txt"
    folder.mkdir()
    docs, report = _read_one(folder)
    assert docs == []
    assert _failures(report) == [(str(folder), "is a directory, not a file")]


def test_permission_denied_is_reported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    locked = _write(tmp_path / "locked.txt", "secret")
    locked_jsonl = _write(tmp_path / "locked.jsonl", '{"text": "secret"}\n')
    fine = _write(tmp_path / "fine.txt", "readable")
    real_open = Path.open

    def guarded_open(self: Path, *args, **kwargs):
        if self.name.startswith("locked"):
            raise PermissionError(13, "Permission denied", str(self))
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", guarded_open)
    report = RunReport()
    docs = list(read_paths([tmp_path], report, MAX))

    assert [d.id for d in docs] == [str(fine.resolve())]
    assert sorted(_failures(report)) == [
        (str(locked_jsonl), "permission denied"),
        (str(locked), "permission denied"),
    ]


def test_file_deleted_during_the_run_is_reported(tmp_path: Path) -> None:
    first = _write(tmp_path / "a.txt", "first")
    doomed = _write(tmp_path / "b.txt", "second")
    last = _write(tmp_path / "c.txt", "third")
    report = RunReport()

    docs = []
    for doc in read_paths([tmp_path], report, MAX):
        docs.append(doc)
        if doc.id == str(first.resolve()):
            doomed.unlink()

    assert [d.id for d in docs] == [str(first.resolve()), str(last.resolve())]
    assert _failures(report) == [(str(doomed), "file not found (deleted during the run?)")]


# JSON and JSONL


def test_jsonl_malformed_line_fails_alone(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "feed.jsonl",
        '{"id": "one", "text": "First record"}\n'
        "\n"
        '{"id": "two", "text": "broken\n'
        '{"text": "Third record", "url": "https://example.com/3"}\n',
    )
    docs, report = _read_one(path)

    resolved = str(path.resolve())
    assert [(d.id, d.text, d.source) for d in docs] == [
        ("one", "First record", resolved),
        (f"{resolved}#4", "Third record", "https://example.com/3"),
    ]
    assert len(report.failures) == 1
    assert report.failures[0].source == f"{path}:3"
    assert report.failures[0].reason.startswith("malformed JSON: ")


def test_jsonl_record_rules(tmp_path: Path) -> None:
    lines = [
        {
            "id": 42,
            "text": "Full record",
            "title": "T",
            "url": "https://example.com/a",
            "published_at": "2022-03-01",
            "metadata": {"lang": "en"},
            "author": "Matthew Chance",
            "tags": ["war"],
        },
        {"id": "no-text"},
        {"id": "blank-text", "text": "   "},
        {"id": "bad-date", "text": "x", "published_at": "yesterday-ish"},
        {"id": "bad-meta", "text": "x", "metadata": ["not", "a", "dict"]},
        ["not", "an", "object"],
        {"text": "Last one"},
    ]
    body = "\n".join(json.dumps(line) for line in lines) + "\n"
    path = _write(tmp_path / "records.jsonl", body.encode() + b'{"text": "caf\xe9"}\n')

    docs, report = _read_one(path)

    first, last = docs
    assert first.id == "42"
    assert first.source == "https://example.com/a"
    assert first.url == "https://example.com/a"
    assert first.title == "T"
    assert first.published_at == datetime(2022, 3, 1)
    assert first.metadata == {"lang": "en", "author": "Matthew Chance", "tags": ["war"]}
    assert last.id == f"{path.resolve()}#7"
    assert last.source == str(path.resolve())

    failures = dict(_failures(report))
    assert failures[f"{path}:2"] == "record has no text"
    assert failures[f"{path}:3"] == "record has no text"
    assert failures[f"{path}:4"].startswith("invalid record: published_at")
    assert failures[f"{path}:5"] == "invalid record: metadata must be an object"
    assert failures[f"{path}:6"] == "record is not a JSON object"
    assert failures[f"{path}:8"].startswith("not valid UTF-8 (byte 0xe9 at offset ")
    assert report.failed == 6


def test_jsonl_overlong_line_fails_alone(tmp_path: Path) -> None:
    long_text = "word " * 600
    path = _write(
        tmp_path / "long.jsonl",
        json.dumps({"id": "a", "text": "short"})
        + "\n"
        + json.dumps({"id": "b", "text": long_text})
        + "\n"
        + json.dumps({"id": "c", "text": "also short"})
        + "\n",
    )
    docs, report = _read_one(path, max_bytes=1024)
    assert [d.id for d in docs] == ["a", "c"]
    assert len(report.failures) == 1
    assert report.failures[0].source == f"{path}:2"
    assert report.failures[0].reason.startswith("too large: ")


class _EndlessFeed(io.RawIOBase):
    """A stream that never ends, like a live pipe: only a streaming reader gets anywhere."""

    def __init__(self) -> None:
        self.lines = 0

    def readable(self) -> bool:
        return True

    def readline(self, size: int | None = -1) -> bytes:
        self.lines += 1
        return json.dumps({"text": f"record {self.lines}"}).encode() + b"\n"


def test_jsonl_stream_is_read_lazily() -> None:
    feed = _EndlessFeed()
    docs = read_jsonl_stream(feed, RunReport())
    assert next(docs).text == "record 1"
    assert next(docs).text == "record 2"
    assert feed.lines == 2


def test_jsonl_with_only_blank_lines_is_empty(tmp_path: Path) -> None:
    path = _write(tmp_path / "blank.jsonl", "\n  \n\n")
    docs, report = _read_one(path)
    assert docs == []
    assert _failures(report) == [(str(path), "empty file")]


def test_json_object_and_list(tmp_path: Path) -> None:
    single = _write(tmp_path / "one.json", json.dumps({"text": "Alone", "extra": 1}))
    many = _write(
        tmp_path / "many.json",
        json.dumps([{"id": "x", "text": "One"}, {"text": ""}, {"text": "Three"}]),
    )
    broken = _write(tmp_path / "broken.json", '{"text": ')
    scalar = _write(tmp_path / "scalar.json", "42")

    report = RunReport()
    docs = list(read_paths([tmp_path], report, MAX))

    by_text = {d.text: d for d in docs}
    assert set(by_text) == {"Alone", "One", "Three"}
    assert by_text["Alone"].id == str(single.resolve())
    assert by_text["Alone"].metadata == {"extra": 1}
    assert by_text["One"].id == "x"
    assert by_text["Three"].id == f"{many.resolve()}#3"
    failures = dict(_failures(report))
    assert failures[f"{many}:2"] == "record has no text"
    assert failures[str(broken)].startswith("malformed JSON: ")
    assert failures[str(scalar)] == "malformed JSON: expected an object or a list of objects"
    assert report.failed == 3


# stdin


def test_read_jsonl_stream_from_bytes() -> None:
    data = (
        b'{"text": "From stdin"}\n'
        b"not json\n"
        b'{"text": "With url", "url": "https://example.com/x", "lang": "uk"}\n'
        b'{"id": "named", "text": "Named", "title": "A title"}\n'
    )
    report = RunReport()
    docs = list(read_jsonl_stream(io.BytesIO(data), report))

    assert [(d.id, d.source) for d in docs] == [
        ("<stdin>#1", "<stdin>#1"),
        ("<stdin>#3", "https://example.com/x"),
        ("named", "named"),
    ]
    assert docs[1].metadata == {"lang": "uk"}
    assert docs[2].title == "A title"
    assert len(report.failures) == 1
    assert report.failures[0].source == "<stdin>:2"
    assert report.failures[0].reason.startswith("malformed JSON: ")


def test_read_jsonl_stream_from_text_with_origin() -> None:
    report = RunReport()
    stream = io.StringIO('\ufeff{"text": "a"}\n\n{"text": "b"}')
    docs = list(read_jsonl_stream(stream, report, origin="feed"))
    assert [(d.id, d.text) for d in docs] == [("feed#1", "a"), ("feed#3", "b")]
    assert report.failed == 0


def test_sources_module_does_not_import_trafilatura_eagerly() -> None:
    assert "trafilatura" not in vars(sources)
