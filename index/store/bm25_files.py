"""BM25's postings saved beside the catalog, so a process opens them instead of reading FTS5.

Reading every posting out of FTS5 takes a minute or more at a million passages; the arrays it
gives (bm25_postings.py) are written once built, by the process that built them, to
`bm25-<generation>/` (a folder of NumPy arrays and a small JSON file, written under a temporary
name and renamed whole, so a crash leaves it complete or absent). The next process maps them
(their pages are read as a search touches them, and shared with the OS page cache) and catches
up from the catalog's change log like any state. Like the vector files they are derived: a
missing, unreadable or too old folder is ignored, and the postings are read from FTS5 again.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

_FOLDER = re.compile(r"^bm25-(\d{12})$")
_ARRAYS = ("offsets", "docs", "freqs", "lengths", "alive")


def save(
    directory: Path,
    generation: int,
    arrays: dict[str, np.ndarray],
    terms: list[str],
    sizes: dict[str, Any],
) -> None:
    """Write `bm25-<generation>/` (best effort: a read-only data dir keeps none), then drop
    older folders."""
    target = directory / f"bm25-{generation:012d}"
    if target.exists():
        return
    try:
        temporary = Path(tempfile.mkdtemp(dir=directory, prefix=".bm25-", suffix=".tmp"))
    except OSError:
        return
    try:
        for name in _ARRAYS:
            np.save(temporary / f"{name}.npy", arrays[name])
        np.save(temporary / "terms.npy", np.frombuffer("\0".join(terms).encode(), dtype=np.uint8))
        (temporary / "sizes.json").write_text(json.dumps({"generation": generation, **sizes}))
        os.replace(temporary, target)
    except OSError:
        return
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
    for path in directory.iterdir():
        match = _FOLDER.match(path.name)
        if match and int(match.group(1)) < generation:
            shutil.rmtree(path, ignore_errors=True)


def load(
    directory: Path, at_most: int
) -> tuple[dict[str, np.ndarray], list[str], dict[str, Any]] | None:
    """The newest saved postings no newer than generation `at_most`: (arrays, terms in row
    order, sizes), or None."""
    found = sorted(
        (int(match.group(1)), path)
        for path in directory.iterdir()
        if (match := _FOLDER.match(path.name)) and int(match.group(1)) <= at_most
    )
    for _, path in reversed(found):
        try:
            arrays = {name: np.load(path / f"{name}.npy", mmap_mode="r") for name in _ARRAYS}
            joined = np.load(path / "terms.npy").tobytes().decode()
            terms = joined.split("\0") if joined else []
            sizes = json.loads((path / "sizes.json").read_text())
        except (OSError, ValueError, UnicodeDecodeError):
            continue
        if len(arrays["offsets"]) == len(terms) + 1 and int(arrays["offsets"][-1]) == len(
            arrays["docs"]
        ) == len(arrays["freqs"]):
            return arrays, terms, sizes
    return None
