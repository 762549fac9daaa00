"""Scheduled ingestion: job config, the scheduler process, its run history, signals and exit codes."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from index import Index
from pipeline.schedule import ConfigError, load_jobs, parse_duration
from riverbed.cli import main
from tests.conftest import CNN, ROOT

RIVERBED = Path(sys.executable).with_name("riverbed")
PATIENCE = 300.0  # seconds a subprocess may take to get somewhere on a busy machine

OTTERS = (
    "The river otter survey on the Bitterroot counted forty-one otters this spring, up from"
    " twenty-six last year. Volunteers walked the banks at dawn and logged every sighting."
)
VOCABULARY = sorted(set(re.findall(r"[a-z]+", OTTERS.lower())))


def note(number: int) -> str:
    """A short field note of its own: random word order, so no two notes are near-duplicates."""
    rng = random.Random(number)
    return f"Field note {number}. " + " ".join(rng.choice(VOCABULARY) for _ in range(60)) + "."


def drop(folder: Path, name: str, text: str) -> None:
    """Write a file the way a sync tool does (hidden temporary name, then rename), so a run
    never reads it half-written."""
    temporary = folder / f".{name}.part"
    temporary.write_text(text)
    temporary.rename(folder / name)


# -- durations and job definitions --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("15m", 900), ("2h", 7200), ("1d", 86400)]
)
def test_a_duration_is_a_whole_number_and_a_unit(text: str, seconds: int) -> None:
    assert parse_duration(text) == timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["15", "15x", "1.5h", "0m", " 15m", "15 m", "-1s", "m", "1h30m"])
def test_anything_else_is_not_a_duration(text: str) -> None:
    with pytest.raises(ConfigError, match="bad duration"):
        parse_duration(text)


def test_jobs_load_from_riverbed_toml_with_paths_relative_to_it(tmp_path: Path) -> None:
    config = tmp_path / "etc" / "riverbed.toml"
    config.parent.mkdir()
    config.write_text(
        '[jobs.docs]\npaths = ["../docs", "/srv/notes"]\nevery = "15m"\n'
        'include = ["*.md"]\nexclude = ["drafts/*"]\nprune = true\n\n'
        '[jobs.feeds]\npaths = ["feeds.jsonl"]\ncron = "*/5 * * * *"\n'
    )
    docs, feeds = load_jobs(config)
    assert docs.name == "docs" and feeds.name == "feeds"
    assert docs.paths == [config.parent / "../docs", Path("/srv/notes")]
    assert docs.every == timedelta(minutes=15) and docs.cron is None
    assert docs.include == ["*.md"] and docs.exclude == ["drafts/*"] and docs.prune
    assert feeds.paths == [config.parent / "feeds.jsonl"] and feeds.cron == "*/5 * * * *"
    assert not feeds.prune and feeds.every is None


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ('[jobs.a]\npaths = ["x"]\nevery = "5m"\ncron = "* * * * *"\n', "not both"),
        ('[jobs.a]\npaths = ["x"]\ncron = "every minute"\n', "bad cron expression"),
        ('[jobs.a]\npaths = ["x"]\nevery = "5 minutes"\n', "bad duration"),
        ('[jobs.a]\npaths = ["x"]\nevry = "5m"\n', "evry"),
        ('[jobs.a]\npaths = []\nevery = "5m"\n', "paths"),
        ('[job.a]\npaths = ["x"]\n', "unknown table or key 'job'"),
        ('[jobs.a]\npaths = ["x"\n', "cannot read"),
    ],
)
def test_a_bad_job_definition_is_one_clear_error(tmp_path: Path, text: str, problem: str) -> None:
    config = tmp_path / "riverbed.toml"
    config.write_text(text)
    with pytest.raises(ConfigError, match=problem) as caught:
        load_jobs(config)
    assert str(config) in str(caught.value) and "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--every", "15x", "docs"], "bad duration '15x'"),
        (["--cron", "*/5 * *", "docs"], "bad cron expression"),
        (["--every", "5m", "--cron", "* * * * *", "docs"], "not both"),
        (["docs"], "has no schedule"),
        (["--every", "5m"], "go with PATHs"),
        ([], "nothing to schedule"),
        (["--config", "missing.toml"], "no such config file: missing.toml"),
        (["--config", "cli.toml", "--every", "5m", "docs"], "has a job named 'cli'"),
    ],
)
def test_schedule_usage_mistakes_are_one_line_and_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], problem: str
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cli.toml").write_text('[jobs.cli]\npaths = ["notes"]\nevery = "1h"\n')
    result = CliRunner().invoke(main, ["--data-dir", "data", "schedule", *args])
    assert result.exit_code == 2, result.output
    assert problem in result.output and len(result.output.strip().splitlines()) == 1
    assert not (tmp_path / "data").exists()


# -- runs, in process, with the fake model --------------------------------------------------------


@pytest.fixture
def fake_model(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The fake encoder of riverbed/testing/encoder.py in place of the model (these tests are about run
    outcomes and exit codes, not retrieval), and the signal handlers the CLI installs undone."""
    from riverbed.testing import install

    install(monkeypatch)
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    yield
    for signum, handler in handlers.items():
        signal.signal(signum, handler)


def runs_json(data_dir: Path) -> list[dict[str, Any]]:
    result = CliRunner().invoke(main, ["--data-dir", str(data_dir), "runs", "--json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_once_runs_every_job_and_its_exit_status_says_how_they_went(
    tmp_path: Path, fake_model: None
) -> None:
    good, mixed, bad = tmp_path / "good", tmp_path / "mixed", tmp_path / "bad"
    for folder in (good, mixed, bad):
        folder.mkdir()
    (good / "otters.txt").write_text(OTTERS)
    (mixed / "notes.md").write_text(note(1))
    (mixed / "broken.json").write_text("{not json")
    (bad / "broken.json").write_text("[1, 2")
    config = tmp_path / "riverbed.toml"
    jobs = {name: f'[jobs.{name}]\npaths = ["{name}"]\n' for name in ("good", "mixed", "bad")}
    jobs["missing"] = '[jobs.missing]\npaths = ["missing"]\n'

    def once(*names: str) -> int:
        config.write_text("\n".join(jobs[name] for name in names))
        args = ["--data-dir", str(tmp_path / "data"), "schedule", "--config", str(config), "--once"]
        return CliRunner().invoke(main, args).exit_code

    assert once("good") == 0
    assert once("good", "mixed") == 3
    assert once("good", "mixed", "missing", "bad") == 1

    history = runs_json(tmp_path / "data")
    assert [run["job"] for run in history] == [
        "bad", "missing", "mixed", "good", "mixed", "good", "good"
    ]  # fmt: skip
    last = {run["job"]: run for run in history[:4]}
    assert last["good"]["status"] == "ok" and last["good"]["report"]["unchanged"] == 1
    assert last["mixed"]["status"] == "partial"
    assert last["mixed"]["report"]["unchanged"] == 1 and last["mixed"]["report"]["failed"] == 1
    assert last["missing"]["status"] == "failed"
    assert last["missing"]["error"] == f"no such file or folder: {tmp_path / 'missing'}"
    assert last["bad"]["status"] == "failed"
    assert last["bad"]["error"].startswith(f"every document failed: {bad / 'broken.json'}")
    assert history[-1]["report"]["added"] == 1 and history[-3]["report"]["added"] == 1
    assert all(run["started_at"] <= run["ended_at"] for run in history)


def test_a_pruning_job_removes_documents_whose_files_are_gone(
    tmp_path: Path, fake_model: None
) -> None:
    notes = tmp_path / "notes"
    notes.mkdir()
    for number in range(3):
        (notes / f"note-{number}.txt").write_text(note(number))
    args = ["--data-dir", str(tmp_path / "data"), "schedule", "--once", "--prune", str(notes)]
    assert CliRunner().invoke(main, args).exit_code == 0
    (notes / "note-1.txt").unlink()
    assert CliRunner().invoke(main, args).exit_code == 0

    latest = runs_json(tmp_path / "data")[0]
    assert latest["report"]["deleted"] == 1 and latest["report"]["unchanged"] == 2
    with Index.open(tmp_path / "data") as index:
        assert index.document(str((notes / "note-1.txt").resolve())) is None
        assert index.document(str((notes / "note-2.txt").resolve())) is not None


# -- the scheduler process -------------------------------------------------------------------------


def wait_for(what: str, condition: Callable[[], Any], process: subprocess.Popen) -> Any:
    """Poll until `condition()` is truthy; fail (showing the scheduler's stderr) if it never is."""
    deadline = time.monotonic() + PATIENCE
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        if process.poll() is not None:
            break
        time.sleep(0.2)
    process.kill()
    pytest.fail(f"never saw {what}; scheduler said:\n{process.communicate()[1]}")


def catalog_rows(data_dir: Path, sql: str) -> list[tuple]:
    if not (data_dir / "catalog.sqlite").exists():
        return []
    with sqlite3.connect(data_dir / "catalog.sqlite", timeout=30) as db:
        try:
            return db.execute(sql).fetchall()
        except sqlite3.OperationalError:  # schema not created yet
            return []


def documents_in(data_dir: Path) -> int:
    rows = catalog_rows(data_dir, "SELECT COUNT(*) FROM documents")
    return rows[0][0] if rows else 0


def finished_runs(data_dir: Path) -> list[dict[str, Any]]:
    rows = catalog_rows(
        data_dir, "SELECT status, report, error FROM runs WHERE ended_at IS NOT NULL"
    )
    return [{"status": s, "report": json.loads(r), "error": e} for s, r, e in rows]


def scheduler(args: list[str], data_dir: Path, **env: str) -> subprocess.Popen:
    return subprocess.Popen(
        args,
        cwd=ROOT,
        env={**os.environ, "RIVERBED_DATA_DIR": str(data_dir), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_a_scheduler_picks_up_new_files_and_recovers_from_a_missing_folder(tmp_path: Path) -> None:
    """Every 2 s over a folder that does not exist yet, then holds one article, then two; the
    real model ingests, and the new file is found by search after the next run."""
    data_dir, inbox = tmp_path / "data", tmp_path / "inbox"
    process = scheduler([str(RIVERBED), "schedule", "--every", "2s", str(inbox)], data_dir)
    try:
        wait_for("a failed run", lambda: finished_runs(data_dir), process)

        second = CliRunner().invoke(
            main, ["--data-dir", str(data_dir), "schedule", "--every", "1m", str(inbox)]
        )
        assert second.exit_code == 1
        assert second.output.strip() == f"Error: another riverbed is writing to {data_dir}"

        inbox.mkdir()
        drop(inbox, CNN.name, CNN.read_text())
        wait_for("the article ingested", lambda: added_runs(data_dir) == [1], process)
        drop(inbox, "otters.txt", OTTERS)
        wait_for("the new file ingested", lambda: added_runs(data_dir) == [1, 1], process)

        with Index.open(data_dir) as index:
            first = index.search("how many otters did the survey count", k=1)[0]
        assert first.source == str((inbox / "otters.txt").resolve())
        assert "forty-one otters" in first.text

        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=PATIENCE)
        assert process.returncode == 0, stderr
    finally:
        process.kill()

    history = runs_json(data_dir)[::-1]
    assert {run["job"] for run in history} == {"cli"}
    failed = [run for run in history if run["status"] == "failed"]
    assert failed and failed == history[: len(failed)]
    assert {run["error"] for run in failed} == {f"no such file or folder: {inbox}"}
    landed = [run for run in history if run["report"].get("added")]
    assert [run["report"]["seen"] for run in landed] == [1, 2]
    assert landed[1]["report"]["unchanged"] == 1 and landed[1]["status"] == "ok"
    assert all(run["report"]["failed"] == 0 for run in history[len(failed) :])
    assert "cli: run ok" in stderr and "added 1" in stderr


def added_runs(data_dir: Path) -> list[int]:
    return [run["report"]["added"] for run in finished_runs(data_dir) if run["report"].get("added")]


def test_sigterm_during_a_run_commits_the_batch_records_interrupted_and_exits_0(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_model: None
) -> None:
    """One document per micro-batch and a slow fake encoder (riverbed/testing/encoder.py: this is about
    signals, not retrieval), so SIGTERM lands while a run is in flight."""
    from index.store.sqlite_faiss import SqliteFaissStore

    data_dir, corpus = tmp_path / "data", tmp_path / "corpus"
    corpus.mkdir()
    for number in range(40):
        (corpus / f"note-{number:02}.txt").write_text(note(number))
    args = [sys.executable, "-m", "riverbed.testing", "schedule", "--every", "1h", str(corpus)]
    env = {"RIVERBED_BATCH_DOCUMENTS": "1", "FAKE_ENCODER_DELAY": "0.2"}
    process = scheduler(args, data_dir, **env)
    try:
        wait_for("documents landing", lambda: documents_in(data_dir) >= 2, process)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=PATIENCE)
    finally:
        process.kill()
    assert process.returncode == 0, stderr
    assert "stopping after the current batch" in stderr

    (run,) = runs_json(data_dir)
    documents = documents_in(data_dir)
    assert run["status"] == "interrupted" and run["ended_at"]
    assert 2 <= run["report"]["added"] == documents < 40
    store = SqliteFaissStore(data_dir, create=False)
    try:
        assert store.check() == []
    finally:
        store.close()

    monkeypatch.setenv("RIVERBED_BATCH_DOCUMENTS", "64")
    rerun = CliRunner().invoke(
        main, ["--data-dir", str(data_dir), "schedule", "--once", str(corpus)]
    )
    assert rerun.exit_code == 0, rerun.output
    assert documents_in(data_dir) == 40
    assert runs_json(data_dir)[0]["report"]["unchanged"] == documents
