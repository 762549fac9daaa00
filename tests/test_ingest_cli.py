"""`riverbed ingest` as an operator sees it: bad input is reported and never stops a run, the
progress bar shows on a terminal only, `--prune` removes what is gone, `riverbed check` says
whether the index is consistent.

The model is replaced by the fake encoder of riverbed/testing/encoder.py: these tests are about what
the command reports and keeps, not retrieval quality.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from riverbed.cli import main
from riverbed.testing import install
from tests.conftest import ROOT
from tests.ingest_helpers import (
    corpus_text,
    document_count,
    riverbed,
    subprocess_env,
    write_corpus,
)
from tests.terminal import on_a_terminal, without_escapes


@pytest.fixture(autouse=True)
def fake_model(monkeypatch: pytest.MonkeyPatch) -> None:
    install(monkeypatch)


def _ingest(data: Path, *args: str, stdin: bytes | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(main, ["--data-dir", str(data), "ingest", *args], input=stdin)


def _ids(data: Path) -> set[str]:
    with sqlite3.connect(data / "catalog.sqlite") as db:
        return {row[0] for row in db.execute("SELECT id FROM documents")}


def test_bad_files_are_reported_and_the_rest_lands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, data = tmp_path / "in", tmp_path / "data"
    folder.mkdir()
    (folder / "a-first.txt").write_text("The first good document, about lighthouses.")
    (folder / "b-second.md").write_text("# Second\n\nA good document about harbours.")
    (folder / "feed.jsonl").write_text(
        '{"id": "rec-1", "text": "A good record about tides."}\n'
        '{"id": "rec-2", "text": "broken\n'
        '{"id": "rec-3", "title": "no text here"}\n'
        '{"id": "rec-4", "text": "Another good record, about ferries."}\n'
    )
    (folder / "latin1.txt").write_bytes("café crème".encode("latin-1"))
    (folder / "binary.txt").write_bytes(b"PK\x03\x04\x00\x00\x01rest")
    (folder / "empty.txt").write_bytes(b"")
    with (folder / "huge.txt").open("wb") as handle:
        handle.truncate(100 * 1024 * 1024)  # sparse: 100 MB on paper, nothing on disk
    (folder / "doomed.txt").write_text("deleted before it is read")
    (folder / "locked.txt").write_text("unreadable")
    real_open = Path.open

    def guarded_open(self: Path, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.name == "locked.txt":
            raise PermissionError(13, "Permission denied", str(self))
        if self.name == "a-first.txt":
            (folder / "doomed.txt").unlink(missing_ok=True)  # listed, then gone mid-run
        return real_open(self, *args, **kwargs)

    monkeypatch.setattr(Path, "open", guarded_open)
    result = _ingest(data, str(folder), "--json")

    assert result.exit_code == 3
    report = json.loads(result.stdout)
    reasons = {f["source"]: f["reason"] for f in report["failures"]}
    assert reasons == {
        f"{folder}/feed.jsonl:2": reasons[f"{folder}/feed.jsonl:2"],
        f"{folder}/feed.jsonl:3": "record has no text",
        f"{folder}/latin1.txt": "not valid UTF-8 (byte 0xe9 at offset 3)",
        f"{folder}/binary.txt": "binary file, not text",
        f"{folder}/empty.txt": "empty file",
        f"{folder}/huge.txt": "too large: 104857600 bytes > limit 33554432"
        " (RIVERBED_MAX_DOCUMENT_BYTES)",
        f"{folder}/doomed.txt": "file not found (deleted during the run?)",
        f"{folder}/locked.txt": "permission denied",
    }
    assert reasons[f"{folder}/feed.jsonl:2"].startswith("malformed JSON: ")
    assert report["failed"] == 8 and report["added"] == 4
    assert _ids(data) == {
        str(folder / "a-first.txt"),
        str(folder / "b-second.md"),
        "rec-1",
        "rec-4",
    }


def test_bad_lines_on_stdin_are_reported_and_the_rest_lands(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RIVERBED_MAX_DOCUMENT_BYTES", "2048")
    lines = [
        b'{"id": "one", "text": "A good line about canals."}',
        b"{not json",
        b'{"id": "no-text"}',
        b'{"id": "latin", "text": "caf\xe9"}',
        json.dumps({"id": "long", "text": "word " * 1000}).encode(),
        b'{"id": "two", "text": "Another good line about locks and weirs."}',
    ]
    result = _ingest(tmp_path / "data", "-", "--json", stdin=b"\n".join(lines) + b"\n")
    assert result.exit_code == 3
    report = json.loads(result.stdout)
    reasons = {f["source"]: f["reason"] for f in report["failures"]}
    assert set(reasons) == {"<stdin>:2", "<stdin>:3", "<stdin>:4", "<stdin>:5"}
    assert reasons["<stdin>:3"] == "record has no text"
    assert reasons["<stdin>:4"].startswith("not valid UTF-8")
    assert reasons["<stdin>:5"].startswith("too large: ")
    assert _ids(tmp_path / "data") == {"one", "two"}


def test_prune_removes_documents_whose_file_is_gone(tmp_path: Path) -> None:
    folder, data = tmp_path / "in", tmp_path / "data"
    (folder / "sub").mkdir(parents=True)
    (folder / "kept.txt").write_text("Kept: a document about bridges.")
    (folder / "sub" / "gone.txt").write_text("Gone: a document about tunnels.")
    (folder / "renamed.txt").write_text("Renamed: a document about canals.")
    (tmp_path / "elsewhere.txt").write_text("Elsewhere: a document about roads.")
    assert _ingest(data, str(folder), str(tmp_path / "elsewhere.txt")).exit_code == 0

    (folder / "sub" / "gone.txt").unlink()
    (folder / "renamed.txt").rename(folder / "new-name.txt")
    (tmp_path / "elsewhere.txt").unlink()  # not under the pruned folder: kept
    result = _ingest(data, str(folder), "--prune", "--json")

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["deleted"], report["added"], report["unchanged"]) == (2, 1, 1)
    assert report["duplicates"] == 0  # the renamed file is an original, not a copy of itself
    assert _ids(data) == {
        str(folder / "kept.txt"),
        str(folder / "new-name.txt"),
        str(tmp_path / "elsewhere.txt"),
    }
    assert CliRunner().invoke(main, ["--data-dir", str(data), "check"]).exit_code == 0


def test_check_command_exit_status(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert _ingest(data, str(write_corpus(tmp_path / "c.jsonl", 5))).exit_code == 0
    fine = CliRunner().invoke(main, ["--data-dir", str(data), "check"])
    assert fine.exit_code == 0 and fine.output.startswith("ok")
    with sqlite3.connect(data / "catalog.sqlite") as db:
        db.execute("INSERT INTO passages_fts(rowid, text) VALUES (424242, 'stray')")
    broken = CliRunner().invoke(main, ["--data-dir", str(data), "check"])
    assert broken.exit_code == 1
    assert "problem: 1 FTS row(s) have no passage" in broken.output


def _ingest_with_stderr_on(terminal: bool, data: Path, corpus: Path) -> tuple[str, str]:
    """Run `riverbed ingest` in a subprocess with stderr on a pseudo-terminal or a pipe."""
    command = riverbed(data, "ingest", str(corpus))
    env = subprocess_env(RIVERBED_BATCH_DOCUMENTS="2", FAKE_ENCODER_DELAY="0.05")
    if not terminal:
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        return done.stdout, done.stderr
    out, shown = on_a_terminal(command, cwd=ROOT, env=env)
    return out, without_escapes(shown)


def test_progress_shows_on_a_terminal_and_not_when_piped(tmp_path: Path) -> None:
    corpus = write_corpus(tmp_path / "c.jsonl", 16)
    out, err = _ingest_with_stderr_on(True, tmp_path / "tty", corpus)
    assert " seen · " in err and " added · " in err
    assert "seen" in out and " seen · " not in out  # stdout keeps only the report
    out, err = _ingest_with_stderr_on(False, tmp_path / "pipe", corpus)
    assert err == ""
    assert " seen · " not in out and "added" in out
    assert document_count(tmp_path / "pipe") == 16


def test_progress_of_files_has_their_total_and_an_eta(tmp_path: Path) -> None:
    folder = tmp_path / "notes"
    folder.mkdir()
    for number in range(12):
        (folder / f"note-{number:02}.txt").write_text(corpus_text(number))
    (folder / "skipped.bin").write_bytes(b"not a supported file")
    out, err = _ingest_with_stderr_on(True, tmp_path / "data", folder)
    assert "/12 files · ETA" in err  # the total is known: a bar of files, with the time left
    assert " added · " in err and "added" in out


def test_json_report_has_every_count(tmp_path: Path) -> None:
    result = _ingest(tmp_path / "data", str(write_corpus(tmp_path / "c.jsonl", 3)), "--json")
    report = json.loads(result.stdout)
    for key in (
        "seen",
        "added",
        "updated",
        "unchanged",
        "duplicates",
        "near_duplicates",
        "deleted",
        "failed",
        "chunks",
        "tokens_embedded",
        "seconds",
        "failures",
    ):
        assert key in report
    assert (report["seen"], report["added"]) == (3, 3)
