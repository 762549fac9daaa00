"""Which PDF library reads best: pypdfium2 (PDFium), pypdf and pdfminer.six on Debian's R manuals.

The R manuals ship as PDF (r-doc-pdf, typeset by pdfTeX: hyphenation, running headers, page
numbers) and as HTML (r-doc-html) from the same Texinfo source, so the HTML's words are the truth
the PDF's text is held to:
- `word_recall`: the share of the HTML's words (a multiset) found in the text;
- `4gram_recall`: the same for runs of four words, which also needs the reading order right and
  words unbroken (a hyphen left at a line's end breaks two runs);
- `hyphen_breaks`: words still split by a hyphen at a line's end ("corre-\nsponding");
- `pages_per_s`: pages extracted per second, the libraries taking turns in this process.
`riverbed` is riverbed's own reader (pipeline/sources/pdf.py) over pypdfium2, cleaned as ingest
cleans it: hyphens rejoined, lines reflowed, running headers and page numbers dropped. The HTML
keeps Texinfo's navigation lines, which no PDF has, so no reader reaches 1.0.
"""

from __future__ import annotations

import collections
import itertools
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path

MANUALS = Path("/usr/share/R/doc/manual")
NAMES = ("R-intro", "R-data", "R-admin")


def pypdfium2_pages(path: Path) -> Iterator[str]:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    for number in range(len(pdf)):
        page = pdf[number]
        textpage = page.get_textpage()
        # PDFium marks a line-end hyphen as \x02 and joins the lines; shown as a hyphen + break
        # here so that the raw library is measured, not riverbed's repair.
        yield textpage.get_text_bounded().replace("\x02", "-\n")
        textpage.close()
        page.close()
    pdf.close()


def pypdf_pages(path: Path) -> Iterator[str]:
    import pypdf

    for page in pypdf.PdfReader(str(path)).pages:
        yield page.extract_text()


def pdfminer_pages(path: Path) -> Iterator[str]:
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LTTextContainer

    for layout in extract_pages(str(path)):
        yield "".join(item.get_text() for item in layout if isinstance(item, LTTextContainer))


def riverbed_pages(path: Path) -> Iterator[str]:
    from pipeline.clean import Cleaner
    from pipeline.report import RunReport
    from pipeline.sources.files import read_file

    report = RunReport()
    [document] = Cleaner(report)(read_file(path, report, 1 << 30))
    starts = [*(document.page_starts or [0]), len(document.text)]
    for start, end in itertools.pairwise(starts):
        yield document.text[start:end]


READERS: dict[str, Callable[[Path], Iterator[str]]] = {
    "pypdfium2": pypdfium2_pages,
    "pypdf": pypdf_pages,
    "pdfminer.six": pdfminer_pages,
    "riverbed": riverbed_pages,
}


def words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.casefold())


def recall(found: collections.Counter, truth: collections.Counter) -> float:
    return sum((found & truth).values()) / max(1, sum(truth.values()))


def grams(items: list[str], n: int = 4) -> collections.Counter:
    return collections.Counter(tuple(items[i : i + n]) for i in range(len(items) - n + 1))


def run() -> dict[str, float | str]:
    import lxml.html

    figures: dict[str, float | str] = {}
    totals: dict[str, list[float]] = {name: [0.0, 0.0] for name in READERS}  # pages, seconds
    for manual in NAMES:
        pdf = MANUALS / f"{manual}.pdf"
        truth = words(lxml.html.parse(str(MANUALS / f"{manual}.html")).getroot().text_content())
        truth_words, truth_grams = collections.Counter(truth), grams(truth)
        for reader, pages_of in READERS.items():
            started = time.perf_counter()
            pages = list(pages_of(pdf))
            seconds = time.perf_counter() - started
            totals[reader][0] += len(pages)
            totals[reader][1] += seconds
            text = "\n".join(pages)
            found = words(text)
            key = f"{manual}_{reader}"
            figures[f"{key}_word_recall"] = round(
                recall(collections.Counter(found), truth_words), 3
            )
            figures[f"{key}_4gram_recall"] = round(recall(grams(found), truth_grams), 3)
            figures[f"{key}_hyphen_breaks"] = len(re.findall(r"[a-z]-\s*\n\s*[a-z]", text))
    for reader, (pages, seconds) in totals.items():
        figures[f"pages_per_s_{reader}"] = round(pages / seconds, 1)
    fastest_peer = max(figures[f"pages_per_s_{r}"] for r in ("pypdf", "pdfminer.six"))
    figures["pypdfium2_speed_over_fastest_peer"] = round(
        float(figures["pages_per_s_pypdfium2"]) / float(fastest_peer), 1
    )
    return figures
