"""Cases: the board, a case's trail, moving it along the loop (with photos), comments, patrol reports.

A grid worker sees the cases of their grids and does the field work (accept, start, resolve, comment,
photos, patrol reports); the centre's moves (register, dispatch, verify, close, reopen, dismiss,
escalate) need an operator. A case outside the caller's scope answers 404 like a missing one.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Body, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse
from pydantic import BaseModel, ValidationError
from starlette.datastructures import UploadFile

from api.access import action_permission, sees_reporter
from api.audit import AuditAction
from api.auth import CaseReader, CaseWorker, RecorderDep
from api.errors import AUTH, Forbidden, TooLarge, responses
from api.routes.alerts import Cursor, Limit, public_case
from api.runtime import RuntimeDep
from api.work import MAX_ID, UPLOAD_HEADERS, EventsDep, actor_of, visible_case
from api.work_schemas import (
    CaseCounts,
    CaseDetailPublic,
    CasePage,
    CasePublic,
    CommentBody,
    CommentForm,
    CommentPublic,
    PatrolReportBody,
    TransitionBody,
)
from camera_config.issues import pydantic_issues
from core.errors import InvalidInput, Issue, NotFound
from events.files import check_attachments
from events.queries import CaseFilter
from events.service import EventsService
from events.types import CaseAction, CaseSource, CaseState, Level, NewAttachment, PatrolReport

router = APIRouter(prefix="/api/cases", tags=["cases"])
files_router = APIRouter(tags=["cases"])

CaseId = Annotated[int, Path(ge=1, le=MAX_ID, description="Case id.", examples=[57])]
MAX_JSON_BYTES = 64 * 1024
_M = TypeVar("_M", bound=BaseModel)

_TEXT = {"type": "string", "maxLength": 4000}
_ACTION = {"type": "string", "enum": [a.value for a in CaseAction], "description": "What to do."}
_ASSIGNEE = {"type": "string", "minLength": 1, "maxLength": 64, "description": "Dispatch only: hand it to this person."}
TRANSITION_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["action"],
                "additionalProperties": False,
                "properties": {"action": _ACTION, "note": _TEXT, "assignee_id": _ASSIGNEE},
            },
            "examples": {
                "accept": {"value": {"action": "accept"}},
                "resolve": {"value": {"action": "resolve", "note": "crowd dispersed; gate cleared"}},
            },
        },
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "required": ["action"],
                "properties": {
                    "action": _ACTION,
                    "note": _TEXT,
                    "assignee_id": _ASSIGNEE,
                    "photos": {
                        "type": "array",
                        "items": {"type": "string", "format": "binary"},
                        "description": "Photos (or other files) for this step; JPEG, PNG, MP4 or PDF by default.",
                    },
                },
            }
        },
    },
}

_PHOTOS = {
    "type": "array",
    "items": {"type": "string", "format": "binary"},
    "description": "Photos (or other files); JPEG, PNG, MP4 or PDF by default, with the same limits as a step's.",
}
COMMENT_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["text"],
                "additionalProperties": False,
                "properties": {"text": {"type": "string", "minLength": 1, "maxLength": 4000}},
            },
            "examples": {"call": {"value": {"text": "called the property office"}}},
        },
        "multipart/form-data": {
            "schema": {
                "type": "object",
                "properties": {
                    "text": {**_TEXT, "description": "May be empty when photos come with it."},
                    "photos": _PHOTOS,
                },
            }
        },
    },
}


@router.get("", responses=responses(*AUTH, 422, 503))
def list_cases(
    principal: CaseReader,
    runtime: RuntimeDep,
    events: EventsDep,
    state: Annotated[list[CaseState] | None, Query(max_length=11, description="Any of these states (repeat).")] = None,
    grid_id: Annotated[str | None, Query(max_length=64, description="Only this grid.", examples=["G-01"])] = None,
    level: Annotated[Level | None, Query(description="Who answers for it now.")] = None,
    source: Annotated[CaseSource | None, Query(description="camera, patrol, hotline or resident.")] = None,
    assignee_id: Annotated[str | None, Query(max_length=64, description="Assigned to this person.")] = None,
    mine: Annotated[bool, Query(description="Only cases assigned to the caller's person.")] = False,
    overdue: Annotated[
        bool | None, Query(description="true: open and past the first deadline; false: the others.")
    ] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> CasePage:
    """Most urgent (earliest deadline) first, in the caller's scope; filters combine with AND."""
    now = runtime.context.clock.now()
    person = principal.user.person_id
    if mine and principal.scope.holders is not None:
        pass  # a company's or partner unit's people: whatever their holder holds is theirs, whoever answers
    elif mine:
        if person is None:
            return CasePage(items=[], next_cursor=None)
        if assignee_id is not None and assignee_id != person:
            return CasePage(items=[], next_cursor=None)
        assignee_id = person
    f = principal.scope.cases(
        CaseFilter(
            states=tuple(state or ()),
            grid_id=grid_id,
            level=level,
            source=source,
            assignee_id=assignee_id,
            late_at=now if overdue else None,
            on_time_at=now if overdue is False else None,
        )
    )
    page = events.cases(f, cursor=cursor, limit=limit)
    items, nxt = list(page.items), page.next_cursor
    names = runtime.names.names(c.camera_id for c in items)
    people = runtime.people.names(c.assignee_id for c in items)
    perms = principal.permissions
    return CasePage(
        items=[
            CasePublic.of(c, names.get(c.camera_id or ""), now, perms, assignee_name=people.get(c.assignee_id or ""))
            for c in items
        ],
        next_cursor=nxt,
    )


@router.get("/counts", responses=responses(*AUTH, 422, 503))
def case_counts(
    principal: CaseReader,
    events: EventsDep,
    grid_id: Annotated[str | None, Query(max_length=64, description="Only this grid.", examples=["G-01"])] = None,
) -> CaseCounts:
    """Cases per state in the caller's scope (for the board's column headers)."""
    return CaseCounts.of(events.case_counts(principal.scope.cases(CaseFilter(grid_id=grid_id))))


@router.post("", status_code=201, responses=responses(*AUTH, 422, 503))
def patrol_report(
    body: Annotated[
        PatrolReportBody,
        Body(
            openapi_examples={
                "fence": {
                    "summary": "A grid worker's patrol finding",
                    "value": {"grid_id": "G-01", "title": "Broken fence by Block 2", "severity": "medium"},
                }
            }
        ),
    ],
    principal: CaseWorker,
    runtime: RuntimeDep,
    events: EventsDep,
) -> CasePublic:
    """Report a problem found on patrol: a case in the reported state, for the centre to register."""
    unknown = InvalidInput(Issue("grid_id", f'grid "{body.grid_id}" does not exist'))
    if not principal.scope.allows(body.grid_id):
        raise unknown
    report = PatrolReport(
        grid_id=body.grid_id,
        title=body.title,
        description=body.description,
        severity=body.severity,
        hazard=body.hazard,
        location=body.location,
    )
    try:
        case = events.patrol_report(report, actor_of(principal))
    except NotFound:
        raise unknown from None
    return public_case(runtime, principal, case)


@router.get("/{case_id}", responses=responses(*AUTH, 404, 422, 503))
def get_case(
    case_id: CaseId, principal: CaseReader, runtime: RuntimeDep, events: EventsDep, audit: RecorderDep
) -> CaseDetailPublic:
    """The case with its trail (each step with its files), comments and alerts; a resident case's reporter
    and contact only for callers who handle cases (cases:work), recorded in the access audit when served."""
    detail = visible_case(events, principal.scope, case_id)
    reporter = None
    if detail.case.source is CaseSource.RESIDENT and sees_reporter(principal.permissions):
        reporter = events.resident_reporter(case_id)
        if reporter is not None and reporter.has_contact:
            audit.record(AuditAction.REPORTER_VIEWED, f"case {case_id}", f"app {reporter.client}")
    return CaseDetailPublic.of(
        detail,
        runtime.names.name(detail.case.camera_id),
        runtime.context.clock.now(),
        principal.permissions,
        runtime.people.name(detail.case.assignee_id),
        reporter,
    )


@router.post(
    "/{case_id}/transitions",
    responses=responses(*AUTH, 404, 409, 413, 422, 503),
    openapi_extra={"requestBody": TRANSITION_BODY},
)
async def transition(
    case_id: CaseId, request: Request, principal: CaseWorker, runtime: RuntimeDep, events: EventsDep
) -> CasePublic:
    """Move the case along the loop: JSON, or a multipart form when photos come with the step.

    409 when the action is not allowed from the case's state (the answer names both); a file over
    the size limit is 413, one of a type not accepted is 422.
    """
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        fields, photos = await _read_form(request, events)
        body = _body(TransitionBody, fields)
    else:
        body, photos = _body(TransitionBody, await _read_json(request)), []
    if not principal.can(action_permission(body.action)):
        raise Forbidden(f"your role ({principal.user.role.value}) may not {body.action.value} a case")
    if photos:
        check_attachments(photos, events.policy.attachments, "photos")

    def work() -> CasePublic:
        visible_case(events, principal.scope, case_id)
        case = events.transition(
            case_id,
            body.action,
            actor_of(principal),
            body.note,
            photos,
            assignee_id=body.assignee_id,
            holder=body.holder,
        )
        return public_case(runtime, principal, case)

    return await run_in_threadpool(work)


async def _read_json(request: Request) -> Any:
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_JSON_BYTES:
            raise TooLarge(f"the body is larger than {MAX_JSON_BYTES // 1024} KiB", "body")
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput(Issue("body", "not a JSON object")) from None
    return doc


def _body(model: type[_M], doc: Any) -> _M:
    if not isinstance(doc, dict):
        raise InvalidInput(Issue("body", "not a JSON object"))
    try:
        return model.model_validate(doc)
    except ValidationError as exc:
        raise InvalidInput(pydantic_issues(exc, "")) from None


async def _read_form(request: Request, events: EventsService) -> tuple[dict[str, Any], list[NewAttachment]]:
    """The form's fields and its files (``photos``, each read only up to the size limit)."""
    policy = events.policy.attachments
    async with request.form(max_files=policy.max_files + 1, max_fields=10) as form:
        fields: dict[str, Any] = {}
        photos: list[NewAttachment] = []
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                if key != "photos":
                    raise InvalidInput(Issue(key, "unknown file field; send files as photos"))
                index = len(photos)
                content = await value.read(policy.max_bytes + 1)
                if len(content) > policy.max_bytes:
                    limit = f"{policy.max_bytes / 2**20:.1f} MiB"
                    raise TooLarge(
                        f'photos[{index}]: "{value.filename}" is larger than the limit of {limit}', f"photos[{index}]"
                    )
                photos.append(NewAttachment(value.filename or f"photo-{index}", content))
            elif key in fields:
                raise InvalidInput(Issue(key, "given more than once"))
            else:
                fields[key] = value
    if len(photos) > policy.max_files:
        raise InvalidInput(Issue("photos", f"at most {policy.max_files} files, got {len(photos)}"))
    return fields, photos


@router.post(
    "/{case_id}/comments",
    status_code=201,
    responses=responses(*AUTH, 404, 413, 422, 503),
    openapi_extra={"requestBody": COMMENT_BODY},
)
async def add_comment(case_id: CaseId, request: Request, principal: CaseWorker, events: EventsDep) -> CommentPublic:
    """A note on the case that leaves its state alone: JSON, or a multipart form with photos (a
    progress report from the field). Photos have the limits of a step's: over the size limit 413,
    a type not accepted 422. The text may be empty only when photos come with it."""
    content_type = request.headers.get("content-type", "")
    body: CommentBody | CommentForm
    if content_type.startswith("multipart/form-data"):
        fields, photos = await _read_form(request, events)
        body = _body(CommentForm, fields)
    else:
        body, photos = _body(CommentBody, await _read_json(request)), []
    if photos:
        check_attachments(photos, events.policy.attachments, "photos")

    def work() -> CommentPublic:
        visible_case(events, principal.scope, case_id)
        return CommentPublic.of(events.comment(case_id, actor_of(principal), body.text, photos))

    return await run_in_threadpool(work)


INLINE_TYPES = frozenset({"image/jpeg", "image/png", "video/mp4"})
"""Shown in the browser; anything else (a PDF may carry script) is a download."""


@files_router.get(
    "/api/attachments/{attachment_id}",
    response_class=FileResponse,
    responses={
        200: {
            "description": "The file, with the content type recognised when it was uploaded.",
            "content": {t: {} for t in ("image/jpeg", "image/png", "video/mp4", "application/pdf")},
        },
        **responses(*AUTH, 404, 410, 422, 503),
    },
)
def attachment(
    attachment_id: Annotated[int, Path(ge=1, le=MAX_ID, description="Attachment id.", examples=[9])],
    principal: CaseReader,
    events: EventsDep,
    audit: RecorderDep,
) -> FileResponse:
    """A file attached to a case step (scope-checked through its case). Recorded in the access audit."""
    try:
        visible_case(events, principal.scope, events.attachment(attachment_id).case_id)
    except NotFound:
        raise NotFound.of("attachment", attachment_id) from None
    value, path = events.attachment_file(attachment_id)  # 410 once retention removed the file
    if not path.is_file():
        raise NotFound.of("attachment", attachment_id)
    audit.record(AuditAction.ATTACHMENT_OPENED, f"attachment {attachment_id}", f"case {value.case_id}: {value.name}")
    return FileResponse(
        path,
        media_type=value.content_type,
        filename=value.name,
        content_disposition_type="inline" if value.content_type in INLINE_TYPES else "attachment",
        headers=UPLOAD_HEADERS,
    )
