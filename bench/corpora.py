"""The corpora the benchmarks share, and running `riverbed` in a fresh process.

- The eval documents (tests/data, five SQuAD 2.0 dev articles): small, real prose, with
  questions; used for ingest throughput and quality.
- The Python 3.11 documentation, HTML, from Debian's package `python3.11-doc` (`make bench`
  installs it): real text large enough for an index of 10,000+ passages. It is ingested once
  into bench/.cache/pydocs and reused; an interrupted build resumes (unchanged files are
  skipped). It is embedded with the ONNX Runtime export of the default model (fp32; vectors
  equal to the sentence-transformers ones to cosine >= 0.999), which is faster here (see
  b_encoders): query latency depends on how many vectors there are, not on which backend made
  them. The build takes most of an hour on this 2-core machine.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from index.records import Chunk
    from riverbed.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
CACHE = Path(__file__).resolve().parent / ".cache"
EVAL_DOCUMENTS = ROOT / "tests" / "data" / "squad2-dev-5articles.docs.jsonl"
EVAL_QUESTIONS = ROOT / "tests" / "data" / "squad2-dev-5articles.questions.jsonl"
PYDOCS_HTML = Path("/usr/share/doc/python3.11/html")
PYDOCS_MIN_PASSAGES = 10_000
PYDOCS_ENCODER = "onnx"


def clean_env(**settings: str) -> dict[str, str]:
    """This process's environment without RIVERBED_* settings, plus `settings`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIVERBED_")}
    env.update({f"RIVERBED_{name.upper()}": value for name, value in settings.items()})
    return env


def riverbed(data_dir: Path, *args: str, prelude: str = "") -> list[str]:
    """The command line of `riverbed --data-dir DATA_DIR ARGS...` in this interpreter, after
    the Python statements `prelude`."""
    entry = (
        f"{prelude}; from riverbed.cli import main; main()"
        if prelude
        else "from riverbed.cli import main; main()"
    )
    return [sys.executable, "-c", entry, "--data-dir", str(data_dir), *args]


def pydocs_index(chunk_tokens: int | None = None) -> tuple[Path, dict]:
    """The data dir of the Python documentation index (built now if missing) and its stats.

    `chunk_tokens` defaults to the default setting's; a caller that needs more passages passes a
    smaller one, and says so.
    """
    if not PYDOCS_HTML.is_dir():
        raise RuntimeError(
            f"{PYDOCS_HTML} is missing: `make bench` installs it (apt-get install python3.11-doc)"
        )
    from riverbed.settings import Settings

    chunk_tokens = chunk_tokens or Settings.model_fields["chunk_tokens"].default
    data_dir = CACHE / f"pydocs-{chunk_tokens}"
    done = data_dir / "bench-built.json"
    if not done.is_file():
        settings = {"ingest_encoder": PYDOCS_ENCODER, "chunk_tokens": str(chunk_tokens)}
        started = time.perf_counter()
        command = riverbed(data_dir, "ingest", str(PYDOCS_HTML), "--include", "*.html", "--json")
        built = subprocess.run(
            command, env=clean_env(**settings), cwd=ROOT, capture_output=True, check=False
        )
        if built.returncode not in (0, 3):
            raise RuntimeError(f"pydocs ingest failed: {built.stderr.decode()[-2000:]}")
        report = json.loads(built.stdout)
        report["build_seconds"] = round(time.perf_counter() - started, 1)
        done.write_text(json.dumps(report, indent=2) + "\n")
    stats = subprocess.run(
        riverbed(data_dir, "stats", "--json"), cwd=ROOT, env=clean_env(), capture_output=True
    )
    return data_dir, json.loads(stats.stdout)


def eval_chunks(settings: Settings) -> list[Chunk]:
    """The distinct passages ingest makes of the eval documents."""
    from pipeline.ingestion import passages_of

    return passages_of([EVAL_DOCUMENTS], settings)
