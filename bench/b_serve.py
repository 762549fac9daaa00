"""Searches per second and latency (p50, p99) of the HTTP API at concurrency 1 and 8.

A `riverbed serve` process on 127.0.0.1 serves an index of seeds/ plus five SQuAD 2.0 dev
articles (tests/data), built in a temporary folder with the real model. Clients are threads,
each with its own httpx connection, sending `GET /search?q=...&k=5` (hybrid, the default)
with questions taken in turn from the SQuAD question file; every answer must be 200. Request
counts are fixed, so the run is bounded; latency is measured per request by the client.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "seeds", ROOT / "tests" / "data" / "squad2-dev-5articles.docs.jsonl"]
QUESTIONS = ROOT / "tests" / "data" / "squad2-dev-5articles.questions.jsonl"
REQUESTS = {1: 200, 8: 400}  # concurrency -> searches measured
WARM_UP = 20


def questions() -> list[str]:
    with QUESTIONS.open() as lines:
        return [json.loads(line)["question"] for line in lines if line.strip()][:500]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def riverbed(data_dir: Path, *args: str) -> list[str]:
    entry = "from riverbed.cli import main; main()"
    return [sys.executable, "-c", entry, "--data-dir", str(data_dir), *args]


def start_server(data_dir: Path, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIVERBED_")}
    command = riverbed(data_dir, "serve", "--port", str(port), "--log-level", "warning")
    with log.open("wb") as output:
        server = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        if server.poll() is not None:
            raise RuntimeError(f"riverbed serve exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base_url}/health", timeout=2).status_code == 200:
                return server, base_url
        except httpx.TransportError:
            time.sleep(0.2)
    server.terminate()
    raise RuntimeError("riverbed serve did not start")


def measure(base_url: str, asked: list[str], concurrency: int, count: int) -> dict[str, float]:
    per_client = count // concurrency

    def client(offset: int) -> list[float]:
        latencies = []
        with httpx.Client(base_url=base_url, timeout=120) as http:
            for n in range(per_client):
                question = asked[(offset * per_client + n) % len(asked)]
                started = time.perf_counter()
                response = http.get("/search", params={"q": question, "k": 5})
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    raise RuntimeError(f"{response.status_code}: {response.text[:200]}")
        return latencies

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        latencies = [t for part in pool.map(client, range(concurrency)) for t in part]
    wall = time.perf_counter() - started
    milliseconds = np.asarray(latencies) * 1000
    return {
        f"c{concurrency}_searches_per_s": round(len(latencies) / wall, 1),
        f"c{concurrency}_p50_ms": round(float(np.percentile(milliseconds, 50)), 1),
        f"c{concurrency}_p99_ms": round(float(np.percentile(milliseconds, 99)), 1),
        f"c{concurrency}_requests": len(latencies),
    }


def run() -> dict[str, float | str]:
    asked = questions()
    with tempfile.TemporaryDirectory(prefix="riverbed-bench-serve-") as tmp:
        data_dir = Path(tmp) / "data"
        built = subprocess.run(
            riverbed(data_dir, "ingest", *map(str, DOCUMENTS), "--json"),
            capture_output=True,
            check=True,
        )
        report = json.loads(built.stdout)
        server, base_url = start_server(data_dir, Path(tmp) / "server.log")
        try:
            stats = httpx.get(f"{base_url}/stats", timeout=30).json()
            measure(base_url, asked, 1, WARM_UP)
            figures: dict[str, float | str] = {
                "index": f"{stats['documents']} documents, {stats['passages']} passages",
                "cpus": str(os.cpu_count()),
                "documents_added": report["added"],
            }
            for concurrency, count in REQUESTS.items():
                figures.update(measure(base_url, asked, concurrency, count))
            return figures
        finally:
            server.terminate()
            server.wait(timeout=30)
