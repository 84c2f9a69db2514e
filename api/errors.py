"""The one place where gridwatch's error family becomes HTTP: status codes, bodies and their schema.

Every error body has the same shape (`ErrorBody`): a ``detail`` sentence and, for refused input,
``errors`` naming each field at fault (``streams.main``, ``zones[2].points``, ``query.limit``).
Where the sentence is fixed by its kind, a ``code`` and its ``params`` come with it too, so a client
(the console) can say it in the user's language; it shows the English text for any code it does not know.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.errors import Conflict, Gone, GridwatchError, InvalidInput, NotFound, Unavailable
from core.redact import redact_error

log = logging.getLogger(__name__)


class Unauthenticated(GridwatchError):
    """No valid session or token came with the request, or a login was refused."""


class Forbidden(GridwatchError):
    """The caller is known but their role does not allow this."""


class TooLarge(GridwatchError):
    """An upload is bigger than the route accepts; ``where`` names the field (``body``, ``photos[1]``)."""

    def __init__(self, message: str, where: str) -> None:
        super().__init__(message)
        self.where = where


class Throttled(GridwatchError):
    """Too many failed logins: try again after ``retry_after_s`` seconds."""

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = max(1, retry_after_s)


STATUS: list[tuple[type[GridwatchError], int]] = [
    (Unauthenticated, 401),
    (Forbidden, 403),
    (NotFound, 404),
    (Conflict, 409),
    (Gone, 410),
    (TooLarge, 413),
    (InvalidInput, 422),
    (Throttled, 429),
    (Unavailable, 503),
]


def status_for(exc: GridwatchError) -> int:
    for kind, code in STATUS:
        if isinstance(exc, kind):
            return code
    return 400


Param = str | int | float | bool


class ErrorItem(BaseModel):
    where: str = Field(description="The field at fault, as a path into the request.", examples=["streams.main"])
    message: str = Field(description="What is wrong with it.", examples=["only rtsp:// or rtsps:// URLs are accepted"])
    code: str | None = Field(
        None, description="The kind of problem, when the message is fixed by it.", examples=["string_too_short"]
    )
    params: dict[str, Param] | None = Field(
        None, description="The values the message names (with `code`).", examples=[{"min_length": 1}]
    )


class ErrorBody(BaseModel):
    detail: str = Field(
        description="What went wrong, in one or more lines.", examples=['camera "CAM-9" does not exist']
    )
    errors: list[ErrorItem] = Field(default_factory=list, description="Refused input: every problem found.")
    code: str | None = Field(
        None, description="The kind of error, when `detail` is fixed by it.", examples=["too_many_logins"]
    )
    params: dict[str, Param] | None = Field(
        None, description="The values `detail` names (with `code`).", examples=[{"retry_after_s": 30}]
    )


_EXAMPLES: dict[int, tuple[str, dict[str, Any]]] = {
    400: ("The request cannot be carried out.", {"detail": "bad request"}),
    401: ("No valid session cookie or bearer token.", {"detail": "log in or send a bearer token"}),
    403: ("The caller's role does not allow this.", {"detail": "your role (viewer) may not do this (site:write)"}),
    404: ("Does not exist, or is outside the caller's scope.", {"detail": 'camera "CAM-9" does not exist'}),
    409: ("Clashes with the current state.", {"detail": 'camera "CAM-01" already exists'}),
    410: (
        "The file existed but was removed (its keeping period ended).",
        {"detail": "the evidence snapshot of alert 412 was removed by retention on 2026-04-01"},
    ),
    413: ("The upload is too large.", {"detail": "the file is larger than 10 MB"}),
    422: (
        "Input refused; every field at fault is listed.",
        {
            "detail": "streams.main: only rtsp:// or rtsps:// URLs are accepted",
            "errors": [{"where": "streams.main", "message": "only rtsp:// or rtsps:// URLs are accepted"}],
        },
    ),
    429: ("Too many failed logins; see Retry-After.", {"detail": "too many failed logins; try again in 30 s"}),
    503: ("A component the request needs is not reachable.", {"detail": "the camera stream cannot be opened"}),
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error codes a route can answer with, all with the `ErrorBody` schema."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        description, example = _EXAMPLES[code]
        out[code] = {
            "model": ErrorBody,
            "description": description,
            "content": {"application/json": {"example": example}},
        }
    return out


AUTH = (401, 403)
"""Codes every authenticated route can answer with."""


def _where(loc: Sequence[int | str]) -> str:
    parts = list(loc)
    prefix = ""
    if parts and parts[0] in ("query", "path", "header", "cookie"):
        prefix = str(parts.pop(0))
    elif parts and parts[0] == "body":
        parts.pop(0)
    out = prefix
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def _body(
    detail: str, errors: Sequence[ErrorItem] = (), code: str | None = None, params: dict[str, Param] | None = None
) -> dict[str, Any]:
    # Fields without a value are left out: a body without a code is exactly what it was before codes.
    return ErrorBody(detail=detail, errors=list(errors), code=code, params=params).model_dump(exclude_none=True)


# Pydantic error types whose message is the validator's own sentence: no code says it in other words.
_OWN_MESSAGE = {"value_error", "assertion_error"}


def _validation_item(err: Any) -> ErrorItem:
    """One pydantic error as an item: its type is the code, its context (``min_length``, ``expected``) the params."""
    kind = str(err.get("type", ""))
    message = (
        "required"
        if kind == "missing"
        else "unknown key"
        if kind == "extra_forbidden"
        else str(err.get("msg", "invalid")).removeprefix("Value error, ")
    )
    if not kind or kind in _OWN_MESSAGE:
        return ErrorItem(where=_where(err.get("loc", ())), message=message)
    ctx = err.get("ctx") or {}
    params = {k: v if isinstance(v, Param) else str(v) for k, v in ctx.items()}
    return ErrorItem(where=_where(err.get("loc", ())), message=message, code=kind, params=params or None)


def refusal(items: Sequence[ErrorItem]) -> JSONResponse:
    """The 422 answer to refused input, every field at fault listed."""
    detail = "\n".join(f"{i.where}: {i.message}" for i in items[:20]) or "invalid request"
    return JSONResponse(status_code=422, content=_body(detail, items))


def _document_errors(app: FastAPI) -> None:
    """Every error response is `ErrorBody` as JSON, whatever the route's own media type (SSE, metrics),
    including FastAPI's own 422, which it would otherwise document with its default body."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = original()
        for operations in schema.get("paths", {}).values():
            for op in operations.values():
                for code, resp in op.get("responses", {}).items():
                    if not code.startswith(("4", "5")):
                        continue
                    description, example = _EXAMPLES.get(int(code), (resp.get("description", ""), {"detail": "error"}))
                    if code == "422" or not resp.get("description"):
                        resp["description"] = description
                    resp["content"] = {
                        "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}, "example": example}
                    }
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


def install(app: FastAPI) -> None:
    _document_errors(app)

    @app.exception_handler(GridwatchError)
    async def _gridwatch(_request: Request, exc: GridwatchError) -> JSONResponse:
        errors: list[ErrorItem] = []
        if isinstance(exc, InvalidInput):
            errors = [
                ErrorItem(where=i.where, message=i.message, code=i.code, params=dict(i.params) if i.params else None)
                for i in exc.issues
            ]
        if isinstance(exc, TooLarge):
            errors = [ErrorItem(where=exc.where, message=str(exc))]
        headers: dict[str, str] = {}
        code: str | None = exc.code
        params: dict[str, Param] | None = dict(exc.params) if exc.params else None
        if isinstance(exc, Throttled):
            headers["Retry-After"] = str(exc.retry_after_s)
            code, params = "too_many_logins", {"retry_after_s": exc.retry_after_s}
        if isinstance(exc, Unauthenticated):
            headers["WWW-Authenticate"] = "Bearer"
        content = _body(str(exc), errors, code, params)
        return JSONResponse(status_code=status_for(exc), content=content, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return refusal([_validation_item(err) for err in exc.errors()])

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Still the JSON error shape; the server logs the exception itself (with credentials redacted).
        log.error("%s %s failed: %s", request.method, request.url.path, redact_error(exc))
        content = _body("internal error: the request was not carried out", code="internal_error")
        return JSONResponse(status_code=500, content=content)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else "error"
        if exc.status_code == 400:
            # FastAPI's answer to a body it cannot parse: refused input like any other, at the field "body".
            return JSONResponse(
                status_code=422, content=_body(f"body: {detail}", [ErrorItem(where="body", message=detail)])
            )
        return JSONResponse(status_code=exc.status_code, content=_body(detail), headers=exc.headers)
