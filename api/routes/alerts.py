"""Alerts: the live list, evidence, and what operators do with one (acknowledge, dismiss, escalate, make a case).

Everything is filtered by the caller's scope; an alert of another grid answers 404 like a missing one.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Path, Query
from fastapi.responses import FileResponse

from api.audit import AuditAction
from api.auth import AlertHandler, AlertReader, Principal, RecorderDep
from api.errors import AUTH, responses
from api.runtime import Runtime, RuntimeDep
from api.schemas import Moment
from api.work import MAX_ID, UPLOAD_HEADERS, EventsDep, actor_of, visible_alert
from api.work_schemas import AlertPage, AlertPublic, CasePublic, DismissBody, NoteBody
from core.errors import NotFound
from detectors.types import HazardType, Severity
from events.queries import AlertFilter
from events.types import Alert, AlertStatus, Case

router = APIRouter(prefix="/api/alerts", tags=["alerts"])

AlertId = Annotated[int, Path(ge=1, le=MAX_ID, description="Alert id.", examples=[412])]
Limit = Annotated[int, Query(ge=1, le=200, description="Page size.")]
Cursor = Annotated[
    str | None, Query(max_length=200, description="next_cursor of the previous page; omit for the first.")
]
NoteIn = Annotated[NoteBody | None, Body(openapi_examples={"note": {"value": {"note": "seen on the live view"}}})]


def public_alert(runtime: Runtime, alert: Alert) -> AlertPublic:
    return AlertPublic.of(alert, runtime.names.name(alert.camera_id))


def public_case(runtime: Runtime, principal: Principal, case: Case) -> CasePublic:
    """The case as ``principal`` sees it (with the actions they may take)."""
    return CasePublic.of(
        case,
        runtime.names.name(case.camera_id),
        runtime.context.clock.now(),
        principal.permissions,
        assignee_name=runtime.people.name(case.assignee_id),
    )


@router.get("", responses=responses(*AUTH, 422, 503))
def list_alerts(
    principal: AlertReader,
    runtime: RuntimeDep,
    events: EventsDep,
    status: Annotated[AlertStatus | None, Query(description="Only alerts with this status.")] = None,
    hazard: Annotated[HazardType | None, Query(description="Only this hazard type.")] = None,
    severity: Annotated[Severity | None, Query(description="Only this severity.")] = None,
    camera_id: Annotated[str | None, Query(max_length=64, description="Only this camera.")] = None,
    grid_id: Annotated[str | None, Query(max_length=64, description="Only this grid.", examples=["G-01"])] = None,
    since: Annotated[Moment | None, Query(description="Received at or after (with time zone).")] = None,
    until: Annotated[Moment | None, Query(description="Received before (with time zone).")] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> AlertPage:
    """Newest first, in the caller's scope; filters combine with AND."""
    f = AlertFilter(
        camera_id=camera_id,
        grid_id=grid_id,
        status=status,
        hazard=hazard,
        severity=severity,
        since=since,
        until=until,
        grid_ids=principal.scope.grid_ids,
    )
    page = events.alerts(f, cursor=cursor, limit=limit)
    names = runtime.names.names(a.camera_id for a in page.items)
    return AlertPage(
        items=[AlertPublic.of(a, names.get(a.camera_id)) for a in page.items], next_cursor=page.next_cursor
    )


@router.get("/{alert_id}", responses=responses(*AUTH, 404, 422, 503))
def get_alert(alert_id: AlertId, principal: AlertReader, runtime: RuntimeDep, events: EventsDep) -> AlertPublic:
    return public_alert(runtime, visible_alert(events, principal.scope, alert_id))


@router.get(
    "/{alert_id}/evidence",
    response_class=FileResponse,
    responses={
        200: {"description": "The evidence snapshot (boxes drawn).", "content": {"image/jpeg": {}}},
        **responses(*AUTH, 404, 410, 422, 503),
    },
)
def alert_evidence(alert_id: AlertId, principal: AlertReader, events: EventsDep, audit: RecorderDep) -> FileResponse:
    """The latest evidence snapshot of the alert; 404 when it has none, 410 when retention removed it.
    Recorded in the access audit."""
    alert = visible_alert(events, principal.scope, alert_id)
    path = events.evidence_file(alert_id)
    if not path.is_file():
        raise NotFound(f"alert {alert_id} has no evidence snapshot")
    audit.record(AuditAction.EVIDENCE_OPENED, f"alert {alert_id}", f"camera {alert.camera_id}")
    return FileResponse(
        path, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600", **UPLOAD_HEADERS}
    )


@router.post("/{alert_id}/ack", responses=responses(*AUTH, 404, 409, 422, 503))
def acknowledge(alert_id: AlertId, principal: AlertHandler, runtime: RuntimeDep, events: EventsDep) -> AlertPublic:
    """Someone is looking at it (only a new alert can be acknowledged)."""
    visible_alert(events, principal.scope, alert_id)
    return public_alert(runtime, events.acknowledge_alert(alert_id, actor_of(principal)))


@router.post("/{alert_id}/dismiss", responses=responses(*AUTH, 404, 409, 422, 503))
def dismiss(
    alert_id: AlertId,
    body: Annotated[DismissBody, Body(openapi_examples={"shadow": {"value": {"reason": "tree shadow"}}})],
    principal: AlertHandler,
    runtime: RuntimeDep,
    events: EventsDep,
) -> AlertPublic:
    """A false alarm; the reason is counted per camera and rule (``/api/figures/false-alarms``)."""
    visible_alert(events, principal.scope, alert_id)
    return public_alert(runtime, events.dismiss_alert(alert_id, actor_of(principal), body.reason))


@router.post("/{alert_id}/escalate", responses=responses(*AUTH, 404, 409, 422, 503))
def escalate(
    alert_id: AlertId, principal: AlertHandler, runtime: RuntimeDep, events: EventsDep, body: NoteIn = None
) -> CasePublic:
    """Take the alert's case (made now if needed) one level up, past the grid."""
    visible_alert(events, principal.scope, alert_id)
    note = body.note if body is not None else ""
    return public_case(runtime, principal, events.escalate_alert(alert_id, actor_of(principal), note))


@router.post("/{alert_id}/case", responses=responses(*AUTH, 404, 409, 422, 503))
def make_case(
    alert_id: AlertId, principal: AlertHandler, runtime: RuntimeDep, events: EventsDep, body: NoteIn = None
) -> CasePublic:
    """Make a case of the alert, or add it to the open case of its camera and hazard.

    An alert already in a case answers with that case: a repeated click never makes a second one.
    """
    visible_alert(events, principal.scope, alert_id)
    note = body.note if body is not None else ""
    return public_case(runtime, principal, events.alert_to_case(alert_id, actor_of(principal), note))
