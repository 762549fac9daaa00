"""Peak memory of ingesting a JSONL stream, over input size: it should stay flat.

JSONL streams of 10 MB and 100 MB (and 1 GB with BENCH_INGEST_1GB=1, which takes an hour or
more here) are generated in a temporary folder, then piped into `riverbed ingest -` in a
subprocess with the default settings; the subprocess's peak RSS is the kernel's (wait4's
ru_maxrss). Throughput is also given in CPU seconds, as wall time depends on what else runs.
Documents are unique ~3 KB shuffles of the English words of seeds/, so they are neither
duplicates nor near-duplicates and tokenize like prose.

The model is replaced by the fake encoder of riverbed/testing/encoder.py (hashed bags of words, 384
dimensions like the real model): the model's own memory does not depend on the input size, and
the real one would make the 1 GB run last most of a day on this machine.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
MB = 1_000_000
WORDS_PER_DOCUMENT = 480


def sizes() -> dict[str, int]:
    chosen = {"10mb": 10 * MB, "100mb": 100 * MB}
    if os.environ.get("BENCH_INGEST_1GB"):
        chosen["1gb"] = 1000 * MB
    return chosen


def seed_vocabulary() -> np.ndarray:
    """The English words of seeds/, sorted."""
    text = " ".join(p.read_text() for p in sorted((ROOT / "seeds").glob("*.txt")))
    return np.array(sorted(set(re.findall(r"[A-Za-z]+", text))))


def shuffled_prose(vocabulary: np.ndarray, rng: np.random.Generator) -> str:
    """WORDS_PER_DOCUMENT random words of `vocabulary` as sentences of 16 in paragraphs of 5."""
    words = vocabulary[rng.integers(0, len(vocabulary), WORDS_PER_DOCUMENT)]
    sentences = [
        " ".join(words[i : i + 16]).capitalize() + "." for i in range(0, WORDS_PER_DOCUMENT, 16)
    ]
    return "\n\n".join(" ".join(sentences[i : i + 5]) for i in range(0, len(sentences), 5))


def generate(path: Path, size: int) -> int:
    """Write at least `size` bytes of JSONL documents to `path`; return how many."""
    vocabulary = seed_vocabulary()
    rng = np.random.default_rng(7)
    written = count = 0
    with path.open("w") as handle:
        while written < size:
            text = shuffled_prose(vocabulary, rng)
            record = {"id": f"doc-{count}", "title": f"Document {count}", "text": text}
            line = json.dumps(record) + "\n"
            handle.write(line)
            written += len(line)
            count += 1
    return count


def ingest_stream(source: Path, data_dir: Path) -> tuple[int, float, float, dict]:
    """(peak RSS in bytes, seconds, CPU seconds, run report) of `riverbed ingest -` reading
    `source`."""
    return ingest_process(["-"], data_dir, stdin=source)


def ingest_process(
    arguments: list[str], data_dir: Path, stdin: Path | None = None
) -> tuple[int, float, float, dict]:
    """(peak RSS in bytes, seconds, CPU seconds, run report) of `riverbed ingest ARGUMENTS`
    with the fake encoder, in a process of its own (`stdin`: a file to read as standard input)."""
    command = [sys.executable, "-m", "riverbed.testing", "--data-dir", str(data_dir)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIVERBED_")}
    started = time.perf_counter()
    with stdin.open("rb") if stdin else open(os.devnull, "rb") as given:
        process = subprocess.Popen(
            [*command, "ingest", *arguments, "--json"],
            cwd=ROOT,
            env=env,
            stdin=given,
            stdout=subprocess.PIPE,
        )
        _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    out = process.stdout.read() if process.stdout else b""
    if process.returncode != 0:
        raise RuntimeError(f"ingest failed ({process.returncode}): {out[-500:]!r}")
    cpu = usage.ru_utime + usage.ru_stime
    return usage.ru_maxrss * 1024, seconds, cpu, json.loads(out)


def run() -> dict[str, float | str]:
    figures: dict[str, float | str] = {
        "encoder": "fake (riverbed/testing/encoder.py), 384 dimensions"
    }
    with tempfile.TemporaryDirectory(prefix="riverbed-bench-") as folder:
        for name, size in sizes().items():
            source = Path(folder) / f"{name}.jsonl"
            documents = generate(source, size)
            data_dir = Path(folder) / f"data-{name}"
            peak, seconds, cpu, report = ingest_stream(source, data_dir)
            assert report["added"] == documents, report
            figures[f"peak_rss_mb_{name}"] = round(peak / 2**20, 1)
            figures[f"documents_{name}"] = documents
            figures[f"passages_{name}"] = report["chunks"]
            megabytes = source.stat().st_size / MB
            figures[f"input_mb_per_s_{name}"] = round(megabytes / seconds, 2)
            figures[f"cpu_seconds_per_mb_{name}"] = round(cpu / megabytes, 2)
            shutil.rmtree(data_dir)
            source.unlink()
    smallest, largest = next(iter(sizes())), list(sizes())[-1]
    figures[f"peak_rss_ratio_{largest}_over_{smallest}"] = round(
        float(figures[f"peak_rss_mb_{largest}"]) / float(figures[f"peak_rss_mb_{smallest}"]), 2
    )
    return figures
