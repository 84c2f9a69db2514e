"""Delivery from detection workers on other machines: observations in, alerts (and cases) out.

Idempotent: the episode id and seq are the key, so a worker that retries after a lost answer (or
replays its spool) gets ``duplicate`` back, never a second alert. In a batch every observation is
judged on its own: a bad one is refused with its place (``observations[3].seq``) and the others are
still applied.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Header, Query, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from pydantic.json_schema import models_json_schema

from api.access import Role
from api.audit import AuditAction
from api.auth import ObservationDeliverer, Principal, RecorderDep, SiteReader
from api.cluster_view import lost_shards
from api.errors import AUTH, ErrorItem, Forbidden, TooLarge, responses, status_for
from api.routes.cameras import CameraId, through_gateway
from api.runtime import Runtime, RuntimeDep
from api.work import NO_EVENTS
from api.work_schemas import DeliveryItem, DeliveryReport
from api.workers import WorkerReport
from camera_config.urls import is_gateway_source, parse_gateway_url
from camera_config.wire import CameraWire, CredentialsWire, Shard, camera_wire
from core.errors import Conflict, GridwatchError, InvalidInput, Issue, Unavailable
from core.redact import redact
from core.text import text_problem
from detectors.types import Observation
from events.schema import ObservationIn, parse_observation
from events.types import ObservationResult
from events.values import Superseded
from ingest.sources import StreamError, resolve_source

router = APIRouter(prefix="/api/worker", tags=["worker"])
workers_router = APIRouter(prefix="/api/workers", tags=["worker"])

MAX_BATCH = 500
INLINE_PARSE = 8
MAX_BODY_BYTES = 64 * 2**20
"""A batch with evidence snapshots; the events policy's per-snapshot limit applies as well."""

_OBSERVATION = {"$ref": "#/components/schemas/ObservationIn"}
DELIVERY_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "anyOf": [
                    _OBSERVATION,
                    {
                        "type": "object",
                        "required": ["observations"],
                        "additionalProperties": False,
                        "properties": {"observations": {"type": "array", "maxItems": MAX_BATCH, "items": _OBSERVATION}},
                    },
                ]
            },
            "examples": {
                "one": {
                    "summary": "One observation",
                    "value": {
                        "episode_id": "CAM-01:crowd:1741",
                        "camera_id": "CAM-01",
                        "hazard": "crowd",
                        "state": "opened",
                        "severity": "high",
                        "started_at": "2026-03-02T08:00:00Z",
                        "observed_at": "2026-03-02T08:00:10Z",
                        "seq": 0,
                        "zone_id": "plaza",
                        "summary": "7 people in Gate plaza for 10 s",
                        "measurements": {"people": 7},
                    },
                }
            },
        }
    },
}


def document(app: FastAPI) -> None:
    """Put `ObservationIn` (and what it refers to) into the OpenAPI components the body refers to."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = original()
        _, defs = models_json_schema([(ObservationIn, "validation")], ref_template="#/components/schemas/{model}")
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        for name, definition in defs.get("$defs", {}).items():
            components.setdefault(name, definition)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


async def _read(request: Request) -> Any:
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            raise TooLarge(f"the body is larger than {MAX_BODY_BYTES // 2**20} MiB; send smaller batches", "body")
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput(Issue("body", "not JSON")) from None


def _items(doc: Any) -> tuple[list[Any], str]:
    """The observations sent and the prefix naming their places ("" for a single document)."""
    if isinstance(doc, dict) and "observations" in doc:
        extra = sorted(set(doc) - {"observations"})
        if extra:
            raise InvalidInput(Issue(extra[0], "unknown key next to observations"))
        items = doc["observations"]
        if not isinstance(items, list):
            raise InvalidInput(Issue("observations", "must be a list of observations"))
        if len(items) > MAX_BATCH:
            raise InvalidInput(Issue("observations", f"at most {MAX_BATCH} per request, got {len(items)}"))
        return items, "observations"
    return [doc], ""


def _at(prefix: str, index: int, where: str) -> str:
    place = f"{prefix}[{index}]" if prefix else ""
    if place and where:
        return f"{place}.{where}"
    return place or where or "body"


async def _apply(runtime: Runtime, observations: list[Observation]) -> list[ObservationResult | GridwatchError]:
    """Through the group commit: concurrent deliveries share transactions instead of queueing for the
    database one by one. A failure of the whole transaction other than a refusal is raised (500), as
    nothing was stored."""
    if not observations:
        return []
    ingest = runtime.ingest
    assert ingest is not None, "deliver answers 503 first"
    if not ingest.running:  # an app served without its lifespan (a plain test client)
        ingest.start()
    try:
        return await asyncio.wrap_future(ingest.submit_group(observations))
    except GridwatchError as exc:  # refused as a whole (a collision retried too often): each says so
        return [exc] * len(observations)


def _check_scope(runtime: Runtime, principal: Principal, obs: Observation) -> None:
    """A worker scoped to some grids delivers only for their cameras (others do not exist for it)."""
    if principal.scope.whole_site:
        return
    camera = runtime.context.site.camera(obs.camera_id)
    principal.scope.check(camera.grid_id, "camera", obs.camera_id)


@router.post(
    "/observations",
    response_model=DeliveryReport,
    responses=responses(*AUTH, 404, 409, 413, 422, 503),
    openapi_extra={"requestBody": DELIVERY_BODY},
)
async def deliver(request: Request, principal: ObservationDeliverer, runtime: RuntimeDep) -> Any:
    """One observation document, or ``{"observations": [...]}`` (at most 500), in the remote format.

    200 when every observation was applied or was a duplicate; otherwise 422 when any was invalid,
    or the status of the first refused one (404 unknown camera, 409 out of order or disabled camera);
    the body then still reports every observation, the applied ones included.
    """
    if runtime.ingest is None:  # checked here rather than by a dependency: every one costs each delivery
        raise Unavailable(NO_EVENTS)
    items, prefix = _items(await _read(request))

    def parse() -> list[Observation | GridwatchError]:
        parsed: list[Observation | GridwatchError] = []
        for item in items:
            try:
                obs = parse_observation(item)
                _check_scope(runtime, principal, obs)
                parsed.append(obs)
            except GridwatchError as exc:
                parsed.append(exc)
        return parsed

    with runtime.applying.add(len(items)):
        # A few observations parse faster than a hop to the thread pool costs; a big batch (with its
        # snapshots to decode) would hold the event loop too long.
        parsed = parse() if len(items) <= INLINE_PARSE else await run_in_threadpool(parse)
        ready = [p for p in parsed if isinstance(p, Observation)]
        answers = iter(await _apply(runtime, ready))
        outcomes = [p if isinstance(p, GridwatchError) else next(answers) for p in parsed]
    results: list[DeliveryItem] = []
    errors: list[ErrorItem] = []
    statuses: list[int] = []
    for i, (item, outcome) in enumerate(zip(items, outcomes, strict=True)):
        episode = item.get("episode_id") if isinstance(item, dict) else None
        if isinstance(outcome, GridwatchError):
            status = status_for(outcome)
            statuses.append(status)
            issues = outcome.issues if isinstance(outcome, InvalidInput) else [Issue("", str(outcome))]
            errors += [ErrorItem(where=_at(prefix, i, issue.where), message=issue.message) for issue in issues]
            results.append(
                DeliveryItem(
                    index=i,
                    status=status,
                    # Echoed only when it could have been stored: never a lone surrogate back.
                    episode_id=episode if isinstance(episode, str) and text_problem(episode) is None else None,
                    alert_id=None,
                    created=False,
                    duplicate=False,
                    superseded=isinstance(outcome, Superseded),
                    error=str(outcome),
                )
            )
        else:
            results.append(
                DeliveryItem(
                    index=i,
                    status=200,
                    episode_id=outcome.alert.episode_id,
                    alert_id=outcome.alert.id,
                    created=outcome.created,
                    duplicate=outcome.duplicate,
                    error=None,
                )
            )
    code = 200 if not statuses else 422 if 422 in statuses else statuses[0]
    applied = len(items) - len(statuses)
    detail = f"{applied} applied, {len(statuses)} refused"
    if errors:
        detail += "\n" + "\n".join(f"{e.where}: {e.message}" for e in errors[:20])
    report = DeliveryReport(detail=detail, errors=errors, results=results)
    return JSONResponse(status_code=code, content=report.model_dump(mode="json"))


# ---------------------------------------------------------------------------- the worker's cameras


class WorkerCameras(BaseModel):
    """The cameras a remote worker runs, with their stream credentials."""

    cameras: list[CameraWire] = Field(description="Enabled and disabled ones: a worker stops what is disabled.")
    unknown: list[str] = Field(
        description="Asked-for camera ids that do not exist (or are outside the worker's grids); the worker "
        "keeps asking, so a camera added later is picked up."
    )
    shard: str | None = Field(description="The shard asked for, as K/N.", examples=["1/4"])


def _etag(
    runtime: Runtime, principal: Principal, ids: list[str] | None, shard: Shard | None, lost: frozenset[int]
) -> str:
    """Changes whenever any camera changes (its revision), a shard is lost or back, or the question changes."""
    h = hashlib.blake2b(digest_size=16)
    for camera_id, revision in sorted(runtime.context.site.revisions().items()):
        h.update(f"{camera_id}\x00{revision}\x00".encode())
    h.update(repr((ids, str(shard) if shard else None, principal.scope.as_filter(), sorted(lost))).encode())
    return f'"{h.hexdigest()}"'


@router.get("/cameras", response_model=WorkerCameras, responses=responses(*AUTH, 422))
def worker_cameras(
    principal: ObservationDeliverer,
    runtime: RuntimeDep,
    audit: RecorderDep,
    response: Response,
    cameras: Annotated[
        str | None, Query(max_length=20_000, description="Comma-separated camera ids.", examples=["CAM-01,CAM-02"])
    ] = None,
    shard: Annotated[
        str | None, Query(max_length=11, description="K/N: the cameras of shard K of N.", examples=["1/4"])
    ] = None,
    if_none_match: Annotated[str | None, Header(max_length=200)] = None,
) -> Any:
    """The cameras a worker runs — the ids asked for, the shard asked for, or else every camera in the
    worker's grids — with their zones, settings and **stream credentials**. Only worker tokens get this
    (credentials go nowhere else), and each answer that carries them is in the access audit. Poll it with
    ``If-None-Match``: 304 while nothing changed."""
    _worker_token_only(principal, "cameras with their stream credentials")
    if cameras is not None and shard is not None:
        raise InvalidInput(Issue("shard", "give cameras or shard, not both"))
    ids = sorted({c.strip() for c in cameras.split(",") if c.strip()}) if cameras is not None else None
    if ids is not None and not ids:
        raise InvalidInput(Issue("cameras", "no camera id given"))
    part = Shard.parse(shard, "shard") if shard is not None else None
    # a shard silent for LOST_S (Ray could not place it again) gives its cameras to the others until it is back
    lost = (
        lost_shards(runtime.workers.all(), part.count, runtime.context.clock.now())
        if part is not None
        else frozenset[int]()
    )
    etag = _etag(runtime, principal, ids, part, lost)
    if if_none_match == etag:
        return Response(status_code=304, headers={"ETag": etag})
    site = runtime.context.site
    found = site.cameras(grid_ids=principal.scope.as_filter())
    if ids is not None:
        wanted = set(ids)
        found = [c for c in found if c.id in wanted]
    elif part is not None:
        found = [c for c in found if part.holds(c.id, lost)]  # a lost shard back gets them at its next report
    wires = [
        camera_wire(c, site.credentials(c.id) if c.username is not None or c.has_password else None) for c in found
    ]
    unknown = sorted(set(ids) - {c.id for c in found}) if ids is not None else []
    with_credentials = sum(1 for w in wires if w.credentials is not None)
    if with_credentials:
        audit.record(
            AuditAction.CREDENTIALS_SENT,
            f"{len(found)} camera(s)",
            f"stream credentials of {with_credentials} camera(s) sent to the worker"
            + (f", shard {part}" if part is not None else ""),
        )
    response.headers["ETag"] = etag
    return WorkerCameras(cameras=wires, unknown=unknown, shard=str(part) if part else None)


# ---------------------------------------------------------------------------- cameras behind gateways


class GatewayPlay(BaseModel):
    """Where a camera behind a GB/T 28181 gateway is served now: the worker opens ``url`` with ``credentials``."""

    camera_id: str
    gateway: str = Field(description="The gateway the camera is reached through.", examples=["gw-1"])
    url: str = Field(
        description="The RTSP URL on the gateway's media server (no credentials in it).",
        examples=["rtsp://10.1.2.3:554/rtp/34020000001320000001_34020000001310000001"],
    )
    credentials: CredentialsWire | None = Field(None, description="When the media server's URL carried any.")


def _worker_token_only(principal: Principal, what: str) -> None:
    """Stream credentials and gateway streams go to worker accounts' API tokens and nowhere else."""
    if principal.user.role is not Role.WORKER or principal.via != "token":
        raise Forbidden(
            f"only a worker account's API token gets {what} (you: {principal.user.role.value} by {principal.via})"
        )


@router.post("/cameras/{camera_id}/play", response_model=GatewayPlay, responses=responses(*AUTH, 404, 409, 503))
def play_gateway_camera(
    camera_id: CameraId, principal: ObservationDeliverer, runtime: RuntimeDep, audit: RecorderDep
) -> GatewayPlay:
    """Ask the camera's GB/T 28181 gateway for its stream now (wvp's ``play/start``) and answer the RTSP URL its
    media server serves it on: a remote worker asks at every (re)open, as `gridwatch run` does, and never holds
    the gateway's login. Only for enabled cameras in the worker's grids (others are 404, as for the camera list);
    409 for a camera that is not behind a gateway; 503 with ``code`` the camera's offline reason (``gateway``,
    naming the gateway and the cause) when the gateway does not give the stream."""
    _worker_token_only(principal, "gateway streams")
    site = runtime.context.site
    camera = site.camera(camera_id)
    principal.scope.check(camera.grid_id, "camera", camera_id)
    if not camera.enabled:
        raise Conflict(f'camera "{camera_id}" is disabled: a worker runs only enabled cameras').with_code(
            "camera_disabled", camera=camera_id
        )
    url = camera.detect_url
    if not is_gateway_source(url):
        raise Conflict(
            f'camera "{camera_id}" is not behind a GB/T 28181 gateway (its stream is {redact(url)}): open it directly'
        ).with_code("not_a_gateway_camera", camera=camera_id)
    try:
        gateway = parse_gateway_url(url).gateway_id
        source = through_gateway(runtime, resolve_source(url, allow_files=False))
    except (ValueError, InvalidInput) as exc:  # a stored URL this version cannot read: say so, never a 500
        raise Conflict(f'camera "{camera_id}": its stream {url}: {exc}').with_code(
            "unsupported_source", camera=camera_id
        ) from None
    except StreamError as exc:
        raise Unavailable(f'camera "{camera_id}": {exc.detail}').with_code(
            exc.reason.value, camera=camera_id, gateway=gateway
        ) from None
    credentials = None
    if source.username is not None or source.password is not None:
        credentials = CredentialsWire(username=source.username, password=source.password)
        audit.record(AuditAction.CREDENTIALS_SENT, camera_id, f"media server credentials of gateway {gateway}")
    return GatewayPlay(camera_id=camera_id, gateway=gateway, url=source.url, credentials=credentials)


# ---------------------------------------------------------------------------- workers' health


@router.post("/heartbeat", status_code=204, responses=responses(*AUTH, 422))
def heartbeat(report: WorkerReport, principal: ObservationDeliverer, runtime: RuntimeDep) -> None:
    """A worker's report on itself, every few seconds: what it pulls, its spool, its deliveries."""
    runtime.workers.report(principal.user.username, report)


class WorkerPublic(WorkerReport):
    """A worker's last report, as site readers see it."""

    account: str = Field(description="The worker account whose token reports.", examples=["box-3"])
    last_seen: datetime
    stale: bool = Field(description="Not heard from for 30 s: down, or cut off from the API.")
    cameras: list[str] = Field(description="Cameras it pulls (those in the caller's scope).")


@workers_router.get("", responses=responses(*AUTH))
def list_workers(principal: SiteReader, runtime: RuntimeDep) -> list[WorkerPublic]:
    """Remote workers that reported since the API started, with their health; a scoped caller sees the workers
    that pull a camera of theirs, and only those cameras."""
    site = runtime.context.site
    visible: set[str] | None = None
    if not principal.scope.whole_site:
        visible = {c.id for c in site.cameras(grid_ids=principal.scope.as_filter())}
    out = []
    for w in runtime.workers.all():
        cameras = [c for c in w.report.cameras if visible is None or c in visible]
        if visible is not None and not cameras:
            continue
        fields = {**w.report.model_dump(), "cameras": cameras}
        out.append(WorkerPublic(account=w.username, last_seen=w.last_seen, stale=runtime.workers.stale(w), **fields))
    return out
