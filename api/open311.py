"""The Open311 GeoReport v2 façade's own parts: client apps and their keys, rate limits, and the two formats.

Keys: one per client app (``gridwatch open311 client add``), shown once and stored only as a SHA-256 hash.
A missing, unknown or disabled key is refused with 403, as the spec's examples do.

Rate limits: a token bucket per client app (its ``rate_per_min``, bursts up to the same number) for posts,
and one per caller address for the public reads. The buckets live in the process: behind several API
processes each has its own, so the site-wide ceiling is the limit times the processes.

Formats: the resource's suffix (``.json`` or ``.xml``) chooses; XML is what the spec requires, JSON is
offered too. Errors are the spec's ``[{"code": 400, "description": "..."}]`` or
``<errors><error><code>400</code><description>...</description></error></errors>``; every description of
refused input starts with the field it is about (``lat: ...``).
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from xml.sax.saxutils import escape

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from starlette.responses import Response

from api.orm import Open311ClientRow
from core.clock import Clock
from core.db import transaction
from core.errors import Conflict, InvalidInput, Issue, NotFound

KEY_PREFIX = "o311_"
DEFAULT_RATE_PER_MIN = 30
"""Posts per minute a client app may make unless given another rate."""
PUBLIC_RATE_PER_MIN = 120
"""Reads per minute one caller address may make (the reads need no key)."""
MAX_RATE_PER_MIN = 100_000
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
FORMATS = {"json": "application/json; charset=utf-8", "xml": "text/xml; charset=utf-8"}


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


# ---------------------------------------------------------------------- client apps


@dataclass(frozen=True, slots=True)
class Client:
    id: int
    name: str
    prefix: str
    rate_per_min: int
    enabled: bool
    created_at: datetime
    last_used_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class NewClient:
    client: Client
    key: str
    """Shown once; only its hash is stored."""


def _client(row: Open311ClientRow) -> Client:
    return Client(row.id, row.name, row.prefix, row.rate_per_min, row.enabled, row.created_at, row.last_used_at)


def parse_rate(text: str) -> int:
    """``30/min`` or ``30`` → 30 posts a minute."""
    value = text.strip().lower().removesuffix("/min").strip()
    if not value.isdigit() or not 1 <= int(value) <= MAX_RATE_PER_MIN:
        raise InvalidInput(Issue("rate", f'"{text}" is not N/min with N from 1 to {MAX_RATE_PER_MIN}'))
    return int(value)


class Clients:
    """The table of client apps; keys are checked by hash (a recent answer is remembered for a few seconds)."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, *, cache_s: float = 5.0) -> None:
        self._sessions = sessions
        self._clock = clock
        self._cache_s = cache_s
        self._cache: OrderedDict[str, tuple[float, Client | None]] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, name: str, rate_per_min: int = DEFAULT_RATE_PER_MIN) -> NewClient:
        if not _NAME.fullmatch(name):
            raise InvalidInput(
                Issue("name", "1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit")
            )
        if not 1 <= rate_per_min <= MAX_RATE_PER_MIN:
            raise InvalidInput(Issue("rate", f"from 1 to {MAX_RATE_PER_MIN} a minute"))
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        row = Open311ClientRow(
            name=name,
            key_hash=_sha256(key),
            prefix=key[: len(KEY_PREFIX) + 4],
            rate_per_min=rate_per_min,
            enabled=True,
            created_at=self._clock.now(),
        )
        try:
            with transaction(self._sessions) as s:
                s.add(row)
                s.flush()
                client = _client(row)
        except IntegrityError:
            raise Conflict(f'an Open311 client "{name}" already exists') from None
        return NewClient(client, key)

    def all(self) -> list[Client]:
        with self._sessions() as s:
            return [_client(r) for r in s.scalars(select(Open311ClientRow).order_by(Open311ClientRow.name))]

    def set_enabled(self, name: str, enabled: bool) -> Client:
        with transaction(self._sessions) as s:
            row = s.scalars(select(Open311ClientRow).where(Open311ClientRow.name == name)).one_or_none()
            if row is None:
                raise NotFound(f'no Open311 client "{name}"')
            row.enabled = enabled
            client = _client(row)
        with self._lock:
            self._cache.clear()
        return client

    def check(self, key: str) -> Client | None:
        """The enabled client app the key belongs to, or None."""
        if not key.startswith(KEY_PREFIX) or len(key) > 128:
            return None
        digest = _sha256(key)
        now = self._clock.monotonic()
        with self._lock:
            hit = self._cache.get(digest)
            if hit is not None and now - hit[0] < self._cache_s:
                return hit[1]
        with self._sessions() as s:
            row = s.scalars(select(Open311ClientRow).where(Open311ClientRow.key_hash == digest)).one_or_none()
            client = _client(row) if row is not None and row.enabled else None
        with self._lock:
            self._cache[digest] = (now, client)
            while len(self._cache) > 1000:
                self._cache.popitem(last=False)
        return client

    def used(self, client: Client) -> None:
        with transaction(self._sessions) as s:
            s.execute(
                update(Open311ClientRow).where(Open311ClientRow.id == client.id).values(last_used_at=self._clock.now())
            )


# ---------------------------------------------------------------------- rate limits


class RateLimiter:
    """Token buckets by key, in this process: ``allow`` answers 0 (go on) or the seconds to wait."""

    def __init__(self, clock: Clock, *, max_keys: int = 10_000) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # key -> (tokens, at)
        self._lock = threading.Lock()

    def allow(self, key: str, per_min: int) -> int:
        now = self._clock.monotonic()
        rate = per_min / 60.0
        with self._lock:
            tokens, at = self._buckets.pop(key, (float(per_min), now))
            tokens = min(float(per_min), tokens + (now - at) * rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                wait = 0
            else:
                self._buckets[key] = (tokens, now)
                wait = max(1, math.ceil((1.0 - tokens) / rate))
            while len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
        return wait


@dataclass(slots=True)
class Gate:
    """What the Open311 routes share: the client table and the limiters, with the public reads' rate."""

    clients: Clients
    limiter: RateLimiter
    public_rate_per_min: int = PUBLIC_RATE_PER_MIN


# ---------------------------------------------------------------------- the two formats


class Open311Error(Exception):
    """An answer in the spec's error format: one or more (code, description) pairs under one HTTP status."""

    def __init__(self, status: int, descriptions: Sequence[str], headers: Mapping[str, str] | None = None) -> None:
        super().__init__("; ".join(descriptions))
        self.status = status
        self.descriptions = list(descriptions)
        self.headers = dict(headers or {})

    @classmethod
    def invalid(cls, issues: Sequence[Issue]) -> Open311Error:
        return cls(400, [f"{i.where}: {i.message}" for i in issues])


def iso(value: datetime | None) -> str | None:
    """ISO 8601 with its time zone (UTC, ``Z``), whole seconds."""
    if value is None:
        return None
    return value.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _xml_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return escape(str(value))


def _xml_element(tag: str, value: Any, item_tags: Mapping[str, str]) -> str:
    if isinstance(value, Mapping):
        inner = "".join(_xml_element(k, v, item_tags) for k, v in value.items())
        return f"<{tag}>{inner}</{tag}>"
    if isinstance(value, list | tuple):
        child = item_tags.get(tag, "item")
        inner = "".join(_xml_element(child, v, item_tags) for v in value)
        return f"<{tag}>{inner}</{tag}>"
    return f"<{tag}>{_xml_value(value)}</{tag}>" if value not in (None, "") else f"<{tag}/>"


def to_xml(root: str, value: Any, item_tags: Mapping[str, str]) -> str:
    """``<?xml ...?><root>...</root>``; a list under ``tag`` holds ``item_tags[tag]`` elements."""
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + _xml_element(root, value, item_tags)


ITEM_TAGS = {
    "services": "service",
    "service_requests": "request",
    "errors": "error",
    "endpoints": "endpoint",
    "formats": "format",
    "keywords": "keyword",
    "attributes": "attribute",
    "values": "value",
}


def render(fmt: str, root: str, value: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """The resource in ``fmt``: JSON as it is, XML under ``root`` (a list's items named by `ITEM_TAGS`)."""
    if fmt == "xml":
        body = to_xml(root, value, ITEM_TAGS)
    else:
        body = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return Response(body.encode("utf-8"), status_code=status, media_type=FORMATS[fmt], headers=dict(headers or {}))


def render_error(fmt: str, exc: Open311Error) -> Response:
    items = [{"code": exc.status, "description": d} for d in exc.descriptions]
    return render(fmt, "errors", items, exc.status, exc.headers)
