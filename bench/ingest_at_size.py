"""Ingest rate at a size, against the rate at another, in turns: `python -m bench.ingest_at_size`.

b_million's ingest rates come from builds run at different times (the largest over an hour),
so their ratio carries the machine's drift. Here the same shape of new documents (synthetic,
2,000 documents, about 10,000 passages, as in bench/synthetic.py) is ingested into each cached
index of b_million in turns, TURNS times, each turn a fresh `riverbed ingest` process with the
fake encoder, and the medians' ratio is the rate at the larger size over the rate at the
smaller. The documents get ids of their own each run, so they are new to the index, and they
stay: each run adds about TURNS x 10,000 passages to every index it measures.

RIVERBED_BENCH_SIZES picks the two sizes (default "10000,1000000"); both must be built.
"""

from __future__ import annotations

import json
import os
import secrets
import statistics
import sys
import tempfile
from pathlib import Path

from bench import synthetic
from bench.b_million import timed_ingest
from bench.corpora import CACHE
from bench.figures import save

TURNS = 5
DOCUMENTS = 2000


def write_documents(path: Path, run: str, turn: int) -> None:
    """DOCUMENTS new documents of the benchmark's language, under ids no earlier run used."""
    synthetic.write_corpus(
        path, DOCUMENTS, stream=[turn, int(run, 16)], prefix=f"turn-{run}-{turn}"
    )


def passages_per_second(data_dir: Path, documents: Path) -> float:
    report, seconds = timed_ingest(data_dir, documents)
    return report["chunks"] / seconds


def main() -> int:
    sizes = [int(s) for s in os.environ.get("RIVERBED_BENCH_SIZES", "10000,1000000").split(",")]
    folders = {size: CACHE / f"million-{size}" / "data" for size in sizes}
    missing = [str(f) for f in folders.values() if not (f / "catalog.sqlite").is_file()]
    if len(sizes) != 2 or missing:
        print(f"needs two built sizes (python -m bench million); missing: {', '.join(missing)}")
        return 2
    run = secrets.token_hex(4)
    rates: dict[int, list[float]] = {size: [] for size in sizes}
    with tempfile.TemporaryDirectory() as scratch:
        for turn in range(TURNS):
            for size, folder in folders.items():
                documents = Path(scratch) / f"{size}-{turn}.jsonl"
                write_documents(documents, run, turn * len(sizes) + sizes.index(size))
                rates[size].append(round(passages_per_second(folder, documents), 1))
                print(f"  {size:>8} passages: {rates[size][-1]} passages/s", flush=True)
    small, large = sorted(sizes)
    medians = {size: statistics.median(values) for size, values in rates.items()}
    figures = {
        "passages_per_s": {str(size): values for size, values in rates.items()},
        "ratio_large_over_small": round(medians[large] / medians[small], 3),
    }
    print(json.dumps(figures))
    save("ingest_at_size", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
