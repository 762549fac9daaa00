"""Reading PDF, office and mail files made by real tools (tests/data/formats/README.md says how)
and Debian's PDF manuals; each bad file is one failure and the rest is read."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from index.models import Document
from pipeline.clean import Cleaner
from pipeline.report import RunReport
from pipeline.sources import read_file, read_paths
from pipeline.sources.files import FORMATS, SUPPORTED_SUFFIXES, formats_table
from tests.conftest import ROOT

DATA = ROOT / "tests" / "data" / "formats"
MAX = 32 * 1024 * 1024
# Debian's r-doc-pdf (make test installs it): R's manuals, typeset by pdfTeX with hyphenation,
# running headers and page numbers.
R_INTRO = Path("/usr/share/R/doc/manual/R-intro.pdf")
needs_r_manuals = pytest.mark.skipif(
    not R_INTRO.exists(), reason="Debian's r-doc-pdf is not installed (make test installs it)"
)


def read(path: Path, max_bytes: int = MAX) -> tuple[list[Document], RunReport]:
    report = RunReport()
    return list(read_file(path, report, max_bytes)), report


def cleaned(documents: list[Document]) -> list[Document]:
    return list(Cleaner(RunReport())(documents))


def page_of(document: Document, phrase: str) -> int:
    """The page (from 1) on which `phrase` starts in a cleaned document."""
    at = document.text.index(phrase)
    assert document.page_starts is not None
    return sum(1 for start in document.page_starts if start <= at)


def failures(report: RunReport) -> list[tuple[str, str]]:
    return [(Path(f.source).name, f.reason) for f in report.failures]


# The table


def test_every_suffix_has_one_reader_and_the_docs_show_the_table() -> None:
    suffixes = [suffix for f in FORMATS for suffix in f.suffixes]
    assert len(suffixes) == len(set(suffixes)) == len(SUPPORTED_SUFFIXES)
    assert {".pdf", ".docx", ".pptx", ".eml", ".mbox"} <= set(SUPPORTED_SUFFIXES)
    docs = (ROOT / "docs" / "formats.md").read_text()
    assert formats_table() in docs, "docs/formats.md: paste formats_table() from files.py"


# PDF


def test_pdf_pages_title_and_date() -> None:
    documents, report = read(DATA / "report.pdf")
    assert report.failures == []
    [document] = cleaned(documents)
    assert document.title == "Harbour survey 2025"
    assert document.published_at is not None and document.published_at.year >= 2025
    assert document.metadata["pages"] == 3
    assert page_of(document, "The western breakwater lost") == 1
    assert page_of(document, "The main channel has silted up") == 2
    assert page_of(document, "The lighthouse keeper reported") == 3
    # Headings are paragraphs of their own; lines of a paragraph are one line again.
    assert "\n\nDredging\n\n" in document.text
    assert "It was written by the port authority's engineering office" in document.text


@needs_r_manuals
def test_debian_manual_hyphens_repaired_running_headers_dropped() -> None:
    documents, report = read(R_INTRO)
    assert report.failures == []
    [document] = cleaned(documents)
    pages = document.metadata["pages"]
    assert pages > 100 and len(document.page_starts or []) == pages
    text = document.text
    # pdfTeX hyphenated these across lines (pypdf reads "corre-\nsponding").
    for word in ("corresponding", "respectively", "described", "components"):
        assert word in text
    assert not re.search(r"\b(corre|respec|de|compo)- ?(sponding|tively|scribed|nents)\b", text)
    # Every page but the first few is headed "Chapter N: <title> <page>": none is left...
    assert not re.search(r"Chapter \d+: [A-Z][a-z ]+ \d+\n", text)
    # ...while the chapter headings themselves stay.
    assert text.count("Introduction and preliminaries") >= 1
    # Text of a page starts where its page does: pdftotext (poppler) agrees on a page's words.
    if shutil.which("pdftotext"):
        number = 30
        poppler = subprocess.run(
            ["pdftotext", "-f", str(number), "-l", str(number), str(R_INTRO), "-"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        ours = text[document.page_starts[number - 1] : document.page_starts[number]]
        theirs = set(re.findall(r"[a-z]{6,}", poppler.replace("-\n", "")))
        mine = set(re.findall(r"[a-z]{6,}", ours))
        assert len(theirs & mine) >= 0.9 * len(theirs)


def test_pdf_without_text_layer_encrypted_corrupt_truncated_each_fail_alone(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "pdfs"
    folder.mkdir()
    for name in ("notes.pdf", "scan.pdf", "encrypted.pdf"):
        shutil.copy(DATA / name, folder / name)
    whole = (DATA / "report.pdf").read_bytes()
    (folder / "truncated.pdf").write_bytes(whole[: len(whole) // 3])
    (folder / "corrupt.pdf").write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 40)
    report = RunReport()
    documents = list(read_paths([folder], report, MAX))
    assert [d.title for d in documents] == ["Orchard notes"]
    reasons = dict(failures(report))
    assert reasons["scan.pdf"] == "no text layer (scanned?): no OCR here"
    assert reasons["encrypted.pdf"] == "encrypted PDF: it needs a password"
    assert reasons["truncated.pdf"].startswith("not a readable PDF (corrupt or truncated)")
    assert reasons["corrupt.pdf"].startswith("not a readable PDF (corrupt or truncated)")
    assert len(report.failures) == 4


def test_pdf_text_over_the_size_limit_fails() -> None:
    documents, report = read(DATA / "report.pdf", max_bytes=1000)
    assert documents == []
    assert "too large" in report.failures[0].reason


# Office


def test_docx_headings_are_paragraphs_and_the_title() -> None:
    documents, report = read(DATA / "report.docx")
    assert report.failures == []
    [document] = cleaned(documents)
    assert document.title == "Harbour survey 2025"
    paragraphs = document.text.split("\n\n")
    for heading in ("Breakwater", "Dredging", "Lighthouse"):
        assert heading in paragraphs
    assert "West wall | severe | 2.1 million" in paragraphs
    assert document.page_starts is None


def test_pptx_slides_are_pages() -> None:
    documents, report = read(DATA / "talk.pptx")
    assert report.failures == []
    [document] = cleaned(documents)
    assert document.title == "Bees of the valley"
    assert document.metadata == {"author": "Ada Field", "pages": 3}
    assert page_of(document, "Species counted") == 2
    assert page_of(document, "The rarest was the large shaggy bee") == 2
    assert page_of(document, "Mowing the meadows once a year") == 3


def _zip_bomb(path: Path) -> Path:
    """A .docx whose document part unzips to 64 MB (from a few kilobytes)."""
    with (
        zipfile.ZipFile(DATA / "report.docx") as original,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as bomb,
    ):
        for item in original.infolist():
            bomb.writestr(item, original.read(item))
        bomb.writestr("word/padding.xml", b" " * (64 * 1024 * 1024))
    return path


def test_zip_bomb_and_corrupt_office_files_fail_alone(tmp_path: Path) -> None:
    folder = tmp_path / "office"
    folder.mkdir()
    shutil.copy(DATA / "report.docx", folder / "good.docx")
    _zip_bomb(folder / "bomb.docx")
    (folder / "notzip.pptx").write_bytes(b"PK\x03\x04 this is not really a zip archive")
    damaged = io.BytesIO()
    with zipfile.ZipFile(DATA / "talk.pptx") as original, zipfile.ZipFile(damaged, "w") as copy:
        for item in original.infolist():
            if item.filename != "ppt/presentation.xml":
                copy.writestr(item, original.read(item))
    (folder / "damaged.pptx").write_bytes(damaged.getvalue())
    report = RunReport()
    documents = list(read_paths([folder], report, MAX))
    assert [d.title for d in documents] == ["Harbour survey 2025"]
    reasons = dict(failures(report))
    assert reasons["bomb.docx"].startswith("too large unzipped (a zip bomb?)")
    assert reasons["notzip.pptx"].startswith("corrupt PowerPoint file: not a zip archive")
    assert reasons["damaged.pptx"].startswith("corrupt PowerPoint file")
    assert len(report.failures) == 3


# Mail


def test_eml_with_attachment_is_two_linked_documents() -> None:
    documents, report = read(DATA / "survey.eml")
    assert report.failures == []
    message, attachment = documents
    assert message.title == "Harbour survey for the council"
    assert message.published_at is not None and message.published_at.isoformat() == (
        "2025-04-10T08:15:00+02:00"
    )
    assert message.metadata["from"] == "Port Engineering <engineering@port.example.org>"
    assert message.metadata["to"] == "City Council <council@city.example.org>"
    assert message.metadata["attachments"] == ["report.pdf"]
    assert "breakwater repairs are the most urgent" in message.text
    assert attachment.id == f"{message.id}/report.pdf"
    assert attachment.metadata["attached_to"] == message.id
    assert attachment.title == "Harbour survey 2025"
    assert "\f" in attachment.text  # a PDF still, with its pages


def test_html_only_message_is_read_as_text() -> None:
    [message], report = read(DATA / "newsletter.eml")
    assert report.failures == []
    assert message.title == "Swarm season newsletter"
    assert "call the swarm line" in message.text and "<p>" not in message.text


def test_mbox_one_document_per_message_and_a_broken_one_fails_alone(tmp_path: Path) -> None:
    mbox = tmp_path / "list.mbox"
    patches = (DATA / "patches.mbox").read_bytes()
    broken = b"From nobody Mon Jan  1 00:00:00 2024\nSubject: cut short\nContent-Type: text/pl"
    big = b"From big Mon Jan  1 00:00:00 2024\nSubject: big\n\n" + b"word " * 400 + b"\n"
    mbox.write_bytes(patches + broken + b"\n\n" + big + b"\n" + patches)
    report = RunReport()
    documents = list(read_file(mbox, report, 1024))
    titles = [d.title for d in documents]
    assert (
        titles
        == [
            "[PATCH 1/2] Tide tables: add the spring tides for Harwick",
            "[PATCH 2/2] Tide tables: correct the neap tide heights",
        ]
        * 2
    )
    assert len({d.id for d in documents}) == 4
    assert documents[0].metadata["from"] == "Mara Quill <mara@example.org>"
    assert documents[1].published_at is not None and str(documents[1].published_at) == (
        "2025-03-05 09:30:00+01:00"
    )
    assert [(f.source.rsplit("#", 1)[1], f.reason.split(" (")[0]) for f in report.failures] == [
        ("3", "message has no readable text"),
        ("4", "too large: 2015 bytes > limit 1024"),
    ]
