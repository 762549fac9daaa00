"""How riverbed's MCP server speaks the protocol, where the SDK's MCPServer falls short:

- a tool's description is its docstring without the source's indentation;
- arguments that break a tool's input schema are one line (`k: Input should be greater than or
  equal to 1`), not pydantic's multi-line report with a documentation URL per error;
- over stdio, a line whose JSON holds a lone surrogate escape (`"\\ud800"`), which the SDK's
  parser refuses, is read by Python's own; the tool then refuses the text in one line (or, in
  an ingest, the one record that holds it);
- over stdio, a line that is not JSON is answered with JSON-RPC's -32700 Parse error, and one
  that is JSON but no JSON-RPC message with -32600 Invalid Request (the SDK drops both
  silently, so the client waits forever). Streamable HTTP already answers them.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from typing import Any

import anyio
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError, UnexpectedToolError
from mcp.server.stdio import stdio_server
from mcp.shared.message import SessionMessage
from mcp.types import (
    INVALID_REQUEST,
    PARSE_ERROR,
    ErrorData,
    JSONRPCError,
    jsonrpc_message_adapter,
)
from pydantic import ValidationError

from pipeline.sources.records import short_validation_message


class RiverbedMCPServer(MCPServer):
    def add_tool(self, fn: Callable[..., Any], *args: Any, **options: Any) -> None:
        if options.get("description") is None and fn.__doc__:
            options["description"] = inspect.cleandoc(fn.__doc__)
        super().add_tool(fn, *args, **options)

    async def call_tool(self, name: str, arguments: dict[str, Any], context: Any = None) -> Any:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as err:
            invalid = err.__cause__
            if isinstance(err, UnexpectedToolError) or not isinstance(invalid, ValidationError):
                raise
            raise ToolError(
                f"Error executing tool {name}: {short_validation_message(invalid)}"
            ) from invalid

    async def run_stdio_async(self) -> None:
        """stdio, with every line that cannot be read answered by a JSON-RPC error."""
        async with stdio_server() as (lines, replies):
            readable_in, readable = anyio.create_memory_object_stream[SessionMessage | Exception]()

            async def answer_unreadable() -> None:
                async with readable_in:
                    async for item in lines:
                        if isinstance(item, Exception):
                            message = read_leniently(item)
                            if message is not None:
                                await readable_in.send(message)
                            else:
                                await replies.send(SessionMessage(unreadable_line_error(item)))
                        else:
                            await readable_in.send(item)

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(answer_unreadable)
                server = self._lowlevel_server
                await server.run(readable, replies, server.create_initialization_options())


def read_leniently(problem: Exception) -> SessionMessage | None:
    """The message of a line the SDK could not parse that Python's json can (lone surrogates
    are valid JSON escapes, though not Unicode), or None."""
    errors = problem.errors() if isinstance(problem, ValidationError) else []
    line = errors[0].get("input") if errors and errors[0]["type"] == "json_invalid" else None
    if not isinstance(line, str):
        return None
    try:
        return SessionMessage(jsonrpc_message_adapter.validate_python(json.loads(line)))
    except (ValueError, RecursionError):
        return None


def unreadable_line_error(problem: Exception) -> JSONRPCError:
    """The JSON-RPC 2.0 answer to a line that is not a message (its id cannot be known: null)."""
    errors = problem.errors() if isinstance(problem, ValidationError) else []
    if any(error["type"] == "json_invalid" for error in errors):
        error = ErrorData(code=PARSE_ERROR, message="Parse error: the line is not JSON")
    else:
        error = ErrorData(
            code=INVALID_REQUEST, message="Invalid Request: not a JSON-RPC 2.0 message"
        )
    return JSONRPCError(jsonrpc="2.0", id=None, error=error)
