"""`riverbed ingest --watch DIR`: ingests DIR, then keeps the index in step with it (files that
appear, change, disappear; folders moved in and out) until SIGINT/SIGTERM, then exits cleanly.

The watcher runs in a subprocess with the fake encoder of riverbed/testing/encoder.py: these tests are
about following a folder, not about retrieval quality.
"""

from __future__ import annotations

import json
import signal
import sqlite3
from pathlib import Path

from click.testing import CliRunner

from index.store.sqlite_faiss import SqliteFaissStore
from riverbed.cli import main
from tests.ingest_helpers import start, wait_until


def _documents(data: Path) -> dict[str, tuple[str, int, str | None]]:
    """Document id (file name relative to the watched folder) → (text, chunks, duplicate of)."""
    path = data / "catalog.sqlite"
    if not path.exists():
        return {}
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as db:
        try:
            rows = db.execute("SELECT id, text, n_chunks, duplicate_of FROM documents").fetchall()
        except sqlite3.OperationalError:
            return {}
    return {Path(i).name: (text, chunks, dup and Path(dup).name) for i, text, chunks, dup in rows}


def test_watch_follows_a_folder_until_stopped(tmp_path: Path) -> None:
    folder, data, outside = tmp_path / "watched", tmp_path / "data", tmp_path / "outside"
    folder.mkdir()
    outside.mkdir()
    (folder / "rivers.txt").write_text("Rivers carry boats downstream to the harbour.")
    (folder / "copy.txt").write_text("Rivers carry boats downstream to the harbour.")
    (folder / "mountains.md").write_text("# Peaks\n\nMountains rise above the valley floor.")
    watcher = start(data, "ingest", "--watch", str(folder), "--json")
    try:
        wait_until(lambda: len(_documents(data)) == 3, watcher)
        assert _documents(data)["rivers.txt"][1:] == (0, "copy.txt")  # read second

        (folder / "deserts.txt").write_text("Camels cross the desert between oases.")
        (folder / "mountains.md").write_text("# Peaks\n\nGlaciers carve the high valleys.")
        (folder / ".hidden.txt").write_text("never indexed")
        (folder / "slides.key").write_text("never indexed")
        (outside / "moved").mkdir()
        (outside / "moved" / "forests.txt").write_text("Forests shelter owls and deer.")
        (outside / "moved").rename(folder / "moved")
        wait_until(
            lambda: (
                {"deserts.txt", "forests.txt"} <= set(_documents(data))
                and "Glaciers" in _documents(data)["mountains.md"][0]
            ),
            watcher,
        )

        (folder / "copy.txt").unlink()  # the copy it had becomes an original, with chunks
        (folder / "moved").rename(outside / "moved-back")
        wait_until(
            lambda: set(_documents(data)) == {"rivers.txt", "deserts.txt", "mountains.md"}, watcher
        )
        wait_until(lambda: _documents(data)["rivers.txt"][1:] == (1, None), watcher)
    finally:
        watcher.send_signal(signal.SIGTERM)
        out, err = watcher.communicate(timeout=120)
    assert watcher.returncode == 0, err
    assert "watching" in err
    report = json.loads(out)
    assert report["deleted"] == 2 and report["failed"] == 0
    assert set(_documents(data)) == {"rivers.txt", "deserts.txt", "mountains.md"}
    store = SqliteFaissStore(data, create=False)
    try:
        assert store.check() == []
        last = store.runs(1)[0]
        assert (last["job"], last["status"]) == ("watch", "ok")
    finally:
        store.close()


def test_watch_reports_bad_files_and_keeps_going(tmp_path: Path) -> None:
    folder, data = tmp_path / "watched", tmp_path / "data"
    folder.mkdir()
    (folder / "good.txt").write_text("A good first document about lighthouses.")
    watcher = start(data, "ingest", "--watch", str(folder))
    try:
        wait_until(lambda: len(_documents(data)) == 1, watcher)
        (folder / "broken.txt").write_bytes(b"caf\xe9 au lait")
        (folder / "later.txt").write_text("A later document about harbours.")
        wait_until(lambda: "later.txt" in _documents(data), watcher)
    finally:
        watcher.send_signal(signal.SIGINT)
        _, err = watcher.communicate(timeout=120)
    assert watcher.returncode == 3  # some documents failed
    assert f"failed: {folder / 'broken.txt'}: not valid UTF-8" in err


def test_watch_needs_folders(tmp_path: Path) -> None:
    file = tmp_path / "one.txt"
    file.write_text("text")
    result = CliRunner().invoke(
        main, ["--data-dir", str(tmp_path / "data"), "ingest", "--watch", str(file)]
    )
    assert result.exit_code == 2
    assert "--watch needs folders" in result.output
