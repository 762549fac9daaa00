"""Which Word library: python-docx against docx2python, on a file LibreOffice wrote.

tests/data/formats/report.docx (LibreOffice Writer's export of report.html) is read 200 times by
each: python-docx as riverbed reads it (pipeline/sources/office.py: headings from paragraph
styles, tables a row a line), docx2python with its HTML headings (<h1>…). Figures: files per
second, headings found (of the 4 the file has), whether a table row stays one line.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from pipeline.report import RunReport
from pipeline.sources.files import read_file

REPORT = Path(__file__).resolve().parent.parent / "tests" / "data" / "formats" / "report.docx"
ROUNDS = 200
HEADINGS = ("Harbour survey 2025", "Breakwater", "Dredging", "Lighthouse")


def riverbed_text() -> tuple[str, int]:
    [document] = read_file(REPORT, RunReport(), 1 << 30)
    paragraphs = document.text.split("\n\n")
    return document.text, sum(1 for heading in HEADINGS if heading in paragraphs)


def docx2python_text() -> tuple[str, int]:
    from docx2python import docx2python

    with docx2python(REPORT, html=True) as read:
        text = read.text
    found = re.findall(r"<h\d>\s*(.*?)</h\d>", text, flags=re.S)
    return text, sum(1 for heading in HEADINGS if heading in [f.strip() for f in found])


def run() -> dict[str, float | str]:
    figures: dict[str, float | str] = {}
    for name, read in (("python-docx", riverbed_text), ("docx2python", docx2python_text)):
        started = time.perf_counter()
        for _ in range(ROUNDS):
            text, headings = read()
        figures[f"{name}_files_per_s"] = round(ROUNDS / (time.perf_counter() - started), 1)
        figures[f"{name}_headings_found_of_4"] = headings
        figures[f"{name}_table_row_one_line"] = str(
            "West wall | severe" in text
            or (
                re.search(r"West wall\W{1,5}severe\W{1,5}2\.1 million", text) is not None
                and "West wall\n" not in text
            )
        )
    return figures
