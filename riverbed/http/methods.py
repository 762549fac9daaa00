"""Which methods a path allows, said right: `OPTIONS` is answered, and a 405 lists them all.

Starlette routes each method of a path separately, so a 405 names only the methods of the first
route that matched the path (GET /search answers PATCH with `Allow: GET`, though POST exists too),
and OPTIONS is one more unsupported method. This middleware gathers the methods of every route
of the path (RFC 9110: `Allow` lists the methods the resource supports).
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def answer_other_methods(app: FastAPI) -> None:
    """Add the middleware to `app`; it reads the app's routes at each request that needs them."""
    app.add_middleware(AllowedMethods, routes_of=app)


class AllowedMethods:
    def __init__(self, app: ASGIApp, routes_of: FastAPI) -> None:
        self.app = app
        self.routes_of = routes_of

    def allowed(self, scope: Scope) -> list[str]:
        methods: set[str] = set()
        for route in self.routes_of.router.routes:
            match, _ = route.matches(scope)
            if match != Match.NONE:
                methods |= getattr(route, "methods", None) or set()
        if methods:
            methods.add("OPTIONS")
        return sorted(methods, key=lambda m: ORDER.index(m) if m in ORDER else len(ORDER))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            allowed = self.allowed(scope)
            if allowed:
                await Response(status_code=204, headers={"Allow": ", ".join(allowed)})(
                    scope, receive, send
                )
                return

        async def send_with_allow(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                headers.append((b"allow", ", ".join(self.allowed(scope)).encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_allow)
