"""The API's running parts, built once per app and handed to routes through the typed lifespan state."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, TypedDict, cast

from fastapi import Depends, Request

from api.access import ScopeResolver
from api.audit import AuditLog
from api.context import ApiContext
from api.live_view import LiveViewHub
from api.metrics import ApiMetrics, InFlight
from api.names import CameraNames, PersonNames
from api.notify.render import Context as NotifyContext
from api.open311 import Gate
from api.sse import SseHub
from api.users import UserStore
from api.workers import WorkerRegistry
from events.group_commit import GroupCommit
from events.notify.dispatcher import Dispatcher


@dataclass(frozen=True, slots=True)
class Runtime:
    context: ApiContext
    users: UserStore
    metrics: ApiMetrics
    live_view: LiveViewHub
    sse: SseHub
    names: CameraNames
    people: PersonNames
    applying: InFlight
    """Observations from workers being applied right now."""
    audit: AuditLog
    scopes: ScopeResolver
    """Callers' scopes resolved to grids, remembered until the hierarchy changes."""
    workers: WorkerRegistry
    """Remote workers' last reports."""
    ingest: GroupCommit | None = None
    """Workers' observations, many requests to one transaction (None without the events service)."""
    dispatcher: Dispatcher | None = None
    """Sends the notification deliveries (None without notifications)."""
    notify_context: NotifyContext | None = None
    """Names and links for what the channels send (test-sends use it too)."""
    open311: Gate | None = None
    """The Open311 façade's client apps and rate limits (`api.routes.open311`)."""


class LifespanState(TypedDict):
    runtime: Runtime


async def get_runtime(request: Request) -> Runtime:
    """From the lifespan state; the app's own copy serves when the lifespan did not run (plain TestClient).

    Async, as every dependency that does no blocking work: a plain function would cost each request a
    hop through the thread pool."""
    return cast(Runtime, getattr(request.state, "runtime", None) or request.app.state.runtime)


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
