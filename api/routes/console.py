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

_PAGE_HEADERS = {
    "Cache-Control": "no-store",
    # Only this server's scripts; inline style attributes are used by the page scripts, nothing else inline.
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self' 'unsafe-inline'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


@router.get("/")
def console(runtime: RuntimeDep, session: Annotated[str | None, Cookie(alias=SESSION_COOKIE)] = None) -> Response:
    """The console shell; without a live session, the login page instead."""
    if not session or runtime.users.session_user(session) is None:
        return RedirectResponse("/login?next=" + quote("/", safe=""), status_code=303)
    return FileResponse(STATIC / "index.html", headers=_PAGE_HEADERS)


@router.get("/login")
def login_page() -> Response:
    return FileResponse(STATIC / "login.html", headers=_PAGE_HEADERS)
