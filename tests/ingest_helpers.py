"""Helpers for the ingestion tests: a generated corpus, and `riverbed ingest` in a subprocess with
the fake encoder of riverbed/testing/encoder.py (so a process starts in about a second, not six)."""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tests.conftest import ROOT

VOCABULARY = [f"{a}{b}" for a in ("kal", "mor", "tun", "vex", "sal", "pir") for b in range(120)]
DEADLINE = 120.0  # seconds to wait for something a subprocess does; never reached when all is well


def corpus_text(number: int) -> str:
    """A small document whose words are its own: two documents are never near-duplicates, and
    `marker<number>` finds this one."""
    rng = random.Random(number)
    sentences = [
        f"Report marker{number} part {part} says " + " ".join(rng.choices(VOCABULARY, k=14)) + "."
        for part in range(4)
    ]
    return " ".join(sentences)


def write_corpus(path: Path, count: int) -> Path:
    """`count` JSONL records with ids doc-0 … doc-<count-1>."""
    with path.open("w") as handle:
        for number in range(count):
            handle.write(json.dumps({"id": f"doc-{number}", "text": corpus_text(number)}) + "\n")
    return path


def riverbed(data_dir: Path, *args: str) -> list[str]:
    """The command line of `riverbed --data-dir DATA_DIR ARGS` with the fake encoder."""
    return [sys.executable, "-m", "riverbed.testing", "--data-dir", str(data_dir), *args]


def subprocess_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIVERBED_")}
    env.update(extra)
    return env


def start(data_dir: Path, *args: str, **extra_env: str) -> subprocess.Popen[str]:
    """`riverbed ARGS` running in the background (fake encoder), its output captured."""
    return subprocess.Popen(
        riverbed(data_dir, *args),
        cwd=ROOT,
        env=subprocess_env(**extra_env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run(data_dir: Path, *args: str, **extra_env: str) -> subprocess.CompletedProcess[str]:
    """`riverbed ARGS` to completion (fake encoder)."""
    return subprocess.run(
        riverbed(data_dir, *args),
        cwd=ROOT,
        env=subprocess_env(**extra_env),
        capture_output=True,
        text=True,
        timeout=DEADLINE,
    )


def catalog_value(data_dir: Path, query: str) -> int:
    """One number read straight from the catalog (0 while there is none yet)."""
    path = data_dir / "catalog.sqlite"
    if not path.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30) as db:
            row = db.execute(query).fetchone()
    except sqlite3.OperationalError:
        return 0  # tables not created yet
    return int(row[0]) if row and row[0] is not None else 0


def generation(data_dir: Path) -> int:
    return catalog_value(data_dir, "SELECT value FROM meta WHERE key = 'generation'")


def document_count(data_dir: Path) -> int:
    return catalog_value(data_dir, "SELECT COUNT(*) FROM documents")


def wait_until(condition: Callable[[], bool], process: subprocess.Popen | None = None) -> None:
    """Poll until `condition()` holds; fail if the process ends first or the deadline passes."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if process is not None and process.poll() is not None:
            out, err = process.communicate()
            raise AssertionError(f"process ended first ({process.returncode}): {out} {err}")
        if time.monotonic() > deadline:
            raise AssertionError("waited too long")
        time.sleep(0.01)
