"""What the alert, case and figure routes share: the events service, the actor, scope checks, camera names."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from api.access import GridScope, Role
from api.auth import Principal
from api.runtime import RuntimeDep
from core.errors import Unavailable
from events.service import EventsService
from events.types import Actor, ActorRole, Alert, CaseDetail

MAX_ID = 2**63 - 1
"""Ids are 64-bit in the database: a bigger one cannot exist (and would overflow the query)."""

_ACTOR_ROLES: dict[Role, ActorRole] = {
    Role.ADMIN: ActorRole.OPERATOR,
    Role.OPERATOR: ActorRole.OPERATOR,
    Role.GRID_WORKER: ActorRole.GRID_WORKER,
    Role.PROPERTY_STAFF: ActorRole.PROPERTY,
    Role.COMPOUND_STAFF: ActorRole.PROPERTY,
    Role.PARTNER_MEMBER: ActorRole.PARTNER,
    Role.WORKER: ActorRole.SYSTEM,
}


def actor_of(principal: Principal) -> Actor:
    """The caller as events records them: their login name, in the role their account has."""
    return Actor(principal.user.username, _ACTOR_ROLES.get(principal.user.role, ActorRole.OPERATOR))


NO_EVENTS = "alerts and cases are not available: this server runs without the events service"


async def get_events(runtime: RuntimeDep) -> EventsService:
    events = runtime.context.events
    if events is None:
        raise Unavailable(NO_EVENTS)
    return events


EventsDep = Annotated[EventsService, Depends(get_events)]


def visible_alert(events: EventsService, scope: GridScope, alert_id: int) -> Alert:
    """The alert, or 404 when it does not exist or lies outside the scope (the same answer)."""
    alert = events.alert(alert_id)
    scope.check(alert.grid_id, "alert", alert_id)
    return alert


def visible_case(events: EventsService, scope: GridScope, case_id: int) -> CaseDetail:
    """The case with its trail, or 404 when it does not exist or lies outside the scope."""
    detail = events.case(case_id)
    scope.check_case(detail.case)
    return detail


UPLOAD_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; img-src 'self'; media-src 'self'; sandbox",
}
"""Residents' and workers' uploads are never run as a page, whatever bytes they hold."""
