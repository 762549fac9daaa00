"""The vector files are trusted only as far as they are checked: each file's checksum is in its
manifest; `riverbed check` reads them afresh and compares every vector with the catalog's own;
a search never answers from a file that fails, it rebuilds from the catalog; each file is on the
disk (fsync) before its name, and its name before the save returns.

The model is the fake encoder (riverbed/testing/encoder.py): this is about the files.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from index.api import Index
from index.store import vector_segments
from pipeline import ingest
from riverbed.cli import main
from riverbed.settings import Settings
from riverbed.testing import install
from tests.conftest import SEEDS


@pytest.fixture(autouse=True)
def fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    data_dir = tmp_path / "data"
    report = ingest([SEEDS], settings=Settings(data_dir=data_dir))
    assert report.added == 2
    return data_dir


def check(data_dir: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--data-dir", str(data_dir), "check"])
    return result.exit_code, result.output


def segment(data_dir: Path) -> Path:
    (path,) = data_dir.glob("vectors-seg-*.npy")
    return path


def dense_answers(data_dir: Path) -> list[list[str]]:
    questions = ["what did Zelensky ask of NATO", "the bunker in Kyiv", "a no-fly zone"]
    with Index.open(data_dir) as index:
        return [
            [p.doc_id + str(p.start) for p in index.search(q, k=5, mode="dense", min_relevance=0)]
            for q in questions
        ]


def scramble(path: Path, field: str) -> None:
    """Reverse the order of one field of a segment's records, keeping the file's header."""
    records = np.load(path, mmap_mode="r+")
    records[field] = records[field][::-1].copy()
    records.flush()
    del records


@pytest.mark.parametrize("field", ["vector", "id"])
def test_damaged_vectors_fail_check_and_searches_rebuild_from_the_catalog(
    data_dir: Path, field: str
) -> None:
    before = dense_answers(data_dir)
    scramble(segment(data_dir), field)
    code, output = check(data_dir)
    assert code == 1
    [line] = output.strip().splitlines()
    assert line.startswith(f"problem: vector file(s) {segment(data_dir).name} in {data_dir}")
    assert "are damaged: searches rebuild the vectors from the catalog" in line
    assert dense_answers(data_dir) == before
    # The next ingest, even of nothing new, writes them anew.
    ingest([SEEDS], settings=Settings(data_dir=data_dir))
    assert check(data_dir) == (0, "ok: catalog, full-text index and vectors agree\n")


def test_check_compares_each_vector_with_the_catalogs(data_dir: Path) -> None:
    """Files written wrongly from the start (their checksums fit) are still caught."""
    path = segment(data_dir)
    scramble(path, "vector")
    (manifest_path,) = data_dir.glob("vectors-*.json")
    manifest = json.loads(manifest_path.read_text())
    manifest["checksums"][path.name] = vector_segments.file_checksum(path)
    manifest_path.write_text(json.dumps(manifest))
    code, output = check(data_dir)
    assert code == 1
    assert "vector(s) in the vector files differ from the catalog's" in output


def test_files_saved_before_checksums_are_not_trusted(data_dir: Path) -> None:
    (manifest_path,) = data_dir.glob("vectors-*.json")
    manifest = json.loads(manifest_path.read_text())
    del manifest["checksums"]
    manifest_path.write_text(json.dumps(manifest))
    scramble(segment(data_dir), "vector")
    before_damage = dense_answers(data_dir)
    assert check(data_dir)[0] == 1
    ingest([SEEDS], settings=Settings(data_dir=data_dir))
    assert check(data_dir)[0] == 0
    assert dense_answers(data_dir) == before_damage


def test_each_file_reaches_the_disk_before_its_name_and_its_name_before_the_save_returns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events: list[tuple[str, Any]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(descriptor: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{descriptor}")))
        real_fsync(descriptor)

    def replace(source: Any, target: Any) -> None:
        events.append(("replace", (str(source), str(target))))
        real_replace(source, target)

    monkeypatch.setattr(vector_segments.os, "fsync", fsync)
    monkeypatch.setattr(vector_segments.os, "replace", replace)
    data_dir = tmp_path / "data"
    ingest([SEEDS], settings=Settings(data_dir=data_dir))
    renames = [i for i, (kind, _) in enumerate(events) if kind == "replace"]
    assert len(renames) >= 2  # a segment, then its manifest
    for at in renames:
        source, target = events[at][1]
        assert events[at - 1] == ("fsync", source), events
        assert events[at + 1] == ("fsync", str(Path(target).parent)), events
    assert events[renames[-1]][1][1].endswith(".json")  # the manifest is named last
