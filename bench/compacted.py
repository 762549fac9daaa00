"""The scale indexes' disk in today's formats: `python -m bench.compacted`.

b_million's cached indexes (bench/.cache/million-<size>) were written by whichever version built
them, and rebuilding the largest takes hours. Here each is copied to a scratch folder of the cache,
measured (b_million's `disk`), compacted with `riverbed compact` (a fresh process, the fake
encoder's CLI: compacting runs no model), and measured again: bytes per passage on disk, as the
index would hold them had it been written by this version. The copy is removed after.

RIVERBED_BENCH_SIZES picks the sizes (default "100000"); each must be built. With `--in-place`
the cached index itself is compacted (no copy: the million-passage one takes 13 GB), so later
runs of b_million measure it in today's formats.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

from bench.b_million import disk, timed_riverbed
from bench.corpora import CACHE
from bench.figures import save
from index.store.sqlite_faiss import SqliteFaissStore
from index.store.vector_segments import newest_manifest


def measured(data_dir: Path) -> dict[str, float]:
    """b_million's `disk`, without the files of the vector manifest before the newest (kept
    for a reader that may be opening it, removed by the next save)."""
    store = SqliteFaissStore(data_dir, create=False)
    try:
        figures = disk(store)
        dim = store.dim()
    finally:
        store.close()
    manifest = newest_manifest(data_dir, dim) if dim else None
    if manifest is not None:
        named = manifest.files() | {f"vectors-{manifest.generation:012d}.json"}
        kept = sum(p.stat().st_size for p in data_dir.glob("vectors-*") if p.name not in named)
        per = kept / figures["passages"]
        for key in ("bytes_per_passage", "bytes_per_passage_beyond_text"):
            figures[key] = round(figures[key] - per, 1)
        figures["vector_file_bytes_per_passage"] -= round(per, 1)
        figures["previous_vector_file_bytes_per_passage"] = round(per, 1)
    return figures


def compacted(size: int, in_place: bool = False) -> dict[str, object]:
    built = CACHE / f"million-{size}" / "data"
    scratch = built if in_place else CACHE / f"compacted-{size}"
    if not in_place:
        shutil.rmtree(scratch, ignore_errors=True)
        shutil.copytree(built, scratch, ignore=shutil.ignore_patterns("*.lock"))
    try:
        before = measured(scratch)
        done, seconds = timed_riverbed(scratch, "compact")
        return {
            "size": size,
            "in_place": in_place,
            "before": before,
            "compact": done,
            "compact_s": round(seconds, 1),
            "after": measured(scratch),
        }
    finally:
        if not in_place:
            shutil.rmtree(scratch, ignore_errors=True)


def main() -> int:
    sizes = [int(s) for s in os.environ.get("RIVERBED_BENCH_SIZES", "100000").split(",")]
    missing = [
        s for s in sizes if not (CACHE / f"million-{s}" / "data" / "catalog.sqlite").is_file()
    ]
    if missing:
        print(f"not built (python -m bench million): {', '.join(map(str, missing))}")
        return 2
    in_place = "--in-place" in sys.argv[1:]
    figures = {str(size): compacted(size, in_place) for size in sizes}
    print(json.dumps(figures, indent=1))
    save("compacted", figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
