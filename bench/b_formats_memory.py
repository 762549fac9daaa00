"""Peak memory of ingesting a long PDF and a large mailbox, over their size: it should stay flat.

PDFs of 100 and 500 pages (and 2000 with BENCH_FORMATS_LARGE=1) are cut from R's reference
manual as Debian ships it (r-doc-pdf's refman.pdf, 2400+ pages, typeset by pdfTeX); mailboxes of
10 MB and 100 MB (1 GB with BENCH_FORMATS_LARGE=1) are written message by message, each a unique
~3 KB shuffle of the seeds' words under its own subject, sender and date. Each is ingested by
`riverbed ingest FILE` in a subprocess with the default settings, whose peak RSS is the kernel's
(wait4's ru_maxrss). The fake encoder stands in for the model, as in b_ingest_memory.py: the
model's own memory does not depend on the input.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from email.utils import formatdate
from pathlib import Path

import numpy as np

from bench.b_ingest_memory import ingest_process, seed_vocabulary, shuffled_prose

REFMAN = Path("/usr/share/R/doc/manual/refman.pdf")
MB = 1_000_000


def page_counts() -> list[int]:
    return [100, 500, 2000] if os.environ.get("BENCH_FORMATS_LARGE") else [100, 500]


def mailbox_sizes() -> dict[str, int]:
    chosen = {"10mb": 10 * MB, "100mb": 100 * MB}
    if os.environ.get("BENCH_FORMATS_LARGE"):
        chosen["1gb"] = 1000 * MB
    return chosen


def cut_pdf(path: Path, pages: int) -> None:
    """The first `pages` pages of R's reference manual, as a PDF of their own."""
    import pypdfium2 as pdfium

    source = pdfium.PdfDocument(str(REFMAN))
    made = pdfium.PdfDocument.new()
    made.import_pages(source, list(range(pages)))
    made.save(str(path))
    made.close()
    source.close()


def write_mailbox(path: Path, size: int) -> int:
    """At least `size` bytes of mbox; return how many messages."""
    vocabulary = seed_vocabulary()
    rng = np.random.default_rng(11)
    written = count = 0
    with path.open("w") as handle:
        while written < size:
            # A line that starts with "From " is escaped, as mailbox writers do (mboxo).
            body = re.sub(r"(?m)^From ", ">From ", shuffled_prose(vocabulary, rng))
            message = (
                f"From sender{count}@example.org Mon Jan  1 00:00:00 2024\n"
                f"From: Sender {count} <sender{count}@example.org>\n"
                "To: list@example.org\n"
                f"Subject: Message {count} about {body.split(' ', 3)[2]}\n"
                f"Date: {formatdate(1_700_000_000 + count * 60)}\n"
                f"Message-ID: <{count}@bench.example.org>\n\n{body}\n\n"
            )
            handle.write(message)
            written += len(message)
            count += 1
    return count


def measure(figures: dict[str, float | str], name: str, source: Path, folder: Path) -> dict:
    data_dir = folder / f"data-{name}"
    peak, seconds, cpu, report = ingest_process([str(source)], data_dir)
    figures[f"peak_rss_mb_{name}"] = round(peak / 2**20, 1)
    figures[f"seconds_{name}"] = round(seconds, 1)
    figures[f"cpu_seconds_{name}"] = round(cpu, 1)
    figures[f"passages_{name}"] = report["chunks"]
    shutil.rmtree(data_dir)
    return report


def run() -> dict[str, float | str]:
    figures: dict[str, float | str] = {
        "encoder": "fake (riverbed/testing/encoder.py), 384 dimensions"
    }
    with tempfile.TemporaryDirectory(prefix="riverbed-bench-") as name:
        folder = Path(name)
        counts = page_counts()
        for pages in counts:
            source = folder / f"refman-{pages}.pdf"
            cut_pdf(source, pages)
            report = measure(figures, f"pdf_{pages}_pages", source, folder)
            assert report["added"] == 1 and report["failed"] == 0, report
            source.unlink()
        sizes = mailbox_sizes()
        for label, size in sizes.items():
            source = folder / f"{label}.mbox"
            messages = write_mailbox(source, size)
            report = measure(figures, f"mbox_{label}", source, folder)
            assert report["added"] == messages and report["failed"] == 0, report
            figures[f"messages_mbox_{label}"] = messages
            source.unlink()
    first, last = f"pdf_{counts[0]}_pages", f"pdf_{counts[-1]}_pages"
    figures[f"peak_rss_ratio_{last}_over_{first}"] = round(
        float(figures[f"peak_rss_mb_{last}"]) / float(figures[f"peak_rss_mb_{first}"]), 2
    )
    small, large = next(iter(sizes)), list(sizes)[-1]
    figures[f"peak_rss_ratio_mbox_{large}_over_{small}"] = round(
        float(figures[f"peak_rss_mb_mbox_{large}"]) / float(figures[f"peak_rss_mb_mbox_{small}"]),
        2,
    )
    return figures
