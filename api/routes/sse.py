"""Server-sent events for consoles: what changed, only for grids in the caller's scope."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.sse import EventSourceResponse, ServerSentEvent

from api.auth import SiteReader
from api.errors import AUTH, responses
from api.runtime import RuntimeDep
from api.work_schemas import caller_actions
from events.types import CaseState

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
    ``case.changed`` (a case as in ``GET /api/cases``, its ``allowed_actions`` those of the caller),
    ``camera.changed``, ``camera.deleted`` and ``cameras.imported``."""
    after = int(last_event_id) if last_event_id and last_event_id.isdigit() else None
    async with runtime.sse.subscribe(principal.scope, after_id=after) as sub:
        while True:
            event = await sub.next()
            if event is None:
                return
            data = {**event.data, "at": event.at.isoformat()}
            if event.kind.startswith("case.") and "allowed_actions" in data:
                # published once for everyone: what this subscriber may do to the case is filled in here
                allowed, notes = caller_actions(CaseState(data["state"]), principal.permissions)
                data.update(allowed_actions=[a.value for a in allowed], note_required=[a.value for a in notes])
            yield ServerSentEvent(id=str(event.id), event=event.kind, data=data, retry=3000)
