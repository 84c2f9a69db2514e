"""The rule of core.text for what arrives outside a body model: the path and the query string.

Bodies are checked by their models (core.text.CheckedModel); a query parameter or a path segment goes
straight into SQL as well, so a NUL in ``?grid_id=`` must be refused here, naming it, before any route runs.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, unquote

from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import ErrorItem, refusal
from api.open311 import Open311Error, render_error
from core.text import integer_problem, text_problem

_INTEGER = re.compile(r"[+-]?\d+")


def query_problems(query_string: bytes, raw_path: str) -> list[ErrorItem]:
    problems: list[ErrorItem] = []
    path_problem = text_problem(unquote(raw_path, errors="surrogateescape"))
    if path_problem:
        problems.append(ErrorItem(where="path", message=path_problem))
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True, errors="surrogateescape")
    for name, value in pairs:
        problem = text_problem(name) or text_problem(value)
        if problem is None and _INTEGER.fullmatch(value):
            # 20 digits already exceed 64 bits; Python refuses to convert more than 4,300 at all (leading
            # zeros included: only the significant digits are converted)
            digits = value.lstrip("+-").lstrip("0") or "0"
            sign = -1 if value.startswith("-") else 1
            problem = integer_problem(sign * int(digits)) if len(digits) <= 20 else integer_problem(2**64)
        if problem:
            problems.append(ErrorItem(where=f"query.{(text_problem(name) and '?') or name}", message=problem))
    return problems


class EdgeMiddleware:
    """Refuses a request whose path or query holds what may not be stored, with the usual 422 body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw = scope.get("raw_path") or scope["path"].encode()
            problems = query_problems(scope.get("query_string", b""), raw.decode("latin-1"))
            if problems:
                path: str = scope["path"]
                if path.startswith("/open311/"):  # the Open311 façade answers in its spec's error format
                    fmt = "json" if path.endswith(".json") else "xml"
                    error = Open311Error(400, [f"{p.where.removeprefix('query.')}: {p.message}" for p in problems])
                    await render_error(fmt, error)(scope, receive, send)
                    return
                await refusal(problems)(scope, receive, send)
                return
        await self.app(scope, receive, send)
