"""Build the Python documentation retrieval set (BEIR layout) in bench/sets/pydocs/.

    python -m bench.sets.make_pydocs

Source: the HTML of Debian's python3.11-doc (/usr/share/doc/python3.11/html), the documentation
`make bench` indexes. Corpus: PAGES pages of library/ drawn with a fixed seed from those whose
HTML is 20-80 KB (a page's main text as riverbed's HTML reader extracts it, and its title).
Queries: the pages' section titles (h2 and h3 headings), short topical queries; the page is the
one relevant document. A title that heads a section in more than one page of library/
("Examples", "Exceptions", "Command Line Interface") is left out: it names no page.
"""

from __future__ import annotations

import html
import json
import random
import re
from collections import defaultdict
from pathlib import Path

from pipeline.sources.html import html_document

SOURCE = Path("/usr/share/doc/python3.11/html/library")
OUT = Path(__file__).resolve().parent / "pydocs"
PAGES = 80
SEED = 16
HEADING = re.compile(r"<h[23]>(.*?)</h[23]>", re.S)
TAG = re.compile(r"<[^>]+>")


def section_titles(page: str) -> list[str]:
    titles = []
    for inner in HEADING.findall(page):
        if 'class="headerlink"' not in inner:
            continue  # the sidebar's headings ("Table of Contents", "This Page")
        inner = inner.split('<a class="headerlink"')[0]
        title = " ".join(html.unescape(TAG.sub("", inner)).split())
        title = re.sub(r"^[\d.]+\s+", "", title)  # numbered headings: "3.1. Using ..."
        if len(title) > 3:
            titles.append(title)
    return titles


def main() -> None:
    pages = {path: path.read_text(encoding="utf-8") for path in sorted(SOURCE.glob("*.html"))}
    heads = defaultdict(set)
    for path, page in pages.items():
        for title in section_titles(page):
            heads[title.casefold()].add(path)
    candidates = [path for path in pages if 20_000 <= path.stat().st_size <= 80_000]
    chosen = sorted(random.Random(SEED).sample(candidates, PAGES))
    corpus, titled = [], defaultdict(set)
    for path in chosen:
        document = html_document(pages[path], path, f"library/{path.name}")
        if document is None:
            continue
        corpus.append({"_id": document.id, "title": document.title, "text": document.text})
        for title in section_titles(pages[path]):
            if len(heads[title.casefold()]) == 1:
                titled[title].add(document.id)
    queries = [(title, next(iter(ids))) for title, ids in sorted(titled.items())]
    (OUT / "qrels").mkdir(parents=True, exist_ok=True)
    with (OUT / "corpus.jsonl").open("w", encoding="utf-8") as out:
        out.writelines(json.dumps(record, ensure_ascii=False) + "\n" for record in corpus)
    with (OUT / "queries.jsonl").open("w", encoding="utf-8") as out:
        out.writelines(
            json.dumps({"_id": f"q{n}", "text": title}, ensure_ascii=False) + "\n"
            for n, (title, _) in enumerate(queries, start=1)
        )
    with (OUT / "qrels" / "test.tsv").open("w", encoding="utf-8") as out:
        out.write("query-id\tcorpus-id\tscore\n")
        out.writelines(f"q{n}\t{page}\t1\n" for n, (_, page) in enumerate(queries, start=1))
    print(f"{len(corpus)} pages, {len(queries)} queries in {OUT}")


if __name__ == "__main__":
    main()
