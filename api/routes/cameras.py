"""Cameras and their zones: read in scope, written by integrators through the site store's validation.

The HTTP API never accepts local files as stream sources (even in demo mode): a URL from the
network must not make the server read an arbitrary path. Demo cameras come from site files.
"""

from __future__ import annotations

import threading
import time
from pathlib import PurePath
from typing import Annotated, Any, Literal

import cv2
import numpy as np
from fastapi import APIRouter, Body, File, Form, Path, Query, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from pydantic import ValidationError

from api.audit import AuditAction
from api.auth import CameraTester, Principal, RecorderDep, SiteReader, SiteWriter
from api.errors import AUTH, Forbidden, TooLarge, responses
from api.runtime import Runtime, RuntimeDep
from api.schemas import (
    CameraPage,
    CameraPatch,
    CameraPublic,
    CameraStatsPublic,
    ConnectionTestPublic,
    ImportReportPublic,
    ZonePublic,
)
from camera_config.cameras import validate_camera
from camera_config.issues import pydantic_issues
from camera_config.schema import CameraSpec, ZoneSpec
from camera_config.types import Camera
from core.errors import Conflict, InvalidInput, Issue, NotFound, Unavailable
from ingest.probe import ProbeResult, probe_stream
from ingest.sources import Source, SourceKind, StreamError, resolve_source
from ingest.types import CameraHealth, HealthState, OfflineReason

router = APIRouter(prefix="/api/cameras", tags=["cameras"])

MAX_CSV_BYTES = 10 * 1024 * 1024

CAMERA_EXAMPLES: dict[str, Any] = {
    "compound camera": {
        "summary": "A compound camera; its grid follows from the compound",
        "value": {
            "id": "CAM-10",
            "name": "Maple Gardens bike shed",
            "compound": "K-02",
            "streams": {"main": "rtsp://10.2.0.10:554/main", "sub": "rtsp://10.2.0.10:554/sub"},
            "credentials": {"username": "viewer", "password": "from-the-installer"},
            "zones": [{"id": "shed", "purpose": "restricted", "points": [[0.1, 0.1], [0.5, 0.1], [0.5, 0.6]]}],
        },
    },
    "street camera": {
        "summary": "A street-level camera placed in a grid by its location; credentials in the URL",
        "value": {
            "id": "ST-CAM-3",
            "name": "Riverside Road crossing",
            "level": "street",
            "grid": "G-01",
            "location": {"lat": 31.2301, "lon": 121.4741},
            "streams": {"main": "rtsp://admin:secret@10.1.0.3:554/Streaming/Channels/101"},
        },
    },
}
ZONE_EXAMPLE: dict[str, Any] = {
    "crowd area": {
        "summary": "A crowd zone with its own threshold",
        "value": {
            "id": "plaza",
            "name": "Gate plaza",
            "purpose": "crowd",
            "points": [[0.0, 0.35], [1.0, 0.35], [1.0, 1.0], [0.0, 1.0]],
            "settings": {"min_people": 6, "min_duration_s": 10},
        },
    }
}
CameraBody = Annotated[CameraSpec, Body(openapi_examples=CAMERA_EXAMPLES)]
ZoneBody = Annotated[ZoneSpec, Body(openapi_examples=ZONE_EXAMPLE)]

CameraId = Annotated[str, Path(min_length=1, max_length=64, description="Camera id.", examples=["CAM-01"])]
ZoneId = Annotated[str, Path(min_length=1, max_length=64, description="Zone id within the camera.", examples=["plaza"])]


def _visible(runtime: Runtime, principal: Principal, camera_id: str) -> Camera:
    """The camera, or 404 when it does not exist or lies outside the caller's scope (the same answer)."""
    camera = runtime.context.site.camera(camera_id)
    principal.scope.check(camera.grid_id, "camera", camera_id)
    return camera


def _public(runtime: Runtime, camera: Camera) -> CameraPublic:
    return CameraPublic.of(camera, runtime.context.health(camera.id))


def spec_of(camera: Camera, allow_files: bool, **changes: Any) -> CameraSpec:
    """A stored camera as the input spec the store takes, with ``changes``; the password stays as stored."""
    data: dict[str, Any] = {
        "id": camera.id,
        "name": camera.name,
        "level": camera.level.value,
        "compound": camera.compound_id,
        "grid": camera.grid_id,
        "streams": {"main": camera.main_url, **({"sub": camera.sub_url} if camera.sub_url else {})},
        "zones": [
            {
                "id": z.id,
                "name": z.name,
                "purpose": z.purpose.value,
                "points": [list(p) for p in z.points],
                "settings": z.settings.model_dump(exclude_none=True),
            }
            for z in camera.zones
        ],
        "detect": camera.detect.model_dump(mode="json"),
        "hazards": camera.hazards.model_dump(mode="json"),
        "enabled": camera.enabled,
        "onvif": camera.onvif.model_dump() if camera.onvif is not None else None,
    }
    if camera.lat is not None and camera.lon is not None:
        data["location"] = {"lat": camera.lat, "lon": camera.lon}
    if camera.username is not None:
        data["credentials"] = {"username": camera.username}
    data.update(changes)
    return checked_spec(data, allow_files)


def checked_spec(data: dict[str, Any], allow_files: bool) -> CameraSpec:
    """``data`` as the input spec the store takes; `InvalidInput` naming each field at fault otherwise."""
    try:
        return CameraSpec.model_validate(data, context={"allow_files": allow_files})
    except ValidationError as exc:
        raise InvalidInput(pydantic_issues(exc, "")) from None


def _write(runtime: Runtime, principal: Principal, spec: CameraSpec) -> Camera:
    """Validate, check the camera's grid is in the writer's scope, then store."""
    site = runtime.context.site
    if not principal.scope.whole_site:
        record = validate_camera(spec, site.index(), "")
        if not principal.scope.allows(record.camera.grid_id):
            raise InvalidInput(Issue("grid", f'grid "{record.camera.grid_id}" is outside your scope'))
    camera = site.put_camera(spec)
    runtime.sse.publish("camera.changed", camera.grid_id, {"id": camera.id, "revision": camera.revision})
    return camera


@router.get("", responses=responses(*AUTH, 422))
def list_cameras(
    principal: SiteReader,
    runtime: RuntimeDep,
    q: Annotated[str | None, Query(max_length=100, description="Text in the id or name.")] = None,
    grid: Annotated[str | None, Query(max_length=64, description="Only this grid.", examples=["G-01"])] = None,
    compound: Annotated[str | None, Query(max_length=64, description="Only this compound.")] = None,
    enabled: Annotated[bool | None, Query(description="Only enabled (true) or disabled (false) cameras.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Page size.")] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000, description="Cameras to skip.")] = 0,
) -> CameraPage:
    """Cameras in the caller's scope, by id, with their zones and health; never credentials."""
    grid_ids = principal.scope.as_filter()
    if grid is not None:
        grid_ids = [grid] if principal.scope.allows(grid) else []
    cameras = runtime.context.site.cameras(grid_ids=grid_ids)
    if compound is not None:
        cameras = [c for c in cameras if c.compound_id == compound]
    if enabled is not None:
        cameras = [c for c in cameras if c.enabled is enabled]
    if q:
        needle = q.casefold()
        cameras = [c for c in cameras if needle in c.id.casefold() or needle in c.name.casefold()]
    page = cameras[offset : offset + limit]
    return CameraPage(items=[_public(runtime, c) for c in page], total=len(cameras), limit=limit, offset=offset)


@router.post("", status_code=201, responses=responses(*AUTH, 409, 422))
def create_camera(spec: CameraBody, principal: SiteWriter, runtime: RuntimeDep) -> CameraPublic:
    """Add a camera. Credentials may be in the URL (``rtsp://user:pass@host/…``): they are moved out,
    stored encrypted, and never returned. Every problem is reported with its field."""
    if spec.id in runtime.context.site.index().cameras:
        raise Conflict(f'camera "{spec.id}" already exists')
    return _public(runtime, _write(runtime, principal, spec))


@router.post("/import", responses=responses(*AUTH, 413, 422))
async def import_cameras(
    principal: SiteWriter,
    runtime: RuntimeDep,
    audit: RecorderDep,
    file: Annotated[UploadFile, File(description="CSV: id,name,compound,grid,level,rtsp_url,sub_url,username,...")],
    skip_invalid: Annotated[bool, Form(description="Import the valid rows and report the rest.")] = False,
) -> ImportReportPublic:
    """Bulk import from CSV: all-or-nothing (422 listing every bad line) unless ``skip_invalid``.

    A blank password keeps the stored one. Needs a site-wide scope.
    """
    if not principal.scope.whole_site:
        raise Forbidden("bulk import needs a site-wide scope; add cameras one by one instead")
    data = await file.read(MAX_CSV_BYTES + 1)
    if len(data) > MAX_CSV_BYTES:
        raise TooLarge(f"the file is larger than {MAX_CSV_BYTES // (1024 * 1024)} MB", "file")
    source = PurePath(file.filename or "cameras.csv").name[:100] or "cameras.csv"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(Issue(source, f"not UTF-8 text (byte offset {exc.start})")) from None
    report = await run_in_threadpool(
        runtime.context.site.import_cameras, text, source=source, skip_invalid=skip_invalid
    )
    await run_in_threadpool(audit.record, AuditAction.CAMERAS_IMPORTED, source, report.summary())
    if report.created or report.updated:
        runtime.sse.publish("cameras.imported", None, {"created": report.created, "updated": report.updated})
    return ImportReportPublic.of(report)


@router.get("/{camera_id}", responses=responses(*AUTH, 404))
def get_camera(camera_id: CameraId, principal: SiteReader, runtime: RuntimeDep) -> CameraPublic:
    return _public(runtime, _visible(runtime, principal, camera_id))


@router.put("/{camera_id}", responses=responses(*AUTH, 404, 422))
def replace_camera(camera_id: CameraId, spec: CameraBody, principal: SiteWriter, runtime: RuntimeDep) -> CameraPublic:
    """Replace a camera; a missing password keeps the stored one."""
    if spec.id != camera_id:
        raise InvalidInput(Issue("id", f'"{spec.id}" differs from the camera in the path ("{camera_id}")'))
    _visible(runtime, principal, camera_id)
    return _public(runtime, _write(runtime, principal, spec))


@router.patch("/{camera_id}", responses=responses(*AUTH, 404, 422))
def patch_camera(camera_id: CameraId, body: CameraPatch, principal: SiteWriter, runtime: RuntimeDep) -> CameraPublic:
    """Rename, enable or disable a camera."""
    camera = _visible(runtime, principal, camera_id)
    changes = body.model_dump(exclude_none=True)
    if not changes:
        return _public(runtime, camera)
    spec = spec_of(camera, runtime.context.site.allow_files, **changes)
    return _public(runtime, _write(runtime, principal, spec))


@router.delete("/{camera_id}", status_code=204, responses=responses(*AUTH, 404))
def delete_camera(camera_id: CameraId, principal: SiteWriter, runtime: RuntimeDep) -> None:
    camera = _visible(runtime, principal, camera_id)
    runtime.context.site.delete_camera(camera_id)
    runtime.sse.publish("camera.deleted", camera.grid_id, {"id": camera_id})


# ---------------------------------------------------------------------------- live figures and connection test

SNAPSHOT_JPEG_QUALITY = 80
MAX_CONCURRENT_TESTS = 4
"""Connection tests open camera streams from the server; a few at once is plenty for an integrator."""
_tests = threading.BoundedSemaphore(MAX_CONCURRENT_TESTS)


def _no_live_reason(camera: Camera, health: CameraHealth | None) -> str:
    """Why the live pipeline has nothing for a camera, from its health."""
    if not camera.enabled:
        return "the camera is disabled"
    if health is None:
        return "the camera is not being watched (live pipeline off)"
    if health.state is HealthState.OFFLINE:
        return f"camera offline ({health.reason.value if health.reason else 'unknown reason'})"
    if health.state is HealthState.STARTING:
        return "camera starting"
    return f"camera {health.state.value}, nothing decoded yet"


@router.get(
    "/{camera_id}/snapshot",
    response_class=Response,
    responses={
        200: {
            "description": "The newest decoded frame as JPEG (never cached).",
            "content": {"image/jpeg": {"schema": {"type": "string", "format": "binary"}}},
        },
        **responses(*AUTH, 404, 422, 503),
    },
)
def camera_snapshot(
    camera_id: CameraId,
    principal: SiteReader,
    runtime: RuntimeDep,
    width: Annotated[
        int | None, Query(ge=64, le=1920, description="Scale down to this width (px), keeping the aspect ratio.")
    ] = None,
) -> Response:
    """The camera's latest frame from ingest (the detect stream); 503 saying why when there is none yet."""
    camera = _visible(runtime, principal, camera_id)
    frame = runtime.context.latest_frame(camera.id)
    if frame is None:
        raise Unavailable(f"no frame yet: {_no_live_reason(camera, runtime.context.health(camera.id))}")
    image: np.ndarray = frame.image
    if width is not None and width < frame.width:
        height = max(1, round(frame.height * width / frame.width))
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, SNAPSHOT_JPEG_QUALITY])
    if not ok:
        raise Unavailable(f'the latest frame of camera "{camera.id}" could not be encoded')
    return Response(bytes(buf), media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.get("/{camera_id}/stats", responses=responses(*AUTH, 404, 422, 503))
def camera_stats(camera_id: CameraId, principal: SiteReader, runtime: RuntimeDep) -> CameraStatsPublic:
    """Ingest rates and counters of a camera being watched, and the detector's figures when it analyses it."""
    camera = _visible(runtime, principal, camera_id)
    health = runtime.context.health(camera.id)
    figures = runtime.context.stats(camera.id)
    if figures is None:
        raise Unavailable(f"no stats: {_no_live_reason(camera, health)}")
    return CameraStatsPublic.of(figures, health)


def through_gateway(runtime: Runtime, source: Source) -> Source:
    """A camera behind a GB/T 28181 gateway: the RTSP source the gateway serves it on now (``play/start``);
    StreamError naming the gateway when it cannot. Other sources as they are."""
    if source.kind is not SourceKind.GATEWAY:
        return source
    sync = runtime.context.gateway_sync
    if sync is None:
        raise StreamError(OfflineReason.UNSUPPORTED_SOURCE, "this server does not reach GB28181 gateways")
    return sync.clients.resolve(source)


@router.post("/{camera_id}/test", responses=responses(*AUTH, 404, 422, 503))
def check_camera_connection(
    camera_id: CameraId,
    principal: CameraTester,
    runtime: RuntimeDep,
    timeout_s: Annotated[float, Query(ge=1, le=30, description="Give up after this long (seconds).")] = 10.0,
) -> ConnectionTestPublic:
    """Open the saved camera's detect stream (sub, else main) with its stored credentials, decode a picture
    and measure it, within ``timeout_s`` (plus one read timeout at most when the stream stalls mid-read).

    A failed test is an answer (``ok`` false with the reason health would give), not an error.
    Only saved cameras can be tested: the server never opens a URL sent with the request.
    """
    camera = _visible(runtime, principal, camera_id)
    stream: Literal["main", "sub"] = "sub" if camera.sub_url else "main"
    site = runtime.context.site
    started = time.monotonic()
    credentials = site.credentials(camera.id) if camera.username or camera.has_password else None
    try:
        source = through_gateway(
            runtime, resolve_source(camera.detect_url, allow_files=site.allow_files, credentials=credentials)
        )
    except InvalidInput as exc:
        result = ProbeResult(ok=False, reason=OfflineReason.UNSUPPORTED_SOURCE, detail=f'camera "{camera.id}": {exc}')
    except StreamError as exc:
        result = ProbeResult(ok=False, reason=exc.reason, detail=f'camera "{camera.id}": {exc.detail}')
    else:
        if not _tests.acquire(blocking=False):
            raise Unavailable(f"{MAX_CONCURRENT_TESTS} connection tests are running; try again in a few seconds")
        try:
            result = probe_stream(source, timeout_s)
        finally:
            _tests.release()
    return ConnectionTestPublic.of(result, stream, (time.monotonic() - started) * 1000.0)


# ---------------------------------------------------------------------------- zones


@router.get("/{camera_id}/zones", responses=responses(*AUTH, 404), tags=["zones"])
def list_zones(camera_id: CameraId, principal: SiteReader, runtime: RuntimeDep) -> list[ZonePublic]:
    """The camera's zones, points normalised to 0..1 of the picture (x right, y down)."""
    return [ZonePublic.of(z) for z in _visible(runtime, principal, camera_id).zones]


def _zone_dict(zone: ZoneSpec) -> dict[str, Any]:
    return {**zone.model_dump(mode="json", exclude_none=True), "settings": zone.settings.model_dump(exclude_none=True)}


@router.put("/{camera_id}/zones", responses=responses(*AUTH, 404, 422), tags=["zones"])
def replace_zones(
    camera_id: CameraId, zones: list[ZoneSpec], principal: SiteWriter, runtime: RuntimeDep
) -> list[ZonePublic]:
    """Replace all of the camera's zones (an empty list removes them)."""
    if len(zones) > 64:
        raise InvalidInput(Issue("zones", "at most 64 zones per camera"))
    camera = _visible(runtime, principal, camera_id)
    spec = spec_of(camera, runtime.context.site.allow_files, zones=[_zone_dict(z) for z in zones])
    return [ZonePublic.of(z) for z in _write(runtime, principal, spec).zones]


@router.put("/{camera_id}/zones/{zone_id}", responses=responses(*AUTH, 404, 422), tags=["zones"])
def put_zone(
    camera_id: CameraId, zone_id: ZoneId, zone: ZoneBody, principal: SiteWriter, runtime: RuntimeDep
) -> ZonePublic:
    """Add a zone, or replace the one with this id (keeping its place in the list)."""
    if zone.id != zone_id:
        raise InvalidInput(Issue("id", f'"{zone.id}" differs from the zone in the path ("{zone_id}")'))
    camera = _visible(runtime, principal, camera_id)
    current = spec_of(camera, runtime.context.site.allow_files).zones
    dicts = [_zone_dict(zone) if z.id == zone_id else _zone_dict(z) for z in current]
    if zone_id not in {z.id for z in current}:
        if len(dicts) >= 64:
            raise InvalidInput(Issue("zones", "at most 64 zones per camera"))
        dicts.append(_zone_dict(zone))
    saved = _write(runtime, principal, spec_of(camera, runtime.context.site.allow_files, zones=dicts))
    return next(ZonePublic.of(z) for z in saved.zones if z.id == zone_id)


@router.delete("/{camera_id}/zones/{zone_id}", status_code=204, responses=responses(*AUTH, 404), tags=["zones"])
def delete_zone(camera_id: CameraId, zone_id: ZoneId, principal: SiteWriter, runtime: RuntimeDep) -> None:
    camera = _visible(runtime, principal, camera_id)
    if zone_id not in {z.id for z in camera.zones}:
        raise NotFound(f'zone "{zone_id}" of camera "{camera_id}" does not exist')
    current = spec_of(camera, runtime.context.site.allow_files).zones
    _write(
        runtime,
        principal,
        spec_of(camera, runtime.context.site.allow_files, zones=[_zone_dict(z) for z in current if z.id != zone_id]),
    )
