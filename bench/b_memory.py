"""Peak memory: `riverbed ingest` of the eval documents, and `riverbed serve` at rest.

- Ingest: a new process ingests the eval documents (tests/data) into a fresh data dir, with the
  default encoder (PyTorch) and with the int8 ONNX one; the figure is the process's own peak
  resident set (VmHWM, read by the process as it exits: wait4's ru_maxrss would also count the
  parent's memory that the child inherits at fork, before exec). How peak memory grows with the
  input is b_ingest_memory's.
- Serve: `riverbed serve` on the Python docs index of b_query (10,000+ passages) after it
  answers /health (it warms at start: the query encoder, the vector index, BM25's postings),
  then after SEARCHES searches: resident set (VmRSS) and its peak (VmHWM), and the resident set
  split into the process's own memory (RssAnon) and file pages (RssFile: the libraries, and the
  catalog pages that a warmed store reads through mmap, shared with the OS page cache).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from bench.b_query import questions
from bench.b_serve import start_server
from bench.corpora import EVAL_DOCUMENTS, PYDOCS_MIN_PASSAGES, ROOT, clean_env, pydocs_index
from bench.corpora import riverbed as riverbed_command

SEARCHES = 20
MB = 2**20


REPORT_PEAK = (
    "import atexit, sys; atexit.register(lambda: sys.stderr.write('\\nPEAK ' + next(line for line"
    " in open('/proc/self/status') if line.startswith('VmHWM')).split()[1] + '\\n'))"
)


def ingest_peak(data_dir: Path, encoder: str) -> tuple[float, dict]:
    """Peak RSS in MB and the report of ingesting the eval documents with `encoder`."""
    command = riverbed_command(
        data_dir, "ingest", str(EVAL_DOCUMENTS), "--json", prelude=REPORT_PEAK
    )
    done = subprocess.run(
        command, env=clean_env(ingest_encoder=encoder), cwd=ROOT, capture_output=True, check=True
    )
    peak_kb = int(done.stderr.decode().rsplit("PEAK", 1)[1].split()[0])
    return peak_kb / 1024, json.loads(done.stdout)


def resident(pid: int) -> dict[str, float]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            fields[name] = int(value.split()[0]) / 1024
    return fields


def run() -> dict[str, float | str]:
    figures: dict[str, float | str] = {}
    with tempfile.TemporaryDirectory(prefix="riverbed-bench-memory-") as folder:
        for encoder in ("torch", "onnx-int8"):
            peak, report = ingest_peak(Path(folder) / encoder, encoder)
            figures[f"ingest_peak_rss_mb_{encoder.replace('-', '_')}"] = round(peak, 1)
        figures["ingest_corpus"] = f"eval documents, {report['chunks']} passages"

        data_dir, stats = pydocs_index()
        if stats["passages"] < PYDOCS_MIN_PASSAGES:
            from bench.b_query import SMALLER_CHUNKS

            data_dir, stats = pydocs_index(SMALLER_CHUNKS)
        figures["serve_index"] = f"Python 3.11 docs, {stats['passages']} passages"
        server, base_url = start_server(data_dir, Path(folder) / "serve.log")
        try:
            time.sleep(1)
            at_rest = resident(server.pid)
            with httpx.Client(base_url=base_url, timeout=120) as http:
                for question in questions(data_dir)[:SEARCHES]:
                    http.get("/search", params={"q": question, "k": 5}).raise_for_status()
            after = resident(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=30)
    for when, fields in (("at_rest", at_rest), (f"after_{SEARCHES}_searches", after)):
        figures[f"serve_rss_mb_{when}"] = round(fields["VmRSS"], 1)
        figures[f"serve_rss_anon_mb_{when}"] = round(fields["RssAnon"], 1)
        figures[f"serve_rss_file_mb_{when}"] = round(fields["RssFile"], 1)
    figures["serve_peak_rss_mb"] = round(after["VmHWM"], 1)
    return figures
