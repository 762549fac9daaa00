"""What stands before the endpoints: the API key of write endpoints, and the body size limit."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import SecretStr
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BEARER = HTTPBearer(auto_error=False, description="The server's RIVERBED_API_KEY.")


class WriterKey:
    """The dependency of write endpoints on a server with an API key: the key, compared in
    constant time."""

    def __init__(self, key: SecretStr) -> None:
        self.key = key.get_secret_value().encode()

    def __call__(
        self, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]
    ) -> None:
        given = credentials.credentials.encode() if credentials else b""
        if not secrets.compare_digest(given, self.key):
            raise HTTPException(
                401,
                "this needs the API key: send Authorization: Bearer <RIVERBED_API_KEY>",
                headers={"WWW-Authenticate": "Bearer"},
            )


class BodySizeLimit:
    """Refuse request bodies over `max_bytes` with 413, declared (Content-Length) or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    def _too_large(self) -> str:
        return (
            f"the request body is larger than {self.max_bytes} bytes"
            " (the server's RIVERBED_MAX_REQUEST_BYTES): send fewer documents per request"
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            problem = None
            if not declared.isdigit():
                status, problem = 400, "Content-Length is not a number"
            elif int(declared) > self.max_bytes:
                status, problem = 413, self._too_large()
            if problem is not None:
                response = JSONResponse({"detail": problem}, status_code=status)
                await response(scope, receive, send)
                return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise HTTPException(413, self._too_large())
            return message

        await self.app(scope, limited, send)
