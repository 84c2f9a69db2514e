"""The access audit for admins: who watched, opened, exported, imported or changed what; as pages or CSV."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from api.audit import AuditAction, AuditEntry, AuditFilter
from api.auth import AuditReader
from api.errors import AUTH, responses
from api.runtime import RuntimeDep
from api.schemas import AccessAuditPage, AccessEntryPublic, Moment
from camera_config.camera_csv import spreadsheet_safe

router = APIRouter(prefix="/api", tags=["audit"])

CSV_COLUMNS = ("at", "actor", "actor_role", "action", "target", "detail", "address")

Actor = Annotated[str | None, Query(max_length=100, description="Only this actor (login name or cli:<os user>).")]
Action = Annotated[AuditAction | None, Query(description="Only this action.")]
Target = Annotated[
    str | None, Query(max_length=200, description="Only this target: a camera id, alert N, attachment N, a user name.")
]
Since = Annotated[Moment | None, Query(description="At or after (with time zone).")]
Until = Annotated[Moment | None, Query(description="Before (with time zone).")]


async def audit_filter(
    actor: Actor = None, action: Action = None, target: Target = None, since: Since = None, until: Until = None
) -> AuditFilter:
    """The filters both the list and the CSV take."""
    return AuditFilter(actor=actor, action=action, target=target, since=since, until=until)


Filter = Annotated[AuditFilter, Depends(audit_filter)]


@router.get("/audit", responses=responses(*AUTH, 422))
def list_audit(
    _admin: AuditReader,
    runtime: RuntimeDep,
    f: Filter,
    cursor: Annotated[
        str | None, Query(max_length=200, description="next_cursor of the previous page; omit for the first.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200, description="Page size.")] = 50,
) -> AccessAuditPage:
    """Newest first; filters combine with AND."""
    page = runtime.audit.query(f, cursor=cursor, limit=limit)
    return AccessAuditPage(items=[AccessEntryPublic.of(e) for e in page.items], next_cursor=page.next_cursor)


def _csv(entries: Iterator[AuditEntry]) -> Iterator[str]:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for e in entries:
        text = [e.actor, e.actor_role, e.action.value, e.target, e.detail, e.address or ""]
        writer.writerow([e.at.isoformat(), *(spreadsheet_safe(cell) for cell in text)])
        if out.tell() > 64 * 1024:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    yield out.getvalue()


@router.get(
    "/audit.csv",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "Every matching row, newest first: " + ",".join(CSV_COLUMNS) + ". Text a spreadsheet "
            "would run as a formula starts with an apostrophe.",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        **responses(*AUTH, 422),
    },
)
def export_audit(_admin: AuditReader, runtime: RuntimeDep, f: Filter) -> StreamingResponse:
    """The same rows as ``/api/audit`` with the same filters, all of them, as a CSV download."""
    return StreamingResponse(
        _csv(runtime.audit.entries(f)),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="access-audit.csv"', "Cache-Control": "no-store"},
    )
