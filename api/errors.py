"""The one place where gridwatch's error family becomes HTTP status codes."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from camera_config.errors import Conflict, GridwatchError, InvalidInput, NotFound, Unavailable

STATUS: list[tuple[type[GridwatchError], int]] = [
    (NotFound, 404),
    (Conflict, 409),
    (InvalidInput, 422),
    (Unavailable, 503),
]


def status_for(exc: GridwatchError) -> int:
    for kind, code in STATUS:
        if isinstance(exc, kind):
            return code
    return 400


def install(app: FastAPI) -> None:
    @app.exception_handler(GridwatchError)
    async def _handle(_request: Request, exc: GridwatchError) -> JSONResponse:
        body: dict[str, object] = {"detail": str(exc)}
        if isinstance(exc, InvalidInput):
            body["errors"] = [{"where": i.where, "message": i.message} for i in exc.issues]
        return JSONResponse(status_code=status_for(exc), content=body)
