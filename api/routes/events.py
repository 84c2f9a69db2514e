"""Server-sent events for consoles: what changed, only for grids in the caller's scope."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.sse import EventSourceResponse, ServerSentEvent

from api.auth import SiteReader
from api.errors import AUTH, responses
from api.runtime import RuntimeDep

router = APIRouter(tags=["events"])


@router.get("/api/events", response_class=EventSourceResponse, responses=responses(*AUTH))
async def events(
    principal: SiteReader,
    runtime: RuntimeDep,
    last_event_id: Annotated[
        str | None, Header(max_length=20, description="Resume after this event (browsers send it on reconnect).")
    ] = None,
) -> AsyncIterator[ServerSentEvent]:
    """A stream of events, each with a JSON ``data`` object, filtered by the caller's scope:
    ``alert.new`` / ``alert.changed`` (an alert as ``GET /api/alerts/{id}`` gives it), ``case.new`` /
    ``case.changed`` (a case as in ``GET /api/cases``), ``camera.changed``, ``camera.deleted`` and
    ``cameras.imported``."""
    after = int(last_event_id) if last_event_id and last_event_id.isdigit() else None
    async with runtime.events.subscribe(principal.scope, after_id=after) as sub:
        while True:
            event = await sub.next()
            if event is None:
                return
            yield ServerSentEvent(
                id=str(event.id), event=event.kind, data={**event.data, "at": event.at.isoformat()}, retry=3000
            )
