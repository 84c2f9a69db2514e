"""The console's pages: plain HTML, CSS and JavaScript served from the package (no CDN, works offline)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Cookie
from fastapi.responses import FileResponse, RedirectResponse, Response

from api.auth import SESSION_COOKIE
from api.runtime import RuntimeDep

STATIC = Path(__file__).resolve().parent.parent / "console" / "static"

router = APIRouter(include_in_schema=False)

_NO_STORE = {"Cache-Control": "no-store"}


@router.get("/")
def console(runtime: RuntimeDep, session: Annotated[str | None, Cookie(alias=SESSION_COOKIE)] = None) -> Response:
    """The console shell; without a live session, the login page instead."""
    if not session or runtime.users.session_user(session) is None:
        return RedirectResponse("/login?next=" + quote("/", safe=""), status_code=303)
    return FileResponse(STATIC / "index.html", headers=_NO_STORE)


@router.get("/login")
def login_page() -> Response:
    return FileResponse(STATIC / "login.html", headers=_NO_STORE)
