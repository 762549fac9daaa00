"""`riverbed mcp` as the MCP Inspector's command line sees it (npm @modelcontextprotocol/inspector,
which `make test` installs into .npm-tools/): a client nobody on the project wrote lists the
tools and calls them over stdio. Real model, seeds index."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import QUESTION, ROOT

INSPECTOR = ROOT / ".npm-tools" / "node_modules" / ".bin" / "mcp-inspector"
RIVERBED = str(Path(sys.executable).with_name("riverbed"))

pytestmark = pytest.mark.skipif(
    not INSPECTOR.exists(), reason="the MCP Inspector is not installed (make test installs it)"
)


def inspect(data_dir: Path, *args: str) -> dict[str, Any]:
    command = [str(INSPECTOR), "--cli", RIVERBED, "--data-dir", str(data_dir), "mcp", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_inspector_lists_every_tool_with_a_clean_description_and_an_output_schema(
    seeded_dir: Path,
) -> None:
    tools = {tool["name"]: tool for tool in inspect(seeded_dir, "--method", "tools/list")["tools"]}
    assert set(tools) == {"search", "get_document", "stats"}
    for tool in tools.values():
        assert not any(line.startswith(" ") for line in tool["description"].splitlines())
        assert tool["outputSchema"]["type"] == "object", tool["name"]
    assert "documents" in tools["stats"]["outputSchema"]["properties"]


def test_the_inspector_searches_and_gets_one_line_errors(seeded_dir: Path) -> None:
    call = ["--method", "tools/call", "--tool-name", "search"]
    found = inspect(seeded_dir, *call, "--tool-arg", f"question={QUESTION}", "--tool-arg", "k=2")
    assert not found.get("isError")
    passages = json.loads(found["content"][0]["text"])["passages"]
    assert len(passages) == 2 and "no-fly zone" in passages[0]["answer"]["text"]

    refused = inspect(seeded_dir, *call, "--tool-arg", "question=x", "--tool-arg", "k=0")
    assert refused["isError"] is True
    (error,) = refused["content"]
    assert (
        error["text"]
        == "Error executing tool search: k: Input should be greater than or equal to 1"
    )
