"""Build the corpora of the two claim sets (BEIR layout) in bench/sets/claims-*/.

    python -m bench.sets.make_claims

A claim is a statement that one document supports, not a question: it shares more of the
document's words than a paraphrase does, and it is judged per document, whichever of the
document's passages holds the evidence. The claims (queries.jsonl) and their supporting documents
(qrels/dev.tsv, qrels/test.tsv; claims alternate between the two) were written by hand, each
from one document read for the purpose, in words of their own where the document allowed; this
script only lays out the corpora they are judged against:

- claims-squad: every paragraph of the five SQuAD 2.0 dev articles of tests/data is a document
  (id ARTICLE#N, N counting the article's paragraphs from 0; the article's title as its title),
  so the other paragraphs of the same article are close distractors, as in a corpus of
  abstracts on one subject;
- claims-pydocs: the 80 Python documentation pages of bench/sets/pydocs, whole (several
  passages each; the page's title as its title).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

SETS = Path(__file__).resolve().parent
SQUAD = SETS.parents[1] / "tests" / "data" / "squad2-dev-5articles.docs.jsonl"


def squad_paragraphs() -> list[dict[str, str]]:
    corpus = []
    for line in SQUAD.read_text(encoding="utf-8").splitlines():
        article = json.loads(line)
        paragraphs = [p.strip() for p in article["text"].split("\n\n") if p.strip()]
        corpus += [
            {"_id": f"{article['id']}#{n}", "title": article["title"], "text": paragraph}
            for n, paragraph in enumerate(paragraphs)
        ]
    return corpus


def main() -> None:
    with (SETS / "claims-squad" / "corpus.jsonl").open("w", encoding="utf-8") as out:
        out.writelines(json.dumps(doc, ensure_ascii=False) + "\n" for doc in squad_paragraphs())
    shutil.copyfile(SETS / "pydocs" / "corpus.jsonl", SETS / "claims-pydocs" / "corpus.jsonl")
    for name in ("claims-squad", "claims-pydocs"):
        ids = {json.loads(line)["_id"] for line in (SETS / name / "corpus.jsonl").open()}
        for split in ("dev", "test"):
            rows = (SETS / name / "qrels" / f"{split}.tsv").read_text().splitlines()[1:]
            missing = [row for row in rows if row.split("\t")[1] not in ids]
            if missing:
                raise SystemExit(f"{name}/{split}: no such document: {missing[0]}")
        print(f"{name}: {len(ids)} documents")


if __name__ == "__main__":
    main()
