"""How the HTTP API says what went wrong: one line in `detail` (and, for a 422, each problem
with its location beside a one-line `message`)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from index.store.base import StoreError
from index.store.disk import CatalogDamaged, DiskFailed
from riverbed.http.schemas import PATTERN_MEANS


def add_problem_handlers(app: FastAPI) -> None:
    """A failing disk or catalog is 503, another store refusal 409, a bad value 400."""
    app.add_exception_handler(RequestValidationError, validation_problem)  # type: ignore[arg-type]
    app.add_exception_handler(StoreError, store_problem)  # type: ignore[arg-type]
    app.add_exception_handler(ValueError, value_problem)  # type: ignore[arg-type]


def invalid(
    loc: tuple[str | int, ...], message: str, kind: str, reason: str = ""
) -> RequestValidationError:
    """A 422 for what the body's own reader (not pydantic) found wrong."""
    error: dict[str, Any] = {"type": kind, "loc": loc, "msg": message}
    if reason:
        error["ctx"] = {"error": reason}
    return RequestValidationError([error])


def validation_problem(_request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = exc.errors()
    lines = []
    for error in errors[:3]:
        if error.get("type") == "json_invalid":
            reason = error.get("ctx", {}).get("error", "")
            at = error.get("loc", ("body", 0))[-1]
            lines.append(f"the body is not valid JSON (at character {at}): {reason}".rstrip(": "))
            continue
        where = ".".join(str(part) for part in error.get("loc", ()) if part != "body")
        pattern = (error.get("ctx") or {}).get("pattern")
        message = PATTERN_MEANS.get(pattern, error.get("msg", "invalid"))
        lines.append(f"{where or 'body'}: {message.removeprefix('Value error, ')}")
    message = "; ".join(lines) + (f" (and {len(errors) - 3} more)" if len(errors) > 3 else "")
    detail = [{k: v for k, v in e.items() if k in ("loc", "msg", "type")} for e in errors]
    return JSONResponse({"detail": detail, "message": message}, status_code=422)


def store_problem(_request: Request, exc: StoreError) -> JSONResponse:
    # The disk or the catalog failing is the server's trouble (503), not the request's (409).
    status = 503 if isinstance(exc, DiskFailed | CatalogDamaged) else 409
    return JSONResponse({"detail": str(exc)}, status_code=status)


def value_problem(_request: Request, exc: Exception) -> JSONResponse:
    return JSONResponse({"detail": str(exc)}, status_code=400)
