"""Every code block of README.md and docs/*.md is run, so the docs cannot rot.

Each page runs in a fresh folder with a copy of seeds/, its blocks in order (they share the
folder, as a reader following the page would): `python` blocks are executed, `sh` blocks run in
bash with this interpreter's `riverbed` on the PATH, `toml`/`json`/`yaml`/`ini` blocks are parsed,
`text` blocks are output or illustration; every block is fenced and says which it is. A comment before a block changes what happens to it (see
docs/development.md): `docs-test: file NAME`, `docs-test: until-stopped`, `docs-test: skip:
REASON`, `docs-test: in-checkout`. The real model runs: the examples are about retrieval.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from markdown_it import MarkdownIt

from tests.conftest import ROOT, SEEDS

pytestmark = pytest.mark.slow

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
DIRECTIVE = re.compile(r"<!--\s*docs-test:\s*(.*?)\s*-->", re.S)
RUNNABLE = {"python", "sh", "toml", "json", "yaml", "ini", "text"}
PORTS = re.compile(r"\b(8000|8001|8765)\b")
BIN = Path(sys.executable).parent
# curl waits for a server that a line before it started in the background.
SH_PRELUDE = """
set -euo pipefail
trap 'jobs -p | xargs -r kill 2>/dev/null; wait 2>/dev/null || true' EXIT
curl() { command curl --silent --show-error --fail-with-body --retry 60 --retry-delay 1 \\
    --retry-connrefused --max-time 120 "$@"; echo; }
"""
UNTIL_STOPPED_PATIENCE = 60.0


@dataclass
class Block:
    page: Path
    line: int
    lang: str
    body: str
    directive: str

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def blocks_of(page: Path) -> list[Block]:
    """The page's code blocks, as a Markdown parser sees them (markdown-it, which rich uses),
    each with the directive of an HTML comment right before it."""
    tokens = MarkdownIt("commonmark").parse(page.read_text(encoding="utf-8"))
    found = []
    for before, token in zip([None, *tokens], tokens, strict=False):
        if token.type not in ("fence", "code_block"):
            continue
        directive = ""
        if before is not None and before.type == "html_block":
            comment = DIRECTIVE.search(before.content)
            directive = comment[1].strip() if comment else ""
        language = token.info.strip().split(" ")[0] if token.type == "fence" else "indented"
        line = token.map[0] + 1 if token.map else 0
        found.append(Block(page, line, language, token.content, directive))
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RIVERBED_")}
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(ROOT)  # `python -m riverbed.testing` and friends, as in a checkout
    env["HOME"] = os.environ.get("HOME", str(folder))  # the model's ONNX export is cached there
    # The same weights and vectors (cosine 1.0000, tests/test_encoders.py) without importing
    # PyTorch in every process the pages start: seconds each.
    env["RIVERBED_INGEST_ENCODER"] = "onnx"
    return env


def with_free_ports(body: str) -> str:
    """The documented ports, moved to free ones (the docs say 8000; a test cannot count on it)."""
    ports: dict[str, str] = {}
    return PORTS.sub(lambda m: ports.setdefault(m[1], str(free_port())), body)


def run_python(block: Block, folder: Path, namespace: dict[str, object]) -> None:
    previous = Path.cwd()
    os.chdir(folder)
    try:
        exec(compile(block.body, block.name, "exec"), namespace)
    finally:
        os.chdir(previous)


def run_sh(block: Block, folder: Path) -> None:
    script = SH_PRELUDE + with_free_ports(block.body)
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=ROOT if block.directive == "in-checkout" else folder,
        env=environment(folder),
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, f"{block.name}\n{done.stdout}\n{done.stderr}"


def run_until_stopped(block: Block, folder: Path) -> None:
    """Each command starts, says something on stderr (it is running), and stops on SIGTERM."""
    for line in with_free_ports(block.body).splitlines():
        command = line.split("#", 1)[0].strip()
        if not command:
            continue
        process = subprocess.Popen(
            shlex.split(command),
            cwd=folder,
            env=environment(folder),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        deadline = time.monotonic() + UNTIL_STOPPED_PATIENCE
        first = process.stderr.readline() if process.stderr else ""
        assert first and time.monotonic() < deadline, f"{block.name}: {command} said nothing"
        assert process.poll() is None, f"{block.name}: {command} ended: {first}"
        process.send_signal(signal.SIGTERM)
        _, rest = process.communicate(timeout=UNTIL_STOPPED_PATIENCE)
        assert process.returncode == 0, f"{block.name}: {command}\n{first}{rest}"


def check_config(block: Block) -> None:
    if block.lang == "toml":
        tomllib.loads(block.body)
    elif block.lang == "json":
        json.loads(block.body)
    elif block.lang == "yaml":
        assert yaml.safe_load(block.body), block.name
    elif block.lang == "ini":
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read_string(block.body)
        assert parser.sections(), block.name


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_block_of_the_page_runs(page: Path, tmp_path: Path) -> None:
    folder = tmp_path / "work"
    folder.mkdir()
    shutil.copytree(SEEDS, folder / "seeds")
    namespace: dict[str, object] = {"__name__": "__docs__"}
    for block in blocks_of(page):
        assert block.lang in RUNNABLE, (
            f"{block.name}: a fenced block says its language, one of {sorted(RUNNABLE)}"
        )
        if block.directive.startswith("skip"):
            reason = block.directive.removeprefix("skip").strip(": ")
            assert reason, f"{block.name}: a skipped block says why"
            continue
        if block.directive.startswith("file "):
            (folder / block.directive.removeprefix("file ").strip()).write_text(block.body)
        if block.lang == "python":
            run_python(block, folder, namespace)
        elif block.lang == "sh" and block.directive == "until-stopped":
            run_until_stopped(block, folder)
        elif block.lang == "sh":
            run_sh(block, folder)
        else:
            check_config(block)


def test_the_readme_is_a_front_door() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 250
    for link in re.findall(r"\]\((docs/[\w.-]+\.md)", readme):
        assert (ROOT / link).is_file(), link
