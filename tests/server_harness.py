"""Start the real `riverbed serve` in a subprocess on a free port of 127.0.0.1, for tests.

The server's passage encoder is the ONNX export of the real model (RIVERBED_INGEST_ENCODER=onnx):
the same weights and vectors, without importing PyTorch in the server process.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

API_KEY = "test-key-7f3a"
AUTH = {"Authorization": f"Bearer {API_KEY}"}
START_TIMEOUT = 120.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def copy_index(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target


@contextmanager
def running_server(
    data_dir: Path, log: Path, api_key: str | None = API_KEY, **settings: str
) -> Iterator[str]:
    """`riverbed --data-dir DATA serve` with RIVERBED_<NAME> settings; yields its base URL."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIVERBED_")}
    env["RIVERBED_INGEST_ENCODER"] = "onnx"
    if api_key is not None:
        env["RIVERBED_API_KEY"] = api_key
    env.update({f"RIVERBED_{name.upper()}": value for name, value in settings.items()})
    command = [sys.executable, "-c", "from riverbed.cli import main; main()"]
    command += ["--data-dir", str(data_dir), "serve", "--port", str(port), "--log-level", "warning"]
    with log.open("wb") as output:
        process = subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_healthy(process, base_url, log)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_healthy(process: subprocess.Popen, base_url: str, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"riverbed serve exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"{base_url}/health", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"riverbed serve did not start: {log.read_text()[-2000:]}")
