"""The MCP server, driven by the MCP SDK's own client: in-process, over stdio and over HTTP.

Retrieval runs on the real model against the seeds index.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.client.streamable_http import streamable_http_client

from riverbed.mcp import build_server
from riverbed.settings import Settings
from tests.conftest import BUNKER, CNN, QUESTION

RIVERBED = str(Path(sys.executable).with_name("riverbed"))
READ_TOOLS = {"search", "get_document", "stats"}


def run_with(server: Any, scenario: Callable[[Client], Awaitable[None]]) -> None:
    """Connect the SDK client to `server` (an MCPServer, stdio parameters, a URL or a transport)."""

    async def main() -> None:
        async with Client(server) as client:
            await scenario(client)

    anyio.run(main)


def error_text(result: Any) -> str:
    """The text of a tool error, which is one line without pydantic's documentation links."""
    assert result.is_error, result
    text = result.content[0].text
    assert "\n" not in text and "errors.pydantic.dev" not in text, text
    return text


def assert_no_fly_zone_first(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content
    first = result.structured_content["passages"][0]
    assert "no-fly zone" in first["text"]
    assert first["source"] in (str(CNN), str(BUNKER))
    assert "no-fly zone" in first["answer"]["text"]
    assert (
        first["text"][first["answer"]["start"] : first["answer"]["end"]] == first["answer"]["text"]
    )
    return first


@pytest.fixture(scope="module")
def read_only_server(seeded_dir: Path) -> Any:
    return build_server(Settings(data_dir=seeded_dir))


def test_tools_describe_their_arguments(read_only_server: Any) -> None:
    async def scenario(client: Client) -> None:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert set(tools) == READ_TOOLS
        schema = tools["search"].input_schema
        assert schema["required"] == ["question"]
        assert schema["properties"]["k"]["minimum"] == 1
        assert schema["properties"]["k"]["maximum"] >= 10
        mode_enum = next(a["enum"] for a in schema["properties"]["mode"]["anyOf"] if "enum" in a)
        assert set(mode_enum) == {"hybrid", "dense", "lexical"}
        filters = schema["$defs"]["SearchFilters"]["properties"]
        assert {"sources", "published_after", "metadata"} <= set(filters)
        for tool in tools.values():
            assert tool.description and tool.annotations.read_only_hint
            lines = tool.description.splitlines()
            assert lines[0] and not any(line.startswith(" ") for line in lines), tool.description
            for name, prop in tool.input_schema["properties"].items():
                assert prop.get("description"), f"{tool.name}.{name} has no description"
            assert tool.output_schema and tool.output_schema["type"] == "object", tool.name
        stats_output = tools["stats"].output_schema
        assert {"documents", "passages", "model", "last_ingest"} <= set(stats_output["required"])
        assert stats_output["properties"]["documents"]["type"] == "integer"

    run_with(read_only_server, scenario)


def test_search_answers_then_bad_arguments_are_tool_errors(read_only_server: Any) -> None:
    async def scenario(client: Client) -> None:
        first = assert_no_fly_zone_first(await client.call_tool("search", {"question": QUESTION}))
        assert set(first) >= {"doc_id", "title", "start", "end", "also_in", "score"}

        too_few = error_text(await client.call_tool("search", {"question": QUESTION, "k": 0}))
        assert "k" in too_few and "greater than or equal to 1" in too_few
        bad_mode = error_text(await client.call_tool("search", {"question": "x", "mode": "nope"}))
        # in any order: typing's cache may hand over an equal Literal of another order
        assert "mode" in bad_mode and all(
            f"'{m}'" in bad_mode for m in ("hybrid", "dense", "lexical")
        )
        missing = error_text(await client.call_tool("search", {"k": 3}))
        assert "question" in missing and "required" in missing.lower()
        blank = error_text(await client.call_tool("search", {"question": "   "}))
        assert "question is empty" in blank
        typo = error_text(
            await client.call_tool("search", {"question": "x", "filters": {"source": ["a"]}})
        )
        assert "filters.source" in typo

        again = await client.call_tool("search", {"question": QUESTION, "k": 2, "mode": "dense"})
        assert_no_fly_zone_first(again)
        assert len(again.structured_content["passages"]) == 2

    run_with(read_only_server, scenario)


def test_get_document_reads_from_a_passage_offset(read_only_server: Any) -> None:
    async def scenario(client: Client) -> None:
        found = await client.call_tool("search", {"question": QUESTION, "k": 1})
        first = found.structured_content["passages"][0]
        args = {"doc_id": first["doc_id"], "start": first["start"], "max_chars": 200}
        window = (await client.call_tool("get_document", args)).structured_content
        assert first["text"].startswith(window["text"])
        assert window["end"] - window["start"] == 200 and window["truncated"]
        assert window["source"] == first["source"]

        unknown = error_text(await client.call_tool("get_document", {"doc_id": "no/such/doc"}))
        assert "no document with id 'no/such/doc'" in unknown
        stats = (await client.call_tool("stats", {})).structured_content
        assert stats["documents"] == 2

    run_with(read_only_server, scenario)


def test_a_missing_index_is_a_tool_error_not_a_crash(tmp_path: Path) -> None:
    async def scenario(client: Client) -> None:
        missing = error_text(await client.call_tool("search", {"question": QUESTION}))
        assert "no index at" in missing
        assert "no index at" in error_text(await client.call_tool("stats", {}))

    run_with(build_server(Settings(data_dir=tmp_path / "nothing")), scenario)


def test_ingest_tool_only_with_writes_allowed_and_bad_documents_fail_alone(
    tmp_path: Path,
) -> None:
    documents = [
        {
            "id": "beavers",
            "title": "Beavers",
            "text": "Beavers build dams from branches and mud. The dams turn streams into "
            "ponds, where the beavers are safe from wolves.",
            "published_at": "2024-05-01",
            "metadata": {"topic": "animals"},
        },
        {"id": "no-text", "body": "the text is under the wrong key"},
    ]

    async def scenario(client: Client) -> None:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
        assert set(tools) == {*READ_TOOLS, "ingest"}
        assert tools["ingest"].annotations.read_only_hint is False
        item = tools["ingest"].input_schema["properties"]["documents"]["items"]
        assert set(item["required"]) == {"id", "text"}

        result = await client.call_tool("ingest", {"documents": documents})
        report = result.structured_content
        assert not result.is_error
        assert report["added"] == 1 and report["failed"] == 1
        assert report["failures"][0]["source"].startswith("documents[1]")
        assert "no text" in report["failures"][0]["reason"]

        found = await client.call_tool(
            "search",
            {"question": "what do beavers build", "filters": {"metadata": {"topic": "animals"}}},
        )
        first = found.structured_content["passages"][0]
        assert first["doc_id"] == "beavers" and "dams" in first["answer"]["text"]
        assert error_text(await client.call_tool("ingest", {"documents": []}))

    run_with(build_server(Settings(data_dir=tmp_path / "data"), allow_writes=True), scenario)


def test_riverbed_mcp_over_stdio_survives_bad_calls(seeded_dir: Path) -> None:
    params = StdioServerParameters(command=RIVERBED, args=["--data-dir", str(seeded_dir), "mcp"])

    async def scenario(client: Client) -> None:
        assert {tool.name for tool in (await client.list_tools()).tools} == READ_TOOLS
        assert error_text(await client.call_tool("search", {"question": QUESTION, "k": 0}))
        assert error_text(await client.call_tool("ingest", {"documents": [{"id": "x"}]}))
        assert_no_fly_zone_first(await client.call_tool("search", {"question": QUESTION}))

    run_with(params, scenario)


def test_riverbed_mcp_over_stdio_answers_unreadable_lines_with_json_rpc_errors(
    seeded_dir: Path,
) -> None:
    """JSON-RPC 2.0: a line that is not JSON gets -32700, JSON that is no message -32600 (id
    null, as the spec says), and the server goes on answering."""
    lines = [
        "this is not json",
        '{"jsonrpc": "2.0", "id": 1, "method": "ping"}',
        '{"jsonrpc": "2.0", "id": 2}',
        '{"jsonrpc": "2.0", "id": 3, "method": "ping"',
        '{"jsonrpc": "2.0", "id": 4, "method": "ping"}',
    ]
    server = subprocess.Popen(
        [RIVERBED, "--data-dir", str(seeded_dir), "mcp"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert server.stdin and server.stdout
    server.stdin.write("\n".join(lines) + "\n")
    server.stdin.flush()
    # One reply per line, in any order; stdin stays open until they are all in (at end of
    # input the server drops the requests still in flight).
    replies = [json.loads(server.stdout.readline()) for _ in lines]
    server.stdin.close()
    assert server.wait(timeout=60) == 0, server.stderr.read() if server.stderr else ""
    errors = sorted(reply["error"]["code"] for reply in replies if reply["id"] is None)
    assert errors == [-32700, -32700, -32600], replies
    assert sorted(reply["id"] for reply in replies if "result" in reply) == [1, 4]


def test_riverbed_mcp_over_streamable_http_guards_writes_with_the_api_key(
    seeded_dir: Path, tmp_path: Path
) -> None:
    port = free_port()
    data_dir = tmp_path / "data"
    shutil.copytree(seeded_dir, data_dir)
    args = ["--data-dir", str(data_dir), "mcp", "--http", "--port", str(port), "--allow-writes"]
    env = {**os.environ, "RIVERBED_API_KEY": "s3cret"}
    server = subprocess.Popen([RIVERBED, *args], env=env, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/mcp"
    no_text = {"documents": [{"id": "empty", "title": "no text"}]}
    try:
        wait_for_port(port, server)

        async def anonymous(client: Client) -> None:
            tools = {tool.name for tool in (await client.list_tools()).tools}
            assert tools == {*READ_TOOLS, "ingest"}
            stats = await client.call_tool("stats", {})
            assert stats.structured_content["documents"] == 2
            assert json.loads(stats.content[0].text)["passages"] > 0
            refused = error_text(await client.call_tool("ingest", no_text))
            assert "Authorization: Bearer" in refused

        async def with_key(client: Client) -> None:
            report = (await client.call_tool("ingest", no_text)).structured_content
            assert report["failed"] == 1 and "no text" in report["failures"][0]["reason"]

        run_with(url, anonymous)
        headers = {"Authorization": "Bearer s3cret"}
        run_with(
            streamable_http_client(url, http_client=httpx2.AsyncClient(headers=headers)), with_key
        )
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_cli_and_library_import_neither_mcp_nor_langchain() -> None:
    probe = (
        "import sys, riverbed.cli, index, pipeline.ingestion; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'mcp', 'langchain_core'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, process: subprocess.Popen[str], patience: float = 120.0) -> None:
    """Wait until the server accepts connections (a readiness wait, not a speed check)."""
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(
                f"riverbed mcp --http exited: {process.stderr.read() if process.stderr else ''}"
            )
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"riverbed mcp --http did not listen on {port}")


def test_search_returns_no_passage_when_nothing_answers(read_only_server: Any) -> None:
    async def scenario(client: Client) -> None:
        nothing = await client.call_tool("search", {"question": "zzzqqqxx blorf"})
        assert not nothing.is_error and nothing.structured_content["passages"] == []
        closest = await client.call_tool(
            "search", {"question": "zzzqqqxx blorf", "min_relevance": 0}
        )
        assert closest.structured_content["passages"]
        wrong = error_text(await client.call_tool("search", {"question": "x", "min_relevance": 2}))
        assert "min_relevance" in wrong

    run_with(read_only_server, scenario)
